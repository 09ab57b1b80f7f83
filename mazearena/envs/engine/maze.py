"""The maze game: its config and its engine, N games stepped together on any device.

:class:`MazeEngine` holds N games (grids, agent positions, headings, keys, step counters) and steps them
all at once. The Gymnasium env, the vector env and the renderer are views over it. The rules are
:mod:`~mazearena.envs.engine.maze_rules`, each in torch ops and as a compiled loop side by side: on the CPU
the step, the observation and the resets' draws and writes run compiled over the same state tensors, with the
counter-based hash of :mod:`mazearena.rng` on uint64, so every backend draws the same levels and spawns;
level generation stays in torch.

Rules (the documentation's maze page shows this text):

* Actions, ``actions="cardinal"`` (default): 0 north, 1 east, 2 south, 3 west; the agent turns to face the
  move. ``actions="turn"`` (MiniGrid-style): 0 turn left, 1 turn right, 2 forward.
* Walls block. A locked door blocks unless the agent holds the key, in which case walking into it opens
  it for good. Walking onto the key picks it up.
* Reaching the goal ends the episode (``terminated``) with reward ``1 - 0.9 * min(t, H) / H``, where t is
  the number of steps taken and ``H = 4 * size**2``: 0.1 at the least (to float32 rounding), so a success
  never pays less than a failure. Stepping into lava ends it with reward 0. Every other step gives 0.
* ``truncated`` is set when t reaches the time limit, ``H`` by default (option ``max_steps``; ``0`` for none),
  as gymnasium's ``TimeLimit`` does, even on a step that also terminates: bootstrap on
  ``truncated & ~terminated``.
* Observations (``obs_mode``): ``partial`` (default) is a ``view_size`` square centred on the agent,
  north-up with cardinal actions, rotated so the agent faces up with turn actions. Walls do not block
  sight. ``full`` is the whole grid. Both are 0/1 one-hot planes ``[C, h, w]``: one per tile of the
  tile table that has a channel (wall, goal, key, door, lava), then agent, facing and has_key
  (``MazeEngine.channels``); the engine keeps them as ``uint8``, the envs declare them ``MultiBinary`` and
  hand them out as ``int8`` (the same bytes). ``rgb`` is the partial view drawn with the sprite atlas,
  ``[h, w, 3]`` uint8, an image ``Box``. ``obs_layout`` puts the channels last or first.

What each tile does (blocks, locked, picked up, terminal, success, reward) is read from
:mod:`~mazearena.envs.engine.cells`; nothing here names a tile but floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import NamedTuple

import numpy as np
import torch

from mazearena.checks import check_int, check_memory, enum_value
from mazearena.envs.engine import maze_rules
from mazearena.envs.engine.backend import choose_backend
from mazearena.envs.engine.cells import NO_CODE, Cell, memory_codes, table
from mazearena.envs.engine.common import maze_bytes_per_game
from mazearena.envs.engine.grid import (
    HEADING_DELTAS,
    EngineState,
    check_action_batch,
    check_layout,
    layout_shape,
    to_layout,
)
from mazearena.envs.engine.layouts import LayoutConfig, Variant, generate, level_range
from mazearena.envs.engine.levels import LevelSource
from mazearena.envs.engine.maze_rules import NUM_ACTIONS, ActionSet, MazeObsMode, step_observe
from mazearena.envs.engine.sprites import agent_tile, tile_atlas
from mazearena.envs.engine.textmap import fit_size, map_tensors, parsed, read_layouts


@dataclass(frozen=True)
class MazeConfig(LayoutConfig):
    """Everything that defines a maze environment: the level generator's fields plus these."""

    view_size: int = 7
    """Side of the egocentric view (odd, 3 to 31)."""
    obs_mode: MazeObsMode = MazeObsMode.PARTIAL
    """``partial`` (one-hot planes around the agent), ``full`` (one-hot planes of the whole grid), ``rgb``."""
    actions: ActionSet = ActionSet.CARDINAL
    """``cardinal`` (4 moves) or ``turn`` (left, right, forward)."""
    num_levels: int = 0
    """How many distinct levels to draw from (0 = unlimited)."""
    start_level: int = 0
    """First level id of the set; train and test sets with non-overlapping ranges are disjoint."""
    pixel_tile: int = 8
    """Pixels per cell in ``rgb`` observations (4 to 32)."""
    obs_layout: str | None = None
    """Axis order of observations: ``None`` keeps each mode's own (planes ``chw``, ``rgb`` ``hwc``); ``"chw"``
    or ``"hwc"`` sets it (``hwc`` for tools that assume channels-last, e.g. SuperSuit's frame_stack)."""
    max_steps: int | None = None
    """Steps after which an episode is truncated: ``None`` follows the size (``4 * size**2``, the reward
    horizon), ``0`` sets no limit of the env's own (a wrapper's, if any, still applies)."""
    layouts: tuple[str, ...] = ()
    """Levels drawn as text maps instead of generated ones: each a map's text, a ``.txt`` file or a folder of
    them. The maps are the level set (level ids 0, 1, ... in order; ``num_levels`` and ``start_level`` follow),
    ``size`` grows to hold the largest, smaller maps are walled in. Not with ``variant=memory``."""

    def __post_init__(self) -> None:
        if self.layouts:
            texts = read_layouts(self.layouts)
            object.__setattr__(self, "layouts", texts)
            object.__setattr__(self, "size", fit_size(texts, self.size))
            object.__setattr__(self, "num_levels", len(texts))
            object.__setattr__(self, "start_level", 0)
        elif not isinstance(self.layouts, tuple):
            object.__setattr__(self, "layouts", ())
        super().__post_init__()
        if self.layouts and self.variant is Variant.MEMORY:
            raise ValueError("layouts (text maps) are not for variant 'memory' (its cues and coloured goals)")
        object.__setattr__(self, "obs_mode", enum_value(MazeObsMode, self.obs_mode, "obs_mode"))
        object.__setattr__(self, "actions", enum_value(ActionSet, self.actions, "actions"))
        check_int("view_size", self.view_size, 3, 31, odd=True)
        check_int("pixel_tile", self.pixel_tile, 4, 32)
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 0, 2**31 - 1)
        check_layout(self.obs_layout)
        level_range(self.num_levels, self.start_level)
        reach = self.view_size // 2 + 2  # a goal in reach: the agent next to it sees this far from itself
        if self.variant is Variant.MEMORY and self.obs_mode is not MazeObsMode.FULL and self.memory_distance < reach:
            raise ValueError(
                f"memory_distance ({self.memory_distance}) must be >= view_size // 2 + 2 ({reach}): the cue would "
                "still be in view at the goals"
            )

    @property
    def reward_horizon(self) -> int:
        return 4 * self.size * self.size

    @property
    def time_limit(self) -> int | None:
        """The episode length limit ``max_steps`` stands for (``None``: no limit)."""
        if self.max_steps is None:
            return self.reward_horizon
        return self.max_steps or None

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS[self.actions]

    @property
    def native_layout(self) -> str:
        """The axis order of observations before ``obs_layout``: planes ``chw``, pixels ``hwc``."""
        return "hwc" if self.obs_mode is MazeObsMode.RGB else "chw"

    @property
    def obs_shape(self) -> tuple[int, ...]:
        channels = len(table().channels_of(self.variant.value))
        if self.obs_mode is MazeObsMode.FULL:
            shape = (channels, self.size, self.size)
        elif self.obs_mode is MazeObsMode.RGB:
            side = self.view_size * self.pixel_tile
            shape = (side, side, 3)
        else:
            shape = (channels, self.view_size, self.view_size)
        return layout_shape(shape, self.native_layout, self.obs_layout)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _view_offsets(view_size: int) -> torch.Tensor:
    """[4, V*V, 2] world (dy, dx) of each view cell, for an agent facing each heading (view faces up)."""
    p = view_size // 2
    r, c = torch.meshgrid(torch.arange(view_size) - p, torch.arange(view_size) - p, indexing="ij")
    r, c = r.reshape(-1), c.reshape(-1)
    return torch.stack(
        [
            torch.stack([r, c], -1),  # north: view up is world up
            torch.stack([c, -r], -1),  # east: view up is world +x, view right is world +y
            torch.stack([-r, -c], -1),  # south
            torch.stack([-c, r], -1),  # west
        ]
    )


