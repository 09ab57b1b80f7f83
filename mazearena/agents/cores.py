"""Recurrent cores: a memory on top of any backbone (``--core gru`` or ``lstm``).

A core turns a backbone's features into features that also depend on everything the game showed before. Its
state is one vector per game (per agent in arenas), ``[..., hidden]`` for a GRU and a pair of them (h, c) for an
LSTM, with the games first, as :mod:`~mazearena.agents.actor` states are. Every call takes ``first``, the games
whose observation starts an episode: their state goes back to zeros (the initial state) before the step. So a
batched rollout with same-step autoreset, a replay of a stored sequence (:meth:`Core.sequence`) and a game
played on its own step by step give the same outputs.
"""

from __future__ import annotations

import torch
from torch import nn

from mazearena.agents.actor import State

CORES = ("none", "gru", "lstm")
"""The values of ``--core``."""


class Core(nn.Module):
    """A one-layer GRU or LSTM over backbone features; ``features_dim`` is its hidden size."""

    def __init__(self, kind: str, input_dim: int, hidden: int = 128) -> None:
        super().__init__()
        if kind not in ("gru", "lstm"):
            raise ValueError(f"core must be one of {', '.join(CORES)}, got {kind!r}")
        self.kind, self.features_dim = kind, hidden
        self.rnn = (nn.GRU if kind == "gru" else nn.LSTM)(input_dim, hidden)
        for name, param in self.rnn.named_parameters():
            if "bias" in name:
                nn.init.zeros_(param)
            else:
                nn.init.orthogonal_(param, 1.0)

    def initial_state(self, shape: int | tuple[int, ...], device: torch.device | str) -> State:
        """Zeros for ``shape`` games (``(games, agents)`` in arenas)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        zeros = torch.zeros(*shape, self.features_dim, device=device)
        return zeros if self.kind == "gru" else (zeros, zeros.clone())

    def step(self, x: torch.Tensor, state: State, first: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """One step: features ``x [..., F]`` and ``state`` -> outputs ``[..., H]`` and the next state; the state
        of games where ``first [...]`` is true starts from zeros."""
        lead = x.shape[:-1]
        h = _flat(state, lead.numel())
        if first is not None:
            keep = (~first.reshape(-1).bool()).to(x.dtype)[:, None]
            h = tuple(part * keep for part in h) if isinstance(h, tuple) else h * keep
        with torch.autocast(x.device.type, enabled=False):  # the memory stays float32 under --amp
            out, h = self.rnn(x.reshape(1, -1, x.shape[-1]).float(), _rnn_state(h))
        return out[0].reshape(*lead, -1), _unflat(_plain_state(h), lead)

    def sequence(self, x: torch.Tensor, state: State, first: torch.Tensor) -> torch.Tensor:
        """``T`` steps from ``state``: features ``x [T, ...games, F]`` and ``first [T, ...games]`` -> outputs
        ``[T, ...games, H]`` (what :meth:`step` gives, step after step)."""
        out = []
        for t in range(x.shape[0]):
            y, state = self.step(x[t], state, first[t])
            out.append(y)
        return torch.stack(out)


def make_core(kind: str, input_dim: int, hidden: int = 128) -> Core | None:
    """A :class:`Core`, or ``None`` for ``core="none"`` (a feed-forward policy)."""
    if kind == "none":
        return None
    return Core(kind, input_dim, hidden)


def _flat(state: State, n: int) -> State:
    if isinstance(state, tuple):
        return tuple(part.reshape(n, part.shape[-1]) for part in state)
    return state.reshape(n, state.shape[-1])


def _unflat(state: State, lead: torch.Size) -> State:
    if isinstance(state, tuple):
        return tuple(part.reshape(*lead, part.shape[-1]) for part in state)
    return state.reshape(*lead, state.shape[-1])


def _rnn_state(h: State) -> State:
    """Games-first states as torch's RNNs take them: ``[layers=1, games, H]``."""
    return tuple(part[None].contiguous() for part in h) if isinstance(h, tuple) else h[None].contiguous()


def _plain_state(h: State) -> State:
    return tuple(part[0] for part in h) if isinstance(h, tuple) else h[0]
