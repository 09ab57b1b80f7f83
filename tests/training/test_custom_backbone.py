"""Your own network: ``--backbone mypkg.nets:MyNet`` trains, is saved in the run's config, and ``--resume``,
``watch`` and ``eval`` load it in fresh processes (where the class is importable)."""

import os
import subprocess
import sys
import textwrap

import pytest

from mazearena.agents.backbones import backbone_class
from mazearena.training import TrainConfig

NETS = textwrap.dedent(
    '''
    import numpy as np
    import torch
    from torch import nn


    class TinyNet(nn.Module):
        """A user's backbone: built from the observation space, with features_dim."""

        def __init__(self, observation_space, features_dim: int = 32):
            super().__init__()
            self.features_dim = features_dim
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(observation_space.shape)), features_dim))

        def forward(self, obs):
            return torch.relu(self.net(obs.float()))
    '''
)


def cli(args: list[str], path: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | {"PYTHONPATH": path, "WANDB_SILENT": "true"}
    env["SDL_VIDEODRIVER"] = "dummy"
    return subprocess.run([sys.executable, "-m", "mazearena", *args], capture_output=True, text=True, env=env)


def test_a_custom_backbone_trains_resumes_and_loads_in_fresh_processes(tmp_path):
    pkg = tmp_path / "src" / "mynets"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(NETS)
    src, runs = str(tmp_path / "src"), tmp_path / "runs"
    common = ["--env.size", "7", "--ppo.num-envs", "8", "--ppo.num-steps", "16", "--ppo.num-minibatches", "2"]
    common += ["--eval-every", "0", "--eval-episodes", "8", "--video-episodes", "0", "--no-progress"]
    train = cli(
        ["train", "--backbone", "mynets.nets:TinyNet", *common, "--total-timesteps", "256"] + ["--runs-dir", str(runs)],
        src,
    )
    assert train.returncode == 0, train.stderr
    run = runs / "ppo-TinyNet-7x7-seed0"
    assert "backbone: mynets.nets:TinyNet" in (run / "config.yaml").read_text()
    resumed = cli(["train", "--resume", str(run), "--total-timesteps", "512", "--no-progress"], src)
    assert resumed.returncode == 0, resumed.stderr
    refused = cli(["watch", str(run), "--episodes", "1", "--record", str(tmp_path / "w.gif")], src)
    assert refused.returncode == 2 and "names code to import (backbone mynets.nets:TinyNet)" in refused.stderr
    assert "--trust-code" in refused.stderr and not (tmp_path / "w.gif").exists()  # nothing imported, nothing run
    watch = ["watch", str(run), "--episodes", "1", "--record", str(tmp_path / "w.gif"), "--trust-code"]
    watched = cli(watch, src)
    assert watched.returncode == 0 and (tmp_path / "w.gif").exists(), watched.stderr
    evaluated = cli(
        ["eval", str(run), "--episodes", "8", "--num-envs", "8", "--perturbations", "none", "--trust-code"]
        + ["--curve-episodes", "0", "--maze-episodes", "2", "--no-progress", "--wandb-mode", "disabled"],
        src,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    trusted = ["eval", str(run), "--episodes", "8", "--no-progress", "--wandb-mode", "disabled", "--trust-code"]
    lost = cli(trusted, str(tmp_path))
    assert lost.returncode == 2 and "cannot import 'mynets.nets'" in lost.stderr  # not on the path: named
    for command in (["export", str(run)], ["compare", str(run)], ["eval", str(run)]):
        untrusted = cli(command, src)
        assert untrusted.returncode == 2 and "names code to import" in untrusted.stderr, command


def test_bad_custom_backbones_are_named():
    for name, message in (
        ("nope.nets:Net", "cannot import 'nope.nets'"),
        ("os:path", "has no nn.Module class 'path'"),
        ("mynet", "or your own as 'package.module:Class'"),
    ):
        with pytest.raises(ValueError, match=message):
            TrainConfig(backbone=name)
    assert backbone_class("torch.nn:Identity").__name__ == "Identity"
