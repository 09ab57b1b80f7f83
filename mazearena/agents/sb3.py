"""Stable-Baselines3 bridge: our backbones as SB3 feature extractors, so ``stable_baselines3.PPO`` and
``DQN`` train on mazearena envs with the same networks as our own algorithms (and serve as the reference
for learning speed).

    from stable_baselines3 import PPO
    from mazearena.agents.sb3 import policy_kwargs
    model = PPO("MlpPolicy", env, policy_kwargs=policy_kwargs("cnn"))

Observations reach the backbone as SB3 hands them over (float tensors); the backbones scale plane
observations themselves, so SB3's image normalisation is switched off.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from mazearena.agents.backbones import make_backbone


class BackboneExtractor(BaseFeaturesExtractor):
    """An SB3 features extractor around :func:`make_backbone`."""

    def __init__(self, observation_space: gym.Space, backbone: str = "cnn", **backbone_kwargs) -> None:
        net = make_backbone(backbone, observation_space, **backbone_kwargs)
        super().__init__(observation_space, net.features_dim)
        self.net = net

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


def policy_kwargs(backbone: str = "cnn", **backbone_kwargs) -> dict:
    """``policy_kwargs`` for an SB3 algorithm: our backbone, linear heads on its features (as ours)."""
    return {
        "features_extractor_class": BackboneExtractor,
        "features_extractor_kwargs": {"backbone": backbone, **backbone_kwargs},
        "net_arch": [],
        "normalize_images": False,
    }
