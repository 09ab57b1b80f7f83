"""Named evaluation suites: where a trained policy is tested, built from the run's own training config. Each
task defines its suites (:mod:`mazearena.training.tasks.maze`, :mod:`~mazearena.training.tasks.arena`); these
are the harness's names for asking it.
"""

from __future__ import annotations

from mazearena.training.config import TrainConfig
from mazearena.training.tasks.arena import ARENA_SUITES
from mazearena.training.tasks.maze import GROW, MAZE_SUITES


def suites_for(cfg: TrainConfig) -> dict[str, str]:
    """The suites a run of this config can be evaluated on, with their descriptions."""
    return cfg.task.suites


def unavailable_suites(cfg: TrainConfig) -> dict[str, str]:
    """The suites this run's observations cannot be tested on, with why."""
    return cfg.task.unavailable_suites(cfg)


def default_suites(cfg: TrainConfig) -> list[str]:
    """The suites a run is evaluated on when none are named: every one that applies to it."""
    return cfg.task.default_suites(cfg)


def check_suites(cfg: TrainConfig, suites) -> None:
    """An error naming unknown suites, or suites this run's observations cannot be tested on."""
    cfg.task.check_suites(cfg, suites)


def suite_env(cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str = "cpu"):
    """A vector env of ``num_envs`` games of ``suite`` for runs of ``cfg``, game i seeded with ``seed + i``."""
    return cfg.task.suite_env(cfg, suite, num_envs, seed, device)


__all__ = ["ARENA_SUITES", "GROW", "MAZE_SUITES", "check_suites", "default_suites", "suite_env", "suites_for"]
