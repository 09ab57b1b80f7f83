"""The rules as compiled loops for the CPU: one pass over each game instead of dozens of tensor ops.

On the CPU a torch step costs a few microseconds per operation whatever the batch, and a step is some
forty operations, so the per-op cost, not the arithmetic, sets the speed. These numba kernels do the same
work game by game, in place on numpy views of the engine's tensors (handed over as the structures
:class:`MazeState` and :class:`ArenaState`, unpacked by name at the top of each kernel), in parallel over
games for big batches. What a maze tile does is
read from the tile table (:class:`~mazearena.envs.engine.cells.TileArrays`), never written here.
They follow :meth:`MazeEngine._torch_step`, :meth:`MazeEngine._start` and :meth:`ArenaEngine._torch_core`
rule for rule, and draw with :mod:`mazearena.rng`'s hash (on uint64 here);
``tests/envs/test_engine.py``, ``test_arena.py`` and ``test_golden.py`` require identical results.

Grids are flat ``[n, side * side]`` uint8 with a wall border of ``pad`` cells; positions are ``(y, x)``
without the border. Headings are those of :mod:`mazearena.envs.engine.grid`.
"""

from __future__ import annotations

import types
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from mazearena.envs.engine.cells import ARENA_CHANNELS
from mazearena.rng import STREAM_CUE, STREAM_HEADING, STREAM_LEVEL, STREAM_SPAWN

_DY = np.array([-1, 0, 1, 0], dtype=np.int64)
_DX = np.array([0, 1, 0, -1], dtype=np.int64)
_TURN = np.array([-1, 1, 0], dtype=np.int64)
_FLOOR = 0  # the tile table's floor code

# Arena grid planes by name (compile-time constants).
_C_WALL, _C_SELF, _C_ALLY, _C_ENEMY, _C_HEALTH, _C_OWN_FLAG, _C_ENEMY_FLAG, _C_CARRIER, _C_CHASER = (
    ARENA_CHANNELS.index(name)
    for name in ("wall", "self", "ally", "enemy", "health", "own_flag", "enemy_flag", "carrier", "chaser")
)

# Batches at least this large are split across threads; smaller ones run on the calling thread.
PARALLEL_FROM = 256


class MazeState(NamedTuple):
    """Numpy views of a :class:`~mazearena.envs.engine.maze.MazeEngine`'s state, as the kernels take it."""

    grid: np.ndarray  # [n, side * side] uint8 cell codes
    pos: np.ndarray  # [n, 2] int64 (y, x) without the border
    heading: np.ndarray  # [n] int64
    has_key: np.ndarray  # [n] bool
    t: np.ndarray  # [n] int64 steps taken


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
        target = (pos[i, 0] + pad + _DY[h]) * side + pos[i, 1] + pad + _DX[h]
        cell = grid[i, target]
        blocked = blocks[cell] or (locked[cell] and not has_key[i])
        moved = moving and not blocked
        if moved:
            if clears[cell]:
                grid[i, target] = _FLOOR
            if gives_key[cell]:
                has_key[i] = True
            pos[i, 0] += _DY[h]
            pos[i, 1] += _DX[h]
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
            facing = here + _DY[h] * side + _DX[h]
        else:
            start, offsets = here, view[h] if turn else view[0]
            agent = k // 2
            f = 0 if turn else h
            facing = agent + _DY[f] * v + _DX[f]
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


# mazearena.rng's splitmix64 hash on uint64 (int64 bits reinterpreted): the same draws as its torch version.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_LEVEL, _STREAM_SPAWN, _STREAM_HEADING, _STREAM_CUE = (
    np.uint64(k) for k in (STREAM_LEVEL, STREAM_SPAWN, STREAM_HEADING, STREAM_CUE)
)


@njit(cache=True, nogil=True)
def _mix64(x):
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def _hash(first, key):
    """:func:`mazearena.rng.hash_ints` of two keys (uint64)."""
    return _mix64(_mix64(first + _GOLDEN) ^ (key + _GOLDEN))


