"""Typed configs of ``mazearena train``: each field declared once, with the docstring that becomes its
``--help``. A YAML file (a shipped example such as ``ppo_maze9``, or a run's saved ``config.yaml``) holds the same
fields."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

import mazearena
from mazearena.agents.backbones import backbone_class
from mazearena.agents.dqn import DQNConfig
from mazearena.agents.league import LeagueConfig
from mazearena.agents.mappo import MAPPOConfig
from mazearena.agents.ppo import PPOConfig
from mazearena.checks import UserError, check_device, check_fields, check_int, check_name
from mazearena.envs.engine.layouts import MAX_LEVEL_ID, level_range
from mazearena.envs.engine.maze import MazeConfig
from mazearena.training.algorithms import ALGORITHMS, algorithm, arena_algorithms
from mazearena.training.checkpoint import atomic_write


@dataclass
class EnvConfig:
    """The maze trained on, and the held-out levels it is tested on; or any Gymnasium env."""

    env_id: str = "mazearena/Maze-v0"
    """Environment id: a maze id, or any registered Gymnasium id with a Discrete action space and a Box
    observation space (``CartPole-v1``; ``mypkg:MyEnv-v0`` imports ``mypkg`` first, which registers it). The
    maze options below apply to maze ids only."""
    size: int = 9
    """Maze side in cells (odd, 5 to 127)."""
    view_size: int = 7
    """Egocentric view side."""
    obs_mode: str = "partial"
    """``partial``, ``full`` or ``rgb``."""
    num_levels: int = 500
    """Training levels (ids ``start_level`` to ``start_level + num_levels - 1``; 0 = unlimited)."""
    start_level: int = 0
    """First training level id."""
    test_start_level: int = 1_000_000
    """Held-out levels start here (unlimited from there; disjoint from the training set)."""
    max_episode_steps: int = 0
    """Episode time limit (0 = 4 * size**2)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.maze:
            check_gym_env(self.env_id)
        if self.max_episode_steps < 0:
            raise UserError(f"max_episode_steps must be >= 0, got {self.max_episode_steps}")
        MazeConfig(
            size=self.size,
            view_size=self.view_size,
            obs_mode=self.obs_mode,
            num_levels=self.num_levels,
            start_level=self.start_level,
        )
        check_level_split(self.num_levels, self.start_level, self.test_start_level)

    @property
    def maze(self) -> bool:
        """Whether the env is one of mazearena's mazes (levels, suites, success); else any Gymnasium env."""
        return self.env_id in mazearena.MAZE_IDS

    @property
    def time_limit(self) -> int:
        return self.max_episode_steps or 4 * self.size**2

    def make_kwargs(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "view_size": self.view_size,
            "obs_mode": self.obs_mode,
            "max_steps": self.time_limit,
        }


@functools.cache
def check_gym_env(env_id: str) -> tuple:
    """The observation and action spaces of a Gymnasium id (``module:id`` imports the module first), or an error
    naming what does not fit: PPO and DQN train on Discrete actions and Box observations. Made once per id (a
    config is built and checked many times: the command line, YAML, each resume)."""
    import importlib

    import gymnasium as gym

    module, colon, name = env_id.rpartition(":")
    if colon:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UserError(f"env_id {env_id!r}: cannot import {module!r} ({e})") from None
    try:
        spec = gym.spec(name)
    except gym.error.Error as e:
        raise UserError(
            f"env_id {env_id!r} is neither a maze ({', '.join(mazearena.MAZE_IDS)}) nor a registered Gymnasium id ({e})"
        ) from None
    env = gym.make(spec.id)
    try:
        obs, act = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(act, gym.spaces.Discrete) or not isinstance(obs, gym.spaces.Box):
        raise UserError(f"env_id {env_id!r}: training needs Discrete actions and Box observations, got {act} and {obs}")
    return obs, act


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


DEFAULT_SCENARIOS = {"tag": "tag_2v1_vs_fleeing_npc", "ctf": "ctf_3v3_vs_guards", "combat": "combat_3v3_vs_chasers"}


