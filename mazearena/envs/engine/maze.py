"""The maze game's rules, written over a batch of games, in torch, on any device.

:class:`MazeEngine` holds N games (grids, agent positions, headings, keys, step counters) and steps them
all at once. The Gymnasium env, the vector env and the renderer are views over it. On the CPU the step
and the observation run as compiled loops (:mod:`cpu_kernels`) over the same state tensors; resets, level
generation and the RNG stay in torch, so every backend draws the same levels and spawns.

Rules (documented in the README as well):

* Actions, ``actions="cardinal"`` (default): 0 north, 1 east, 2 south, 3 west; the agent turns to face the
  move. ``actions="turn"`` (MiniGrid-style): 0 turn left, 1 turn right, 2 forward.
* Walls block. A locked door blocks unless the agent holds the key, in which case walking into it opens
  it for good. Walking onto the key picks it up.
* Reaching the goal ends the episode (``terminated``) with reward ``1 - 0.9 * t / H``, where t is the
  number of steps taken and ``H = 4 * size**2``; stepping into lava ends it with reward 0. Every other
  step gives 0. ``truncated`` is set when t reaches ``max_episode_steps`` (if the engine owns the limit), as
  gymnasium's ``TimeLimit`` does, even on a step that also terminates: bootstrap on ``truncated & ~terminated``.
* Observations (``obs_mode``): ``partial`` (default) is a ``view_size`` square centred on the agent,
  north-up with cardinal actions, rotated so the agent faces up with turn actions. Walls do not block
  sight. ``full`` is the whole grid. Both are ``uint8`` one-hot planes ``[8, h, w]``, channels in
  :data:`CHANNELS`. ``rgb`` is the partial view drawn with the renderer's tiles, ``[h, w, 3]`` uint8.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

import numpy as np
import torch

from mazearena.checks import check_int, enum_value
from mazearena.envs.engine.grid import (
    HEADING_DELTAS,
    STREAM_HEADING,
    STREAM_SPAWN,
    Cell,
    EngineState,
    check_action_batch,
    hash_ints,
    randint,
)
from mazearena.envs.engine.levels import LevelSource
from mazearena.envs.layouts import LayoutConfig, generate, level_range

CHANNELS = ("wall", "goal", "key", "door", "lava", "agent", "facing", "has_key")
_CELL_CHANNELS = (Cell.WALL, Cell.GOAL, Cell.KEY, Cell.DOOR, Cell.LAVA)



class ObsMode(str, Enum):
    PARTIAL = "partial"
    FULL = "full"
    RGB = "rgb"


class ActionSet(str, Enum):
    CARDINAL = "cardinal"
    TURN = "turn"


NUM_ACTIONS = {ActionSet.CARDINAL: 4, ActionSet.TURN: 3}


@dataclass(frozen=True)
class MazeConfig(LayoutConfig):
    """Everything that defines a maze environment: the level generator's fields plus these."""

    view_size: int = 7
    """Side of the egocentric view (odd, 3 to 31)."""
    obs_mode: ObsMode = ObsMode.PARTIAL
    """``partial`` (one-hot planes around the agent), ``full`` (one-hot planes of the whole grid), ``rgb``."""
    actions: ActionSet = ActionSet.CARDINAL
    """``cardinal`` (4 moves) or ``turn`` (left, right, forward)."""
    num_levels: int = 0
    """How many distinct levels to draw from (0 = unlimited)."""
    start_level: int = 0
    """First level id of the set; train and test sets with non-overlapping ranges are disjoint."""
    pixel_tile: int = 8
    """Pixels per cell in ``rgb`` observations (4 to 32)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "obs_mode", enum_value(ObsMode, self.obs_mode, "obs_mode"))
        object.__setattr__(self, "actions", enum_value(ActionSet, self.actions, "actions"))
        check_int("view_size", self.view_size, 3, 31, odd=True)
        check_int("pixel_tile", self.pixel_tile, 4, 32)
        level_range(self.num_levels, self.start_level)

    @property
    def reward_horizon(self) -> int:
        return 4 * self.size * self.size

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS[self.actions]

    @property
    def obs_shape(self) -> tuple[int, ...]:
        if self.obs_mode is ObsMode.FULL:
            return (len(CHANNELS), self.size, self.size)
        if self.obs_mode is ObsMode.RGB:
            side = self.view_size * self.pixel_tile
            return (side, side, 3)
        return (len(CHANNELS), self.view_size, self.view_size)

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


BACKENDS = ("auto", "torch", "numba")


def _backend(backend: str, device: torch.device) -> str:
    """``auto`` picks the compiled CPU kernels on the CPU and torch elsewhere."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "numba" if device.type == "cpu" else "torch"
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on the CPU only, but the device is {str(device)!r}")
    return backend