@njit(cache=True, nogil=True)
def _below(h, n):
    """:func:`mazearena.rng.randint`'s last step: a hash as an integer in ``[0, n)``."""
    return np.int64((h >> np.uint64(33)) % np.uint64(n))


def _episode_draws(seeds, episodes, rows, advance, lo, span, keys, level_ids):
    """Per game ``rows[j]`` (its episode number first advanced by one if ``advance``): the episode's key
    (``hash_ints(seed, episode)``) into ``keys[j]`` and the level it plays (:meth:`LevelSource.level_id`) into
    ``level_ids[j]``."""
    for j in prange(rows.shape[0]):
        i = rows[j]
        if advance:
            episodes[i] += 1
        seed, episode = np.uint64(seeds[i]), np.uint64(episodes[i])
        keys[j] = np.int64(_hash(seed, episode))
        level = _mix64(_hash(seed, _STREAM_LEVEL) ^ (episode + _GOLDEN))
        level_ids[j] = lo + _below(level, span)


def _start(s, rows, keys, levels, spawns, colours, pad, side, size):
    """The first state of the episodes of the games ``rows``, as :meth:`MazeEngine._start` draws it: the level
    ``levels[j]`` (flat cell codes; memory levels recoloured by ``colours`` [goals, codes], which is empty for
    other levels) into the grid inside its border, the start the ``keys[j]``-th draw picks among the
    ``spawns[j]`` cells, a drawn heading, no key, no steps."""
    grid, pos, heading, has_key, t = s
    for j in prange(rows.shape[0]):
        i = rows[j]
        key = np.uint64(keys[j])
        colour = _below(_hash(key, _STREAM_CUE), colours.shape[0]) if colours.shape[0] > 0 else -1
        count = 0
        for y in range(size):
            for x in range(size):
                code = levels[j, y * size + x]
                if colour >= 0:
                    code = colours[colour, code]
                grid[i, (y + pad) * side + x + pad] = code
                count += spawns[j, y * size + x]
        pick = _below(_hash(key, _STREAM_SPAWN), count)
        cell = 0
        for c in range(size * size):
            if spawns[j, c]:
                if pick == 0:
                    cell = c
                    break
                pick -= 1
        pos[i, 0], pos[i, 1] = cell // size, cell % size
        heading[i] = _below(_hash(key, _STREAM_HEADING), 4)
        has_key[i] = False
        t[i] = 0


def _kruskal(weight, allowed, edge_u, edge_v, nodes, in_tree):
    """Kruskal's minimum spanning forest of each level ``b``: its ``allowed`` edges in order of ``weight``
    (distinct), each kept in ``in_tree[b]`` where it joins two trees (a union-find with path halving)."""
    for b in prange(weight.shape[0]):
        parent = np.arange(nodes)
        for e in np.argsort(weight[b]):
            if not allowed[b, e]:
                continue
            u, v = edge_u[e], edge_v[e]
            while parent[u] != u:
                parent[u] = parent[parent[u]]
                u = parent[u]
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            if u != v:
                parent[u] = v
                in_tree[b, e] = True


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


