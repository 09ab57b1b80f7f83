from collections import deque

import pytest
import torch

from mazearena.envs.engine import cells
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.common import UNREACHABLE
from mazearena.envs.engine.layouts import (
    Generator,
    LayoutConfig,
    Variant,
    distance_to_goal,
    generate,
    is_solvable,
    level_range,
)


def reference_steps(grid: list[list[int]], start: tuple[int, int]) -> int | None:
    """Plain BFS over (cell, has_key) states, written independently of the batched solver."""
    goals = {int(c) for c in Cell if c.name == "GOAL" or c.name.startswith("GOAL_")}
    losing = {int(Cell.WALL), int(Cell.LAVA)} | {int(c) for c in Cell if c.name.startswith("DECOY_")}
    h, w = len(grid), len(grid[0])
    seen = {(start, False)}
    queue = deque([(start, False, 0)])
    while queue:
        (y, x), key, d = queue.popleft()
        if grid[y][x] in goals:
            return d
        for dy, dx in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            c = grid[ny][nx]
            if c in losing or (c == Cell.DOOR and not key):
                continue
            nkey = key or c == Cell.KEY
            if ((ny, nx), nkey) not in seen:
                seen.add(((ny, nx), nkey))
                queue.append(((ny, nx), nkey, d + 1))
    return None


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("generator", list(Generator))
@pytest.mark.parametrize("size,count", [(5, 3000), (9, 3000), (15, 2000), (31, 400)])
def test_every_level_is_solvable_from_every_spawn(variant, generator, size, count):
    loops = 0.2 if variant is Variant.HAZARDS else 0.1
    options = dict(size=size, variant=variant, generator=generator, loops=loops, rooms=1 if size >= 15 else 0)
    if variant is Variant.MEMORY and size < 9:
        with pytest.raises(ValueError, match="memory levels need size >= 9 with memory_goals=2 and memory_distance=5"):
            LayoutConfig(**options)
        return
    layouts = generate(torch.arange(count), LayoutConfig(**options))
    assert bool(is_solvable(layouts).all())
    # Every generated level has what its variant promises.
    flat = layouts.grid.flatten(1)
    if variant is Variant.MEMORY:
        check_memory_levels(layouts, goals=2, distance=5)
        return
    assert bool(((flat == Cell.GOAL).sum(1) == 1).all())
    if variant is Variant.KEY_DOOR:
        assert bool(((flat == Cell.KEY).sum(1) == 1).all()) and bool(((flat == Cell.DOOR).sum(1) == 1).all())
        # The door really separates: without the key nothing on the spawn side reaches the goal.
        _, with_key = distance_to_goal(layouts.grid)
        no_door = torch.where(layouts.grid == Cell.DOOR, torch.tensor(int(Cell.WALL), dtype=torch.uint8), layouts.grid)
        blocked, _ = distance_to_goal(torch.where(no_door == Cell.KEY, torch.tensor(0, dtype=torch.uint8), no_door))
        assert bool((blocked[layouts.spawn_mask] >= UNREACHABLE).all())
    if variant is Variant.HAZARDS and size >= 9:  # a 5x5 maze has too few dead ends and shortcuts to promise lava
        assert float((flat == Cell.LAVA).any(1).float().mean()) > 0.9


def check_memory_levels(layouts, goals: int, distance: int) -> None:
    """One cue, one goal of its colour (the one that pays), ``goals - 1`` decoys of other colours, every goal
    at least ``distance`` from the cue, every start within two cells of it."""
    colours = cells.MEMORY_COLOURS
    cue = {int(Cell[f"CUE_{c}".upper()]): k for k, c in enumerate(colours)}
    goal = {int(Cell[f"GOAL_{c}".upper()]): k for k, c in enumerate(colours)}
    decoy = {int(Cell[f"DECOY_{c}".upper()]): k for k, c in enumerate(colours)}
    for grid, spawn in zip(layouts.grid, layouts.spawn_mask, strict=True):
        found = {
            name: [
                (tuple(p), table[int(grid[tuple(p)])]) for p in torch.isin(grid, torch.tensor(list(table))).nonzero()
            ]
            for name, table in (("cue", cue), ("goal", goal), ("decoy", decoy))
        }
        assert len(found["cue"]) == 1 and len(found["goal"]) == 1 and len(found["decoy"]) == goals - 1
        (cy, cx), colour = found["cue"][0]
        assert found["goal"][0][1] == colour and colour not in {k for _, k in found["decoy"]}
        for (y, x), _ in found["goal"] + found["decoy"]:
            assert max(abs(y - cy), abs(x - cx)) >= distance
        ys, xs = spawn.nonzero(as_tuple=True)
        assert len(ys) and bool((torch.maximum((ys - cy).abs(), (xs - cx).abs()) <= 2).all())


def test_memory_levels_keep_their_promises_with_every_knob():
    for goals, size, distance in ((2, 9, 5), (3, 11, 6), (4, 15, 8)):
        cfg = LayoutConfig(
            size=size, variant="memory", memory_goals=goals, memory_distance=distance, loops=0.3, rooms=2
        )
        layouts = generate(torch.arange(300), cfg)
        assert bool(is_solvable(layouts).all())
        check_memory_levels(layouts, goals, distance)
    colours = generate(torch.arange(400), LayoutConfig(size=9, variant="memory", memory_goals=4, memory_distance=4))
    cues = [int(c) for c in torch.unique(colours.grid) if Cell.CUE_RED <= int(c) <= Cell.CUE_YELLOW]
    assert len(cues) == 4  # every colour is drawn


