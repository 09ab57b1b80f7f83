"""The Gymnasium views: API conformance, seeding, and equality with the vector env."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import mazearena


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
@pytest.mark.parametrize("obs_mode", ["partial", "full", "rgb"])
@pytest.mark.parametrize("actions", ["cardinal", "turn"])
def test_check_env_passes_for_every_id_and_option(env_id, obs_mode, actions):
    env = gym.make(env_id, obs_mode=obs_mode, actions=actions, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"generator": "backtracker", "rooms": 2, "loops": 0.3, "size": 15},
        {"num_levels": 5, "start_level": 3, "view_size": 5, "size": 7},
    ],
)
def test_check_env_passes_with_generator_options(kwargs):
    check_env(gym.make("mazearena/MazeKeyDoor-v0", **kwargs).unwrapped)


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    out = [(obs, info["level_id"])]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(int(a))
        out.append((obs, reward, terminated, truncated, info["level_id"]))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs, info["level_id"]))
    return out


SMALL = {"mazearena/MazeMemory-v0": 9}
"""Ids whose levels need more room than 7x7 (the memory task: goals out of view of the cue)."""


def same(a, b):
    return all(
        all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(s, t, strict=True))
        for s, t in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
def test_same_seed_same_levels_spawns_and_trajectories(env_id):
    actions = np.random.default_rng(0).integers(0, 4, size=400)
    size = SMALL.get(env_id, 7)
    a = rollout(gym.make(env_id, size=size, max_episode_steps=40), 5, actions)
    b = rollout(gym.make(env_id, size=size, max_episode_steps=40), 5, actions)
    c = rollout(gym.make(env_id, size=size, max_episode_steps=40), 6, actions)
    assert same(a, b)
    assert not same(a, c)
    assert len({x[-1] for x in a if len(x) == 2}) > 3  # several episodes, several levels


@pytest.mark.parametrize("env_id", list(mazearena.MAZE_IDS))
@pytest.mark.parametrize(
    "obs_mode,actions",
    [
        ("partial", "cardinal"),
        ("rgb", "cardinal"),
        ("full", "cardinal"),
        ("partial", "turn"),
        ("rgb", "turn"),
        ("full", "turn"),
    ],
)
def test_vector_env_replays_single_envs_exactly(env_id, obs_mode, actions):
    # The single env steps a scalar mirror of the engine's rules: this is what keeps them one set of rules.
    n, steps, seed, limit = 4, 250, 11, 25
    kwargs = {"size": SMALL.get(env_id, 7), "obs_mode": obs_mode, "actions": actions, "max_episode_steps": limit}
    actions = np.random.default_rng(1).integers(0, 4 if actions == "cardinal" else 3, size=(steps, n))
    vec = mazearena.make_vec(env_id, n, seed=seed, **kwargs)
    obs, info = vec.reset()
    singles = [gym.make(env_id, **kwargs) for _ in range(n)]
    single_obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    for i in range(n):
        assert np.array_equal(obs[i].numpy(), single_obs[i])
    episodes_ended = 0
    for t in range(steps):
        obs, reward, terminated, truncated, info = vec.step(torch.from_numpy(actions[t]))
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(int(actions[t, i]))
            assert (r, te, tr, inf["is_success"]) == (
                float(reward[i]),
                bool(terminated[i]),
                bool(truncated[i]),
                bool(info["is_success"][i]),
            )
            if te or tr:
                episodes_ended += 1
                assert bool(info["_final_obs"][i]) and np.array_equal(info["final_obs"][i].numpy(), o)
                o, _ = env.reset()
            assert np.array_equal(obs[i].numpy(), o)
    assert episodes_ended >= n * steps // limit


def test_replaying_a_level_with_new_spawns():
    env = gym.make("mazearena/Maze-v0", size=9, render_mode="rgb_array")
    grids, spawns = [], []
    for seed in range(6):
        env.reset(seed=seed, options={"level_id": 77})
        engine = env.unwrapped.engine
        grids.append(engine.layout_grid(0).clone())
        spawns.append(tuple(engine.pos[0].tolist()))
    assert all(torch.equal(g, grids[0]) for g in grids)
    assert len(set(spawns)) > 1


def test_split_keeps_train_and_test_levels_apart():
    train = gym.make("mazearena/Maze-v0", size=7, num_levels=20, start_level=0)
    test = gym.make("mazearena/Maze-v0", size=7, num_levels=0, start_level=20)
    train_ids = {train.reset(seed=s)[1]["level_id"] for s in range(500)}
    test_ids = {test.reset(seed=s)[1]["level_id"] for s in range(200)}
    assert train_ids <= set(range(20)) and len(train_ids) == 20
    assert min(test_ids) >= 20 and not train_ids & test_ids


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"size": 4}, ValueError, "size must be odd"),
        ({"view_size": 2}, ValueError, "view_size must be an odd int"),
        ({"colour": "red"}, TypeError, "got an unexpected keyword argument 'colour'; valid options: size"),
        ({"render_mode": "ascii"}, ValueError, "render_mode must be one of"),
        ({"num_levels": -1}, ValueError, r"num_levels must be an int in \[0, 2\*\*31\]"),
    ],
)
def test_bad_options_fail_with_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        gym.make("mazearena/Maze-v0", **kwargs)


def test_unknown_id_is_an_error():
    with pytest.raises(gym.error.Error, match="Maze-v9|doesn't exist"):
        gym.make("mazearena/Maze-v9")


@pytest.mark.parametrize(
    "action,error,match",
    [
        (4, ValueError, "action 4 is out of range: valid actions are 0..3"),
        (-1, ValueError, "action -1 is out of range"),
        (1.5, TypeError, "action must be an int in 0..3, got 1.5"),
        (np.array([1, 2]), ValueError, "action must be a scalar"),
        (True, TypeError, "action must be an int"),
    ],
)
def test_bad_actions_fail_with_clear_errors(action, error, match):
    env = gym.make("mazearena/Maze-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(error, match=match):
        env.step(action)


def test_numpy_and_tensor_scalar_actions_are_accepted():
    env = gym.make("mazearena/Maze-v0").unwrapped
    env.reset(seed=0)
    env.step(np.int64(1))
    env.step(np.array(2))
    env.step(torch.tensor(3))


def test_unknown_reset_option_is_an_error():
    env = gym.make("mazearena/Maze-v0")
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=0, options={"level": 3})


@pytest.mark.parametrize("obs_mode", ["partial", "rgb"])
def test_a_copied_env_plays_on_as_the_original_and_its_engine_follows(obs_mode):
    import copy

    env = gym.make("mazearena/MazeKeyDoor-v0", size=9, obs_mode=obs_mode, max_episode_steps=30)
    env.reset(seed=4)
    for a in (0, 1, 2):
        env.step(a)
    twin = copy.deepcopy(env)
    actions = np.random.default_rng(2).integers(0, 4, size=60)
    assert same(rollout_on(env, actions), rollout_on(twin, actions))
    for e in (env, twin):  # the engine (renderers, solvers read it) holds the game's state, not a stale copy
        ours = e.unwrapped
        assert np.array_equal(ours._game.observe(), ours.engine.observe()[0].numpy())


def rollout_on(env, actions):
    out = []
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(int(a))
        out.append((obs, reward, terminated, truncated, info["level_id"]))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs, info["level_id"]))
    return out
