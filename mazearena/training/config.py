"""Typed configs of ``mazearena train``: each field declared once, with the docstring that becomes its
``--help``. A YAML file (a shipped example such as ``ppo_maze9``, or a run's saved ``config.yaml``) holds the same
fields."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import docstring_parser
import tyro
import yaml

import mazearena
from mazearena.agents.backbones import backbone_class
from mazearena.agents.cores import CORES
from mazearena.agents.league import LeagueConfig
from mazearena.agents.ppo import check_recurrent
from mazearena.checks import UserError, check_device, check_fields, check_int, check_name, check_real
from mazearena.envs.engine.arena import ArenaConfig
from mazearena.envs.engine.layouts import MAX_LEVEL_ID, level_range
from mazearena.envs.engine.maze import MazeConfig
from mazearena.training.algorithms import ALGORITHMS, algorithm, config_sections
from mazearena.training.checkpoint import atomic_write
from mazearena.training.tasks import Task, task_of
from mazearena.training.tasks.arena import DEFAULT_SCENARIOS
from mazearena.training.tasks.base import STOP_FIELDS
from mazearena.training.tasks.gym import check_env_id


def options_of(
    config_cls: type,
    *,
    exclude: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
    unset: dict[str, str] | None = None,
) -> list[tuple[str, Any, Any]]:
    """The fields of an env's config (:class:`MazeConfig`, :class:`ArenaConfig`) as fields of a training section,
    for :func:`dataclasses.make_dataclass`: each option is declared once, in the env's config, whose type,
    default and docstring (which becomes its ``--help``) the section takes. Choices (enums) become ``Literal``
    strings, as YAML and the command line hand them in. ``defaults`` gives the training defaults that differ;
    an option in ``unset`` defaults to ``None``, which leaves it to the env id (its value says what that is)."""
    defaults, unset = defaults or {}, unset or {}
    docs: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__[:-1]):  # a subclass's docstring wins
        docs |= {p.arg_name: p.description for p in docstring_parser.parse_from_object(cls).params if p.description}
    hints = typing.get_type_hints(config_cls)
    options = []
    for f in dataclasses.fields(config_cls):
        if f.name in exclude:
            continue
        kind = hints[f.name]
        if isinstance(kind, type) and issubclass(kind, Enum):
            kind = Literal[tuple(m.value for m in kind)]
        default = defaults.get(f.name, f.default)
        help = " ".join(docs.get(f.name, "").split())
        if f.name in unset:
            kind, default, help = kind | None, None, f"{help} Unset (None): {unset[f.name]}."
        if isinstance(default, Enum):
            default = default.value
        options.append((f.name, Annotated[kind, tyro.conf.arg(help=help)], field(default=default)))
    return options


def _section(name: str, own: type, options: list[tuple[str, Any, Any]]) -> type:
    """A training section: the class ``own`` (its own fields and methods) plus the env's ``options``; every
    field's help one paragraph."""
    cls = dataclasses.make_dataclass(name, options_of(own) + options, bases=(own,))
    cls.__module__, cls.__qualname__, cls.__doc__ = own.__module__, name, own.__doc__
    return cls


def _by_id(option: str) -> str:
    """What an option the maze ids set is, id by id."""
    default = {f.name: f.default for f in dataclasses.fields(MazeConfig)}[option]
    given = [f"{kwargs[option]} for {env_id}" for env_id, kwargs in mazearena.MAZE_IDS.items() if option in kwargs]
    plain = [env_id for env_id, kwargs in mazearena.MAZE_IDS.items() if option not in kwargs]
    return "the env id's, " + ", ".join(given + ([f"else {getattr(default, 'value', default)}"] if plain else []))


def _levels(section, test: bool) -> dict[str, int]:
    """The level set of a split: the training levels, or (``test``) the held-out ones, unlimited from
    ``test_start_level``."""
    if test:
        return {"num_levels": 0, "start_level": section.test_start_level}
    return {"num_levels": section.num_levels, "start_level": section.start_level}


