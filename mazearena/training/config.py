"""The typed config of ``mazearena train``: each field declared once, with the docstring that becomes its
``--help``. Its sections are the env's (:mod:`.sections`), each registered algorithm's (generated from its config
class) and the league's. A YAML file (a shipped example such as ``ppo_maze9``, or a run's saved ``config.yaml``)
holds the same fields (:mod:`.config_io`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from mazearena.agents.backbones import backbone_class, width_kwargs
from mazearena.agents.cores import CORES
from mazearena.agents.league import LeagueConfig
from mazearena.checks import UserError, check_device, check_fields, check_int, check_name, check_real
from mazearena.training.algorithms import ALGORITHMS, algorithm, config_sections
from mazearena.training.algorithms.ppo import check_recurrent
from mazearena.training.checkpoint import atomic_write
from mazearena.training.config_io import CONFIGS_DIR, example_configs, find_config, from_dict, read_config_data
from mazearena.training.curriculum import CURRICULA, PLRConfig
from mazearena.training.sections import ARENA_OPTIONS, MAZE_OPTIONS, ArenaEnvConfig, EnvConfig
from mazearena.training.tasks import Task, task_of
from mazearena.training.tasks.base import STOP_FIELDS

ALGO_NAMES = tuple(ALGORITHMS)


@dataclass
class _TrainFields:
    """Train an agent on a maze, an arena, or any Gymnasium or PettingZoo env; evaluate it on held-out levels;
    write a run folder."""

    algo: Literal[ALGO_NAMES] = "ppo"
    """Training algorithm: our ppo, a2c or dqn, Stable-Baselines3's PPO with our backbone (sb3-ppo, the reference)
    on mazes and Gymnasium envs; mappo (multi-agent PPO) and a2c on arenas and PettingZoo envs."""
    kind: str = "auto"
    """What kind of task to train on: ``maze``, ``arena`` (a team; ``--env arena`` sets it), ``gym`` (any Gymnasium
    env), ``pettingzoo`` (any PettingZoo parallel env), or ``auto``: a PettingZoo env for an ``env_id`` that is an
    import path ``module:function``, an arena for an algorithm that trains only teams (mappo), a maze for a maze
    id, any other Gymnasium env otherwise."""
    backbone: str = "cnn"
    """Policy backbone: cnn, resnet, gcnn, impala, transformer or mlp, or your own as ``package.module:Class`` (an
    ``nn.Module`` built from the observation space, with ``features_dim``; see the architecture docs)."""
    backbone_width: int = 0
    """Width of the backbone (0: its default): the units of both ``mlp`` layers (256), the first convolution's
    channels of ``cnn``, ``resnet`` and ``gcnn`` (16; the later ones twice that), the ``transformer``'s width (32)."""
    core: Literal[CORES] = "none"
    """Recurrent core on top of the backbone: ``gru`` or ``lstm`` (a memory of what left the view), or none."""
    core_size: int = 128
    """Hidden units of the recurrent core."""
    env: EnvConfig = field(default_factory=EnvConfig)
    arena: ArenaEnvConfig = field(default_factory=ArenaEnvConfig)
    league: LeagueConfig = field(default_factory=LeagueConfig)
    curriculum: Literal[CURRICULA] = "dr"
    """Which levels the maze episodes play (algo ppo): ``dr`` (each a level of the training set drawn uniformly),
    ``plr`` (robust prioritised level replay: a buffer of levels scored by how much is left to learn on them,
    replayed by rank and staleness) or ``accel`` (PLR that also edits its high-scoring levels). Settings:
    ``plr.*``."""
    plr: PLRConfig = field(default_factory=PLRConfig)
    total_timesteps: int = 1_000_000
    """Env steps to train for."""
    seed: int = 0
    """Seed of the envs, the network initialisation and the sampling."""
    device: str = "cpu"
    """Device of envs and networks (cpu, cuda)."""
    amp: bool = False
    """Mixed precision (bfloat16 autocast of forward passes) for ppo and dqn; worth it on GPUs."""
    compile: bool = False
    """``torch.compile`` the network's forward passes (ppo, mappo; CUDA graphs on GPUs); costs a compile at start."""
    runs_dir: Path = Path("runs")
    """Where run folders are created."""
    name: str = ""
    """Run folder name (default: algo-backbone-size-seed)."""
    checkpoint_every: int = 100_000
    """Env steps between checkpoints (a kill loses at most this much training)."""
    keep_snapshots: bool = True
    """At every checkpoint also keep the network weights alone (``checkpoints/snapshots/step-N.pt``, small), for
    the sample-efficiency curve of ``mazearena eval``."""
    eval_every: int = 200_000
    """Env steps between evaluations on held-out levels (0 = only at the end)."""
    eval_episodes: int = 256
    """Episodes per evaluation (and per split in the final report)."""
    stop_at_success: float = 0.0
    """End training at the first held-out evaluation (``eval_every``) whose success reaches this, then write the
    report (mazes; 0 = never)."""
    stop_at_win_rate: float = 0.0
    """The same for arenas: end at the first held-out evaluation whose win rate reaches this (0 = never)."""
    stop_on_lower_bound: bool = False
    """Stop on the lower end of the evaluation's 95% Wilson interval rather than on its rate."""
    video_episodes: int = 2
    """Held-out episodes recorded into the final video (0 = none)."""
    video_every: int = 0
    """Env steps between held-out videos during training (``videos/step-N.gif``, logged to W&B as
    ``train/video``; 0 = only the final one)."""
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    """Weights & Biases: offline (synced later with ``wandb sync``), online (needs WANDB_API_KEY) or off."""
    wandb_project: str = "mazearena"
    """W&B project."""
    wandb_group: str = ""
    """W&B group (default: the run name without its seed, so an experiment's seeds form one group; a sweep sets
    its name). ``mazearena eval`` logs into the group of every run it evaluates."""
    wandb_tags: tuple[str, ...] = ()
    """W&B tags."""
    tensorboard: bool = False
    """Also write TensorBoard logs."""
    resume: Path | None = None
    """Continue the run in this folder from its last checkpoint (same config, same W&B run)."""
    init_from: Path | None = None
    """Start from the network weights of this run folder's last checkpoint (or a ``.pt`` file); optimiser,
    schedule and league start afresh (fine-tuning, curricula)."""
    trust_code: bool = False
    """Import the code that other runs this run loads name (the victim of ``adversary_of``, the runs of
    ``league.adversaries``: a backbone, env or wrapper given as ``module:Name``); off, such a run is refused naming
    that code. Never saved with the run: each command decides, as ``eval --trust-code`` does."""
    adversary_of: Path | None = None
    """Train an adversary of this arena run (the victim, frozen): the other team learns by MAPPO to beat it on the
    victim's training arenas (the arena options are the victim's). Its evaluations play the victim on held-out
    arenas; the report gives the victim's win rate against it next to its win rates against the opponents it
    knows. In ctf and combat ``league.team`` may give the adversary the victim's own side (the victim plays the
    other through the mirror), so that ``init_from`` the victim starts the adversary as a copy of it."""
    train_perturbations: tuple[str, ...] = ()
    """Perturbations played during training (ppo, mappo), each ``NAME:SEVERITY[:PROBABILITY]``: at every episode
    start a game plays one of them with its probability (default 0.5; they sum to at most 1) or none. Any of
    ``mazearena eval``'s but npc_sharpness; ``attack_obs:K`` is adversarial training (an adversary reads the
    policy being trained and changes K cells of its views, or hides K entities). E.g. ``attack_obs:1:0.5``,
    ``obs_noise:0.1:0.25``."""
    progress: bool = True
    """Show progress: a bar on a terminal, plain lines otherwise (batch jobs, ``> run.log``)."""
    log_interval: float = 10.0
    """Seconds between progress lines when the output is not a terminal."""

    given: ClassVar[frozenset[str]] = frozenset()
    """Not a field: the options the command line named (``ppo.num_envs``), whatever their values; a given option
    of a section the run does not use is refused, and ``--resume`` applies (or refuses) each of them."""

    def __post_init__(self) -> None:
        check_fields(self, skip=("algo",))  # the registry names a bad algo (algorithms can be added at run time)
        for name in ("runs_dir", "resume", "init_from", "adversary_of"):  # paths as strings (Python callers, YAML)
            if isinstance(getattr(self, name), str):
                setattr(self, name, Path(getattr(self, name)))
        if self.name:
            check_name(self.name, "name")
        check_int("seed", self.seed, 0, 2**62)  # envs seed their games seed + i
        check_device(self.device, available=False)  # whether this machine has it: when training starts
        try:
            backbone_class(self.backbone)  # one of ours, or "package.module:Class" that imports
        except ValueError as e:
            raise UserError(str(e)) from None
        for name in ("total_timesteps", "checkpoint_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        alg, task = algorithm(self.algo), self.task
        if not (alg.teams if task.team else alg.single):
            trains = "teams" if task.team else "single agents"
            able = _listed([n for n, a in ALGORITHMS.items() if (a.teams if task.team else a.single)], "or")
            raise UserError(
                f"algo {self.algo!r} does not train {trains}: {task.kind_name} tasks train with algo {able}"
            )
        fit = task.backbones(alg)
        if fit is not None and self.backbone not in fit and ":" not in self.backbone:
            raise UserError(
                f"backbone {self.backbone!r} does not fit {task.kind_name} observations: use "
                f"{', '.join(fit[:-1])} or {fit[-1]}"
            )
        check_int("core_size", self.core_size, 1, 4096)
        check_int("backbone_width", self.backbone_width, 0, 4096)
        try:
            width_kwargs(self.backbone, self.backbone_width)
        except ValueError as e:
            raise UserError(str(e)) from None
        if self.core != "none" and not alg.recurrent:
            able = _listed([name for name, a in ALGORITHMS.items() if a.recurrent], "or")
            raise UserError(f"a recurrent core (core={self.core!r}) trains with algo {able}, not {self.algo!r}")
        if self.core != "none":
            check_recurrent(getattr(self, alg.section), self.compile, alg.section)
        if self.compile and not alg.compile:
            able = _listed([name for name, a in ALGORITHMS.items() if a.compile], "and")
            raise UserError(f"compile is available with algo {able}, not {self.algo!r}")
        if self.amp and not alg.amp:
            raise UserError(f"amp is not available with algo={self.algo!r}")
        if self.log_interval < 0:
            raise UserError(f"log_interval must be >= 0, got {self.log_interval}")
        for name in ("eval_every", "video_episodes", "video_every"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        self._check_stop(task)
        self._check_curriculum(task)
        self._victim_team = None  # an adversary's victim's team, set by the arena task's checks
        task.check(self)
        if alg.check is not None:
            alg.check(self)
        if self.init_from is not None and not alg.own:
            raise UserError(f"init_from is not available with algo={self.algo!r}")
        self.train_perturbations = tuple(self.train_perturbations)  # a list from YAML: the same value
        if self.train_perturbations:
            from mazearena.training.perturb import parse_train_perturbations

            if not alg.perturbations:
                able = _listed([name for name, a in ALGORITHMS.items() if a.perturbations], "and")
                raise UserError(f"train_perturbations trains with algo {able}, not {self.algo!r}")
            if not task.perturbable:
                raise UserError(
                    f"train_perturbations act on mazearena's mazes and arenas, not on {task.env_name(self)}"
                )
            self.train_perturbations = tuple(str(p) for p in parse_train_perturbations(self.train_perturbations))
        self._check_unused(task)  # after the tasks' and algorithms' own checks: they name what is wrong best

    def _check_curriculum(self, task: Task) -> None:
        if self.curriculum not in CURRICULA:
            raise UserError(f"curriculum must be one of {', '.join(CURRICULA)}, got {self.curriculum!r}")
        if self.curriculum == "dr":
            return
        if self.algo != "ppo" or task.kind != "maze":
            where = task.env_name(self)
            raise UserError(f"curriculum {self.curriculum!r} trains algo 'ppo' on mazes, not {self.algo!r} on {where}")
        if self.train_perturbations:
            raise UserError(f"curriculum {self.curriculum!r} and train_perturbations do not go together")
        if self.env.maze_config().variant.value == "memory":  # set here or by the env id
            raise UserError(f"curriculum {self.curriculum!r} is for mazes without the memory task's cues")

    def _check_unused(self, task: Task) -> None:
        """A section this run does not use must be left as it is: ``--algo mappo --ppo.num-envs 16`` would train
        with MAPPO's own num_envs, the PPO option dropped without a word."""
        used = self.sections
        for name, cls in SECTIONS.items():
            if name in used:
                continue
            given, default = _plain(dataclasses.asdict(getattr(self, name))), _plain(dataclasses.asdict(cls()))
            changed = [k for k in given if given[k] != default.get(k)]
            if changed:
                raise UserError(self.unused_message(f"{name}.{changed[0]}"))

    def unused_message(self, option: str) -> str:
        """Why ``option`` (``ppo.num_envs``) of a section this run does not use is refused."""
        section = option.split(".")[0]
        return (
            f"{option} does not apply to this run (algo {self.algo!r} on {self.task.env_name(self)} uses the "
            f"sections {', '.join(self.sections)}); leave {section}.* out, or choose the algo or env it is for"
        )

    def _check_stop(self, task: Task) -> None:
        for name in STOP_FIELDS:
            check_real(name, getattr(self, name), 0.0, 1.0)
        name = task.stop_field
        for other, kind in STOP_FIELDS.items():
            if other != name and getattr(self, other):
                raise UserError(f"{other} is for {kind}; use {name} with algo={self.algo!r}")
        if getattr(self, name) and not self.eval_every:
            raise UserError(f"{name} stops at a held-out evaluation: set eval_every > 0")
        if getattr(self, name) and not task.has_success:
            raise UserError(f"{name} needs an env with success (a maze); {task.env_name(self)} has returns only")

    @property
    def task(self) -> Task:
        """What kind of task the run trains on (a maze, an arena, any Gymnasium env), asked whatever differs
        between kinds."""
        return task_of(self)

    @classmethod
    def load(cls, path: Path, trust_code: bool = False) -> TrainConfig:
        """The config of a YAML file (:func:`load_config`)."""
        return load_config(path, trust_code)

    @property
    def backbone_kwargs(self) -> dict:
        """What the backbone is built with beyond the observation space (its ``backbone_width``)."""
        return width_kwargs(self.backbone, self.backbone_width)

    @property
    def stop_at(self) -> float:
        """The held-out success (win rate on arenas) that ends training early; 0 = none."""
        return getattr(self, self.task.stop_field)

    @property
    def scenario_team(self) -> int:
        """The learning team of the arena scenario (0 red, 1 blue); an adversary's is the other team."""
        from mazearena.envs.scenarios import scenario

        if self.adversary_of is not None:  # the other team, or (league.team) the victim's side, the victim mirrored
            return ("red", "blue").index(self.league.team) if self.league.team else 1 - self._victim_team
        found = scenario(self.arena.scenario_name)
        config = found.arena_config()
        return config.team_of(found.focal(config)[0])

    @property
    def trained_team(self) -> int:
        """The team the policy learns to play: ``league.team`` in self-play if set, else the scenario's."""
        if self.league.self_play and self.league.team:
            return ("red", "blue").index(self.league.team)
        return self.scenario_team

    @property
    def learners(self) -> int:
        """How many agents the trained team network acts for (arenas)."""
        from mazearena.envs.scenarios import scenario

        found = scenario(self.arena.scenario_name)
        config = found.arena_config()
        if self.adversary_of is not None:
            return (config.red, config.blue)[self.trained_team]
        return len(found.focal(config))

    @property
    def num_envs(self) -> int:
        return getattr(self, algorithm(self.algo).section).num_envs

    @property
    def iteration_steps(self) -> int:
        """Env steps between two log lines (a PPO rollout; for DQN, 64 steps of every env). An arena env step is
        one step of one game."""
        return algorithm(self.algo).steps_per_iteration(self)

    @property
    def model(self) -> str:
        """The network in names: the backbone (a class of your own by its class name) and the core, if any
        (``cnn``, ``cnn-gru``, ``MyNet``)."""
        backbone = self.backbone.rpartition(":")[2]
        return backbone if self.core == "none" else f"{backbone}-{self.core}"

    @property
    def run_name(self) -> str:
        return self.name or self.task.run_name(self)

    @property
    def experiment(self) -> str:
        """The W&B group: ``wandb_group``, by default the experiment, whatever the run is named: the default
        name without its seed and a digest of :meth:`experiment_dict` without the seed (``ppo-cnn-9x9-3fa2c1``), so
        that the seeds of one config share a group and two configs never do."""
        if self.wandb_group:
            return self.wandb_group
        defining = {k: v for k, v in self.experiment_dict().items() if k not in EXTENSIBLE}
        digest = hashlib.sha1(json.dumps(defining, sort_keys=True, default=str).encode()).hexdigest()[:6]
        name = re.sub(r"-seed\d+$", "", self.task.run_name(self))
        return f"{name}-{digest}"

    def experiment_dict(self) -> dict[str, Any]:
        """What defines the experiment (what W&B records as the run's config): :meth:`used_dict` without where
        and how the run is kept, shown and logged (``runs_dir``, ``name``, ``progress``, ``resume``, the W&B
        and checkpoint settings), which change no result."""
        return {k: v for k, v in self.used_dict().items() if k not in BOOKKEEPING}

    @property
    def sections(self) -> tuple[str, ...]:
        """The config sections its runs use: the env's (maze or arena), the algorithm's, the league on arenas, the
        level buffer with a curriculum."""
        return self.task.config_sections(algorithm(self.algo)) + (("plr",) if self.curriculum != "dr" else ())

    def to_dict(self) -> dict[str, Any]:
        """The fields as YAML holds them (``trust_code`` left out: each command decides it)."""
        return {k: v for k, v in _plain(dataclasses.asdict(self)).items() if k != "trust_code"}

    def flat_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with dotted keys for the sections' fields (``ppo.num_envs``)."""
        return {
            f"{k}.{name}" if isinstance(v, dict) else k: value
            for k, v in self.to_dict().items()
            for name, value in (v.items() if isinstance(v, dict) else [(None, v)])
        }

    def used_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the sections its algorithm does not use (what W&B records: a PPO run has no
        ``dqn.*``, ``mappo.*``, ``league.*`` or ``arena.*``)."""
        used = self.sections
        return {k: v for k, v in self.to_dict().items() if k not in SECTIONS or k in used}


def _listed(names: list[str], word: str) -> str:
    """``'a', 'b' or 'c'``: quoted names joined by commas and ``word``."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {word} {quoted[-1]}"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


BOOKKEEPING = (
    "runs_dir",
    "name",
    "progress",
    "log_interval",
    "resume",
    "wandb_mode",
    "wandb_project",
    "wandb_group",
    "wandb_tags",
    "tensorboard",
    "checkpoint_every",
    "keep_snapshots",
    "video_episodes",
    "video_every",
)
"""Fields that change where and how a run is kept, shown and logged, never what it learns."""

RESUME_OPTIONS = (
    "total_timesteps",
    "stop_at_success",
    "stop_at_win_rate",
    "stop_on_lower_bound",
    "checkpoint_every",
    "eval_every",
    "eval_episodes",
    "video_episodes",
    "video_every",
    "keep_snapshots",
    "wandb_mode",
    "tensorboard",
    "log_interval",
)
"""What ``--resume`` applies from the command line (the rest of a run's config is fixed: a given option that
would change it is refused)."""

EXTENSIBLE = ("seed", *RESUME_OPTIONS)
"""Left out of the group's digest: the seed, and what ``--resume`` may change (a run extended stays in its group)."""

ALGORITHM_SECTIONS = config_sections()
"""The algorithms' sections (``ppo``, ``dqn``, ``mappo``, ...), each a field of :class:`TrainConfig` of its
registered config class: registering an algorithm with a ``config`` adds its section."""

TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [(name, cls, field(default_factory=cls)) for name, cls in ALGORITHM_SECTIONS.items()],
    bases=(_TrainFields,),
)
TrainConfig.__module__, TrainConfig.__qualname__ = __name__, "TrainConfig"
TrainConfig.__doc__ = _TrainFields.__doc__  # not make_dataclass's signature: --help shows it

SECTIONS = {"env": EnvConfig, "arena": ArenaEnvConfig, **ALGORITHM_SECTIONS, "league": LeagueConfig, "plr": PLRConfig}
"""The sections of a :class:`TrainConfig` (each a mapping of its own fields in YAML)."""


def load_config(path: Path, trust_code: bool = False) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML file; a missing, unreadable, empty or malformed file or a bad field is
    a :class:`~mazearena.checks.UserError` naming the file. ``trust_code``: the command's (a file's own
    ``trust_code`` is refused: each command decides)."""
    path = Path(path)
    data = read_config_data(path)
    if isinstance(data, dict):
        if "trust_code" in data:
            raise UserError(f"{path}: trust_code is not read from a file; give --trust-code on the command line")
        data["trust_code"] = trust_code
    try:
        return from_dict(TrainConfig, data)
    except (ValueError, TypeError) as e:  # the file's values, checked by the configs
        raise UserError(f"{path}: {e}") from None


def save_config(config: TrainConfig, path: Path) -> None:
    """Write ``config`` as YAML, atomically (a kill never leaves half a file)."""
    atomic_write(path, lambda f: f.write(yaml.safe_dump(config.to_dict(), sort_keys=False)))


__all__ = [
    "ARENA_OPTIONS",
    "CONFIGS_DIR",
    "MAZE_OPTIONS",
    "SECTIONS",
    "ArenaEnvConfig",
    "EnvConfig",
    "TrainConfig",
    "example_configs",
    "find_config",
    "from_dict",
    "load_config",
    "read_config_data",
    "save_config",
]