def _maze_levels(ids: torch.Tensor, config: MazeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    layouts = generate(ids, config, ids.device)
    return layouts.grid, layouts.spawn_mask


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
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be an int >= 1 or None, got {max_episode_steps!r}")
        self.num_envs, self.config = num_envs, config
        self.device = torch.device(device)
        self.backend = _backend(backend, self.device)
        self.max_episode_steps = max_episode_steps
        self.autoreset = autoreset
        dev = self.device
        s = config.size
        self.pad = config.view_size // 2 if config.obs_mode is not ObsMode.FULL else 0
        self.side = s + 2 * self.pad
        self.levels = LevelSource(lambda ids: _maze_levels(ids, config), config.num_levels, config.start_level,
                                  num_envs, dev, bytes_per_level=2 * s * s)

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

        deltas = HEADING_DELTAS.to(dev)
        self._deltas = deltas
        self._flat_delta = deltas[:, 0] * self.side + deltas[:, 1]
        offsets = _view_offsets(config.view_size).to(dev)
        self._view_flat = offsets[..., 0] * self.side + offsets[..., 1]  # [4, V*V]
        self._cell_codes = torch.tensor([int(c) for c in _CELL_CHANNELS], dtype=torch.uint8, device=dev).view(1, -1, 1)
        self._turn = torch.tensor([-1, 1, 0], dtype=torch.long, device=dev)
        self._tiles: torch.Tensor | None = None
        if config.obs_mode is ObsMode.RGB:
            from mazearena.envs.render import tile_atlas

            self._tiles = tile_atlas(config.pixel_tile).to(dev)
        self._bind_views()

    def _bind_views(self) -> None:
        if self.backend == "numba":
            # numpy views that share memory with the state tensors, which are therefore only updated in place
            self._np_state = (self.grid.view(self.num_envs, -1).numpy(), self.pos.numpy(), self.heading.numpy(),
                              self.has_key.numpy())  # fmt: skip
            self._np_all = self.rows.numpy()
            self._np_view = self._view_flat.numpy()

    # ---------------------------------------------------------------- state
    _STATE = ("grid", "pos", "heading", "has_key", "t", "seeds", "episodes", "level_ids")

    # ---------------------------------------------------------------- reset
    def reset(self, seeds: torch.Tensor, level_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Start every game afresh: game i draws its levels and spawns from ``seeds[i]``."""
        self.seeds = torch.as_tensor(seeds, dtype=torch.long, device=self.device).reshape(self.num_envs).clone()
        self.episodes.zero_()
        self._start(self.rows, level_ids)
        return self.observe()

    def reset_next(self, env_idx: torch.Tensor, level_ids: torch.Tensor | None = None) -> None:
        """Start the next episode (same seed, next episode number) of the games ``env_idx``."""
        self.episodes[env_idx] += 1
        self._start(env_idx, level_ids)

    def _spawn(self, spawn: torch.Tensor, episode_key: torch.Tensor) -> torch.Tensor:
        """``[n, 2]`` start cells: one of each level's ``spawn [n, S, S]`` cells, drawn by the episode keys."""
        s = self.config.size
        spawn = spawn.flatten(1)
        k = randint(spawn.sum(1), episode_key, STREAM_SPAWN)
        cell = (spawn.cumsum(1) > k[:, None]).to(torch.uint8).argmax(1)
        return torch.stack([cell // s, cell % s], 1)

    def _start_where(self, done: torch.Tensor) -> None:
        """:meth:`reset_next` of the games where ``done``, with no host round-trip: the next episode of every
        game is drawn (a gather from the cached level set) and kept where ``done``. Same games as
        :meth:`reset_next`, bit for bit."""
        if not self.levels.cached:
            raise RuntimeError("a sync-free reset needs the level set cached on the device (a finite num_levels)")
        episodes = self.episodes + done.long()
        episode_key = hash_ints(self.seeds, episodes)
        level_ids = self.levels.level_id(self.seeds, episodes)
        grid, spawn = self.levels.fetch(self.rows, level_ids, self.seeds, episodes)
        s, p = self.config.size, self.pad
        inner = self.grid[:, p : p + s, p : p + s]
        inner.copy_(torch.where(done[:, None, None], grid, inner))
        self.pos.copy_(torch.where(done[:, None], self._spawn(spawn, episode_key), self.pos))
        self.heading.copy_(torch.where(done, randint(4, episode_key, STREAM_HEADING), self.heading))
        self.has_key &= ~done
        self.t *= ~done
        self.level_ids.copy_(torch.where(done, level_ids, self.level_ids))
        self.episodes.copy_(episodes)

    def _start(self, idx: torch.Tensor, level_ids: torch.Tensor | None) -> None:
        seeds, episodes = self.seeds[idx], self.episodes[idx]
        episode_key = hash_ints(seeds, episodes)  # one hash per episode; each draw below adds its stream
        if level_ids is None:
            level_ids = self.levels.level_id(seeds, episodes)
        else:
            level_ids = self.levels.check(level_ids)
        grid, spawn = self.levels.fetch(idx, level_ids, self.seeds, self.episodes)
        s, p = self.config.size, self.pad
        self.grid[idx, p : p + s, p : p + s] = grid
        self.pos[idx] = self._spawn(spawn, episode_key)
        self.heading[idx] = randint(4, episode_key, STREAM_HEADING)
        self.has_key[idx] = False
        self.t[idx] = 0
        self.level_ids[idx] = level_ids
        self.levels.prefetch(self.seeds, self.episodes)

    # ---------------------------------------------------------------- step
    def step(self, actions: torch.Tensor):
        """Advance every game by one action. Returns ``(obs, reward, terminated, truncated, info)``.

        With autoreset, games that ended are restarted in the same step: ``obs`` is the first observation
        of the new episode and ``info["final_obs"]`` holds the last one (rows where ``info["_final_obs"]``).
        """
        if self.backend == "numba":
            reward, terminated, truncated, success = self._kernel_step(actions)
        else:
            reward, terminated, truncated, success = self._torch_step(actions)
        info = {"is_success": success, "episode_length": self.t.clone(), "level_id": self.level_ids.clone()}
        obs = self.observe()
        if self.autoreset:
            done = terminated | truncated
            info["_final_obs"] = done
            info["final_obs"] = obs
            if self.sync_free:
                self._start_where(done)
                obs = torch.where(done.view(-1, *[1] * (obs.dim() - 1)), self.observe(), obs)
            else:
                done_idx = done.nonzero().squeeze(1)
                if len(done_idx):
                    obs = obs.clone()
                    self.reset_next(done_idx)
                    obs[done_idx] = self.observe(done_idx)
        return obs, reward, terminated, truncated, info

    def _torch_step(self, actions: torch.Tensor):
        flat_grid = self.grid.view(self.num_envs, -1)
        if self.config.actions is ActionSet.CARDINAL:
            self.heading.copy_(actions)  # in place: never alias the caller's tensor, keep the numpy views
            moving = torch.ones_like(actions, dtype=torch.bool)
        else:
            self.heading.copy_((self.heading + self._turn[actions]) % 4)
            moving = actions == 2
        here = (self.pos[:, 0] + self.pad) * self.side + self.pos[:, 1] + self.pad
        target = here + self._flat_delta[self.heading]
        cell = flat_grid.gather(1, target[:, None]).squeeze(1)
        blocked = (cell == Cell.WALL) | ((cell == Cell.DOOR) & ~self.has_key)
        moved = moving & ~blocked
        takes = moved & ((cell == Cell.KEY) | (cell == Cell.DOOR))
        flat_grid.scatter_(1, target[:, None], torch.where(takes, int(Cell.FLOOR), cell)[:, None])
        self.has_key |= moved & (cell == Cell.KEY)
        self.pos += self._deltas[self.heading] * moved[:, None]
        self.t += 1
        success = moved & (cell == Cell.GOAL)
        terminated = success | (moved & (cell == Cell.LAVA))
        if self.max_episode_steps is not None:
            # As gymnasium's TimeLimit: the limit truncates even a step that also terminates.
            truncated = self.t >= self.max_episode_steps
        else:
            truncated = torch.zeros_like(terminated)
        reward = torch.where(success, 1.0 - 0.9 * self.t.float() / self.config.reward_horizon, 0.0)
        return reward, terminated, truncated, success

    def _kernel_step(self, actions: torch.Tensor):
        from mazearena.envs.engine.cpu_kernels import kernel

        n = self.num_envs
        reward = torch.empty(n, dtype=torch.float32)
        terminated, truncated, success = (torch.empty(n, dtype=torch.bool) for _ in range(3))
        kernel("_step", n)(
            *self._np_state, self.t.numpy(), actions.contiguous().numpy(), self.config.actions is ActionSet.TURN,
            self.pad, self.side, self.max_episode_steps or 0, np.float32(self.config.reward_horizon),
            reward.numpy(), terminated.numpy(), truncated.numpy(), success.numpy(),
        )
        return reward, terminated, truncated, success

    # ---------------------------------------------------------------- observe
    def observe(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Observations of all games, or of the games ``idx``, on the engine's device."""
        if self.backend == "numba":
            return self._kernel_observe(idx)
        return self._torch_observe(idx)

    def _obs_hw(self) -> tuple[int, int]:
        v = self.side if self.config.obs_mode is ObsMode.FULL else self.config.view_size
        return v, v

    def _torch_observe(self, idx: torch.Tensor | None) -> torch.Tensor:
        mode = self.config.obs_mode
        flat_grid = self.grid.view(self.num_envs, -1)
        pos, heading, has_key = self.pos, self.heading, self.has_key
        if idx is not None:  # indexing copies, so only when asked for a subset
            flat_grid, pos, heading, has_key = flat_grid[idx], pos[idx], heading[idx], has_key[idx]
        n = len(pos)
        here = (pos[:, 0] + self.pad) * self.side + pos[:, 1] + self.pad
        if mode is ObsMode.FULL:
            codes = flat_grid
            agent_at, facing_at = here, here + self._flat_delta[heading]
        else:
            # North-up views share one offset table; rotated views pick the table of each heading.
            offsets = self._view_flat[heading] if self.config.actions is ActionSet.TURN else self._view_flat[0]
            codes = flat_grid.gather(1, here[:, None] + offsets)
            v = self.config.view_size
            centre = (v * v) // 2
            agent_at = torch.full_like(here, centre)
            # In the rotated view the agent always faces up; north-up, it faces its heading.
            face = heading if self.config.actions is ActionSet.CARDINAL else torch.zeros_like(heading)
            facing_at = centre + self._deltas[face, 0] * v + self._deltas[face, 1]
        if mode is ObsMode.RGB:
            from mazearena.envs.render import agent_tile

            face = heading if self.config.actions is ActionSet.CARDINAL else torch.zeros_like(heading)
            tiles = codes.long()
            tiles[:, centre] = agent_tile(face, has_key)
            return self._pixels(tiles)
        obs = torch.zeros(n, len(CHANNELS), codes.shape[1], dtype=torch.uint8, device=self.device)
        # Written straight into the buffer through a bool view: one pass instead of compare, cast and copy.
        torch.eq(codes[:, None, :], self._cell_codes, out=obs.view(torch.bool)[:, : len(_CELL_CHANNELS)])
        r = torch.arange(n, device=self.device)
        obs[r, 5, agent_at] = 1
        obs[r, 6, facing_at] = 1
        obs[:, 7] = has_key[:, None].to(torch.uint8)
        return obs.view(n, len(CHANNELS), *self._obs_hw())

    def _kernel_observe(self, idx: torch.Tensor | None) -> torch.Tensor:
        from mazearena.envs.engine.cpu_kernels import kernel

        rows = self._np_all if idx is None else idx.contiguous().numpy()
        m, v, turn = len(rows), self.config.view_size, self.config.actions is ActionSet.TURN
        if self.config.obs_mode is ObsMode.RGB:
            from mazearena.envs.render import AGENT_TILE

            tiles = torch.empty(m, v * v, dtype=torch.long)
            kernel("_view_codes", m)(*self._np_state, rows, turn, self._np_view, self.pad, self.side, AGENT_TILE,
                                     tiles.numpy())
            return self._pixels(tiles)
        hw = self._obs_hw()
        obs = torch.empty(m, len(CHANNELS), hw[0] * hw[1], dtype=torch.uint8)
        kernel("_observe", m)(*self._np_state, rows, self.config.obs_mode is ObsMode.FULL, turn, self._np_view,
                              self.pad, self.side, v, obs.numpy())
        return obs.view(m, len(CHANNELS), *hw)

    def _pixels(self, tiles: torch.Tensor) -> torch.Tensor:
        """RGB views from sprite indices ``tiles[n, V*V]``."""
        n, v, t = tiles.shape[0], self.config.view_size, self.config.pixel_tile
        img = self._tiles[tiles]  # [n, V*V, t, t, 3]
        return img.view(n, v, v, t, t, 3).permute(0, 1, 3, 2, 4, 5).reshape(n, v * t, v * t, 3)

    # ---------------------------------------------------------------- helpers for views
    def layout_grid(self, i: int) -> torch.Tensor:
        """The current grid of game i (doors opened and keys taken show), without the view padding."""
        s, p = self.config.size, self.pad
        return self.grid[i, p : p + s, p : p + s]

    def validate_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Check shape, dtype and range of an action batch; returns it as int64 on the device."""
        return check_action_batch(actions, (self.num_envs,), self.config.num_actions, self.device,
                                  describe=lambda index: f"of env {index[0]}")


_TURN = (-1, 1, 0)
_DELTAS = tuple(tuple(d) for d in HEADING_DELTAS.tolist())


class ScalarMaze:
    """Game 0 of a one-game :class:`MazeEngine`, stepped in plain Python and numpy.

    A batch of one pays torch's per-operation cost dozens of times a step, so the Gymnasium view steps this
    mirror of :meth:`MazeEngine.step` instead (about 10x faster) and keeps the engine for resets, which draw
    levels and spawns. ``tests/envs/test_maze_env.py`` steps both side by side and requires identical
    observations, rewards and flags, so the two cannot drift apart.
    """

    def __init__(self, engine: MazeEngine) -> None:
        if engine.num_envs != 1 or engine.device.type != "cpu":
            raise ValueError("ScalarMaze mirrors a one-game engine on the CPU")
        self.engine, self.config = engine, engine.config
        self._lut = np.zeros((len(Cell), len(_CELL_CHANNELS)), dtype=np.uint8)
        for channel, cell in enumerate(_CELL_CHANNELS):
            self._lut[int(cell), channel] = 1
        self._horizon = np.float32(self.config.reward_horizon)
        self._tiles = None
        if self.config.obs_mode is ObsMode.RGB:
            from mazearena.envs.render import tile_atlas

            self._tiles = tile_atlas(self.config.pixel_tile).numpy()

    def load(self) -> None:
        """Take game 0's state from the engine (after a reset)."""
        e = self.engine
        self.grid = e.grid[0].numpy().copy()
        self.planes = np.ascontiguousarray(self._lut[self.grid].transpose(2, 0, 1))
        self.y, self.x = int(e.pos[0, 0]) + e.pad, int(e.pos[0, 1]) + e.pad
        self.heading, self.has_key, self.t = int(e.heading[0]), bool(e.has_key[0]), int(e.t[0])

    def store(self) -> None:
        """Write the state back into the engine (for rendering and tools that read the engine)."""
        e = self.engine
        e.grid[0] = torch.from_numpy(self.grid)
        e.pos[0, 0], e.pos[0, 1] = self.y - e.pad, self.x - e.pad
        e.heading[0], e.has_key[0], e.t[0] = self.heading, self.has_key, self.t

    def step(self, action: int) -> tuple[np.float32, bool, bool, bool]:
        """The rules of :meth:`MazeEngine.step` for one game: ``(reward, terminated, truncated, success)``."""
        if self.config.actions is ActionSet.CARDINAL:
            self.heading, moving = action, True
        else:
            self.heading, moving = (self.heading + _TURN[action]) % 4, action == 2
        dy, dx = _DELTAS[self.heading]
        ty, tx = self.y + dy, self.x + dx
        cell = int(self.grid[ty, tx])
        blocked = cell == Cell.WALL or (cell == Cell.DOOR and not self.has_key)
        moved = moving and not blocked
        if moved:
            if cell == Cell.KEY or cell == Cell.DOOR:
                self.grid[ty, tx] = Cell.FLOOR
                self.planes[:, ty, tx] = 0
            self.has_key = self.has_key or cell == Cell.KEY
            self.y, self.x = ty, tx
        self.t += 1
        success = moved and cell == Cell.GOAL
        terminated = success or (moved and cell == Cell.LAVA)
        limit = self.engine.max_episode_steps
        truncated = limit is not None and self.t >= limit
        # float32 arithmetic in the engine's order, so rewards match it bit for bit
        reward = np.float32(1.0) - np.float32(0.9) * np.float32(self.t) / self._horizon if success else np.float32(0)
        return reward, terminated, truncated, success

    def observe(self) -> np.ndarray:
        cfg = self.config
        if cfg.obs_mode is ObsMode.FULL:
            cells, centre = self.planes, None
        else:
            p = cfg.view_size // 2
            cells = self.planes[:, self.y - p : self.y + p + 1, self.x - p : self.x + p + 1]
            if cfg.actions is ActionSet.TURN:
                cells = np.rot90(cells, k=self.heading, axes=(1, 2))
            centre = p
        if cfg.obs_mode is ObsMode.RGB:
            return self._pixels(centre)
        h, w = cells.shape[1:]
        obs = np.zeros((len(CHANNELS), h, w), dtype=np.uint8)
        obs[: len(_CELL_CHANNELS)] = cells
        if centre is None:
            ay, ax, face = self.y, self.x, self.heading
        else:
            ay, ax, face = centre, centre, self.heading if cfg.actions is ActionSet.CARDINAL else 0
        obs[5, ay, ax] = 1
        obs[6, ay + _DELTAS[face][0], ax + _DELTAS[face][1]] = 1
        obs[7] = self.has_key
        return obs

    def _pixels(self, centre: int) -> np.ndarray:
        from mazearena.envs.render import AGENT_TILE

        v = self.config.view_size
        codes = self.grid[self.y - centre : self.y + centre + 1, self.x - centre : self.x + centre + 1]
        face = self.heading
        if self.config.actions is ActionSet.TURN:
            codes, face = np.rot90(codes, k=self.heading), 0
        tiles = codes.astype(np.int64)
        tiles[centre, centre] = AGENT_TILE + face + 4 * int(self.has_key)
        t = self.config.pixel_tile
        img = self._tiles[tiles]  # [V, V, t, t, 3]
        return np.ascontiguousarray(img.transpose(0, 2, 1, 3, 4).reshape(v * t, v * t, 3))
