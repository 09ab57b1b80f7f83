"""Proximal Policy Optimisation, readable top to bottom.

Rollouts stay in torch on the env's device (``mazearena.make_vec`` hands tensors over; any Gymnasium
vector env works too, through numpy). Same-step autoreset is handled the Gymnasium 1.x way: when an
episode is truncated (time limit, not a real end) the value of its final observation is bootstrapped into
the last reward, so GAE never treats a time-out as a terminal state.

One :meth:`PPO.iteration` = collect ``num_steps`` steps from ``num_envs`` envs, compute GAE, then
``update_epochs`` passes of clipped-objective minibatch updates. It returns the metrics of that iteration;
the trainer (``mazearena.training``) does logging, checkpoints and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mazearena.actor import State, index_state, state_to
from mazearena.agents import batches, parallel
from mazearena.agents.policies import ActorCritic
from mazearena.checks import UserError, check_fields, check_int
from mazearena.training.algorithms.base import Algorithm


@dataclass
class PPOConfig:
    """PPO hyperparameters."""

    num_envs: int = 64
    """Parallel envs in a rollout."""
    num_steps: int = 64
    """Steps per env per rollout."""
    learning_rate: float = 5e-4
    """Adam step size (annealed linearly to 0 with ``anneal_lr``)."""
    anneal_lr: bool = True
    """Anneal the learning rate to 0 over the run."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch."""
    update_epochs: int = 4
    """Passes over each rollout."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    clip_coef: float = 0.2
    """Policy ratio clip."""
    clip_vloss: bool = True
    """Clip the value loss as the policy ratio is clipped."""
    ent_coef: float = 0.01
    """Entropy bonus."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float = 0.0
    """Stop an update early when the approximate KL exceeds this (0 = never)."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs"):
            check_int(name, getattr(self, name), 1)
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(
                f"num_envs * num_steps ({self.num_envs * self.num_steps}) must be divisible by "
                f"num_minibatches ({self.num_minibatches})"
            )
        for name, lo, hi in (("learning_rate", 0, 1), ("gamma", 0, 1), ("gae_lambda", 0, 1), ("clip_coef", 0, 10)):
            v = getattr(self, name)
            if not lo < v <= hi:
                raise ValueError(f"{name} must be in ({lo}, {hi}], got {v!r}")
        for name in ("ent_coef", "vf_coef", "max_grad_norm", "target_kl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


def clipped_loss(
    cfg: PPOConfig,
    logits: torch.Tensor,
    value: torch.Tensor,
    actions: torch.Tensor,
    old_logprobs: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """PPO's loss on one minibatch: clipped policy objective, (clipped) value loss, entropy bonus; advantages
    normalised per minibatch with ``norm_adv``. ``mask`` (same shape as ``actions``, 1 = counts) leaves
    entries out of every mean, e.g. the steps of agents out of the game. Returns the loss and the detached
    ``pg_loss``, ``v_loss``, ``entropy``, ``approx_kl`` and ``clipfrac``."""
    group = parallel.world_size()
    if group > 1 and (cfg.norm_adv or mask is not None):  # the whole minibatch's count and advantage moments,
        rows, mu, var = parallel.moments(advantages, mask)  # every process's share, in one all-reduce
    if mask is None:
        mean = torch.mean  # in a group every process has as many rows: the mean of the means is the mean
    else:
        # in a group, the whole minibatch's count: the gradients averaged over the processes are its mean's
        count = (rows.to(mask.dtype) / group if group > 1 else mask.sum()).clamp(min=1.0 / group)

        def mean(x: torch.Tensor) -> torch.Tensor:
            return (x * mask).sum() / count

    dist = torch.distributions.Categorical(logits=logits, validate_args=False)
    logratio = dist.log_prob(actions) - old_logprobs
    ratio = logratio.exp()
    if cfg.norm_adv:
        if group > 1:
            if mask is None:  # as below: the sample standard deviation, or the masked population one
                var = var * rows / (rows - 1).clamp(min=1.0)
            advantages = (advantages - mu) / (var.sqrt() + 1e-8)
        elif mask is None:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        else:
            centred = advantages - mean(advantages)
            advantages = centred / (mean(centred**2).sqrt() + 1e-8)
    pg_loss = mean(torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)))
    if cfg.clip_vloss:
        clipped = old_values + (value - old_values).clamp(-cfg.clip_coef, cfg.clip_coef)
        v_loss = 0.5 * mean(torch.max((value - returns) ** 2, (clipped - returns) ** 2))
    else:
        v_loss = 0.5 * mean((value - returns) ** 2)
    entropy = mean(dist.entropy())
    loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
    with torch.no_grad():
        stats = {
            "pg_loss": pg_loss.detach(),
            "v_loss": v_loss.detach(),
            "entropy": entropy.detach(),
            "approx_kl": mean((ratio - 1) - logratio),
            "clipfrac": mean(((ratio - 1.0).abs() > cfg.clip_coef).float()),
        }
    return loss, stats


@dataclass
class Rollout:
    """A rollout's learning targets flattened to rows ``[steps * envs, ...]``, step-major (row ``t * envs + e``)."""

    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    mask: torch.Tensor | None = None
    """1 where a row counts in the losses (MAPPO: the agents in the game)."""

    def loss(self, cfg: PPOConfig, logits: torch.Tensor, value: torch.Tensor, rows: torch.Tensor):
        """:func:`clipped_loss` of the network's ``logits`` and ``value`` on the rows ``rows``."""
        mask = None if self.mask is None else self.mask[rows]
        return clipped_loss(
            cfg,
            logits,
            value,
            self.actions[rows],
            self.logprobs[rows],
            self.values[rows],
            self.advantages[rows],
            self.returns[rows],
            mask=mask,
        )


