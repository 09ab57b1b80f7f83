"""DQN's n-step targets (double-Q and classic) against a step-by-step reference, its config errors, and mixed
precision."""

import pytest
import torch

import mazearena
from mazearena.agents.policies import ActorCritic, QNetwork
from mazearena.training.algorithms.dqn import DQN, DQNConfig
from mazearena.training.algorithms.ppo import PPO, PPOConfig


def _filled_dqn(n_step: int, steps: int = 40, double_q: bool = True) -> tuple[DQN, list[tuple]]:
    """A DQN whose small buffer has wrapped around, with the transitions it stored, in order."""
    envs = mazearena.make_vec("mazearena/Maze-v0", 4, seed=0, size=5, max_episode_steps=4)
    cfg = DQNConfig(
        num_envs=4, buffer_size=42, batch_size=8, n_step=n_step, learning_starts=10**9, gamma=0.9, double_q=double_q
    )
    algo = DQN(cfg, envs, QNetwork(envs.single_observation_space, 4, "cnn"), torch.device("cpu"), 1000)
    log, store = [], algo._store

    def spy(obs, actions, rewards, next_obs, terminated, done):
        log.append((rewards.clone(), next_obs.clone(), terminated.clone(), done.clone()))
        store(obs, actions, rewards, next_obs, terminated, done)

    algo._store = spy
    algo.iteration(4 * steps)
    return algo, log


@pytest.mark.parametrize("n_step,double_q", [(1, True), (3, True), (1, False), (3, False)])
def test_n_step_targets_match_a_step_by_step_reference(n_step, double_q):
    algo, log = _filled_dqn(n_step, double_q=double_q)
    assert algo.capacity == 40 and algo.size == 40  # rounded down to whole vector steps; wrapped around
    with torch.no_grad():  # the target net apart from the online one, as after training
        for p in algo.target.parameters():
            p.add_(0.5 * torch.randn_like(p))
    cfg, rows = algo.cfg, torch.arange(algo.size)
    with torch.no_grad():
        got = algo._targets(rows)

    def value(next_obs):
        with torch.no_grad():
            rated = algo.target(next_obs[None])[0]
            if not double_q:  # classic DQN: the target net's own best
                return rated.max().item()
            return rated[algo.q_net(next_obs[None]).argmax(-1)].item()  # the online net picks

    kept = algo.capacity // cfg.num_envs  # the newest vector steps still in the buffer
    ends = 0
    for t in range(len(log) - kept, len(log)):
        for e in range(cfg.num_envs):
            ret, k = 0.0, 0
            while True:
                reward, next_obs, terminated, done = (x[e] for x in log[t + k])
                ret += cfg.gamma**k * reward.item()
                k += 1
                if done or k == n_step or t + k == len(log):
                    break
            expected = ret + (0.0 if terminated else cfg.gamma**k * value(next_obs))
            ends += bool(done)
            row = (t * cfg.num_envs) % algo.capacity + e
            assert got[row].item() == pytest.approx(expected, rel=1e-4, abs=1e-5), (t, e)
    assert ends > 0  # episode ends (terminations or time limits) were inside the windows


def test_dqn_config_errors_name_the_field():
    with pytest.raises(ValueError, match="n_step"):
        DQNConfig(n_step=0)
    with pytest.raises(ValueError, match="buffer_size"):
        DQNConfig(num_envs=16, n_step=4, buffer_size=32, batch_size=8)


def test_mixed_precision_trains_ppo_and_dqn():
    envs = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7)
    cpu = torch.device("cpu")
    policy = ActorCritic(envs.single_observation_space, 4, "cnn")
    before = [p.clone() for p in policy.parameters()]
    metrics = PPO(PPOConfig(num_envs=8, num_steps=16, num_minibatches=2), envs, policy, cpu, 2, amp=True).iteration()
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if k.startswith("loss/policy"))
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    assert all(p.dtype == torch.float32 for p in policy.parameters())  # weights stay float32

    envs = mazearena.make_vec("mazearena/Maze-v0", 8, seed=0, size=7)
    q = QNetwork(envs.single_observation_space, 4, "cnn")
    algo = DQN(DQNConfig(num_envs=8, batch_size=16, learning_starts=64, n_step=3), envs, q, cpu, 1000, amp=True)
    metrics = algo.iteration(256)
    assert torch.isfinite(torch.tensor(metrics["loss/td"]))
