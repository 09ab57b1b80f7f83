"""Ratings from games: a stronger player rates higher, draws leave players level, intervals and counts,
seeded and order-fair, bad games named."""

import numpy as np
import pytest

from mazearena.stats.ratings import games_from_table, rate_games


def test_ratings_order_players_by_strength_and_draws_keep_them_level():
    games = [(0, 1, 0.0)] * 20 + [(1, 2, 0.0)] * 20 + [(0, 2, 0.0)] * 20  # 2 beats 1 beats 0
    r = rate_games(["weak", "middle", "strong"], games)
    assert r[0]["mu"] < r[1]["mu"] < r[2]["mu"] and r[0]["high"] < r[2]["low"]
    assert [x["games"] for x in r] == [40, 40, 40]
    level = rate_games(["a", "b"], [(0, 1, 0.5)] * 30)
    assert level[0]["mu"] == pytest.approx(level[1]["mu"])
    assert level[0]["sigma"] < rate_games(["a", "b"], [(0, 1, 0.5)])[0]["sigma"]  # more games, more certain


def test_ratings_are_seeded_and_leave_the_global_rng_alone():
    games = [(0, 1, 1.0), (0, 1, 0.0), (1, 2, 0.5), (0, 2, 1.0)] * 5
    np.random.seed(5)
    before = np.random.random()
    np.random.seed(5)
    first = rate_games(["a", "b", "c"], games, seed=3)
    assert np.random.random() == before
    assert first == rate_games(["a", "b", "c"], games, seed=3)


def test_games_from_a_win_draw_table_and_bad_games():
    win = [[None, 0.5, 0.25], [0.25, None, 0.0], [0.5, 1.0, None]]
    draw = [[None, 0.25, 0.25], [0.25, None, 0.0], [0.25, 0.0, None]]
    games = games_from_table(win, draw, 4)
    assert sorted(games) == sorted(
        [(0, 1, 1.0)] * 2
        + [(0, 1, 0.0)]
        + [(0, 1, 0.5)]
        + [(0, 2, 1.0)]
        + [(0, 2, 0.0)] * 2
        + [(0, 2, 0.5)]
        + [(1, 2, 0.0)] * 4
    )
    with pytest.raises(ValueError, match="two different players"):
        rate_games(["a", "b"], [(0, 0, 1.0)])
    with pytest.raises(ValueError, match="game score"):
        rate_games(["a", "b"], [(0, 1, 2.0)])
