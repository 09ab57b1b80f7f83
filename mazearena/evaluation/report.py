"""What ``mazearena eval`` writes: the episode table, the statistics over it, a Markdown report and plots.

Per condition (method, suite, perturbation, severity, mode): success rate with Wilson and Clopper–Pearson
95% intervals over the pooled episodes, mean return with a BCa bootstrap interval, mean length. Across
seeds and suites: mean, median, IQM and optimality gap of the per-run success rates with stratified
bootstrap intervals, and the probability of improvement between methods. Robustness: per perturbation,
the success ratio perturbed / clean at each severity, the area under that curve and the worst case;
the train → test generalisation gap. Arenas: the cross-play matrix with ratings, per-capita returns.
"""

from __future__ import annotations

import csv
import json
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


def _group(rows: list[dict], keys: tuple[str, ...]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        out[tuple(row[k] for k in keys)].append(row)
    return out


def condition_stats(rows: list[dict], seed: int = 0) -> list[dict]:
    """One entry per (method, suite, perturbation, severity, mode)."""
    keys = ("method", "suite", "perturbation", "severity", "mode")
    out = []
    for key, group in _group(rows, keys).items():
        n = len(group)
        wins = sum(r["success"] for r in group)
        returns = [r["return"] for r in group]
        runs = _group(group, ("run",))
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
        out.append(entry)
    return out


def _lookup(stats: list[dict]) -> dict[tuple, dict]:
    return {(s["method"], s["suite"], s["perturbation"], s["severity"], s["mode"]): s for s in stats}


def score_matrix(stats: list[dict], method: str, mode: str, suites: list[str]) -> np.ndarray:
    """``[runs, suites]`` success rates of ``method``'s runs on the clean ``suites``."""
    table = _lookup(stats)
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
    table = _lookup(stats)
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


# ------------------------------------------------------------------ plots
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, path: Path) -> Path:
    """Grid, legend, layout; the figure saved to ``path`` and closed."""
    import matplotlib.pyplot as plt

    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _colours(methods: list[str]) -> dict[str, tuple]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def plot_intervals(summary: dict, path: Path) -> Path:
    """rliable-style interval estimates: each aggregate of each method with its 95% bootstrap interval."""
    plt = _plt()
    names = ("mean", "median", "iqm", "optimality_gap")
    rows = [(m, mode) for m in summary["methods"] for mode in summary["played_modes"][m]]
    colours = _colours(summary["methods"])
    fig, axes = plt.subplots(1, 4, figsize=(12, 1.6 + 0.45 * len(rows)), sharey=True)
    for ax, name in zip(axes, names, strict=True):
        for i, (m, mode) in enumerate(rows):
            agg = summary["aggregates"][m][mode][name]
            ax.barh(i, agg["high"] - agg["low"], left=agg["low"], height=0.6, color=colours[m], alpha=0.75)
            ax.plot([agg["value"]] * 2, [i - 0.3, i + 0.3], color="black", lw=1.5)
        ax.set_title(name.replace("_", " "))
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # first method on top
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("success rate" if name != "optimality_gap" else "1 − success (lower is better)")
    labels = [f"{m} ({mode})" if len(rows) > len(summary["methods"]) or mode == GREEDY else m for m, mode in rows]
    axes[0].set_yticks(range(len(rows)), labels)
    single = [m for m, mode in rows if summary["aggregates"][m][mode]["runs"] == 1]
    note = "; one run (no interval): " + ", ".join(single) if single else ""
    fig.suptitle(
        f"Aggregates over runs × suites ({', '.join(summary['suites'])}), 95% stratified bootstrap CIs{note}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_profile(summary: dict, path: Path, seed: int = 0) -> Path:
    """Performance profile: the share of (run, suite) scores above each success threshold τ, with a 95%
    stratified bootstrap band."""
    plt = _plt()
    taus = np.linspace(0, 1, 101)
    colours = _colours(summary["methods"])
    mode = summary["modes"][0]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    rng = np.random.default_rng(seed)
    for m in summary["methods"]:
        x = score_matrix(summary["conditions"], m, played_mode(summary, m, mode), summary["suites"])
        curve = (x.ravel()[:, None] > taus[None]).mean(0)
        boot = []
        for _ in range(500):
            pick = np.take_along_axis(x, rng.integers(0, x.shape[0], size=x.shape), 0)
            boot.append((pick.ravel()[:, None] > taus[None]).mean(0))
        low, high = np.quantile(boot, [0.025, 0.975], axis=0)
        ax.plot(taus, curve, color=colours[m], label=m if played_mode(summary, m, mode) == mode else f"{m} ({GREEDY})")
        ax.fill_between(taus, low, high, color=colours[m], alpha=0.2)
    ax.set_xlabel("success-rate threshold τ")
    ax.set_ylabel("fraction of runs × suites > τ")
    ax.set_title(f"Performance profile ({mode} policy)")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path)


