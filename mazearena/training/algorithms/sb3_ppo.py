"""Stable-Baselines3's PPO with our backbone (:mod:`mazearena.agents.sb3`): the reference our PPO is measured
against. SB3 builds its own envs and network; its runs are not resumed or loaded by ``eval``."""

from __future__ import annotations

from mazearena.training.algorithms.base import Algorithm


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    from mazearena.agents.sb3 import SB3PPO

    return SB3PPO(
        cfg.ppo,
        cfg.env.env_id,
        cfg.env.make_kwargs(),
        cfg.backbone,
        cfg.seed,
        cfg.device,
        total_iterations,
        backbone_kwargs=cfg.backbone_kwargs,
    )


ALGORITHM = Algorithm(
    name="sb3-ppo",
    section="ppo",
    trainer=_trainer,
    amp=False,
    steps_per_iteration=lambda cfg: cfg.ppo.num_envs * cfg.ppo.num_steps,
    summary="Stable-Baselines3 PPO with our backbone on mazes (the reference)",
)