def check_recurrent(cfg: PPOConfig, compile: bool, section: str = "") -> None:
    """What a recurrent core asks of a PPO trainer (PPO, MAPPO): no ``compile``, and minibatches of whole env
    sequences (``num_envs`` divisible by ``num_minibatches``). ``section`` prefixes the names in errors."""
    if compile:
        raise UserError("compile is not available with a recurrent core")
    if cfg.num_envs % getattr(cfg, "num_minibatches", 1):  # one batch of every sequence (A2C) always fits
        at = f"{section}." if section else ""
        raise UserError(
            f"with a recurrent core minibatches are whole env sequences: {at}num_envs ({cfg.num_envs}) must be "
            f"divisible by {at}num_minibatches ({cfg.num_minibatches})"
        )


def sequence_rows(num_steps: int, num_envs: int, envs: torch.Tensor) -> torch.Tensor:
    """The rows of the whole sequences of envs ``envs`` in a step-major flattened rollout, step by step."""
    return (torch.arange(num_steps, device=envs.device)[:, None] * num_envs + envs).reshape(-1)


def anneal_lr(cfg: PPOConfig, optimizer: torch.optim.Optimizer, iteration: int, total_iterations: int) -> None:
    """Linear learning-rate decay to 0 over the run, when ``cfg.anneal_lr``."""
    if cfg.anneal_lr:
        optimizer.param_groups[0]["lr"] = (1.0 - iteration / max(total_iterations, 1)) * cfg.learning_rate


