"""The plots of ``mazearena eval`` and ``compare`` (PNG, matplotlib without a display): interval estimates,
performance profiles, severity curves, the cross-play matrix and learning curves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from mazearena.evaluation.summary import CLEAN, GREEDY, by_condition, group_rows, played_mode, score_matrix


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
    fig, axes = plt.subplots(1, 4, figsize=(12, 1.9 + 0.45 * len(rows)), sharey=True, layout="constrained")
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
    title = f"Aggregates over runs × suites ({', '.join(summary['suites'])}), 95% stratified bootstrap CIs{note}"
    fig.suptitle(textwrap.fill(title, 150), fontsize=10)  # wrapped: a long list of configurations stays inside
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
    stats = by_condition(summary["conditions"])
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
    for method, group in group_rows(curves, ("method",)).items():
        runs = group_rows(group, ("run",))
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
        ax.plot(
            b["steps"],
            b["mean"],
            marker="o",
            ms=3,
            color=colours[m],
            label=f"{m} ({b['runs']} run{'s' * (b['runs'] != 1)})",
        )
        if b["runs"] > 1:
            ax.fill_between(b["steps"], b["low"], b["high"], color=colours[m], alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _finish(fig, ax, path)


# ------------------------------------------------------------------ Markdown
