"""W&B as people compare runs in it, read back from the offline run: ``global_step`` is every metric's x-axis,
the config holds only the sections the algorithm uses, the seeds of an experiment share a group, the same
things have the same names across algorithms, and the model artifact is the weights."""

import re
from pathlib import Path

import torch
from wandb_records import config, history, metrics_defined, records, sessions

from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.checkpoint import load_checkpoint
from mazearena.training.config import ArenaEnvConfig

FAST = dict(eval_every=256, eval_episodes=8, video_episodes=0, progress=False, wandb_mode="offline")


def ppo_run(runs: Path, seed: int) -> Path:
    ppo = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2)
    return train(TrainConfig(runs_dir=runs, env=EnvConfig(size=7), ppo=ppo, total_timesteps=512, seed=seed, **FAST))


def run_record(run: Path):
    return next(r.run for r in records(sessions(run)[-1]) if r.WhichOneof("record_type") == "run")


def test_ppo_runs_log_global_step_their_own_sections_one_group_and_weights(tmp_path):
    runs = [ppo_run(tmp_path, seed) for seed in (0, 1)]
    assert [r.name for r in runs] == ["ppo-cnn-7x7-seed0", "ppo-cnn-7x7-seed1"]
    group = run_record(runs[0]).run_group
    assert re.fullmatch(r"ppo-cnn-7x7-[0-9a-f]{6}", group), group  # the experiment: its name and config digest
    for run in runs:
        session = sessions(run)[-1]
        rows = history(session)
        assert rows and all(row["global_step"] == row["_step"] for row in rows)
        assert metrics_defined(session)["*"] == "global_step"
        logged = config(session)
        assert {"env", "ppo"} <= set(logged) and not {"dqn", "mappo", "league", "arena"} & set(logged)
        assert not {"runs_dir", "progress", "resume", "name", "wandb_group", "log_interval"} & set(logged)
        assert run_record(run).run_group == group  # both seeds: one group to compare in
        for name in ("best.pt", "final.pt"):  # the model artifacts: weights, not the training state
            state = load_checkpoint(run / "checkpoints" / name)
            assert "policy" in state and "algo" not in state
        assert (run / "checkpoints" / "final.pt").stat().st_size < (run / "checkpoints" / "last.pt").stat().st_size
    again = ppo_run(tmp_path, 0)  # a rerun with the default name: a new folder, not a refusal
    assert again.name == "ppo-cnn-7x7-seed0-2" and run_record(again).run_group == group
    ppo = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2, learning_rate=1e-3)  # another experiment
    named = train(
        TrainConfig(runs_dir=tmp_path, name="mine", env=EnvConfig(size=7), ppo=ppo, total_timesteps=256, **FAST)
    )
    assert run_record(named).run_group not in (group, "mine")  # named by the user: grouped by its config
    assert run_record(named).display_name == "mine (seed 0)" and run_record(runs[1]).display_name == runs[1].name
    short = [row for row in history(sessions(named)[-1]) if "episode/count" in row]
    assert short and 1 <= short[-1]["episode/count"] < 8  # fewer episodes than a window: logged at the last row


def test_mappo_logs_the_same_keys_as_ppo_and_its_own_sections(tmp_path):
    cfg = TrainConfig(
        algo="mappo",
        runs_dir=tmp_path,
        name="m",
        arena=ArenaEnvConfig(size=9, max_cycles=20),
        mappo=MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
        total_timesteps=512,
        **FAST,
    )
    run = train(cfg)
    session = sessions(run)[-1]
    keys = set().union(*history(session))
    assert "episode/success" in keys and "episode/win_rate" not in keys  # games won: PPO's and DQN's key
    logged = config(session)
    assert {"arena", "mappo", "league"} <= set(logged) and not {"env", "ppo", "dqn"} & set(logged)
    assert torch.is_tensor(next(iter(load_checkpoint(run / "checkpoints" / "final.pt")["policy"].values())))


def test_without_wandb_installed_runs_with_wandb_off_train_and_resume(tmp_path, monkeypatch):
    import sys

    import pytest

    from mazearena.checks import MissingExtra

    monkeypatch.setitem(sys.modules, "wandb", None)  # as on a machine without it: importing it fails
    ppo = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2)
    quiet = {**FAST, "wandb_mode": "disabled"}
    run = train(
        TrainConfig(runs_dir=tmp_path, name="off", env=EnvConfig(size=7), ppo=ppo, total_timesteps=256, **quiet)
    )
    # resumed with the defaults (W&B offline): the run's own mode counts, as the resumed run uses it
    train(TrainConfig(resume=run, total_timesteps=512, progress=False))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["global_step"] == 512
    with pytest.raises(MissingExtra, match="wandb is not installed"):
        train(TrainConfig(runs_dir=tmp_path, name="on", env=EnvConfig(size=7), ppo=ppo, total_timesteps=256, **FAST))
