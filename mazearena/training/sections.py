"""The env sections of a training config: the maze (``env``) and the arena (``arena``) a run trains and is tested
on. Each option is declared once, in the env's own config (:class:`MazeConfig`, :class:`ArenaConfig`), whose type,
default and docstring the section takes (:func:`options_of`); the section adds the held-out split and checks
of its own."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal

import docstring_parser
import tyro

import mazearena
from mazearena.checks import UserError, check_fields, check_int
from mazearena.envs.engine.arena import ArenaConfig
from mazearena.envs.engine.layouts import MAX_LEVEL_ID, level_range
from mazearena.envs.engine.maze import MazeConfig
from mazearena.envs.engine.textmap import fit_size, read_layouts
from mazearena.training.tasks.arena import DEFAULT_SCENARIOS
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
    """Environment id: a maze id; any registered Gymnasium id with a Discrete action space and a Box observation
    space (``CartPole-v1``; ``mypkg:MyEnv-v0`` imports ``mypkg`` first, which registers it); or, with algo mappo,
    a PettingZoo parallel env by the import path of its factory (``mpe2.simple_spread_v3:parallel_env``). The
    maze options apply to maze ids only."""
    test_start_level: int = 1_000_000
    """Held-out levels start here (unlimited from there; disjoint from the training set)."""
    max_episode_steps: int = 0
    """Episode time limit (0 = 4 * size**2 on mazes, the env's own on other envs)."""
    wrappers: tuple[str, ...] = ()
    """Gymnasium ids only: wrappers applied in order to each env, by import path, ``module:Class`` or
    ``module:Class(key=value, ...)`` with literal values (``minigrid.wrappers:ImgObsWrapper``)."""
    obs_keys: tuple[str, ...] = ()
    """Gymnasium ids only, for Dict observations: the keys trained on, one Box key as it is (MiniGrid's
    ``image``) or several flattened into one vector. An image stored channels last is turned channels first."""

    def __post_init__(self) -> None:
        for name in ("wrappers", "obs_keys", "layouts"):  # lists from YAML and Python callers: the same value
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        if isinstance(self.layouts, str):  # one folder or file
            self.layouts = (self.layouts,)
        check_fields(self)
        check_env_id(self.env_id, self.wrappers, self.obs_keys)
        if self.max_episode_steps < 0:
            raise UserError(f"max_episode_steps must be >= 0, got {self.max_episode_steps}")
        self.maze_config()
        check_level_split(self.num_levels, self.start_level, self.test_start_level)

    @property
    def grid_size(self) -> int:
        """The side of the grids played: ``size``, or with ``layouts`` the side that holds the largest map."""
        if not self.layouts or not isinstance(self.size, int):
            return self.size
        return fit_size(read_layouts(self.layouts), self.size)

    @property
    def time_limit(self) -> int:
        return self.max_episode_steps or 4 * self.grid_size**2

    def make_kwargs(self, test: bool = False) -> dict[str, Any]:
        """The maze options to make the env with: every option that is set (an unset one is the env id's), the
        time limit, and the training levels or (``test``) the held-out ones: generated levels of the grids'
        size, also when training plays ``layouts``."""
        options = {f: getattr(self, f) for f in MAZE_OPTIONS if getattr(self, f) is not None}
        if test and self.layouts:
            options |= {"layouts": (), "size": self.grid_size}
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
