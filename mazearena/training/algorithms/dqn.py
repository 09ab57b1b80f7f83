"""Deep Q-learning (double DQN by default), readable top to bottom.

The replay buffer lives on the env's device as preallocated tensors; transitions go in as whole batches
from a vector env (row ``r + num_envs`` is the step after row ``r`` of the same env), minibatches come out
by random index. Targets are ``n_step`` returns, gathered at sampling time along those rows and cut at
episode ends. A target network is synced every
``target_update_every`` steps (hard copy, or Polyak with ``tau < 1``); actions are epsilon-greedy with a
linear schedule. A time-limit truncation is not a terminal state: the target bootstraps through it, from
the final observation kept by same-step autoreset.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import torch
from torch import nn

from mazearena.agents import batches
from mazearena.agents.policies import QNetwork
from mazearena.checks import check_fields, check_int
from mazearena.training.algorithms.base import Algorithm


@dataclass
class DQNConfig:
    """DQN hyperparameters."""

    num_envs: int = 64
    """Parallel envs feeding the buffer."""
    buffer_size: int = 100_000
    """Transitions kept."""
    learning_rate: float = 5e-4
    """Adam step size."""
    gamma: float = 0.99
    """Discount."""
    n_step: int = 3
    """Rewards summed before bootstrapping (1 = classic one-step targets)."""
    double_q: bool = True
    """Double DQN: the online network picks the next action, the target network rates it (three passes per
    gradient step); off, the target network's own maximum (classic DQN, as Stable-Baselines3's; two passes)."""
    batch_size: int = 256
    """Minibatch size."""
    learning_starts: int = 5_000
    """Env steps before learning starts."""
    train_every: int = 1
    """Gradient steps happen every this many vector-env steps."""
    gradient_steps: int = 1
    """Gradient steps each time."""
    target_update_every: int = 2_000
    """Env steps between target-network updates."""
    tau: float = 1.0
    """Target update rate (1 = hard copy)."""
    epsilon_start: float = 1.0
    """Exploration at the start."""
    epsilon_end: float = 0.05
    """Exploration after the schedule."""
    exploration_fraction: float = 0.3
    """Share of training over which epsilon decays linearly."""
    max_grad_norm: float = 10.0
    """Gradient norm clip."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in (
            "num_envs",
            "buffer_size",
            "batch_size",
            "train_every",
            "gradient_steps",
            "target_update_every",
            "n_step",
        ):
            check_int(name, getattr(self, name), 1)
        if self.buffer_size < self.num_envs * self.n_step:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) must hold at least num_envs * n_step "
                f"({self.num_envs * self.n_step}) transitions"
            )
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")
        for name in ("gamma", "tau", "epsilon_start", "epsilon_end", "exploration_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        check_int("learning_starts", self.learning_starts, 0)
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm!r}")


