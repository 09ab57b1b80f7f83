"""A trained network as a brain a game can run: plain tensors in, plain tensors out, the recurrent state explicit.

:func:`make_brain` wraps a run's network (PPO's actor-critic, DQN's Q-network, MAPPO's team network) in a module
whose ``forward`` takes and returns only tensors with the batch first, in a fixed order that :class:`BrainSpec`
names: the observation (one input per key of a dict observation), for team networks the agent's index in its
team, then the recurrent state; out come the action scores (logits, or Q-values), the value where the network
has its own, then the next state. That is the form ONNX and TorchScript export, and what a game calls once per
decision for any number of agents at once.

A recurrent brain starts every episode from zeros (``BrainSpec.state``'s shapes): the game passes zeros where an
agent's episode starts and the returned state otherwise, as :class:`~mazearena.actor.Actor`\\ s do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mazearena.actor import Actor, State, choose
from mazearena.agents.policies import ActorCritic, MultiAgentActorCritic, QNetwork


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, its shape with ``"batch"`` first, its numpy dtype name."""

    name: str
    shape: tuple
    dtype: str

    def __post_init__(self) -> None:  # plain ints (sizes read from spaces may be numpy's), for JSON
        object.__setattr__(self, "shape", tuple(d if isinstance(d, str) else int(d) for d in self.shape))


@dataclass(frozen=True)
class BrainSpec:
    """The inputs and outputs of a brain, in ``forward``'s order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    observation_keys: tuple[str, ...] | None
    """The keys of a dict observation, in input order (``None``: one observation array)."""
    state: tuple[tuple[str, str], ...] = field(default=())
    """Pairs (input, output) of recurrent state: feed each output back as its input at the next step."""
    scores: str = "logits"
    """The output whose argmax is the greedy action."""
    agent_input: str | None = None
    """The input holding each row's agent index in its team (team brains), in ``[0, agents)``."""
    agents: int = 1
    """Agents in the team the brain acts for."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BrainSpec:
        """The spec as ``spec.json`` holds it (:meth:`to_dict`), back."""

        def tensors(key: str) -> tuple[TensorSpec, ...]:
            return tuple(TensorSpec(t["name"], tuple(t["shape"]), t["dtype"]) for t in d[key])

        keys = d["observation_keys"]
        return cls(
            inputs=tensors("inputs"),
            outputs=tensors("outputs"),
            observation_keys=None if keys is None else tuple(keys),
            state=tuple(tuple(pair) for pair in d["state"]),
            scores=d["scores"],
            agent_input=d["agent_input"],
            agents=d["agents"],
        )


def _observation_inputs(space: gym.Space) -> tuple[tuple[TensorSpec, ...], tuple[str, ...] | None]:
    if isinstance(space, gym.spaces.Dict):
        keys = tuple(space.spaces)
        specs = tuple(TensorSpec(f"obs.{k}", ("batch", *space[k].shape), np.dtype(space[k].dtype).name) for k in keys)
        return specs, keys
    return (TensorSpec("obs", ("batch", *space.shape), np.dtype(space.dtype).name),), None


def _state_specs(core, prefix: str = "state") -> tuple[list[TensorSpec], list[TensorSpec], list[tuple[str, str]]]:
    if core is None:
        return [], [], []
    parts = ("",) if core.kind == "gru" else (".h", ".c")
    ins = [TensorSpec(f"{prefix}{p}", ("batch", core.features_dim), "float32") for p in parts]
    outs = [TensorSpec(f"next_{prefix}{p}", ("batch", core.features_dim), "float32") for p in parts]
    return ins, outs, [(i.name, o.name) for i, o in zip(ins, outs, strict=True)]


def _pack(state_parts: tuple[torch.Tensor, ...], kind: str):
    return state_parts[0] if kind == "gru" else tuple(state_parts)


def _unpack(state) -> tuple[torch.Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


class _Brain(nn.Module):
    """Common part: splitting ``forward``'s flat inputs into the observation and the rest."""

    def __init__(self, spec: BrainSpec) -> None:
        super().__init__()
        self.spec = spec
        self._keys = spec.observation_keys

    def _observation(self, inputs: tuple[torch.Tensor, ...]):
        if self._keys is None:
            return inputs[0], inputs[1:]
        k = len(self._keys)
        return dict(zip(self._keys, inputs[:k], strict=True)), inputs[k:]


