"""Training speed of our trainers next to their peers, for ``mazearena bench`` and ``mazearena bench train``.

Train-steps/s = env steps (agent-steps for multi-agent trainers) collected and learned from per second,
rollout and update together; each figure a list of ``repeats`` timed runs after a warm-up. Peers: Stable-
Baselines3 PPO and DQN on the same maze with the same CNN and hyperparameters, and the PettingZoo →
SuperSuit → SB3 PPO recipe for multi-agent PPO. A peer that is not installed raises ``ImportError``.
"""

from __future__ import annotations

import torch

import mazearena
from mazearena.apps.bench.common import rates

MEMORY_ID = "mazearena/MazeMemory-v0"
"""The env of the recurrent trainers' timing: a task that needs the memory they carry."""


def ppo_ours(
    size: int,
    backbone: str,
    num_envs: int,
    num_steps: int,
    iterations: int,
    repeats: int,
    device: str = "cpu",
    amp: bool = False,
    core: str = "none",
    env_id: str = "mazearena/Maze-v0",
) -> list[float]:
    """Our PPO (with a recurrent ``core``: whole-sequence minibatches): ``iterations`` rollouts of ``num_envs ×
    num_steps`` steps with their updates per timed run."""
    from mazearena.agents.policies import ActorCritic
    from mazearena.training.algorithms.ppo import PPO, PPOConfig

    torch.manual_seed(0)
    cfg = PPOConfig(num_envs=num_envs, num_steps=num_steps, num_minibatches=4)
    envs = mazearena.make_vec(env_id, num_envs, device=device, seed=0, size=size, num_levels=500)
    space, n = envs.single_observation_space, envs.single_action_space.n
    policy = ActorCritic(space, n, backbone, core=core).to(device)
    algo = PPO(cfg, envs, policy, torch.device(device), total_iterations=10**6, amp=amp)
    algo.iteration()  # warm-up

    def work() -> int:
        before = algo.global_step
        for _ in range(iterations):
            algo.iteration()
        return algo.global_step - before

    return rates(work, repeats)


def ppo_sb3(size: int, backbone: str, num_envs: int, num_steps: int, iterations: int, repeats: int) -> list[float]:
    """Stable-Baselines3 PPO on the same maze, network and settings (DummyVecEnv, CPU)."""
    from stable_baselines3 import PPO as SB3PPO

    model = SB3PPO("MlpPolicy", _sb3_maze_env(size, num_envs), **_sb3_ppo_settings(backbone, num_envs, num_steps))
    return _sb3_rates(model, num_envs * num_steps, iterations * num_envs * num_steps, repeats)


def _sb3_ppo_settings(backbone: str, num_envs: int, num_steps: int) -> dict:
    """What the SB3 PPO peers share with ours: the rollout, 4 minibatches, our epochs, learning rate and entropy
    bonus, our backbone."""
    from mazearena.agents.sb3 import policy_kwargs
    from mazearena.training.algorithms.ppo import PPOConfig

    cfg = PPOConfig()
    return dict(
        n_steps=num_steps,
        batch_size=num_envs * num_steps // 4,
        n_epochs=cfg.update_epochs,
        learning_rate=cfg.learning_rate,
        ent_coef=cfg.ent_coef,
        policy_kwargs=policy_kwargs(backbone),
        seed=0,
        device="cpu",
    )


def recurrent_ppo_sb3(
    size: int, backbone: str, num_envs: int, num_steps: int, iterations: int, repeats: int
) -> list[float]:
    """sb3-contrib's ``RecurrentPPO`` on the memory maze with our backbone and one LSTM of the same size shared
    by actor and critic (as our ``--core lstm``), the same rollout, epochs, minibatches and learning rate."""
    from sb3_contrib import RecurrentPPO

    settings = _sb3_ppo_settings(backbone, num_envs, num_steps)
    lstm = {"lstm_hidden_size": 128, "n_lstm_layers": 1, "shared_lstm": True, "enable_critic_lstm": False}
    settings["policy_kwargs"] |= lstm
    model = RecurrentPPO("MlpLstmPolicy", _sb3_maze_env(size, num_envs, MEMORY_ID), **settings)
    return _sb3_rates(model, num_envs * num_steps, iterations * num_envs * num_steps, repeats)


