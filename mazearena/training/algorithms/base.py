"""What the training loop, run folders, reports and evaluation need to know of an algorithm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig


class Trainer(Protocol):
    """A trainer as the loop drives it: env steps so far, one iteration at a time, exact state for resume."""

    global_step: int

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass(frozen=True)
class Algorithm:
    """One training algorithm: how to build its network and trainer, what it trains on, what it supports."""

    name: str
    """The value of ``--algo``."""
    section: str
    """The :class:`~mazearena.training.config.TrainConfig` section with its hyperparameters (``num_envs`` too)."""
    trainer: Callable[[TrainConfig, Any, torch.nn.Module | None, torch.device, int, int], Trainer]
    """``(cfg, envs, policy, device, total_iterations, total_steps)`` -> the trainer (``envs`` and ``policy`` are
    ``None`` where the trainer brings its own, see :attr:`network`)."""
    steps_per_iteration: Callable[[TrainConfig], int]
    """Env steps of one iteration (one log line); an arena env step is one step of one game."""
    config: type | None = None
    """The dataclass of its config section (``None``: it shares the section of an algorithm that declares one).
    :class:`~mazearena.training.config.TrainConfig` gets a field of this type named :attr:`section`: its
    ``--help`` and YAML follow from the class."""
    network: Callable[[TrainConfig, Any], torch.nn.Module] | None = None
    """``(cfg, envs)`` -> the network it trains; ``None``: the trainer builds its own (read as ``trainer.policy``),
    and such runs are neither resumed nor loaded by ``eval``/``watch``."""
    iterate: Callable[[Any, TrainConfig], dict] = lambda trainer, cfg: trainer.iteration()
    """One iteration of the trainer; returns the metrics to log."""
    single: bool = True
    """Trains one agent (mazes, Gymnasium envs)."""
    teams: bool = False
    """Trains a team of agents (arenas with their scenarios, NPCs and self-play leagues; PettingZoo envs). An
    algorithm that trains both builds its network and trainer by the task's ``team``."""
    amp: bool = True
    """Supports ``--amp`` (bfloat16 forward passes)."""
    compile: bool = False
    """Supports ``--compile`` (``torch.compile`` of the forward passes)."""
    backbones: tuple[str, ...] | None = None
    """The backbones that fit its observations (``None``: all)."""
    actor: Callable[[TrainConfig, torch.nn.Module, bool, int], Any] | None = None
    """``(cfg, network, deterministic, team)`` -> how the trained network acts, an
    :class:`~mazearena.actor.Actor` (``team``: the arena team it plays). Default: the network's own
    ``act``, through the team mirror on arenas."""
    recurrent: bool = False
    """Trains networks with a recurrent core (``--core gru`` or ``lstm``)."""
    perturbations: bool = False
    """Trains under ``--train-perturbations`` (its trainer steps the envs it is given, whatever wraps them, and
    saves their ``state_dict``)."""
    greedy: bool = False
    """Its network acts greedily whatever the mode (argmax of Q-values): evaluation plays it once per condition
    and labels its rows ``greedy``, never ``stochastic`` or ``deterministic``."""
    check: Callable[[TrainConfig], None] | None = None
    """The checks of a config that only make sense for this algorithm (a ``UserError`` naming the field), run
    after the task's."""
    summary: str = ""
    """One line for ``--help``."""

    @property
    def own(self) -> bool:
        """Whether mazearena builds its network: its runs resume, keep snapshots and load in ``eval``/``watch``."""
        return self.network is not None
