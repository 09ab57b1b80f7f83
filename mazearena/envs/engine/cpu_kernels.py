"""The maze rules as compiled loops for the CPU: one pass over each game instead of dozens of tensor ops.

On the CPU a torch step costs a few microseconds per operation whatever the batch, and a step is some
forty operations, so the per-op cost, not the arithmetic, sets the speed. These numba kernels do the same
work game by game, in place on numpy views of the engine's tensors, in parallel over games for big batches.
They follow :meth:`MazeEngine._torch_step` and :meth:`MazeEngine._torch_observe` rule for rule;
``tests/envs/test_engine.py`` runs both on the same games and requires identical results.

Grids are flat ``[n, side * side]`` uint8 with a wall border of ``pad`` cells; positions are ``(y, x)``
without the border. Cell codes and headings are those of :mod:`mazearena.envs.engine.grid`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Cell codes (grid.Cell), repeated here as literals the compiler folds.
_FLOOR, _WALL, _GOAL, _KEY, _DOOR, _LAVA = 0, 1, 2, 3, 4, 5
# One-hot channel of each cell code (-1: no channel), in the order of engine.maze.CHANNELS.
_CHANNEL_OF = np.array([-1, 0, 1, 2, 3, 4], dtype=np.int64)
_DY = np.array([-1, 0, 1, 0], dtype=np.int64)
_DX = np.array([0, 1, 0, -1], dtype=np.int64)
_TURN = np.array([-1, 1, 0], dtype=np.int64)

# Batches at least this large are split across threads; smaller ones run on the calling thread.
PARALLEL_FROM = 256


def _step(grid, pos, heading, has_key, t, actions, turn, pad, side, max_steps, horizon,
          reward, terminated, truncated, success):  # fmt: skip
    for i in prange(grid.shape[0]):
        a = actions[i]
        if turn:
            h = (heading[i] + _TURN[a]) % 4
            moving = a == 2
        else:
            h = a
            moving = True
        heading[i] = h
        target = (pos[i, 0] + pad + _DY[h]) * side + pos[i, 1] + pad + _DX[h]
        cell = grid[i, target]
        blocked = cell == _WALL or (cell == _DOOR and not has_key[i])
        moved = moving and not blocked
        if moved:
            if cell == _KEY or cell == _DOOR:
                grid[i, target] = _FLOOR
            if cell == _KEY:
                has_key[i] = True
            pos[i, 0] += _DY[h]
            pos[i, 1] += _DX[h]
        t[i] += 1
        won = moved and cell == _GOAL
        success[i] = won
        terminated[i] = won or (moved and cell == _LAVA)
        truncated[i] = max_steps > 0 and t[i] >= max_steps
        # float32 arithmetic in torch's order, so rewards match the torch path bit for bit
        if won:
            reward[i] = np.float32(1.0) - np.float32(0.9) * np.float32(t[i]) / horizon
        else:
            reward[i] = np.float32(0.0)


def _observe(grid, pos, heading, has_key, idx, full, turn, view, pad, side, v, out):
    """One-hot planes ``out[m, 8, K]`` of the games ``idx``; ``view[h]`` are the flat offsets of the view."""
    k = out.shape[2]
    for j in prange(idx.shape[0]):
        i = idx[j]
        here = (pos[i, 0] + pad) * side + pos[i, 1] + pad
        h = heading[i]
        o = out[j]
        o[:, :] = 0
        if full:
            for c in range(k):
                ch = _CHANNEL_OF[grid[i, c]]
                if ch >= 0:
                    o[ch, c] = 1
            agent = here
            facing = here + _DY[h] * side + _DX[h]
        else:
            offsets = view[h] if turn else view[0]
            for c in range(k):
                ch = _CHANNEL_OF[grid[i, here + offsets[c]]]
                if ch >= 0:
                    o[ch, c] = 1
            agent = k // 2
            f = 0 if turn else h
            facing = agent + _DY[f] * v + _DX[f]
        o[5, agent] = 1
        o[6, facing] = 1
        if has_key[i]:
            o[7, :] = 1


def _view_codes(grid, pos, heading, has_key, idx, turn, view, pad, side, agent_tile, out):
    """Cell codes ``out[m, V*V]`` of the partial views, the agent's sprite index at the centre."""
    k = out.shape[1]
    for j in prange(idx.shape[0]):
        i = idx[j]
        here = (pos[i, 0] + pad) * side + pos[i, 1] + pad
        h = heading[i]
        offsets = view[h] if turn else view[0]
        for c in range(k):
            out[j, c] = grid[i, here + offsets[c]]
        out[j, k // 2] = agent_tile + (0 if turn else h) + (4 if has_key[i] else 0)


def _bfs(passable, sources, side, unreachable, out):
    """Multi-source breadth-first search: ``out[b, c]`` = steps from cell c to the nearest source of grid b.

    ``passable`` and ``sources`` are ``[B, side * side]`` bool; cells off ``passable`` (and unreached ones)
    get ``unreachable``. Sources count even where they are not passable, as :func:`layouts._relax` does.
    """
    n = side * side
    for b in prange(passable.shape[0]):
        queue = np.empty(n, dtype=np.int64)
        head, tail = 0, 0
        for c in range(n):
            if sources[b, c]:
                out[b, c] = 0
                queue[tail] = c
                tail += 1
            else:
                out[b, c] = unreachable
        while head < tail:
            c = queue[head]
            head += 1
            d = out[b, c] + 1
            y, x = c // side, c % side
            for k in range(4):
                ny, nx = y + _DY[k], x + _DX[k]
                if ny < 0 or ny >= side or nx < 0 or nx >= side:
                    continue
                nc = ny * side + nx
                if passable[b, nc] and out[b, nc] > d:
                    out[b, nc] = d
                    queue[tail] = nc
                    tail += 1


def _arena_observe(walls, pos, alive, team, health, carrying, flags, show_flags, chaser_team, v, out):
    """Arena grid views ``out[B, A, 9, V*V]`` (channels of ``engine.arena.CHANNELS``), as
    :meth:`ArenaEngine._torch_grid_obs` draws them: agents out of the game see nothing."""
    b_n, a_n = pos.shape[0], pos.shape[1]
    s = walls.shape[1]
    s = int(np.sqrt(s))
    p = v // 2
    for b in prange(b_n):
        occ = np.full(s * s, -1, dtype=np.int64)
        for j in range(a_n):
            if alive[b, j]:
                occ[pos[b, j, 0] * s + pos[b, j, 1]] = j
        for i in range(a_n):
            o = out[b, i]
            o[:, :] = 0
            if not alive[b, i]:
                continue
            me = team[i]
            for r in range(v):
                wy = pos[b, i, 0] + r - p
                for c in range(v):
                    wx = pos[b, i, 1] + c - p
                    k = r * v + c
                    if wy < 0 or wy >= s or wx < 0 or wx >= s:
                        o[0, k] = 1
                        continue
                    cell = wy * s + wx
                    if walls[b, cell]:
                        o[0, k] = 1
                    j = occ[cell]
                    if j >= 0:
                        if j == i:
                            o[1, k] = 1
                        elif team[j] == me:
                            o[2, k] = 1
                        else:
                            o[3, k] = 1
                        o[4, k] = health[b, j]
                        if carrying[b, j]:
                            o[7, k] = 1
                        if team[j] == chaser_team:
                            o[8, k] = 1
                    if show_flags:
                        for f in range(2):
                            if flags[b, f, 0] == wy and flags[b, f, 1] == wx:
                                o[5 if f == me else 6, k] = 1


def _arena_respawn(who, pos, alive, team, base_dist, unreachable):
    """Move the agents ``who[B, A]`` to the free cells nearest their base, one agent at a time in index order,
    as :meth:`ArenaEngine._torch_respawn` does (ties go to the lowest cell index)."""
    b_n, a_n = pos.shape[0], pos.shape[1]
    n = base_dist.shape[2]
    s = int(np.sqrt(n))
    for b in prange(b_n):
        occupied = np.zeros(n, dtype=np.bool_)
        for j in range(a_n):
            if alive[b, j]:
                occupied[pos[b, j, 0] * s + pos[b, j, 1]] = True
        for k in range(a_n):
            if not who[b, k]:
                continue
            occupied[pos[b, k, 0] * s + pos[b, k, 1]] = False
            best, best_cost = 0, unreachable * 4
            for c in range(n):
                cost = base_dist[b, team[k], c] + (unreachable if occupied[c] else 0)
                if cost < best_cost:
                    best, best_cost = c, cost
            pos[b, k, 0], pos[b, k, 1] = best // s, best % s
            occupied[best] = True


_KERNELS = (_step, _observe, _view_codes, _bfs, _arena_observe, _arena_respawn)
_SERIAL = {f.__name__: njit(cache=True, nogil=True)(f) for f in _KERNELS}
_PARALLEL = {f.__name__: njit(cache=True, nogil=True, parallel=True)(f) for f in _KERNELS}


def kernel(name: str, batch: int):
    """The compiled kernel ``name`` (a function of this module, e.g. ``"_step"``) for a batch this size."""
    return (_PARALLEL if batch >= PARALLEL_FROM else _SERIAL)[name]