class DQN:
    """Double DQN on a Gymnasium vector env with discrete actions and same-step autoreset."""

    def __init__(
        self,
        cfg: DQNConfig,
        envs,
        q_net: QNetwork,
        device: torch.device,
        total_steps: int,
        seed: int = 0,
        amp: bool = False,
    ) -> None:
        self.cfg, self.envs, self.q_net, self.device = cfg, envs, q_net, device
        # mazearena vector envs hand every game's last observation as one device batch (info["final_obs"])
        self.native = getattr(envs, "device", None) is not None
        self.autocast = functools.partial(batches.autocast, device, amp)
        self.target = copy.deepcopy(q_net)
        self.optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.learning_rate)
        self.total_steps = total_steps
        self.global_step, self.iteration_index, self.last_sync = 0, 0, 0
        obs, _ = envs.reset(seed=seed)
        self.obs = batches.to_device(obs, device)
        # whole vector steps: the row of an env's next step is always ``num_envs`` further on
        n = self.capacity = cfg.buffer_size // cfg.num_envs * cfg.num_envs
        one = batches.index(self.obs, 0)  # a single observation: the shape of a buffer row
        self.buf_obs, self.buf_next = batches.zeros(n, one), batches.zeros(n, one)
        self.buf_actions = torch.zeros(n, dtype=torch.long, device=device)
        self.buf_rewards = torch.zeros(n, device=device)
        self.buf_ends = torch.zeros(n, device=device)  # terminated (not truncated): no bootstrap
        self.buf_dones = torch.zeros(n, dtype=torch.bool, device=device)  # terminated or truncated: return cut
        self.size, self.cursor = 0, 0
        self.episodes = batches.Episodes(cfg.num_envs, device)

    def epsilon(self) -> float:
        cfg = self.cfg
        frac = min(1.0, self.global_step / max(1.0, cfg.exploration_fraction * self.total_steps))
        return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)

    def _store(self, obs, actions, rewards, next_obs, terminated, done) -> None:
        n = len(actions)
        idx = self.cursor + torch.arange(n, device=self.device)  # capacity is a multiple of n: no wrap inside
        batches.put(self.buf_obs, idx, obs)
        batches.put(self.buf_next, idx, next_obs)
        self.buf_actions[idx], self.buf_rewards[idx] = actions, rewards
        self.buf_ends[idx], self.buf_dones[idx] = terminated.float(), done
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def _targets(self, idx: torch.Tensor) -> torch.Tensor:
        """n-step double-DQN targets of the sampled rows ``idx``: rewards summed along the same env's later
        rows until ``n_step``, an episode end or the newest row, then the target net's value of the last
        next observation (none after a real termination)."""
        cfg, envs = self.cfg, self.cfg.num_envs
        k = torch.arange(cfg.n_step, device=self.device)
        rows = (idx[:, None] + k * envs) % self.capacity  # [batch, n_step]
        newer = torch.div((self.cursor - idx - 1) % self.capacity, envs, rounding_mode="floor")
        done = self.buf_dones[rows].long()
        use = (k <= newer[:, None]) & (done.cumsum(1) - done == 0)  # written, and no episode end before
        discounts = cfg.gamma ** k.float()
        ret = (self.buf_rewards[rows] * discounts * use).sum(1)
        last = rows.gather(1, (use.sum(1) - 1)[:, None]).squeeze(1)
        next_obs = batches.index(self.buf_next, last)
        if cfg.double_q:  # the online net picks, the target net rates
            best = self.q_net(next_obs).argmax(-1, keepdim=True)
            next_q = self.target(next_obs).gather(1, best).squeeze(1).float()
        else:
            next_q = self.target(next_obs).amax(-1).float()
        return ret + cfg.gamma ** use.sum(1).float() * next_q * (1.0 - self.buf_ends[last])

    def _learn(self) -> dict[str, float]:
        cfg = self.cfg
        idx = torch.randint(0, self.size, (cfg.batch_size,), device=self.device)
        with torch.no_grad(), self.autocast():
            target = self._targets(idx)
        with self.autocast():
            q = self.q_net(batches.index(self.buf_obs, idx)).gather(1, self.buf_actions[idx, None]).squeeze(1)
        q = q.float()
        loss = nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {"loss/td": loss.detach(), "q/mean": q.detach().mean()}  # read once per iteration, not per step

    def iteration(self, env_steps: int = 1024) -> dict[str, float]:
        """About ``env_steps`` env steps (whole vector steps) with learning; returns their metrics."""
        cfg = self.cfg
        learned: list[dict[str, float]] = []
        for _ in range(max(1, env_steps // cfg.num_envs)):
            eps = self.epsilon()
            with torch.no_grad(), self.autocast():
                greedy = self.q_net(self.obs).argmax(-1)
            explore = torch.rand(cfg.num_envs, device=self.device) < eps
            random_actions = torch.randint(0, self.envs.single_action_space.n, (cfg.num_envs,), device=self.device)
            actions = torch.where(explore, random_actions, greedy)
            obs, reward, terminated, truncated, info = batches.step(self.envs, actions, self.device)
            done = terminated | truncated
            # the stored next observation of an ended episode is its final one, not the next episode's first
            if self.native:  # mazearena envs: the last observation of every game, one device batch (no round-trip)
                next_obs = batches.to_device(info["final_obs"], self.device)
            else:
                next_obs = obs
                ended = done.nonzero().squeeze(1)
                if len(ended):
                    next_obs = batches.clone(obs)
                    final = batches.final_obs_rows(info, ended, self.device)
                    batches.put(next_obs, ended, final)
            self._store(self.obs, actions, reward, next_obs, terminated, done)
            self.obs = obs
            self.global_step += cfg.num_envs
            self.episodes.update(reward, done, info)
            if self.global_step >= cfg.learning_starts and self.size >= cfg.batch_size:
                self.iteration_index += 1
                if self.iteration_index % cfg.train_every == 0:
                    for _ in range(cfg.gradient_steps):
                        learned.append(self._learn())
                if self.global_step - self.last_sync >= cfg.target_update_every:
                    self.last_sync = self.global_step
                    for t, o in zip(self.target.parameters(), self.q_net.parameters(), strict=True):
                        t.data.lerp_(o.data, cfg.tau)
        metrics = {"epsilon": self.epsilon()}
        if learned:
            metrics |= {k: float(torch.stack([m[k].float() for m in learned]).mean()) for k in learned[0]}
        return metrics | self.episodes.metrics()

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue exactly, the filled part of the replay buffer included."""
        n = self.size
        return {
            "policy": self.q_net.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration_index,
            "global_step": self.global_step,
            "last_sync": self.last_sync,
            "torch_rng": torch.get_rng_state(),
            "obs": self.obs,
            **self.episodes.state_dict(),
            "size": n,
            "cursor": self.cursor,
            "buf_obs": batches.clone(batches.index(self.buf_obs, slice(0, n))),
            "buf_next": batches.clone(batches.index(self.buf_next, slice(0, n))),
            "buf_actions": self.buf_actions[:n].clone(),
            "buf_rewards": self.buf_rewards[:n].clone(),
            "buf_ends": self.buf_ends[:n].clone(),
            "buf_dones": self.buf_dones[:n].clone(),
            **batches.env_state(self.envs),
        }

    def load_state_dict(self, state: dict) -> None:
        self.q_net.load_state_dict(state["policy"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration_index, self.global_step = int(state["iteration"]), int(state["global_step"])
        self.last_sync, self.size, self.cursor = int(state["last_sync"]), int(state["size"]), int(state["cursor"])
        torch.set_rng_state(state["torch_rng"])
        self.obs = batches.to_device(state["obs"], self.device)
        self.episodes.load_state_dict(state)
        n = self.size
        filled = slice(0, n)
        batches.put(self.buf_obs, filled, batches.to_device(state["buf_obs"], self.device))
        batches.put(self.buf_next, filled, batches.to_device(state["buf_next"], self.device))
        self.buf_actions[:n], self.buf_rewards[:n] = state["buf_actions"], state["buf_rewards"]
        self.buf_ends[:n], self.buf_dones[:n] = state["buf_ends"], state["buf_dones"]
        batches.load_env_state(self.envs, state)


STEPS_PER_ENV = 64


def _network(cfg, envs):
    space, n = envs.single_observation_space, envs.single_action_space.n
    return QNetwork(space, n, cfg.backbone, **cfg.backbone_kwargs).to(cfg.device)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    return DQN(cfg.dqn, envs, policy, device, total_steps, seed=cfg.seed, amp=cfg.amp)


ALGORITHM = Algorithm(
    name="dqn",
    section="dqn",
    config=DQNConfig,
    network=_network,
    trainer=_trainer,
    steps_per_iteration=lambda cfg: cfg.dqn.num_envs * STEPS_PER_ENV,
    iterate=lambda trainer, cfg: trainer.iteration(cfg.iteration_steps),
    greedy=True,
    summary="double DQN on mazes",
)
