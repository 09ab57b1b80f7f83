"""Advantage actor-critic (A2C, synchronous), readable top to bottom: the whole algorithm, its config and its
registry entry in this one module.

One iteration = ``num_steps`` steps of ``num_envs`` envs (a short rollout, 5 steps by default as in SB3), n-step
returns (GAE with ``gae_lambda``, 1 = plain n-step returns), then **one** gradient step on the whole rollout:
the policy gradient ``-log pi(a|s) * A``, the value loss ``0.5 * (V - R)^2`` and an entropy bonus, with RMSprop
(SB3's optimiser and settings) or Adam. The rollout, the time-out bootstrap and GAE are PPO's
(:class:`~mazearena.training.algorithms.ppo.PPO`): A2C is PPO with one unclipped step per rollout and no ratio. A
recurrent core replays every env's whole rollout from its first state.

On team tasks (``--env arena``, PettingZoo envs) the same update trains a team network on MAPPO's rollout
(:class:`~mazearena.training.algorithms.mappo.MAPPO`: per-agent GAE, the agents out of the game masked out, the
centralised critic and value normalisation by the section's team switches).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mazearena.agents import batches
from mazearena.agents.policies import ActorCritic
from mazearena.checks import UserError, check_fields, check_int, check_real
from mazearena.training.algorithms.base import Algorithm
from mazearena.training.algorithms.mappo import MAPPO, TeamConfig, TeamRollout, team_network
from mazearena.training.algorithms.ppo import PPO, actor_critic, anneal_lr


@dataclass
class A2CFields:
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


@dataclass
class A2CConfig(TeamConfig, A2CFields):
    """A2C hyperparameters (defaults: SB3's, but 64 envs); on team tasks also the team switches (``num_envs``
    then counts games)."""


def a2c_step(cfg: A2CConfig, policy: nn.Module, optimizer, logits, value, actions, advantages, returns, mask=None):
    """One gradient step on a whole rollout: ``-log pi(a|s) * A + vf_coef * 0.5 (V - R)^2 - ent_coef * H``,
    means over the rows (where ``mask`` is 1: the agents in the game). Returns the loss metrics."""
    dist = torch.distributions.Categorical(logits=logits, validate_args=False)
    if mask is None:
        mean, std = torch.mean, torch.std
    else:
        count = mask.sum()

        def mean(x: torch.Tensor) -> torch.Tensor:
            return (x * mask).sum() / count.clamp(min=1.0)

        def std(x: torch.Tensor) -> torch.Tensor:  # unbiased, as torch.std
            return (((x - mean(x)) ** 2 * mask).sum() / (count - 1).clamp(min=1.0)).sqrt()

    if cfg.norm_adv:
        advantages = (advantages - mean(advantages)) / (std(advantages) + 1e-8)
    pg_loss = mean(-dist.log_prob(actions) * advantages)
    v_loss = mean(0.5 * (value - returns) ** 2)
    entropy = mean(dist.entropy())
    loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
    optimizer.step()
    return {
        "loss/policy": pg_loss.item(),
        "loss/value": v_loss.item(),
        "loss/entropy": entropy.item(),
        "lr": optimizer.param_groups[0]["lr"],
    }


def _optimizer(cfg: A2CConfig, policy: nn.Module, default: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """RMSprop as SB3 (alpha 0.99, eps 1e-5), or the trainer's Adam."""
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(policy.parameters(), lr=cfg.learning_rate, alpha=0.99, eps=1e-5)
    return default


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
        self.optimizer = _optimizer(cfg, policy, self.optimizer)

    def iteration(self) -> dict[str, float]:
        """One rollout and one gradient step on all of it. Returns the iteration's metrics."""
        cfg = self.cfg
        anneal_lr(cfg, self.optimizer, self.iteration_index, self.total_iterations)
        self._rollout()
        advantages, returns = self._advantages()
        advantages, returns, values = advantages.reshape(-1), returns.reshape(-1), self.buf_values.reshape(-1)
        obs = batches.flatten_steps(self.buf_obs)
        with batches.autocast(self.device, self.amp):
            if self.recurrent:  # every env's rollout replayed through the core from its first state (the
                # sequences of all envs in order are the rollout's own step-major rows: nothing to gather)
                logits, value = self.replay(obs, self.rollout_state, self.buf_dones.bool())
            else:
                logits, value = self.net(obs)
        metrics = a2c_step(
            cfg,
            self.policy,
            self.optimizer,
            logits.float(),
            value.float(),
            self.buf_actions.reshape(-1),
            advantages,
            returns,
        )
        self.iteration_index += 1
        var = returns.var()
        explained = float("nan") if float(var) == 0 else float(1 - (returns - values).var() / var)
        return metrics | {"loss/explained_variance": explained} | self.episodes.metrics()


class TeamA2C(MAPPO):
    """A2C on a team task: MAPPO's rollout and per-agent GAE, then one unclipped gradient step on all of it."""

    def __init__(self, cfg: A2CConfig, envs, policy, device, total_iterations, seed=0, amp=False, compile=False):
        super().__init__(cfg, envs, policy, device, total_iterations, seed=seed, amp=amp, compile=compile)
        self.optimizer = _optimizer(cfg, policy, self.optimizer)

    def _update(self, flat: TeamRollout) -> dict[str, float]:
        cfg, b = self.cfg, flat.targets
        if self.recurrent:  # every game's rollout replayed from its first memory: its rows are the rollout's own
            _, logits, value = self._replay(flat, torch.arange(cfg.num_envs, device=self.device))
        else:
            logits, value = self._scores(flat)
        return a2c_step(cfg, self.policy, self.optimizer, logits, value, b.actions, b.advantages, b.returns, b.mask)


def _network(cfg, envs) -> nn.Module:
    return team_network(cfg, envs, cfg.a2c) if cfg.task.team else actor_critic(cfg, envs)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps) -> A2C | TeamA2C:
    trainer = TeamA2C if cfg.task.team else A2C
    return trainer(cfg.a2c, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)


def _check(cfg) -> None:
    """The team switches apply to team tasks only."""
    if not cfg.task.team:
        for f in dataclasses.fields(TeamConfig):
            if getattr(cfg.a2c, f.name) != f.default:
                raise UserError(
                    f"a2c.{f.name} is a team switch: it applies to team tasks (--env arena, PettingZoo envs), not "
                    f"to {cfg.task.env_name(cfg)}"
                )


ALGORITHM = Algorithm(
    name="a2c",
    section="a2c",
    config=A2CConfig,
    network=_network,
    trainer=_trainer,
    check=_check,
    teams=True,
    compile=True,
    recurrent=True,
    perturbations=True,
    steps_per_iteration=lambda cfg: cfg.a2c.num_envs * cfg.a2c.num_steps,
    summary="advantage actor-critic (A2C) on mazes and arenas",
)
