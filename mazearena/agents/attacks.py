"""Budgeted attacks on one-hot observations: change at most ``k`` cells of each view to make the policy drop the
action it would take on the clean view.

The changes allowed are those of :func:`~mazearena.agents.explain.cell_changes`: a cell that shows a tile
becomes floor, a floor cell becomes wall; the agent's own planes and (``protect``) its own cell are never
changed, so an attacked view is always one the game could show (the agent never stands in a wall).

**Greedy exact search**: at each of ``k`` rounds every allowed single change of the current view is scored by
one batched forward pass, and the one that most lowers the probability of the clean action is kept, if it
lowers it at all (so "at most k"). For ``k = 1`` this is the exact optimum; for larger ``k`` it is the greedy
approximation of the exact search over all ``k``-subsets (49 choose 4 is about 212,000 forward passes per view,
greedy needs 4 x 49). No gradient is used: one-hot inputs are discrete, and a gradient only ranks candidate
flips, which the exhaustive round does exactly. The control is :func:`random_flips`, the same budget spent on
cells drawn at random.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mazearena.agents.explain import cell_changes


def _allowed(obs: torch.Tensor, protect: torch.Tensor | None) -> torch.Tensor:
    """``[B, H * W]``: the cells an attack may change (all but the protected ones)."""
    b, _, h, w = obs.shape
    allowed = torch.ones(b, h * w, dtype=torch.bool, device=obs.device)
    if protect is not None:
        allowed &= ~protect.to(obs.device).reshape(1, h * w)
    return allowed


def greedy_attack(
    scores: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    k: int,
    tile_planes: int,
    wall_plane: int,
    protect: torch.Tensor | None = None,
    chunk: int = 8192,
) -> torch.Tensor:
    """Views ``obs [B, C, H, W]`` with at most ``k`` cells changed each, chosen greedily to minimise the
    probability of the action ``scores`` (logits ``[N, actions]`` of a batch of views) ranks first on the clean
    view; ``protect [H, W]`` marks cells never changed. ``k = 0`` returns ``obs`` itself."""
    if k <= 0:
        return obs
    b, _, h, w = obs.shape
    with torch.no_grad():
        target = scores(obs).argmax(-1)  # [B]
        current = obs.clone()
        best_p = torch.softmax(scores(current).float(), -1).gather(1, target[:, None])[:, 0]
        allowed = _allowed(obs, protect)
        rows = torch.arange(b, device=obs.device)
        for _ in range(k):
            variants = cell_changes(current, tile_planes, wall_plane)  # [B, H * W, C, H, W]
            flat = variants.reshape(b * h * w, *obs.shape[1:])
            logits = torch.cat([scores(flat[i : i + chunk]) for i in range(0, len(flat), chunk)])
            p = torch.softmax(logits.float(), -1).view(b, h * w, -1)
            p = p.gather(2, target[:, None, None].expand(-1, h * w, 1))[..., 0]  # [B, H * W]
            p = torch.where(allowed, p, torch.inf)
            value, cell = p.min(1)
            better = value < best_p
            current = torch.where(better.view(b, 1, 1, 1), variants[rows, cell], current)
            allowed[rows[better], cell[better]] = False  # a cell is changed once
            best_p = torch.where(better, value, best_p)
        return current


def random_flips(
    obs: torch.Tensor,
    k: int,
    tile_planes: int,
    wall_plane: int,
    generator: torch.Generator,
    protect: torch.Tensor | None = None,
) -> torch.Tensor:
    """The control of :func:`greedy_attack`: ``k`` distinct allowed cells of each view drawn at random (with
    ``generator``) and changed the same way."""
    if k <= 0:
        return obs
    b, _, h, w = obs.shape
    allowed = _allowed(obs, protect)
    keys = torch.rand(b, h * w, generator=generator, device=obs.device).masked_fill(~allowed, 2.0)
    chosen = keys.argsort(1)[:, :k]  # [B, k]
    current = obs
    rows = torch.arange(b, device=obs.device)
    for j in range(chosen.shape[1]):
        current = cell_changes(current, tile_planes, wall_plane)[rows, chosen[:, j]]
    return current
