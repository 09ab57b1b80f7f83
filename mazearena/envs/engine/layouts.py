"""Procedural maze levels: a level id (an integer) becomes a layout, generated for a whole batch at once.

Layouts are data: a ``uint8`` grid of :class:`Cell` codes plus the mask of cells an agent may spawn on.
Generation runs in lockstep over a batch of level ids in torch (any device); each level's randomness is a
pure function of its id, so a level is the same whatever batch it is generated in. Spawn positions are
drawn elsewhere (from the env seed), so one level can be replayed with new start positions.

Solvability holds by construction (see the comments on each variant) and is checked by
:func:`distance_to_goal`, a batched BFS over the game's rules, keys included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import torch
import torch.nn.functional as F

from mazearena.checks import check_int, check_real, enum_value, plain_numbers
from mazearena.envs.engine.cells import MEMORY_COLOURS, Cell, memory_codes, table
from mazearena.envs.engine.common import UNREACHABLE, relax, spanning_forest
from mazearena.rng import (
    STREAM_CUE,
    STREAM_DIVIDER,
    STREAM_EDGE,
    STREAM_GOAL,
    STREAM_KEY,
    STREAM_LAVA,
    STREAM_LOOPS,
    STREAM_ROOMS,
    STREAM_SIDE,
    STREAM_WALK,
    hash_ints,
    randint,
    uniform,
)

MIN_SIZE = 5
MAX_SIZE = 127
MAX_LEVEL_ID = 2**62


class Variant(str, Enum):
    """What a level asks of the agent."""

    GOAL = "goal"  # reach the goal
    KEY_DOOR = "key_door"  # fetch the key, unlock the only door between agent and goal, reach the goal
    HAZARDS = "hazards"  # reach the goal; lava cells end the episode
    MEMORY = "memory"  # a cue by the start names one of several far goals; the others are decoys


class Generator(str, Enum):
    """Maze generation algorithm (both produce perfect mazes before loops and rooms are added)."""

    KRUSKAL = "kruskal"  # uniform-weight spanning tree: many short dead ends; fully parallel (Boruvka)
    BACKTRACKER = "backtracker"  # depth-first carving: long winding corridors


@dataclass(frozen=True)
class LayoutConfig:
    """How levels are generated. Every field is validated on construction."""

    size: int = 11
    """Grid side in cells, walls included: odd, from 5 to 127."""
    variant: Variant = Variant.GOAL
    """``goal``, ``key_door`` or ``hazards``."""
    generator: Generator = Generator.KRUSKAL
    """``kruskal`` (short dead ends) or ``backtracker`` (long corridors)."""
    loops: float = 0.0
    """Probability that each remaining inner wall between two corridors is removed (braiding), in [0, 1]."""
    rooms: int = 0
    """Number of open rectangular rooms carved into the maze (0 to 16)."""
    hazard_rate: float = 0.5
    """``hazards`` only: probability that each safe candidate cell (dead end, shortcut, pillar) is lava."""
    memory_goals: int = 2
    """``memory`` only: goals of different colours (2 to 4); the cue's colour names the one that pays."""
    memory_distance: int = 5
    """``memory`` only: cells (Chebyshev) at least between the cue and every goal, so that the cue is out of view
    by the time a goal is in reach (``view_size // 2 + 2`` at least with partial views)."""

    def __post_init__(self) -> None:
        plain_numbers(self)
        object.__setattr__(self, "variant", enum_value(Variant, self.variant, "variant"))
        object.__setattr__(self, "generator", enum_value(Generator, self.generator, "generator"))
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError(f"size must be an int, got {self.size!r}")
        if self.size % 2 == 0 or not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be odd and in [{MIN_SIZE}, {MAX_SIZE}], got {self.size}")
        check_real("loops", self.loops, 0.0, 1.0)
        check_int("rooms", self.rooms, 0, 16)
        check_real("hazard_rate", self.hazard_rate, 0.0, 1.0)
        check_int("memory_goals", self.memory_goals, 2, len(MEMORY_COLOURS))
        check_int("memory_distance", self.memory_distance, 2, MAX_SIZE)
        if self.variant is Variant.MEMORY:
            if self.memory_distance < 4:
                raise ValueError(
                    f"memory_distance must be >= 4 (the start is within 2 of the cue), got {self.memory_distance}"
                )
            far = _far_goal_edges(self.size, self.memory_distance)
            if far < self.memory_goals:
                fits = [s for s in range(MIN_SIZE, MAX_SIZE + 1, 2) if _far_goal_edges(s, self.memory_distance)
                        >= self.memory_goals]  # fmt: skip
                least = f"size >= {fits[0]}" if fits else f"a memory_distance below {self.memory_distance}"
                raise ValueError(
                    f"memory levels need {least} with memory_goals={self.memory_goals} and memory_distance="
                    f"{self.memory_distance}: every goal must be at least memory_distance cells from the cue (so "
                    f"that the cue is out of view by the time a goal is in reach), and a {self.size}x{self.size} "
                    f"maze has {far} such goal places (cue at the worst corner)"
                )


