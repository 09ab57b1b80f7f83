"""The SB3 bridge: stable-baselines3 trains on a mazearena env with our backbones."""

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import DQN, PPO

import mazearena  # noqa: F401  (registers the ids)
from mazearena.agents.backbones import GridCNN, Transformer
from mazearena.agents.sb3 import policy_kwargs


@pytest.mark.parametrize("algo,backbone,cls", [(PPO, "cnn", GridCNN), (DQN, "transformer", Transformer)])
def test_sb3_trains_with_our_backbones(algo, backbone, cls):
    env = gym.make("mazearena/Maze-v0", size=7, max_episode_steps=50)
    extra = {"n_steps": 64, "batch_size": 32} if algo is PPO else {"learning_starts": 32, "buffer_size": 1000}
    model = algo("MlpPolicy", env, policy_kwargs=policy_kwargs(backbone), seed=0, device="cpu", **extra)
    extractor = model.policy.features_extractor if algo is PPO else model.policy.q_net.features_extractor
    assert isinstance(extractor.net, cls)
    before = [p.clone() for p in model.policy.parameters()]
    model.learn(128)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(int(action))


def test_supersuit_recipe_trains_sb3_ppo_with_shared_parameters_on_an_arena():
    from mazearena.agents.sb3 import arena_vec_env

    env = arena_vec_env(2, "combat_3v3_vs_chasers", seed=0, max_cycles=20)
    assert env.num_envs == 2 * 3  # one row per learning agent per game
    assert env.observation_space.shape == (9, 7, 7)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=64,
        n_epochs=1,
        policy_kwargs=policy_kwargs("cnn"),
        device="cpu",
        seed=0,
    )
    before = [p.clone() for p in model.policy.parameters()]
    model.learn(256)
    assert model.num_timesteps >= 256
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