def _arena_observe(rows, st, show_flags, combat, chaser_team, v, out):
    """Grid views ``out[m, A, 9, V*V]`` of the arena games ``rows`` (channels of ``cells.ARENA_CHANNELS``), as
    :meth:`ArenaEngine._torch_grid_obs` draws them: agents out of the game see nothing. A flag is on its
    base unless an enemy carries it."""
    walls, pos, _, alive, health, carrying, _, bases, _, team, _, _ = st
    a_n = pos.shape[1]
    s = int(np.sqrt(walls.shape[1]))
    p = v // 2
    for g in prange(rows.shape[0]):
        b = rows[g]
        occ = np.full(s * s, -1, dtype=np.int64)
        flags = bases[b].copy()
        for j in range(a_n):
            if alive[b, j]:
                occ[pos[b, j, 0] * s + pos[b, j, 1]] = j
            if carrying[b, j]:
                flags[1 - team[j], 0], flags[1 - team[j], 1] = pos[b, j, 0], pos[b, j, 1]
        for i in range(a_n):
            o = out[g, i]
            if not alive[b, i]:
                o[:, :] = 0
                continue
            me = team[i]
            own_y, own_x = flags[me, 0], flags[me, 1]
            foe_y, foe_x = flags[1 - me, 0], flags[1 - me, 1]
            for r in range(v):
                wy = pos[b, i, 0] + r - p
                for c in range(v):
                    wx = pos[b, i, 1] + c - p
                    k = r * v + c
                    wall, slf, ally, enemy, hp, own, foe, carrier, chaser = 1, 0, 0, 0, 0, 0, 0, 0, 0
                    if 0 <= wy < s and 0 <= wx < s:
                        cell = wy * s + wx
                        wall = 1 if walls[b, cell] else 0
                        j = occ[cell]
                        if j >= 0:
                            if j == i:
                                slf = 1
                            elif team[j] == me:
                                ally = 1
                            else:
                                enemy = 1
                            hp = health[b, j] if combat else 1
                            carrier = 1 if carrying[b, j] else 0
                            chaser = 1 if team[j] == chaser_team else 0
                        if show_flags:
                            own = 1 if (own_y == wy and own_x == wx) else 0
                            foe = 1 if (foe_y == wy and foe_x == wx) else 0
                    o[_C_WALL, k], o[_C_SELF, k], o[_C_ALLY, k], o[_C_ENEMY, k] = wall, slf, ally, enemy
                    o[_C_HEALTH, k], o[_C_OWN_FLAG, k], o[_C_ENEMY_FLAG, k] = hp, own, foe
                    o[_C_CARRIER, k], o[_C_CHASER, k] = carrier, chaser


_TAG, _CTF, _COMBAT = 0, 1, 2
_ADY = np.array([0, -1, 0, 1, 0, 0], dtype=np.int64)  # actions: stay, N, E, S, W, attack
_ADX = np.array([0, 0, 1, 0, -1, 0], dtype=np.int64)


@njit(cache=True, nogil=True)
def _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s):
    """Path steps agent i of game b has left in ``ctf`` (:meth:`ArenaEngine.steps_to_goal`)."""
    own, enemy = team[i], 1 - team[i]
    here = pos[b, i, 0] * s + pos[b, i, 1]
    if carrying[b, i]:
        return base_dist[b, own, here]
    return base_dist[b, enemy, here] + base_dist[b, own, bases[b, enemy, 0] * s + bases[b, enemy, 1]]