@dataclass
class Layouts:
    """A batch of generated levels."""

    level_ids: torch.Tensor  # [B] int64
    grid: torch.Tensor  # [B, S, S] uint8 Cell codes
    spawn_mask: torch.Tensor  # [B, S, S] bool: cells the agent may start on

    def __len__(self) -> int:
        return int(self.level_ids.shape[0])


@dataclass(frozen=True)
class _Geometry:
    """Index tables of the corridor graph of an S x S maze: nodes at odd (y, x), edges between them."""

    m: int  # nodes per side
    edge_u: torch.Tensor  # [E] node index
    edge_v: torch.Tensor  # [E]
    edge_y: torch.Tensor  # [E] grid row of the wall cell between u and v
    edge_x: torch.Tensor  # [E]
    node_edges: torch.Tensor  # [n, 4] edge index towards N, E, S, W, or -1
    node_nbrs: torch.Tensor  # [n, 4] neighbour node index, or -1


@lru_cache(maxsize=32)
def _geometry(size: int, device: str) -> _Geometry:
    m = (size - 1) // 2
    node = torch.arange(m * m).reshape(m, m)
    hu, hv = node[:, :-1].reshape(-1), node[:, 1:].reshape(-1)
    vu, vv = node[:-1, :].reshape(-1), node[1:, :].reshape(-1)
    edge_u, edge_v = torch.cat([hu, vu]), torch.cat([hv, vv])
    uy, ux = edge_u // m, edge_u % m
    vy, vx = edge_v // m, edge_v % m
    edge_y, edge_x = uy + vy + 1, ux + vx + 1
    node_edges = torch.full((m * m, 4), -1, dtype=torch.long)
    node_nbrs = torch.full((m * m, 4), -1, dtype=torch.long)
    e = torch.arange(edge_u.numel())
    horizontal = e < hu.numel()
    # u is west/north of v: from u the edge points E (horizontal) or S; from v it points W or N.
    node_edges[edge_u, torch.where(horizontal, 1, 2)] = e
    node_edges[edge_v, torch.where(horizontal, 3, 0)] = e
    node_nbrs[edge_u, torch.where(horizontal, 1, 2)] = edge_v
    node_nbrs[edge_v, torch.where(horizontal, 3, 0)] = edge_u
    return _Geometry(
        m=m,
        edge_u=edge_u.to(device),
        edge_v=edge_v.to(device),
        edge_y=edge_y.to(device),
        edge_x=edge_x.to(device),
        node_edges=node_edges.to(device),
        node_nbrs=node_nbrs.to(device),
    )


def _kruskal_tree(
    level_ids: torch.Tensor, geo: _Geometry, allowed: torch.Tensor, compiled: bool | None = None
) -> torch.Tensor:
    """Minimum spanning forest of random edge weights (Kruskal's maze): :func:`common.spanning_forest`, compiled
    on the CPU unless ``compiled`` says otherwise. Disallowed edges are never used, so each allowed region gets
    its own tree."""
    eidx = torch.arange(geo.edge_u.numel(), device=level_ids.device)
    # Distinct weights: random high bits, edge index as tie-breaker in the low 16 bits.
    weight = (hash_ints(level_ids[:, None], STREAM_EDGE, eidx[None, :]) & ((1 << 40) - 1)) * 65536 + eidx
    if compiled is None:
        compiled = level_ids.device.type == "cpu"
    return spanning_forest(weight, allowed, geo.edge_u, geo.edge_v, geo.m * geo.m, compiled)