@dataclass
class ArenaEnvConfig:
    """The arena scenario a team learns in (``algo=mappo``), and where it is tested."""

    scenario: str = ""
    """Training scenario (which agents learn, which NPCs play): see ``mazearena.envs.scenarios`` (default: the
    default scenario of ``mode``)."""
    mode: str = ""
    """Game mode, ``tag``, ``ctf`` or ``combat``, when no scenario is named (default ``tag``)."""
    heldout_scenario: str = ""
    """Scenario of the held-out evaluation (default: the training scenario's ``_heldout`` twin)."""
    size: int = 15
    """Arena side in cells (odd, 9 to 63)."""
    layout: str = "rooms"
    """``maze``, ``rooms`` or ``open``."""
    view_size: int = 7
    """Egocentric view side."""
    obs_mode: str = "grid"
    """``grid`` (planes, for cnn) or ``tokens`` (entities, for transformer)."""
    max_cycles: int = 200
    """Steps after which a game is truncated."""
    pickup_reward: float = 0.0
    """``ctf``: shaping reward for picking up the enemy flag (0 to 1; wins still count captures only)."""
    flag_shaping: float = 0.0
    """``ctf``: potential-based shaping, this times the path steps gained towards the goal / size (0 to 10)."""
    num_levels: int = 500
    """Training arenas (0 = unlimited)."""
    start_level: int = 0
    """First training arena id."""
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
        train.arena_config(**self.make_kwargs(), num_levels=self.num_levels, start_level=self.start_level)
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

    def make_kwargs(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "layout": self.layout,
            "view_size": self.view_size,
            "obs_mode": self.obs_mode,
            "max_cycles": self.max_cycles,
            "pickup_reward": self.pickup_reward,
            "flag_shaping": self.flag_shaping,
        }


ALGO_NAMES = tuple(ALGORITHMS)


