"""Training, checkpoints, resume and evaluation on the test device (``pytest --device``; the CPU by default).

Every trainer runs a few iterations there, writes its run folder, and its checkpoint loads back on the CPU;
the run resumes there from its last checkpoint, and the evaluation harness plays the trained policy there.
"""

import json
from pathlib import Path

import pytest
import torch

from mazearena.evaluation.evaluate import EvalConfig, evaluate
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.a2c import A2CConfig
from mazearena.training.algorithms.dqn import DQNConfig
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.checkpoint import load_checkpoint
from mazearena.training.config import ArenaEnvConfig

TINY = dict(
    env=EnvConfig(size=7, num_levels=50),
    ppo=PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    total_timesteps=512,
    checkpoint_every=256,
    eval_every=256,
    eval_episodes=16,
    video_episodes=1,
    wandb_mode="disabled",
    progress=False,
)
SETUPS = {
    "ppo": {},
    "ppo-gru": {"core": "gru", "core_size": 16},
    "dqn": {
        "algo": "dqn",
        "dqn": DQNConfig(num_envs=8, learning_starts=128, batch_size=32, buffer_size=1024, target_update_every=128),
    },
    "a2c": {"algo": "a2c", "a2c": A2CConfig(num_envs=8, num_steps=8)},
    "mappo-lstm": {
        "algo": "mappo",
        "core": "lstm",
        "core_size": 16,
        "arena": ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=20, size=9, num_levels=20),
        "mappo": MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    },
}


@pytest.mark.parametrize("setup", SETUPS)
def test_a_run_trains_checkpoints_resumes_and_evaluates_on_the_device(setup, device, tmp_path):
    if device == "cpu" and setup in ("ppo", "dqn", "a2c"):
        pytest.skip("on the CPU, tests/training/test_train.py trains, resumes and evaluates these")
    given = {**TINY, **SETUPS[setup]}
    unused = {"ppo": (), "dqn": ("ppo",), "a2c": ("ppo",), "mappo": ("env", "ppo")}[given.get("algo", "ppo")]
    config = TrainConfig(
        runs_dir=tmp_path, name=setup, device=device, **{k: v for k, v in given.items() if k not in unused}
    )
    run = train(config)
    report = json.loads((run / "report.json").read_text())
    assert report["summary"]["steps"] == 512 and 0 <= report["summary"]["test_success"] <= 1
    assert (run / "episodes.gif").stat().st_size > 0
    saved = load_checkpoint(run / "checkpoints" / "last.pt")  # a device's checkpoint loads on the CPU
    weights = saved["algo"]["policy"]
    assert all(w.device.type == "cpu" and torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    # extended from its last checkpoint, on the same device
    longer = train(TrainConfig(resume=run, total_timesteps=1024, progress=False))
    rows = [json.loads(line) for line in (longer / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 1024  # whole iterations: 1024 for every trainer here
    out = evaluate(
        EvalConfig(
            runs=(run,),
            suites=("test",),
            perturbations=("none",),
            episodes=8,
            num_envs=8,
            curve_episodes=0,
            maze_episodes=2,
            device=device,
            out=tmp_path / "eval",
            wandb_mode="disabled",
            progress=False,
        )
    )
    assert Path(out, "summary.json").stat().st_size > 0