def _maze_levels(ids: torch.Tensor, config: MazeConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A level's tensors: its grid, the cells a start may be drawn on, and the heading it starts with (``-1``:
    drawn); generated, or (``layouts``) the text maps ``ids``."""
    if config.layouts:
        return map_tensors([parsed(config.layouts[i]) for i in ids.tolist()], config.size, ids.device)
    layouts = generate(ids, config, ids.device)
    return layouts.grid, layouts.spawn_mask, torch.full((len(ids),), -1, dtype=torch.long, device=ids.device)


class MazeState(NamedTuple):
    """Numpy views of a :class:`~mazearena.envs.engine.maze.MazeEngine`'s state, as the kernels take it."""

    grid: np.ndarray  # [n, side * side] uint8 cell codes
    pos: np.ndarray  # [n, 2] int64 (y, x) without the border
    heading: np.ndarray  # [n] int64
    has_key: np.ndarray  # [n] bool
    t: np.ndarray  # [n] int64 steps taken


class MazeEngine(EngineState):
    """N maze games stepped together. Tensors live on ``device``; nothing here touches numpy."""

    def __init__(
        self,
        num_envs: int,
        config: MazeConfig,
        device: str | torch.device = "cpu",
        max_episode_steps: int | None = None,
        autoreset: bool = True,
        backend: str = "auto",
    ) -> None:
        check_int("num_envs", num_envs, 1)
        check_memory("maze games", num_envs, maze_bytes_per_game(config), device)
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 0
        ):
            raise ValueError(f"max_episode_steps must be an int >= 0 or None, got {max_episode_steps!r}")
        self.num_envs, self.config = num_envs, config
        self.device = torch.device(device)
        self.backend = choose_backend(backend, self.device)
        # the engine's own limit: the config's (max_steps) unless given here; 0 = none
        self.max_episode_steps = config.time_limit if max_episode_steps is None else (max_episode_steps or None)
        self.autoreset = autoreset
        dev = self.device
        s = config.size
        self.pad = config.view_size // 2 if config.obs_mode is not MazeObsMode.FULL else 0
        self.side = s + 2 * self.pad
        self.levels = LevelSource(
            partial(_maze_levels, config=config),  # not a lambda: engines pickle
            config.num_levels,
            config.start_level,
            num_envs,
            dev,
            bytes_per_level=2 * s * s + 8,
        )

        self.grid = torch.full((num_envs, self.side, self.side), int(Cell.WALL), dtype=torch.uint8, device=dev)
        self.pos = torch.zeros(num_envs, 2, dtype=torch.long, device=dev)  # (y, x) in layout coordinates
        self.heading = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.has_key = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self.t = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.seeds = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.episodes = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.level_ids = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.rows = torch.arange(num_envs, device=dev)
        # Autoreset without a host round-trip: every game's next episode is computed and the ended ones kept,
        # instead of first asking which games ended. Pays on GPUs; needs the level set cached on the device.
        self.sync_free = self.backend == "torch" and self.device.type == "cuda" and self.levels.cached
        self.choose_levels: Callable[[torch.Tensor], torch.Tensor] | None = None
        """Who picks the levels of the games that restart (a curriculum): given the games, their level ids;
        ``None``: each game draws its own from the level set."""
        self.goal_code = int(Cell.GOAL)  # a text map's goals: one per episode

        deltas = HEADING_DELTAS.to(dev)
        self._deltas = deltas
        self._flat_delta = deltas[:, 0] * self.side + deltas[:, 1]
        offsets = _view_offsets(config.view_size).to(dev)
        self._view_flat = offsets[..., 0] * self.side + offsets[..., 1]  # [4, V*V]
        self._turn = torch.tensor([-1, 1, 0], dtype=torch.long, device=dev)
        # What each tile does, from the tile table: torch lookups by cell code, and the kernels' arrays.
        self.tiles = table()
        variant = config.variant.value  # its levels' tiles have planes of their own
        self.channels = self.tiles.channels_of(variant)
        self._tile = self.tiles.tensors(dev, variant)
        # the step's boolean columns side by side (TileArrays' first six: blocks .. success): one lookup a step
        self._tile_props = torch.stack(self._tile[:6], 1)
        self._tile_arrays = tuple(self.tiles.arrays(variant))
        codes = self._tile.plane_codes  # [planes, PLANE_CODES]: the first code of each plane, then shared ones
        self._cell_codes = codes[:, 0].reshape(1, -1, 1)
        shared = (codes[:, 1:] != NO_CODE).any(0)
        self._more_codes = [codes[:, k + 1].reshape(1, -1, 1) for k in range(len(shared)) if bool(shared[k])]
        self._agent_plane, self._facing_plane, self._key_plane = (
            self.tiles.channel(c, variant) for c in ("agent", "facing", "has_key")
        )
        self._colour_codes = memory_codes(config.memory_goals, dev) if config.variant is Variant.MEMORY else None
        self._sprites: torch.Tensor | None = None
        if config.obs_mode is MazeObsMode.RGB:
            self._sprites = tile_atlas(config.pixel_tile).to(dev)
        self._bind_views()

    def _bind_views(self) -> None:
        if self.backend == "numba":
            # numpy views that share memory with the state tensors, which are therefore only updated in place
            # a plain tuple in MazeState's order: the kernels unbox it faster than the named one
            self._np_state = tuple(
                MazeState(
                    grid=self.grid.view(self.num_envs, -1).numpy(),
                    pos=self.pos.numpy(),
                    heading=self.heading.numpy(),
                    has_key=self.has_key.numpy(),
                    t=self.t.numpy(),
                )
            )
            self._np_all = self.rows.numpy()
            self._np_view = self._view_flat.numpy()
            self._np_seeds, self._np_episodes = self.seeds.numpy(), self.episodes.numpy()
            colours = self._colour_codes
            self._np_colours = np.zeros((0, 0), np.uint8) if colours is None else colours.numpy()

    # ---------------------------------------------------------------- state
    _STATE = ("grid", "pos", "heading", "has_key", "t", "seeds", "episodes", "level_ids")

    # ---------------------------------------------------------------- reset
    def reset(self, seeds: torch.Tensor, level_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Start every game afresh: game i draws its levels (unless ``level_ids`` or :attr:`choose_levels` give
        them) and spawns from ``seeds[i]``."""
        self.seeds.copy_(torch.as_tensor(seeds, dtype=torch.long, device=self.device).reshape(self.num_envs))
        self.episodes.zero_()
        if level_ids is None and self.choose_levels is not None:
            level_ids = self.choose_levels(self.rows)
        self._start(self.rows, level_ids)
        return self.observe()

    def reset_next(self, env_idx: torch.Tensor, level_ids: torch.Tensor | None = None) -> None:
        """Start the next episode (same seed, next episode number) of the games ``env_idx``."""
        self._start(env_idx, level_ids, advance=True)

    def _start(self, idx: torch.Tensor, level_ids: torch.Tensor | None, advance: bool = False) -> None:
        """The first state of the next episode of the games ``idx`` (their episode numbers advanced first if
        ``advance``): compiled on the CPU, in torch ops elsewhere; the same draws either way."""
        start = maze_rules.kernel_start if self.backend == "numba" else maze_rules.torch_start
        start(self, idx, level_ids, advance)

    # ---------------------------------------------------------------- step
    def step(self, actions: torch.Tensor):
        """Advance every game by one action. Returns ``(obs, reward, terminated, truncated, info)``.

        With autoreset, games that ended are restarted in the same step: ``obs`` is the first observation
        of the new episode and ``info["final_obs"]`` holds the last one (rows where ``info["_final_obs"]``).
        Actions out of range (unchecked callers) are clamped into it: never read past the rule tables.
        """
        actions = actions.clamp(0, self.config.num_actions - 1)
        step = maze_rules.kernel_step if self.backend == "numba" else maze_rules.torch_step
        reward, terminated, truncated, success = step(self, actions)
        info = {"is_success": success, "episode_length": self.t.clone(), "level_id": self.level_ids.clone()}
        obs = self.observe()
        if self.autoreset:
            done = terminated | truncated
            info["_final_obs"] = done
            info["final_obs"] = obs
            if self.sync_free and self.choose_levels is None:
                maze_rules.torch_start_where(self, done)
                obs = torch.where(done.view(-1, *[1] * (obs.dim() - 1)), self.observe(), obs)
            else:
                done_idx = done.nonzero().squeeze(1)
                if len(done_idx):
                    obs = obs.clone()
                    self.reset_next(done_idx, None if self.choose_levels is None else self.choose_levels(done_idx))
                    obs[done_idx] = self.observe(done_idx)
        return obs, reward, terminated, truncated, info

    # ---------------------------------------------------------------- observe
    def observe(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Observations of all games, or of the games ``idx``, on the engine's device."""
        observe = maze_rules.kernel_observe if self.backend == "numba" else maze_rules.torch_observe
        obs = observe(self, idx)
        return to_layout(obs, self.config.native_layout, self.config.obs_layout)

    def _obs_hw(self) -> tuple[int, int]:
        v = self.side if self.config.obs_mode is MazeObsMode.FULL else self.config.view_size
        return v, v

    def _pixels(self, tiles: torch.Tensor) -> torch.Tensor:
        """RGB views from sprite indices ``tiles[n, V*V]``."""
        n, v, t = tiles.shape[0], self.config.view_size, self.config.pixel_tile
        img = self._sprites[tiles]  # [n, V*V, t, t, 3]
        return img.view(n, v, v, t, t, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, v * t, v * t, 3)

    # ---------------------------------------------------------------- helpers for views
    def layout_grid(self, i: int) -> torch.Tensor:
        """The current grid of game i (doors opened and keys taken show), without the view padding."""
        s, p = self.config.size, self.pad
        return self.grid[i, p : p + s, p : p + s]

    def validate_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Check shape, dtype and range of an action batch; returns it as int64 on the device."""
        return check_action_batch(
            actions, (self.num_envs,), self.config.num_actions, self.device, describe=lambda index: f"of env {index[0]}"
        )


class ScalarMaze:
    """Game 0 of a one-game :class:`MazeEngine` on the CPU, played by the compiled kernels with a batch of one.

    A batch of one pays torch's per-operation cost dozens of times a step, so the Gymnasium view calls the
    engine's kernels on numpy buffers made once, step and observation in one call, with no torch op per
    step: the same rules and the same code as the batched engine (the golden tests hold them together).
    """

    def __init__(self, engine: MazeEngine) -> None:
        if engine.num_envs != 1 or engine.backend != "numba":
            raise ValueError("ScalarMaze plays a one-game engine with the compiled CPU kernels (backend 'numba')")
        self.engine, cfg = engine, engine.config
        self.config = cfg
        self._action = np.zeros(1, dtype=np.int64)
        self._reward = np.zeros(1, dtype=np.float32)
        self._flags = np.zeros(3, dtype=np.bool_)  # terminated, truncated, success (one read per step)
        self._row = np.zeros(1, dtype=np.int64)
        h, w = engine._obs_hw()
        rgb = cfg.obs_mode is MazeObsMode.RGB
        # Exactly one of the two output buffers is used: sprite indices (rgb) or one-hot planes.
        self._planes = np.empty((0 if rgb else 1, len(engine.channels), h * w), dtype=np.uint8)
        self._codes = np.empty((1, h * w if rgb else 0), dtype=np.int64)
        self._shape = (len(engine.channels), h, w)
        self._sprites = tile_atlas(cfg.pixel_tile).numpy() if rgb else None
        self._obs: np.ndarray | None = None
        self._args: tuple | None = None

    def __getstate__(self) -> dict:
        # The kernel's arguments hold views of the engine's state: a copy rebuilds them from its own engine.
        return {**self.__dict__, "_args": None}

    def step(self, action: int) -> tuple[np.float32, bool, bool, bool]:
        """The rules of :meth:`MazeEngine.step` for game 0: ``(reward, terminated, truncated, success)``; the
        observation after it is :meth:`observe`."""
        self._action[0] = action
        step_observe(*(self._args or self._bind()))
        self._obs = self._output()
        terminated, truncated, success = self._flags.tolist()
        return self._reward[0], terminated, truncated, success

    def reset(self) -> None:
        """Observe game 0 afresh (after the engine reset it)."""
        e = self.engine
        if self._sprites is not None:
            maze_rules.kernel_view_codes(e, self._row, self._codes)
        else:
            maze_rules.kernel_planes(e, self._row, self._planes)
        self._obs = self._output()

    def _bind(self) -> tuple:
        """The kernel's arguments, gathered once: the state views stay valid while the engine lives."""
        e, cfg = self.engine, self.config
        self._args = (
            e._np_state,
            e._tile_arrays,
            self._action,
            cfg.actions is ActionSet.TURN,
            e.pad,
            e.side,
            e.max_episode_steps or 0,
            np.float32(cfg.reward_horizon),
            self._reward,
            self._flags[0:1],
            self._flags[1:2],
            self._flags[2:3],
            self._row,
            cfg.obs_mode is MazeObsMode.FULL,
            e._np_view,
            cfg.view_size,
            self._planes,
            self._codes,
            agent_tile(),
        )
        return self._args

    def observe(self) -> np.ndarray:
        """The observation after the last :meth:`step` or :meth:`reset` (a fresh array)."""
        return self._obs

    def _output(self) -> np.ndarray:
        cfg = self.config
        if self._sprites is None:
            return to_layout(self._planes.reshape(self._shape).copy(), "chw", cfg.obs_layout)
        v, t = cfg.view_size, cfg.pixel_tile
        img = self._sprites[self._codes[0]]  # [V*V, t, t, 3]
        img = np.ascontiguousarray(img.reshape(v, v, t, t, 3).transpose(0, 2, 1, 3, 4).reshape(v * t, v * t, 3))
        return to_layout(img, "hwc", cfg.obs_layout)