def _backtracker_tree(level_ids: torch.Tensor, geo: _Geometry, allowed: torch.Tensor) -> torch.Tensor:
    """Depth-first carving in lockstep: every maze of the batch takes one push or pop per iteration.

    The draw at iteration t depends only on (level id, t), and a maze's state only on its own draws, so a
    level does not depend on its batch. When a stack empties with cells left (a region closed off by
    disallowed edges), the walk restarts at the first unvisited cell.
    """
    device = level_ids.device
    b, n = level_ids.shape[0], geo.m * geo.m
    rows = torch.arange(b, device=device)
    visited = torch.zeros(b, n, dtype=torch.bool, device=device)
    stack = torch.zeros(b, n, dtype=torch.long, device=device)
    start = randint(n, level_ids, STREAM_WALK, -1)
    stack[:, 0] = start
    depth = torch.ones(b, dtype=torch.long, device=device)
    visited[rows, start] = True
    in_tree = torch.zeros(b, geo.edge_u.numel(), dtype=torch.bool, device=device)
    dirs = torch.arange(4, device=device)
    step = 0
    while not bool(visited.all()):
        cur = stack[rows, (depth - 1).clamp(min=0)]
        nbrs, edges = geo.node_nbrs[cur], geo.node_edges[cur]
        open_edge = (edges >= 0) & allowed.gather(1, edges.clamp(min=0))
        fresh = open_edge & ~visited.gather(1, nbrs.clamp(min=0)) & (depth > 0)[:, None]
        score = torch.where(fresh, uniform(level_ids[:, None], STREAM_WALK, step, dirs[None, :]), -1.0)
        pick = score.argmax(1)
        carve = fresh.any(1)
        nxt = nbrs[rows, pick]
        edge = edges[rows, pick]
        c_rows = rows[carve]
        visited[c_rows, nxt[carve]] = True
        in_tree[c_rows, edge[carve]] = True
        stack[c_rows, depth[carve]] = nxt[carve]
        depth = torch.where(carve, depth + 1, (depth - 1).clamp(min=0))
        restart = (depth == 0) & ~visited.all(1)
        if bool(restart.any()):
            r_rows = rows[restart]
            first = (~visited[r_rows]).to(torch.uint8).argmax(1)
            visited[r_rows, first] = True
            stack[r_rows, 0] = first
            depth[r_rows] = 1
        step += 1
    return in_tree


def _random_node(level_ids: torch.Tensor, stream: int, m: int, col_lo: torch.Tensor, col_hi: torch.Tensor):
    """Grid (y, x) of a random node whose column index lies in [col_lo, col_hi)."""
    row = randint(m, level_ids, stream, 0)
    col = col_lo + randint(col_hi - col_lo, level_ids, stream, 1)
    return 2 * row + 1, 2 * col + 1


def _rooms(ids: torch.Tensor, config: LayoutConfig, m: int, divider: torch.Tensor | None) -> torch.Tensor:
    """``[B, S, S]`` bool: the open rectangles between node rows and columns (``config.rooms`` of them); with a
    key-door ``divider`` (node column per level) each room stays on one side of it."""
    size, dev = config.size, ids.device
    yy = torch.arange(size, device=dev).view(1, size, 1)
    xx = torch.arange(size, device=dev).view(1, 1, size)
    room_mask = torch.zeros(len(ids), size, size, dtype=torch.bool, device=dev)
    for r in range(config.rooms):
        ci, cj = randint(m, ids, STREAM_ROOMS, 4 * r), randint(m, ids, STREAM_ROOMS, 4 * r + 1)
        hi, hj = 1 + randint(2, ids, STREAM_ROOMS, 4 * r + 2), 1 + randint(2, ids, STREAM_ROOMS, 4 * r + 3)
        i0, i1 = (ci - hi).clamp(min=0), (ci + hi).clamp(max=m - 1)
        j0, j1 = (cj - hj).clamp(min=0), (cj + hj).clamp(max=m - 1)
        if divider is not None:
            left = cj < divider
            j1 = torch.where(left, torch.minimum(j1, divider - 1), j1)
            j0 = torch.where(left, j0, torch.maximum(j0, divider))
        inside = (
            (yy >= (2 * i0 + 1).view(-1, 1, 1))
            & (yy <= (2 * i1 + 1).view(-1, 1, 1))
            & (xx >= (2 * j0 + 1).view(-1, 1, 1))
            & (xx <= (2 * j1 + 1).view(-1, 1, 1))
        )
        room_mask |= inside
    return room_mask


