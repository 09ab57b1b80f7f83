"""Multi-agent PPO on the batched arena (MAPPO, or IPPO without the centralised critic), readable top to
bottom.

Agents are columns of the batch: observations ``[envs, agents, ...]``, actions, rewards and values
``[envs, agents]``. Every option works with every other:

* ``share_params``: one actor (and critic) for all the learning agents, told apart by a one-hot agent id
  appended to their features; off: separate weights per agent.
* ``centralized_critic``: the critic sees the global ``state()`` of the game (MAPPO); off: each agent's
  critic sees its own observation (IPPO).
* ``value_norm``: critics predict returns normalised by running statistics, as in MAPPO.
* ``death_masking``: agents out of the game (caught, killed) get zeroed inputs, and their steps are masked
  out of every loss and statistic.

Per-agent episode ends: an agent that leaves the game is terminated at that step (no bootstrap); a game
that hits ``max_cycles`` is truncated and bootstraps from the value of its final observation (or state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mazearena.actor import index_state, state_to
from mazearena.agents import batches, parallel
from mazearena.agents.batches import TeamEpisodes
from mazearena.agents.policies import MultiAgentActorCritic
from mazearena.training.algorithms.base import Algorithm
from mazearena.training.algorithms.ppo import (
    PPOConfig,
    Rollout,
    anneal_lr,
    check_recurrent,
    load_trainer_state,
    sequence_rows,
    trainer_state,
    update,
)


@dataclass
class TeamConfig:
    """The architecture switches of a team trainer (MAPPO; A2C on team tasks)."""

    share_params: bool = True
    """One policy for all learning agents (with agent-id inputs); off: separate weights per agent."""
    centralized_critic: bool = True
    """Critic on the global state (MAPPO); off: on each agent's own observation (IPPO)."""
    value_norm: bool = True
    """Normalise value targets with running statistics."""
    death_masking: bool = True
    """Zero the inputs of agents out of the game and mask their steps out of the losses."""


@dataclass
class MAPPOConfig(TeamConfig, PPOConfig):
    """Multi-agent PPO: the PPO hyperparameters (``num_envs`` counts games; a minibatch holds whole game
    steps, every agent of each) plus the architecture switches."""


@dataclass
class TeamRollout:
    """A team rollout flattened to rows of game steps ``[steps * games, ...]`` (step-major): what the network
    reads (observations, the global state for a centralised critic, who is in the game) and the targets."""

    obs: Any
    state: torch.Tensor | None
    active: torch.Tensor
    targets: Rollout


