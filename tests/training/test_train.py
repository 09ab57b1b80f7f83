"""Training runs: the run folder, determinism, exact resume after a kill -9, safe checkpoints, configs."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mazearena.apps.cli import _train_args, main
from mazearena.checks import UserError
from mazearena.training import EnvConfig, TrainConfig, load_config, train
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mazearena.training.config import save_config

TINY = dict(
    env=EnvConfig(size=7, num_levels=50),
    ppo=PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    total_timesteps=1024,
    checkpoint_every=256,
    eval_every=512,
    eval_episodes=16,
    video_episodes=1,
    wandb_mode="offline",
    progress=False,
)


def without(config: dict, *sections: str) -> dict:
    """``config`` less the sections a run of another algorithm or env does not use (given, they are refused)."""
    return {k: v for k, v in config.items() if k not in sections}


def metrics(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("sps", "time")} for r in rows]  # wall-clock varies


def crash_after(cls, iterations: int, config: TrainConfig) -> Path:
    """Train ``config`` with ``cls.iteration`` raising on call ``iterations + 1`` (a crash mid-run); returns
    the run folder, left as the crash left it."""
    real, calls = cls.iteration, []

    def crashing(self, *args):
        calls.append(1)
        if len(calls) > iterations:
            raise KeyboardInterrupt
        return real(self, *args)

    cls.iteration = crashing
    try:
        with pytest.raises(KeyboardInterrupt):
            train(config)
    finally:
        cls.iteration = real
    return config.runs_dir / config.run_name


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return train(TrainConfig(runs_dir=tmp_path_factory.mktemp("runs"), name="run", **TINY))


def test_a_run_folder_holds_config_metrics_checkpoints_report_curve_video_and_wandb(tiny_run):
    run, tmp_path = tiny_run, tiny_run.parent
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "metrics.csv",
        "report.md",
        "report.json",
        "curve.png",
        "episodes.gif",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
        "wandb",
    ):
        assert (run / name).exists(), name
    rows = metrics(run)
    assert [r["step"] for r in rows] == list(range(128, 1025, 128))
    assert any("eval/success_rate" in r for r in rows)
    report = json.loads((run / "report.json").read_text())
    assert set(report["summary"]) == {
        "train_success",
        "test_success",
        "generalisation_gap",
        "train_return",
        "test_return",
        "steps",
        "steps_to_95",
        "seconds_to_95",
    }
    assert "held-out" in (run / "report.md").read_text()
    assert load_config(run / "config.yaml") == TrainConfig(runs_dir=tmp_path, name="run", **TINY)
    with pytest.raises(ValueError, match="already holds a run"):
        train(TrainConfig(runs_dir=tmp_path, name="run", **TINY))


def test_evaluating_during_training_does_not_change_training(tmp_path):
    quiet = {**TINY, "video_episodes": 0}
    a = train(TrainConfig(runs_dir=tmp_path, name="a", **{**quiet, "eval_every": 256}))
    b = train(TrainConfig(runs_dir=tmp_path, name="b", **{**quiet, "eval_every": 0}))
    strip = [[{k: v for k, v in r.items() if not k.startswith("eval/")} for r in metrics(run)] for run in (a, b)]
    assert strip[0] == strip[1]
    assert any("eval/success_rate" in r for r in metrics(a))


def test_same_seed_same_training_curve(tmp_path):
    a = train(TrainConfig(runs_dir=tmp_path, name="a", seed=3, **{**TINY, "video_episodes": 0}))
    b = train(TrainConfig(runs_dir=tmp_path, name="b", seed=3, **{**TINY, "video_episodes": 0}))
    c = train(TrainConfig(runs_dir=tmp_path, name="c", seed=4, **{**TINY, "video_episodes": 0}))
    assert metrics(a) == metrics(b)
    assert metrics(a) != metrics(c)
    wa = load_checkpoint(a / "checkpoints" / "last.pt")["algo"]["policy"]
    wb = load_checkpoint(b / "checkpoints" / "last.pt")["algo"]["policy"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_kill_9_mid_training_then_resume_continues_exactly(tmp_path):
    args = [
        "train",
        "--env.size",
        "7",
        "--env.num-levels",
        "50",
        "--ppo.num-envs",
        "8",
        "--ppo.num-steps",
        "16",
        "--ppo.num-minibatches",
        "2",
        "--total-timesteps",
        "12288",
        "--checkpoint-every",
        "1024",
        "--eval-every",
        "0",
        "--eval-episodes",
        "16",
        "--video-episodes",
        "0",
        "--no-progress",
        "--seed",
        "5",
    ]
    killed = tmp_path / "killed"
    # the child must not share this process's W&B service (an earlier test may have started one)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | {"WANDB_SILENT": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mazearena.apps.cli", *args, "--runs-dir", str(tmp_path), "--name", "killed"], env=env
    )
    checkpoint = killed / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until at least two checkpoints were written, then kill hard
        if checkpoint.exists() and load_checkpoint(checkpoint)["algo"]["global_step"] >= 2048:
            break
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved_at = load_checkpoint(checkpoint)["algo"]["global_step"]
    assert saved_at < 12288
    assert max(r["step"] for r in metrics(killed)) < 12288
    # a kill loses at most one checkpoint interval of training
    assert max(r["step"] for r in metrics(killed)) - saved_at <= 1024

    assert main(["train", "--resume", str(killed), "--no-progress"]) == 0
    assert main([*args, "--runs-dir", str(tmp_path), "--name", "straight"]) == 0
    resumed, straight = metrics(killed), metrics(tmp_path / "straight")
    assert [r["step"] for r in resumed] == [r["step"] for r in straight]  # no step lost or logged twice
    assert resumed == straight  # the same training, step for step
    wandb_ids = (killed / "wandb_id.txt").read_text()
    assert wandb_ids and len(list((killed / "wandb").glob("offline-run-*"))) == 2  # one W&B run, two sessions


def test_checkpoints_refuse_corruption_pickled_code_and_other_configs(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"x": torch.ones(2)})
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(2))
    assert not list(tmp_path.glob(".*tmp"))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="corrupted or not a mazearena checkpoint"):
        load_checkpoint(path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"format": "mazearena-checkpoint-1", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="corrupted or not a mazearena checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="is not a mazearena checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")

    run = train(TrainConfig(runs_dir=tmp_path, name="r", **{**TINY, "video_episodes": 0}))
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("backbone: cnn", "backbone: mlp"))
    with pytest.raises(CheckpointError, match="another model or env config"):
        train(TrainConfig(resume=run, progress=False))


def test_configs_from_yaml_and_bad_values_are_named(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("backbone: transformer\nenv:\n  size: 7\nppo:\n  num_envs: 16\n")
    cfg = load_config(good)
    assert cfg.backbone == "transformer" and cfg.env.size == 7 and cfg.ppo.num_envs == 16
    bad = tmp_path / "bad.yaml"
    bad.write_text("backbone: cnn\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['learning_rate'\]"):
        load_config(bad)
    with pytest.raises(ValueError, match="backbone must be one of"):
        TrainConfig(backbone="lstm")
    with pytest.raises(ValueError, match=r"held-out levels \[10, .*overlap the training levels \[0, 100\)"):
        EnvConfig(num_levels=100, test_start_level=10)
    with pytest.raises(ValueError, match="overlap the training levels"):  # an unlimited set spans 2**31 ids
        EnvConfig(num_levels=0, start_level=2**32, test_start_level=2**32 - 10)
    EnvConfig(num_levels=0, start_level=2**32, test_start_level=0)
    for path in sorted((Path(__file__).parents[2] / "configs").glob("*.yaml")):  # the shipped configs load
        assert load_config(path).total_timesteps > 0
    with pytest.raises(ValueError, match="must be divisible by num_minibatches"):
        PPOConfig(num_envs=6, num_steps=3, num_minibatches=4)
    with pytest.raises(SystemExit):
        main(["train", "--backbone", "lstm"])


def test_watch_plays_a_trained_agent_into_a_video_and_names_bad_runs(tiny_run, tmp_path):
    from mazearena.apps.watch import WatchConfig, watch

    out = tmp_path / "watch.gif"
    results = watch(WatchConfig(run=tiny_run, episodes=2, record=out, tile=8))
    assert len(results) == 2 and all(set(r) == {"return", "length", "success"} for r in results)
    assert out.stat().st_size > 0
    best = watch(WatchConfig(run=tiny_run / "checkpoints" / "best.pt", episodes=1, record=tmp_path / "b.gif"))
    assert len(best) == 1
    with pytest.raises(ValueError, match="is not a run folder"):
        watch(WatchConfig(run=tmp_path, episodes=1, record=out))
    with pytest.raises(SystemExit):
        main(["watch", str(tiny_run), "--checkpoint", "first"])


def test_init_from_starts_a_new_run_from_another_runs_weights(tiny_run, tmp_path):
    from mazearena.training.loading import make_policy
    from mazearena.training.runs import init_weights, make_envs

    cfg = TrainConfig(**TINY)
    policy = make_policy(cfg, make_envs(cfg, 2, test=False, seed=0))
    init_weights(policy, tiny_run, "cpu")
    trained = load_checkpoint(tiny_run / "checkpoints" / "last.pt")["algo"]["policy"]
    assert all(torch.equal(v, trained[k]) for k, v in policy.state_dict().items())
    other = make_policy(TrainConfig(**{**TINY, "backbone": "mlp"}), make_envs(cfg, 2, test=False, seed=0))
    with pytest.raises(CheckpointError, match="does not fit"):
        init_weights(other, tiny_run, "cpu")
    with pytest.raises(CheckpointError, match="does not exist"):
        init_weights(policy, tmp_path, "cpu")
    run = train(
        TrainConfig(
            runs_dir=tmp_path,
            name="tuned",
            init_from=tiny_run,
            **{**TINY, "total_timesteps": 128, "eval_every": 0, "video_episodes": 0},
        )
    )
    assert load_config(run / "config.yaml").init_from == tiny_run


def test_dqn_trains_resumes_exactly_and_is_deterministic(tmp_path):
    from mazearena.training.algorithms.dqn import DQNConfig

    tiny = {
        **without(TINY, "ppo"),
        "algo": "dqn",
        "dqn": DQNConfig(num_envs=8, learning_starts=256, batch_size=32, buffer_size=2048, target_update_every=256),
        "total_timesteps": 2048,
        "checkpoint_every": 512,
        "video_episodes": 0,
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    again = train(TrainConfig(runs_dir=tmp_path, name="again", **tiny))
    assert metrics(straight) == metrics(again)
    assert any("loss/td" in r for r in metrics(straight))
    # crash mid-run (an exception in the third iteration, after the checkpoint at 1024 steps), then resume
    from mazearena.training.algorithms.dqn import DQN

    crashed = crash_after(DQN, 2, TrainConfig(runs_dir=tmp_path, name="crashed", **tiny))
    assert load_checkpoint(crashed / "checkpoints" / "last.pt")["algo"]["global_step"] == 1024
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)


@pytest.mark.parametrize("core", ["none", "gru"])
def test_a2c_trains_resumes_exactly_and_is_deterministic(core, tmp_path):
    from mazearena.training.algorithms.a2c import A2C, A2CConfig

    tiny = {
        **without(TINY, "ppo"),
        "algo": "a2c",
        "core": core,
        "core_size": 16,
        "a2c": A2CConfig(num_envs=8, num_steps=8),
        "total_timesteps": 1024,
        "checkpoint_every": 256,
        "video_episodes": 1,
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    again = train(TrainConfig(runs_dir=tmp_path, name="again", **tiny))
    rows = metrics(straight)
    assert rows == metrics(again)
    assert [r["step"] for r in rows] == list(range(64, 1025, 64))
    assert all(math.isfinite(r["loss/policy"]) and r["lr"] > 0 for r in rows)
    assert any("eval/success_rate" in r for r in rows) and (straight / "episodes.gif").stat().st_size > 0
    crashed = crash_after(A2C, 6, TrainConfig(runs_dir=tmp_path, name="crashed", **tiny))  # after 256 steps
    assert load_checkpoint(crashed / "checkpoints" / "last.pt")["algo"]["global_step"] == 256
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == rows


@pytest.mark.parametrize("core", ["none", "gru"])
def test_a2c_trains_a_team_in_an_arena_resumes_exactly_and_is_deterministic(core, tmp_path):
    from mazearena.training.algorithms.a2c import A2CConfig, TeamA2C
    from mazearena.training.config import ArenaEnvConfig

    tiny = {
        **without(TINY, "env", "ppo"),
        "algo": "a2c",
        "kind": "arena",
        "core": core,
        "core_size": 16,
        "arena": ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=30, num_levels=20),
        "a2c": A2CConfig(num_envs=8, num_steps=8),
        "video_episodes": 1,
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    rows = metrics(straight)
    assert rows == metrics(train(TrainConfig(runs_dir=tmp_path, name="again", **tiny)))
    assert [r["step"] for r in rows] == list(range(64, 1025, 64))
    assert all(math.isfinite(r["loss/policy"]) and 0 < r["agents/active_fraction"] <= 1 for r in rows)
    assert all(f"agent/red_{i}/return" in r for r in rows if "episode/count" in r for i in range(2))
    report = json.loads((straight / "report.json").read_text())
    assert report["test_levels"]["episodes"] >= 16 and 0 <= report["test_levels"]["draw_rate"] <= 1
    assert (straight / "episodes.gif").stat().st_size > 0
    crashed = crash_after(TeamA2C, 6, TrainConfig(runs_dir=tmp_path, name="crashed", **tiny))  # after 384 steps
    assert load_checkpoint(crashed / "checkpoints" / "last.pt")["algo"]["global_step"] == 256
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == rows


def test_a2c_self_play_grows_its_league(tmp_path):
    from mazearena.agents.league import LeagueConfig
    from mazearena.training.algorithms.a2c import A2CConfig
    from mazearena.training.config import ArenaEnvConfig

    run = train(
        TrainConfig(
            **{**without(TINY, "env", "ppo"), "total_timesteps": 512, "video_episodes": 0},
            runs_dir=tmp_path,
            algo="a2c",
            kind="arena",
            arena=ArenaEnvConfig(mode="combat", size=9, max_cycles=20, num_levels=20),
            a2c=A2CConfig(num_envs=8, num_steps=16),
            league=LeagueConfig(self_play=True, snapshot_every=2, opponent_groups=2),
        )
    )
    assert [r["league/size"] for r in metrics(run)] == [1, 2, 2, 3]
    with pytest.raises(UserError, match=r"must divide a2c.num_envs \(6\)"):
        TrainConfig(
            algo="a2c",
            kind="arena",
            a2c=A2CConfig(num_envs=6),
            arena=ArenaEnvConfig(mode="combat"),
            league=LeagueConfig(self_play=True, opponent_groups=4),
        )


def test_the_kind_of_task_is_a_field_and_algorithms_train_the_kinds_they_can(tmp_path):
    from mazearena.training.algorithms.a2c import A2CConfig

    assert TrainConfig(algo="a2c").task.kind_name == "maze"
    assert TrainConfig(algo="a2c", kind="arena").task.kind_name == "arena"
    assert TrainConfig(algo="mappo").task.kind_name == "arena"  # mappo trains only teams
    with pytest.raises(UserError, match="algo 'ppo' does not train teams: arena tasks train with algo 'mappo' or"):
        TrainConfig(algo="ppo", kind="arena")
    with pytest.raises(UserError, match="algo 'mappo' does not train single agents"):
        TrainConfig(algo="mappo", kind="maze")
    with pytest.raises(UserError, match="kind must be auto, pettingzoo, arena, maze, gym; got 'mazes'"):
        TrainConfig(kind="mazes")
    with pytest.raises(UserError, match="kind 'maze' trains on mazearena/Maze-v0"):
        TrainConfig(kind="maze", env=EnvConfig(env_id="CartPole-v1"))
    with pytest.raises(UserError, match="a2c.centralized_critic is a team switch"):
        TrainConfig(algo="a2c", a2c=A2CConfig(centralized_critic=False))
    with pytest.raises(UserError, match="league.self_play plays mazearena's arenas"):
        from mazearena.agents.league import LeagueConfig

        TrainConfig(algo="a2c", league=LeagueConfig(self_play=True))
    cfg = _train_args(["--env", "arena", "--algo", "a2c", "--mode", "ctf"])
    assert (cfg.kind, cfg.algo, cfg.arena.mode) == ("arena", "a2c", "ctf")
    assert _train_args(["--env", "arena"]).algo == "mappo"
    path = tmp_path / "a2c.yaml"
    save_config(TrainConfig(algo="a2c", kind="arena"), path)
    assert load_config(path).task.kind_name == "arena"


def test_the_sb3_trainer_runs_through_the_same_run_folder(tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"  # SB3's own logger would leave an empty folder here on every iteration
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run = train(TrainConfig(runs_dir=tmp_path, name="sb3", algo="sb3-ppo", **{**TINY, "video_episodes": 0}))
    assert not any(scratch.glob("SB3-*"))
    rows = metrics(run)
    assert [r["step"] for r in rows] == list(range(128, 1025, 128))
    assert all("loss/policy" in r for r in rows[1:]) and any("eval/success_rate" in r for r in rows)
    assert json.loads((run / "report.json").read_text())["summary"]["steps"] == 1024
    with pytest.raises(ValueError, match="cannot be resumed"):
        train(TrainConfig(resume=run, progress=False))


def test_mappo_trains_in_an_arena_resumes_exactly_and_reports_win_rates(tmp_path):
    from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    tiny = {
        **without(TINY, "env", "ppo"),
        "algo": "mappo",
        "arena": ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=30, num_levels=20),
        "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
        "video_episodes": 1,
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    rows = metrics(straight)
    assert [r["step"] for r in rows] == list(range(128, 1025, 128))
    assert any("episode/success" in r for r in rows) and any("eval/success_rate" in r for r in rows)
    assert all(f"agent/red_{i}/return" in r for r in rows if "episode/count" in r for i in range(2))
    assert all(0 <= r["episode/catches"] <= 1 for r in rows if "episode/count" in r)  # one runner to catch
    report = json.loads((straight / "report.json").read_text())
    assert report["test_levels"]["episodes"] >= 16 and 0 <= report["test_levels"]["draw_rate"] <= 1
    assert (straight / "episodes.gif").stat().st_size > 0
    from mazearena.apps.watch import WatchConfig, watch

    games = watch(WatchConfig(run=straight, episodes=2, record=tmp_path / "team.gif"))
    assert len(games) == 2 and all(set(g) == {"return", "length", "success", "winner"} for g in games)
    assert all(g["success"] == (g["winner"] == 0) and 1 <= g["length"] <= 30 for g in games)
    assert (tmp_path / "team.gif").stat().st_size > 0
    crashed = crash_after(MAPPO, 3, TrainConfig(runs_dir=tmp_path, name="crashed", **{**tiny, "video_episodes": 0}))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)


def test_self_play_trains_against_its_league_resumes_exactly_and_tables_the_league(tmp_path):
    from mazearena.agents.league import LeagueConfig
    from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    tiny = {
        **without(TINY, "env", "ppo"),
        "algo": "mappo",
        "arena": ArenaEnvConfig(mode="combat", size=9, max_cycles=20, num_levels=20),
        "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
        "video_episodes": 1,
        "league": LeagueConfig(self_play=True, team="blue", snapshot_every=2, opponent_groups=2),
    }
    straight = train(TrainConfig(runs_dir=tmp_path, name="straight", **tiny))
    rows = metrics(straight)
    assert [r["league/size"] for r in rows] == [1, 2, 2, 3, 3, 4, 4, 5]
    assert all(0 <= r["episode/kills"] <= 3 and 0 <= r["episode/deaths"] <= 3 for r in rows if "episode/count" in r)
    report = json.loads((straight / "report.json").read_text())
    table = report["league"]
    assert table["steps"] == [0, 256, 512, 768, 1024] and len(table["win"]) == 5
    assert all(table["win"][i][i] is None for i in range(5))
    assert [r["name"] for r in table["ratings"]] == ["0", "256", "512", "768", "1,024"]
    assert all(r["low"] < r["mu"] < r["high"] and r["games"] == 4 * 16 for r in table["ratings"])
    assert all(
        abs(table["win"][i][j] + table["win"][j][i] + table["draw"][i][j] - 1) < 1e-9
        for i in range(5)
        for j in range(5)
        if i != j
    )
    text = (straight / "report.md").read_text()
    assert "by self-play as blue" in text and "## Self-play league" in text
    assert (straight / "league.png").stat().st_size > 0
    # trained as blue, tested as the scenario's red team through the mirror
    assert report["test_levels"]["episodes"] >= 16
    crashed = crash_after(MAPPO, 5, TrainConfig(runs_dir=tmp_path, name="crashed", **{**tiny, "video_episodes": 0}))
    train(TrainConfig(resume=crashed, progress=False))
    assert metrics(crashed) == metrics(straight)


def test_arena_shorthand_on_the_command_line(tmp_path, monkeypatch, capsys):
    from mazearena.apps import cli

    seen = []
    monkeypatch.setitem(cli.COMMANDS, "train", seen.append)
    assert main(["train", "--env", "arena", "--mode", "ctf", "--league.self-play"]) == 0
    cfg = seen[0]
    assert cfg.algo == "mappo" and cfg.arena.scenario_name == "ctf_3v3_vs_guards" and cfg.league.self_play
    assert main(["train", "--env=maze", "--algo", "dqn"]) == 0 and seen[1].algo == "dqn"
    bad = ((["--env", "arena", "--algo", "ppo"], "--algo mappo"), (["--env", "space"], "'maze' or 'arena'"))
    for args, message in bad:
        with pytest.raises(SystemExit) as exit_:
            main(["train", *args])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_arena_training_config_errors_name_the_field():
    from mazearena.training.config import ArenaEnvConfig

    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        ArenaEnvConfig(scenario="nope")
    with pytest.raises(ValueError, match="must have the mode, teams and learning agents"):
        ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", heldout_scenario="ctf_3v3_vs_guards_heldout")
    with pytest.raises(ValueError, match="overlap the training levels"):
        ArenaEnvConfig(num_levels=100, test_start_level=50)
    with pytest.raises(ValueError, match="obs_mode"):
        ArenaEnvConfig(obs_mode="both")
    with pytest.raises(ValueError, match="does not fit arena observations"):
        TrainConfig(algo="mappo", backbone="mlp")
    with pytest.raises(ValueError, match="mode must be one of"):
        ArenaEnvConfig(mode="soccer")
    with pytest.raises(ValueError, match="plays 'tag', not mode 'ctf'"):
        ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", mode="ctf")
    from mazearena.agents.league import LeagueConfig

    with pytest.raises(ValueError, match="league.self_play plays mazearena's arenas"):
        TrainConfig(league=LeagueConfig(self_play=True))
    with pytest.raises(ValueError, match="ctf or combat"):
        TrainConfig(algo="mappo", league=LeagueConfig(self_play=True))
    with pytest.raises(ValueError, match="one whole team"):
        TrainConfig(
            algo="mappo", arena=ArenaEnvConfig(scenario="combat_2v2_with_npc_ally"), league=LeagueConfig(self_play=True)
        )


@pytest.mark.parametrize("handle", [False, True])
def test_train_takes_over_sigint_and_sigterm_only_when_asked(handle, tmp_path, monkeypatch):
    # A notebook or a test that calls train() keeps its own handlers; the CLI asks for the graceful stop.
    real, installed = signal.signal, []

    def recording(signum, handler):
        installed.append(signum)
        return real(signum, handler)

    monkeypatch.setattr(signal, "signal", recording)
    cfg = TrainConfig(runs_dir=tmp_path, name="signals", **{**TINY, "total_timesteps": 128, "video_episodes": 0})
    train(cfg, handle_signals=handle)
    taken = {signal.SIGINT, signal.SIGTERM} & set(installed)
    assert taken == ({signal.SIGINT, signal.SIGTERM} if handle else set())


def test_backbone_width_builds_the_narrower_network_and_loads_it_back(tmp_path, capsys):
    from mazearena.training.loading import load_trained, make_policy
    from mazearena.training.runs import make_envs

    cfg = TrainConfig(**{**TINY, "video_episodes": 0, "wandb_mode": "disabled"}, backbone="mlp", backbone_width=24)
    cfg.runs_dir, cfg.name, cfg.total_timesteps = tmp_path, "narrow", 256
    run = train(cfg)
    _, _, policy, _ = load_trained(run, "last", "cpu", TrainConfig)  # eval, watch and export load it this way
    widths = [m.out_features for m in policy.backbone.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [24, 24] and policy.actor.in_features == 24
    envs = make_envs(cfg, 2, test=False, seed=0)
    for algo in ("dqn", "a2c"):  # every trainer's network takes it
        other = make_policy(TrainConfig(algo=algo, backbone="cnn", backbone_width=4), envs)
        assert next(m for m in other.modules() if isinstance(m, torch.nn.Conv2d)).out_channels == 4
    team = TrainConfig(algo="mappo", backbone="cnn", backbone_width=4)
    team_net = make_policy(team, team.task.make_envs(team, 2, test=False, seed=0))
    assert next(m for m in team_net.backbones.modules() if isinstance(m, torch.nn.Conv2d)).out_channels == 4
    for bad, message in (
        (dict(backbone="impala", backbone_width=8), "backbone_width applies to the backbones cnn"),
        (dict(backbone_width=-1), "backbone_width must be"),
    ):
        with pytest.raises(UserError, match=message):
            TrainConfig(**bad)
    with pytest.raises(SystemExit) as exit_:  # the CLI names the option too
        main(["train", "--backbone", "mlp", "--backbone-width", "wide"])
    assert exit_.value.code == 2 and "backbone-width" in capsys.readouterr().err
