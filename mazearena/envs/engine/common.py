"""What both games' rules share: the compiled-kernel machinery, the hash on uint64, and two graph searches.

A rule is written twice, once in torch ops over the whole batch (any device) and once as a numba loop game by
game (the CPU, where a torch step pays a few microseconds per operation whatever the batch). The twins live side
by side in :mod:`maze_rules` and :mod:`arena_rules`; this module holds what they lean on:

* :func:`twin`: a kernel compiled twice, serial for small batches and parallel over games from
  :data:`PARALLEL_FROM` on;
* :func:`mix64`, :func:`hash2`, :func:`below`: :mod:`mazearena.rng`'s counter-based hash on uint64 (int64 bits
  reinterpreted), the same draws as its torch version;
* :func:`spanning_forest` (Kruskal compiled, Boruvka in torch: the same trees) and :func:`shortest_steps`
  (breadth-first search compiled, relaxation in torch: the same distances), each with its twin beside it.

``tests/envs/test_engine.py``, ``test_arena.py`` and ``test_golden.py`` hold every pair of twins together.
"""

from __future__ import annotations

import math
import types

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit, prange

UNREACHABLE = 2**30
"""Steps to a cell no path reaches (a plain int: it is added to int64 costs)."""

# Headings N, E, S, W as (dy, dx): those of :mod:`mazearena.envs.engine.grid`.
DY = np.array([-1, 0, 1, 0], dtype=np.int64)
DX = np.array([0, 1, 0, -1], dtype=np.int64)

PARALLEL_FROM = 256
"""Batches at least this large are split across threads; smaller ones run on the calling thread."""


# ---------------------------------------------------------------------------------------------- compiled twins
class Twin:
    """A kernel compiled twice: :attr:`serial` on the calling thread, :attr:`parallel` over games (``prange``)."""

    def __init__(self, f) -> None:
        self.__name__ = f.__name__
        self.__doc__ = f.__doc__
        self.serial = njit(cache=True, nogil=True)(f)
        self.parallel = njit(cache=True, nogil=True, parallel=True)(_parallel_copy(f))

    def for_batch(self, batch: int):
        """The build for a batch of ``batch`` games."""
        return self.parallel if batch >= PARALLEL_FROM else self.serial


def twin(f) -> Twin:
    """Decorator: ``f`` (a loop over games with ``prange``) as a :class:`Twin`."""
    return Twin(f)


def _parallel_copy(f):
    """``f`` under a name of its own (``f_parallel``). Numba keys its on-disk cache by the function's name and the
    argument types, not by compile options: the serial and the parallel build of one function would share an
    entry, and whichever was compiled first would be loaded for both (a serial call running the parallel build
    without its thread pool crashes; a parallel call running the serial build is slow)."""
    copy = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    copy.__qualname__ = f"{f.__qualname__}_parallel"
    return copy


# ---------------------------------------------------------------------------------------------- hashing
# mazearena.rng's splitmix64 hash on uint64 (int64 bits reinterpreted): the same draws as its torch version.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def mix64(x):
    """:func:`mazearena.rng.mix64` on one uint64."""
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def hash2(first, key):
    """:func:`mazearena.rng.hash_ints` of two keys (uint64)."""
    return mix64(mix64(first + GOLDEN) ^ (key + GOLDEN))


@njit(cache=True, nogil=True)
def below(h, n):
    """:func:`mazearena.rng.randint`'s last step: a hash as an integer in ``[0, n)``."""
    return np.int64((h >> np.uint64(33)) % np.uint64(n))


# ---------------------------------------------------------------------------------------------- spanning forests
def spanning_forest(
    weight: torch.Tensor, allowed: torch.Tensor, edge_u: torch.Tensor, edge_v: torch.Tensor, nodes: int, compiled: bool
) -> torch.Tensor:
    """``[B, E]`` bool: the minimum spanning forest of each graph ``b`` (``weight [B, E]`` distinct int64, only
    the ``allowed`` edges; edges join ``edge_u[e]`` and ``edge_v[e]`` of ``nodes`` nodes).

    ``compiled``: Kruskal's pass level by level (:func:`_kruskal`, CPU tensors); else Boruvka rounds in torch,
    O(log n) parallel rounds on any device. The minimum spanning forest of distinct weights is unique: the same
    trees either way.
    """
    b, num_edges = weight.shape
    if compiled:
        in_tree = torch.zeros(b, num_edges, dtype=torch.bool)
        _kruskal.for_batch(b)(
            weight.numpy(),
            allowed.expand(b, -1).contiguous().numpy(),
            edge_u.numpy(),
            edge_v.numpy(),
            nodes,
            in_tree.numpy(),
        )
        return in_tree
    never = torch.iinfo(torch.long).max
    weight = torch.where(allowed, weight, never)
    comp = torch.arange(nodes, device=weight.device).repeat(b, 1)
    in_tree = torch.zeros(b, num_edges, dtype=torch.bool, device=weight.device)
    eu, ev = edge_u.expand(b, -1), edge_v.expand(b, -1)
    for _ in range(nodes):
        cu, cv = comp.gather(1, eu), comp.gather(1, ev)
        live = (cu != cv) & allowed
        if not bool(live.any()):
            break
        w = torch.where(live, weight, never)
        best = torch.full((b, nodes), never, dtype=torch.long, device=weight.device)
        best.scatter_reduce_(1, cu, w, "amin")
        best.scatter_reduce_(1, cv, w, "amin")
        chosen = live & ((w == best.gather(1, cu)) | (w == best.gather(1, cv)))
        in_tree |= chosen
        comp = _merge_components(comp, cu, cv, chosen)
    return in_tree


