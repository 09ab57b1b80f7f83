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

from mazearena.checks import require

require("stable_baselines3")
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor  # noqa: E402

from mazearena.agents.backbones import make_backbone  # noqa: E402


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


def quiet_logger(model) -> None:
    """Give an SB3 model a logger that writes nothing. Left to itself, SB3 makes an empty
    ``SB3-<time>`` folder in the temp directory on every ``learn()`` call (one per iteration of our trainer);
    the run folder already holds everything worth logging."""
    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(None, []))


class SB3PPO:
    """Stable-Baselines3 PPO behind the trainer's interface (``iteration()``, ``global_step``, ``policy.act``),
    with our backbone and our :class:`~mazearena.training.algorithms.ppo.PPOConfig`: ``mazearena train --algo sb3-ppo``.
    One iteration is one SB3 rollout and update. Checkpoints hold the weights; runs do not resume."""

    def __init__(
        self,
        cfg,
        env_id: str,
        env_kwargs: dict,
        backbone: str,
        seed: int,
        device: str,
        total_iterations: int,
        backbone_kwargs: dict | None = None,
    ) -> None:
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import DummyVecEnv

        self.cfg, self.total_iterations = cfg, total_iterations
        self.iteration_index, self.global_step = 0, 0
        env = make_vec_env(
            env_id,
            n_envs=cfg.num_envs,
            seed=seed,
            env_kwargs=env_kwargs,
            vec_env_cls=DummyVecEnv,
            monitor_kwargs={"info_keywords": ("is_success",)},
        )

        def learning_rate(_progress: float) -> float:  # annealed by our own counter, as in our PPO
            frac = 1.0 - self.iteration_index / max(self.total_iterations, 1) if cfg.anneal_lr else 1.0
            return frac * cfg.learning_rate

        self.model = PPO(
            "MlpPolicy",
            env,
            n_steps=cfg.num_steps,
            batch_size=cfg.num_envs * cfg.num_steps // cfg.num_minibatches,
            n_epochs=cfg.update_epochs,
            learning_rate=learning_rate,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
            clip_range=cfg.clip_coef,
            ent_coef=cfg.ent_coef,
            vf_coef=cfg.vf_coef,
            max_grad_norm=cfg.max_grad_norm,
            normalize_advantage=cfg.norm_adv,
            target_kl=cfg.target_kl or None,
            policy_kwargs=policy_kwargs(backbone, **(backbone_kwargs or {})),
            seed=seed,
            device=device,
            verbose=0,
        )
        quiet_logger(self.model)
        self.policy = _SB3Policy(self.model.policy)
        self._episodes: list[dict] = []
        episodes = self._episodes

        class Collect(BaseCallback):
            def _on_step(self) -> bool:
                episodes.extend(
                    info["episode"] | {"s": info.get("is_success")}
                    for info in self.locals["infos"]
                    if "episode" in info
                )
                return True

        self._callback = Collect()

    def iteration(self) -> dict[str, float]:
        import numpy as np

        self._episodes.clear()
        steps = self.cfg.num_envs * self.cfg.num_steps
        self.model.learn(steps, reset_num_timesteps=self.iteration_index == 0, callback=self._callback)
        self.iteration_index += 1
        self.global_step = int(self.model.num_timesteps)
        logged = self.model.logger.name_to_value
        names = {
            "train/policy_gradient_loss": "loss/policy",
            "train/value_loss": "loss/value",
            "train/entropy_loss": "loss/entropy",
            "train/approx_kl": "loss/approx_kl",
            "train/clip_fraction": "loss/clipfrac",
            "train/explained_variance": "loss/explained_variance",
        }
        metrics = {ours: float(logged[theirs]) for theirs, ours in names.items() if theirs in logged}
        if self._episodes:
            metrics["episode/return"] = float(np.mean([e["r"] for e in self._episodes]))
            metrics["episode/length"] = float(np.mean([e["l"] for e in self._episodes]))
            metrics["episode/count"] = float(len(self._episodes))
            successes = [float(e["s"]) for e in self._episodes if e["s"] is not None]
            if successes:
                metrics["episode/success"] = float(np.mean(successes))
        return metrics

    def state_dict(self) -> dict:
        return {
            "policy": self.model.policy.state_dict(),
            "global_step": self.global_step,
            "iteration": self.iteration_index,
        }


class _SB3Policy:
    """An SB3 policy seen as ours: the networks' acting interface (``logits(obs, state, alive)``, see
    :mod:`~mazearena.agents.policies`) on torch observations, ``eval()``/``train()``."""

    def __init__(self, policy) -> None:
        self.inner = policy

    @torch.no_grad()
    def logits(self, obs, state=None, alive=None) -> tuple[torch.Tensor, None]:
        obs = torch.as_tensor(obs, device=self.inner.device)
        return self.inner.get_distribution(obs).distribution.logits, None

    def eval(self):
        self.inner.set_training_mode(False)
        return self

    def train(self):
        self.inner.set_training_mode(True)
        return self

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)


def arena_vec_env(num_envs: int, scenario: str, seed: int = 0, **arena_kwargs):
    """The PettingZoo → SuperSuit → SB3 recipe for parameter sharing: ``num_envs`` copies of an arena
    ``parallel_env`` whose learning agents become the rows of one SB3 ``VecEnv`` (``num_envs × agents``
    rows). Agents that leave the game are kept as zero-observation, zero-reward rows
    (``supersuit.black_death_v3``), as the recipe needs a fixed agent count.

        env = arena_vec_env(8, "tag_2v1_vs_fleeing_npc")
        PPO("MlpPolicy", env, policy_kwargs=policy_kwargs("cnn")).learn(100_000)

    Needs ``supersuit`` (``pip install mazearena[sb3]``).
    """
    import supersuit as ss

    from mazearena.envs import arena_v0

    env = arena_v0.parallel_env(scenario=scenario, **arena_kwargs)
    env = ss.black_death_v3(env)
    env = ss.pettingzoo_env_to_vec_env_v1(env)
    env = ss.concat_vec_envs_v1(env, num_envs, num_cpus=0, base_class="stable_baselines3")
    # SuperSuit's concatenated env has no seed(); SB3 calls it when given a seed, so seed here, on reset.
    env.seed = lambda seed=None: [env.venv.reset(seed=seed)]
    env.reset(seed=seed)
    return env