def _arena_step(
    actions,
    st,
    mode,
    max_cycles,
    chaser_team,
    captures_to_win,
    attack_range,
    pickup_reward,
    flag_shaping,
    unreachable,
    reward,
    terminated,
    truncated,
    active,
    decided,
):
    """One step of every arena game, rule for rule as :meth:`ArenaEngine._torch_core` (same order of float32
    operations, so rewards match bit for bit). State arrays are updated in place; respawns take the free
    cell nearest the base (ties: the lowest cell index), one agent at a time in index order."""
    walls, pos, heading, alive, health, carrying, score, bases, base_dist, team, focal, t = st
    b_n, a_n = pos.shape[0], pos.shape[1]
    n = walls.shape[1]
    s = int(np.sqrt(n))
    mid = s // 2
    for b in prange(b_n):
        occ = np.full(n, -1, dtype=np.int64)
        claimed = np.zeros(n, dtype=np.bool_)
        left = np.zeros(a_n, dtype=np.bool_)
        for i in range(a_n):
            active[b, i] = alive[b, i]
            reward[b, i] = np.float32(0.0)
            if alive[b, i]:
                occ[pos[b, i, 0] * s + pos[b, i, 1]] = i
        shaping = mode == _CTF and flag_shaping != 0.0
        steps_before = np.zeros(a_n, dtype=np.int64)
        if shaping:
            for i in range(a_n):
                steps_before[i] = _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s)
        # moves: into cells free at the start of the step, the lowest index first
        for i in range(a_n):
            act = actions[b, i] if alive[b, i] else 0
            if act < 1 or act > 4:
                continue
            heading[b, i] = act - 1
            ty, tx = pos[b, i, 0] + _ADY[act], pos[b, i, 1] + _ADX[act]
            cell = ty * s + tx
            if walls[b, cell] or occ[cell] >= 0 or claimed[cell]:
                continue
            claimed[cell] = True
            pos[b, i, 0], pos[b, i, 1] = ty, tx
        done = False
        if mode == _TAG:
            catches = 0
            for i in range(a_n):
                if team[i] == chaser_team or not alive[b, i]:
                    continue
                for j in range(a_n):
                    if (
                        team[j] == chaser_team
                        and alive[b, j]
                        and (abs(pos[b, i, 0] - pos[b, j, 0]) + abs(pos[b, i, 1] - pos[b, j, 1]) <= 1)
                    ):
                        left[i] = True
                if left[i]:
                    catches += 1
            runners_left = False
            for i in range(a_n):
                if team[i] != chaser_team:
                    if left[i]:
                        reward[b, i] = np.float32(-1.0)
                    elif alive[b, i]:
                        reward[b, i] = np.float32(1.0 / max_cycles)
                        runners_left = True
                elif active[b, i]:
                    reward[b, i] = np.float32(catches)
            done = not runners_left
        elif mode == _CTF:
            tagged = np.zeros(a_n, dtype=np.bool_)
            for i in range(a_n):
                if not alive[b, i]:
                    continue
                xi = pos[b, i, 1]
                if not ((team[i] == 0 and xi > mid) or (team[i] == 1 and xi < mid)):
                    continue  # only agents in the enemy half can be tagged
                for j in range(a_n):
                    if team[j] == team[i] or not alive[b, j]:
                        continue
                    xj = pos[b, j, 1]
                    home = (team[j] == 0 and xj < mid) or (team[j] == 1 and xj > mid)
                    if home and abs(pos[b, i, 0] - pos[b, j, 0]) + abs(xi - xj) <= 1:
                        tagged[i] = True
            any_tagged = False
            for i in range(a_n):
                if tagged[i]:
                    carrying[b, i] = False
                    any_tagged = True
            if any_tagged:  # respawn on the free cell nearest the base, one agent at a time in index order
                occupied = np.zeros(n, dtype=np.bool_)
                for j in range(a_n):
                    if alive[b, j]:
                        occupied[pos[b, j, 0] * s + pos[b, j, 1]] = True
                for k in range(a_n):
                    if not tagged[k]:
                        continue
                    occupied[pos[b, k, 0] * s + pos[b, k, 1]] = False
                    best, best_cost = 0, 2**62
                    for c in range(n):
                        cost = base_dist[b, team[k], c] + (unreachable if occupied[c] else 0)
                        if cost < best_cost:
                            best, best_cost = c, cost
                    pos[b, k, 0], pos[b, k, 1] = best // s, best % s
                    occupied[best] = True
            flag_home = np.ones(2, dtype=np.bool_)
            for i in range(a_n):
                if carrying[b, i]:
                    flag_home[1 - team[i]] = False
            taken = np.zeros(2, dtype=np.bool_)  # per taking team: the lowest index takes
            for i in range(a_n):
                e = 1 - team[i]
                if (
                    alive[b, i]
                    and flag_home[e]
                    and not taken[team[i]]
                    and pos[b, i, 0] == bases[b, e, 0]
                    and pos[b, i, 1] == bases[b, e, 1]
                ):
                    carrying[b, i] = True
                    taken[team[i]] = True
            gained = np.zeros(2, dtype=np.int64)
            for i in range(a_n):
                own = team[i]
                if carrying[b, i] and pos[b, i, 0] == bases[b, own, 0] and pos[b, i, 1] == bases[b, own, 1]:
                    carrying[b, i] = False
                    gained[own] += 1
            score[b, 0] += gained[0]
            score[b, 1] += gained[1]
            for i in range(a_n):
                reward[b, i] = np.float32(gained[team[i]]) - np.float32(gained[1 - team[i]])
                if pickup_reward != 0.0:
                    took = np.float32(taken[team[i]]) - np.float32(taken[1 - team[i]])
                    reward[b, i] += np.float32(pickup_reward) * took
                if shaping:
                    steps = _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s)
                    reward[b, i] += np.float32(flag_shaping) * (np.float32(steps_before[i] - steps) / np.float32(s))
            done = score[b, 0] >= captures_to_win or score[b, 1] >= captures_to_win
        else:
            occ[:] = -1
            for i in range(a_n):
                if alive[b, i]:
                    occ[pos[b, i, 0] * s + pos[b, i, 1]] = i
            victim = np.full(a_n, -1, dtype=np.int64)
            for i in range(a_n):
                if not (active[b, i] and actions[b, i] == 5):
                    continue
                dy, dx = _ADY[heading[b, i] + 1], _ADX[heading[b, i] + 1]
                for r in range(1, attack_range + 1):
                    y, x = pos[b, i, 0] + dy * r, pos[b, i, 1] + dx * r
                    if y < 0 or y >= s or x < 0 or x >= s or walls[b, y * s + x]:
                        break
                    j = occ[y * s + x]
                    if j >= 0:
                        if team[j] != team[i]:
                            victim[i] = j
                        break
            before = health[b].copy()
            for i in range(a_n):
                if victim[i] >= 0:
                    health[b, victim[i]] -= 1
            for i in range(a_n):
                left[i] = before[i] > 0 and health[b, i] <= 0 and alive[b, i]
                health[b, i] = max(health[b, i], 0)  # two hits on the last point: 0, not -1
            standing = np.zeros(2, dtype=np.bool_)
            for i in range(a_n):
                if alive[b, i] and not left[i]:
                    standing[team[i]] = True
            done = not (standing[0] and standing[1])
            for i in range(a_n):
                hit = victim[i] >= 0
                kill = hit and left[victim[i]]
                r = np.float32(0.1) * np.float32(hit) + np.float32(kill) - np.float32(left[i])
                reward[b, i] += r
                if done and standing[team[i]] and alive[b, i] and not left[i]:
                    reward[b, i] += np.float32(1.0)
        any_focal = False
        for i in range(a_n):
            if left[i]:
                alive[b, i] = False
            if alive[b, i] and focal[i]:
                any_focal = True
        done = done or not any_focal
        t[b] += 1
        decided[b] = done
        for i in range(a_n):
            truncated[b, i] = t[b] >= max_cycles and alive[b, i]
            terminated[b, i] = left[i] or (done and alive[b, i])


_KERNELS = (_step, _observe, _episode_draws, _start, _kruskal, _view_codes, _bfs, _arena_observe, _arena_step)


def _parallel_twin(f):
    """``f`` under a name of its own (``f_parallel``). Numba keys its on-disk cache by the function's name and the
    argument types, not by compile options: the serial and the parallel build of one function would share an
    entry, and whichever was compiled first would be loaded for both (a serial call running the parallel build
    without its thread pool crashes; a parallel call running the serial build is slow)."""
    twin = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    twin.__qualname__ = f"{f.__qualname__}_parallel"
    return twin


_SERIAL = {f.__name__: njit(cache=True, nogil=True)(f) for f in _KERNELS}
_PARALLEL = {f.__name__: njit(cache=True, nogil=True, parallel=True)(_parallel_twin(f)) for f in _KERNELS}


_serial_step, _serial_observe, _serial_view_codes = _SERIAL["_step"], _SERIAL["_observe"], _SERIAL["_view_codes"]


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


def kernel(name: str, batch: int):
    """The compiled kernel ``name`` (a function of this module, e.g. ``"_step"``) for a batch this size."""
    return (_PARALLEL if batch >= PARALLEL_FROM else _SERIAL)[name]
