"""The add-a-backbone recipe of ``docs/architecture.md``, tried with a throw-away backbone: a module with
``features_dim`` and ``forward(obs) -> [batch, features_dim]``, built from the observation space, and one line in
``BACKBONES``. The algorithms build their heads on it, train, checkpoint and load it with no other change."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from torch import nn

from mazearena.agents.backbones import BACKBONES, make_backbone


class MeanPool(nn.Module):
    """Each plane's mean over the view, then a linear layer: a deliberately tiny backbone."""

    def __init__(self, space: gym.spaces.Box, features_dim: int = 32) -> None:
        super().__init__()
        self.features_dim = features_dim
        self.linear = nn.Linear(space.shape[0], features_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(obs.float().mean((-2, -1))))


@pytest.fixture
def meanpool(monkeypatch):
    monkeypatch.setitem(BACKBONES, "meanpool", MeanPool)  # the one registry line


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_an_added_backbone_trains_and_loads_with_every_maze_algorithm(tmp_path, meanpool, algo):
    from mazearena.training.config import EnvConfig, TrainConfig
    from mazearena.training.loop import train
    from mazearena.training.runs import load_trained

    run = train(
        TrainConfig(
            algo=algo,
            backbone="meanpool",
            runs_dir=tmp_path,
            name=algo,
            env=EnvConfig(size=7),
            total_timesteps=2048,
            checkpoint_every=1024,
            eval_every=1024,
            eval_episodes=8,
            video_episodes=0,
            wandb_mode="disabled",
            progress=False,
        )
    )
    cfg, _, policy, step = load_trained(run)
    assert cfg.backbone == "meanpool" and step >= 2048
    assert isinstance(policy.backbone, MeanPool)
    report = (run / "report.md").read_text()
    assert f"{algo} + meanpool" in report


def test_the_backbone_contract_is_checked_by_name(meanpool):
    space = gym.spaces.Box(0, 1, (8, 7, 7), dtype="uint8")
    assert make_backbone("meanpool", space)(torch.zeros(5, 8, 7, 7, dtype=torch.uint8)).shape == (5, 32)
    listed = "backbone must be one of cnn, resnet, gcnn, impala, transformer, mlp, meanpool"
    with pytest.raises(ValueError, match=listed):
        make_backbone("nope", space)
