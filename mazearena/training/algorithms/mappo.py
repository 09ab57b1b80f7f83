"""Multi-agent PPO on arenas (:mod:`mazearena.agents.mappo`): a team's shared or separate actors, a centralised
or local critic; against a scenario's NPCs or, with ``league.self_play``, a league of its own snapshots."""

from __future__ import annotations

from mazearena.agents.mappo import MAPPOConfig
from mazearena.training.algorithms.base import Algorithm


def _network(cfg, envs):
    from mazearena.agents.mappo import MultiAgentActorCritic

    m = cfg.mappo
    return MultiAgentActorCritic(
        envs.single_observation_space,
        envs.state_space,
        cfg.task.learners(cfg, envs),
        envs.single_action_space.n,
        cfg.backbone,
        share_params=m.share_params,
        centralized_critic=m.centralized_critic,
        death_masking=m.death_masking,
        core=cfg.core,
        core_size=cfg.core_size,
    ).to(cfg.device)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    from mazearena.agents.mappo import MAPPO

    return MAPPO(cfg.mappo, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)


ALGORITHM = Algorithm(
    name="mappo",
    section="mappo",
    config=MAPPOConfig,
    network=_network,
    trainer=_trainer,
    arena=True,
    compile=True,
    recurrent=True,
    perturbations=True,
    backbones=("cnn", "transformer", "resnet"),
    steps_per_iteration=lambda cfg: cfg.mappo.num_envs * cfg.mappo.num_steps,
    summary="multi-agent PPO (MAPPO / IPPO) on arenas",
)