class MAPPO:
    """Multi-agent PPO on an :class:`~mazearena.envs.arena.ArenaVectorEnv` whose focal agents all learn (the
    other team scripted NPCs), or on a :class:`~mazearena.agents.league.SelfPlayVectorEnv` (the other team
    past snapshots of the learner)."""

    def __init__(
        self,
        cfg: MAPPOConfig,
        envs,
        policy: MultiAgentActorCritic,
        device: torch.device,
        total_iterations: int,
        seed: int = 0,
        amp: bool = False,
        sync_free: bool | None = None,
        compile: bool = False,
    ) -> None:
        # On a GPU, time-outs are bootstrapped batch-wide rather than by picking games first (see PPO).
        self.sync_free = (torch.device(device).type == "cuda") if sync_free is None else sync_free
        # the forward passes (compiled or not; data-parallel in a torch.distributed group, as PPO's)
        self.world = parallel.world_size()
        self.net = parallel.network(policy, compile, device)
        self.replay = parallel.replay(policy, device) if policy.recurrent else None
        names = list(envs.possible_agents)
        teams = set(envs.teams)  # each learning agent's team, as the env says (never parsed from names)
        if len(teams) != 1:
            raise ValueError(
                f"the learning agents must form one team, got {names}: use a scenario whose NPCs play the other team"
            )
        if policy.num_agents != len(names):
            raise ValueError(f"the policy is for {policy.num_agents} agents, the env has {len(names)} learning agents")
        self.cfg, self.envs, self.policy, self.device, self.amp = cfg, envs, policy, device, amp
        self.team = teams.pop()
        self.total_iterations = total_iterations
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=1e-5)
        self.iteration_index = self.global_step = 0
        obs, info = envs.reset(seed=seed)
        self.obs, self.alive = batches.to_device(obs, device), info["alive"].to(device)
        self.state = envs.state().to(device) if cfg.centralized_critic else None
        n, t, a = cfg.num_envs, cfg.num_steps, len(names)
        self.buf_obs = batches.zeros(t, self.obs)
        self.buf_state = (
            torch.zeros(t, *self.state.shape, dtype=self.state.dtype, device=device) if self.state is not None else None
        )
        self.buf_active = torch.zeros(t, n, a, dtype=torch.bool, device=device)
        self.buf_actions = torch.zeros(t, n, a, dtype=torch.long, device=device)
        self.buf_logprobs, self.buf_rewards, self.buf_ended, self.buf_values = (
            torch.zeros(t, n, a, device=device) for _ in range(4)
        )
        self.episodes = TeamEpisodes(n, names, [self.team] * a, device, **envs.tally)
        # a recurrent policy: every agent's memory now and at the start of the rollout; the games whose
        # observation starts a game (their memories start from zeros)
        self.recurrent = policy.recurrent
        if self.recurrent:
            check_recurrent(cfg, compile)
        self.memory = self.rollout_memory = policy.initial_state(n, device)
        self.started = torch.ones(n, dtype=torch.bool, device=device)
        self.buf_started = torch.zeros(t, n, dtype=torch.bool, device=device)

    def _forward(self, obs, state, active, memory=None, first=None):
        """Logits and normalised values in float32 (the pass itself in bfloat16 when ``amp``); with a recurrent
        core also the next memory."""
        with batches.autocast(self.device, self.amp):
            if self.recurrent:
                logits, values, memory = self.policy.step(obs, memory, active, first, state)
            else:
                logits, values = self.net(obs, state, active)
        if self.recurrent:
            return logits.float(), values.float(), memory
        return logits.float(), values.float()

    def _values(self, obs, state, active, memory=None, first=None) -> torch.Tensor:
        """Values in return units (denormalised)."""
        v = self._forward(obs, state, active, memory, first)[1]
        return self.policy.value_norm.denormalize(v) if self.cfg.value_norm else v

    # ---------------------------------------------------------------- rollout
    @torch.no_grad()
    def _rollout(self) -> None:
        cfg = self.cfg
        self.rollout_memory = self.memory  # each game's sequence is replayed from here in the update
        for step in range(cfg.num_steps):
            self.global_step += cfg.num_envs * self.world  # the steps of every process's games
            batches.put(self.buf_obs, step, self.obs)
            if self.state is not None:
                self.buf_state[step] = self.state
            active = self.alive
            self.buf_active[step] = active
            self.buf_started[step] = self.started
            if self.recurrent:  # the memory after this step: a time-out's final observation follows it
                first = self.started[:, None].expand_as(active)
                logits, value, self.memory = self._forward(self.obs, self.state, active, self.memory, first)
            else:
                logits, value = self._forward(self.obs, self.state, active)
            if cfg.value_norm:
                value = self.policy.value_norm.denormalize(value)
            dist = torch.distributions.Categorical(logits=logits, validate_args=False)
            action = dist.sample()
            self.buf_values[step], self.buf_actions[step] = value, action
            self.buf_logprobs[step] = dist.log_prob(action)

            obs, reward, terminated, truncated, info = self.envs.step(action)
            reward = reward.to(self.device).float() * active
            self.episodes.update(reward, active, info)
            # A time-out is not an ending: bootstrap the value of the final observation (or state).
            cut = truncated & ~terminated & active
            if self.sync_free:  # every game's final observation valued, the cut agents kept: no round-trip
                if "final_state" in info or self.state is None:  # no final state: no game timed out
                    final_state = info["final_state"].to(self.device) if self.state is not None else None
                    final_obs = batches.to_device(info["final_obs"], self.device)
                    boot = self._values(final_obs, final_state, active, self.memory)
                    reward = reward + cfg.gamma * boot * cut
                games = ()
            else:
                games = cut.any(1).nonzero().squeeze(1)
            if len(games):
                final_obs = batches.index(batches.to_device(info["final_obs"], self.device), games)
                final_state = info["final_state"][games].to(self.device) if self.state is not None else None
                boot = self._values(final_obs, final_state, active[games], index_state(self.memory, games))
                reward = reward.clone()
                reward[games] += cfg.gamma * boot * cut[games]
            self.buf_rewards[step] = reward
            self.buf_ended[step] = ((terminated | truncated) & active).float()
            self.obs, self.alive = batches.to_device(obs, self.device), info["alive"].to(self.device)
            ended = info.get("_final_obs")
            self.started = ended.to(self.device) if ended is not None else torch.zeros_like(self.started)
            if self.state is not None:
                self.state = self.envs.state().to(self.device)

    # ---------------------------------------------------------------- advantages
    @torch.no_grad()
    def _advantages(self) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE per agent; an agent's trajectory is cut where it left the game or its game ended."""
        cfg = self.cfg
        first = self.started[:, None].expand_as(self.alive)
        following = self._values(self.obs, self.state, self.alive, self.memory, first)
        advantages = torch.zeros_like(self.buf_rewards)
        last = torch.zeros_like(following)
        for t in reversed(range(cfg.num_steps)):
            not_ended = 1.0 - self.buf_ended[t]
            delta = self.buf_rewards[t] + cfg.gamma * following * not_ended - self.buf_values[t]
            last = delta + cfg.gamma * cfg.gae_lambda * not_ended * last
            advantages[t] = last
            following = self.buf_values[t]
        return advantages, advantages + self.buf_values

    # ---------------------------------------------------------------- update
    def iteration(self) -> dict[str, float]:
        """One rollout and one update; returns the iteration's metrics."""
        anneal_lr(self.cfg, self.optimizer, self.iteration_index, self.total_iterations)
        self._rollout()
        advantages, returns = self._advantages()
        mask = self.buf_active if self.cfg.death_masking else torch.ones_like(self.buf_active)
        if self.cfg.value_norm:
            self.policy.value_norm.update(returns[mask])
        metrics = self._update(self._flat(advantages, returns, mask))
        self.iteration_index += 1
        return self._metrics(metrics, returns, mask)

    def _flat(self, advantages: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> TeamRollout:
        """The rollout flattened to rows of whole game steps (every agent of each), step-major; returns and
        values normalised where the critic learns normalised values."""
        cfg = self.cfg
        steps = cfg.num_envs * cfg.num_steps
        norm = self.policy.value_norm.normalize if cfg.value_norm else (lambda x: x)
        b_state = self.buf_state.reshape(steps, *self.buf_state.shape[2:]) if self.buf_state is not None else None
        targets = Rollout(
            self.buf_actions.reshape(steps, -1),
            self.buf_logprobs.reshape(steps, -1),
            norm(self.buf_values.reshape(steps, -1)),
            advantages.reshape(steps, -1),
            norm(returns.reshape(steps, -1)),
            mask=mask.reshape(steps, -1).float(),
        )
        return TeamRollout(batches.flatten_steps(self.buf_obs), b_state, self.buf_active.reshape(steps, -1), targets)

    def _scores(self, flat: TeamRollout, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and (normalised) values of the rollout rows ``rows`` (all: ``None``) in float32, for a network
        without a core (:meth:`_replay` for one with a core)."""
        state = flat.state if flat.state is None or rows is None else flat.state[rows]
        obs = flat.obs if rows is None else batches.index(flat.obs, rows)
        with batches.autocast(self.device, self.amp):
            logits, value = self.net(obs, state, flat.active if rows is None else flat.active[rows])
        return logits.float(), value.float()

    def _replay(self, flat: TeamRollout, games: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rows of the whole sequences of ``games`` and their logits and values, replayed through the core
        from the rollout's first memory."""
        rows = sequence_rows(self.cfg.num_steps, self.cfg.num_envs, games)
        active = self.buf_active[:, games]
        first = self.buf_started[:, games, None].expand_as(active)
        state = flat.state[rows] if flat.state is not None else None
        with batches.autocast(self.device, self.amp):
            memory = index_state(self.rollout_memory, games)
            logits, value = self.replay(batches.index(flat.obs, rows), memory, active, first, state)
        return rows, logits.float(), value.float()

    def _update(self, flat: TeamRollout) -> dict[str, float]:
        """PPO's epochs of clipped minibatch steps: minibatches of game steps, or of whole game sequences with a
        recurrent core."""
        cfg, b = self.cfg, flat.targets

        def minibatch_loss(mb: torch.Tensor) -> tuple[torch.Tensor, dict]:
            return b.loss(cfg, *self._scores(flat, mb), mb)

        def sequence_loss(games: torch.Tensor) -> tuple[torch.Tensor, dict]:
            rows, logits, value = self._replay(flat, games)
            return b.loss(cfg, logits, value, rows)

        if self.recurrent:
            return update(cfg, self.policy, self.optimizer, cfg.num_envs, sequence_loss)
        return update(cfg, self.policy, self.optimizer, cfg.num_envs * cfg.num_steps, minibatch_loss)

    def _metrics(self, metrics: dict, returns: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
        """The update's metrics with the critic's explained variance, the active fraction, the league's
        (self-play) and the episodes'."""
        flat_returns, flat_values = returns[mask], self.buf_values[mask]
        var = flat_returns.var() if flat_returns.numel() > 1 else torch.zeros(())
        explained = float("nan") if float(var) == 0 else float(1 - (flat_returns - flat_values).var() / var)
        metrics |= {
            "loss/explained_variance": explained,
            "agents/active_fraction": float(self.buf_active.float().mean()),
        }
        if hasattr(self.envs, "after_iteration"):  # self-play: the league grows, opponents are redrawn
            metrics |= self.envs.after_iteration(self.iteration_index)
        return metrics | self.episodes.metrics(self.team)

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue exactly."""
        state = trainer_state(self) | {"alive": self.alive} | batches.env_state(self.envs)
        if self.recurrent:
            state |= {"core_state": self.memory, "started": self.started}
        return state

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        self.alive = state["alive"].to(self.device)
        if self.recurrent:
            self.memory, self.started = state_to(state["core_state"], self.device), state["started"].to(self.device)
        batches.load_env_state(self.envs, state)
        if self.state is not None:
            self.state = self.envs.state().to(self.device)


def team_network(cfg, envs, m: TeamConfig) -> MultiAgentActorCritic:
    """The team network of a run (``m``: its algorithm's section, with the team switches)."""
    return MultiAgentActorCritic(
        envs.single_observation_space,
        envs.state_space,
        cfg.task.learners(cfg, envs),
        envs.single_action_space.n,
        cfg.backbone,
        share_params=m.share_params,
        centralized_critic=m.centralized_critic,
        death_masking=m.death_masking,
        core=cfg.core,
        core_size=cfg.core_size,
        backbone_kwargs=cfg.backbone_kwargs,
    ).to(cfg.device)


def _trainer(cfg, envs, policy, device, total_iterations, total_steps):
    return MAPPO(cfg.mappo, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)


ALGORITHM = Algorithm(
    name="mappo",
    section="mappo",
    config=MAPPOConfig,
    network=lambda cfg, envs: team_network(cfg, envs, cfg.mappo),
    trainer=_trainer,
    single=False,
    teams=True,
    compile=True,
    recurrent=True,
    perturbations=True,
    steps_per_iteration=lambda cfg: cfg.mappo.num_envs * cfg.mappo.num_steps,
    summary="multi-agent PPO (MAPPO / IPPO) on arenas",
)
