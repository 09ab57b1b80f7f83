"""Skill ratings of players (checkpoints, methods, league snapshots) from the games they played against each
other, with openskill's Plackett–Luce model (a maintained TrueSkill-like Bayesian rating).

Sequential rating updates depend on the order of the games, so the games are played through in a seeded
random order several times and the ratings averaged; the interval of a rating is ``mu ± 1.96 sigma``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mazearena.checks import require


def rate_games(
    players: Sequence[str], games: Sequence[tuple[int, int, float]], orders: int = 8, seed: int = 0
) -> list[dict[str, float]]:
    """Ratings of ``players`` from ``games``: ``(i, j, score)`` with score 1 when player i won, 0.5 a draw, 0
    when player j won. Returns per player ``name``, ``mu``, ``sigma``, ``low``, ``high`` (95%) and
    ``games``; averaged over ``orders`` seeded shuffles of the games (the global RNG is left alone)."""
    PlackettLuce = require("openskill.models").PlackettLuce  # noqa: N806

    n = len(players)
    for i, j, score in games:
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"game ({i}, {j}) must name two different players of {n}")
        if score not in (0, 0.5, 1):
            raise ValueError(f"game score must be 1 (first won), 0.5 (draw) or 0 (second won), got {score!r}")
    if orders < 1:
        raise ValueError(f"orders must be >= 1, got {orders}")
    model = PlackettLuce()
    rng = np.random.default_rng(seed)
    mus, sigmas = np.zeros((orders, n)), np.zeros((orders, n))
    for k in range(orders):
        ratings = [model.rating(name=p) for p in players]
        for g in rng.permutation(len(games)):
            i, j, score = games[g]
            ranks = [1, 1] if score == 0.5 else ([1, 2] if score == 1 else [2, 1])
            [[ratings[i]], [ratings[j]]] = model.rate([[ratings[i]], [ratings[j]]], ranks=ranks)
        mus[k] = [r.mu for r in ratings]
        sigmas[k] = [r.sigma for r in ratings]
    played = np.zeros(n, dtype=int)
    for i, j, _ in games:
        played[i] += 1
        played[j] += 1
    mu, sigma = mus.mean(0), sigmas.mean(0)
    return [
        {
            "name": p,
            "mu": float(mu[k]),
            "sigma": float(sigma[k]),
            "low": float(mu[k] - 1.96 * sigma[k]),
            "high": float(mu[k] + 1.96 * sigma[k]),
            "games": int(played[k]),
        }
        for k, p in enumerate(players)
    ]


def games_from_table(
    win: Sequence[Sequence[float | None]], draw: Sequence[Sequence[float | None]], games_per_pair: int
) -> list[tuple[int, int, float]]:
    """The games behind a win/draw table (``win[i][j]``: share of the pair's games i won; ``None`` on the
    diagonal), rounded to whole games; each pair counted once."""
    out = []
    for i in range(len(win)):
        for j in range(i + 1, len(win)):
            wins_i = round(win[i][j] * games_per_pair)
            wins_j = round(win[j][i] * games_per_pair)
            draws = games_per_pair - wins_i - wins_j
            out += [(i, j, 1.0)] * wins_i + [(i, j, 0.0)] * wins_j + [(i, j, 0.5)] * max(draws, 0)
    return out