def plot_severity(summary: dict, path: Path) -> Path | None:
    """Success against severity, one panel per perturbation, one line per method with its Wilson band."""
    entries = summary["robustness"]
    if not entries:
        return None
    plt = _plt()
    names = list(dict.fromkeys(e["perturbation"] for e in entries))
    mode = summary["modes"][0]
    colours = _colours(summary["methods"])
    stats = _lookup(summary["conditions"])
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False, sharey=True)
    for ax, name in zip(axes.ravel(), names, strict=False):
        for e in entries:
            if e["perturbation"] != name or e["mode"] != played_mode(summary, e["method"], mode):
                continue
            keys = [(e["method"], e["suite"], CLEAN if s == 0 else name, s, e["mode"]) for s in e["severities"]]
            low = [stats[k]["success_ci95"][0] for k in keys]
            high = [stats[k]["success_ci95"][1] for k in keys]
            ax.plot(e["severities"], e["success"], marker="o", color=colours[e["method"]], label=e["method"])
            ax.fill_between(e["severities"], low, high, color=colours[e["method"]], alpha=0.2)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("severity")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("success rate")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle(f"Robustness on suite '{entries[0]['suite']}' ({mode} policy; bands: 95% Wilson)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_cross_play(cross: dict, path: Path) -> Path:
    """Heatmap of the run-level cross-play win matrix."""
    plt = _plt()
    win = np.array([[np.nan if v is None else v for v in row] for row in cross["win"]], dtype=float)
    labels = [p.split("/", 1)[1] for p in cross["players"]]  # run names (methods are in the report)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(4.5 + 0.8 * k, 3.0 + 0.7 * k))
    image = ax.imshow(win, cmap="RdBu", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if not np.isnan(win[i, j]):
                ax.text(
                    j,
                    i,
                    f"{win[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(win[i, j] - 0.5) > 0.3 else "black",
                )
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    if cross["kind"] == "teammates":
        ax.set_xlabel(f"teammate playing {', '.join(cross['split'][1])}")
        ax.set_ylabel(f"playing {', '.join(cross['split'][0])}")
        ax.set_title(
            f"cross-play as teammates\nwin rate against held-out NPCs, {cross['games_per_pair']} games per cell",
            fontsize=10,
        )
    else:
        ax.set_xlabel("opponent")
        ax.set_title(
            f"cross-play: win rate of row against column\n{cross['games_per_pair']} games per pair, half on each side",
            fontsize=10,
        )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def curve_bands(curves: list[dict], key: str = "success") -> dict[str, dict[str, list]]:
    """Per method: steps, the mean over its runs and the min/max band, on the steps every run reached
    (each run's curve interpolated onto them)."""
    out = {}
    for method, group in _group(curves, ("method",)).items():
        runs = _group(group, ("run",))
        series = [sorted((r["step"], r[key]) for r in g if r.get(key) is not None) for g in runs.values()]
        series = [s for s in series if s]
        if not series:
            continue
        end = min(s[-1][0] for s in series)
        steps = sorted({st for s in series for st, _ in s if st <= end})
        values = np.array([np.interp(steps, [p[0] for p in s], [p[1] for p in s]) for s in series])
        out[method[0]] = {
            "steps": steps,
            "mean": values.mean(0).tolist(),
            "low": values.min(0).tolist(),
            "high": values.max(0).tolist(),
            "runs": len(series),
        }
    return out


def plot_curves(
    curves: list[dict], path: Path, title: str, key: str = "success", ylabel: str = "held-out success rate"
) -> Path | None:
    """Held-out success against training steps, mean over each method's runs with a min–max band."""
    bands = curve_bands(curves, key)
    if not bands:
        return None
    plt = _plt()
    colours = _colours(list(bands))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for m, b in bands.items():
        ax.plot(b["steps"], b["mean"], marker="o", ms=3, color=colours[m], label=f"{m} ({b['runs']} runs)")
        if b["runs"] > 1:
            ax.fill_between(b["steps"], b["low"], b["high"], color=colours[m], alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _finish(fig, ax, path)


# ------------------------------------------------------------------ Markdown
def _ci(v: float, ci) -> str:
    return f"{v:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"


def markdown(summary: dict, title: str, plots: dict[str, Path | None], describe: dict[str, str]) -> str:
    """The evaluation report."""
    lines = [f"# {title}", ""]
    for skip in summary.get("skipped_suites", []):
        lines += [f"Suite {skip['suite']!r} skipped for {skip['run']} ({skip['method']}): it {skip['reason']}.", ""]
    lines += [
        "Methods: "
        + "; ".join(
            f"**{m}** ({next(iter(summary['aggregates'][m].values()))['runs']} runs)" for m in summary["methods"]
        )
        + ".",
        "",
    ]
    lines += [
        "## Per condition",
        "",
        "Success with its 95% Wilson interval over all episodes of the method's runs; return with a 95% "
        "BCa bootstrap interval.",
        "",
        "| method | mode | suite | perturbation | severity | episodes | success (95% CI) | return (95% CI) | length |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in summary["conditions"]:
        suite = f"{s['suite']} ({describe.get(s['suite'], '')})" if s["perturbation"] == CLEAN else s["suite"]
        lines.append(
            f"| {s['method']} | {s['mode']} | {suite} | {s['perturbation']} | {s['severity']:g} | "
            f"{s['episodes']} | {_ci(s['success_rate'], s['success_ci95'])} | "
            f"{_ci(s['mean_return'], s['return_ci95'])} | {s['mean_length']:.1f} |"
        )
    lines += [
        "",
        "## Across runs and suites",
        "",
        f"Per-run success rates on the clean suites ({', '.join(summary['suites'])}); 95% stratified bootstrap "
        "intervals (runs resampled within each suite; a method of one run has no spread over seeds, so its "
        "intervals collapse to the value: train more seeds).",
        "",
        "| method | mode | runs | mean | median | IQM | optimality gap |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in summary["methods"]:
        for mode, agg in summary["aggregates"][m].items():
            cells = [
                _ci(agg[k]["value"], (agg[k]["low"], agg[k]["high"]))
                for k in ("mean", "median", "iqm", "optimality_gap")
            ]
            lines.append(f"| {m} | {mode} | {agg['runs']} | " + " | ".join(cells) + " |")
    if plots.get("intervals"):
        lines += ["", f"![interval estimates]({plots['intervals'].name})"]
    if plots.get("profile"):
        lines += ["", f"![performance profile]({plots['profile'].name})"]
    if summary["probability_of_improvement"]:
        lines += [
            "",
            "### Probability of improvement",
            "",
            "P(a run of X beats a run of Y on a suite), averaged over suites, with a 95% bootstrap interval.",
            "",
            "| X | Y | mode | P(X > Y) (95% CI) |",
            "|---|---|---|---:|",
        ]
        for p in summary["probability_of_improvement"]:
            lines.append(f"| {p['x']} | {p['y']} | {p['mode']} | {_ci(p['value'], (p['low'], p['high']))} |")
    if summary["generalisation_gap"]:
        lines += [
            "",
            "## Generalisation gap",
            "",
            "Training-level success minus held-out success, per run.",
            "",
            "| method | mode | gap | per run |",
            "|---|---|---:|---|",
        ]
        for g in summary["generalisation_gap"]:
            gap = _ci(g["gap"], g["ci95"]) if "ci95" in g else f"{g['gap']:+.3f}"
            lines.append(f"| {g['method']} | {g['mode']} | {gap} | {', '.join(f'{v:+.3f}' for v in g['per_run'])} |")
    if summary["robustness"]:
        lines += [
            "",
            "## Robustness",
            "",
            "Success under each perturbation relative to the clean suite (ratio at each severity), the area "
            "under the ratio curve over the severity range (1 = unaffected; 95% bootstrap interval, episodes "
            "resampled in every condition) and the worst ratio.",
            "",
            "| method | mode | perturbation | severities | success | ratio | AUC | worst |",
            "|---|---|---|---|---|---|---:|---:|",
        ]
        for r in summary["robustness"]:
            ratio = ", ".join("—" if v is None else f"{v:.2f}" for v in r["ratio"])
            auc = "—" if r["auc"] is None else _ci(r["auc"], r["auc_ci95"])
            worst = "—" if r["worst_ratio"] is None else f"{r['worst_ratio']:.2f}"
            lines.append(
                f"| {r['method']} | {r['mode']} | {r['perturbation']} | "
                f"{', '.join(f'{s:g}' for s in r['severities'])} | "
                f"{', '.join(f'{v:.2f}' for v in r['success'])} | {ratio} | {auc} | {worst} |"
            )
        for m, w in summary["worst_case"].items():
            low, high = w["ratio_ci95"]
            verdict = " (within the noise: the interval reaches 1)" if high >= 1 else ""
            lines.append(
                f"\nWorst case of {m}: {w['perturbation']} at severity {w['severity']:g} "
                f"({w['mode']}), {w['ratio']:.2f} ({low:.2f}–{high:.2f}) of its clean success{verdict}."
            )
        if plots.get("severity"):
            lines += ["", f"![severity curves]({plots['severity'].name})"]
    arena = [s for s in summary["conditions"] if "per_capita_return" in s]
    if arena:
        lines += [
            "",
            "## Games",
            "",
            "Win/draw/loss of the learning team and its per-capita (focal) return.",
            "",
            "| method | mode | suite | perturbation | severity | win | draw | loss | per-capita return |",
            "|---|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for s in arena:
            lines.append(
                f"| {s['method']} | {s['mode']} | {s['suite']} | {s['perturbation']} | {s['severity']:g} | "
                f"{s['success_rate']:.3f} | {s['draw_rate']:.3f} | {s['loss_rate']:.3f} | "
                f"{s['per_capita_return']:.3f} |"
            )
    cross = summary.get("cross_play")
    if cross and cross["kind"] == "teammates":
        players = cross["players"]
        lines += [
            "",
            "## Cross-play (teammates)",
            "",
            f"Row run's policy plays {', '.join(cross['split'][0])}, column run's plays "
            f"{', '.join(cross['split'][1])}, together against the held-out NPC population, "
            f"{cross['games_per_pair']} games per cell. Cell: win rate; the diagonal is each run with itself.",
            "",
            "| run | " + " | ".join(str(i) for i in range(len(players))) + " |",
            "|---|" + "---:|" * len(players),
        ]
        for i, p in enumerate(players):
            lines.append(f"| {i}: {p} | " + " | ".join(f"{w:.2f}" for w in cross["win"][i]) + " |")
        lines += [
            "",
            f"Self-play (diagonal) mean win rate {cross['self_play_mean']:.3f}; cross-play (off-diagonal) "
            f"mean {cross['cross_play_mean']:.3f}.",
        ]
        if plots.get("cross_play"):
            lines += ["", f"![cross-play]({plots['cross_play'].name})"]
    elif cross:
        players = cross["players"]
        lines += [
            "",
            "## Cross-play",
            "",
            f"Every run against every other on held-out arenas, both teams played by runs, "
            f"{cross['games_per_pair']} games per pair (half on each side). Cell: win rate of the row; "
            "draws in brackets. Ratings: openskill (Plackett–Luce) mu with its 95% interval.",
            "",
            "| run | " + " | ".join(str(i) for i in range(len(players))) + " | rating (95%) |",
            "|---|" + "---:|" * (len(players) + 1),
        ]
        for i, p in enumerate(players):
            cells = ["—" if i == j else f"{w:.2f} ({cross['draw'][i][j]:.2f})" for j, w in enumerate(cross["win"][i])]
            r = cross["ratings"][i]
            lines.append(f"| {i}: {p} | " + " | ".join(cells) + f" | {r['mu']:.1f} ({r['low']:.1f}–{r['high']:.1f}) |")
        mm = cross["method_win"]
        if len(mm["methods"]) > 1:
            lines += [
                "",
                "Methods (mean over pairs of runs): "
                + "; ".join(
                    f"{a} beats {b} in {mm['win'][i][j]:.2f} of games"
                    for i, a in enumerate(mm["methods"])
                    for j, b in enumerate(mm["methods"])
                    if i != j and mm["win"][i][j] is not None
                )
                + ".",
            ]
        if plots.get("cross_play"):
            lines += ["", f"![cross-play]({plots['cross_play'].name})"]
    if summary.get("sample_efficiency"):
        source = summary["sample_efficiency"][0]["source"]
        lines += [
            "",
            "## Sample efficiency",
            "",
            f"Held-out success against training steps ({source}s; mean over runs, band min–max).",
        ]
        if plots.get("sample_efficiency"):
            lines += ["", f"![sample efficiency]({plots['sample_efficiency'].name})"]
    return "\n".join(lines) + "\n"


def write_eval(out: Path, cfg, runs, rows: list[dict], curves: list[dict], cross: dict | None) -> dict:
    """episodes.csv, summary.json, report.md, the plots and the W&B eval job for ``mazearena eval``."""
    from mazearena.evaluation.suites import suites_for, unavailable_suites

    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "episodes.csv")
    if curves:
        write_csv(curves, out / "sample_efficiency.csv")
    summary = summarise(rows, cfg.seed, cross, curves)
    summary["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()}
    summary["config"]["runs"] = [str(r.path) for r in runs]
    summary["checkpoint_steps"] = {r.name: r.step for r in runs}
    summary["skipped_suites"] = [
        {"run": r.name, "method": r.method, "suite": suite, "reason": why}
        for r in runs
        for suite, why in (unavailable_suites(r.config).items() if not cfg.suites else ())
    ]
    curve_title = f"Sample efficiency ({cfg.modes[0]} policy)"
    plots = {
        "intervals": plot_intervals(summary, out / "intervals.png"),
        "profile": plot_profile(summary, out / "profile.png", cfg.seed),
        "severity": plot_severity(summary, out / "severity.png"),
        "cross_play": plot_cross_play(cross, out / "cross_play.png") if cross else None,
        "sample_efficiency": plot_curves(curves, out / "sample_efficiency.png", curve_title) if curves else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    title = "Evaluation of " + ", ".join(dict.fromkeys(r.method for r in runs))
    (out / "report.md").write_text(markdown(summary, title, plots, suites_for(runs[0].config)))
    if cfg.wandb_mode != "disabled":
        from mazearena.training.loggers import log_eval

        groups = dict.fromkeys((r.config.wandb_project, r.config.experiment) for r in runs)
        for project, group in groups:  # into the W&B group of every run evaluated
            log_eval(
                out,
                summary,
                {k: v for k, v in plots.items() if v is not None},
                mode=cfg.wandb_mode,
                project=project,
                group=group,
            )
    return summary