def dqn_ours(
    size: int,
    backbone: str,
    num_envs: int,
    steps: int,
    batch: int,
    iterations: int,
    repeats: int,
    device: str = "cpu",
    double_q: bool = True,
    n_step: int = 3,
    amp: bool = False,
) -> list[float]:
    """Our DQN (double-Q with 3-step returns, our defaults; ``double_q=False, n_step=1`` is SB3's algorithm):
    ``steps`` env steps per iteration from ``num_envs`` envs, one gradient step of ``batch`` samples per vector
    step."""
    from mazearena.agents.policies import QNetwork
    from mazearena.training.algorithms.dqn import DQN, DQNConfig

    torch.manual_seed(0)
    cfg = DQNConfig(num_envs=num_envs, batch_size=batch, learning_starts=steps, double_q=double_q, n_step=n_step)
    envs = mazearena.make_vec("mazearena/Maze-v0", num_envs, device=device, seed=0, size=size, num_levels=500)
    q = QNetwork(envs.single_observation_space, envs.single_action_space.n, backbone).to(device)
    algo = DQN(cfg, envs, q, torch.device(device), total_steps=10**8, amp=amp)
    algo.iteration(2 * steps)  # warm-up: fills the buffer past learning_starts

    def work() -> int:
        before = algo.global_step
        for _ in range(iterations):
            algo.iteration(steps)
        return algo.global_step - before

    return rates(work, repeats)


def dqn_sb3(
    size: int, backbone: str, num_envs: int, steps: int, batch: int, iterations: int, repeats: int
) -> list[float]:
    """Stable-Baselines3 DQN (single-Q) with the same replay ratio, network and settings."""
    from stable_baselines3 import DQN as SB3DQN

    from mazearena.agents.sb3 import policy_kwargs
    from mazearena.training.algorithms.dqn import DQNConfig

    env = _sb3_maze_env(size, num_envs)
    cfg = DQNConfig()
    model = SB3DQN(
        "MlpPolicy",
        env,
        buffer_size=cfg.buffer_size,
        learning_starts=steps,
        batch_size=batch,
        train_freq=1,
        gradient_steps=1,
        target_update_interval=cfg.target_update_every,
        learning_rate=cfg.learning_rate,
        policy_kwargs=policy_kwargs(backbone),
        seed=0,
        device="cpu",
    )
    return _sb3_rates(model, 2 * steps, iterations * steps, repeats)  # the warm-up fills the buffer


def mappo_ours(
    scenario: str, num_envs: int, num_steps: int, iterations: int, repeats: int, centralized: bool, device: str = "cpu"
) -> list[float]:
    """Our MAPPO (``centralized``) or IPPO with shared weights; agent-steps learned per second."""
    from mazearena.agents.policies import MultiAgentActorCritic
    from mazearena.envs import arena_v0
    from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig

    torch.manual_seed(0)
    cfg = MAPPOConfig(num_envs=num_envs, num_steps=num_steps, centralized_critic=centralized)
    envs = arena_v0.vector_env(num_envs, device=device, seed=0, scenario=scenario)
    policy = MultiAgentActorCritic(
        envs.single_observation_space,
        envs.state_space,
        envs.num_agents,
        envs.single_action_space.n,
        centralized_critic=centralized,
    ).to(device)
    algo = MAPPO(cfg, envs, policy, torch.device(device), total_iterations=10**6)
    algo.iteration()  # warm-up

    def work() -> int:
        before = algo.global_step
        for _ in range(iterations):
            algo.iteration()
        return (algo.global_step - before) * envs.num_agents

    return rates(work, repeats)


def mappo_sb3(scenario: str, num_envs: int, num_steps: int, iterations: int, repeats: int) -> list[float]:
    """PettingZoo → SuperSuit → SB3 PPO with shared weights on the same scenario (needs supersuit)."""
    from stable_baselines3 import PPO

    from mazearena.agents.sb3 import arena_vec_env, policy_kwargs
    from mazearena.training.algorithms.mappo import MAPPOConfig

    env = arena_vec_env(num_envs, scenario, seed=0)
    agents = env.num_envs // num_envs
    cfg = MAPPOConfig()
    batch = env.num_envs * num_steps // cfg.num_minibatches
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=num_steps,
        batch_size=batch,
        n_epochs=cfg.update_epochs,
        learning_rate=cfg.learning_rate,
        ent_coef=cfg.ent_coef,
        policy_kwargs=policy_kwargs("cnn"),
        device="cpu",
    )
    rollout = num_envs * num_steps * agents
    return _sb3_rates(model, rollout, iterations * rollout, repeats)


def _sb3_maze_env(size: int, num_envs: int, env_id: str = "mazearena/Maze-v0"):
    """The SB3 peers' env: ``num_envs`` single mazes in a ``DummyVecEnv``, on the level set ours train on."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    kwargs = {"size": size, "num_levels": 500}
    return make_vec_env(env_id, n_envs=num_envs, seed=0, vec_env_cls=DummyVecEnv, env_kwargs=kwargs)


def _sb3_rates(model, warm_up: int, per_run: int, repeats: int) -> list[float]:
    """Steps per second of ``repeats`` timed ``model.learn(per_run)`` calls, continuing one run after
    ``warm_up`` untimed steps; SB3's own logger silenced (it would make a folder per call)."""
    from mazearena.agents.sb3 import quiet_logger

    quiet_logger(model)
    model.learn(warm_up)

    def work() -> int:
        model.learn(per_run, reset_num_timesteps=False)
        return per_run

    return rates(work, repeats)
