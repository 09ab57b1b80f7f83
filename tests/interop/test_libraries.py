"""Third-party trainers and tools, used the way their documentation says: Stable-Baselines3 (MlpPolicy on
flattened planes, CnnPolicy on ``rgb``), its env checker, and SuperSuit's wrappers on the arena."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena  # noqa: F401  (registers the ids)
from mazearena.envs import arena_v0

sb3 = pytest.importorskip("stable_baselines3")  # the sb3 extra; installed with dev


def learns(model, steps: int) -> bool:
    before = [p.clone() for p in model.policy.parameters()]
    model.learn(steps)
    return any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))


def test_sb3_ppo_mlp_on_flattened_planes():
    env = gym.wrappers.FlattenObservation(gym.make("mazearena/Maze-v0", size=7))
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    assert learns(model, 128)


@pytest.mark.parametrize("options", [{}, {"obs_layout": "hwc"}, {"obs_mode": "full"}, {"obs_mode": "rgb"}])
def test_standard_checkers_stay_quiet(options):
    """The one-hot planes are declared MultiBinary (not an image): SB3's checker, which takes every 3-D Box for
    an image, warned about their bounds, size and channel order; ``rgb`` is an image and passes as one."""
    from gymnasium.utils.env_checker import check_env as gymnasium_check_env
    from stable_baselines3.common.env_checker import check_env

    env = gym.make("mazearena/Maze-v0", size=7, **options).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
        gymnasium_check_env(env)
    assert not caught, [str(w.message) for w in caught]
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs) and obs.dtype == env.observation_space.sample().dtype


def test_sb3_cnn_policy_on_rgb_observations_with_a_quiet_checker():
    from stable_baselines3.common.env_checker import check_env

    env = gym.make("mazearena/Maze-v0", size=7, obs_mode="rgb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    assert not [w for w in caught if "stable_baselines3" in w.filename], [str(w.message) for w in caught]
    model = sb3.PPO("CnnPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu")
    assert learns(model, 64)


def test_supersuit_frame_stack_and_agent_indicator_stack_channels_last():
    """SuperSuit stacks along the last axis: with ``obs_layout="hwc"`` that is the channel axis."""
    ss = pytest.importorskip("supersuit")
    env = arena_v0.parallel_env(mode="tag", red=2, blue=1, size=9, obs_layout="hwc", max_cycles=20)
    channels = env.observation_space("red_0").shape[-1]
    stacked = ss.frame_stack_v1(env, 3)
    obs, _ = stacked.reset(seed=0)
    assert obs["red_0"].shape == (7, 7, 3 * channels)
    obs, *_ = stacked.step({a: 0 for a in stacked.agents})
    direct = arena_v0.parallel_env(mode="tag", red=2, blue=1, size=9, obs_layout="hwc", max_cycles=20)
    direct.reset(seed=0)
    now, *_ = direct.step({a: 0 for a in direct.agents})
    assert np.array_equal(obs["red_0"][..., -channels:], now["red_0"])  # the newest frame's channels, whole
    indicated = ss.agent_indicator_v0(arena_v0.parallel_env(mode="tag", size=9, obs_layout="hwc"), type_only=True)
    obs, _ = indicated.reset(seed=0)
    assert obs["red_0"].shape[:2] == (7, 7)


def test_supersuit_to_sb3_on_channels_last_arena_observations():
    ss = pytest.importorskip("supersuit")
    env = arena_v0.parallel_env(scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=20, obs_layout="hwc")
    env = ss.frame_stack_v1(ss.black_death_v3(env), 2)
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=0, base_class="stable_baselines3")
    assert venv.observation_space.shape[:2] == (7, 7)
    model = sb3.PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, device="cpu")
    assert learns(model, 128)


def test_a_cleanrl_style_loop_sees_no_negative_returns_at_a_small_size():
    """The single-file PPO recipe (SyncVectorEnv of wrapped single envs, episode statistics from the wrapper)
    on 7x7 mazes: every episode's return is a success's positive reward or a failure's zero."""

    def make_env():
        return gym.wrappers.RecordEpisodeStatistics(
            gym.wrappers.FlattenObservation(gym.make("mazearena/Maze-v0", size=7))
        )

    envs = gym.vector.SyncVectorEnv([make_env for _ in range(8)])
    envs.action_space.seed(0)
    envs.reset(seed=0)
    returns, lengths = [], []
    for _ in range(1500):
        *_, infos = envs.step(envs.action_space.sample())
        if "episode" in infos:
            done = infos["_episode"]
            returns += infos["episode"]["r"][done].tolist()
            lengths += infos["episode"]["l"][done].tolist()
    assert returns and min(returns) >= 0 and max(lengths) <= 4 * 7 * 7
    assert any(r > 0 for r in returns)
