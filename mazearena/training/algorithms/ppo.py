"""PPO on mazes (:mod:`mazearena.agents.ppo`): an actor-critic over any backbone."""

from __future__ import annotations

from mazearena.agents.ppo import PPOConfig
from mazearena.training.algorithms.base import Algorithm


def actor_critic(cfg, envs):
    """The actor-critic PPO (and A2C) trains: the run's backbone and core, a policy and a value head."""
    from mazearena.agents.ppo import ActorCritic

    space, n = envs.single_observation_space, envs.single_action_space.n
    return ActorCritic(space, n, cfg.backbone, core=cfg.core, core_size=cfg.core_size).to(cfg.device)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    from mazearena.agents.ppo import PPO

    return PPO(cfg.ppo, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)


ALGORITHM = Algorithm(
    name="ppo",
    section="ppo",
    config=PPOConfig,
    network=actor_critic,
    trainer=_trainer,
    compile=True,
    recurrent=True,
    perturbations=True,
    steps_per_iteration=lambda cfg: cfg.ppo.num_envs * cfg.ppo.num_steps,
    summary="PPO on mazes",
)
