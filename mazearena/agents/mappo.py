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

import gymnasium as gym
import torch
from torch import nn

from mazearena.agents import batches, parallel
from mazearena.agents.actor import choose, index_state, state_to
from mazearena.agents.backbones import make_backbone
from mazearena.agents.cores import make_core
from mazearena.agents.ppo import (
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
class MAPPOConfig(PPOConfig):
    """Multi-agent PPO: the PPO hyperparameters (``num_envs`` counts games; a minibatch holds whole game
    steps, every agent of each) plus the architecture switches."""

    share_params: bool = True
    """One policy for all learning agents (with agent-id inputs); off: separate weights per agent."""
    centralized_critic: bool = True
    """Critic on the global state (MAPPO); off: on each agent's own observation (IPPO)."""
    value_norm: bool = True
    """Normalise value targets with running statistics."""
    death_masking: bool = True
    """Zero the inputs of agents out of the game and mask their steps out of the losses."""


class RunningNorm(nn.Module):
    """Running mean and variance of value targets (kept in the state dict, so checkpoints carry them)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("var", torch.ones(()))
        self.register_buffer("count", torch.zeros(()))

    def update(self, x: torch.Tensor) -> None:
        if parallel.world_size() > 1:  # every process's targets, so that the statistics stay alike everywhere
            n, mean, var = parallel.moments(x)
            if n == 0:
                return
            self._merge(mean, var, n.to(self.count.dtype))
            return
        if x.numel() == 0:
            return
        self._merge(x.mean(), x.var(unbiased=False), x.numel())

    def _merge(self, mean: torch.Tensor, var: torch.Tensor, n) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.var.copy_((self.var * self.count + var * n + delta**2 * self.count * n / total) / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.var.clamp(min=1e-8).sqrt()

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.var.clamp(min=1e-8).sqrt() + self.mean


def _init(layer: nn.Linear, std: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.zeros_(layer.bias)
    return layer


def _mask_inputs(obs, keep: torch.Tensor):
    """``obs`` with the rows where ``keep`` is false zeroed (token masks are left as they are)."""
    if isinstance(obs, dict):
        return {k: v if k == "mask" else _mask_inputs(v, keep) for k, v in obs.items()}
    return obs * keep.view(*keep.shape, *([1] * (obs.dim() - keep.dim()))).to(obs.dtype)


def _flat(obs, n: int):
    """``[envs, agents, ...]`` -> ``[envs * agents, ...]`` (``n`` = envs * agents)."""
    return (
        {k: v.reshape(n, *v.shape[2:]) for k, v in obs.items()}
        if isinstance(obs, dict)
        else obs.reshape(n, *obs.shape[2:])
    )


def _column(obs, i: int):
    return {k: v[:, i] for k, v in obs.items()} if isinstance(obs, dict) else obs[:, i]


class MultiAgentActorCritic(nn.Module):
    """Actors (and critics) for ``num_agents`` learning agents; see the module docstring for the switches.

    ``forward(obs, state, active)`` takes ``obs [N, A, ...]``, ``state [N, C, S, S]`` (used by the centralised
    critic) and ``active [N, A]``, and returns ``logits [N, A, actions]`` and normalised values ``[N, A]``.
    The centralised critic reads the state planes with a downsampling ``cnn`` whatever the actors' backbone (a
    state that is a vector, as other PettingZoo envs give, with an ``mlp``).

    With a recurrent ``core`` each agent carries a memory ``[N, A, H]`` between the backbone and the actor head
    (and the local critic; the centralised one sees the whole game and needs none): ``step`` and ``sequence``
    take and give it. An agent's memory starts from zeros where its game starts and while it is out of the game.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        state_space: gym.Space,
        num_agents: int,
        num_actions: int,
        backbone: str = "cnn",
        *,
        share_params: bool = True,
        centralized_critic: bool = True,
        death_masking: bool = True,
        core: str = "none",
        core_size: int = 128,
    ) -> None:
        super().__init__()
        self.num_agents, self.share_params = num_agents, share_params
        self.centralized_critic, self.death_masking = centralized_critic, death_masking
        nets = 1 if share_params else num_agents
        ids = num_agents if share_params else 0  # one-hot agent ids tell shared-weight agents apart
        self.backbones = nn.ModuleList(make_backbone(backbone, observation_space) for _ in range(nets))
        features = self.backbones[0].features_dim
        self.cores = None
        if core != "none":
            self.cores = nn.ModuleList(make_core(core, features, core_size) for _ in range(nets))
            features = core_size
        self.actors = nn.ModuleList(_init(nn.Linear(features + ids, num_actions), 0.01) for _ in range(nets))
        if centralized_critic:
            planes = len(state_space.shape) == 3  # an arena's planes; any other env's state: a vector
            self.state_backbones = nn.ModuleList(
                make_backbone("cnn", state_space, downsample=True) if planes else make_backbone("mlp", state_space)
                for _ in range(nets)
            )
            features = self.state_backbones[0].features_dim
        self.critics = nn.ModuleList(_init(nn.Linear(features + ids, 1), 1.0) for _ in range(nets))
        self.register_buffer("ids", torch.eye(num_agents))
        self.value_norm = RunningNorm()

    def _with_ids(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, A, F]`` -> ``[N, A, F + A]`` with each agent's one-hot id (shared weights only)."""
        if not self.share_params:
            return features
        return torch.cat([features, self.ids.expand(features.shape[0], -1, -1)], -1)

    def _features(self, obs, active: torch.Tensor) -> torch.Tensor:
        """``[N, A, F]`` features of every agent's observation."""
        n, a = active.shape
        if self.death_masking:
            obs = _mask_inputs(obs, active)
        if self.share_params:
            return self.backbones[0](_flat(obs, n * a)).view(n, a, -1)
        return torch.stack([net(_column(obs, i)) for i, net in enumerate(self.backbones)], 1)

    def _heads(self, heads: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        """The shared head on ``[N, A, F]`` (agent ids appended), or head i on agent i."""
        if self.share_params:
            return heads[0](self._with_ids(x))
        return torch.stack([head(x[:, i]) for i, head in enumerate(heads)], 1)

    def forward(self, obs, state: torch.Tensor | None, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cores is not None:
            raise TypeError("a recurrent network acts through step(obs, memory, active): it needs its memory")
        return self._outputs(self._features(obs, active), state)

    def _outputs(self, features: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits and values of ``[N, A, F]`` actor features (values ``None`` where the centralised critic has
        no game state to read, when only acting)."""
        if self.centralized_critic:
            if state is None:
                return self._heads(self.actors, features), None
            critic_in = torch.stack([net(state) for net in self.state_backbones], 1)  # [N, nets, F]
            critic_in = critic_in.expand(-1, self.num_agents, -1) if self.share_params else critic_in
        else:
            critic_in = features
        return self._heads(self.actors, features), self._heads(self.critics, critic_in).squeeze(-1)

    @property
    def recurrent(self) -> bool:
        return self.cores is not None

    def initial_state(self, games: int, device: torch.device | str):
        """The agents' memory at the start of a game, ``[games, A, H]`` (``None`` without a core)."""
        return None if self.cores is None else self.cores[0].initial_state((games, self.num_agents), device)

    def _remember(self, features: torch.Tensor, memory, reset: torch.Tensor):
        """``[N, A, F]`` features through the core(s), each agent's memory from zeros where ``reset``."""
        if self.share_params:
            return self.cores[0].step(features, memory, reset)
        outs, parts = [], []
        for i, core in enumerate(self.cores):
            out, part = core.step(features[:, i], index_agent(memory, i), reset[:, i])
            outs.append(out)
            parts.append(part)
        return torch.stack(outs, 1), stack_agents(parts)

    def _replay(self, features: torch.Tensor, memory, reset: torch.Tensor) -> torch.Tensor:
        """``[T, N, A, F]`` features through the core(s) from ``memory``, reset where ``reset [T, N, A]``."""
        if self.share_params:
            return self.cores[0].sequence(features, memory, reset)
        outs = [
            core.sequence(features[:, :, i], index_agent(memory, i), reset[:, :, i])
            for i, core in enumerate(self.cores)
        ]
        return torch.stack(outs, 2)

    def step(self, obs, memory, active: torch.Tensor, first: torch.Tensor | None = None, state=None):
        """Logits, values (``None`` without ``state`` for a centralised critic) and the next memory for one step
        of ``N`` games; memories start from zeros where ``first [N, A]`` (the game starts) and where an agent is
        not ``active``."""
        features = self._features(obs, active)
        if self.cores is not None:
            reset = ~active if first is None else first | ~active
            features, memory = self._remember(features, memory, reset)
        logits, values = self._outputs(features, state)
        return logits, values, memory

    def sequence(self, obs, memory, active: torch.Tensor, first: torch.Tensor, state=None):
        """Logits and values ``[T * N, A, ...]`` of ``T`` stored steps of ``N`` games (``obs``, ``state``
        flattened ``[T * N, ...]``; ``active``, ``first`` ``[T, N, A]``), replayed from ``memory``."""
        t, n, a = active.shape
        features = self._features(obs, active.reshape(t * n, a)).reshape(t, n, a, -1)
        out = self._replay(features, memory, first | ~active)
        return self._outputs(out.reshape(t * n, a, -1), state)

    @torch.no_grad()
    def act(self, obs, active: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Actions ``[N, A]`` of a feed-forward network (acting needs no game state)."""
        return choose(self(obs, None, active)[0], deterministic)


def index_agent(memory, i: int):
    """Agent ``i``'s memory ``[N, H]`` (each part of an LSTM's)."""
    return tuple(part[:, i] for part in memory) if isinstance(memory, tuple) else memory[:, i]


def stack_agents(parts: list):
    """Per-agent memories back into ``[N, A, H]``."""
    if isinstance(parts[0], tuple):
        return tuple(torch.stack(p, 1) for p in zip(*parts, strict=True))
    return torch.stack(parts, 1)


class TeamEpisodes:
    """Per-agent running returns and sums over the games that ended since the last :meth:`metrics`, kept on the
    device (no host round-trip per step; :meth:`metrics` reads them once)."""

    def __init__(
        self,
        num_envs: int,
        agent_names: list[str],
        team_of: list[int],
        device: torch.device,
        mode: str = "",
        chasers: int = 0,
        winners: bool = True,
    ) -> None:
        self.names, self.team_of = agent_names, torch.tensor(team_of, device=device)
        self.mode, self.chasers = mode, chasers  # the mode names the counts; tag: the chasing team
        self.winners = winners  # whether a game has a winner (and scores); else only returns and lengths
        self.ret = torch.zeros(num_envs, len(agent_names), device=device)
        self.left = torch.zeros(num_envs, 2, device=device)  # agents of each team out of the game so far
        # sums over ended games: agent returns..., length, red won, blue won, drawn, score red/blue, out red/blue
        self._sums = torch.zeros(len(agent_names) + 8, dtype=torch.float64, device=device)
        self._count = torch.zeros((), dtype=torch.float64, device=device)
        self.min_games = num_envs  # report over windows of at least a game per env (see batches.Episodes)

    def update(self, reward: torch.Tensor, active: torch.Tensor, info: dict) -> None:
        self.ret += reward * active
        if "left_game" in info:
            self.left += info["left_game"].to(self.left.device)
        ended = info.get("_final_obs")
        if ended is None:
            return
        ended = ended.to(self.ret.device)
        winner = info["winner"].to(self.ret.device) if self.winners else torch.full_like(ended, -2, dtype=torch.long)
        score = info["score"].float() if self.winners else torch.zeros(len(ended), 2, device=self.ret.device)
        row = torch.cat(
            [
                self.ret,
                info["episode_length"][:, None].float(),
                torch.stack([winner == 0, winner == 1, winner == -1], 1).float(),
                score,
                self.left,
            ],
            1,
        )
        e = ended.to(torch.float64)
        self._sums += (row.double() * e[:, None]).sum(0)
        self._count += e.sum()
        keep = (~ended)[:, None]
        self.ret *= keep
        self.left *= keep

    def metrics(self, team: int) -> dict[str, float]:
        """Mean return of each agent and of the learning team, win/draw rates of ``team``, length, scores, and
        what the mode counts: captures (``ctf``), kills and deaths (``combat``), catches (``tag``)."""
        count = float(self._count)
        if count < max(self.min_games, 1):
            return {}  # the sums are kept for the next window
        sums = (self._sums / count).tolist()
        self._sums.zero_()
        self._count.zero_()
        a = len(self.names)
        out = {f"agent/{name}/return": sums[i] for i, name in enumerate(self.names)}
        out |= {
            "episode/return": sum(sums[:a]),
            "episode/length": sums[a],
            "episode/success": sums[a + 1 + team],  # games won by the learning team (same key as PPO/DQN)
            "episode/count": count,
        }
        if self.winners:
            out |= {
                "episode/draw_rate": sums[a + 3],
                "episode/score_red": sums[a + 4],
                "episode/score_blue": sums[a + 5],
            }
        out_own, out_enemy = sums[a + 6 + team], sums[a + 7 - team]  # agents out of the game per game
        if self.mode == "ctf":
            out["episode/captures"] = sums[a + 4 + team]
            out["episode/captures_against"] = sums[a + 5 - team]
        elif self.mode == "combat":
            out["episode/kills"], out["episode/deaths"] = out_enemy, out_own
        elif self.mode == "tag":  # whichever side learns, the catches are the runners out of the game
            out["episode/catches"] = out_enemy if self.chasers == team else out_own
        return out

    def state_dict(self) -> dict:
        return {
            "team_ep_return": self.ret.clone(),
            "team_ep_left": self.left.clone(),
            "team_ep_sums": self._sums.clone(),
            "team_ep_count": self._count.clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.ret.copy_(state["team_ep_return"])
        self.left.copy_(state["team_ep_left"])
        if "team_ep_sums" in state:  # checkpoints from before windows
            self._sums.copy_(state["team_ep_sums"])
            self._count.copy_(state["team_ep_count"])


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
        cfg = self.cfg
        anneal_lr(cfg, self.optimizer, self.iteration_index, self.total_iterations)
        self._rollout()
        advantages, returns = self._advantages()
        mask = self.buf_active if cfg.death_masking else torch.ones_like(self.buf_active)
        if cfg.value_norm:
            self.policy.value_norm.update(returns[mask])
        norm = self.policy.value_norm.normalize if cfg.value_norm else (lambda x: x)

        steps = cfg.num_envs * cfg.num_steps  # minibatches of whole game steps (every agent of each)
        b_obs = batches.flatten_steps(self.buf_obs)
        b_state = self.buf_state.reshape(steps, *self.buf_state.shape[2:]) if self.buf_state is not None else None
        b_active = self.buf_active.reshape(steps, -1)
        b_mask = mask.reshape(steps, -1).float()
        b_actions, b_logprobs = self.buf_actions.reshape(steps, -1), self.buf_logprobs.reshape(steps, -1)
        b_adv, b_returns = advantages.reshape(steps, -1), norm(returns.reshape(steps, -1))
        b_values = norm(self.buf_values.reshape(steps, -1))

        b = Rollout(b_actions, b_logprobs, b_values, b_adv, b_returns, mask=b_mask)

        def minibatch_loss(mb: torch.Tensor) -> tuple[torch.Tensor, dict]:
            state = b_state[mb] if b_state is not None else None
            logits, value = self._forward(batches.index(b_obs, mb), state, b_active[mb])
            return b.loss(cfg, logits, value, mb)

        def sequence_loss(games: torch.Tensor) -> tuple[torch.Tensor, dict]:
            """The loss on whole game sequences, replayed through the core from the rollout's first memory."""
            rows = sequence_rows(cfg.num_steps, cfg.num_envs, games)
            active = self.buf_active[:, games]
            first = self.buf_started[:, games, None].expand_as(active)
            state = b_state[rows] if b_state is not None else None
            with batches.autocast(self.device, self.amp):
                memory = index_state(self.rollout_memory, games)
                logits, value = self.replay(batches.index(b_obs, rows), memory, active, first, state)
            return b.loss(cfg, logits.float(), value.float(), rows)

        if self.recurrent:  # minibatches of whole game sequences
            metrics = update(cfg, self.policy, self.optimizer, cfg.num_envs, sequence_loss)
        else:
            metrics = update(cfg, self.policy, self.optimizer, steps, minibatch_loss)
        self.iteration_index += 1

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
        state = trainer_state(self) | {"alive": self.alive, "engine": self.envs.engine.state_dict()}
        if self.recurrent:
            state |= {"core_state": self.memory, "started": self.started}
        if hasattr(self.envs, "state_dict"):  # self-play: the league and the opponents in play
            state["envs"] = self.envs.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        self.alive = state["alive"].to(self.device)
        if self.recurrent:
            self.memory, self.started = state_to(state["core_state"], self.device), state["started"].to(self.device)
        self.envs.engine.load_state_dict(state["engine"])
        if hasattr(self.envs, "load_state_dict"):
            self.envs.load_state_dict(state["envs"])
        if self.state is not None:
            self.state = self.envs.state().to(self.device)