def generate(level_ids: torch.Tensor | list[int], config: LayoutConfig, device: str | torch.device = "cpu") -> Layouts:
    """Generate the layouts of a batch of level ids (non-negative integers), all on ``device``."""
    ids = torch.as_tensor(level_ids, dtype=torch.long, device=device).reshape(-1)
    if ids.numel() and (bool((ids < 0).any()) or bool((ids >= MAX_LEVEL_ID).any())):
        raise ValueError(f"level ids must be in [0, 2**62), got {ids.min().item()}..{ids.max().item()}")
    size, b = config.size, ids.shape[0]
    geo = _geometry(size, str(torch.device(device)))
    m = geo.m
    dev = ids.device
    rows = torch.arange(b, device=dev)[:, None]
    xx = torch.arange(size, device=dev).view(1, 1, size)

    # The key-door variant splits the maze with a wall at column 2c: no edge may cross it but the door.
    key_door = config.variant is Variant.KEY_DOOR
    # Node-column boundary, kept off the edges so that neither side is a one-cell strip.
    margin = max(1, m // 3)
    divider = margin + randint(m - 2 * margin + 1, ids, STREAM_DIVIDER)
    allowed = torch.ones(b, geo.edge_u.numel(), dtype=torch.bool, device=dev)
    if key_door:
        allowed = geo.edge_x[None, :] != 2 * divider[:, None]
    memory = config.variant is Variant.MEMORY
    if memory:  # the goals' places stay walls (out of the tree and the loops) until the goals go in
        cy, cx, goal_edges = _memory_plan(ids, geo, config, size)
        allowed = allowed.scatter(1, goal_edges, False)

    if config.generator is Generator.KRUSKAL:
        in_tree = _kruskal_tree(ids, geo, allowed)
    else:
        in_tree = _backtracker_tree(ids, geo, allowed)

    grid = torch.full((b, size, size), int(Cell.WALL), dtype=torch.uint8, device=dev)
    grid[:, 1::2, 1::2] = int(Cell.FLOOR)
    ey, ex = geo.edge_y.expand(b, -1), geo.edge_x.expand(b, -1)
    grid[rows.expand_as(ey)[in_tree], ey[in_tree], ex[in_tree]] = int(Cell.FLOOR)

    room_mask = _rooms(ids, config, m, divider if key_door else None)
    grid[room_mask] = int(Cell.FLOOR)

    # Loops: open some remaining walls between two nodes (never across the key-door divider).
    eidx = torch.arange(geo.edge_u.numel(), device=dev)
    loop_edges = allowed & ~in_tree & (uniform(ids[:, None], STREAM_LOOPS, eidx[None, :]) < config.loops)
    grid[rows.expand_as(ey)[loop_edges], ey[loop_edges], ex[loop_edges]] = int(Cell.FLOOR)

    spawn_side = torch.ones(b, size, size, dtype=torch.bool, device=dev)
    if key_door:
        # Door: the one gap in the divider, so it separates the two sides (each side is one tree).
        door_row = 2 * randint(m, ids, STREAM_DIVIDER, 1) + 1
        grid[rows[:, 0], door_row, 2 * divider] = int(Cell.DOOR)
        agent_left = randint(2, ids, STREAM_SIDE) == 0
        zero, full = torch.zeros_like(divider), torch.full_like(divider, m)
        gy, gx = _random_node(
            ids, STREAM_GOAL, m, torch.where(agent_left, divider, zero), torch.where(agent_left, full, divider)
        )
        ky, kx = _random_node(
            ids, STREAM_KEY, m, torch.where(agent_left, zero, divider), torch.where(agent_left, divider, full)
        )
        grid[rows[:, 0], ky, kx] = int(Cell.KEY)
        boundary = (2 * divider).view(-1, 1, 1)
        spawn_side = torch.where(agent_left.view(-1, 1, 1), xx < boundary, xx > boundary)
    else:
        gy, gx = _random_node(ids, STREAM_GOAL, m, torch.zeros_like(divider), torch.full_like(divider, m))
    if memory:
        spawn_side = _place_memory(grid, ids, geo, config, cy, cx, goal_edges)
    else:
        grid[rows[:, 0], gy, gx] = int(Cell.GOAL)

    if config.variant is Variant.HAZARDS and config.hazard_rate > 0:
        grid = _place_lava(grid, ids, room_mask, loop_edges, geo, config.hazard_rate)

    spawn_mask = (grid == int(Cell.FLOOR)) & spawn_side
    return Layouts(level_ids=ids, grid=grid, spawn_mask=spawn_mask)


def _goal_edges(size: int) -> list[tuple[int, int]]:
    """Where memory goals may go: the walls between two nodes of a row at columns 2, 6, 10, ... No two share a
    node, so the spanning tree, built without them, still reaches every node, and a goal there (a niche
    between two corridors) blocks no path."""
    return [(y, x) for y in range(1, size - 1, 2) for x in range(2, size - 1, 4)]


def _far_goal_edges(size: int, distance: int) -> int:
    """The fewest goal places at least ``distance`` (Chebyshev) from the cue, over the four corners."""
    corners = [(1, 1), (1, size - 2), (size - 2, 1), (size - 2, size - 2)]
    places = _goal_edges(size)
    return min(sum(max(abs(y - cy), abs(x - cx)) >= distance for y, x in places) for cy, cx in corners)


def _memory_plan(ids: torch.Tensor, geo: _Geometry, config: LayoutConfig, size: int):
    """The cue's corner node ``(cy, cx)`` and the edges ``[B, K]`` of the goal places: a random ``memory_goals``
    of :func:`_goal_edges` at least ``memory_distance`` from the cue."""
    corner = randint(4, ids, STREAM_CUE, 0)
    cy = torch.where(corner < 2, 1, size - 2)
    cx = torch.where(corner % 2 == 0, 1, size - 2)
    ey, ex = geo.edge_y[None], geo.edge_x[None]
    place = (ey % 2 == 1) & (ex % 4 == 2)
    far = torch.maximum((ey - cy[:, None]).abs(), (ex - cx[:, None]).abs()) >= config.memory_distance
    eidx = torch.arange(geo.edge_u.numel(), device=ids.device)
    score = torch.where(place & far, uniform(ids[:, None], STREAM_CUE, eidx[None] + 2), -1.0)
    return cy, cx, score.topk(config.memory_goals, dim=1).indices


def _place_memory(grid, ids, geo, config, cy, cx, goal_edges) -> torch.Tensor:
    """The cue (a random colour) at ``(cy, cx)`` and the goals in their places, goal ``k`` of colour ``k``: the
    goal of the cue's colour pays, the others are its decoys. Returns the spawn mask: the floor within two
    cells of the cue, so that the cue is in view at the start."""
    b, size, _ = grid.shape
    dev = grid.device
    rows = torch.arange(b, device=dev)
    colour = randint(config.memory_goals, ids, STREAM_CUE, 1)
    goals = torch.tensor([int(Cell[f"GOAL_{c}".upper()]) for c in MEMORY_COLOURS], dtype=torch.uint8, device=dev)
    grid[rows[:, None], geo.edge_y[goal_edges], geo.edge_x[goal_edges]] = goals[: config.memory_goals]
    grid[rows, cy, cx] = int(Cell.CUE_RED)
    # the colour's cue, its goal paying and the others decoys: what the engine draws again every episode
    codes = memory_codes(config.memory_goals, dev)[colour]
    grid.view(b, -1).copy_(codes.gather(1, grid.view(b, -1).long()))
    yy = torch.arange(size, device=dev).view(1, size, 1)
    xx = torch.arange(size, device=dev).view(1, 1, size)
    apart = torch.maximum((yy - cy.view(-1, 1, 1)).abs(), (xx - cx.view(-1, 1, 1)).abs())
    return (apart <= 2) & (apart > 0)


def _place_lava(grid, ids, room_mask, loop_edges, geo, rate):
    """Lava only where it cannot cut a spawn off the goal.

    Candidates: dead-end nodes (leaves: removing leaves keeps a tree connected), shortcut walls opened by
    ``loops`` outside rooms (not in the spanning tree), and pillars inside rooms (every neighbour of a
    pillar is a room corridor, itself joined to two nodes). The spanning tree minus leaves stays whole and
    touches every other floor cell, so every remaining floor cell still reaches the goal.
    """
    b, size, _ = grid.shape
    dev = grid.device
    rows = torch.arange(b, device=dev)[:, None]
    floor = grid != int(Cell.WALL)
    padded = F.pad(floor.to(torch.uint8), (1, 1, 1, 1))
    degree = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    node = torch.zeros(size, size, dtype=torch.bool, device=dev)
    node[1::2, 1::2] = True
    pillar = torch.zeros(size, size, dtype=torch.bool, device=dev)
    pillar[2:-1:2, 2:-1:2] = True
    candidate = (node & (degree == 1) & (grid == int(Cell.FLOOR))) | (pillar & room_mask)
    shortcut = torch.zeros_like(candidate)
    ey, ex = geo.edge_y.expand(b, -1), geo.edge_x.expand(b, -1)
    shortcut[rows.expand_as(ey)[loop_edges], ey[loop_edges], ex[loop_edges]] = True
    candidate |= shortcut & ~room_mask
    cell = torch.arange(size * size, device=dev).view(1, size, size)
    lava = candidate & (uniform(ids.view(-1, 1, 1), STREAM_LAVA, cell) < rate)
    return torch.where(lava, torch.tensor(int(Cell.LAVA), dtype=torch.uint8, device=dev), grid)


def distance_to_goal(grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shortest-path steps to the goal under the game's rules, for every cell of a batch of grids.

    Returns ``(without_key, with_key)``, int64 tensors shaped like ``grid``; unreachable cells hold
    ``UNREACHABLE``. What a cell does comes from the tile table: success tiles are the goals; impassable tiles
    and tiles that end the episode without success are avoided; a locked tile is passable only with the key;
    stepping on a tile that gives the key picks it up. Batched BFS by repeated relaxation, so it also serves
    as the baseline solver's value map.
    """
    cells = table().solver_masks(grid)
    open_with_key = cells["open"]
    open_without_key = open_with_key & ~cells["locked"]
    goal = cells["goal"]
    inf = torch.full(grid.shape, UNREACHABLE, dtype=torch.long, device=grid.device)
    with_key = relax(torch.where(goal, 0, inf), open_with_key)
    seed = torch.where(goal, 0, torch.where(cells["key"], with_key, inf))
    without_key = relax(seed, open_without_key)
    return without_key, with_key


def is_solvable(layouts: Layouts) -> torch.Tensor:
    """Per level: True when every spawn cell reaches the goal (and there is at least one spawn cell)."""
    without_key, _ = distance_to_goal(layouts.grid)
    bad = layouts.spawn_mask & (without_key >= UNREACHABLE)
    return ~bad.flatten(1).any(1) & layouts.spawn_mask.flatten(1).any(1)


def level_range(num_levels: int, start_level: int) -> tuple[int, int]:
    """The half-open range of level ids a (num_levels, start_level) split draws from (0 = unlimited).

    Two splits are disjoint exactly when their ranges do not overlap, e.g. train ``(200, 0)`` and
    test ``(0, 200)`` (every level from 200 on).
    """
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or not 0 <= num_levels <= 2**31:
        raise ValueError(f"num_levels must be an int in [0, 2**31] (0 = unlimited: 2**31 levels), got {num_levels!r}")
    check_int("start_level", start_level, 0)
    span = num_levels if num_levels > 0 else 2**31
    if start_level + span > MAX_LEVEL_ID:
        raise ValueError(f"start_level + num_levels must stay below 2**62, got {start_level} + {span}")
    return start_level, start_level + span
