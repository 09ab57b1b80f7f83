"""The numbers of ``mazearena eval``: the episode table (CSV) and the statistics over it.

Per condition (method, suite, perturbation, severity, mode): success rate with Wilson and Clopper–Pearson
95% intervals over the pooled episodes, mean return with a BCa bootstrap interval, mean length. Across
seeds and suites: mean, median, IQM and optimality gap of the per-run success rates with stratified
bootstrap intervals, and the probability of improvement between methods. Robustness: per perturbation,
the success ratio perturbed / clean at each severity, the area under that curve and the worst case;
the train → test generalisation gap. Arenas: the cross-play matrix with ratings, per-capita returns.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from itertools import permutations
from pathlib import Path

import numpy as np

from mazearena.stats.metrics import (
    aggregate_with_ci,
    bootstrap_mean_ci,
    clopper_pearson_interval,
    probability_of_improvement,
    probability_of_improvement_ci,
    wilson_interval,
)

CLEAN = "none"
GREEDY = "greedy"
"""The mode of a policy that acts greedily whatever mode is asked (DQN): compared with others in every mode."""


def write_csv(rows: list[dict], path: Path) -> Path:
    """Rows (dicts) as a CSV file; columns in order of first appearance."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    """An episode table written by :func:`write_csv`, numbers and flags parsed."""

    def parse(v: str):
        if v in ("True", "False"):
            return v == "True"
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v

    with open(path, newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def group_rows(rows: list[dict], keys: tuple[str, ...]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        out[tuple(row[k] for k in keys)].append(row)
    return out


def condition_stats(rows: list[dict], seed: int = 0) -> list[dict]:
    """One entry per (method, suite, perturbation, severity, mode)."""
    keys = ("method", "suite", "perturbation", "severity", "mode")
    out = []
    for key, group in group_rows(rows, keys).items():
        n = len(group)
        wins = sum(r["success"] for r in group)
        returns = [r["return"] for r in group]
        runs = group_rows(group, ("run",))
        entry = dict(zip(keys, key, strict=True)) | {
            "episodes": n,
            "runs": len(runs),
            "success_rate": wins / n,
            "success_ci95": list(wilson_interval(wins, n)),
            "success_ci95_clopper_pearson": list(clopper_pearson_interval(wins, n)),
            "mean_return": float(np.mean(returns)),
            "return_ci95": list(bootstrap_mean_ci(returns, reps=1000, seed=seed)) if n > 1 else [returns[0]] * 2,
            "mean_length": float(np.mean([r["length"] for r in group])),
            "success_per_run": {run[0]: sum(r["success"] for r in g) / len(g) for run, g in runs.items()},
        }
        if "winner" in group[0]:
            entry["draw_rate"] = sum(r["winner"] == -1 for r in group) / n
            entry["loss_rate"] = 1.0 - entry["success_rate"] - entry["draw_rate"]
            entry["per_capita_return"] = float(np.mean([r["per_capita_return"] for r in group]))
            entry |= _outcomes(group) | _roles(group)
        out.append(entry)
    return out


def _outcomes(games: list[dict]) -> dict:
    """How the games ended: won or lost before the time limit (``decided``: the game's goal reached) or at it (on
    the score), drawn at it."""
    n = len(games)

    def share(result: str, decided: bool) -> float:
        won = {"win": lambda r: r["success"], "loss": lambda r: not r["success"] and r["winner"] != -1}[result]
        return sum(won(r) and bool(r["terminated"]) == decided for r in games) / n

    return {
        "outcomes": {
            "win_decided": share("win", True),
            "win_at_time_limit": share("win", False),
            "loss_decided": share("loss", True),
            "loss_at_time_limit": share("loss", False),
            "draw_at_time_limit": sum(r["winner"] == -1 and not r["terminated"] for r in games) / n,
        }
    }


ROLE_KINDS = ("pickups", "captures", "tagged", "home")
"""The per-agent tallies of capture-the-flag games (:class:`~mazearena.agents.episodes.CtfRoles`)."""


def _roles(games: list[dict]) -> dict:
    """Each learning agent's mean per game of every :data:`ROLE_KINDS` tally, where the games record them."""
    agents = [k.split("/", 1)[1] for k in games[0] if k.startswith("pickups/")]
    if not agents:
        return {}
    return {
        "roles": {a: {kind: float(np.mean([r[f"{kind}/{a}"] for r in games])) for kind in ROLE_KINDS} for a in agents}
    }


