"""Budgeted attacks on discrete observations: change at most ``k`` parts of each view to make the policy drop
the action it would take on the clean view.

What may change (every attacked view is one the game could show):

* **one-hot views** (maze views, arena grid views): a cell, as :func:`~mazearena.agents.explain.cell_changes`
  reads it differently: a cell that shows a tile (an arena cell that shows anything) becomes floor, a floor cell
  becomes wall. The agent's own planes and its own cell are never changed.
* **entity tokens** (arena ``tokens`` views): an entity is hidden (its mask cleared, its features zeroed), as
  ``obs_dropout`` and ``watch --explain`` hide it. The observer's own token never is.

**Greedy exact search** (:func:`greedy_search`): at each of ``k`` rounds every allowed single change of the
current view is scored by batched forward passes, and the one that most lowers the probability of the clean
action is kept, if it lowers it at all (so "at most k"). For ``k = 1`` this is the exact optimum; for larger
``k`` it is the greedy approximation of the exact search over all ``k``-subsets (49 choose 4 is about 212,000
forward passes per 7x7 view, greedy needs 4 x 49). No gradient is used: the inputs are discrete, and a gradient
only ranks candidate changes, which the exhaustive round does exactly. The control is :func:`random_changes`,
the same budget spent on changes drawn at random.

In an arena every agent of the team is attacked, each on its own view against its own clean action; the
candidates of all agents are scored together, one team forward pass per candidate (the team's actors read
their own agent's view only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mazearena.actor import Actor, State, index_state, map_tensors, repeat_state
from mazearena.agents.explain import cell_changes
from mazearena.checks import UserError

Obs = torch.Tensor | dict[str, torch.Tensor]
Scores = Callable[[Obs, slice], torch.Tensor]
"""``scores(candidates, games)``: logits ``[G, M, actions]`` of ``M`` candidate views of each of the ``G`` rows
``games`` (a slice of the batch) of the attacked observation; a recurrent policy reads each row's candidates from
that row's memory."""


def _rows(obs: Obs) -> int:
    return len(next(iter(obs.values())) if isinstance(obs, dict) else obs)


def _take(variants: Obs, choice: torch.Tensor, where: torch.Tensor, current: Obs) -> Obs:
    """``current`` with each row where ``where`` replaced by its candidate ``choice`` of ``variants [B, M, ...]``."""
    rows = torch.arange(len(choice), device=choice.device)
    return map_tensors(
        lambda v, x: torch.where(where.view(-1, *[1] * (x.dim() - 1)), v[rows, choice], x), variants, current
    )


