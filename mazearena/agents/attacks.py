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

from mazearena.agents.actor import Actor, State, repeat_state
from mazearena.agents.explain import cell_changes


def _allowed(obs: torch.Tensor, protect: torch.Tensor | None) -> torch.Tensor:
    """``[B, H * W]``: the cells an attack may change (all but the protected ones: ``[H, W]`` for every view, or
    ``[B, H, W]`` view by view)."""
    b, _, h, w = obs.shape
    allowed = torch.ones(b, h * w, dtype=torch.bool, device=obs.device)
    if protect is not None:
        allowed &= ~protect.to(obs.device).reshape(-1, h * w)
    return allowed


def greedy_attack(
    scores: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    k: int,
    tile_planes: int,
    wall_plane: int,
    protect: torch.Tensor | None = None,
    views_per_call: int = 1024,
) -> torch.Tensor:
    """Views ``obs [B, C, H, W]`` with at most ``k`` cells changed each, chosen greedily to minimise the
    probability of the action the policy ranks first on the clean view. ``scores(views [B, M, C, H, W])`` gives
    the logits ``[B, M, actions]`` of ``M`` candidate views of each of the ``B`` games (a recurrent policy reads
    each game's candidates from that game's memory). ``protect`` marks cells never changed. ``k = 0`` returns
    ``obs`` itself. Candidates are scored whole games at a time, about ``views_per_call`` views a call (one
    call for all of them allocated so much at once that it ran 1.4-1.8x slower on 256 games)."""
    if k <= 0:
        return obs
    b, _, h, w = obs.shape
    with torch.no_grad():
        clean = torch.softmax(scores(obs[:, None])[:, 0].float(), -1)
        target = clean.argmax(-1)  # [B]: the action the policy ranks first on the clean view
        best_p = clean.gather(1, target[:, None])[:, 0]
        current = obs.clone()
        allowed = _allowed(obs, protect)
        rows = torch.arange(b, device=obs.device)
        for _ in range(k):
            variants = cell_changes(current, tile_planes, wall_plane)  # [B, H * W, C, H, W]
            games = max(1, views_per_call // (h * w))
            logits = torch.cat([scores(variants[i : i + games]) for i in range(0, b, games)])
            p = torch.softmax(logits.float(), -1)  # [B, H * W, actions]
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


class AttackedActor(Actor):
    """A maze actor whose views pass an adversary first: ``attack_obs`` (:func:`greedy_attack`, reading the
    actor's own logits and memory) or ``flip_obs`` (:func:`random_flips`, the control), ``k`` cells a view. The
    agent's cell (its ``agent`` plane) is never changed."""

    def __init__(self, actor, kind: str, k: int, channels: tuple[str, ...], generator: torch.Generator) -> None:
        if kind not in ("attack_obs", "flip_obs"):
            raise ValueError(f"kind must be attack_obs or flip_obs, got {kind!r}")
        if kind == "attack_obs" and not hasattr(actor, "logits"):
            raise ValueError(f"attack_obs reads the policy's logits; a {type(actor).__name__} gives none")
        self.actor, self.kind, self.k, self.generator = actor, kind, int(k), generator
        self.tile_planes = len(channels) - 3  # the tiles' planes, then agent, facing, has_key
        self.wall, self.agent = channels.index("wall"), channels.index("agent")

    def initial_state(self, games: int, device) -> State:
        return self.actor.initial_state(games, device)

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        protect = obs[:, self.agent].bool()
        if self.kind == "flip_obs":
            seen = random_flips(obs, self.k, self.tile_planes, self.wall, self.generator, protect)
        else:

            def scores(views: torch.Tensor) -> torch.Tensor:
                b, m = views.shape[:2]
                memory = repeat_state(state, m)  # each game's candidates read from that game's memory
                return self.actor.logits(views.flatten(0, 1), memory).view(b, m, -1)

            seen = greedy_attack(scores, obs, self.k, self.tile_planes, self.wall, protect)
        return self.actor.act(seen, state, alive)
