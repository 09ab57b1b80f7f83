"""Env API edges: the unchecked fast path never corrupts memory, numbers are checked as what they are (no
truncated floats, no bools as probabilities, numpy integers welcome), seeds and level ids out of range are
named up front, and an ended arena game does not run on."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.envs import arena_v0


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_unchecked_actions_out_of_range_never_corrupt_the_engine(backend):
    """``check_actions=False`` (the trainers' fast path) with actions out of range: once a SIGBUS/SIGSEGV in
    the CPU kernels, and heading -1 in the state. Run in a child, so that a crash fails the test, not pytest."""
    code = f"""
import torch, mazearena
from mazearena.envs import arena_v0
env = mazearena.make_vec("mazearena/Maze-v0", 4, check_actions=False, seed=0, backend="{backend}")
env.reset()
for _ in range(200):
    env.step(torch.tensor([4, -1, 7, 10**9]))
assert env.engine.heading.min() >= 0 and env.engine.heading.max() <= 3, env.engine.heading
arena = arena_v0.vector_env(2, mode="combat", check_actions=False, seed=0)
arena.reset()
for _ in range(100):
    arena.step(torch.full((2, arena.num_agents), 99))
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_numbers_are_checked_as_what_they_are():
    env = gym.make("mazearena/Maze-v0", size=7, num_levels=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="level_id must be an int"):
        env.reset(options={"level_id": 1.5})
    vec = mazearena.make_vec("mazearena/Maze-v0", 2, size=7, num_levels=5, seed=0)
    with pytest.raises(ValueError, match="level_ids must be ints"):
        vec.reset(options={"level_ids": [1.5, 2.0]})
    with pytest.raises(ValueError, match="loops must be a finite number"):
        gym.make("mazearena/Maze-v0", loops=True)
    with pytest.raises(ValueError, match="hazard_rate must be a finite number"):
        gym.make("mazearena/MazeHazards-v0", hazard_rate=float("nan"))
    with pytest.raises(ValueError, match="num_levels must be an int in"):
        gym.make("mazearena/Maze-v0", num_levels=2**32)  # ids are drawn from 2**31 at most


def test_numpy_integers_and_big_endian_actions_are_accepted():
    env = gym.make("mazearena/Maze-v0", size=np.int64(7), num_levels=np.int32(5), view_size=np.int64(5))
    obs, _ = env.reset(seed=np.int64(3))
    assert obs.shape == (8, 5, 5) and type(env.unwrapped.config.size) is int
    env.step(np.int64(1))
    vec = gym.make_vec("mazearena/Maze-v0", num_envs=2, size=7)
    vec.reset(seed=0)
    vec.step(np.array([1, 2], dtype=">i8"))  # big-endian, as numpy arrays read from some files are
    tvec = mazearena.make_vec("mazearena/Maze-v0", 2, size=7, seed=0)
    tvec.reset()
    tvec.step(np.array([1, 2], dtype=">i4"))


def test_seeds_and_level_ids_out_of_range_are_named_up_front():
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*63"):
        mazearena.make_vec("mazearena/Maze-v0", 2, seed=2**64)  # not only at the first reset
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*63"):
        mazearena.make_vec("mazearena/Maze-v0", 2, seed=-1)
    env = gym.make("mazearena/Maze-v0", size=7)
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*63"):
        env.reset(seed=2**64)
    env.reset(seed=2**63 - 1)  # the largest seed plays
    with pytest.raises(ValueError, match="level_id 9223372036854775808 is outside"):
        env.reset(options={"level_id": 2**63})
    vec = mazearena.make_vec("mazearena/Maze-v0", 2, seed=0)
    with pytest.raises(ValueError, match="outside"):
        vec.reset(options={"level_ids": [2**63, 0]})
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'mps', got 'meta'"):
        mazearena.make_vec("mazearena/Maze-v0", 2, device="meta")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'mps'"):
        arena_v0.vector_env(2, device="meta")


def test_an_ended_arena_game_does_not_run_on_and_the_dead_hold_no_negative_health():
    env = arena_v0.parallel_env(mode="combat", size=9, max_cycles=30)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    while env.agents:
        env.step({a: int(rng.integers(env.config.num_actions)) for a in env.agents})
        assert int(env.engine.health.min()) >= 0
    t = int(env.engine.t[0])
    assert env.step({}) == ({}, {}, {}, {}, {})  # nothing moves after the end (wrappers step once more)
    assert int(env.engine.t[0]) == t <= 30
    vec = arena_v0.vector_env(8, mode="combat", size=9, seed=0)
    vec.reset()
    for _ in range(200):
        vec.step(torch.randint(0, vec.config.num_actions, (8, vec.num_agents)))
        assert int(vec.engine.health.min()) >= 0
