"""``mazearena bench``: one home for every speed measurement, each a subcommand that writes its JSON (with the
machine) and Markdown, with no peer imported before it is measured."""

import json
import subprocess
import sys

import pytest

from mazearena.apps.bench import BENCHMARKS
from mazearena.apps.cli import main
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.ppo import PPOConfig

PEERS = ("stable_baselines3", "sb3_contrib", "minigrid", "magent2", "mpe2", "supersuit", "ray")


def test_no_bench_module_imports_a_peer():
    modules = ["mazearena.apps.cli", *(c.__module__ for c, _ in BENCHMARKS.values()), "mazearena.apps.bench.trainers"]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint([p for p in {PEERS!r} if p in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_bench_engine_writes_medians_and_the_machine(tmp_path, capsys):
    argv = ["bench", "engine", "--backend", "torch", "--maze-envs", "4", "--arena-envs", "2", "--arena-modes", "ctf"]
    assert main([*argv, "--repeats", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "engine_step.json").read_text())
    assert report["machine"]["cpus"] >= 1 and "torch" in report["machine"]
    assert [r["what"] for r in report["rows"]] == [
        "Maze-v0 single env",
        "maze engine 4 games (torch)",
        "arena ctf 8v8 2 games (torch)",
    ]
    assert all(r["median"] > 0 for r in report["rows"])
    text = (tmp_path / "engine_step.md").read_text()
    assert text.startswith("Measured on ") and "| maze engine 4 games (torch) |" in text
    assert "maze engine 4 games" in capsys.readouterr().out


def test_bench_without_a_subcommand_is_peers(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in BENCHMARKS)
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--repeats", "0"])  # options alone go to peers
    assert exit_info.value.code == 2 and "repeats must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["bench", "engine", "--repeats", "0"], "repeats must be >= 1"),
        (["bench", "engine", "--maze-envs", "0"], "maze_envs and arena_envs must be ints >= 1"),
        (["bench", "train", "--dqn-batch", "0"], "dqn_batch must be >= 1"),
        (["bench", "marl", "--scenario", "soccer"], "scenario must be one of"),
        (["bench", "eval", "somewhere", "--episodes", "0"], "episodes must be >= 1"),
        (["bench", "ablation", "--total-timesteps", "0"], "total_timesteps must be >= 1"),
        (["bench", "solve", "--seeds", "0"], "seeds must be >= 1"),
        (["bench", "solve", "--target", "1.5"], "target must be in (0, 1]"),
        (["bench", "profile", "--max-steps", "0"], "max_steps must be >= 1"),
    ],
)
def test_bad_bench_values_exit_2_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_eval_times_our_harness_next_to_sb3_through_the_actor(tmp_path):
    pytest.importorskip("stable_baselines3")
    run = train(
        TrainConfig(
            env=EnvConfig(size=7, num_levels=20),
            ppo=PPOConfig(num_envs=4, num_steps=16, num_minibatches=2),
            total_timesteps=128,
            eval_every=0,
            eval_episodes=8,
            video_episodes=0,
            runs_dir=tmp_path,
            name="tiny",
            wandb_mode="offline",
            progress=False,
        )
    )
    argv = ["bench", "eval", str(run), "--episodes", "8", "--repeats", "1", "--num-envs", "4", "--sb3-envs", "2"]
    assert main([*argv, "--out", str(tmp_path / "bench")]) == 0
    report = json.loads((tmp_path / "bench" / "eval_speed.json").read_text())
    ours, sb3 = report["rows"]
    assert ours["what"] == "mazearena eval, 4 games at once" and sb3["what"] == "SB3 evaluate_policy, DummyVecEnv of 2"
    assert all(0 <= r["success"] <= 1 and r["median_seconds"] > 0 for r in report["rows"])
    assert (tmp_path / "bench" / "eval_speed.md").read_text().startswith("Measured on ")


