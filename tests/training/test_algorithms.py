"""The algorithm registry: an algorithm is one module (an ``Algorithm``) and one registry line.

The recipe of ``docs/architecture.md`` ("add an algorithm"), tried with a throw-away REINFORCE: registered, it
trains through ``train()`` into an ordinary run folder, checkpoints and resumes exactly, and ``eval``'s loader
and the harness play it, with no other change.
"""

from __future__ import annotations

import json

import pytest
import torch

from mazearena.training import algorithms
from mazearena.training.algorithms import ALGORITHMS, Algorithm, algorithm
from mazearena.training.config import TrainConfig
from mazearena.training.loop import train
from mazearena.training.runs import load_trained


class Reinforce:
    """Vanilla policy gradient on the actor-critic network: returns-to-go over fixed windows of ``steps`` steps of
    every env (a window's end is not bootstrapped)."""

    def __init__(self, envs, policy, steps: int, lr: float, seed: int) -> None:
        self.envs, self.policy, self.steps = envs, policy, steps
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        self.global_step = 0
        self.obs, _ = envs.reset(seed=seed)

    def iteration(self) -> dict[str, float]:
        logps, rewards, alive = [], [], []
        for _ in range(self.steps):
            logits, _ = self.policy(self.obs)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            self.obs, reward, terminated, truncated, _ = self.envs.step(action)
            logps.append(dist.log_prob(action))
            rewards.append(reward.float())
            alive.append(~(terminated | truncated))
            self.global_step += self.envs.num_envs
        to_go, returns = torch.zeros_like(rewards[0]), []
        for r, a in zip(reversed(rewards), reversed(alive), strict=True):
            to_go = r + 0.99 * to_go * a
            returns.append(to_go)
        returns = torch.stack(returns[::-1])
        loss = -(torch.stack(logps) * (returns - returns.mean())).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss/policy": loss.item(), "episode/return": torch.stack(rewards).sum(0).mean().item()}

    def state_dict(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
            "obs": self.obs,
            "torch_rng": torch.get_rng_state(),
            "engine": self.envs.unwrapped.engine.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step, self.obs = int(state["global_step"]), state["obs"]
        torch.set_rng_state(state["torch_rng"])
        self.envs.unwrapped.engine.load_state_dict(state["engine"])


def _network(cfg, envs):
    from mazearena.agents.policies import ActorCritic

    return ActorCritic(envs.single_observation_space, envs.single_action_space.n, cfg.backbone).to(cfg.device)


REINFORCE = Algorithm(
    name="reinforce",
    section="ppo",  # borrows PPO's num_envs, num_steps and learning rate
    network=_network,
    trainer=lambda cfg, envs, policy, device, iterations, steps: Reinforce(
        envs, policy, cfg.ppo.num_steps, cfg.ppo.learning_rate, cfg.seed
    ),
    steps_per_iteration=lambda cfg: cfg.ppo.num_envs * cfg.ppo.num_steps,
    summary="vanilla policy gradient (a throw-away example)",
)


@pytest.fixture
def reinforce(monkeypatch):
    monkeypatch.setitem(ALGORITHMS, REINFORCE.name, REINFORCE)  # the one registry line
    return REINFORCE


TINY = {
    "total_timesteps": 1024,
    "checkpoint_every": 512,
    "eval_every": 512,
    "eval_episodes": 16,
    "video_episodes": 1,
    "wandb_mode": "disabled",
    "progress": False,
}


def config(tmp_path, **kw) -> TrainConfig:
    from mazearena.training.algorithms.ppo import PPOConfig
    from mazearena.training.config import EnvConfig

    return TrainConfig(
        algo="reinforce",
        backbone="mlp",
        runs_dir=tmp_path,
        env=EnvConfig(size=7),
        ppo=PPOConfig(num_envs=8, num_steps=32),
        **{**TINY, **kw},
    )


def test_an_added_algorithm_trains_reports_resumes_and_loads(tmp_path, reinforce):
    run = train(config(tmp_path, name="full"))
    assert (run / "report.md").exists() and (run / "episodes.gif").exists() and (run / "checkpoints/best.pt").exists()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [256, 512, 768, 1024] and "eval/success_rate" in rows[1]
    # a crash after the first checkpoint (at 512 steps), then resume: the weights of the uninterrupted run
    crash = config(tmp_path, name="crash")
    original = Reinforce.iteration

    def crashing(self):
        if self.global_step >= 768:
            raise KeyboardInterrupt
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Reinforce, "iteration", crashing)
        with pytest.raises(KeyboardInterrupt):
            train(crash)
    resumed = train(TrainConfig(resume=tmp_path / "crash", progress=False))
    weights = [torch.load(r / "checkpoints/last.pt", weights_only=True)["algo"]["policy"] for r in (run, resumed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    cfg, _, policy, step = load_trained(run)
    assert cfg.algo == "reinforce" and step == 1024 and not policy.training


def test_an_unknown_algorithm_is_named_with_the_registered_ones():
    with pytest.raises(ValueError, match="algo must be one of ppo, dqn, sb3-ppo, mappo, a2c, got 'nope'"):
        algorithm("nope")
    with pytest.raises(ValueError, match="algo must be one of"):
        TrainConfig(algo="nope")
    assert algorithms.team_algorithms() == ("mappo", "a2c")  # --env arena's default first
