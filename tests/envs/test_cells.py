"""The tile table is the one source of what a tile does: a tile added as a row (plus a sprite and a placement)
reaches the torch step, the compiled kernels, the single-game env, the solver and the renderers.

The recipe of ``docs/architecture.md`` ("add a tile"), tried with a throw-away pit: it ends the episode and
costs 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mazearena.envs.engine import cells
from mazearena.envs.engine import maze as maze_engine
from mazearena.envs.engine.cells import Cell, Tile, TileTable, table
from mazearena.envs.engine.common import UNREACHABLE
from mazearena.envs.engine.layouts import LayoutConfig, distance_to_goal, generate, is_solvable
from mazearena.envs.engine.maze import MazeConfig, MazeEngine
from mazearena.envs.maze import MazeEnv
from mazearena.envs.render import render_frame

PIT_RGB = (90, 40, 160)


@pytest.fixture
def pit(monkeypatch, tmp_path) -> int:
    """The tile table with a pit row and its sprite; returns the pit's code."""
    sprite = tmp_path / "pit.png"
    Image.fromarray(np.full((16, 16, 4), (*PIT_RGB, 255), dtype=np.uint8), "RGBA").save(sprite)
    code = len(cells.TILES)
    monkeypatch.setattr(cells, "TILES", (*cells.TILES, Tile("pit", code, terminal=True, reward=-0.5, sprite=sprite)))
    return code


@pytest.fixture
def pits_placed(monkeypatch, pit) -> int:
    """A generator that places pits: dead ends of the generated mazes that are not the goal become pits (a dead
    end cuts no path, so every level stays solvable)."""

    def generate_with_pits(ids, config, device="cpu"):
        layouts = generate(ids, config, device)
        floor = (layouts.grid != Cell.WALL).to(torch.uint8)
        padded = torch.nn.functional.pad(floor, (1, 1, 1, 1))
        degree = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
        dead_end = (layouts.grid == Cell.FLOOR) & (degree == 1)
        layouts.grid[dead_end] = pit
        layouts.spawn_mask &= ~dead_end
        return layouts

    monkeypatch.setattr(maze_engine, "generate", generate_with_pits)
    return pit


LEVEL = [
    "#######",
    "#..P..#",
    "#.###.#",
    "#..G..#",
    "#.....#",
    "#######",
    "#######",
]


def hand_made(backend: str, obs_mode: str = "partial") -> MazeEngine:
    codes = {"#": Cell.WALL, ".": Cell.FLOOR, "G": Cell.GOAL, "P": len(cells.TILES) - 1}
    engine = MazeEngine(1, MazeConfig(size=7, view_size=5, obs_mode=obs_mode), max_episode_steps=None, backend=backend)
    engine.reset(torch.tensor([0]))
    engine.layout_grid(0).copy_(torch.tensor([[int(codes[c]) for c in row] for row in LEVEL], dtype=torch.uint8))
    engine.pos[0] = torch.tensor([1, 2])
    engine.heading[0] = 0
    return engine


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_an_added_tile_has_its_rule_and_its_channel_on_both_backends(pit, backend):
    engine = hand_made(backend)
    channels = engine.channels
    assert channels == ("wall", "goal", "key", "door", "lava", "pit", "agent", "facing", "has_key")
    assert engine.config.obs_shape == (9, 5, 5)
    obs = engine.observe()[0]
    assert obs.shape == (9, 5, 5)
    assert obs[channels.index("pit"), 2, 3] == 1 and int(obs[channels.index("pit")].sum()) == 1  # east of the agent
    assert obs[channels.index("agent"), 2, 2] == 1
    _, reward, terminated, truncated, info = engine.step(torch.tensor([1]))  # east, into the pit
    assert bool(terminated[0]) and not bool(truncated[0]) and not bool(info["is_success"][0])
    assert float(reward[0]) == -0.5