def test_bench_eval_says_it_times_maze_runs(tmp_path, capsys):
    from mazearena.training.algorithms.mappo import MAPPOConfig
    from mazearena.training.config import ArenaEnvConfig

    run = train(
        TrainConfig(
            algo="mappo",
            arena=ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=10, size=9, num_levels=4),
            mappo=MAPPOConfig(num_envs=4, num_steps=8, num_minibatches=2),
            total_timesteps=32,
            eval_every=0,
            eval_episodes=4,
            video_episodes=0,
            runs_dir=tmp_path,
            name="arena",
            wandb_mode="disabled",
            progress=False,
        )
    )
    assert main(["bench", "eval", str(run), "--out", str(tmp_path / "bench")]) == 2
    assert "bench eval times a maze run" in capsys.readouterr().err


def test_the_recurrent_trainers_are_timed_on_the_memory_maze():
    pytest.importorskip("sb3_contrib")
    from mazearena.apps.bench.trainers import MEMORY_ID, ppo_ours, recurrent_ppo_sb3

    ours = ppo_ours(9, "cnn", 4, 16, iterations=1, repeats=1, core="lstm", env_id=MEMORY_ID)
    peer = recurrent_ppo_sb3(9, "cnn", 4, 16, iterations=1, repeats=1)
    assert len(ours) == len(peer) == 1 and ours[0] > 0 and peer[0] > 0


def test_bench_solve_times_both_trainers_to_the_target_through_the_same_evaluation(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "algo: ppo\nenv:\n  size: 7\n  num_levels: 20\nppo:\n  num_envs: 8\n  num_steps: 32\n  num_minibatches: 2\n"
    )
    out = tmp_path / "bench"
    argv = ["bench", "solve", "--config", str(config), "--seeds", "1", "--target", "0.01", "--max-steps", "4096"]
    assert main([*argv, "--eval-every", "1024", "--eval-episodes", "16", "--out", str(out)]) == 0
    report = json.loads((out / "solve.json").read_text())
    for trainer in ("mazearena", "sb3"):
        (run,) = report["runs"][trainer]
        assert run["curve"] and run["seconds"] == run["curve"][0][1] > 0  # stopped at the first evaluation >= 1%
        assert run["steps"] == run["curve"][0][0] and run["steps"] % 1024 == 0
    assert report["ratio"] > 0 and report["sb3_hyperparameters"]["update_epochs"] == 10
    text = (out / "solve.md").read_text()
    assert "SB3 PPO, RL Zoo MiniGrid settings" in text and (out / "solve.png").stat().st_size > 0


def test_bench_profile_splits_the_iterations_into_phases_that_add_up(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "algo: ppo\nenv:\n  size: 7\n  num_levels: 20\nppo:\n  num_envs: 8\n  num_steps: 32\n  num_minibatches: 2\n"
        "eval_every: 512\neval_episodes: 16\ncheckpoint_every: 1024\n"
    )
    out = tmp_path / "bench"
    assert main(["bench", "profile", "--config", str(config), "--max-steps", "2048", "--out", str(out)]) == 0
    report = json.loads((out / "profile.json").read_text())
    phases = report["phases"]
    assert report["steps"] == 2048 and report["iterations"] == 8 and report["evaluations"] == 4
    for name in ("env", "forward_rollout", "forward_update", "backward", "optimiser", "evaluation", "checkpoint"):
        assert phases[name] > 0, name  # every phase of a PPO run was timed
    assert 0 <= phases["rest"] < report["iteration_seconds"]  # no phase counted twice
    assert report["calls"]["backward"] == 8 * 4 * 2  # iterations x epochs x minibatches
    assert report["calls"]["evaluation"] == 4
    flops = report["flops_per_sample"]
    assert 0 < flops["forward"] < flops["forward_backward"] and report["flop_floor_seconds"] > 0
    assert "| backward passes |" in (out / "profile.md").read_text()
    assert main(["bench", "profile", "--config", "dqn_maze7", "--out", str(out)]) == 2  # a trainer not timed