@dataclass
class TrainConfig:
    """Train an agent on a maze, evaluate it on held-out levels, write a run folder."""

    algo: Literal[ALGO_NAMES] = "ppo"
    """Training algorithm: our ppo or dqn, Stable-Baselines3's PPO with our backbone (sb3-ppo, the reference) on
    mazes; mappo (multi-agent PPO) on arenas."""
    backbone: str = "cnn"
    """Policy backbone: cnn, resnet, impala, transformer or mlp, or your own as ``package.module:Class`` (an
    ``nn.Module`` built from the observation space, with ``features_dim``; see the architecture docs)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    arena: ArenaEnvConfig = field(default_factory=ArenaEnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    dqn: DQNConfig = field(default_factory=DQNConfig)
    mappo: MAPPOConfig = field(default_factory=MAPPOConfig)
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
    progress: bool = True
    """Show progress: a bar on a terminal, plain lines otherwise (batch jobs, ``> run.log``)."""
    log_interval: float = 10.0
    """Seconds between progress lines when the output is not a terminal."""

    def __post_init__(self) -> None:
        check_fields(self, skip=("algo",))  # the registry names a bad algo (algorithms can be added at run time)
        for name in ("runs_dir", "resume", "init_from"):  # paths given as strings (Python callers, YAML)
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
        alg = algorithm(self.algo)
        if alg.backbones is not None and self.backbone not in alg.backbones and ":" not in self.backbone:
            kind = "arena" if alg.arena else "maze"
            raise UserError(
                f"backbone {self.backbone!r} does not fit {kind} observations: use "
                f"{', '.join(alg.backbones[:-1])} or {alg.backbones[-1]}"
            )
        if self.compile and not alg.compile:
            able = " and ".join(repr(name) for name, a in ALGORITHMS.items() if a.compile)
            raise UserError(f"compile is available with algo {able}, not {self.algo!r}")
        if self.amp and not alg.amp:
            raise UserError(f"amp is not available with algo={self.algo!r}")
        if self.log_interval < 0:
            raise UserError(f"log_interval must be >= 0, got {self.log_interval}")
        for name in ("eval_every", "video_episodes", "video_every"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.league.self_play:
            self._check_self_play()
        if not alg.arena and not self.env.maze and self.backbone == "cnn":
            obs, _ = check_gym_env(self.env.env_id)
            if len(obs.shape) == 1:
                self.backbone = "mlp"  # vectors: an MLP (the cnn, the default, needs planes or pixels)
        if self.init_from is not None and not alg.own:
            raise UserError(f"init_from is not available with algo={self.algo!r}")

    def _check_self_play(self) -> None:
        from mazearena.agents.league import check_symmetric
        from mazearena.envs.scenarios import scenario

        if not algorithm(self.algo).arena:
            able = " or ".join(repr(name) for name in arena_algorithms())
            raise UserError(f"league.self_play needs algo={able}, got {self.algo!r}")
        found = scenario(self.arena.scenario_name)
        config = found.arena_config()
        check_symmetric(config)
        teams = {name.split("_")[0] for name in found.focal(config)}
        if len(found.focal(config)) != config.red or len(teams) != 1:
            raise UserError(
                f"self-play replaces the NPC team of scenario {found.name!r}, whose learning agents must "
                "be one whole team"
            )
        if self.mappo.num_envs % self.league.opponent_groups:
            raise UserError(
                f"league.opponent_groups ({self.league.opponent_groups}) must divide mappo.num_envs "
                f"({self.mappo.num_envs})"
            )

    @property
    def scenario_team(self) -> int:
        """The learning team of the arena scenario (0 red, 1 blue)."""
        from mazearena.envs.scenarios import scenario

        found = scenario(self.arena.scenario_name)
        return 0 if found.focal(found.arena_config())[0].startswith("red") else 1

    @property
    def trained_team(self) -> int:
        """The team the policy learns to play: ``league.team`` in self-play if set, else the scenario's."""
        if self.league.self_play and self.league.team:
            return ("red", "blue").index(self.league.team)
        return self.scenario_team

    @property
    def num_envs(self) -> int:
        return getattr(self, algorithm(self.algo).section).num_envs

    @property
    def iteration_steps(self) -> int:
        """Env steps between two log lines (a PPO rollout; for DQN, 64 steps of every env). An arena env step is
        one step of one game."""
        return algorithm(self.algo).steps_per_iteration(self)

    @property
    def run_name(self) -> str:
        backbone = self.backbone.rpartition(":")[2]  # your own "package.module:Class": its class name
        if algorithm(self.algo).arena and self.league.self_play:
            mode = self.arena.scenario_name.split("_")[0]
            return self.name or f"{self.algo}-{backbone}-selfplay-{mode}-seed{self.seed}"
        if algorithm(self.algo).arena:
            return self.name or f"{self.algo}-{backbone}-{self.arena.scenario_name}-seed{self.seed}"
        if not self.env.maze:
            env = re.sub(r"[^A-Za-z0-9._-]+", "_", self.env.env_id.rpartition(":")[2].rpartition("/")[2])
            return self.name or f"{self.algo}-{backbone}-{env}-seed{self.seed}"
        return self.name or f"{self.algo}-{backbone}-{self.env.size}x{self.env.size}-seed{self.seed}"

    @property
    def experiment(self) -> str:
        """The W&B group: ``wandb_group``, by default the run name without its seed (``ppo-cnn-9x9``), so that
        the seeds of one experiment compare as one group."""
        return self.wandb_group or re.sub(r"-seed\d+(-\d+)?$", "", self.run_name)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def used_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the sections its algorithm does not use (what W&B records: a PPO run has no
        ``dqn.*``, ``mappo.*``, ``league.*`` or ``arena.*``)."""
        used = algorithm(self.algo).config_sections()
        return {k: v for k, v in self.to_dict().items() if k not in SECTIONS or k in used}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


SECTIONS = {
    "env": EnvConfig,
    "arena": ArenaEnvConfig,
    "ppo": PPOConfig,
    "dqn": DQNConfig,
    "mappo": MAPPOConfig,
    "league": LeagueConfig,
}
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
