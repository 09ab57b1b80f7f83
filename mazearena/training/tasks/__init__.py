"""The tasks: what differs between kinds of task (a maze, an arena, any Gymnasium env), one object per kind,
chosen once from the config (``cfg.task``). Adding a kind is one new module here and a line in :data:`TASKS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mazearena.training.tasks.arena import ArenaTask
from mazearena.training.tasks.base import Task, TaskKind
from mazearena.training.tasks.gym import GymTask
from mazearena.training.tasks.maze import MazeTask

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig

TASKS: dict[TaskKind, Task] = {task.kind: task for task in (MazeTask(), ArenaTask(), GymTask())}


def task_of(cfg: TrainConfig) -> Task:
    """The task a config trains on: its algorithm's kind where it trains teams on arenas, else a maze for a
    maze id and any other Gymnasium env for the rest."""
    import mazearena
    from mazearena.training.algorithms import algorithm

    if algorithm(cfg.algo).arena:
        return TASKS[TaskKind.ARENA]
    return TASKS[TaskKind.MAZE if cfg.env.env_id in mazearena.MAZE_IDS else TaskKind.GYM]


__all__ = ["TASKS", "Task", "TaskKind", "task_of"]