class MazeBrain(_Brain):
    """PPO's actor-critic (logits, value) or DQN's Q-network (Q-values) acting for a batch of single agents."""

    def __init__(self, policy: ActorCritic | QNetwork, space: gym.Space) -> None:
        obs_in, keys = _observation_inputs(space)
        actions = policy.head.out_features if isinstance(policy, QNetwork) else policy.actor.out_features
        core = getattr(policy, "core", None)
        s_in, s_out, pairs = _state_specs(core)
        if isinstance(policy, QNetwork):
            outs = [TensorSpec("q_values", ("batch", actions), "float32")]
        else:
            outs = [TensorSpec("logits", ("batch", actions), "float32"), TensorSpec("value", ("batch",), "float32")]
        spec = BrainSpec(
            inputs=(*obs_in, *s_in),
            outputs=(*outs, *s_out),
            observation_keys=keys,
            state=tuple(pairs),
            scores=outs[0].name,
        )
        super().__init__(spec)
        self.policy = policy

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        obs, rest = self._observation(inputs)
        if isinstance(self.policy, QNetwork):
            return (self.policy(obs),)
        core, policy = self.policy.core, self.policy
        features = policy.backbone(obs)
        if core is not None:
            features, state = core.cell(features, _pack(rest, core.kind))
        logits, value = policy.actor(features), policy.critic(features).squeeze(-1)
        return (logits, value, *(() if core is None else _unpack(state)))


class TeamBrain(_Brain):
    """A MAPPO team network acting for a batch of agents of its team, each row with its agent index ``agent``
    (which one-hot id the shared weights see, or whose weights act without sharing). Acting needs no game state:
    the centralised critic is left out, and so is the value."""

    def __init__(self, policy: MultiAgentActorCritic, space: gym.Space) -> None:
        obs_in, keys = _observation_inputs(space)
        core = None if policy.cores is None else policy.cores[0]
        s_in, s_out, pairs = _state_specs(core)
        actions = policy.actors[0].out_features
        spec = BrainSpec(
            inputs=(*obs_in, TensorSpec("agent", ("batch",), "int64"), *s_in),
            outputs=(TensorSpec("logits", ("batch", actions), "float32"), *s_out),
            observation_keys=keys,
            state=tuple(pairs),
            agent_input="agent",
            agents=policy.num_agents,
        )
        super().__init__(spec)
        self.policy = policy

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        obs, rest = self._observation(inputs)
        agent, parts = rest[0], rest[1:]
        p = self.policy
        if p.share_params:
            features = p.backbones[0](obs)
            state = None
            if p.cores is not None:
                features, state = p.cores[0].cell(features, _pack(parts, p.cores[0].kind))
            logits = p.actors[0](torch.cat([features, p.ids[agent]], -1))
            return (logits, *(() if state is None else _unpack(state)))
        # one network per agent: every row through every agent's, then each row's own picked (agents are few)
        rows = torch.arange(agent.shape[0], device=agent.device)
        logits, states = [], []
        for i, (net, head) in enumerate(zip(p.backbones, p.actors, strict=True)):
            features = net(obs)
            if p.cores is not None:
                features, state = p.cores[i].cell(features, _pack(parts, p.cores[i].kind))
                states.append(_unpack(state))
            logits.append(head(features))
        picked = (torch.stack(logits, 1)[rows, agent],)
        if states:
            picked += tuple(torch.stack(part, 1)[rows, agent] for part in zip(*states, strict=True))
        return picked