def by_condition(stats: list[dict]) -> dict[tuple, dict]:
    return {(s["method"], s["suite"], s["perturbation"], s["severity"], s["mode"]): s for s in stats}


def score_matrix(stats: list[dict], method: str, mode: str, suites: list[str]) -> np.ndarray:
    """``[runs, suites]`` success rates of ``method``'s runs on the clean ``suites``."""
    table = by_condition(stats)
    per_suite = [table[(method, s, CLEAN, 0.0, mode)]["success_per_run"] for s in suites]
    runs = sorted(per_suite[0])
    return np.array([[p[r] for p in per_suite] for r in runs], dtype=float)


def _robustness(stats: list[dict], table: dict, m: str, mode: str, suite: str, name: str) -> dict:
    """Success of method ``m`` under perturbation ``name`` of ``suite`` relative to the clean suite, severity by
    severity, with the area under the ratio curve and the worst perturbed severity."""
    clean = table[(m, suite, CLEAN, 0.0, mode)]
    clean_rate = clean["success_rate"]
    points = sorted(
        (s["severity"], s["success_rate"], s["episodes"])
        for s in stats
        if (s["method"], s["suite"], s["perturbation"], s["mode"]) == (m, suite, name, mode)
    )
    severities = [0.0] + [p[0] for p in points]
    success = [clean_rate] + [p[1] for p in points]
    ratio = [v / clean_rate for v in success] if clean_rate > 0 else [None] * len(success)
    auc = _area(severities, ratio) / severities[-1] if clean_rate > 0 else None
    auc_ci = (
        _auc_interval(severities, success, [clean["episodes"]] + [p[2] for p in points]) if auc is not None else None
    )
    # the worst perturbed severity (never severity 0, the clean suite itself), with the interval of its success
    # relative to the clean success
    k = 1 + int(np.argmin(success[1:]))
    low, high = table[(m, suite, name, severities[k], mode)]["success_ci95"]
    return {
        "method": m,
        "mode": mode,
        "suite": suite,
        "perturbation": name,
        "severities": severities,
        "success": success,
        "ratio": ratio,
        "auc": auc,
        "auc_ci95": auc_ci,
        "worst_ratio": ratio[k],
        "worst_ratio_ci95": [low / clean_rate, high / clean_rate] if clean_rate > 0 else None,
        "worst_severity": severities[k],
    }


def played_mode(summary: dict, method: str, mode: str) -> str:
    """The mode ``method`` was played in where the others were played in ``mode``: ``mode``, or ``greedy`` for
    a method that acts greedily whatever is asked."""
    return mode if mode in summary["played_modes"][method] else GREEDY


