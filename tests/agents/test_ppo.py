"""PPO on other Gymnasium vector envs, and its bootstrapping through time limits."""

import gymnasium as gym
import pytest
import torch
from gymnasium.vector import AutoresetMode

import mazearena
from mazearena.agents.policies import ActorCritic
from mazearena.training.algorithms.ppo import PPO, PPOConfig


def test_ppo_trains_on_a_numpy_gymnasium_vector_env_with_same_step_autoreset():
    envs = gym.make_vec(
        "CartPole-v1",
        num_envs=4,
        vectorization_mode="sync",
        max_episode_steps=20,
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    policy = ActorCritic(envs.single_observation_space, 2, "mlp")
    algo = PPO(PPOConfig(num_envs=4, num_steps=32, num_minibatches=2), envs, policy, torch.device("cpu"), 3)
    before = [p.clone() for p in policy.parameters()]
    for _ in range(3):
        metrics = algo.iteration()
    assert metrics["episode/count"] > 0 and metrics["episode/length"] <= 20
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))


def test_ppo_refuses_next_step_autoreset():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    policy = ActorCritic(envs.single_observation_space, 2, "mlp")
    with pytest.raises(ValueError, match="same-step autoreset"):
        PPO(PPOConfig(num_envs=2, num_steps=8, num_minibatches=2), envs, policy, torch.device("cpu"), 1)


def test_time_limits_are_bootstrapped_and_real_endings_are_not():
    envs = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7, max_episode_steps=3)
    policy = ActorCritic(envs.single_observation_space, 4, "cnn")
    cfg = PPOConfig(num_envs=8, num_steps=12, num_minibatches=2, gamma=0.9)
    algo = PPO(cfg, envs, policy, torch.device("cpu"), 1)
    finals, real_step = [], envs.step

    def spy(actions):
        out = real_step(actions)
        finals.append((out[1].clone(), out[2].clone(), out[3].clone(), out[4]["final_obs"].clone()))
        return out

    envs.step = spy
    algo._rollout()
    cut = 0
    for t, (reward, terminated, truncated, final) in enumerate(finals):
        expected = reward.clone()
        rows = (truncated & ~terminated).nonzero().squeeze(1)
        with torch.no_grad():
            expected[rows] += cfg.gamma * policy.value(final[rows])
        assert torch.allclose(algo.buf_rewards[t], expected, atol=1e-6)
        cut += len(rows)
    assert cut > 0  # truncations happened and were bootstrapped
