"""The algorithm registry. An algorithm is one module here (an :class:`Algorithm`: how to build its network and
trainer, what it trains on, what it supports); adding one is a new module and a line in :data:`ALGORITHMS`."""

from __future__ import annotations

from mazearena.training.algorithms import a2c, dqn, mappo, ppo, sb3_ppo
from mazearena.training.algorithms.base import Algorithm, Trainer

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a for a in (ppo.ALGORITHM, dqn.ALGORITHM, sb3_ppo.ALGORITHM, mappo.ALGORITHM, a2c.ALGORITHM)
}


def algorithm(name: str) -> Algorithm:
    """The registered algorithm ``name``, or an error naming the registered ones."""
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {', '.join(ALGORITHMS)}, got {name!r}")
    return ALGORITHMS[name]


def config_sections() -> dict[str, type]:
    """The config section of every registered algorithm that declares one: section name -> its dataclass."""
    return {a.section: a.config for a in ALGORITHMS.values() if a.config is not None}


def team_algorithms() -> tuple[str, ...]:
    """Names of the algorithms that train teams (arenas, PettingZoo envs); the first is ``--env arena``'s
    default."""
    return tuple(name for name, a in ALGORITHMS.items() if a.teams)


__all__ = ["ALGORITHMS", "Algorithm", "Trainer", "algorithm", "config_sections", "team_algorithms"]
