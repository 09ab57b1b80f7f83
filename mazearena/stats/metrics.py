"""Statistics of evaluation results, with honest intervals."""

from __future__ import annotations

import math

import numpy as np

from mazearena.checks import require


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (sensible at 0 and 1, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval of a success rate: never narrower than it should be."""
    if n == 0:
        return 0.0, 1.0
    binomtest = require("scipy.stats").binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def _scores(scores) -> np.ndarray:
    """``[runs, tasks]`` float array (a 1-D array is one task), or an error naming the problem."""
    x = np.asarray(scores, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {np.shape(scores)}")
    if not np.isfinite(x).all():
        raise ValueError("scores must be finite")
    return x


def iqm(scores) -> float:
    """Interquartile mean over all runs and tasks: the mean of the middle 50% of the scores."""
    trim_mean = require("scipy.stats").trim_mean

    return float(trim_mean(_scores(scores).ravel(), 0.25))


def optimality_gap(scores, threshold: float = 1.0) -> float:
    """How far scores fall short of ``threshold`` on average (scores above it count as reaching it)."""
    return float(np.mean(threshold - np.minimum(_scores(scores), threshold)))


AGGREGATES = {
    "mean": lambda x: float(np.mean(x)),
    "median": lambda x: float(np.median(x)),
    "iqm": iqm,
    "optimality_gap": optimality_gap,
}


def stratified_bootstrap_ci(
    scores, statistic, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``statistic([runs, tasks])`` under the stratified bootstrap: runs are resampled
    with replacement within each task. Seeded by its own generator (the global RNG is left alone)."""
    x = _scores(scores)
    rng = np.random.default_rng(seed)
    runs, tasks = x.shape
    picks = rng.integers(0, runs, size=(reps, runs, tasks))
    values = np.array([statistic(np.take_along_axis(x, picks[r], 0)) for r in range(reps)])
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def aggregate_with_ci(scores, reps: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean, median, IQM and optimality gap of ``[runs, tasks]`` scores, each with a stratified-bootstrap
    95% interval: ``{"iqm": {"value", "low", "high"}, ...}``."""
    x = _scores(scores)
    out = {}
    for name, fn in AGGREGATES.items():
        low, high = stratified_bootstrap_ci(x, fn, reps=reps, seed=seed)
        out[name] = {"value": fn(x), "low": low, "high": high}
    return out


def probability_of_improvement(x, y) -> float:
    """P(X > Y) + P(X = Y) / 2 for a run of method X against a run of method Y, averaged over tasks (the
    Mann–Whitney statistic per task); ``x`` and ``y`` are ``[runs, tasks]`` with the same tasks."""
    a, b = _scores(x), _scores(y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y must score the same tasks, got {a.shape[1]} and {b.shape[1]}")
    per_task = [
        np.mean((a[:, t, None] > b[None, :, t]) + 0.5 * (a[:, t, None] == b[None, :, t])) for t in range(a.shape[1])
    ]
    return float(np.mean(per_task))


def probability_of_improvement_ci(
    x, y, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of :func:`probability_of_improvement` when the runs of each method are resampled
    with replacement within each task (each method independently). Seeded by its own generator."""
    a, b = _scores(x), _scores(y)
    probability_of_improvement(a, b)  # names mismatched tasks
    rng = np.random.default_rng(seed)
    values = np.empty(reps)
    for r in range(reps):
        pa = np.take_along_axis(a, rng.integers(0, a.shape[0], size=a.shape), 0)
        pb = np.take_along_axis(b, rng.integers(0, b.shape[0], size=b.shape), 0)
        values[r] = probability_of_improvement(pa, pb)
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def bootstrap_mean_ci(values, reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Bootstrap (BCa) interval of the mean of ``values`` (e.g. episode returns); a constant sample gets the
    degenerate interval at its value, one value an error."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, got {v.size}")
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    bootstrap = require("scipy.stats").bootstrap

    res = bootstrap(
        (v,), np.mean, n_resamples=reps, confidence_level=confidence, method="BCa", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