@dataclass
class _EnvSection:
    """The maze trained on, and the held-out levels it is tested on; or any Gymnasium env."""

    env_id: str = "mazearena/Maze-v0"
    """Environment id: a maze id, or any registered Gymnasium id with a Discrete action space and a Box
    observation space (``CartPole-v1``; ``mypkg:MyEnv-v0`` imports ``mypkg`` first, which registers it). The
    maze options apply to maze ids only."""
    test_start_level: int = 1_000_000
    """Held-out levels start here (unlimited from there; disjoint from the training set)."""
    max_episode_steps: int = 0
    """Episode time limit (0 = 4 * size**2 on mazes, the env's own on other envs)."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_env_id(self.env_id)
        if self.max_episode_steps < 0:
            raise UserError(f"max_episode_steps must be >= 0, got {self.max_episode_steps}")
        self.maze_config()
        check_level_split(self.num_levels, self.start_level, self.test_start_level)

    @property
    def time_limit(self) -> int:
        return self.max_episode_steps or 4 * self.size**2

    def make_kwargs(self, test: bool = False) -> dict[str, Any]:
        """The maze options to make the env with: every option that is set (an unset one is the env id's), the
        time limit, and the training levels or (``test``) the held-out ones."""
        options = {f: getattr(self, f) for f in MAZE_OPTIONS if getattr(self, f) is not None}
        return options | {"max_steps": self.time_limit} | _levels(self, test)

    def maze_config(self, test: bool = False) -> MazeConfig:
        """The :class:`MazeConfig` of the training levels or (``test``) the held-out ones: what the maze id makes
        with these options."""
        return MazeConfig(**{**mazearena.MAZE_IDS.get(self.env_id, {}), **self.make_kwargs(test)})


_MAZE_FIELDS = options_of(
    MazeConfig,
    exclude=("max_steps", "obs_layout"),  # max_episode_steps, for every env; networks read channels first
    defaults={"size": 9, "num_levels": 500},
    unset={name: _by_id(name) for kwargs in mazearena.MAZE_IDS.values() for name in kwargs},
)
EnvConfig = _section("EnvConfig", _EnvSection, _MAZE_FIELDS)
MAZE_OPTIONS = tuple(name for name, _, _ in _MAZE_FIELDS)
"""The maze options a training run takes: every field of :class:`MazeConfig` but ``max_steps`` (the section's
``max_episode_steps``, which every env takes) and ``obs_layout`` (networks read channels first)."""


def check_level_split(num_levels: int, start_level: int, test_start_level: int) -> None:
    """The held-out levels (unlimited from ``test_start_level``) must not overlap the training levels."""
    check_int("test_start_level", test_start_level, 0, MAX_LEVEL_ID - 2**31)
    train = level_range(num_levels, start_level)
    test = level_range(0, test_start_level)
    if train[0] < test[1] and test[0] < train[1]:
        raise UserError(
            f"the held-out levels [{test[0]}, {test[1]}) from test_start_level overlap the training "
            f"levels [{train[0]}, {train[1]}); an unlimited set spans 2**31 ids"
        )


@dataclass
class _ArenaSection:
    """The arena scenario a team learns in (``algo=mappo``), and where it is tested."""

    scenario: str = ""
    """Training scenario (which agents learn, which NPCs play): see ``mazearena.envs.scenarios`` (default: the
    default scenario of ``mode``)."""
    mode: str = ""
    """Game mode, ``tag``, ``ctf`` or ``combat``, when no scenario is named (default ``tag``)."""
    heldout_scenario: str = ""
    """Scenario of the held-out evaluation (default: the training scenario's ``_heldout`` twin)."""
    test_start_level: int = 1_000_000
    """Held-out arenas start here (disjoint from the training arenas)."""

    def __post_init__(self) -> None:
        from mazearena.envs.scenarios import scenario

        check_fields(self)
        if self.mode not in ("", *DEFAULT_SCENARIOS):
            raise UserError(f"mode must be one of {', '.join(DEFAULT_SCENARIOS)}, got {self.mode!r}")
        for name in ("scenario", "heldout_scenario"):
            if getattr(self, name):
                try:
                    scenario(getattr(self, name))
                except ValueError as e:
                    raise UserError(f"{name}: {e}") from None
        train = scenario(self.scenario_name)  # arena_config names any bad field
        if self.mode and train.config["mode"] != self.mode:
            raise UserError(f"scenario {self.scenario!r} plays {train.config['mode']!r}, not mode {self.mode!r}")
        train.arena_config(**self.make_kwargs())
        held = scenario(self.heldout_name)
        if held.config != train.config or held.focal(held.arena_config()) != train.focal(train.arena_config()):
            raise UserError(
                f"heldout_scenario {self.heldout_name!r} must have the mode, teams and learning agents "
                f"of scenario {self.scenario_name!r}"
            )
        if self.obs_mode not in ("grid", "tokens"):
            raise UserError(f"obs_mode must be 'grid' or 'tokens' for training, got {self.obs_mode!r}")
        check_level_split(self.num_levels, self.start_level, self.test_start_level)

    @property
    def scenario_name(self) -> str:
        return self.scenario or DEFAULT_SCENARIOS[self.mode or "tag"]

    @property
    def heldout_name(self) -> str:
        return self.heldout_scenario or f"{self.scenario_name}_heldout"

    def make_kwargs(self, test: bool = False) -> dict[str, Any]:
        """The arena options to make the env with, and the training arenas or (``test``) the held-out ones."""
        return {f: getattr(self, f) for f in ARENA_OPTIONS} | _levels(self, test)


_ARENA_FIELDS = options_of(
    ArenaConfig,
    exclude=("mode", "red", "blue", "obs_layout"),  # the scenario sets mode and teams; networks read channels first
    defaults={"num_levels": 500},
)
ArenaEnvConfig = _section("ArenaEnvConfig", _ArenaSection, _ARENA_FIELDS)
ARENA_OPTIONS = tuple(name for name, _, _ in _ARENA_FIELDS)
"""The arena options a training run takes: every field of :class:`ArenaConfig` but those its scenario sets
(``mode``, ``red``, ``blue``; ``mode`` picks the default scenario) and ``obs_layout``."""


ALGO_NAMES = tuple(ALGORITHMS)


@dataclass
class _TrainFields:
    """Train an agent on a maze, evaluate it on held-out levels, write a run folder."""

    algo: Literal[ALGO_NAMES] = "ppo"
    """Training algorithm: our ppo, a2c or dqn, Stable-Baselines3's PPO with our backbone (sb3-ppo, the reference)
    on mazes and Gymnasium envs; mappo (multi-agent PPO) on arenas."""
    backbone: str = "cnn"
    """Policy backbone: cnn, resnet, impala, transformer or mlp, or your own as ``package.module:Class`` (an
    ``nn.Module`` built from the observation space, with ``features_dim``; see the architecture docs)."""
    core: Literal[CORES] = "none"
    """Recurrent core on top of the backbone: ``gru`` or ``lstm`` (a memory of what left the view), or none."""
    core_size: int = 128
    """Hidden units of the recurrent core."""
    env: EnvConfig = field(default_factory=EnvConfig)
    arena: ArenaEnvConfig = field(default_factory=ArenaEnvConfig)
    league: LeagueConfig = field(default_factory=LeagueConfig)
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
        if alg.backbones is not None and self.backbone not in alg.backbones and ":" not in self.backbone:
            raise UserError(
                f"backbone {self.backbone!r} does not fit {task.kind.value} observations: use "
                f"{', '.join(alg.backbones[:-1])} or {alg.backbones[-1]}"
            )
        check_int("core_size", self.core_size, 1, 4096)
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
        self._victim_team = None  # an adversary's victim's team, set by the arena task's checks
        task.check(self)
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
    def load(cls, path: Path) -> TrainConfig:
        """The config of a YAML file (:func:`load_config`)."""
        return load_config(path)

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
        return 0 if found.focal(found.arena_config())[0].startswith("red") else 1

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
        """The W&B group: ``wandb_group``, by default the run name without its seed (``ppo-cnn-9x9``), so that
        the seeds of one experiment compare as one group."""
        return self.wandb_group or re.sub(r"-seed\d+(-\d+)?$", "", self.run_name)

    @property
    def sections(self) -> tuple[str, ...]:
        """The config sections its runs use: the env's (maze or arena), the algorithm's, the league on arenas."""
        return self.task.config_sections(algorithm(self.algo))

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

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


ALGORITHM_SECTIONS = config_sections()
"""The algorithms' sections (``ppo``, ``dqn``, ``mappo``, ...), each a field of :class:`TrainConfig` of its
registered config class: registering an algorithm with a ``config`` adds its section."""

TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [(name, cls, field(default_factory=cls)) for name, cls in ALGORITHM_SECTIONS.items()],
    bases=(_TrainFields,),
)
TrainConfig.__module__, TrainConfig.__qualname__ = __name__, "TrainConfig"

SECTIONS = {"env": EnvConfig, "arena": ArenaEnvConfig, **ALGORITHM_SECTIONS, "league": LeagueConfig}
"""The sections of a :class:`TrainConfig` (each a mapping of its own fields in YAML)."""


def from_dict(cls, data: dict[str, Any]):
    """A config dataclass from a plain dict (a YAML file), naming unknown fields, sections that are not
    mappings and values of the wrong type."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        raise UserError(f"unknown {cls.__name__} field(s) {unknown}; valid: {', '.join(names)}")
    kwargs = {}
    for key, value in data.items():
        nested = SECTIONS.get(key) if cls is TrainConfig else None
        if nested is not None:
            if not isinstance(value, dict):
                raise UserError(f"section {key!r} must be a mapping of {nested.__name__} fields, got {value!r}")
            try:
                value = from_dict(nested, value)
            except (ValueError, TypeError) as e:
                raise UserError(f"{key}: {e}") from None
        elif key in ("runs_dir", "resume", "init_from") and isinstance(value, str):
            value = Path(value)
        elif key == "wandb_tags" and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The example configs shipped with the package."""


def example_configs() -> list[str]:
    """The names of the shipped example configs (``ppo_maze9``, ...)."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))


def find_config(name_or_path: str | Path) -> Path:
    """A config file: a path that exists, else a shipped example by name (``ppo_maze9`` or ``ppo_maze9.yaml``),
    else an error naming the file and the examples."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = CONFIGS_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if path.parent == Path(".") or path.parent.name == "configs":  # a bare name, or the repository's old path
        if shipped.is_file():
            return shipped
    raise UserError(
        f"config file {str(path)!r} does not exist (nor is it a shipped example: {', '.join(example_configs())})"
    )


def load_config(path: Path) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML file; a missing, unreadable, empty or malformed file or a bad field is
    a :class:`~mazearena.checks.UserError` naming the file."""
    path = Path(path)
    data = read_config_data(path)
    try:
        return from_dict(TrainConfig, data)
    except (ValueError, TypeError) as e:  # the file's values, checked by the configs
        raise UserError(f"{path}: {e}") from None


def read_config_data(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (not yet checked field by field), or a
    :class:`~mazearena.checks.UserError` naming the file and what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"config file {str(path)!r} is a folder, not a YAML file")
    if not path.is_file():
        raise UserError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a YAML file (binary content)") from None
    except OSError as e:
        raise UserError(f"{path}: cannot be read ({e.strerror})") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{line}: {problem}") from None
    if data is None:
        raise UserError(f"{path}: the file is empty (a config file holds a mapping of fields)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config file holds a mapping of fields, got {type(data).__name__}")
    return data


def save_config(config: TrainConfig, path: Path) -> None:
    """Write ``config`` as YAML, atomically (a kill never leaves half a file)."""
    atomic_write(path, lambda f: f.write(yaml.safe_dump(config.to_dict(), sort_keys=False)))