def _merge_components(comp: torch.Tensor, cu: torch.Tensor, cv: torch.Tensor, join: torch.Tensor) -> torch.Tensor:
    """Relabel components joined by the edges in ``join`` to their smallest label (hook and jump)."""
    label = torch.arange(comp.shape[1], device=comp.device).repeat(comp.shape[0], 1)
    big = comp.shape[1]
    while True:
        a, c = label.gather(1, cu), label.gather(1, cv)
        low = torch.where(join, torch.minimum(a, c), big)
        new = label.clone()
        new.scatter_reduce_(1, a, low, "amin")
        new.scatter_reduce_(1, c, low, "amin")
        new = new.gather(1, new)
        new = new.gather(1, new)
        if torch.equal(new, label):
            return label.gather(1, comp)
        label = new


@twin
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


# ---------------------------------------------------------------------------------------------- shortest paths
RELAX_SWEEPS = 8


def shortest_steps(sources: torch.Tensor, passable: torch.Tensor) -> torch.Tensor:
    """``[B, S, S]`` steps from every cell to the nearest source cell, moving through ``passable`` cells.

    ``sources`` and ``passable`` are ``[B, S, S]`` bool; unreachable cells hold ``UNREACHABLE``. A breadth-
    first search compiled for the CPU there (:func:`_bfs`), batched relaxation in torch elsewhere (the same
    numbers).
    """
    if sources.device.type == "cpu":
        b, s, _ = sources.shape
        out = torch.empty(b, s * s, dtype=torch.long)
        _bfs.for_batch(b)(
            passable.reshape(b, -1).contiguous().numpy(),
            sources.reshape(b, -1).contiguous().numpy(),
            s,
            UNREACHABLE,
            out.numpy(),
        )
        return out.view(b, s, s)
    return relax(torch.where(sources, 0, UNREACHABLE), passable)


def relax(dist: torch.Tensor, passable: torch.Tensor) -> torch.Tensor:
    """Relax distances ``[B, S, S]`` to their fixed point (a cell off ``passable`` keeps its own). Convergence is
    checked every :data:`RELAX_SWEEPS` sweeps (a sweep past the fixed point changes nothing), so a GPU waits for
    the host that much less often."""
    while True:
        before = dist
        for _ in range(RELAX_SWEEPS):
            p = F.pad(dist, (1, 1, 1, 1), value=UNREACHABLE)
            vertical = torch.minimum(p[:, :-2, 1:-1], p[:, 2:, 1:-1])
            near = torch.minimum(vertical, torch.minimum(p[:, 1:-1, :-2], p[:, 1:-1, 2:]))
            dist = torch.where(passable, torch.minimum(dist, (near + 1).clamp(max=UNREACHABLE)), dist)
        if torch.equal(before, dist):
            return dist


@twin
def _bfs(passable, sources, side, unreachable, out):
    """Multi-source breadth-first search: ``out[b, c]`` = steps from cell c to the nearest source of grid b.

    ``passable`` and ``sources`` are ``[B, side * side]`` bool; cells off ``passable`` (and unreached ones)
    get ``unreachable``. Sources count even where they are not passable, as :func:`relax` does.
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
                ny, nx = y + DY[k], x + DX[k]
                if ny < 0 or ny >= side or nx < 0 or nx >= side:
                    continue
                nc = ny * side + nx
                if passable[b, nc] and out[b, nc] > d:
                    out[b, nc] = d
                    queue[tail] = nc
                    tail += 1


TWINS = {spanning_forest: (_kruskal,), relax: (_bfs,)}
"""Each torch function of this module and its compiled twins (``tests/envs/test_rules.py`` checks the list)."""


def maze_bytes_per_game(config) -> int:
    """About what one maze game of ``config`` (a ``MazeConfig``) holds: its grid with the view's border, its level's
    slot, its observation (uint8: the observation, the final one, a reset's and a copy) and its counters."""
    s, pad = config.size, config.view_size // 2
    return (s + 2 * pad) ** 2 + 2 * s * s + 4 * math.prod(config.obs_shape) + 128


def arena_bytes_per_game(config) -> int:
    """About what one arena game of ``config`` (an ``ArenaConfig``) holds: walls, bases' distance maps, its level's
    slot, each agent's grid view and tokens (with copies) and counters."""
    s, a, v = config.size, config.num_agents, config.view_size
    return 40 * s * s + a * (16 * v * v + 64 * config.num_tokens + 128)
