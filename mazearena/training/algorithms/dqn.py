"""Double DQN on mazes (:mod:`mazearena.agents.dqn`); one iteration is 64 steps of every env."""

from __future__ import annotations

from mazearena.agents.dqn import DQNConfig
from mazearena.training.algorithms.base import Algorithm

STEPS_PER_ENV = 64


def _network(cfg, envs):
    from mazearena.agents.dqn import QNetwork

    return QNetwork(envs.single_observation_space, envs.single_action_space.n, cfg.backbone).to(cfg.device)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    from mazearena.agents.dqn import DQN

    return DQN(cfg.dqn, envs, policy, device, total_steps, seed=cfg.seed, amp=cfg.amp)


ALGORITHM = Algorithm(
    name="dqn",
    section="dqn",
    config=DQNConfig,
    network=_network,
    trainer=_trainer,
    steps_per_iteration=lambda cfg: cfg.dqn.num_envs * STEPS_PER_ENV,
    iterate=lambda trainer, cfg: trainer.iteration(cfg.iteration_steps),
    greedy=True,
    summary="double DQN on mazes",
)
