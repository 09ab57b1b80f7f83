"""What a task is: everything that differs between a mazearena maze, an arena and any Gymnasium env, asked of one
object chosen once from the config (:func:`mazearena.training.tasks.task_of`).

Training, evaluation, reports, export and watch ask the task and never test which kind it is. A task holds no
state of its own: it reads the run's config (a :class:`~mazearena.training.config.TrainConfig`) it is handed.
The task modules import nothing that reads config files (the config imports them), so a task that needs another
run's config reads it with ``type(cfg).load``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mazearena.checks import UserError

if TYPE_CHECKING:
    from mazearena.actor import Actor
    from mazearena.training.algorithms import Algorithm
    from mazearena.training.config import TrainConfig


class TaskKind(str, Enum):
    """The kinds of task: a mazearena maze, a team arena, any Gymnasium env, any PettingZoo parallel env."""

    MAZE = "maze"
    ARENA = "arena"
    GYM = "gym"
    PETTINGZOO = "pettingzoo"


STOP_FIELDS = {"stop_at_success": "mazes", "stop_at_win_rate": "arenas"}
"""The early-stopping fields, each with the tasks it is for."""


def mlp_for_vectors(cfg: TrainConfig, observation_space) -> None:
    """The default backbone (``cnn``, for planes and pixels) becomes an MLP where the observations are vectors."""
    if cfg.backbone == "cnn" and len(observation_space.shape) == 1:
        cfg.backbone = "mlp"


class Task(ABC):
    """The questions whose answers differ between kinds of task."""

    kind: TaskKind | str
    """Its kind: a :class:`TaskKind` for mazearena's own, any string for one added from outside."""
    section: str
    """The :class:`TrainConfig` section that configures the env (``env`` or ``arena``)."""
    extra_sections: tuple[str, ...] = ()
    """Other sections its runs use besides the env's and the algorithm's (``league`` on arenas)."""
    unit: str = "episodes"
    """What one evaluation sample is called (episodes, games)."""
    levels: str = "levels"
    """What its training and held-out splits are made of (levels, arenas; seeds for envs without levels)."""
    metric: str = "success"
    """The name of its success signal (success, win rate)."""
    has_success: bool = True
    """Whether an episode has a success signal (a maze's goal, a game won); else only returns."""
    stop_field: str = "stop_at_success"
    """The :class:`TrainConfig` field that ends training at a held-out success."""
    perturbable: bool = False
    """Whether mazearena's perturbations and attacks apply (they act on its engines: mazes and arenas)."""
    suites: dict[str, str] = {}
    """The named evaluation suites, with their descriptions."""
    team: bool = False
    """Whether a team of agents learns (one network acting for several columns): it trains with an algorithm
    that trains teams (:attr:`~mazearena.training.algorithms.Algorithm.teams`)."""
    cross_play: bool = False
    """Whether runs of it can play each other (two teams in one game): ``mazearena eval`` of several runs adds a
    cross-play table."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def kind_name(self) -> str:
        """The kind as a word (``maze``, ``arena``, ...)."""
        return getattr(self.kind, "value", self.kind)

    @abstractmethod
    def claims(self, cfg: TrainConfig) -> bool:
        """Whether ``cfg`` trains on this kind of task (the first task of the registry that claims it is its)."""

    # ---------------------------------------------------------------- the config
    def config_sections(self, alg: Algorithm) -> tuple[str, ...]:
        """The config sections its runs of algorithm ``alg`` use: the env's, the algorithm's, the others."""
        return (self.section, alg.section, *self.extra_sections)

    def backbones(self, alg: Algorithm) -> tuple[str, ...] | None:
        """The backbones that fit its observations with algorithm ``alg`` (``None``: any)."""
        return alg.backbones

    def learners(self, cfg: TrainConfig, envs) -> int:
        """How many agents a team network acts for (team tasks): the learning agents of ``envs``."""
        return len(envs.possible_agents)

    def model_sections(self, alg: Algorithm) -> tuple[str, ...]:
        """Sections a checkpoint must match beyond the env section (its network and what it sees)."""
        return ()

    def check(self, cfg: TrainConfig) -> None:
        """The checks of ``cfg`` that only make sense for this kind (a :class:`UserError` naming the field). By
        default: no self-play league and no adversary, which only arenas have."""
        if cfg.league.self_play:
            raise UserError(f"league.self_play plays mazearena's arenas (--env arena), not {self.env_name(cfg)}")
        if cfg.adversary_of is not None:
            raise UserError(
                f"adversary_of trains the other team of an arena run with algo 'mappo', not {cfg.algo!r} on "
                f"{self.env_name(cfg)}"
            )

    @abstractmethod
    def env_name(self, cfg: TrainConfig) -> str:
        """The env in words (an env id, a scenario)."""

    @abstractmethod
    def run_name(self, cfg: TrainConfig) -> str:
        """The default run folder name, without ``cfg.name``."""

    @abstractmethod
    def key(self, cfg: TrainConfig) -> str:
        """What two runs must share to be compared: the env trained on and tested against (every option, both
        splits)."""

    # ---------------------------------------------------------------- envs and actors
    @abstractmethod
    def make_envs(self, cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        """A vector env over the training split, or (``test``) the held-out one, game i seeded ``seed + i``."""

    def check_memory(self, cfg: TrainConfig) -> None:  # noqa: B027 (a hook: envs from outside are not estimated)
        """Refuse, before a run folder is made, training envs that would not fit in the device's free memory (the
        engines' estimate; envs from outside are not estimated)."""

    def training_envs(self, cfg: TrainConfig, envs, policy: torch.nn.Module):
        """The training envs as the trainer steps them (arenas: against the self-play league)."""
        return envs

    @abstractmethod
    def actor(self, cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None):
        """How a run's network acts, an :class:`~mazearena.actor.Actor` (``team``: the arena team it
        plays, by default the scenario's learning team)."""

    def learner(self, cfg: TrainConfig, policy: torch.nn.Module) -> Actor:
        """The actor of the network as it learns (what an adversary of training reads)."""
        return self.actor(cfg, policy)

    @abstractmethod
    def play(self, cfg: TrainConfig, envs, actor: Actor, episodes: int, advance=None) -> dict:
        """Every episode's record (``return``, ``length``, ``success``, ...) of ``actor`` on ``envs``."""

    def summarise(self, cfg: TrainConfig, envs, actor: Actor, episodes: int, advance=None) -> dict:
        """Success, return and length over ``episodes`` episodes, with intervals."""
        from mazearena.agents.episodes import summarise_episodes

        return summarise_episodes(self.play(cfg, envs, actor, episodes, advance))

    def annotate(self, row: dict, envs) -> dict:
        """An evaluation's episode row with the columns of this kind (arenas: per-capita return)."""
        return row

    # ---------------------------------------------------------------- evaluation suites
    def scripted_team(self, cfg: TrainConfig) -> dict | None:
        """The scripted team (``NpcSpec`` by seat) evaluated beside this run as the ``scripted`` baseline, if any."""
        return None

    def unavailable_suites(self, cfg: TrainConfig) -> dict[str, str]:
        """The suites this run's observations cannot be tested on, with why."""
        return {}

    def default_suites(self, cfg: TrainConfig) -> list[str]:
        """The suites a run is evaluated on when none are named: every one that applies to it."""
        return [s for s in self.suites if s not in self.unavailable_suites(cfg)]

    def check_suites(self, cfg: TrainConfig, suites) -> None:
        """An error naming unknown suites, or suites this run's observations cannot be tested on."""
        unknown = [s for s in suites if s not in self.suites]
        if unknown:
            raise UserError(
                f"unknown suite(s) {unknown} for {self.kind_name} runs; valid suites: {', '.join(self.suites)}"
            )
        for suite, why in self.unavailable_suites(cfg).items():
            if suite in suites:
                raise UserError(f"suite {suite!r} {why}")

    def suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str = "cpu"):
        """A vector env of ``num_envs`` games of ``suite``, game i seeded with ``seed + i``."""
        self.check_suites(cfg, [suite])
        return self._suite_env(cfg, suite, num_envs, seed, device)

    @abstractmethod
    def _suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str):
        """:meth:`suite_env` of a suite known to apply."""

    # ---------------------------------------------------------------- videos, reports, export
    @abstractmethod
    def record(self, cfg: TrainConfig, policy: torch.nn.Module, path: Path) -> Path:
        """A GIF of ``cfg.video_episodes`` held-out episodes of the trained policy; the policy samples from an
        RNG of its own, so a video during training does not shift the training's random stream."""

    @abstractmethod
    def describe(self, cfg: TrainConfig, step: int) -> str:
        """What the run trained on and is tested against, a paragraph of its report."""

    def curve(self) -> dict[str, Any]:
        """The learning curve's keyword arguments (:func:`~mazearena.training.report.plot_curve`)."""
        return {"arena": False, "returns": not self.has_success}

    @abstractmethod
    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        """What an exported policy's ``spec.json`` says of the env it plays (``env``, whose ``kind`` is this task's
        :attr:`kind_name`) and of its observations (``observation``: a ``summary`` sentence and the ``actions``'
        names, for the model card, and whatever else describes them)."""

    @abstractmethod
    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        """A vector env of the held-out games an export's ``spec.json`` describes (``env_spec``: its ``env``),
        for a policy read back from the export alone."""

    def play_exported(self, env_spec: dict[str, Any], actor, episodes: int, num_envs: int, seed: int) -> dict:
        """Success (win rate on arenas), return and length of ``actor`` on :meth:`exported_envs`."""
        from mazearena.agents.episodes import run_episodes

        return run_episodes(self.exported_envs(env_spec, num_envs, seed), actor, episodes)
