"""Advantage actor-critic (A2C, synchronous), readable top to bottom: the whole algorithm, its config and its
registry entry in this one module.

One iteration = ``num_steps`` steps of ``num_envs`` envs (a short rollout, 5 steps by default as in SB3), n-step
returns (GAE with ``gae_lambda``, 1 = plain n-step returns), then **one** gradient step on the whole rollout:
the policy gradient ``-log pi(a|s) * A``, the value loss ``0.5 * (V - R)^2`` and an entropy bonus, with RMSprop
(SB3's optimiser and settings) or Adam. The rollout, the time-out bootstrap and GAE are PPO's
(:class:`~mazearena.training.algorithms.ppo.PPO`): A2C is PPO with one unclipped step per rollout and no ratio. A
recurrent core replays every env's whole rollout from its first state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mazearena.agents import batches
from mazearena.agents.actor import index_state
from mazearena.agents.policies import ActorCritic
from mazearena.checks import UserError, check_fields, check_int, check_real
from mazearena.training.algorithms.base import Algorithm
from mazearena.training.algorithms.ppo import PPO, actor_critic, anneal_lr, sequence_rows


@dataclass
class A2CConfig:
    """A2C hyperparameters (defaults: SB3's, but 64 envs)."""

    num_envs: int = 64
    """Parallel envs in a rollout."""
    num_steps: int = 5
    """Steps per env per rollout (one gradient step per rollout)."""
    learning_rate: float = 7e-4
    """Step size (annealed linearly to 0 with ``anneal_lr``)."""
    anneal_lr: bool = True
    """Anneal the learning rate to 0 over the run."""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """RMSprop (alpha 0.99, eps 1e-5, as SB3) or Adam (eps 1e-5)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 1.0
    """GAE lambda (1 = the n-step returns of classic A2C)."""
    norm_adv: bool = False
    """Normalise advantages over the rollout."""
    ent_coef: float = 0.01
    """Entropy bonus."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("num_envs", "num_steps"):
            check_int(name, getattr(self, name), 1)
        if self.optimizer not in ("rmsprop", "adam"):
            raise UserError(f"optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        for name in ("learning_rate", "gamma", "gae_lambda"):
            v = getattr(self, name)
            check_real(name, v)
            if not 0 < v <= 1:
                raise UserError(f"{name} must be in (0, 1], got {v!r}")
        for name in ("ent_coef", "vf_coef", "max_grad_norm"):
            check_real(name, getattr(self, name), 0.0)


class A2C(PPO):
    """A2C on a Gymnasium vector env with discrete actions and same-step autoreset (PPO's rollout and GAE)."""

    def __init__(
        self,
        cfg: A2CConfig,
        envs,
        policy: ActorCritic,
        device: torch.device,
        total_iterations: int,
        seed: int = 0,
        amp: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__(cfg, envs, policy, device, total_iterations, seed=seed, amp=amp, compile=compile)
        if cfg.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(policy.parameters(), lr=cfg.learning_rate, alpha=0.99, eps=1e-5)

    def iteration(self) -> dict[str, float]:
        """One rollout and one gradient step on all of it. Returns the iteration's metrics."""
        cfg = self.cfg
        anneal_lr(cfg, self.optimizer, self.iteration_index, self.total_iterations)
        self._rollout()
        advantages, returns = self._advantages()
        advantages, returns, values = advantages.reshape(-1), returns.reshape(-1), self.buf_values.reshape(-1)
        obs = batches.flatten_steps(self.buf_obs)
        with batches.autocast(self.device, self.amp):
            if self.recurrent:  # every env's rollout replayed through the core from its first state
                envs = torch.arange(cfg.num_envs, device=self.device)
                rows = sequence_rows(cfg.num_steps, cfg.num_envs, envs)
                logits, value = self.replay(
                    batches.index(obs, rows), index_state(self.rollout_state, envs), self.buf_dones.bool()
                )
            else:
                logits, value = self.net(obs)
        logits, value = logits.float(), value.float()
        if cfg.norm_adv:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        dist = torch.distributions.Categorical(logits=logits, validate_args=False)
        pg_loss = -(dist.log_prob(self.buf_actions.reshape(-1)) * advantages).mean()
        v_loss = 0.5 * ((value - returns) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.iteration_index += 1
        var = returns.var()
        explained = float("nan") if float(var) == 0 else float(1 - (returns - values).var() / var)
        return {
            "loss/policy": pg_loss.item(),
            "loss/value": v_loss.item(),
            "loss/entropy": entropy.item(),
            "loss/explained_variance": explained,
            "lr": self.optimizer.param_groups[0]["lr"],
        } | self.episodes.metrics()


def _trainer(cfg, envs, policy, device, total_iterations, total_steps) -> A2C:
    return A2C(cfg.a2c, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)


ALGORITHM = Algorithm(
    name="a2c",
    section="a2c",
    config=A2CConfig,
    network=actor_critic,
    trainer=_trainer,
    compile=True,
    recurrent=True,
    perturbations=True,
    steps_per_iteration=lambda cfg: cfg.a2c.num_envs * cfg.a2c.num_steps,
    summary="advantage actor-critic (A2C) on mazes",
)
