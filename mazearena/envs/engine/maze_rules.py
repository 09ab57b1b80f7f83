"""The maze game's rules, each written twice side by side: in torch ops over the whole batch (any device) and as
a numba loop game by game (:func:`~mazearena.envs.engine.common.twin`, the CPU).

Every rule is a pair: :func:`torch_start` / :func:`_start` (with :func:`_episode_draws`), :func:`torch_step` /
:func:`_step`, :func:`torch_observe` / :func:`_observe` and :func:`_view_codes`; ``kernel_*`` call the compiled
twin on the engine's numpy views. Both draw with :mod:`mazearena.rng`'s hash (on uint64 in the loops) and do
float32 arithmetic in the same order: ``tests/envs/test_engine.py`` and ``test_golden.py`` require identical
results. What a tile does is read from the tile table (:class:`~mazearena.envs.engine.cells.TileArrays`),
never written here. The functions take the engine (``e``, a :class:`~mazearena.envs.engine.maze.MazeEngine`)
and change its state in place; the engine chooses the twin by its backend.

Grids are flat ``[n, side * side]`` uint8 with a wall border of ``pad`` cells; positions are ``(y, x)``
without the border. Headings are those of :mod:`mazearena.envs.engine.grid`.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch
from numba import njit, prange

from mazearena.envs.engine.common import DX, DY, GOLDEN, below, hash2, mix64, twin
from mazearena.envs.engine.sprites import agent_tile, agent_tiles
from mazearena.rng import STREAM_CUE, STREAM_GOAL_PICK, STREAM_HEADING, STREAM_LEVEL, STREAM_SPAWN, hash_ints, randint


class MazeObsMode(str, Enum):
    PARTIAL = "partial"
    FULL = "full"
    RGB = "rgb"


class ActionSet(str, Enum):
    CARDINAL = "cardinal"
    TURN = "turn"


NUM_ACTIONS = {ActionSet.CARDINAL: 4, ActionSet.TURN: 3}

_TURN = np.array([-1, 1, 0], dtype=np.int64)
_FLOOR = 0  # the tile table's floor code
_STREAM_LEVEL, _STREAM_SPAWN, _STREAM_HEADING, _STREAM_CUE, _STREAM_GOAL_PICK = (
    np.uint64(k) for k in (STREAM_LEVEL, STREAM_SPAWN, STREAM_HEADING, STREAM_CUE, STREAM_GOAL_PICK)
)


# ------------------------------------------------------------------------------------------------------ start
def spawn_cells(e, spawn: torch.Tensor, episode_key: torch.Tensor) -> torch.Tensor:
    """``[n, 2]`` start cells: one of each level's ``spawn [n, S, S]`` cells, drawn by the episode keys."""
    s = e.config.size
    spawn = spawn.flatten(1)
    k = randint(spawn.sum(1), episode_key, STREAM_SPAWN)
    cell = (spawn.cumsum(1) > k[:, None]).to(torch.uint8).argmax(1)
    return torch.stack([cell // s, cell % s], 1)


def episode_grid(e, grid: torch.Tensor, episode_key: torch.Tensor) -> torch.Tensor:
    """A level's grid as an episode plays it. Memory levels draw the cue's colour, and so which goal pays, from
    the episode key (as the start): a fixed set of training levels cannot be learned by heart, only the cue
    can tell. Other levels are played as generated."""
    if e._colour_codes is None:
        return grid
    colour = randint(e.config.memory_goals, episode_key, STREAM_CUE)
    codes = e._colour_codes[colour]  # [n, codes]: each cell code as this episode's colour has it
    return codes.gather(1, grid.reshape(len(grid), -1).long()).view_as(grid)


def episode_goal(e, grid: torch.Tensor, episode_key: torch.Tensor) -> torch.Tensor:
    """A level with several goals (a text map's) plays one of them, drawn from the episode key; the others are
    floor in that episode. A level with one goal keeps it."""
    flat = grid.reshape(len(grid), -1)
    goals = flat == e.goal_code
    pick = randint(goals.sum(1).clamp(min=1), episode_key, STREAM_GOAL_PICK)
    drop = goals & (goals.cumsum(1) - 1 != pick[:, None])
    return torch.where(drop, torch.zeros_like(flat), flat).view_as(grid)


def start_heading(facing: torch.Tensor, episode_key: torch.Tensor) -> torch.Tensor:
    """The headings episodes start with: a level's own ``facing`` (a text map's start), else (``-1``) drawn."""
    return torch.where(facing >= 0, facing, randint(4, episode_key, STREAM_HEADING))


def torch_start(e, idx: torch.Tensor, level_ids: torch.Tensor | None, advance: bool) -> None:
    """The first state of the next episode of the games ``idx`` (their episode numbers advanced first if
    ``advance``), in torch ops: the level ``level_ids`` (default: drawn), its grid as the episode plays it
    (:func:`episode_grid`), a start cell and a heading drawn from the episode key, no key, no steps."""
    if advance:
        e.episodes[idx] += 1
    seeds, episodes = e.seeds[idx], e.episodes[idx]
    episode_key = hash_ints(seeds, episodes)  # one hash per episode; each draw below adds its stream
    if level_ids is None:
        level_ids = e.levels.level_id(seeds, episodes)
    else:
        level_ids = e.levels.check(level_ids)
    grid, spawn, facing = e.levels.fetch(idx, level_ids, e.seeds, e.episodes)
    grid = episode_goal(e, episode_grid(e, grid, episode_key), episode_key)
    s, p = e.config.size, e.pad
    e.grid[idx, p : p + s, p : p + s] = grid
    e.pos[idx] = spawn_cells(e, spawn, episode_key)
    e.heading[idx] = start_heading(facing, episode_key)
    e.has_key[idx] = False
    e.t[idx] = 0
    e.level_ids[idx] = level_ids
    e.levels.prefetch(e.seeds, e.episodes)


def torch_start_where(e, done: torch.Tensor) -> None:
    """:meth:`MazeEngine.reset_next` of the games where ``done``, with no host round-trip: the next episode of every
    game is drawn (a gather from the cached level set) and kept where ``done``. Same games as
    :meth:`MazeEngine.reset_next`, bit for bit."""
    if not e.levels.cached:
        raise RuntimeError("a sync-free reset needs the level set cached on the device (a finite num_levels)")
    episodes = e.episodes + done.long()
    episode_key = hash_ints(e.seeds, episodes)
    level_ids = e.levels.level_id(e.seeds, episodes)
    grid, spawn, facing = e.levels.fetch(e.rows, level_ids, e.seeds, episodes)
    grid = episode_goal(e, episode_grid(e, grid, episode_key), episode_key)
    s, p = e.config.size, e.pad
    inner = e.grid[:, p : p + s, p : p + s]
    inner.copy_(torch.where(done[:, None, None], grid, inner))
    e.pos.copy_(torch.where(done[:, None], spawn_cells(e, spawn, episode_key), e.pos))
    e.heading.copy_(torch.where(done, start_heading(facing, episode_key), e.heading))
    e.has_key &= ~done
    e.t *= ~done
    e.level_ids.copy_(torch.where(done, level_ids, e.level_ids))
    e.episodes.copy_(episodes)


@twin
def _episode_draws(seeds, episodes, rows, advance, lo, span, keys, level_ids):
    """Per game ``rows[j]`` (its episode number first advanced by one if ``advance``): the episode's key
    (``hash_ints(seed, episode)``) into ``keys[j]`` and the level it plays (:meth:`LevelSource.level_id`) into
    ``level_ids[j]``."""
    for j in prange(rows.shape[0]):
        i = rows[j]
        if advance:
            episodes[i] += 1
        seed, episode = np.uint64(seeds[i]), np.uint64(episodes[i])
        keys[j] = np.int64(hash2(seed, episode))
        level = mix64(hash2(seed, _STREAM_LEVEL) ^ (episode + GOLDEN))
        level_ids[j] = lo + below(level, span)


@twin
def _start(s, rows, keys, levels, spawns, facings, colours, goal_code, pad, side, size):
    """The first state of the episodes of the games ``rows``, as :func:`torch_start` draws it: the level
    ``levels[j]`` (flat cell codes; memory levels recoloured by ``colours`` [goals, codes], which is empty for
    other levels; of several goals, one drawn) into the grid inside its border, the start the ``keys[j]``-th
    draw picks among the ``spawns[j]`` cells, the level's heading ``facings[j]`` or (``-1``) a drawn one, no
    key, no steps."""
    grid, pos, heading, has_key, t = s
    for j in prange(rows.shape[0]):
        i = rows[j]
        key = np.uint64(keys[j])
        colour = below(hash2(key, _STREAM_CUE), colours.shape[0]) if colours.shape[0] > 0 else -1
        count = 0
        goals = 0
        for y in range(size):
            for x in range(size):
                code = levels[j, y * size + x]
                if colour >= 0:
                    code = colours[colour, code]
                grid[i, (y + pad) * side + x + pad] = code
                count += spawns[j, y * size + x]
                if code == goal_code:
                    goals += 1
        if goals > 1:
            pick = below(hash2(key, _STREAM_GOAL_PICK), goals)
            for y in range(size):
                for x in range(size):
                    c = (y + pad) * side + x + pad
                    if grid[i, c] == goal_code:
                        if pick != 0:
                            grid[i, c] = _FLOOR
                        pick -= 1
        pick = below(hash2(key, _STREAM_SPAWN), count)
        cell = 0
        for c in range(size * size):
            if spawns[j, c]:
                if pick == 0:
                    cell = c
                    break
                pick -= 1
        pos[i, 0], pos[i, 1] = cell // size, cell % size
        heading[i] = facings[j] if facings[j] >= 0 else below(hash2(key, _STREAM_HEADING), 4)
        has_key[i] = False
        t[i] = 0


def kernel_start(e, idx: torch.Tensor, level_ids: torch.Tensor | None, advance: bool) -> None:
    """:func:`torch_start` (after advancing the episode numbers if ``advance``) with the compiled kernels: the
    draws and the writes are two passes over the games, and only the level lookup is torch's."""
    rows = idx.contiguous().numpy()
    m = len(rows)
    keys, ids = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    _episode_draws.for_batch(m)(e._np_seeds, e._np_episodes, rows, advance, e.levels.lo, e.levels.span, keys, ids)
    level_ids = torch.from_numpy(ids) if level_ids is None else e.levels.check(level_ids)
    grid, spawn, facing = e.levels.fetch(idx, level_ids, e.seeds, e.episodes)
    _start.for_batch(m)(
        e._np_state,
        rows,
        keys,
        grid.reshape(m, -1).numpy(),
        spawn.reshape(m, -1).numpy(),
        facing.numpy(),
        e._np_colours,
        e.goal_code,
        e.pad,
        e.side,
        e.config.size,
    )
    e.level_ids[idx] = level_ids
    e.levels.prefetch(e.seeds, e.episodes)


# ------------------------------------------------------------------------------------------------------- step
def torch_step(e, actions: torch.Tensor):
    """One move of every game in torch ops: ``(reward, terminated, truncated, success)``."""
    flat_grid = e.grid.view(e.num_envs, -1)
    if e.config.actions is ActionSet.CARDINAL:
        e.heading.copy_(actions)  # in place: never alias the caller's tensor, keep the numpy views
        moving = torch.ones_like(actions, dtype=torch.bool)
    else:
        e.heading.copy_((e.heading + e._turn[actions]) % 4)
        moving = actions == 2
    here = (e.pos[:, 0] + e.pad) * e.side + e.pos[:, 1] + e.pad
    target = here + e._flat_delta[e.heading]
    cell = flat_grid.gather(1, target[:, None]).squeeze(1)
    code = cell.long()
    blocks, locked, clears, gives_key, ends, wins = e._tile_props[code].unbind(1)
    blocked = blocks | (locked & ~e.has_key)
    moved = moving & ~blocked
    takes = moved & clears
    flat_grid.scatter_(1, target[:, None], torch.where(takes, e.tiles.floor, cell)[:, None])
    e.has_key |= moved & gives_key
    e.pos += e._deltas[e.heading] * moved[:, None]
    e.t += 1
    success = moved & wins
    terminated = moved & ends
    if e.max_episode_steps is not None:
        # As gymnasium's TimeLimit: the limit truncates even a step that also terminates.
        truncated = e.t >= e.max_episode_steps
    else:
        truncated = torch.zeros_like(terminated)
    horizon = e.config.reward_horizon  # past it a success pays 0.1: never less than a failure's 0
    reward = torch.where(success, 1.0 - 0.9 * e.t.float().clamp(max=horizon) / horizon, 0.0)
    if e.tiles.pays:
        reward = reward + torch.where(moved, e._tile.reward[code], 0.0)
    return reward, terminated, truncated, success


@twin
def _step(s, tiles, actions, turn, pad, side, max_steps, horizon, reward, terminated, truncated, success):
    """One move of every maze game: ``s`` a :class:`MazeState`, ``tiles`` the table's
    :class:`~mazearena.envs.engine.cells.TileArrays` (as plain tuples: numba unboxes those faster than named
    ones, and a game played alone pays that every step); results are written into the last four arrays."""
    grid, pos, heading, has_key, t = s
    blocks, locked, clears, gives_key, ends, wins, pays, _, _ = tiles
    for i in prange(grid.shape[0]):
        a = actions[i]
        if turn:
            h = (heading[i] + _TURN[a]) % 4
            moving = a == 2
        else:
            h = a
            moving = True
        heading[i] = h
        target = (pos[i, 0] + pad + DY[h]) * side + pos[i, 1] + pad + DX[h]
        cell = grid[i, target]
        blocked = blocks[cell] or (locked[cell] and not has_key[i])
        moved = moving and not blocked
        if moved:
            if clears[cell]:
                grid[i, target] = _FLOOR
            if gives_key[cell]:
                has_key[i] = True
            pos[i, 0] += DY[h]
            pos[i, 1] += DX[h]
        t[i] += 1
        won = moved and wins[cell]
        success[i] = won
        terminated[i] = moved and ends[cell]
        truncated[i] = max_steps > 0 and t[i] >= max_steps
        # float32 arithmetic in torch's order, so rewards match the torch path bit for bit
        r = np.float32(0.0)
        if won:
            r = np.float32(1.0) - np.float32(0.9) * min(np.float32(t[i]), horizon) / horizon
        if moved:
            r += pays[cell]  # + 0.0 for tiles that pay nothing of their own: the same bits
        reward[i] = r


def kernel_step(e, actions: torch.Tensor):
    """:func:`torch_step` compiled (:func:`_step`), on the engine's numpy views."""
    n = e.num_envs
    reward = torch.empty(n, dtype=torch.float32)
    terminated, truncated, success = (torch.empty(n, dtype=torch.bool) for _ in range(3))
    _step.for_batch(n)(
        e._np_state,
        e._tile_arrays,
        actions.contiguous().numpy(),
        e.config.actions is ActionSet.TURN,
        e.pad,
        e.side,
        e.max_episode_steps or 0,
        np.float32(e.config.reward_horizon),
        reward.numpy(),
        terminated.numpy(),
        truncated.numpy(),
        success.numpy(),
    )
    return reward, terminated, truncated, success


# ---------------------------------------------------------------------------------------------------- observe
def torch_observe(e, idx: torch.Tensor | None) -> torch.Tensor:
    """Observations of all games (or the games ``idx``) in torch ops, in the engine's native layout."""
    mode = e.config.obs_mode
    flat_grid = e.grid.view(e.num_envs, -1)
    pos, heading, has_key = e.pos, e.heading, e.has_key
    if idx is not None:  # indexing copies, so only when asked for a subset
        flat_grid, pos, heading, has_key = flat_grid[idx], pos[idx], heading[idx], has_key[idx]
    n = len(pos)
    here = (pos[:, 0] + e.pad) * e.side + pos[:, 1] + e.pad
    if mode is MazeObsMode.FULL:
        codes = flat_grid
        agent_at, facing_at = here, here + e._flat_delta[heading]
    else:
        # North-up views share one offset table; rotated views pick the table of each heading.
        offsets = e._view_flat[heading] if e.config.actions is ActionSet.TURN else e._view_flat[0]
        codes = flat_grid.gather(1, here[:, None] + offsets)
        v = e.config.view_size
        centre = (v * v) // 2
        agent_at = torch.full_like(here, centre)
        # In the rotated view the agent always faces up; north-up, it faces its heading.
        face = heading if e.config.actions is ActionSet.CARDINAL else torch.zeros_like(heading)
        facing_at = centre + e._deltas[face, 0] * v + e._deltas[face, 1]
    if mode is MazeObsMode.RGB:
        face = heading if e.config.actions is ActionSet.CARDINAL else torch.zeros_like(heading)
        tiles = codes.long()
        tiles[:, centre] = agent_tiles(face, has_key)
        return e._pixels(tiles)
    channels = len(e.channels)
    obs = torch.zeros(n, channels, codes.shape[1], dtype=torch.uint8, device=e.device)
    # Written straight into the buffer through a bool view: one pass instead of compare, cast and copy.
    planes = obs.view(torch.bool)[:, : e._cell_codes.shape[1]]
    torch.eq(codes[:, None, :], e._cell_codes, out=planes)
    for more in e._more_codes:  # planes lit by more than one tile (a goal and its decoy)
        planes |= codes[:, None, :] == more
    r = torch.arange(n, device=e.device)
    obs[r, e._agent_plane, agent_at] = 1
    obs[r, e._facing_plane, facing_at] = 1
    obs[:, e._key_plane] = has_key[:, None].to(torch.uint8)
    return obs.view(n, channels, *e._obs_hw())


@twin
def _observe(s, tiles, idx, full, turn, view, pad, side, v, out):
    """One-hot planes ``out[m, C, K]`` of the games ``idx``: one per tile plane (the table's ``lights``), then
    agent, facing and has_key; ``view[h]`` are the flat offsets of the view. Each game's cells are read once
    into a row of codes, then its planes are written plane by plane from the lookup table."""
    grid, pos, heading, has_key, _ = s
    lights = tiles[-1]
    k = out.shape[2]
    planes = lights.shape[1]
    for j in prange(idx.shape[0]):
        i = idx[j]
        here = (pos[i, 0] + pad) * side + pos[i, 1] + pad
        h = heading[i]
        o = out[j]
        if full:
            start, offsets = 0, view[0]  # unused offsets: the full view reads the grid in order
            agent = here
            facing = here + DY[h] * side + DX[h]
        else:
            start, offsets = here, view[h] if turn else view[0]
            agent = k // 2
            f = 0 if turn else h
            facing = agent + DY[f] * v + DX[f]
        codes = np.empty(k, dtype=np.uint8)
        for c in range(k):
            codes[c] = grid[i, c] if full else grid[i, start + offsets[c]]
        for ch in range(planes):
            for c in range(k):
                o[ch, c] = lights[codes[c], ch]
        o[planes, :] = 0
        o[planes + 1, :] = 0
        o[planes + 2, :] = 1 if has_key[i] else 0
        o[planes, agent] = 1
        o[planes + 1, facing] = 1


@twin
def _view_codes(s, idx, turn, view, pad, side, agent_tile, out):
    """Cell codes ``out[m, V*V]`` of the partial views, the agent's sprite index at the centre."""
    grid, pos, heading, has_key, _ = s
    k = out.shape[1]
    for j in prange(idx.shape[0]):
        i = idx[j]
        here = (pos[i, 0] + pad) * side + pos[i, 1] + pad
        h = heading[i]
        offsets = view[h] if turn else view[0]
        for c in range(k):
            out[j, c] = grid[i, here + offsets[c]]
        out[j, k // 2] = agent_tile + (0 if turn else h) + (4 if has_key[i] else 0)


def kernel_observe(e, idx: torch.Tensor | None) -> torch.Tensor:
    """:func:`torch_observe` compiled (:func:`_observe`, :func:`_view_codes`)."""
    rows = e._np_all if idx is None else idx.contiguous().numpy()
    if e.config.obs_mode is MazeObsMode.RGB:
        v = e.config.view_size
        tiles = torch.empty(len(rows), v * v, dtype=torch.long)
        kernel_view_codes(e, rows, tiles.numpy())
        return e._pixels(tiles)
    hw = e._obs_hw()
    obs = torch.empty(len(rows), len(e.channels), hw[0] * hw[1], dtype=torch.uint8)
    kernel_planes(e, rows, obs.numpy())
    return obs.view(len(rows), len(e.channels), *hw)


def kernel_planes(e, rows: np.ndarray, out: np.ndarray) -> None:
    """The compiled one-hot observation of the games ``rows`` into ``out [m, C, K]`` (no torch op)."""
    cfg = e.config
    _observe.for_batch(len(rows))(
        e._np_state,
        e._tile_arrays,
        rows,
        cfg.obs_mode is MazeObsMode.FULL,
        cfg.actions is ActionSet.TURN,
        e._np_view,
        e.pad,
        e.side,
        cfg.view_size,
        out,
    )


def kernel_view_codes(e, rows: np.ndarray, out: np.ndarray) -> None:
    """The compiled sprite indices of the partial views of the games ``rows`` into ``out [m, V*V]``."""
    _view_codes.for_batch(len(rows))(
        e._np_state,
        rows,
        e.config.actions is ActionSet.TURN,
        e._np_view,
        e.pad,
        e.side,
        agent_tile(),
        out,
    )


# numba resolves globals, not attributes: the serial builds under names of their own
_serial_step, _serial_observe, _serial_view_codes = _step.serial, _observe.serial, _view_codes.serial


@njit(cache=True, nogil=True)
def step_observe(
    s,
    tiles,
    actions,
    turn,
    pad,
    side,
    max_steps,
    horizon,
    reward,
    terminated,
    truncated,
    success,
    rows,
    full,
    view,
    v,
    obs,
    codes,
    agent_tile,
):
    """:func:`_step` then the observation of ``rows`` (one-hot planes into ``obs``, or sprite indices into
    ``codes`` where ``obs`` is empty), in one call: a game played alone pays the call overhead once a step."""
    _serial_step(s, tiles, actions, turn, pad, side, max_steps, horizon, reward, terminated, truncated, success)
    if obs.shape[0] > 0:
        _serial_observe(s, tiles, rows, full, turn, view, pad, side, v, obs)
    else:
        _serial_view_codes(s, rows, turn, view, pad, side, agent_tile, codes)


TWINS = {torch_start: (_episode_draws, _start), torch_step: (_step,), torch_observe: (_observe, _view_codes)}
"""Each rule in torch and its compiled twins (``tests/envs/test_rules.py`` checks the list; ``_episode_draws``
also follows :meth:`~mazearena.envs.engine.levels.LevelSource.level_id`)."""