def make_brain(policy: nn.Module, observation_space: gym.Space) -> MazeBrain | TeamBrain:
    """The brain of a run's network (in eval mode), or an error naming a network that has none."""
    if isinstance(policy, MultiAgentActorCritic):
        brain = TeamBrain(policy, observation_space)
    elif isinstance(policy, (ActorCritic, QNetwork)):
        brain = MazeBrain(policy, observation_space)
    else:
        raise ValueError(f"a {type(policy).__name__} cannot be exported: only PPO, DQN and MAPPO networks can")
    return brain.eval()


def example_inputs(spec: BrainSpec, batch: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """Inputs of ``spec`` for ``batch`` rows: observations of the right dtypes (0/1 for integer ones, token masks
    with at least one token), agents ``0..``, zero states. For tracing and tests; real games give real ones."""
    out = []
    for t in spec.inputs:
        shape = tuple(batch if d == "batch" else d for d in t.shape)
        if t.name == spec.agent_input:
            out.append(torch.arange(batch) % spec.agents)
        elif t.name in {i for i, _ in spec.state}:
            out.append(torch.zeros(shape))
        elif t.dtype.startswith("float"):
            out.append(torch.randn(shape, generator=generator))
        else:
            x = torch.randint(0, 2, shape, generator=generator).to(getattr(torch, t.dtype))
            if t.name.endswith("mask"):
                x[..., 0] = 1
            out.append(x)
    return tuple(out)


class OnnxActor(Actor):
    """An exported ONNX brain as an :class:`~mazearena.actor.Actor`: greedy (or sampled) actions, the
    recurrent state carried as tensors with the games first (``[games, H]``, ``[games, agents, H]`` for teams). So
    the evaluation harness plays an exported model exactly as it plays the network it came from; it runs the
    model through the export's own loader (:mod:`~mazearena.agents.brain_runtime`, shipped as ``brain.py``)."""

    def __init__(self, folder: Path, model: str | None = None, threads: int = 1, deterministic: bool = True) -> None:
        from mazearena.agents.brain_runtime import Brain

        self.brain = Brain(folder, model, threads)
        self.spec, self.team = self.brain.spec, self.brain.agent_input is not None
        # sampled actions from logits; Q-values are always acted on greedily
        self.deterministic = deterministic or self.brain.scores == "q_values"

    def initial_state(self, games: int, device) -> State:
        if not self.brain.state_pairs:
            return None
        rows = games * (self.spec["brain"]["agents"] if self.team else 1)
        lead = (games, self.spec["brain"]["agents"]) if self.team else (games,)
        state = self.brain.initial_state(rows)
        return tuple(torch.from_numpy(state[i]).reshape(*lead, -1).to(device) for i, _ in self.brain.state_pairs)

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        first = obs[self.brain.keys[0]] if self.brain.keys else obs
        lead, device = first.shape[: 2 if self.team else 1], first.device
        rows = int(np.prod(lead))

        def flat(x: torch.Tensor) -> np.ndarray:
            return x.reshape(rows, *x.shape[len(lead) :]).cpu().numpy()

        feed = flat(obs) if self.brain.keys is None else {k: flat(obs[k]) for k in self.brain.keys}
        agent = np.tile(np.arange(lead[1]), lead[0]) if self.team else None
        carried = None
        if state is not None:
            if alive is not None:  # as the team network: an agent out of the game keeps no memory
                state = tuple(part * alive.to(part.device, part.dtype)[..., None] for part in state)
            carried = {name: flat(part) for (name, _), part in zip(self.brain.state_pairs, state, strict=True)}
        scores, carried = self.brain.scores_of(feed, carried, agent)
        actions = choose(torch.from_numpy(scores), self.deterministic).reshape(lead).to(device)
        if state is not None:
            state = tuple(torch.from_numpy(carried[i]).reshape(*lead, -1).to(device) for i, _ in self.brain.state_pairs)
        return actions, state