def summarise(rows: list[dict], seed: int = 0, cross: dict | None = None, curves: list[dict] | None = None) -> dict:
    """Everything ``summary.json`` holds, from the episode table (and the cross-play table, the curves).
    ``modes`` are the modes methods are compared in; ``played_modes`` those each method was played in (a greedy
    method's rows, mode ``greedy``, stand in every mode)."""
    stats = condition_stats(rows, seed)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    played = {m: list(dict.fromkeys(r["mode"] for r in rows if r["method"] == m)) for m in methods}
    modes = [mode for mode in dict.fromkeys(r["mode"] for r in rows) if mode != GREEDY] or [GREEDY]
    table = by_condition(stats)
    summary: dict = {"methods": methods, "modes": modes, "played_modes": played}
    # the clean suites every method was played on (a suite that does not apply to a run is skipped for it)
    clean = [
        s
        for s in dict.fromkeys(r["suite"] for r in rows if r["perturbation"] == CLEAN)
        if all((m, s, CLEAN, 0.0, played_mode(summary, m, mode)) in table for m in methods for mode in modes)
    ]
    summary |= {
        "suites": clean,
        "conditions": stats,
        "aggregates": {},
        "probability_of_improvement": [],
        "robustness": [],
        "generalisation_gap": [],
    }
    scores = {(m, mode): score_matrix(stats, m, mode, clean) for m in methods for mode in played[m]}
    compared = set()
    for mode in modes:
        for x, y in permutations(methods, 2):
            xm, ym = played_mode(summary, x, mode), played_mode(summary, y, mode)
            if (x, xm, y, ym) in compared:  # greedy methods compare the same in every mode
                continue
            compared.add((x, xm, y, ym))
            low, high = probability_of_improvement_ci(scores[x, xm], scores[y, ym], reps=1000, seed=seed)
            summary["probability_of_improvement"].append(
                {
                    "x": x,
                    "y": y,
                    "mode": mode if xm == ym else f"{xm} vs {ym}",
                    "value": probability_of_improvement(scores[x, xm], scores[y, ym]),
                    "low": low,
                    "high": high,
                }
            )
    for m in methods:
        for mode in played[m]:
            agg = aggregate_with_ci(scores[m, mode], reps=1000, seed=seed)
            summary["aggregates"].setdefault(m, {})[mode] = {"runs": len(scores[m, mode]), "tasks": clean} | agg
            if "train" in clean and "test" in clean:
                per_run = scores[m, mode][:, clean.index("train")] - scores[m, mode][:, clean.index("test")]
                entry = {"method": m, "mode": mode, "gap": float(per_run.mean()), "per_run": per_run.tolist()}
                if len(per_run) > 1:
                    entry["ci95"] = list(bootstrap_mean_ci(per_run, reps=1000, seed=seed))
                summary["generalisation_gap"].append(entry)
            own = [s for s in stats if (s["method"], s["mode"]) == (m, mode) and s["perturbation"] != CLEAN]
            for suite, name in sorted({(s["suite"], s["perturbation"]) for s in own}):
                summary["robustness"].append(_robustness(stats, table, m, mode, suite, name))
    summary["worst_case"] = {}
    for m in methods:
        entries = [r for r in summary["robustness"] if r["method"] == m and r["worst_ratio"] is not None]
        if entries:
            worst = min(entries, key=lambda r: r["worst_ratio"])
            summary["worst_case"][m] = {
                "perturbation": worst["perturbation"],
                "mode": worst["mode"],
                "severity": worst["worst_severity"],
                "ratio": worst["worst_ratio"],
                "ratio_ci95": worst["worst_ratio_ci95"],
            }
    if cross is not None:
        summary["cross_play"] = cross | {"method_win": method_matrix(cross)}
        if cross["kind"] == "teammates":
            k = len(cross["players"])
            off = [cross["win"][i][j] for i in range(k) for j in range(k) if i != j]
            summary["cross_play"] |= {
                "self_play_mean": float(np.mean([cross["win"][i][i] for i in range(k)])),
                "cross_play_mean": float(np.mean(off)),
            }
    if curves:
        summary["sample_efficiency"] = curves
    return summary


def _auc_interval(severities: list[float], success: list[float], episodes: list[int], draws: int = 4000) -> list:
    """95% percentile-bootstrap interval of the robustness AUC: each condition's episodes resampled (its success
    count drawn again from its own rate and episodes, clean and perturbed alike), the ratio curve and its area
    recomputed. Draws from a generator of its own (the same interval every time)."""
    rng = np.random.default_rng(0)
    rates = rng.binomial(np.array(episodes), np.array(success), size=(draws, len(success))) / np.array(episodes)
    keep = rates[:, 0] > 0
    ratio = rates[keep] / rates[keep, :1]
    x = np.array(severities)
    areas = ((ratio[:, 1:] + ratio[:, :-1]) / 2 * np.diff(x)).sum(1) / x[-1]
    return [float(np.quantile(areas, 0.025)), float(np.quantile(areas, 0.975))]


def _area(x: list[float], y: list[float]) -> float:
    """Trapezoid area under ``y(x)``."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))


def method_matrix(cross: dict) -> dict:
    """The run-level cross-play win matrix averaged into methods (pairs of distinct runs only)."""
    methods = list(dict.fromkeys(cross["methods"]))
    k = len(cross["methods"])
    win = []
    for a in methods:
        row = []
        for b in methods:
            cells = [
                cross["win"][i][j]
                for i in range(k)
                for j in range(k)
                if i != j and cross["methods"][i] == a and cross["methods"][j] == b
            ]
            row.append(float(np.mean(cells)) if cells else None)
        win.append(row)
    return {"methods": methods, "win": win}