def greedy_search(
    scores: Scores,
    obs: Obs,
    k: int,
    changes: Callable[[Obs], Obs],
    allowed: torch.Tensor,
    group: int = 1,
    views_per_call: int = 1024,
) -> Obs:
    """``obs`` (``[B, ...]``, or a dict of such batches) with at most ``k`` changes each, chosen greedily to
    minimise the probability of the action the policy ranks first on the clean view. ``changes(current)`` gives
    the ``M`` single changes of each row, ``[B, M, ...]``; ``allowed [B, M]`` says which may be made. Candidates
    are scored ``group`` rows at a time or a multiple of it (the agents of one game), about ``views_per_call``
    views a call (one call for all of them allocated so much at once that it ran 1.4-1.8x slower on 256 games).
    ``k = 0`` returns ``obs`` itself."""
    if k <= 0:
        return obs
    b, m = allowed.shape
    with torch.no_grad():
        clean = torch.softmax(scores(map_tensors(lambda x: x[:, None], obs), slice(0, b))[:, 0].float(), -1)
        target = clean.argmax(-1)  # [B]: the action the policy ranks first on the clean view
        best_p = clean.gather(1, target[:, None])[:, 0]
        current, allowed = obs, allowed.clone()
        rows = torch.arange(b, device=allowed.device)
        chunk = max(group, views_per_call // m // group * group)
        for _ in range(k):
            variants = changes(current)
            logits = torch.cat(
                [
                    scores(map_tensors(lambda x, i=i: x[i : i + chunk], variants), slice(i, min(i + chunk, b)))
                    for i in range(0, b, chunk)
                ]
            )
            p = torch.softmax(logits.float(), -1)  # [B, M, actions]
            p = p.gather(2, target[:, None, None].expand(-1, m, 1))[..., 0]  # [B, M]
            p = torch.where(allowed, p, torch.inf)
            value, choice = p.min(1)
            better = value < best_p
            current = _take(variants, choice, better, current)
            allowed[rows[better], choice[better]] = False  # a part is changed once
            best_p = torch.where(better, value, best_p)
        return current


def random_changes(
    obs: Obs, k: int, changes: Callable[[Obs], Obs], allowed: torch.Tensor, generator: torch.Generator
) -> Obs:
    """The control of :func:`greedy_search`: ``k`` distinct allowed changes of each row drawn at random (with
    ``generator``; fewer where fewer are allowed)."""
    if k <= 0:
        return obs
    b, m = allowed.shape
    keys = torch.rand(b, m, generator=generator, device=allowed.device).masked_fill(~allowed, 2.0)
    chosen = keys.argsort(1)[:, :k]  # [B, k]
    usable = keys.gather(1, chosen) < 2.0
    current = obs
    for j in range(chosen.shape[1]):
        current = _take(changes(current), chosen[:, j], usable[:, j], current)
    return current


def _allowed(obs: torch.Tensor, protect: torch.Tensor | None) -> torch.Tensor:
    """``[B, H * W]``: the cells an attack may change (all but the protected ones: ``[H, W]`` for every view, or
    ``[B, H, W]`` view by view)."""
    b, _, h, w = obs.shape
    allowed = torch.ones(b, h * w, dtype=torch.bool, device=obs.device)
    if protect is not None:
        allowed &= ~protect.to(obs.device).reshape(-1, h * w)
    return allowed


def greedy_attack(
    scores: Scores,
    obs: torch.Tensor,
    k: int,
    tile_planes: int,
    wall_plane: int,
    protect: torch.Tensor | None = None,
    group: int = 1,
    views_per_call: int = 1024,
) -> torch.Tensor:
    """:func:`greedy_search` over the cells of one-hot views ``obs [B, C, H, W]`` (the first ``tile_planes``
    planes the tiles'); ``protect`` marks cells never changed."""
    return greedy_search(
        scores,
        obs,
        k,
        lambda current: cell_changes(current, tile_planes, wall_plane),
        _allowed(obs, protect),
        group,
        views_per_call,
    )


def random_flips(
    obs: torch.Tensor,
    k: int,
    tile_planes: int,
    wall_plane: int,
    generator: torch.Generator,
    protect: torch.Tensor | None = None,
) -> torch.Tensor:
    """The control of :func:`greedy_attack`: ``k`` distinct allowed cells of each view drawn at random and changed
    the same way."""
    return random_changes(
        obs, k, lambda current: cell_changes(current, tile_planes, wall_plane), _allowed(obs, protect), generator
    )


def hide_changes(obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``[B, K, ...]``: each entity-token view ``obs`` (``tokens [B, K, F]``, ``mask [B, K]``) with one entity
    hidden, entity by entity (its mask cleared and its features zeroed)."""
    tokens, mask = obs["tokens"], obs["mask"]
    k = mask.shape[-1]
    keep = ~torch.eye(k, dtype=torch.bool, device=mask.device)  # [candidate, entity]
    out = {key: v[:, None].expand(-1, k, *v.shape[1:]) for key, v in obs.items()}
    out["tokens"] = tokens[:, None] * keep[None, :, :, None].to(tokens.dtype)
    out["mask"] = mask[:, None] & keep if mask.dtype == torch.bool else mask[:, None] * keep.to(mask.dtype)
    return out


@dataclass(frozen=True)
class AttackTarget:
    """What an attack may change in an env's observations: ``planes`` (one-hot views channels first: the first
    ``tile_planes`` planes are read as tiles, ``wall`` is the wall plane, the agent stands where ``protect`` (a
    plane) is lit) or ``tokens`` (entities hidden; the ``protect`` feature marks the observer's own token).
    ``agents``: observations are ``[games, agents, ...]`` (arenas)."""

    form: str
    protect: int
    tile_planes: int = 0
    wall: int = 0
    agents: bool = False

    def changes(self, obs: Obs) -> Obs:
        if self.form == "tokens":
            return hide_changes(obs)
        return cell_changes(obs, self.tile_planes, self.wall)

    def allowed(self, obs: Obs) -> torch.Tensor:
        """``[B, M]``: the changes an attack may make to each (flat) view."""
        if self.form == "tokens":
            return obs["mask"].bool() & (obs["tokens"][..., self.protect] == 0)
        return _allowed(obs, obs[:, self.protect].bool())


def attack_target(env, name: str = "attack_obs") -> AttackTarget:
    """The :class:`AttackTarget` of a mazearena vector env's observations (``env.config``), or an error naming
    ``name`` and what it needs."""
    from mazearena.envs.engine.arena import ArenaObsMode
    from mazearena.envs.engine.cells import ARENA_CHANNELS, TOKEN_FEATURES
    from mazearena.envs.engine.maze import MazeObsMode

    config = env.config
    channels_last = (config.obs_layout or config.native_layout) == "hwc"
    obs_mode = getattr(config, "obs_mode", None)
    if obs_mode in (ArenaObsMode.GRID, ArenaObsMode.TOKENS):
        if obs_mode is ArenaObsMode.TOKENS:
            return AttackTarget("tokens", TOKEN_FEATURES.index("self"), agents=True)
        if channels_last:
            raise UserError(f"perturbation {name} changes the cells of one-hot views, channels first (obs_layout)")
        return AttackTarget(
            "planes", ARENA_CHANNELS.index("self"), len(ARENA_CHANNELS), ARENA_CHANNELS.index("wall"), agents=True
        )
    if obs_mode not in (MazeObsMode.PARTIAL, MazeObsMode.FULL) or channels_last:
        raise UserError(
            f"perturbation {name} changes the cells of one-hot views, channels first (mazes: obs_mode partial or "
            "full), or hides arena entity tokens (arenas: obs_mode grid or tokens, not both)"
        )
    channels = env.unwrapped.engine.channels
    return AttackTarget("planes", channels.index("agent"), len(channels) - 3, channels.index("wall"))


class AttackedActor(Actor):
    """An actor whose views pass an adversary first: ``attack_obs`` (:func:`greedy_search`, reading the actor's
    own logits and memory) or ``flip_obs`` (:func:`random_changes`, the control), ``k`` changes a view, for the
    observations ``target`` describes (:func:`attack_target`). In an arena every agent of the team is attacked."""

    def __init__(self, actor, kind: str, k: int, target: AttackTarget, generator: torch.Generator) -> None:
        if kind not in ("attack_obs", "flip_obs"):
            raise ValueError(f"kind must be attack_obs or flip_obs, got {kind!r}")
        if kind == "attack_obs" and not hasattr(actor, "logits"):
            raise UserError(f"attack_obs reads the policy's logits; a {type(actor).__name__} gives none")
        self.actor, self.kind, self.k, self.target, self.generator = actor, kind, int(k), target, generator

    def initial_state(self, games: int, device) -> State:
        return self.actor.initial_state(games, device)

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        return self.actor.act(self.attack(obs, state, alive), state, alive)

    def attack(self, obs, state: State, alive: torch.Tensor | None = None):
        """The views the actor is shown instead of ``obs``."""
        target = self.target
        agents = _rows(map_tensors(lambda x: x[0], obs)) if target.agents else 1
        flat = map_tensors(lambda x: x.flatten(0, 1), obs) if target.agents else obs
        allowed = target.allowed(flat)
        if self.kind == "flip_obs":
            seen = random_changes(flat, self.k, target.changes, allowed, self.generator)
        else:
            seen = greedy_search(self._scores(state, alive, agents), flat, self.k, target.changes, allowed, agents)
        return map_tensors(lambda x: x.view(-1, agents, *x.shape[1:]), seen) if target.agents else seen

    def _scores(self, state: State, alive: torch.Tensor | None, agents: int) -> Scores:
        actor = self.actor
        if not self.target.agents:

            def scores(views, rows: slice) -> torch.Tensor:
                b, m = _rows(views), _rows(map_tensors(lambda x: x[0], views))
                memory = repeat_state(index_state(state, rows), m)  # each game's candidates from its memory
                return actor.logits(map_tensors(lambda x: x.flatten(0, 1), views), memory).view(b, m, -1)

            return scores

        def team_scores(views, rows: slice) -> torch.Tensor:
            # views [G * agents, M, ...] -> the team's [G * M, agents, ...]: candidate j of every agent together
            g, m = _rows(views) // agents, _rows(map_tensors(lambda x: x[0], views))
            team = map_tensors(
                lambda x: x.view(g, agents, m, *x.shape[2:]).transpose(1, 2).reshape(g * m, agents, *x.shape[2:]),
                views,
            )
            games = slice(rows.start // agents, rows.stop // agents)
            memory = repeat_state(index_state(state, games), m)
            logits = actor.logits(team, memory, alive[games].repeat_interleave(m, 0))  # [G * M, agents, actions]
            return logits.view(g, m, agents, -1).transpose(1, 2).reshape(g * agents, m, -1)

        return team_scores
