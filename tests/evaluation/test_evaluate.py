"""``mazearena eval``: suites, the episode table, statistics, reports and plots, clear errors."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mazearena.apps.cli import main
from mazearena.evaluation.evaluate import EvalConfig, evaluate, slots
from mazearena.evaluation.summary import read_csv, summarise
from mazearena.mazes import FOLDER as FOLDER_OF_NAMED
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.checkpoint import CheckpointError
from mazearena.training.config import ArenaEnvConfig

TINY = dict(
    env=EnvConfig(size=7, num_levels=50),
    ppo=PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    total_timesteps=512,
    checkpoint_every=256,
    eval_every=0,
    eval_episodes=16,
    video_episodes=0,
    wandb_mode="disabled",
    progress=False,
)
ARENA = {
    **{k: v for k, v in TINY.items() if k not in ("env", "ppo")},
    "algo": "mappo",
    "arena": ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=20, size=9, num_levels=20),
    "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
}
FAST = dict(episodes=8, num_envs=8, curve_episodes=8, maze_episodes=2, wandb_mode="disabled", progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {f"ppo{s}": train(TrainConfig(runs_dir=root, name=f"ppo-s{s}", seed=s, **TINY)) for s in (0, 1)}
    dqn = {k: v for k, v in TINY.items() if k != "ppo"} | {"total_timesteps": 1024}
    out["dqn"] = train(TrainConfig(runs_dir=root, name="dqn-s0", algo="dqn", **dqn))
    out |= {f"arena{s}": train(TrainConfig(runs_dir=root, name=f"tag-s{s}", seed=s, **ARENA)) for s in (0, 1)}
    return out


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_eval_writes_every_episode_statistics_report_and_plots(runs, tmp_path):
    out = evaluate(
        EvalConfig(
            runs=(runs["ppo0"], runs["ppo1"], runs["dqn"]),
            out=tmp_path / "eval",
            perturbations=("sticky_actions", "obs_noise"),
            **FAST,
        )
    )
    for name in (
        "episodes.csv",
        "summary.json",
        "report.md",
        "intervals.png",
        "profile.png",
        "severity.png",
        "sample_efficiency.png",
        "sample_efficiency.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    rows = rows_of(out / "episodes.csv")
    for column in (
        "method",
        "suite",
        "perturbation",
        "severity",
        "level_id",
        "seed",
        "return",
        "length",
        "success",
        "terminated",
        "truncated",
    ):
        assert column in rows[0]
    per = {}
    for r in rows:
        key = (r["run"], r["suite"], r["perturbation"], r["severity"])
        per[key] = per.get(key, 0) + 1
    # 3 runs x (4 suites + 2 perturbations x 3 severities), 8 episodes each: a fixed count, fixed in advance
    assert len(per) == 3 * (4 + 2 * 3) and set(per.values()) == {8}
    assert {r["method"] for r in rows} == {"ppo-cnn", "dqn-cnn"}
    assert all(r["terminated"] == "True" or r["truncated"] == "True" for r in rows)
    test = [int(r["level_id"]) for r in rows if r["suite"] == "test"]
    train_levels = [int(r["level_id"]) for r in rows if r["suite"] == "train"]
    assert min(test) >= 1_000_000 and max(train_levels) < 50  # held-out vs training levels
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["aggregates"]) == {"ppo-cnn", "dqn-cnn"}
    assert summary["aggregates"]["ppo-cnn"]["stochastic"]["runs"] == 2
    assert {(p["x"], p["y"]) for p in summary["probability_of_improvement"]} == {
        ("ppo-cnn", "dqn-cnn"),
        ("dqn-cnn", "ppo-cnn"),
    }
    rob = [r for r in summary["robustness"] if r["method"] == "ppo-cnn" and r["perturbation"] == "sticky_actions"]
    assert rob[0]["severities"] == [0.0, 0.1, 0.25, 0.5]
    curve = summary["sample_efficiency"]
    steps = {c["step"] for c in curve if c["run"] == "ppo-s0"}
    assert steps == {0, 256, 512} and curve[0]["source"] == "snapshot"  # from the untrained network at step 0
    report = (out / "report.md").read_text()
    for heading in (
        "## Per condition",
        "## Across runs and suites",
        "Probability of improvement",
        "## Robustness",
        "## Generalisation gap",
        "## Sample efficiency",
    ):
        assert heading in report


def test_eval_is_reproducible_and_leaves_the_global_rng_alone(runs, tmp_path):
    cfg = dict(runs=(runs["ppo0"],), perturbations=("random_actions",), suites=("test",), curve_episodes=0)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = evaluate(EvalConfig(out=tmp_path / "a", **{**FAST, **cfg}))
    assert torch.equal(torch.get_rng_state(), state)
    b = evaluate(EvalConfig(out=tmp_path / "b", **{**FAST, **cfg}))
    c = evaluate(EvalConfig(out=tmp_path / "c", seed=1, **{**FAST, **cfg}))
    assert (a / "episodes.csv").read_text() == (b / "episodes.csv").read_text()
    assert (a / "episodes.csv").read_text() != (c / "episodes.csv").read_text()


def test_deterministic_and_stochastic_modes_are_both_reported_and_dqn_is_greedy(runs, tmp_path):
    out = evaluate(
        EvalConfig(
            runs=(runs["ppo0"], runs["dqn"]),
            out=tmp_path,
            modes=("deterministic", "stochastic"),
            perturbations=("obs_noise",),
            suites=("train", "test"),
            **FAST,
        )
    )
    rows = rows_of(out / "episodes.csv")
    assert {r["mode"] for r in rows if r["method"] == "ppo-cnn"} == {"deterministic", "stochastic"}
    # DQN acts greedily whatever is asked: played once per condition and labelled so
    assert {r["mode"] for r in rows if r["method"] == "dqn-cnn"} == {"greedy"}
    assert sum(r["method"] == "dqn-cnn" for r in rows) * 2 == sum(r["method"] == "ppo-cnn" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modes"] == ["deterministic", "stochastic"] and summary["suites"] == ["train", "test"]
    assert set(summary["aggregates"]["dqn-cnn"]) == {"greedy"}
    assert set(summary["aggregates"]["ppo-cnn"]) == {"deterministic", "stochastic"}
    pairs = {(p["x"], p["y"], p["mode"]) for p in summary["probability_of_improvement"]}
    assert ("ppo-cnn", "dqn-cnn", "stochastic vs greedy") in pairs and len(pairs) == 4
    assert {(r["method"], r["mode"]) for r in summary["robustness"]} == {
        ("ppo-cnn", "deterministic"),
        ("ppo-cnn", "stochastic"),
        ("dqn-cnn", "greedy"),
    }
    report = (out / "report.md").read_text()
    assert "| dqn-cnn | greedy |" in report and "| dqn-cnn | stochastic |" not in report


def test_eval_goes_to_the_run_folder_by_default_through_the_cli(runs, tmp_path):
    run = shutil.copytree(runs["ppo0"], tmp_path / "copy")
    assert (
        main(
            [
                "eval",
                str(run),
                "--suites",
                "test",
                "--perturbations",
                "none",
                "--episodes",
                "8",
                "--curve-episodes",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )  # W&B offline, the default
    assert (run / "eval" / "report.md").exists()
    media = next((run / "eval" / "wandb").glob("offline-run-*/files/media"))  # the W&B eval job's tables and plots
    assert list(media.glob("table/eval/conditions_*.table.json")) and list(media.glob("images/eval/intervals_*.png"))
    assert list(media.glob("table/eval/drawn_mazes_*.table.json")) and list(media.glob("images/eval/mazes_*.png"))


def test_arena_runs_get_games_cross_play_and_ratings(runs, tmp_path):
    out = evaluate(
        EvalConfig(
            runs=(runs["arena0"], runs["arena1"]),
            out=tmp_path,
            suites=("train", "test"),
            perturbations=("npc_sharpness", "sticky_actions", "obs_dropout"),
            cross_play_games=8,
            **FAST,
        )
    )
    rows = rows_of(out / "episodes.csv")
    assert {"winner", "per_capita_return"} <= set(rows[0])
    r = rows[0]
    assert float(r["per_capita_return"]) == pytest.approx(float(r["return"]) / 2)  # two focal chasers
    summary = json.loads((out / "summary.json").read_text())
    cross = summary["cross_play"]  # two red chasers learn: runs play together as teammates
    assert cross["kind"] == "teammates" and cross["split"] == [["red_0"], ["red_1"]]
    assert np.array(cross["win"]).shape == (2, 2) and cross["games_per_pair"] == 8
    assert (out / "cross_play.png").exists()
    assert "## Cross-play (teammates)" in (out / "report.md").read_text()
    assert {r["perturbation"] for r in rows} == {"none", "npc_sharpness", "sticky_actions", "obs_dropout"}


def test_head_to_head_cross_play_of_self_play_runs_has_ratings(tmp_path):
    from mazearena.agents.league import LeagueConfig

    cfg = {
        **ARENA,
        "arena": ArenaEnvConfig(scenario="ctf_2v2_vs_guard_and_runner", size=9, max_cycles=20, num_levels=20),
        "league": LeagueConfig(self_play=True, snapshot_every=1),
        "total_timesteps": 256,
    }
    runs = [train(TrainConfig(runs_dir=tmp_path, name=f"sp-s{s}", seed=s, **cfg)) for s in (0, 1, 2)]
    out = evaluate(
        EvalConfig(
            runs=tuple(runs),
            out=tmp_path / "eval",
            suites=("test",),
            perturbations=("none",),
            cross_play_games=8,
            **{**FAST, "curve_episodes": 0},
        )
    )
    summary = json.loads((out / "summary.json").read_text())
    cross = summary["cross_play"]  # the three runs and the scenario's scripted team, the baseline
    assert cross["kind"] == "head_to_head" and len(cross["ratings"]) == 4 and cross["players"][3] == "scripted/scripted"
    for condition in summary["conditions"]:  # capture the flag: how the games ended, what each agent did
        assert sum(condition["outcomes"].values()) == pytest.approx(1.0)
        assert set(condition["roles"]) == {"red_0", "red_1"}
    report = (out / "report.md").read_text()
    assert "### Roles" in report and "captures/red_1" in rows_of(out / "episodes.csv")[0]
    assert cross["win"][0][0] is None
    assert cross["win"][0][1] + cross["win"][1][0] + cross["draw"][0][1] == pytest.approx(1.0)
    assert "## Cross-play" in report
    assert "Baseline **scripted**: the scenario's best scripted team (red_0: ctf_defender" in report
    # the baseline plays every condition the runs play, on the same games, as a method of its own
    scripted = [r for r in rows_of(out / "episodes.csv") if r["method"] == "scripted"]
    assert len(scripted) == 8 and {r["run"] for r in scripted} == {"scripted"}
    assert "scripted" in summary["methods"]
    # the defender of the scripted team stays by its flag; it beats the untrained runs more than it loses to them
    script = next(c for c in summary["conditions"] if c["method"] == "scripted")
    assert script["roles"]["red_0"]["home"] > 0.5
    assert sum(cross["win"][3][:3]) > sum(cross["win"][j][3] for j in range(3))


def test_bad_input_gets_clear_errors(runs, tmp_path):
    with pytest.raises(ValueError, match="unknown suite"):
        evaluate(EvalConfig(runs=(runs["ppo0"],), suites=("moon",), out=tmp_path, **FAST))
    with pytest.raises(ValueError, match="unknown perturbation"):
        EvalConfig(runs=(runs["ppo0"],), perturbations=("wind",))
    with pytest.raises(ValueError, match="is not a run folder"):
        evaluate(EvalConfig(runs=(tmp_path,), out=tmp_path, **FAST))
    with pytest.raises(ValueError, match="trained on different envs"):
        evaluate(EvalConfig(runs=(runs["ppo0"], runs["arena0"]), out=tmp_path, **FAST))
    with pytest.raises(ValueError, match="given twice"):
        evaluate(EvalConfig(runs=(runs["ppo0"], runs["ppo0"]), out=tmp_path, **FAST))
    broken = shutil.copytree(runs["ppo1"], tmp_path / "broken")
    (broken / "checkpoints" / "best.pt").unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="has no checkpoint best.pt"):
        evaluate(EvalConfig(runs=(broken,), checkpoint="best", out=tmp_path, **FAST))
    # a checkpoint of another config (here: another maze size) in the folder
    config = yaml.safe_load((broken / "config.yaml").read_text())
    config["env"]["size"] = 9
    (broken / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="another model or env config"):
        evaluate(EvalConfig(runs=(broken,), out=tmp_path, **FAST))
    assert main(["eval", str(runs["ppo0"]), "--suites", "moon", "--no-progress", "--wandb-mode", "disabled"]) == 2
    with pytest.raises(SystemExit):  # a bad option value is a usage error
        main(["eval", str(runs["ppo0"]), "--episodes", "0"])


def test_suites_are_the_training_split_and_larger_or_harder_held_out_mazes():
    cfg = TrainConfig(**TINY)
    larger = cfg.task.suite_env(cfg, "larger", 2, 0)
    assert larger.unwrapped.config.size == 13 and larger.unwrapped.engine.max_episode_steps == 4 * 13**2
    assert cfg.task.suite_env(cfg, "harder", 2, 0).unwrapped.config.generator.value == "backtracker"
    full = TrainConfig(**{**TINY, "env": EnvConfig(size=7, obs_mode="full")})
    with pytest.raises(ValueError, match="suite 'larger' needs a policy with an egocentric view"):
        full.task.suite_env(full, "larger", 2, 0)
    arena = TrainConfig(**ARENA)
    assert arena.task.suite_env(arena, "test", 2, 0).npcs.base_epsilon.tolist() == [0.0]  # the held-out population
    assert arena.task.suite_env(arena, "train", 2, 0).npcs.base_epsilon.tolist() == pytest.approx([0.2])


def test_slots_play_as_few_extra_episodes_as_can_be():
    assert slots(128, 256) == 128 and slots(128, 8) == 8
    per = -(-257 // slots(128, 257))
    assert slots(128, 257) * per - 257 < per


def test_summary_statistics_on_known_episodes():
    def rows(method, run, suite, successes, perturbation="none", severity=0.0):
        return [
            {
                "method": method,
                "run": run,
                "suite": suite,
                "perturbation": perturbation,
                "severity": severity,
                "mode": "stochastic",
                "success": bool(s),
                "return": float(s),
                "length": 10,
            }
            for s in successes
        ]

    data = []
    for run in ("a0", "a1"):
        data += rows("A", run, "train", [1] * 10) + rows("A", run, "test", [1] * 8 + [0] * 2)
        data += rows("A", run, "test", [1] * 4 + [0] * 6, "sticky_actions", 0.5)
    for run in ("b0", "b1"):
        data += rows("B", run, "train", [1] * 5 + [0] * 5) + rows("B", run, "test", [0] * 10)
        data += rows("B", run, "test", [0] * 10, "sticky_actions", 0.5)
    s = summarise(data, seed=0)
    gap = {g["method"]: g["gap"] for g in s["generalisation_gap"]}
    assert gap == pytest.approx({"A": 0.2, "B": 0.5})
    rob = {r["method"]: r for r in s["robustness"]}
    assert rob["A"]["ratio"] == pytest.approx([1.0, 0.5]) and rob["A"]["auc"] == pytest.approx(0.75)
    low, high = rob["A"]["auc_ci95"]  # 16 of 20 clean, 8 of 20 perturbed: a wide interval around 0.75
    assert 0.55 < low < 0.75 < high < 0.95
    assert rob["B"]["ratio"] == [None, None] and rob["B"]["auc"] is None  # no clean success: no ratio
    poi = {(p["x"], p["y"]): p["value"] for p in s["probability_of_improvement"]}
    assert poi[("A", "B")] == 1.0 and poi[("B", "A")] == 0.0
    full = next(c for c in s["conditions"] if c["method"] == "A" and c["suite"] == "train")
    assert full["success_rate"] == 1.0 and full["success_ci95"][0] < 1.0  # 20 of 20: a real interval
    assert np.isclose(s["aggregates"]["A"]["stochastic"]["mean"]["value"], 0.9)


def test_episode_tables_read_back(tmp_path):
    from mazearena.evaluation.summary import write_csv

    write_csv([{"a": 1, "b": True, "c": 0.5, "d": "x"}], tmp_path / "t.csv")
    assert read_csv(tmp_path / "t.csv") == [{"a": 1, "b": True, "c": 0.5, "d": "x"}]


def test_compare_puts_runs_side_by_side_with_curves_and_probability_of_improvement(runs, tmp_path):
    from mazearena.evaluation.compare import CompareConfig, compare, improvement

    out = compare(CompareConfig(runs=(runs["ppo0"], runs["ppo1"], runs["dqn"]), out=tmp_path / "cmp"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"] == ["ppo-cnn", "dqn-cnn"] and summary["per_method"]["ppo-cnn"]["runs"] == 2
    # one DQN run: no between-run variation, so no probability of improvement, and the report says why
    assert summary["probability_of_improvement"] == [] and "dqn-cnn: 1" in summary["improvement_note"]
    assert (out / "episode_success.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "## Learning curves" in report and "## Probability of improvement" not in report
    assert "one run per side has no between-run variation" in report and "### Each run's final held-out" in report
    finals = [  # two runs a side: the probability and its interval over runs
        {"method": m, "test_success": v} for m, v in (("a", 0.9), ("a", 0.8), ("b", 0.5), ("b", 0.6))
    ]
    pairs = improvement(finals, ["a", "b"], "test_success", seed=0)
    assert [(p["x"], p["y"], p["value"]) for p in pairs["probability_of_improvement"]] == [
        ("a", "b", 1.0),
        ("b", "a", 0.0),
    ]
    assert pairs["improvement_note"] == ""
    assert main(["compare", str(runs["ppo0"]), str(runs["arena0"]), "--out", str(tmp_path / "x")]) == 2
    with pytest.raises(ValueError, match="not a run folder"):
        compare(CompareConfig(runs=(tmp_path,)))


def test_an_older_checkpoint_loads_when_a_field_it_lacks_is_at_its_default(runs):
    from mazearena.training.checkpoint import load_checkpoint
    from mazearena.training.config import load_config
    from mazearena.training.loading import fits

    cfg = load_config(runs["ppo0"] / "config.yaml")
    saved = json.loads(load_checkpoint(runs["ppo0"] / "checkpoints" / "last.pt")["config"])
    del saved["env"]["max_episode_steps"]  # as if written before the field existed
    assert fits(json.dumps(saved), cfg)
    cfg.env.max_episode_steps = 50
    assert not fits(json.dumps(saved), cfg)


def test_eval_plays_every_drawn_maze_alike_and_reports_each_with_intervals(runs, tmp_path):
    folder = tmp_path / "mazes"
    folder.mkdir()
    (folder / "corridor.txt").write_text("; a straight run\nS....G\n")
    (folder / "turn.txt").write_text("S..\n##.\nG..\n")
    out = evaluate(
        EvalConfig(
            runs=(runs["ppo0"], runs["ppo1"]),
            out=tmp_path / "eval",
            suites=("test",),
            perturbations=("none",),
            mazes=str(folder),
            **{**FAST, "maze_episodes": 6},
        )
    )
    rows = rows_of(out / "mazes.csv")
    per = {}
    for r in rows:
        per[(r["run"], r["maze"])] = per.get((r["run"], r["maze"]), 0) + 1
    assert set(per) == {(run, maze) for run in ("ppo-s0", "ppo-s1") for maze in ("corridor", "turn")}
    assert set(per.values()) == {6}  # every maze the same number of episodes, fixed in advance
    drawn = json.loads((out / "summary.json").read_text())["drawn_mazes"]
    stats = drawn["methods"]["ppo-cnn"]["stochastic"]
    assert [m["maze"] for m in stats["mazes"]] == ["corridor", "turn"] and set(stats["runs"]) == {"ppo-s0", "ppo-s1"}
    for m in stats["mazes"]:
        assert 0 <= m["low"] <= m["success"] <= m["high"] <= 1 and m["episodes"] == 12
    assert stats["low"] <= stats["mean"] <= stats["high"]
    report = (out / "report.md").read_text()
    assert "## Drawn mazes" in report and "| corridor |" in report and "mazes.png" in report
    assert (out / "mazes.png").stat().st_size > 0


def test_drawn_mazes_default_to_the_named_set_can_be_left_out_and_bad_folders_are_named(runs, tmp_path):
    out = evaluate(
        EvalConfig(runs=(runs["ppo0"],), out=tmp_path / "a", suites=("test",), perturbations=("none",), **FAST)
    )
    drawn = json.loads((out / "summary.json").read_text())["drawn_mazes"]
    assert len(drawn["mazes"]) == 12 and drawn["source"].endswith("mazes")
    clean = dict(suites=("test",), perturbations=("none",), **FAST)
    none = evaluate(EvalConfig(runs=(runs["ppo0"],), out=tmp_path / "b", mazes="none", **clean))
    assert "drawn_mazes" not in json.loads((none / "summary.json").read_text())
    with pytest.raises(ValueError, match="nowhere: no such file or folder"):
        EvalConfig(runs=(runs["ppo0"],), mazes=str(tmp_path / "nowhere"))
    arena = evaluate(
        EvalConfig(runs=(runs["arena0"],), out=tmp_path / "c", suites=("test",), perturbations=("none",), **FAST)
    )
    assert "drawn_mazes" not in json.loads((arena / "summary.json").read_text())
    with pytest.raises(ValueError, match="no run here plays drawn mazes"):
        evaluate(EvalConfig(runs=(runs["arena0"],), out=tmp_path / "d", mazes=str(FOLDER_OF_NAMED), **clean))
