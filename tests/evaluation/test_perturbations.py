"""Perturbation wrappers: exact at severity 0, each one doing what it says, seeded, on all three env APIs."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import mazearena
from mazearena.envs import arena_v0
from mazearena.evaluation.perturbations import (
    OBS_ATTACKS,
    PERTURBATIONS,
    Perturbation,
    PerturbedEnv,
    PerturbedParallelEnv,
    PerturbedVectorEnv,
)


def maze(n=16, seed=0, **kw):
    return mazearena.make_vec("mazearena/Maze-v0", n, seed=seed, size=9, **kw)


def rollout(env, steps=40, seed=5):
    """Observations and rewards of a fixed random action sequence."""
    g = torch.Generator().manual_seed(seed)
    obs, _ = env.reset()
    out = [obs.clone()]
    for _ in range(steps):
        actions = torch.randint(0, env.single_action_space.n, (env.num_envs,), generator=g)
        obs, reward, *_ = env.step(actions)
        out += [obs.clone(), reward.clone()]
    return out


@pytest.mark.parametrize("name", [n for n in PERTURBATIONS if n != "npc_sharpness"])
def test_severity_zero_is_the_clean_env_exactly(name):
    clean, perturbed = rollout(maze()), rollout(PerturbedVectorEnv(maze(), name, 0.0, seed=1))
    assert all(torch.equal(a, b) for a, b in zip(clean, perturbed, strict=True))


@pytest.mark.parametrize("name", [n for n in PERTURBATIONS if n not in ("npc_sharpness", *OBS_ATTACKS)])
def test_a_perturbation_changes_play_is_seeded_and_leaves_the_global_rng_alone(name):
    state = torch.get_rng_state()
    a = rollout(PerturbedVectorEnv(maze(), name, 0.5, seed=1))
    b = rollout(PerturbedVectorEnv(maze(), name, 0.5, seed=1))
    c = rollout(PerturbedVectorEnv(maze(), name, 0.5, seed=2))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, rollout(maze()), strict=True))


def test_sticky_actions_repeat_the_previous_action_but_never_across_episodes():
    env = maze(4)
    p = Perturbation("sticky_actions", 1.0, env, 4)
    first = p.action(torch.tensor([0, 1, 2, 3]))
    assert first.tolist() == [0, 1, 2, 3]  # first step of every episode: the chosen action
    assert p.action(torch.tensor([3, 3, 3, 3])).tolist() == [0, 1, 2, 3]  # p = 1: always the previous one
    p.episodes_started(torch.tensor([True, False, False, True]))
    assert p.action(torch.tensor([2, 2, 2, 2])).tolist() == [2, 1, 2, 2]


def test_sticky_actions_repeat_with_the_probability_asked():
    p = Perturbation("sticky_actions", 0.25, maze(1), 10_000)
    p.action(torch.zeros(10_000, dtype=torch.long))
    p.episodes_started(torch.zeros(10_000, dtype=torch.bool))
    stuck = (p.action(torch.ones(10_000, dtype=torch.long)) == 0).float().mean()
    assert abs(float(stuck) - 0.25) < 0.02


def test_random_actions_are_uniform_and_slips_are_sideways():
    n = 20_000
    p = Perturbation("random_actions", 1.0, maze(1), n)
    counts = torch.bincount(p.action(torch.zeros(n, dtype=torch.long)), minlength=4).float() / n
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.02)
    s = Perturbation("slippery", 1.0, maze(1), n)
    north = s.action(torch.zeros(n, dtype=torch.long))  # north slips east or west, never north or south
    assert set(north.tolist()) == {1, 3}
    arena = arena_v0.vector_env(2, scenario="combat_2v2_with_npc_ally")
    a = Perturbation("slippery", 1.0, arena, 2)
    assert a.action(torch.tensor([[0, 5], [1, 2]]))[0].tolist() == [0, 5]  # stay and attack do not slip
    assert set(a.action(torch.full((n, 1), 2)).view(-1).tolist()) == {1, 3}  # east slips north or south


def test_slippery_needs_compass_moves():
    with pytest.raises(ValueError, match="slippery needs compass moves"):
        PerturbedVectorEnv(maze(actions="turn"), "slippery", 0.1)


def test_observation_perturbations_stay_in_the_observation_space():
    env = maze(64)
    obs, _ = env.reset()
    noisy = Perturbation("obs_noise", 0.2, env, 64).observation(obs)
    assert noisy.dtype == obs.dtype and int(noisy.max()) <= 1
    changed = float((noisy != obs).float().mean())
    assert 0.05 < changed < 0.15  # replaced with probability 0.2 by one of 2 values: about 0.1 changes
    dropped = Perturbation("obs_dropout", 0.5, env, 64).observation(obs)
    blank = (dropped == 0).all(1)  # [B, H, W]: cells blanked in every channel
    assert 0.4 < float(blank.float().mean()) < 0.75
    assert torch.equal(dropped[~blank[:, None].expand_as(obs)], obs[~blank[:, None].expand_as(obs)])
    assert int(Perturbation("frame_drop", 1.0, env, 64).observation(obs).sum()) == 0
    rgb = maze(8, obs_mode="rgb")
    image, _ = rgb.reset()
    out = Perturbation("obs_dropout", 0.5, rgb, 8).observation(image)
    assert ((out == 0).all(-1) | (out == image).all(-1)).all()  # whole pixels blanked, channels last


def test_token_observations_lose_other_entities_but_never_the_observer():
    env = arena_v0.vector_env(32, scenario="ctf_3v3_vs_guards", obs_mode="tokens")
    obs, _ = env.reset(seed=0)
    out = Perturbation("obs_dropout", 1.0, env, 32).observation(obs)
    from mazearena.envs.engine.cells import TOKEN_FEATURES

    me = obs["tokens"][..., TOKEN_FEATURES.index("self")] != 0
    assert torch.equal(out["mask"], obs["mask"] & me)
    noisy = Perturbation("obs_noise", 0.5, env, 32).observation(obs)
    assert not torch.equal(noisy["tokens"], obs["tokens"]) and torch.equal(noisy["mask"], obs["mask"])


def test_npc_sharpness_scales_the_npc_error_rates_and_needs_npcs():
    env = arena_v0.vector_env(4, scenario="tag_2v1_vs_fleeing_npc")
    before = env.npcs.epsilon.clone()
    PerturbedVectorEnv(env, "npc_sharpness", 0.5)
    assert torch.allclose(env.npcs.epsilon, before * 0.5)
    with pytest.raises(ValueError, match="npc_sharpness needs an arena with scripted NPCs"):
        PerturbedVectorEnv(maze(), "npc_sharpness", 0.5)


@pytest.mark.parametrize(
    ("name", "severity", "match"),
    [
        ("wind", 0.1, "unknown perturbation 'wind'"),
        ("sticky_actions", 1.5, "severity of sticky_actions"),
        ("obs_noise", -0.1, "severity of obs_noise"),
    ],
)
def test_bad_perturbations_are_named(name, severity, match):
    with pytest.raises(ValueError, match=match):
        PerturbedVectorEnv(maze(), name, severity)


@pytest.mark.parametrize("name", ["sticky_actions", "obs_noise", "obs_dropout", "slippery"])
def test_the_single_env_wrapper_passes_gymnasiums_checker_and_matches_the_batched_one(name):
    env = PerturbedEnv(gym.make("mazearena/Maze-v0", size=9), name, 0.3, seed=4)
    check_env(env.unwrapped)
    check_env(env, skip_render_check=True)
    single = PerturbedEnv(gym.make("mazearena/Maze-v0", size=9, max_steps=10_000), name, 0.3, seed=4)
    batched = PerturbedVectorEnv(
        mazearena.make_vec("mazearena/Maze-v0", 1, size=9, max_episode_steps=10_000), name, 0.3, seed=4
    )
    obs, _ = single.reset(seed=7)
    vobs, _ = batched.reset(seed=7)
    for t in range(30):
        assert np.array_equal(obs, vobs[0].numpy()), t
        obs, *_ = single.step(t % 4)
        vobs, *_ = batched.step(torch.tensor([t % 4]))


@pytest.mark.parametrize("name", ["sticky_actions", "obs_dropout", "slippery", "npc_sharpness"])
def test_the_parallel_env_wrapper_passes_pettingzoos_api_test(name):
    env = PerturbedParallelEnv(arena_v0.parallel_env(scenario="combat_2v2_with_npc_ally", max_cycles=40), name, 0.5)
    parallel_api_test(env, num_cycles=60)
    tokens = PerturbedParallelEnv(
        arena_v0.parallel_env(scenario="ctf_3v3_vs_guards", obs_mode="both", max_cycles=20), "obs_dropout", 0.5
    )
    obs, _ = tokens.reset(seed=0)
    assert tokens.observation_space("red_0").contains(obs["red_0"])
