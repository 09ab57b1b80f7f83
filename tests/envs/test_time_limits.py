"""Time limits that follow the size and successes that never pay less than a failure, at every size.

A success pays ``1 - 0.9 * min(t, H) / H`` with ``H = 4 * size**2``; episodes end at ``H`` unless the user sets
another limit. Registering one fixed limit made a 7x7 success after 217 steps pay less than zero.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.maze import MazeConfig, MazeEngine

SIZES = range(5, 128, 2)
SMALLEST = {"mazearena/MazeMemory-v0": 9}
"""Ids whose levels need more room (the memory task: goals out of view of the cue)."""


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
def test_the_time_limit_follows_the_size_in_every_constructor(env_id):
    small = SMALLEST.get(env_id, 5)
    for size in (s for s in SIZES if s >= small):
        horizon = 4 * size * size
        assert gym.make(env_id, size=size).unwrapped.engine.max_episode_steps == horizon
        assert mazearena.make_vec(env_id, 1, size=size).unwrapped.engine.max_episode_steps == horizon
        assert gym.make_vec(env_id, num_envs=1, size=size).unwrapped.engine.max_episode_steps == horizon
    # a limit the user gives wins; 0 sets none of the env's own
    size = max(7, small)
    assert gym.make(env_id, size=size, max_steps=1000).unwrapped.engine.max_episode_steps == 1000
    assert gym.make(env_id, size=size, max_steps=0).unwrapped.engine.max_episode_steps is None
    assert mazearena.make_vec(env_id, 1, size=size, max_episode_steps=9).unwrapped.engine.max_episode_steps == 9


def late_success_reward(size: int, t: int, backend: str, env_id: str = "mazearena/Maze-v0") -> float:
    """The reward of stepping onto the goal after ``t`` steps, on a fresh level of side ``size``."""
    kwargs = mazearena.MAZE_IDS[env_id]
    engine = MazeEngine(1, MazeConfig(size=size, max_steps=0, **kwargs), backend=backend)
    engine.reset(torch.tensor([size]))
    grid = engine.layout_grid(0)
    gy, gx = (int(v) for v in (grid == int(Cell.GOAL)).nonzero()[0])
    for action, (dy, dx) in enumerate([(1, 0), (0, -1), (-1, 0), (0, 1)]):  # stand next to it, face it
        y, x = gy + dy, gx + dx
        if 0 <= y < size and 0 <= x < size and int(grid[y, x]) == int(Cell.FLOOR):
            engine.pos[0] = torch.tensor([y, x])
            engine.t[0] = t
            _, reward, terminated, _, info = engine.step(torch.tensor([action]))
            assert bool(terminated[0]) and bool(info["is_success"][0])
            return float(reward[0])
    raise AssertionError(f"no floor next to the goal at size {size}")


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_success_pays_about_a_tenth_at_least_whenever_it_comes(backend):
    for size in SIZES:
        horizon = 4 * size * size
        on_time = late_success_reward(size, horizon // 2 - 1, backend)
        assert on_time == pytest.approx(1 - 0.9 * (horizon // 2) / horizon)
        for late in (horizon - 1, horizon, 3 * horizon):
            assert late_success_reward(size, late, backend) == pytest.approx(1 - 0.9 * min(late + 1, horizon) / horizon)
            assert late_success_reward(size, late, backend) > 0.0999


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
def test_random_play_never_earns_a_negative_success(env_id):
    """The reported case: a seeded random policy on 7x7 mazes (one success came at t=277 and paid -0.27)."""
    for max_steps in (None, 2000):  # the default limit, and a user's limit far past the reward horizon
        size = max(7, SMALLEST.get(env_id, 5))
        env = gym.make(env_id, size=size, max_steps=max_steps)
        rng = np.random.default_rng(7)
        env.reset(seed=7)
        rewards, lengths = [], []
        for _ in range(20_000):
            _, reward, terminated, truncated, info = env.step(int(rng.integers(4)))
            if terminated or truncated:
                if info["is_success"]:
                    rewards.append(reward)
                lengths.append(env.unwrapped.engine.t[0].item())
                env.reset()
        assert rewards and min(rewards) > 0.0999
        assert max(lengths) <= (4 * size * size if max_steps is None else 2000)


def test_bad_limits_are_named():
    with pytest.raises(ValueError, match=r"max_steps must be an int in \[0, 2147483647\]"):
        gym.make("mazearena/Maze-v0", max_steps=-1)
    with pytest.raises(ValueError, match="max_episode_steps must be an int >= 0"):
        mazearena.make_vec("mazearena/Maze-v0", 1, max_episode_steps=-3)
    with pytest.raises(ValueError, match="pass one"):
        mazearena.make_vec("mazearena/Maze-v0", 1, max_episode_steps=5, max_steps=6)


@pytest.mark.parametrize("max_cycles", [3, 40, 400])
def test_arena_tag_survivors_earn_more_than_caught_runners_at_every_max_cycles(max_cycles):
    """The arena audit. Tag is the only mode with a per-step reward, and it is scaled by ``max_cycles``: a runner
    that survives earns 1 in all, a caught one less than 0, whatever the limit (ctf and combat pay only for
    events, zero-sum or per hit, so the limit cannot flip a sign there)."""
    from mazearena.envs import arena_v0

    rng = np.random.default_rng(max_cycles)
    survived, caught = [], []
    for episode in range(4 if max_cycles < 400 else 2):
        env = arena_v0.parallel_env(mode="tag", red=2, blue=2, size=9, max_cycles=max_cycles)
        obs, infos = env.reset(seed=episode)
        runners = [a for a in env.agents if infos[a]["team"] != 0]  # red (team 0) chases by default
        returns = dict.fromkeys(env.agents, 0.0)
        while env.agents:
            obs, rewards, terminations, truncations, infos = env.step({a: int(rng.integers(5)) for a in env.agents})
            for agent, r in rewards.items():
                returns[agent] += r
                if agent in runners and terminations[agent]:
                    caught.append(returns[agent])
                elif agent in runners and truncations[agent]:
                    survived.append(returns[agent])
    assert caught and (survived or max_cycles >= 400), (survived, caught)  # at 400 steps the chasers catch all
    assert max(caught) < 0
    assert np.allclose(survived, 1.0, atol=1e-5)
