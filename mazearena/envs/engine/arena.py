"""Team arenas: two teams of agents on a procedurally generated grid. This module holds the config, the arena
levels and the engine, N games stepped together on any device; the rules are :mod:`arena_rules` and what agents
see :mod:`arena_observe`, each in torch ops and as a compiled loop side by side.

Rules (the documentation's arena page shows this text):

* Layout: a maze from :mod:`layouts` (corridors, rooms, loops) overlaid with itself turned 180 degrees, so
  each arena is point-symmetric (fair to both teams) and every floor cell reaches every other (both
  overlays contain all maze nodes and each is connected). Red's base is a node in the leftmost column of
  nodes, blue's its mirror image. Red spawns in the left half, blue in the right half, on distinct cells.
* Actions: 0 stay, 1 north, 2 east, 3 south, 4 west; in ``combat`` also 5 attack. A move sets the
  heading. It succeeds when the target is floor, no agent stood there at the start of the step, and no
  agent with a lower index moves there too. Actions of agents no longer in the game are ignored.
* ``tag``: the chasing team catches a runner by standing next to it (4-neighbourhood) after the moves.
  A caught runner leaves the game with reward -1; each chaser gets +1 per runner its team catches; every
  runner in the game gets ``1 / max_cycles`` per step it survives. Ends when no runner is left.
* ``ctf``: each team's flag sits on its base. Stepping on the enemy flag picks it up; bringing it to your
  own base captures it: +1 to every agent of the team, -1 to the other team, and the flag goes home.
  ``pickup_reward`` (default 0) shapes the game: a pick-up gives it to every agent of the taking team and
  takes it from the other (zero-sum, like captures; the win still counts captures only). ``flag_shaping``
  (default 0) adds potential-based shaping: each agent gets ``flag_shaping / size`` per path step it gained
  towards its goal (to the enemy flag and back home; home while carrying), so a respawn costs the way lost
  and the shaping of a whole capture trip sums to zero.
  An agent in the enemy half (beyond the middle column) that stands next to an enemy in that enemy's own
  half after the moves is tagged: a flag it carries goes home and it respawns on the free cell nearest its
  base. Ends when a team reaches ``captures_to_win``.
* ``combat``: agents have ``max_health`` health. Attack hits the first agent within ``attack_range`` cells
  in the facing direction; walls block the shot and so does a teammate (no friendly fire). Attacks are
  resolved together after the moves. An agent at 0 health leaves the game with reward -1; the attacker
  gets +0.1 per hit and +1 per kill. Ends when one team (or both) has no agent left; the winners get +1.
* Every game is truncated at ``max_cycles`` steps.

Observations (``obs_mode``): ``grid`` is a ``view_size`` square of ``uint8`` planes centred on the agent,
north-up, channels :data:`ARENA_CHANNELS` (walls do not block sight unless ``occlusion``: then the planes of
agents and flags are blank behind walls; outside the arena reads as wall). ``tokens`` is a list of every entity
(agents, then red and blue flag) with :data:`TOKEN_FEATURES` relative to the observer, plus a mask of those
present and inside the view square (and, with ``occlusion``, in sight). ``state()`` is the
whole arena as planes :data:`ARENA_STATE_CHANNELS`, for centralised critics.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from functools import partial
from typing import NamedTuple

import numpy as np
import torch

from mazearena.checks import check_int, check_memory, check_real, enum_value, plain_numbers
from mazearena.envs.engine import arena_observe, arena_rules
from mazearena.envs.engine.arena_observe import ArenaObsMode
from mazearena.envs.engine.arena_rules import ACTION_DELTAS, TEAMS, Mode
from mazearena.envs.engine.backend import choose_backend
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.common import arena_bytes_per_game, shortest_steps
from mazearena.envs.engine.grid import EngineState, check_layout
from mazearena.envs.engine.layouts import (
    Generator,
    LayoutConfig,
    generate,
    level_range,
)
from mazearena.envs.engine.levels import LevelSource
from mazearena.rng import STREAM_BASE, STREAM_SPAWN, hash_ints, randint, uniform

MAX_TEAM_SIZE = 16


class ArenaLayout(str, Enum):
    """How open the arena is."""

    MAZE = "maze"  # corridors with a few shortcuts
    ROOMS = "rooms"  # corridors joining open rooms
    OPEN = "open"  # mostly open floor with scattered obstacles


_LAYOUT_PARAMS = {ArenaLayout.MAZE: (0.15, 0), ArenaLayout.ROOMS: (0.3, 3), ArenaLayout.OPEN: (0.9, 6)}


@dataclass(frozen=True)
class ArenaConfig:
    """Everything that defines an arena game. Every field is validated on construction."""

    mode: Mode = Mode.TAG
    """``tag`` (chasers catch runners), ``ctf`` (capture the flag) or ``combat`` (last team standing)."""
    red: int = 2
    """Agents in the red team (1 to 16)."""
    blue: int = 2
    """Agents in the blue team (1 to 16)."""
    size: int = 15
    """Arena side in cells, walls included: odd, 9 to 63."""
    layout: ArenaLayout = ArenaLayout.ROOMS
    """``maze``, ``rooms`` or ``open``."""
    view_size: int = 7
    """Side of each agent's egocentric view (odd, 3 to 31)."""
    obs_mode: ArenaObsMode = ArenaObsMode.GRID
    """``grid`` (planes), ``tokens`` (entity list + mask) or ``both``."""
    max_cycles: int = 200
    """Steps after which every game is truncated."""
    num_levels: int = 0
    """How many distinct arenas to draw from (0 = unlimited)."""
    start_level: int = 0
    """First level id of the set; sets with non-overlapping ranges are disjoint."""
    chasers: str = "red"
    """``tag`` only: the team that chases (``red`` or ``blue``)."""
    captures_to_win: int = 3
    """``ctf`` only: captures that win the game."""
    pickup_reward: float = 0.0
    """``ctf`` only: shaping reward for picking up the enemy flag (to the team; minus it to the other)."""
    flag_shaping: float = 0.0
    """``ctf`` only: potential-based shaping, this times the path steps an agent gained towards its goal
    (the enemy flag then home; home when carrying) divided by ``size``."""
    max_health: int = 3
    """``combat`` only: hits an agent survives, plus one."""
    attack_range: int = 3
    """``combat`` only: how many cells an attack reaches."""
    occlusion: bool = False
    """Walls block sight: in its view an agent sees agents and flags only where the straight line to them crosses
    no wall (walls themselves always show); what hides behind a wall must be remembered."""
    obs_layout: str | None = None
    """Axis order of ``grid`` observations: ``None`` or ``"chw"`` (planes first), ``"hwc"`` (channels last, for
    tools that assume it, e.g. SuperSuit's frame_stack). ``state()`` stays ``chw``."""

    def __post_init__(self) -> None:
        plain_numbers(self)
        object.__setattr__(self, "mode", enum_value(Mode, self.mode, "mode"))
        object.__setattr__(self, "layout", enum_value(ArenaLayout, self.layout, "layout"))
        object.__setattr__(self, "obs_mode", enum_value(ArenaObsMode, self.obs_mode, "obs_mode"))
        for name in ("red", "blue"):
            check_int(f"{name} (team size)", getattr(self, name), 1, MAX_TEAM_SIZE)
        s = self.size
        check_int("size", s, 9, 63, odd=True)
        # Each team spawns on distinct node cells of its half: (s // 2) // 2 columns of (s // 2) nodes.
        room = (s // 4) * (s // 2)
        if max(self.red, self.blue) > room:
            raise ValueError(f"size {s} has room for {room} agents per team, got red={self.red}, blue={self.blue}")
        check_int("view_size", self.view_size, 3, 31, odd=True)
        # health is a uint8 plane; counters are int32 in the kernels
        for name, top in (("max_cycles", 2**31 - 1), ("captures_to_win", 1000), ("max_health", 255)):
            check_int(name, getattr(self, name), 1, top)
        check_int("attack_range", self.attack_range, 1, s)
        for name, top in (("pickup_reward", 1), ("flag_shaping", 10)):
            check_real(name, getattr(self, name), 0, top)
        if not isinstance(self.occlusion, bool):
            raise TypeError(f"occlusion must be true or false, got {self.occlusion!r}")
        if self.chasers not in TEAMS:
            raise ValueError(f"chasers must be 'red' or 'blue', got {self.chasers!r}")
        level_range(self.num_levels, self.start_level)
        check_layout(self.obs_layout)

    @property
    def native_layout(self) -> str:
        """The axis order of ``grid`` observations before ``obs_layout``."""
        return "chw"

    @property
    def num_agents(self) -> int:
        return self.red + self.blue

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(f"red_{i}" for i in range(self.red)) + tuple(f"blue_{i}" for i in range(self.blue))

    def team_of(self, agent: str) -> int:
        """The team (0 red, 1 blue) of ``agent``, one of :attr:`agent_names` (red's come first)."""
        return int(self.agent_names.index(agent) >= self.red)

    def index_in_team(self, agent: str) -> int:
        """``agent``'s index among its team's agents."""
        i = self.agent_names.index(agent)
        return i - self.red if i >= self.red else i

    @property
    def num_actions(self) -> int:
        return 6 if self.mode is Mode.COMBAT else 5

    @property
    def num_tokens(self) -> int:
        return self.num_agents + 2

    @property
    def max_cell_value(self) -> int:
        """Largest value in an observation plane (the health plane holds health points)."""
        return self.max_health if self.mode is Mode.COMBAT else 1

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def arena_layouts(level_ids: torch.Tensor, config: ArenaConfig, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Walls ``[B, S, S]`` (bool) and the two bases ``[B, 2, 2]`` (team, (y, x)) of a batch of level ids."""
    loops, rooms = _LAYOUT_PARAMS[config.layout]
    maze = generate(
        level_ids, LayoutConfig(size=config.size, generator=Generator.KRUSKAL, loops=loops, rooms=rooms), device
    )
    floor = maze.grid != int(Cell.WALL)
    floor = floor | floor.flip(1, 2)  # union of two connected floors that share every node: connected
    s = config.size
    row = 2 * randint(s // 2, maze.level_ids, STREAM_BASE) + 1
    red_base = torch.stack([row, torch.ones_like(row)], 1)
    bases = torch.stack([red_base, s - 1 - red_base], 1)
    return ~floor, bases


def base_distances(walls: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
    """``[B, 2, S, S]`` shortest-path steps from each team's base to every cell (``UNREACHABLE`` on walls)."""
    b, s, _ = walls.shape
    sources = torch.zeros(b, 2, s, s, dtype=torch.bool, device=walls.device)
    rows = torch.arange(b, device=walls.device)
    for team in range(2):
        sources[rows, team, bases[:, team, 0], bases[:, team, 1]] = True
    passable = (~walls)[:, None].expand(b, 2, s, s).reshape(2 * b, s, s)
    return shortest_steps(sources.view(2 * b, s, s), passable).view(b, 2, s, s)


def _arena_levels(ids: torch.Tensor, config: ArenaConfig) -> tuple[torch.Tensor, ...]:
    walls, bases = arena_layouts(ids, config, ids.device)
    return walls, bases, base_distances(walls, bases)


class ArenaState(NamedTuple):
    """Numpy views of an :class:`~mazearena.envs.engine.arena.ArenaEngine`'s state, as the kernels take it."""

    walls: np.ndarray  # [B, S*S] bool
    pos: np.ndarray  # [B, A, 2] int64
    heading: np.ndarray  # [B, A] int64
    alive: np.ndarray  # [B, A] bool
    health: np.ndarray  # [B, A] int64
    carrying: np.ndarray  # [B, A] bool: holds the enemy flag
    score: np.ndarray  # [B, 2] int64
    bases: np.ndarray  # [B, 2, 2] int64
    base_dist: np.ndarray  # [B, 2, S*S] int64
    team: np.ndarray  # [A] int64
    focal: np.ndarray  # [A] bool
    t: np.ndarray  # [B] int64


class ArenaEngine(EngineState):
    """N arena games stepped together on ``device``. Agents are rows ``0..red-1`` (red) then blue."""

    _STATE = (
        "walls",
        "bases",
        "base_dist",
        "pos",
        "heading",
        "alive",
        "health",
        "carrying",
        "score",
        "t",
        "seeds",
        "episodes",
        "level_ids",
    )

    def __init__(
        self,
        num_envs: int,
        config: ArenaConfig,
        device: str | torch.device = "cpu",
        autoreset: bool = True,
        focal: list[int] | None = None,
        backend: str = "auto",
    ) -> None:
        check_int("num_envs", num_envs, 1)
        check_memory("arena games", num_envs, arena_bytes_per_game(config), device)
        self.num_envs, self.config, self.autoreset = num_envs, config, autoreset
        self.device = dev = torch.device(device)
        # CPU games run the rules' compiled twins (arena_rules, arena_observe), as the maze engine does.
        self.backend = choose_backend(backend, dev)
        b, a, s = num_envs, config.num_agents, config.size
        self.levels = LevelSource(
            partial(_arena_levels, config=config),  # not a lambda: engines pickle
            config.num_levels,
            config.start_level,
            num_envs,
            dev,
            bytes_per_level=s * s + 32 + 16 * s * s,
        )
        self.team = torch.tensor([0] * config.red + [1] * config.blue, device=dev)
        self._team_of = [0] * config.red + [1] * config.blue  # the same on the host, read without a round-trip
        self.chaser_team = TEAMS.index(config.chasers)
        self.walls = torch.ones(b, s, s, dtype=torch.bool, device=dev)
        self.bases = torch.zeros(b, 2, 2, dtype=torch.long, device=dev)
        self.base_dist = torch.zeros(b, 2, s, s, dtype=torch.long, device=dev)
        self.pos = torch.zeros(b, a, 2, dtype=torch.long, device=dev)
        self.heading = torch.zeros(b, a, dtype=torch.long, device=dev)
        self.alive = torch.zeros(b, a, dtype=torch.bool, device=dev)
        self.health = torch.zeros(b, a, dtype=torch.long, device=dev)
        self.carrying = torch.zeros(b, a, dtype=torch.bool, device=dev)  # holds the enemy team's flag
        self.score = torch.zeros(b, 2, dtype=torch.long, device=dev)
        self.t = torch.zeros(b, dtype=torch.long, device=dev)
        self.seeds = torch.zeros(b, dtype=torch.long, device=dev)
        self.episodes = torch.zeros(b, dtype=torch.long, device=dev)
        self.level_ids = torch.zeros(b, dtype=torch.long, device=dev)
        self._deltas = ACTION_DELTAS.to(dev)
        self._agent_idx = torch.arange(a, device=dev)
        self._enemy = self.team[:, None] != self.team[None, :]  # [A, A]
        # Agents controlled from outside (the rest are NPCs): a game also ends when none of them is left.
        self.focal = torch.zeros(a, dtype=torch.bool, device=dev)
        self.focal[list(range(a)) if focal is None else focal] = True
        # No host round-trip per step (autoreset by drawing every game's next episode, no "anything to do?"
        # checks): pays on GPUs; needs the arena set cached on the device. See MazeEngine.sync_free.
        self.sync_free = self.backend == "torch" and dev.type == "cuda" and self.levels.cached
        self._bind_views()

    def _bind_views(self) -> None:
        if self.backend == "numba":
            # numpy views sharing memory with the state, which is therefore only ever updated in place
            b = self.num_envs
            self._np_state = tuple(
                ArenaState(
                    walls=self.walls.view(b, -1).numpy(),
                    pos=self.pos.numpy(),
                    heading=self.heading.numpy(),
                    alive=self.alive.numpy(),
                    health=self.health.numpy(),
                    carrying=self.carrying.numpy(),
                    score=self.score.numpy(),
                    bases=self.bases.numpy(),
                    base_dist=self.base_dist.view(b, 2, -1).numpy(),
                    team=self.team.numpy(),
                    focal=self.focal.numpy(),
                    t=self.t.numpy(),
                )
            )
            self._np_rows = torch.arange(b).numpy()

    # ---------------------------------------------------------------- reset
    def reset(self, seeds: torch.Tensor, level_ids: torch.Tensor | None = None):
        """Start every game afresh: game i draws its arenas and spawns from ``seeds[i]``."""
        self.seeds = torch.as_tensor(seeds, dtype=torch.long, device=self.device).reshape(self.num_envs).clone()
        self.episodes.zero_()
        self._start(torch.arange(self.num_envs, device=self.device), level_ids)
        return self.observe()

    def _start(self, idx: torch.Tensor, level_ids: torch.Tensor | None = None) -> None:
        cfg = self.config
        key = hash_ints(self.seeds[idx], self.episodes[idx])
        if level_ids is None:
            level_ids = self.levels.level_id(self.seeds[idx], self.episodes[idx])
        else:
            level_ids = self.levels.check(level_ids)
        walls, bases, base_dist = self.levels.fetch(idx, level_ids, self.seeds, self.episodes)
        self.walls[idx], self.bases[idx], self.base_dist[idx], self.level_ids[idx] = walls, bases, base_dist, level_ids
        m = len(idx)
        self.pos[idx] = self._spawns(key)
        self.heading[idx] = torch.where(self.team == 0, 1, 3).expand(m, -1)  # facing the enemy side
        self.alive[idx] = True
        self.health[idx] = cfg.max_health
        self.carrying[idx] = False
        self.score[idx] = 0
        self.t[idx] = 0
        self.levels.prefetch(self.seeds, self.episodes)

    def _spawns(self, key: torch.Tensor) -> torch.Tensor:
        """``[len(key), A, 2]`` spawn cells: distinct node cells of each team's half, ranked by the episode keys."""
        cfg, dev, s = self.config, self.device, self.config.size
        cells = torch.arange(s * s, device=dev)
        y, x = cells // s, cells % s
        node = (y % 2 == 1) & (x % 2 == 1)
        prio = uniform(key[:, None], STREAM_SPAWN, cells[None, :])  # [m, S*S]
        pos = torch.zeros(len(key), cfg.num_agents, 2, dtype=torch.long, device=dev)
        for team, (n, half) in enumerate(((cfg.red, x < s // 2), (cfg.blue, x > s // 2))):
            score = torch.where((node & half)[None, :], prio, -1.0)
            pick = score.topk(n, dim=1).indices
            first = 0 if team == 0 else cfg.red
            pos[:, first : first + n] = torch.stack([pick // s, pick % s], -1)
        return pos

    def _start_where(self, done: torch.Tensor) -> None:
        """:meth:`reset_next` of the games where ``done`` with no host round-trip: every game's next episode
        is drawn (a gather from the cached arena set) and kept where ``done``; the same games, bit for bit."""
        if not self.levels.cached:
            raise RuntimeError("a sync-free reset needs the arena set cached on the device (a finite num_levels)")
        cfg, dev, b = self.config, self.device, self.num_envs
        episodes = self.episodes + done.long()
        key = hash_ints(self.seeds, episodes)
        level_ids = self.levels.level_id(self.seeds, episodes)
        walls, bases, base_dist = self.levels.fetch(torch.arange(b, device=dev), level_ids, self.seeds, episodes)

        def keep(old: torch.Tensor, new) -> None:
            new = torch.as_tensor(new, device=dev).expand_as(old)
            old.copy_(torch.where(done.view(-1, *[1] * (old.dim() - 1)), new, old))

        keep(self.walls, walls)
        keep(self.bases, bases)
        keep(self.base_dist, base_dist)
        keep(self.level_ids, level_ids)
        keep(self.pos, self._spawns(key))
        keep(self.heading, torch.where(self.team == 0, 1, 3))
        keep(self.alive, True)
        keep(self.health, cfg.max_health)
        keep(self.carrying, False)
        keep(self.score, 0)
        keep(self.t, 0)
        self.episodes.copy_(episodes)

    def reset_next(self, idx: torch.Tensor) -> None:
        """Start the next episode (same seed, next episode number) of the games ``idx``."""
        self.episodes[idx] += 1
        self._start(idx)

    # ---------------------------------------------------------------- step
    def step(self, actions: torch.Tensor):
        """Advance every game by one step of ``actions [B, A]``.

        Returns ``(obs, reward [B, A], terminated [B, A], truncated [B, A], info)``. ``info["active"]`` marks
        the agents that were in the game during this step (the rows that carry a transition);
        ``terminated`` is set for agents that left the game this step and for every agent still in it when
        the game was decided. With autoreset, ended games restart in the same step; ``info["final_obs"]``
        holds their last observations (rows where ``info["_final_obs"]``), and ``info["final_state"]`` their last
        :meth:`state` when some game hit ``max_cycles``. ``info["winner"]`` is :meth:`leader` after the step
        (the result of the games that ended in it); ``info["left_game"]`` ``[B, 2]`` how many agents of each
        team left the game in it (caught in ``tag``, killed in ``combat``).
        """
        cfg = self.config
        actions = actions.clamp(0, cfg.num_actions - 1)  # unchecked callers: never past the rule tables
        step = arena_rules.kernel_step if self.backend == "numba" else arena_rules.torch_step
        active, reward, terminated, truncated, decided = step(self, actions)
        left = active & ~self.alive
        info = {
            "active": active,
            "score": self.score.clone(),
            "episode_length": self.t.clone(),
            "level_id": self.level_ids.clone(),
            "winner": self.leader(),
            "left_game": torch.stack([(left & (self.team == k)).sum(1) for k in range(2)], 1),
        }
        obs = self.observe()
        if self.autoreset:
            done = decided | (self.t >= cfg.max_cycles)
            # time-outs: centralised critics bootstrap from these
            if self.sync_free or bool((self.t >= cfg.max_cycles).any()):
                info["final_state"] = self.state()
            info["_final_obs"] = done
            info["final_obs"] = obs
            if self.sync_free:
                self._start_where(done)
                fresh = self.observe()
                if isinstance(obs, dict):
                    obs = {k: torch.where(done.view(-1, *[1] * (v.dim() - 1)), fresh[k], v) for k, v in obs.items()}
                else:
                    obs = torch.where(done.view(-1, *[1] * (obs.dim() - 1)), fresh, obs)
            else:
                done_idx = done.nonzero().squeeze(1)
                if len(done_idx):
                    obs = self._merge(obs, done_idx)
        return obs, reward, terminated, truncated, info

    def leader(self) -> torch.Tensor:
        """``[B]``: the team that wins if the game ends now (0 red, 1 blue, -1 a draw): :func:`arena_rules.leader`."""
        return arena_rules.leader(self)

    def _merge(self, obs, done_idx: torch.Tensor):
        """``obs`` with the rows ``done_idx`` replaced by the first observation of their next episode."""
        self.reset_next(done_idx)
        fresh = self.observe(done_idx)
        if isinstance(obs, dict):
            out = {k: v.clone() for k, v in obs.items()}
            for k in out:
                out[k][done_idx] = fresh[k]
            return out
        out = obs.clone()
        out[done_idx] = fresh
        return out

    def steps_to_goal(self) -> torch.Tensor:
        """``[B, A]`` ``ctf`` path steps each agent has left: to its base while carrying the enemy flag, else
        to the enemy base and from there home (the potential of ``flag_shaping``)."""
        return arena_rules.steps_to_goal(self)

    def team_carrying(self) -> torch.Tensor:
        """``[B, 2]``: whether the flag of team k is being carried (by the other team)."""
        return arena_rules.team_carrying(self)

    def first_in_line(self) -> torch.Tensor:
        """``[B, A]``: the agent each agent would hit attacking now (-1: none), walls and agents block the shot."""
        return arena_rules.first_in_line(self)

    # ---------------------------------------------------------------- observations
    def flags(self) -> torch.Tensor:
        """``[B, 2, 2]``: where each team's flag is (its base, or its carrier's cell in ``ctf``)."""
        return arena_observe.flag_cells(self)

    def state(self) -> torch.Tensor:
        """``[B, len(ARENA_STATE_CHANNELS), S, S]`` uint8: the whole arena, for centralised critics."""
        return arena_observe.state_planes(self)

    def observe(self, idx: torch.Tensor | None = None):
        """Per-agent observations of all games (or the games ``idx``): a tensor or a dict, by ``obs_mode``."""
        return arena_observe.observe(self, idx)