@pytest.mark.parametrize("variant", list(Variant))
def test_batched_solver_matches_plain_bfs(variant):
    cfg = LayoutConfig(size=13, variant=variant, loops=0.3, rooms=1)
    layouts = generate(torch.arange(60), cfg)
    without_key, _ = distance_to_goal(layouts.grid)
    for i in range(len(layouts)):
        grid = layouts.grid[i].tolist()
        spawns = layouts.spawn_mask[i].nonzero().tolist()
        for y, x in spawns[:: max(1, len(spawns) // 5)]:
            assert reference_steps(grid, (y, x)) == int(without_key[i, y, x])


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("size", [9, 13, 21, 63])
def test_compiled_kruskal_draws_the_levels_of_the_parallel_rounds(variant, size, monkeypatch):
    # On the CPU the spanning forest comes from Kruskal's compiled pass, elsewhere from Boruvka's rounds in
    # torch: distinct weights make the forest unique, so every level is the same cell for cell.
    from functools import partial

    from mazearena.envs.engine import layouts

    cfg = LayoutConfig(size=size, variant=variant, rooms=1, loops=0.05)
    ids = torch.arange(200) * 7_919 + 2**40
    compiled = generate(ids, cfg)
    monkeypatch.setattr(layouts, "_kruskal_tree", partial(layouts._kruskal_tree, compiled=False))
    rounds = generate(ids, cfg)
    assert torch.equal(compiled.grid, rounds.grid) and torch.equal(compiled.spawn_mask, rounds.spawn_mask)


def test_level_is_a_pure_function_of_its_id():
    cfg = LayoutConfig(size=15, variant="key_door", generator="backtracker", rooms=2, loops=0.2)
    batch = generate(torch.tensor([7, 123456789, 42, 7]), cfg)
    alone = generate([42], cfg)
    assert torch.equal(batch.grid[2], alone.grid[0])
    assert torch.equal(batch.grid[0], batch.grid[3])
    assert not torch.equal(batch.grid[0], batch.grid[1])


def test_generators_differ_and_knobs_change_levels():
    base = LayoutConfig(size=21)
    plain = generate(torch.arange(200), base).grid
    walls = (plain == Cell.WALL).sum()
    assert (generate(torch.arange(200), LayoutConfig(size=21, loops=0.5)).grid == Cell.WALL).sum() < walls
    assert (generate(torch.arange(200), LayoutConfig(size=21, rooms=3)).grid == Cell.WALL).sum() < walls
    backtracker = generate(torch.arange(200), LayoutConfig(size=21, generator="backtracker")).grid
    assert not torch.equal(plain, backtracker)

    def dead_ends(grid):
        floor = (grid != Cell.WALL).to(torch.int)
        p = torch.nn.functional.pad(floor, (1, 1, 1, 1))
        degree = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]
        return int(((degree == 1) & (floor == 1)).sum())

    # Depth-first carving makes long corridors: far fewer dead ends than Kruskal's spanning tree.
    assert dead_ends(backtracker) < 0.7 * dead_ends(plain)


def test_perfect_maze_is_a_tree():
    layouts = generate(torch.arange(50), LayoutConfig(size=17))
    floor = layouts.grid != Cell.WALL
    m = 8
    cells = floor.flatten(1).sum(1)
    # nodes + passages = m*m + (m*m - 1) in a spanning tree
    assert bool((cells == 2 * m * m - 1).all())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"size": 4}, "size must be odd and in \\[5, 127\\], got 4"),
        ({"size": 3}, "size must be odd"),
        ({"size": 129}, "size must be odd"),
        ({"size": 11.0}, "size must be an int"),
        ({"variant": "maze"}, "variant must be one of 'goal', 'key_door', 'hazards', 'memory', got 'maze'"),
        ({"generator": "prim"}, "generator must be one of"),
        ({"loops": 1.5}, "loops must be in \\[0.0, 1.0\\]"),
        ({"rooms": -1}, "rooms must be an int in \\[0, 16\\]"),
        ({"hazard_rate": -0.1}, "hazard_rate must be"),
    ],
)
def test_bad_layout_options_name_the_field(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LayoutConfig(**kwargs)


def test_level_ids_out_of_range_are_refused():
    with pytest.raises(ValueError, match="level ids must be in"):
        generate([-1], LayoutConfig())


def test_train_and_test_splits_are_disjoint():
    train, test = level_range(200, 0), level_range(0, 200)
    assert train == (0, 200) and test[0] == 200 and test[1] > test[0]
    assert train[1] <= test[0]
    with pytest.raises(ValueError, match=r"num_levels must be an int in \[0, 2\*\*31\]"):
        level_range(-5, 0)
    with pytest.raises(ValueError, match="start_level must be an int >= 0"):
        level_range(10, -1)


def test_sizes_up_to_127_generate():
    layouts = generate(torch.arange(4), LayoutConfig(size=127))
    assert layouts.grid.shape == (4, 127, 127)
    assert bool(is_solvable(layouts).all())


@pytest.mark.parametrize(
    ("options", "least"),
    [
        ({"size": 7}, "size >= 9"),
        ({"size": 7, "memory_distance": 4}, "size >= 9"),
        ({"size": 9, "memory_goals": 4, "memory_distance": 7}, "size >= 13"),
        ({"size": 9, "memory_distance": 126}, "a memory_distance below 126"),
    ],
)
def test_a_memory_maze_too_small_for_its_layout_names_the_least_size_and_why(options, least):
    with pytest.raises(ValueError, match=f"memory levels need {least} .* cue is out of view") as found:
        LayoutConfig(variant=Variant.MEMORY, **options)
    assert f"a {options['size']}x{options['size']} maze has" in str(found.value)
    fits = int(least.split()[-1]) if least.startswith("size") else None
    if fits is not None:  # the size named builds
        assert generate(torch.arange(4), LayoutConfig(variant=Variant.MEMORY, **{**options, "size": fits}))