def test_an_added_tile_shows_in_rgb_views_and_frames(pit):
    views = [hand_made(backend, "rgb").observe()[0].numpy() for backend in ("torch", "numba")]
    assert np.array_equal(views[0], views[1])
    tile = MazeConfig().pixel_tile
    cell = views[0][2 * tile : 3 * tile, 3 * tile : 4 * tile]  # view row 2, column 3: the pit
    assert (cell.reshape(-1, 3) == PIT_RGB).all(1).mean() > 0.9
    grid = np.array([[int({"#": 1, ".": 0, "G": 2, "P": pit}[c]) for c in row] for row in LEVEL])
    frame = render_frame(grid, (1, 1), 1, False, tile=16)
    assert (frame[16:32, 48:64].reshape(-1, 3) == PIT_RGB).all(1).mean() > 0.9


def test_the_solver_walks_around_an_added_losing_tile(pit):
    grid = torch.tensor([[int({"#": 1, ".": 0, "G": 2, "P": pit}[c]) for c in row] for row in LEVEL])[None]
    without_key, _ = distance_to_goal(grid)
    assert int(without_key[0, 1, 2]) == 5  # west, down the left side and along the bottom: not through the pit
    assert int(without_key[0, 1, 3]) >= UNREACHABLE


def test_generated_levels_with_the_added_tile_stay_solvable_and_play_alike(pits_placed):
    cfg = MazeConfig(size=9, num_levels=0)
    layouts = maze_engine.generate(torch.arange(64), LayoutConfig(size=9))
    assert bool((layouts.grid == pits_placed).any()) and bool(is_solvable(layouts).all())
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, (200, 16))
    runs = []
    for backend in ("torch", "numba"):
        engine = MazeEngine(16, cfg, max_episode_steps=40, backend=backend)
        obs = engine.reset(torch.arange(16))
        trace = [obs]
        for a in actions:
            trace.append(engine.step(torch.from_numpy(a))[:4])
        runs.append(trace)
        rewards = torch.stack([step[1] for step in trace[1:]])
        assert bool((rewards == -0.5).any())  # random walks fall into pits
    for x, y in zip(runs[0], runs[1], strict=True):
        for a, b in zip(x if isinstance(x, tuple) else (x,), y if isinstance(y, tuple) else (y,), strict=True):
            assert torch.equal(a, b)


def test_the_single_game_env_plays_the_added_tile(pits_placed):
    env = MazeEnv(size=9, obs_mode="full")
    obs, _ = env.reset(seed=3)
    pit_plane = env.engine.channels.index("pit")
    assert obs.shape[0] == 9 and obs[pit_plane].sum() > 0
    rng = np.random.default_rng(1)
    ends = []
    for _ in range(2000):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(4)))
        if terminated:
            ends.append((reward, info["is_success"]))
            env.reset()
    assert (-0.5, False) in ends


def test_a_bad_table_is_refused_naming_what_is_wrong():
    n = len(cells.TILES)
    with pytest.raises(ValueError, match=f"codes must be 0..{n}"):
        TileTable((*cells.TILES, Tile("pit", n + 3)))
    with pytest.raises(ValueError, match="channel 'agent' is shared across variants or with the agent's"):
        TileTable((*cells.TILES, Tile("pit", n, channel="agent")))
    with pytest.raises(ValueError, match="channel 'goal_red' is shared across variants"):
        TileTable((*cells.TILES, Tile("pit", n, channel="goal_red")))  # a plane of the memory variant's
    with pytest.raises(ValueError, match="at most 2 tiles share a plane, got 3 on 'wall'"):
        TileTable((*cells.TILES, Tile("pit", n, channel="wall"), Tile("pit2", n + 1, channel="wall")))
    shared = TileTable((*cells.TILES, Tile("pit", n, channel="wall")))  # looks like a wall, one plane
    assert shared.channels == table().channels and list(shared.arrays().plane_codes[0]) == [1, n]
    with pytest.raises(KeyError, match="no observation channel 'pit'"):
        table().channel("pit")
