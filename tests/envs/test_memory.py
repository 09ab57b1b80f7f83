"""MazeMemory-v0: the cue by the start names the goal that pays; decoys end the episode unrewarded; the cue is
out of view at the goals; the solver (which reads the grid) always succeeds; other ids keep their planes."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.agents.baselines import SolverPolicy
from mazearena.envs.engine.cells import MEMORY_COLOURS, Cell, table
from mazearena.envs.engine.layouts import generate
from mazearena.envs.engine.maze import MazeConfig, MazeEngine

ID = "mazearena/MazeMemory-v0"


def test_the_id_is_registered_rendered_and_has_planes_of_its_own():
    env = gym.make(ID, size=9, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    channels = env.unwrapped.engine.channels
    assert channels[5:13] == tuple(f"cue_{c}" for c in MEMORY_COLOURS) + tuple(f"goal_{c}" for c in MEMORY_COLOURS)
    assert obs.shape == (16, 7, 7) and env.observation_space.contains(obs)
    assert env.render().shape == (9 * 32, 9 * 32, 3)
    # the cue is in view at the start
    assert obs[5:9].sum() == 1
    assert gym.make("mazearena/Maze-v0").reset(seed=0)[0].shape == (8, 7, 7)  # the other ids keep their planes
    assert len(table().channels) == 8


def test_the_solver_always_succeeds_and_random_play_is_near_chance():
    for goals, size in ((2, 9), (3, 11), (4, 11)):
        env = mazearena.make_vec(ID, 32, seed=0, size=size, memory_goals=goals)
        env.reset()
        solver = SolverPolicy(env.engine)
        for name, act in (("solver", solver), ("random", lambda: torch.randint(0, 4, (32,)))):
            successes, ends = 0, 0
            while ends < 128:
                _, _, terminated, truncated, info = env.step(act())
                done = terminated | truncated
                ends += int(done.sum())
                successes += int(info["is_success"][done].sum())
            if name == "solver":
                assert successes == ends
            else:
                assert successes / ends < 1.5 / goals  # a walk that reaches a goal picks one at random


def test_the_decoy_ends_the_episode_with_nothing_and_the_right_goal_pays():
    engine = MazeEngine(64, MazeConfig(size=9, variant="memory"), backend="torch")
    engine.reset(torch.arange(64))
    solver = SolverPolicy(engine)
    decoys = [int(Cell[f"DECOY_{c}".upper()]) for c in MEMORY_COLOURS]
    grid = engine.grid.clone()
    # walk every game into its decoy instead: make the decoys the only targets the solver knows of
    p, s = engine.pad, engine.config.size
    inner = engine.grid[:, p : p + s, p : p + s]
    is_decoy = torch.isin(inner, torch.tensor(decoys, dtype=torch.uint8))
    goal_codes = torch.tensor([int(Cell[f"GOAL_{c}".upper()]) for c in MEMORY_COLOURS], dtype=torch.uint8)
    swapped = torch.where(is_decoy, torch.tensor(int(Cell.GOAL), dtype=torch.uint8), inner)
    swapped = torch.where(torch.isin(inner, goal_codes), torch.tensor(int(Cell.WALL), dtype=torch.uint8), swapped)
    engine.grid[:, p : p + s, p : p + s] = swapped
    solver._refresh()
    engine.grid.copy_(grid)  # back to the real level: the solver's map leads to the decoy
    rewards = torch.zeros(64)
    ended = torch.zeros(64, dtype=torch.bool)
    for _ in range(200):
        _, reward, terminated, truncated, info = engine.step(solver())
        fresh = terminated & ~ended
        assert not bool(info["is_success"][fresh].any())
        rewards[fresh] = reward[fresh]
        ended |= terminated | truncated
        if bool(ended.all()):
            break
    assert bool(ended.all()) and float(rewards.abs().max()) == 0.0


def test_the_cue_is_out_of_view_next_to_every_goal():
    cfg = MazeConfig(size=11, variant="memory", view_size=7)
    layouts = generate(torch.arange(200), cfg)
    cues = [int(Cell[f"CUE_{c}".upper()]) for c in MEMORY_COLOURS]
    targets = [int(Cell[f"{k}_{c}".upper()]) for k in ("GOAL", "DECOY") for c in MEMORY_COLOURS]
    for grid in layouts.grid:
        ((cy, cx),) = torch.isin(grid, torch.tensor(cues, dtype=torch.uint8)).nonzero().tolist()
        for y, x in torch.isin(grid, torch.tensor(targets, dtype=torch.uint8)).nonzero().tolist():
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):  # standing next to the goal
                assert max(abs(y + dy - cy), abs(x + dx - cx)) > cfg.view_size // 2


def test_bad_memory_options_are_named():
    with pytest.raises(ValueError, match="memory_goals"):
        gym.make(ID, memory_goals=5)
    with pytest.raises(ValueError, match="memory_distance .4. must be >= view_size // 2 \\+ 2 .5."):
        gym.make(ID, memory_distance=4)
    with pytest.raises(ValueError, match="memory levels need size >= 9 .* a 7x7 maze has 0 such goal places"):
        gym.make(ID, size=7)


def test_the_env_passes_gymnasiums_checker():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(ID, size=9).unwrapped, skip_render_check=True)
    np.testing.assert_equal(gym.make(ID).spec.kwargs["variant"], "memory")


def test_the_cue_colour_is_drawn_per_episode_so_levels_cannot_be_learned_by_heart():
    engine = MazeEngine(64, MazeConfig(size=9, variant="memory", num_levels=1), backend="torch")
    engine.reset(torch.arange(64))  # one level, 64 episodes
    p, s = engine.pad, engine.config.size
    grids = engine.grid[:, p : p + s, p : p + s]
    cues = [int(Cell[f"CUE_{c}".upper()]) for c in MEMORY_COLOURS[:2]]
    colour = torch.stack([(grids == code).flatten(1).any(1) for code in cues], 1).float().argmax(1)
    assert 0 < int(colour.sum()) < 64  # both colours come up on the same level
    for k, c in enumerate(MEMORY_COLOURS[:2]):  # the goal that pays has the cue's colour, every episode
        pays = (grids == int(Cell[f"GOAL_{c}".upper()])).flatten(1).any(1)
        assert torch.equal(pays, colour == k)
    walls = grids == int(Cell.WALL)
    assert bool((walls == walls[0]).all())  # the same layout
