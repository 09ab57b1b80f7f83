"""The networks the algorithms train, side by side: :class:`ActorCritic` (PPO, A2C), :class:`QNetwork` (DQN) and
:class:`MultiAgentActorCritic` (MAPPO / IPPO). Each puts its heads on a backbone (:mod:`~mazearena.agents.backbones`)
and, where the algorithm has one, a recurrent core (:mod:`~mazearena.agents.cores`); the trainers are in
:mod:`mazearena.training.algorithms`, one module per algorithm."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from mazearena.actor import State
from mazearena.agents import parallel
from mazearena.agents.backbones import make_backbone
from mazearena.agents.cores import make_core


def _init(layer: nn.Linear, std: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    """A backbone shared by a policy head (logits) and a value head, with a recurrent core between them
    (``core="gru"`` or ``"lstm"``, :mod:`~mazearena.agents.cores`) or none.

    Feed-forward: ``forward(obs) -> (logits, value)``. Every network: ``step(obs, state, first)`` -> logits,
    value and the next state (``None`` without a core), and ``sequence`` over stored rollout steps."""

    def __init__(
        self,
        observation_space,
        num_actions: int,
        backbone: str = "cnn",
        core: str = "none",
        core_size: int = 128,
        **backbone_kwargs,
    ) -> None:
        super().__init__()
        self.backbone = make_backbone(backbone, observation_space, **backbone_kwargs)
        self.core = make_core(core, self.backbone.features_dim, core_size)
        features = (self.core or self.backbone).features_dim
        self.actor = _init(nn.Linear(features, num_actions), 0.01)
        self.critic = _init(nn.Linear(features, 1), 1.0)

    @property
    def recurrent(self) -> bool:
        return self.core is not None

    def forward(self, obs) -> tuple[torch.Tensor, torch.Tensor]:
        if self.core is not None:
            raise TypeError("a recurrent network acts through step(obs, state, first): it needs its state")
        features = self.backbone(obs)
        return self.actor(features), self.critic(features).squeeze(-1)

    def initial_state(self, games: int, device: torch.device | str) -> State:
        """The state of ``games`` games at the start of an episode (``None`` without a core)."""
        return None if self.core is None else self.core.initial_state(games, device)

    def step(self, obs, state: State = None, first: torch.Tensor | None = None):
        """Logits, value and the next state for one step of a batch of games (``first``: the games whose
        observation starts an episode, their state reset first)."""
        features = self.backbone(obs)
        if self.core is not None:
            features, state = self.core.step(features, state, first)
        return self.actor(features), self.critic(features).squeeze(-1), state

    def sequence(self, obs, state: State, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values ``[T * games]`` of ``T`` stored steps of some games (``obs`` flattened
        ``[T * games, ...]``, ``first [T, games]``), replayed from their ``state`` at the first step."""
        features = self.backbone(obs)
        if self.core is not None:
            t, n = first.shape
            features = self.core.sequence(features.reshape(t, n, -1), state, first).reshape(t * n, -1)
        return self.actor(features), self.critic(features).squeeze(-1)

    def value(self, obs) -> torch.Tensor:
        return self(obs)[1]

    def logits(self, obs, state: State = None, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """The acting interface every network shares: action scores of a batch of games and the next state (a
        recurrent core's; ``None`` without one). ``alive`` is for team networks (one agent here: unused)."""
        if self.core is None:
            return self(obs)[0], None
        logits, _, state = self.step(obs, state)
        return logits, state


class QNetwork(nn.Module):
    greedy = True
    """Its scores are action values: an actor takes their argmax, never samples them."""

    def __init__(self, observation_space, num_actions: int, backbone: str = "cnn", **backbone_kwargs) -> None:
        super().__init__()
        self.backbone = make_backbone(backbone, observation_space, **backbone_kwargs)
        self.head = nn.Linear(self.backbone.features_dim, num_actions)

    def forward(self, obs) -> torch.Tensor:
        return self.head(self.backbone(obs))

    def logits(self, obs, state: State = None, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """The action values of a batch of observations (the acting interface of :meth:`ActorCritic.logits`)."""
        return self(obs), None


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

    ``forward(obs, state, alive)`` takes ``obs [N, A, ...]``, ``state [N, C, S, S]`` (used by the centralised
    critic) and ``alive [N, A]``, and returns ``logits [N, A, actions]`` and normalised values ``[N, A]``.
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
        backbone_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_agents, self.share_params = num_agents, share_params
        self.centralized_critic, self.death_masking = centralized_critic, death_masking
        nets = 1 if share_params else num_agents
        ids = num_agents if share_params else 0  # one-hot agent ids tell shared-weight agents apart
        self.backbones = nn.ModuleList(
            make_backbone(backbone, observation_space, **(backbone_kwargs or {})) for _ in range(nets)
        )
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

    def _features(self, obs, alive: torch.Tensor) -> torch.Tensor:
        """``[N, A, F]`` features of every agent's observation."""
        n, a = alive.shape
        if self.death_masking:
            obs = _mask_inputs(obs, alive)
        if self.share_params:
            return self.backbones[0](_flat(obs, n * a)).view(n, a, -1)
        return torch.stack([net(_column(obs, i)) for i, net in enumerate(self.backbones)], 1)

    def _heads(self, heads: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        """The shared head on ``[N, A, F]`` (agent ids appended), or head i on agent i."""
        if self.share_params:
            return heads[0](self._with_ids(x))
        return torch.stack([head(x[:, i]) for i, head in enumerate(heads)], 1)

    def forward(self, obs, state: torch.Tensor | None, alive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cores is not None:
            raise TypeError("a recurrent network acts through step(obs, memory, alive): it needs its memory")
        return self._outputs(self._features(obs, alive), state)

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

    def step(self, obs, memory, alive: torch.Tensor, first: torch.Tensor | None = None, state=None):
        """Logits, values (``None`` without ``state`` for a centralised critic) and the next memory for one step
        of ``N`` games; memories start from zeros where ``first [N, A]`` (the game starts) and where an agent is
        not ``alive``."""
        features = self._features(obs, alive)
        if self.cores is not None:
            reset = ~alive if first is None else first | ~alive
            features, memory = self._remember(features, memory, reset)
        logits, values = self._outputs(features, state)
        return logits, values, memory

    def sequence(self, obs, memory, alive: torch.Tensor, first: torch.Tensor, state=None):
        """Logits and values ``[T * N, A, ...]`` of ``T`` stored steps of ``N`` games (``obs``, ``state``
        flattened ``[T * N, ...]``; ``alive``, ``first`` ``[T, N, A]``), replayed from ``memory``."""
        t, n, a = alive.shape
        features = self._features(obs, alive.reshape(t * n, a)).reshape(t, n, a, -1)
        out = self._replay(features, memory, first | ~alive)
        return self._outputs(out.reshape(t * n, a, -1), state)

    def logits(self, obs, state: State, alive: torch.Tensor) -> tuple[torch.Tensor, State]:
        """The acting interface every network shares: action scores ``[N, A, actions]`` of the agents ``alive``
        and their next memory (``state``: the agents' memory, ``None`` without a core; acting needs no game
        state)."""
        logits, _, state = self.step(obs, state, alive)
        return logits, state


def index_agent(memory, i: int):
    """Agent ``i``'s memory ``[N, H]`` (each part of an LSTM's)."""
    return tuple(part[:, i] for part in memory) if isinstance(memory, tuple) else memory[:, i]


def stack_agents(parts: list):
    """Per-agent memories back into ``[N, A, H]``."""
    if isinstance(parts[0], tuple):
        return tuple(torch.stack(p, 1) for p in zip(*parts, strict=True))
    return torch.stack(parts, 1)
