"""The tasks: what differs between kinds of task (a maze, an arena, any Gymnasium env), one object per kind,
chosen once from the config (``cfg.task``): the first of :data:`TASKS` that claims it. Adding a kind is one new
module here (a :class:`Task` with its :class:`TaskKind`) and a line in :data:`TASKS`, before any task that would
claim its configs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mazearena.checks import UserError
from mazearena.training.tasks.arena import ArenaTask
from mazearena.training.tasks.base import Task, TaskKind
from mazearena.training.tasks.gym import GymTask
from mazearena.training.tasks.maze import MazeTask
from mazearena.training.tasks.pettingzoo import PettingZooTask

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig

TASKS: dict[str, Task] = {task.kind_name: task for task in (PettingZooTask(), ArenaTask(), MazeTask(), GymTask())}
"""The tasks, in the order they are asked to claim a config (a PettingZoo env's import path first, any other
Gymnasium env last)."""


def task_of(cfg: TrainConfig) -> Task:
    """The task a config trains on: the one its ``kind`` names, or (``auto``) a PettingZoo env named by its import
    path, an arena where its algorithm trains only teams, a maze for a maze id, any other Gymnasium env for the
    rest."""
    if cfg.kind != "auto":
        if cfg.kind not in TASKS:
            raise UserError(f"kind must be auto, {', '.join(TASKS)}; got {cfg.kind!r}")
        return TASKS[cfg.kind]
    for task in TASKS.values():
        if task.claims(cfg):
            return task
    raise ValueError(f"no task claims algo {cfg.algo!r} on env {cfg.env.env_id!r}")


__all__ = ["TASKS", "Task", "TaskKind", "task_of"]
