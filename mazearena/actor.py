"""The one way a policy acts: ``act(obs, state, alive) -> (actions, state)`` over a batch of games.

``state`` is whatever the actor carries from step to step for each game (a tensor, or a dict or tuple of
tensors, with the games as the first dimension); a stateless actor carries ``None``. Whoever plays an actor
(the harness, training-time evaluation, videos, ``watch``, the league, cross-play) starts every game with
:meth:`Actor.initial_state` and gives a game that starts a new episode its initial state again
(:func:`reset_where`). ``alive`` (arenas) marks the agents still in the game, ``[games, agents]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

State = Any
"""``None``, a tensor, or a dict / tuple of tensors whose first dimension is the batch of games."""


class Actor:
    """Acts for a batch of games; stateless unless a subclass says otherwise."""

    whole_batch: bool = False
    """Acts for every game of its engine at once, reading the engine rather than ``obs`` (scripted teams): the
    episode loops then never hand it a subset of the games."""

    def initial_state(self, games: int, device: torch.device | str) -> State:
        """The state of ``games`` games at the start of an episode."""
        return None

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        raise NotImplementedError


class PolicyActor(Actor):
    """A network of :mod:`~mazearena.agents.policies` as an actor, through the acting interface they share,
    ``logits(obs, state, alive) -> (scores, state)``: sampled from, or (``deterministic``, or a network whose
    scores are action values) maximised. A recurrent network carries its core's state."""

    def __init__(self, policy, deterministic: bool = False) -> None:
        self.policy = policy
        self.deterministic = deterministic or getattr(policy, "greedy", False)
        self.recurrent = getattr(policy, "recurrent", False)

    def initial_state(self, games: int, device: torch.device | str) -> State:
        return self.policy.initial_state(games, device) if self.recurrent else None

    def logits(self, obs, state: State, alive: torch.Tensor | None = None) -> torch.Tensor:
        """The action scores (logits, or Q-values) of a batch of observations, a recurrent network's from
        ``state``."""
        with torch.no_grad():
            return self.policy.logits(obs, state, alive)[0]

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        with torch.no_grad():
            logits, state = self.policy.logits(obs, state, alive)
        return choose(logits, self.deterministic), state


def choose(logits: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
    """The most likely actions, or (``deterministic=False``) actions sampled from ``logits``."""
    if deterministic:
        return logits.argmax(-1)
    return torch.distributions.Categorical(logits=logits, validate_args=False).sample()


class FunctionActor(Actor):
    """A function ``act(obs)`` (mazes) or ``act(obs, alive)`` (arenas) as a stateless actor."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        return (self.fn(obs) if alive is None else self.fn(obs, alive)), state


def as_actor(actor) -> Actor:
    """An :class:`Actor` as it is; an object with a stateless ``act(obs[, alive])`` method, or such a function,
    as a :class:`FunctionActor`."""
    if isinstance(actor, Actor):
        return actor
    return FunctionActor(actor.act if hasattr(actor, "act") else actor)


def map_tensors(fn, state: State, *others: State) -> State:
    """``fn`` over the tensors of ``state`` (and the matching ones of ``others``), keeping its dicts, tuples and
    ``None``s: states, and observations that are dicts of batches."""
    if state is None:
        return None
    if isinstance(state, dict):
        return {k: map_tensors(fn, v, *(o[k] for o in others)) for k, v in state.items()}
    if isinstance(state, tuple):
        return tuple(map_tensors(fn, *parts) for parts in zip(state, *others, strict=True))
    return fn(state, *others)


def state_to(state: State, device: torch.device | str) -> State:
    """``state`` with its tensors on ``device`` (e.g. read back from a checkpoint)."""
    return map_tensors(lambda x: x.to(device), state)


def repeat_state(state: State, times: int) -> State:
    """Each game's state ``times`` times in a row (``[games * times, ...]``), for candidates read game by game."""
    return map_tensors(lambda x: x.repeat_interleave(times, 0), state)


def index_state(state: State, idx: torch.Tensor) -> State:
    """The states of the games ``idx``."""
    return map_tensors(lambda x: x[idx], state)


def put_state(state: State, idx: torch.Tensor, rows: State) -> State:
    """``state`` with the games ``idx`` replaced by ``rows`` (a new state; ``state`` is not changed)."""
    return map_tensors(lambda x, r: x.index_put((idx,), r), state, rows)


def reset_where(state: State, done: torch.Tensor, fresh: State) -> State:
    """``state`` with the games where ``done`` (``[games]`` bool) back at ``fresh`` (an initial state)."""
    return map_tensors(lambda x, f: torch.where(done.to(x.device).view(-1, *[1] * (x.dim() - 1)), f, x), state, fresh)
