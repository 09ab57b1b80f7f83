"""Reference agents that need no training: a BFS solver (privileged: it reads the engine's state) and a
uniform random policy, both acting on a whole :class:`~mazearena.envs.vector.MazeVectorEnv` batch at once; and
scripted teams in an arena scenario's focal seats (:func:`play_scripted`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from mazearena.envs.engine.common import UNREACHABLE
from mazearena.envs.engine.grid import HEADING_DELTAS
from mazearena.envs.engine.layouts import distance_to_goal
from mazearena.envs.engine.maze import ActionSet, MazeEngine
from mazearena.envs.npcs import NpcController, NpcSpec


class SolverPolicy:
    """Walks a shortest path to the goal (via the key when there is a door). Optimal, so it bounds what a
    learned agent can reach; distance maps are computed once per episode, for the games that just began."""

    def __init__(self, engine: MazeEngine) -> None:
        self.engine = engine
        n, s = engine.num_envs, engine.config.size
        self.episode = torch.full((n,), -1, dtype=torch.long, device=engine.device)
        self.seed = torch.zeros(n, dtype=torch.long, device=engine.device)
        self.dist = torch.zeros(n, 2, s + 2, s + 2, dtype=torch.long, device=engine.device)

    def _refresh(self) -> None:
        e = self.engine
        stale = ((self.episode != e.episodes) | (self.seed != e.seeds)).nonzero().squeeze(1)
        if len(stale) == 0:
            return
        s, p = e.config.size, e.pad
        without_key, with_key = distance_to_goal(self.goals(e.grid[stale, p : p + s, p : p + s]))
        d = torch.stack([without_key, with_key], 1)
        self.dist[stale] = torch.nn.functional.pad(d, (1, 1, 1, 1), value=UNREACHABLE)
        self.episode[stale], self.seed[stale] = e.episodes[stale], e.seeds[stale]

    def goals(self, grid: torch.Tensor) -> torch.Tensor:
        """The grids ``[n, S, S]`` of the games that just began, as the solver reads them: where it walks to
        are their success tiles (a subclass may move them)."""
        return grid

    def __call__(self) -> torch.Tensor:
        self._refresh()
        e = self.engine
        rows = torch.arange(e.num_envs, device=e.device)
        d = self.dist[rows, e.has_key.long()]  # [n, s+2, s+2], padded by one
        nbr = e.pos[:, None, :] + 1 + HEADING_DELTAS.to(e.device)[None]  # [n, 4, 2]
        values = d[rows[:, None], nbr[..., 0], nbr[..., 1]]
        best = values.argmin(1)
        if e.config.actions is ActionSet.CARDINAL:
            return best
        # Turn actions: face the best heading first, then go forward.
        diff = (best - e.heading) % 4
        return torch.where(diff == 0, 2, torch.where(diff == 3, 0, 1))


class RandomPolicy:
    """Uniform random actions from a seeded torch generator."""

    def __init__(self, engine: MazeEngine, seed: int = 0) -> None:
        self.engine = engine
        self.generator = torch.Generator(device=engine.device).manual_seed(seed)

    def __call__(self) -> torch.Tensor:
        e = self.engine
        return torch.randint(0, e.config.num_actions, (e.num_envs,), generator=self.generator, device=e.device)


def play_scripted(
    scenario: str,
    team: Mapping[str, NpcSpec] | None = None,
    games: int = 256,
    seed: int = 0,
    start_level: int = 1_000_000,
    num_levels: int = 0,
    backend: str = "auto",
    **options,
) -> dict[str, np.ndarray]:
    """How well a scripted team plays ``scenario``: ``games`` games with ``team`` (default: the scenario's
    ``scripted`` team, the baseline a learned team is measured against) in its focal seats, game i seeded
    ``seed + i``, on arenas from ``start_level`` (default: unseen ones; ``num_levels``: how many, 0 =
    unlimited); ``options`` are further arena options (``max_cycles``, ``size``...).

    Returns :func:`~mazearena.agents.episodes.play_games`' records as arrays (``winner``: 0 red, 1 blue, -1
    draw; ``truncated``: ran to ``max_cycles``; capture the flag adds the score and each agent's tallies)."""
    from mazearena.agents.episodes import play_games
    from mazearena.envs.arena import ArenaVectorEnv
    from mazearena.envs.scenarios import scenario as find

    found = find(scenario)
    team = dict(found.scripted if team is None else team)
    if not team:
        raise ValueError(f"scenario {scenario!r} has no scripted team; pass team={{agent: NpcSpec(...)}}")
    env = ArenaVectorEnv(games, seed=seed, scenario=scenario, num_levels=num_levels, start_level=start_level, **options)
    if backend != "auto":
        env.engine.backend = backend
    seats = env.possible_agents
    if sorted(team) != sorted(seats):
        raise ValueError(f"team must name exactly the focal agents of {scenario!r}: {seats}, got {sorted(team)}")
    records = play_games(env, scripted_team(env, team), games, found.arena_config().team_of(seats[0]))
    return {k: np.asarray(v) for k, v in records.items()}


def scripted_team(env, team: Mapping[str, NpcSpec]) -> NpcController:
    """The scripted behaviours ``team`` (by agent name) as the actor of those agents of ``env``, an arena vector
    env or a wrapper of one (it reads the engine, not observations): actions ``[games, len(team)]`` in the order
    of the agents in the arena."""
    names = env.config.agent_names
    unknown = sorted(set(team) - set(names))
    if unknown:
        raise ValueError(f"scripted team names {unknown}, not agents of this arena {list(names)}")
    return NpcController(env.engine, {names.index(a): spec for a, spec in team.items()})


def seat_team(specs: Mapping[str, NpcSpec], config, team: int) -> dict[str, NpcSpec]:
    """A scripted team written for one side's seats (``red_0``...) moved to ``team``'s seats (0 red, 1 blue) of
    the arena ``config``, seat for seat."""
    seats = [a for a in config.agent_names if config.team_of(a) == team]
    ordered = sorted(specs, key=lambda a: config.index_in_team(a))
    if len(ordered) != len(seats):
        raise ValueError(f"a scripted team of {len(ordered)} cannot play a side of {len(seats)}")
    return {seat: specs[a] for seat, a in zip(seats, ordered, strict=True)}


@dataclass
class ScriptedPlayer:
    """A scripted team as a player of :func:`cross_play`: ``specs`` by the seats of one side (``red_0``...),
    played on whichever side it is given."""

    specs: dict[str, NpcSpec]

    def actor(self, envs, team: int) -> NpcController:
        return scripted_team(envs, seat_team(self.specs, envs.config, team))
