"""Recurrent cores: a memory on top of any backbone (``--core gru`` or ``lstm``).

A core turns a backbone's features into features that also depend on everything the game showed before. Its
state is one vector per game (per agent in arenas), ``[..., hidden]`` for a GRU and a pair of them (h, c) for an
LSTM, with the games first, as :mod:`~mazearena.actor` states are. Every call takes ``first``, the games
whose observation starts an episode: their state goes back to zeros (the initial state) before the step. So a
batched rollout with same-step autoreset, a replay of a stored sequence (:meth:`Core.sequence`) and a game
played on its own step by step give the same outputs.
"""

from __future__ import annotations

import torch
from torch import nn

from mazearena.actor import State

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
            x = x.reshape(-1, x.shape[-1]).to(self.rnn.weight_ih_l0.dtype)
            out, h = self.rnn(x[None], _rnn_state(h))
        return out[0].reshape(*lead, -1), _unflat(_plain_state(h), lead)

    def cell(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step of ``[B, F]`` features from ``state`` (``[B, H]``, or the LSTM's pair) written out gate by gate
        in torch's weight layout: what :meth:`step` computes with no reset, in plain matrix products and
        pointwise functions, the form exported models carry (:mod:`~mazearena.agents.brain`)."""
        rnn, hidden = self.rnn, self.features_dim
        gx = x @ rnn.weight_ih_l0.t() + rnn.bias_ih_l0
        if self.kind == "gru":
            gh = state @ rnn.weight_hh_l0.t() + rnn.bias_hh_l0
            r = torch.sigmoid(gx[:, :hidden] + gh[:, :hidden])
            z = torch.sigmoid(gx[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
            new = torch.tanh(gx[:, 2 * hidden :] + r * gh[:, 2 * hidden :])
            h = new + z * (state - new)
            return h, h
        h, c = state
        g = gx + h @ rnn.weight_hh_l0.t() + rnn.bias_hh_l0
        i, f, o = (torch.sigmoid(g[:, k * hidden : (k + 1) * hidden]) for k in (0, 1, 3))
        c = f * c + i * torch.tanh(g[:, 2 * hidden : 3 * hidden])
        h = o * torch.tanh(c)
        return h, (h, c)

    def sequence(self, x: torch.Tensor, state: State, first: torch.Tensor) -> torch.Tensor:
        """``T`` steps from ``state``: features ``x [T, ...games, F]`` and ``first [T, ...games]`` -> outputs
        ``[T, ...games, H]`` (what :meth:`step` gives, step after step, up to float rounding).

        The update's replay, so it is made cheap: the input side of every gate is one matrix product over all
        steps, and forward and backward each run one short loop of a few fused tensor operations per step
        (:class:`_GRUReplay`, :class:`_LSTMReplay`) rather than autograd recording every gate of every step."""
        steps, lead = x.shape[0], x.shape[1:-1]
        n = lead.numel()
        rnn = self.rnn
        weights = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        dtype = rnn.weight_ih_l0.dtype  # float32 under --amp too: the memory is not kept in bfloat16
        keep = (~first.reshape(steps, n, 1).bool()).to(dtype)
        with torch.autocast(x.device.type, enabled=False):
            x = x.reshape(steps, n, -1).to(dtype)
            if self.kind == "gru":
                out = _GRUReplay.apply(x, _flat(state, n), keep, *weights)
            else:
                h, c = _flat(state, n)
                out = _LSTMReplay.apply(x, h, c, keep, *weights)
        return out.reshape(steps, *lead, -1)


class _GRUReplay(torch.autograd.Function):
    """torch's GRU (gates r, z, n in its weight layout) over ``x [T, N, F]`` from ``h0 [N, H]``, the state
    multiplied by ``keep [T, N, 1]`` (0 where an episode starts) before each step, with backpropagation
    through time written out."""

    @staticmethod
    def forward(ctx, x, h0, keep, w_ih, w_hh, b_ih, b_hh):
        steps, n, hidden = x.shape[0], x.shape[1], h0.shape[-1]
        gx = torch.addmm(b_ih, x.reshape(steps * n, -1), w_ih.t()).view(steps, n, 3 * hidden)
        prev = x.new_empty(steps, n, hidden)  # the state each step starts from (after the reset)
        gates = x.new_empty(steps, n, 4 * hidden)  # r, z, n and the recurrent part of n's input
        out = x.new_empty(steps, n, hidden)
        h = h0
        for t in range(steps):
            h = prev[t] = h * keep[t]
            gh = torch.addmm(b_hh, h, w_hh.t())
            rz = torch.sigmoid(gx[t, :, : 2 * hidden] + gh[:, : 2 * hidden])
            r, z = rz[:, :hidden], rz[:, hidden:]
            new = torch.tanh(torch.addcmul(gx[t, :, 2 * hidden :], r, gh[:, 2 * hidden :]))
            h = out[t] = torch.addcmul(new, z, h - new)
            gates[t, :, : 2 * hidden] = rz
            gates[t, :, 2 * hidden : 3 * hidden] = new
            gates[t, :, 3 * hidden :] = gh[:, 2 * hidden :]
        ctx.save_for_backward(x, keep, w_ih, w_hh, prev, gates)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, keep, w_ih, w_hh, prev, gates = ctx.saved_tensors
        steps, n, hidden = prev.shape
        r, z, new, hn = gates.split(hidden, dim=-1)
        # what each step's gradient is multiplied by, for all steps at once
        to_z = (prev - new) * z * (1 - z)
        to_n = (1 - z) * (1 - new * new)
        to_r = hn * r * (1 - r)
        d_gx = x.new_empty(steps, n, 3 * hidden)
        d_gh = x.new_empty(steps, n, 3 * hidden)
        carry = torch.zeros_like(prev[0])
        for t in reversed(range(steps)):
            dh = grad_out[t] + carry
            dn = dh * to_n[t]
            d_gx[t, :, :hidden] = d_gh[t, :, :hidden] = dn * to_r[t]
            d_gx[t, :, hidden : 2 * hidden] = d_gh[t, :, hidden : 2 * hidden] = dh * to_z[t]
            d_gx[t, :, 2 * hidden :] = dn
            d_gh[t, :, 2 * hidden :] = dn * r[t]
            carry = torch.addcmul(d_gh[t] @ w_hh, dh, z[t]) * keep[t]
        flat_gx, flat_gh = d_gx.view(steps * n, -1), d_gh.view(steps * n, -1)
        grad_x = (flat_gx @ w_ih).view_as(x)
        grad_w_ih = flat_gx.t() @ x.reshape(steps * n, -1)
        grad_w_hh = flat_gh.t() @ prev.view(steps * n, hidden)
        return grad_x, carry, None, grad_w_ih, grad_w_hh, flat_gx.sum(0), flat_gh.sum(0)


class _LSTMReplay(torch.autograd.Function):
    """torch's LSTM (gates i, f, g, o in its weight layout) over ``x [T, N, F]`` from ``(h0, c0)``, the state
    multiplied by ``keep [T, N, 1]`` before each step, with backpropagation through time written out."""

    @staticmethod
    def forward(ctx, x, h0, c0, keep, w_ih, w_hh, b_ih, b_hh):
        steps, n, hidden = x.shape[0], x.shape[1], h0.shape[-1]
        gx = torch.addmm(b_ih + b_hh, x.reshape(steps * n, -1), w_ih.t()).view(steps, n, 4 * hidden)
        prev_h = x.new_empty(steps, n, hidden)
        prev_c = x.new_empty(steps, n, hidden)
        acts = x.new_empty(steps, n, 4 * hidden)  # i, f, g, o after their nonlinearities
        tanh_c = x.new_empty(steps, n, hidden)
        out = x.new_empty(steps, n, hidden)
        h, c = h0, c0
        for t in range(steps):
            h = prev_h[t] = h * keep[t]
            c = prev_c[t] = c * keep[t]
            g = torch.addmm(gx[t], h, w_hh.t())
            a = acts[t]
            torch.sigmoid(g, out=a)
            torch.tanh(g[:, 2 * hidden : 3 * hidden], out=a[:, 2 * hidden : 3 * hidden])
            i, f, gg, o = a.split(hidden, dim=-1)
            c = torch.addcmul(f * c, i, gg)
            tc = tanh_c[t] = torch.tanh(c)
            h = out[t] = o * tc
        ctx.save_for_backward(x, keep, w_ih, w_hh, prev_h, prev_c, acts, tanh_c)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, keep, w_ih, w_hh, prev_h, prev_c, acts, tanh_c = ctx.saved_tensors
        steps, n, hidden = prev_h.shape
        i, f, g, o = acts.split(hidden, dim=-1)
        to_c = o * (1 - tanh_c * tanh_c)
        # a gradient on c becomes the gradients of i, f and g's inputs; one on h, that of o's
        to_ifg = torch.stack((g * i * (1 - i), prev_c * f * (1 - f), i * (1 - g * g)), dim=-2)  # [T, N, 3, H]
        to_o = tanh_c * o * (1 - o)
        forget = f * keep
        d_gates = x.new_empty(steps, n, 4 * hidden)
        carry_h = torch.zeros_like(prev_h[0])
        carry_c = torch.zeros_like(prev_h[0])
        for t in reversed(range(steps)):
            dh = grad_out[t] + carry_h
            dc = torch.addcmul(carry_c, dh, to_c[t])
            d = d_gates[t]
            torch.mul(dc[:, None], to_ifg[t], out=d[:, : 3 * hidden].view(n, 3, hidden))
            torch.mul(dh, to_o[t], out=d[:, 3 * hidden :])
            carry_h = (d @ w_hh) * keep[t]
            carry_c = dc * forget[t]
        flat = d_gates.view(steps * n, -1)
        grad_x = (flat @ w_ih).view_as(x)
        grad_w_ih = flat.t() @ x.reshape(steps * n, -1)
        grad_w_hh = flat.t() @ prev_h.view(steps * n, hidden)
        grad_b = flat.sum(0)
        return grad_x, carry_h, carry_c, None, grad_w_ih, grad_w_hh, grad_b, grad_b


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