def update(
    cfg: PPOConfig,
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    rows: int,
    minibatch_loss: Callable[[torch.Tensor], tuple[torch.Tensor, dict]],
) -> dict[str, float]:
    """``update_epochs`` passes over ``rows`` rollout rows in ``num_minibatches`` random minibatches, each a
    gradient step on ``minibatch_loss(row_indices)`` (a :func:`clipped_loss`), stopping early past
    ``target_kl``. Returns the loss metrics and the learning rate."""
    minibatch = rows // cfg.num_minibatches
    device = next(policy.parameters()).device
    clipfracs = []
    for _ in range(cfg.update_epochs):
        order = torch.randperm(rows, device=device)
        for start in range(0, rows, minibatch):
            loss, stats = minibatch_loss(order[start : start + minibatch])
            clipfracs.append(stats["clipfrac"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
            optimizer.step()
        if cfg.target_kl and float(parallel.all_mean(stats["approx_kl"])) > cfg.target_kl:  # alike everywhere
            break
    return {
        "loss/policy": stats["pg_loss"].item(),
        "loss/value": stats["v_loss"].item(),
        "loss/entropy": stats["entropy"].item(),
        "loss/approx_kl": float(stats["approx_kl"]),
        "loss/clipfrac": float(torch.stack(clipfracs).mean()),
        "lr": optimizer.param_groups[0]["lr"],
    }


def trainer_state(algo) -> dict:
    """What every PPO trainer (``PPO``, ``MAPPO``) saves to continue exactly: weights, optimiser, counters,
    the torch RNG, the observation the next rollout starts from and the running episode statistics."""
    return {
        "policy": algo.policy.state_dict(),
        "optimizer": algo.optimizer.state_dict(),
        "iteration": algo.iteration_index,
        "global_step": algo.global_step,
        "torch_rng": torch.get_rng_state(),
        "obs": algo.obs,
        **algo.episodes.state_dict(),
    }


def load_trainer_state(algo, state: dict) -> None:
    """Restore :func:`trainer_state`."""
    algo.policy.load_state_dict(state["policy"])
    algo.optimizer.load_state_dict(state["optimizer"])
    algo.iteration_index, algo.global_step = int(state["iteration"]), int(state["global_step"])
    torch.set_rng_state(state["torch_rng"])
    algo.obs = batches.to_device(state["obs"], algo.device)
    algo.episodes.load_state_dict(state)


class PPO:
    """PPO on a Gymnasium vector env with discrete actions and same-step autoreset."""

    def __init__(
        self,
        cfg: PPOConfig,
        envs,
        policy: ActorCritic,
        device: torch.device,
        total_iterations: int,
        seed: int = 0,
        amp: bool = False,
        sync_free: bool | None = None,
        compile: bool = False,
        curriculum=None,
    ) -> None:
        mode = envs.metadata.get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "SameStep":
            raise ValueError(
                "PPO needs a vector env with same-step autoreset: pass "
                "vector_kwargs={'autoreset_mode': gymnasium.vector.AutoresetMode.SAME_STEP} to make_vec"
            )
        self.cfg, self.envs, self.policy, self.device = cfg, envs, policy, device
        # the forward passes (compiled or not; data-parallel in a torch.distributed group of trainers, each
        # stepping its own cfg.num_envs envs)
        self.world = parallel.world_size()
        self.net = parallel.network(policy, compile, device)
        self.replay = parallel.replay(policy, device) if getattr(policy, "recurrent", False) else None
        self.amp = amp
        # On a GPU every host round-trip stalls the pipeline: time-outs are bootstrapped by valuing every row's
        # final observation (one more batched forward pass) rather than picking the rows first. Needs a
        # mazearena vector env (final observations as one batch on the device).
        native = getattr(envs, "device", None) is not None
        self.sync_free = (torch.device(device).type == "cuda") if sync_free is None else sync_free
        if self.sync_free and not native:
            raise ValueError("sync_free needs a mazearena vector env (final observations as one device batch)")
        self.total_iterations = total_iterations
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=1e-5)
        self.iteration_index = 0
        self.global_step = 0
        # an auto-curriculum (training.curriculum) picks the levels; each step's level and what it played are kept
        self.curriculum = curriculum
        if curriculum is not None:
            self.buf_levels = torch.zeros(cfg.num_steps, cfg.num_envs, dtype=torch.long)
            self.buf_playing = torch.zeros(cfg.num_steps, cfg.num_envs, dtype=torch.long)
        obs, _ = envs.reset(seed=seed)
        self.obs = batches.to_device(obs, device)
        n, t = cfg.num_envs, cfg.num_steps
        self.buf_obs = batches.zeros(t, self.obs)
        self.buf_actions = torch.zeros(t, n, dtype=torch.long, device=device)
        self.buf_logprobs = torch.zeros(t, n, device=device)
        self.buf_rewards = torch.zeros(t, n, device=device)
        self.buf_dones = torch.zeros(t, n, device=device)
        self.buf_values = torch.zeros(t, n, device=device)
        self.next_done = torch.zeros(n, device=device)
        self.episodes = batches.Episodes(n, device)
        # a recurrent policy: the state of every game now, and at the start of the rollout being collected
        self.recurrent = getattr(policy, "recurrent", False)
        if self.recurrent:
            check_recurrent(cfg, compile)
        self.state = policy.initial_state(n, device) if self.recurrent else None
        self.rollout_state = self.state

    def _forward(self, obs, state: State = None, first: torch.Tensor | None = None):
        """Logits and values in float32 (the forward pass itself in bfloat16 when ``amp``); with a recurrent
        core also the next state (from ``state``, reset where ``first``)."""
        with batches.autocast(self.device, self.amp):
            if self.recurrent:
                logits, value, state = self.policy.step(obs, state, first)
            else:
                logits, value = self.net(obs)
        if self.recurrent:
            return logits.float(), value.float(), state
        return logits.float(), value.float()

    # ---------------------------------------------------------------- rollout
    @torch.no_grad()
    def _rollout(self) -> None:
        cfg = self.cfg
        self.rollout_state = self.state  # each env's sequence is replayed from here in the update
        for step in range(cfg.num_steps):
            self.global_step += cfg.num_envs * self.world  # the steps of every process's envs
            batches.put(self.buf_obs, step, self.obs)
            self.buf_dones[step] = self.next_done
            if self.curriculum is not None:
                self.buf_levels[step] = self.envs.engine.level_ids.cpu()
                self.buf_playing[step] = self.curriculum.playing
            if self.recurrent:  # the state after this step: the final observation of a time-out follows it
                logits, value, self.state = self._forward(self.obs, self.state, self.next_done.bool())
            else:
                logits, value = self._forward(self.obs)
            dist = torch.distributions.Categorical(logits=logits, validate_args=False)
            action = dist.sample()
            self.buf_values[step] = value
            self.buf_actions[step] = action
            self.buf_logprobs[step] = dist.log_prob(action)

            self.obs, reward, terminated, truncated, info = batches.step(self.envs, action, self.device)
            done = terminated | truncated
            self.episodes.update(reward, done, info)
            # A time-out is not an ending: bootstrap the value of the final observation into the reward.
            cut = truncated & ~terminated
            if self.sync_free:  # value every row's final observation, keep the cut ones: no host round-trip
                final = batches.to_device(info["final_obs"], self.device)
                reward = reward + cfg.gamma * self._forward(final, self.state)[1] * cut
            else:
                rows = cut.nonzero().squeeze(1)
                if len(rows):
                    reward = reward.clone()
                    final = batches.final_obs_rows(info, rows, self.device)
                    state = index_state(self.state, rows)  # the state from before the reset
                    reward[rows] += cfg.gamma * self._forward(final, state)[1]
            self.buf_rewards[step] = reward
            self.next_done = done.float()

    # ---------------------------------------------------------------- advantages
    @torch.no_grad()
    def _advantages(self) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        next_value = self._forward(self.obs, self.state, self.next_done.bool())[1]
        advantages = torch.zeros_like(self.buf_rewards)
        last = torch.zeros_like(next_value)
        for t in reversed(range(cfg.num_steps)):
            if t == cfg.num_steps - 1:
                not_done, following = 1.0 - self.next_done, next_value
            else:
                not_done, following = 1.0 - self.buf_dones[t + 1], self.buf_values[t + 1]
            delta = self.buf_rewards[t] + cfg.gamma * following * not_done - self.buf_values[t]
            last = delta + cfg.gamma * cfg.gae_lambda * not_done * last
            advantages[t] = last
        return advantages, advantages + self.buf_values

    # ---------------------------------------------------------------- update
    def iteration(self) -> dict[str, float]:
        """One rollout and one update. Returns the iteration's metrics (episodes that ended included)."""
        cfg = self.cfg
        anneal_lr(cfg, self.optimizer, self.iteration_index, self.total_iterations)
        self._rollout()
        advantages, returns = self._advantages()

        b_obs, b_returns, b_values = (
            batches.flatten_steps(self.buf_obs),
            returns.reshape(-1),
            self.buf_values.reshape(-1),
        )
        mask = None
        if self.curriculum is not None:  # scores the episodes; robust PLR learns from the replayed levels only
            mask = self.curriculum.update(
                self.buf_levels, self.buf_playing, self.buf_dones.bool(), advantages, returns, self.buf_values
            )
        b = Rollout(
            self.buf_actions.reshape(-1),
            self.buf_logprobs.reshape(-1),
            b_values,
            advantages.reshape(-1),
            b_returns,
            None if mask is None else mask.to(self.device).reshape(-1),
        )

        def minibatch_loss(mb: torch.Tensor) -> tuple[torch.Tensor, dict]:
            logits, value = self._forward(batches.index(b_obs, mb))
            return b.loss(cfg, logits, value, mb)

        def sequence_loss(envs: torch.Tensor) -> tuple[torch.Tensor, dict]:
            """The loss on whole env sequences, replayed through the core from the rollout's first state."""
            rows = sequence_rows(cfg.num_steps, cfg.num_envs, envs)
            first = self.buf_dones[:, envs].bool()
            with batches.autocast(self.device, self.amp):
                logits, value = self.replay(batches.index(b_obs, rows), index_state(self.rollout_state, envs), first)
            return b.loss(cfg, logits.float(), value.float(), rows)

        if self.recurrent:  # minibatches of whole env sequences
            metrics = update(cfg, self.policy, self.optimizer, cfg.num_envs, sequence_loss)
        else:
            metrics = update(cfg, self.policy, self.optimizer, cfg.num_envs * cfg.num_steps, minibatch_loss)
        self.iteration_index += 1
        var = b_returns.var()
        metrics["loss/explained_variance"] = (
            float("nan") if float(var) == 0 else float(1 - (b_returns - b_values).var() / var)
        )
        curriculum = {} if self.curriculum is None else self.curriculum.last
        return metrics | self.episodes.metrics() | curriculum

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, optimiser, counters, RNG, rollout carry-over, and the
        curriculum's buffer."""
        state = trainer_state(self) | {"next_done": self.next_done}
        if self.recurrent:
            state["core_state"] = self.state
        if self.curriculum is not None:
            state["curriculum"] = self.curriculum.state_dict()
        return state | batches.env_state(self.envs)

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        self.next_done = state["next_done"].to(self.device)
        if self.recurrent:
            self.state = state_to(state["core_state"], self.device)
        if self.curriculum is not None:
            self.curriculum.load_state_dict(state["curriculum"])
        batches.load_env_state(self.envs, state)


def actor_critic(cfg, envs):
    """The actor-critic PPO (and A2C) trains: the run's backbone and core, a policy and a value head."""
    space, n = envs.single_observation_space, envs.single_action_space.n
    return ActorCritic(space, n, cfg.backbone, core=cfg.core, core_size=cfg.core_size, **cfg.backbone_kwargs).to(
        cfg.device
    )


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    from mazearena.training.curriculum import make_curriculum

    return PPO(
        cfg.ppo,
        envs,
        policy,
        device,
        total_iterations,
        seed=cfg.seed,
        amp=cfg.amp,
        compile=cfg.compile,
        curriculum=make_curriculum(cfg, envs),
    )


ALGORITHM = Algorithm(
    name="ppo",
    section="ppo",
    config=PPOConfig,
    network=actor_critic,
    trainer=_trainer,
    compile=True,
    recurrent=True,
    perturbations=True,
    steps_per_iteration=lambda cfg: cfg.ppo.num_envs * cfg.ppo.num_steps,
    summary="PPO on mazes",
)
