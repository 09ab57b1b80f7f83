"""Scripted teams in a scenario's focal seats: how well a team of :class:`~mazearena.envs.npcs.NpcSpec` plays it.

``play_scripted("ctf_3v2_vs_guard_and_runner_heldout")`` plays the scenario's own scripted team (its
``scripted`` field, the baseline a learned team is measured against) on unseen arenas; ``team=`` puts any other
behaviours in those seats (a random team, the suite's NPCs...). Games run batched, as the vector env does, and
each game's outcome is kept: who won, the score, the length and whether a team reached the end of the game
(``decided``) or time ran out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from mazearena.envs.npcs import NpcController, NpcSpec
from mazearena.envs.scenarios import scenario as find


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
    """``games`` games of ``scenario`` with ``team`` (default: the scenario's ``scripted`` team) in its focal
    seats, game i seeded ``seed + i``, on arenas from ``start_level`` (default: unseen ones; ``num_levels``: how
    many, 0 = unlimited). ``options`` are further arena options (``max_cycles``...).

    Returns per-game arrays: ``winner`` (0 red, 1 blue, -1 draw), ``score`` ``[games, 2]``, ``length`` and
    ``decided`` (the game ended before ``max_cycles``)."""
    from mazearena.envs.arena import ArenaVectorEnv

    sc = find(scenario)
    team = dict(sc.scripted if team is None else team)
    if not team:
        raise ValueError(f"scenario {scenario!r} has no scripted team; pass team={{agent: NpcSpec(...)}}")
    env = ArenaVectorEnv(games, seed=seed, scenario=scenario, num_levels=num_levels, start_level=start_level, **options)
    if backend != "auto":
        env.engine.backend = backend
    seats = env.possible_agents
    if sorted(team) != sorted(seats):
        raise ValueError(f"team must name exactly the focal agents of {scenario!r}: {seats}, got {sorted(team)}")
    env.reset()
    controller = NpcController(env.engine, {env.config.agent_names.index(name): team[name] for name in seats})
    winner = np.full(games, -2)
    score = np.zeros((games, 2), dtype=np.int64)
    length = np.zeros(games, dtype=np.int64)
    max_cycles = env.config.max_cycles
    while (winner == -2).any():
        actions, _ = controller.act()
        _, _, terminated, truncated, info = env.step(actions)
        done = (info["_final_obs"] & (torch.from_numpy(winner) == -2)).numpy()
        if done.any():
            winner[done] = info["winner"].numpy()[done]
            score[done] = info["score"].numpy()[done]
            length[done] = info["episode_length"].numpy()[done]
    return {"winner": winner, "score": score, "length": length, "decided": length < max_cycles}
