"""Statistics against known cases: intervals at the edges, IQM, optimality gap, probability of improvement,
bootstrap intervals reproducible with a seed and leaving the global RNG alone."""

import numpy as np
import pytest

from mazearena.stats.metrics import (
    aggregate_with_ci,
    bootstrap_mean_ci,
    clopper_pearson_interval,
    iqm,
    optimality_gap,
    probability_of_improvement,
    stratified_bootstrap_ci,
    wilson_interval,
)


@pytest.mark.parametrize("interval", [wilson_interval, clopper_pearson_interval])
def test_success_intervals_are_honest_at_the_edges(interval):
    low, high = interval(50, 50)  # a perfect score over 50 episodes still leaves doubt
    assert 0.9 < low < 1.0 and high == 1.0
    low, high = interval(0, 50)
    assert low == 0.0 and 0.0 < high < 0.1
    low, high = interval(25, 50)
    assert low < 0.5 < high
    assert interval(0, 0) == (0.0, 1.0)


def test_clopper_pearson_is_the_exact_beta_interval():
    assert clopper_pearson_interval(50, 50)[0] == pytest.approx(0.025 ** (1 / 50))  # (alpha/2)^(1/n)


def test_iqm_and_optimality_gap_of_known_arrays():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # the middle half: 3, 4, 5, 6
    assert iqm([[0.0, 100.0], [1.0, 2.0]]) == pytest.approx(1.5)  # over runs and tasks together
    assert optimality_gap([0.5, 1.0, 1.2]) == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match="non-empty"):
        iqm([])
    with pytest.raises(ValueError, match="finite"):
        iqm([1.0, float("nan")])


def test_probability_of_improvement():
    better, worse = np.ones((3, 2)), np.zeros((4, 2))
    assert probability_of_improvement(better, worse) == 1.0
    assert probability_of_improvement(worse, better) == 0.0
    assert probability_of_improvement(better, better) == 0.5
    assert probability_of_improvement([[1.0], [3.0]], [[2.0], [2.0]]) == 0.5
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(np.ones((3, 2)), np.ones((3, 3)))


def test_bootstrap_intervals_are_seeded_cover_the_estimate_and_leave_the_global_rng_alone():
    rng = np.random.default_rng(1)
    scores = rng.random((10, 4))
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = stratified_bootstrap_ci(scores, iqm, reps=300, seed=7)
    assert np.random.random() == before  # the global numpy RNG did not move
    assert first == stratified_bootstrap_ci(scores, iqm, reps=300, seed=7)
    assert first != stratified_bootstrap_ci(scores, iqm, reps=300, seed=8)
    summary = aggregate_with_ci(scores, reps=300)
    for name in ("mean", "median", "iqm", "optimality_gap"):
        assert summary[name]["low"] <= summary[name]["value"] <= summary[name]["high"]
    low, high = bootstrap_mean_ci(rng.normal(3.0, 1.0, 200), reps=500)
    assert low < 3.0 < high and high - low < 0.6
    assert bootstrap_mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_mean_ci([1.0])


def test_probability_of_improvement_interval_is_seeded_and_brackets_the_estimate():
    from mazearena.stats.metrics import probability_of_improvement_ci

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.4, 1.0, (5, 3)), rng.uniform(0.0, 0.8, (5, 3))
    low, high = probability_of_improvement_ci(x, y, seed=1)
    assert (low, high) == probability_of_improvement_ci(x, y, seed=1)
    assert low <= probability_of_improvement(x, y) <= high and high - low > 0.05
    assert probability_of_improvement_ci(x + 2, y, seed=1) == (1.0, 1.0)  # every run better on every task
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement_ci(x, y[:, :2])
