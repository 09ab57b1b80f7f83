"""Plain ``pickle`` round trips (process pools started with spawn, users' pickle-based checkpoints): a copy taken
mid-episode plays on exactly as the original does."""

import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.envs import arena_v0


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def play_on(env, step, actions) -> list:
    out = []
    for a in actions:
        out.append(step(env, a))
    return out


def single_step(env, a):
    out = env.step(a)
    if out[2] or out[3]:
        return out, env.reset()
    return out


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
@pytest.mark.parametrize("obs_mode", ["partial", "rgb"])
def test_single_maze_env(env_id, obs_mode):
    env = gym.make(env_id, size=9, obs_mode=obs_mode, max_steps=25)  # 9: the memory task needs room
    env.reset(seed=3)
    actions = np.random.default_rng(0).integers(0, 4, 120).tolist()
    play_on(env, single_step, actions[:30])
    copy = pickle.loads(pickle.dumps(env))
    assert same(play_on(env, single_step, actions[30:]), play_on(copy, single_step, actions[30:]))


@pytest.mark.parametrize("make", ["mazearena.make_vec", "gym.make_vec"])
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_maze_vector_env(make, backend):
    kwargs = {"size": 7, "max_episode_steps": 20, "backend": backend}
    if make == "gym.make_vec":
        env = gym.make_vec("mazearena/Maze-v0", num_envs=4, vectorization_mode="vector_entry_point", **kwargs)
    else:
        env = mazearena.make_vec("mazearena/Maze-v0", 4, seed=1, **kwargs)
    env.reset(seed=1)
    actions = [torch.randint(0, 4, (4,), generator=torch.Generator().manual_seed(i)) for i in range(80)]
    play_on(env, lambda e, a: e.step(a), actions[:30])
    copy = pickle.loads(pickle.dumps(env))
    assert same(play_on(env, lambda e, a: e.step(a), actions[30:]), play_on(copy, lambda e, a: e.step(a), actions[30:]))


def parallel_step(env, rng):
    if not env.agents:
        return env.reset()
    return env.step({a: int(rng.integers(env.action_space(a).n)) for a in env.agents})


@pytest.mark.parametrize("mode", ["tag", "ctf", "combat"])
def test_arena_parallel_env(mode):
    env = arena_v0.parallel_env(mode=mode, size=9, max_cycles=20)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(10):
        parallel_step(env, rng)
    copy = pickle.loads(pickle.dumps(env))
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert same([parallel_step(env, rng_a) for _ in range(40)], [parallel_step(copy, rng_b) for _ in range(40)])


def test_arena_aec_env():
    def play(env, rng, n):
        out = []
        for _ in range(n):
            if not env.agents:
                env.reset()
            obs, reward, terminated, truncated, info = env.last()
            action = None if terminated or truncated else int(rng.integers(env.action_space(env.agent_selection).n))
            env.step(action)
            out.append((env.agent_selection, obs, reward, terminated, truncated, info))
        return out

    env = arena_v0.env(mode="ctf", size=9, max_cycles=15)
    env.reset(seed=5)
    play(env, np.random.default_rng(0), 12)
    copy = pickle.loads(pickle.dumps(env))
    assert same(play(env, np.random.default_rng(2), 60), play(copy, np.random.default_rng(2), 60))


def test_arena_vector_env_with_a_scenario():
    env = arena_v0.vector_env(4, seed=0, scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=15)
    env.reset(seed=0)
    n = env.single_action_space.n
    actions = [torch.randint(0, n, (4, env.num_agents), generator=torch.Generator().manual_seed(i)) for i in range(50)]
    play_on(env, lambda e, a: e.step(a), actions[:10])
    copy = pickle.loads(pickle.dumps(env))
    assert same(play_on(env, lambda e, a: e.step(a), actions[10:]), play_on(copy, lambda e, a: e.step(a), actions[10:]))


def _steps_of(env) -> list:
    return [(out[0].tobytes(), *out[1:4]) for out in (env.step(a) for a in (0, 1, 2, 3, 2, 1, 1, 0))]


def test_an_env_sent_to_a_spawned_process_plays_on_there_and_here():
    """multiprocessing's pickler moves pickled tensors into shared memory; the original must keep playing."""
    import multiprocessing

    env = gym.make("mazearena/Maze-v0", size=7)
    env.reset(seed=4)
    env.step(1)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply_async(_steps_of, (env,)).get(timeout=300)  # a worker that dies fails, not hangs
    assert there == _steps_of(env)
