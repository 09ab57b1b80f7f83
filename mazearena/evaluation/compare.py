"""``mazearena compare RUN_DIR...``: runs side by side, offline, from their folders alone.

Runs whose configs differ only in seed are one method (as in ``mazearena eval``). The report holds the
learning curves of every method (mean over its seeds, with a band from the lowest to the highest seed), the
final results side by side (from each run's ``report.json`` and, where present, its ``eval/summary.json``),
and the probability that a run of one method beats a run of another on held-out success, with a bootstrap
interval. Written to ``out`` as ``report.md``, ``summary.json`` and PNG plots.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np
import tyro

from mazearena.checks import UserError, make_out_dir
from mazearena.evaluation.evaluate import label_methods
from mazearena.evaluation.plots import plot_curves
from mazearena.stats.metrics import probability_of_improvement, probability_of_improvement_ci
from mazearena.training.config import load_config
from mazearena.training.loggers import read_metrics

CURVES = (
    ("eval/success_rate", "held-out success (evaluations during training)", "held-out success rate"),
    ("episode/success", "training-episode success (games won, on arenas)", "success rate"),
    ("episode/win_rate", "training-game win rate (runs from before episode/success)", "win rate"),
    ("episode/return", "training-episode return", "return"),
)


@dataclass
class CompareConfig:
    """Compare runs: learning curves with bands over seeds, final results side by side, probability of
    improvement; a Markdown report with plots."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run folders (several seeds of one config count as one method)."""
    out: Path | None = None
    """Output folder (default: runs/compare-<time> beside the first run)."""
    labels: tuple[str, ...] = ()
    """Method names, one per method in order of first appearance (default: from the configs)."""
    seed: int = 0
    """Seed of the bootstrap."""
    trust_code: bool = False
    """Import the code a run's config names (a backbone, env id or wrappers as ``module:Name``): only for runs
    you trust, since importing runs it; without it such a run is refused, naming what it would import."""

    def __post_init__(self) -> None:
        if not self.runs:
            raise UserError("give at least one run folder")


@dataclass
class RunInfo:
    path: Path
    config: object
    metrics: list[dict]
    report: dict | None
    evaluation: dict | None
    method: str = ""

    @property
    def name(self) -> str:
        return self.path.name


def read_run(path: Path, trust_code: bool = False) -> RunInfo:
    """What a run folder holds, or an error naming what is missing (or code its config names, without
    ``trust_code``)."""
    from mazearena.training.loading import check_trusted

    path = Path(path)
    if not (path / "config.yaml").exists():
        raise UserError(f"{str(path)!r} is not a run folder (no config.yaml)")
    check_trusted(path, trust_code)
    metrics_file = path / "metrics.jsonl"
    if not metrics_file.exists():
        raise UserError(f"run {str(path)!r} has no metrics.jsonl: it never logged an iteration")
    metrics = read_metrics(metrics_file)
    report = json.loads((path / "report.json").read_text()) if (path / "report.json").exists() else None
    evaluation = path / "eval" / "summary.json"
    return RunInfo(
        path,
        load_config(path / "config.yaml", trust_code),
        metrics,
        report,
        json.loads(evaluation.read_text()) if evaluation.exists() else None,
    )


def curve_rows(runs: list[RunInfo], key: str) -> list[dict]:
    return [
        {"method": r.method, "run": r.name, "step": m["step"], "value": m[key]}
        for r in runs
        for m in r.metrics
        if key in m
    ]


def final_rows(runs: list[RunInfo]) -> list[dict]:
    """One row per run: its final results, with its clean-suite results from any of the runs' evaluations
    (``mazearena eval`` of several runs writes them into the first run's folder)."""
    evaluations = [r.evaluation for r in runs if r.evaluation is not None]
    rows = []
    for r in runs:
        s = (r.report or {}).get("summary", {})
        held_out = (r.report or {}).get("test_levels", {})
        last = r.metrics[-1] if r.metrics else {}
        row = {"method": r.method, "run": r.name, "seed": r.config.seed, "steps": last.get("step")}
        row["train_seconds"] = last.get("time")
        if r.config.task.has_success:
            row |= {k: s.get(k) for k in ("train_success", "test_success", "generalisation_gap", "steps_to_95")}
            row["test_ci95"] = held_out.get("success_ci95")  # over its final evaluation's episodes
        else:  # an env without success (CartPole): its returns
            row |= {k: s.get(k) for k in ("train_return", "test_return")}
        row["test_episodes"] = held_out.get("episodes")
        for evaluation in evaluations:
            for c in evaluation["conditions"]:
                if c["perturbation"] == "none" and r.name in c["success_per_run"]:
                    row[f"eval/{c['suite']}/{c['mode']}"] = c["success_per_run"][r.name]
        rows.append(row)
    return rows


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def compare(cfg: CompareConfig) -> Path:
    """Write the comparison of ``cfg.runs``; returns its folder."""
    runs = [read_run(p, cfg.trust_code) for p in cfg.runs]
    label_methods(runs, cfg.labels, "compare")
    out = Path(cfg.out) if cfg.out else Path(cfg.runs[0]).parent / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    make_out_dir(out)
    methods = list(dict.fromkeys(r.method for r in runs))
    finals = final_rows(runs)
    summary: dict = {
        "methods": methods,
        "runs": finals,
        "per_method": {},
        "probability_of_improvement": [],
        "curves": {},
    }
    skip = ("method", "run", "seed", "test_ci95", "test_episodes")
    columns = [k for k in dict.fromkeys(k for row in finals for k in row) if k not in skip]
    for m in methods:
        mine = [row for row in finals if row["method"] == m]
        summary["per_method"][m] = {"runs": len(mine)} | {c: _mean([row.get(c) for row in mine]) for c in columns}
    summary["score"] = "test_success" if all(r.config.task.has_success for r in runs) else "test_return"
    summary |= improvement(finals, methods, summary["score"], cfg.seed)
    plots = {}
    for key, title, ylabel in CURVES:
        rows = curve_rows(runs, key)
        if rows:
            name = key.replace("/", "_") + ".png"
            plot = plot_curves(rows, out / name, title, key="value", ylabel=ylabel)
            if plot is not None:
                missing = [r.name for r in runs if not any(key in m for m in r.metrics)]
                plots[key] = (title, plot, missing)
                summary["curves"][key] = name
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.md").write_text(markdown(summary, runs, plots))
    return out


MIN_RUNS = 2
"""Runs (seeds) a method needs on each side for a probability of improvement: with one there is no between-run
variation to compare, and a bootstrap over one run returns that run (P = 0 or 1 with a zero-width interval)."""


def improvement(finals: list[dict], methods: list[str], score: str, seed: int) -> dict:
    """P(a run of X scores higher than a run of Y) on ``score`` for every pair of methods that both have
    :data:`MIN_RUNS` runs, with a bootstrap interval over runs; for the others, why not."""
    scored = {m: [row.get(score) for row in finals if row["method"] == m] for m in methods}
    out: dict = {"probability_of_improvement": [], "improvement_note": ""}
    few = [m for m in methods if len(scored[m]) < MIN_RUNS]
    for x, y in permutations(methods, 2):
        values = scored[x] + scored[y]
        if x in few or y in few or any(v is None for v in values):
            continue
        a, b = np.array(scored[x])[:, None], np.array(scored[y])[:, None]
        low, high = probability_of_improvement_ci(a, b, reps=1000, seed=seed)
        out["probability_of_improvement"].append(
            {"x": x, "y": y, "value": probability_of_improvement(a, b), "low": low, "high": high}
        )
    if few and len(methods) > 1:
        counts = ", ".join(f"{m}: {len(scored[m])}" for m in few)
        out["improvement_note"] = (
            f"no probability of improvement for a method with fewer than {MIN_RUNS} runs ({counts}): one run per "
            "side has no between-run variation to test. Train more seeds; meanwhile the intervals of each run's "
            "final evaluation below are over its episodes, not over runs"
        )
    return out


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, int) or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def markdown(summary: dict, runs: list[RunInfo], plots: dict) -> str:
    methods = summary["methods"]
    lines = [
        "# Comparison",
        "",
        "Runs: " + "; ".join(f"**{m}**: " + ", ".join(r.name for r in runs if r.method == m) for m in methods) + ".",
        "",
    ]
    columns = [c for c in next(iter(summary["per_method"].values())) if c != "runs"]
    lines += [
        "## Final results (mean over each method's runs)",
        "",
        "| method | runs | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for m, row in summary["per_method"].items():
        lines.append(f"| {m} | {row['runs']} | " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    lines += [
        "",
        "### Every run",
        "",
        "| method | run | seed | " + " | ".join(columns) + " |",
        "|---|---|---:|" + "---:|" * len(columns),
    ]
    for row in summary["runs"]:
        lines.append(
            f"| {row['method']} | {row['run']} | {row['seed']} | "
            + " | ".join(_fmt(row.get(c)) for c in columns)
            + " |"
        )
    lines += _episode_intervals(summary)
    what = "held-out success" if summary["score"] == "test_success" else "held-out return"
    if summary["probability_of_improvement"]:
        lines += [
            "",
            "## Probability of improvement",
            "",
            f"P(a run of X has a higher {what} than a run of Y), ties counting half, with a 95% "
            "bootstrap interval over runs (few seeds give wide intervals).",
            "",
            "| X | Y | P(X > Y) (95% CI) |",
            "|---|---|---:|",
        ]
        for p in summary["probability_of_improvement"]:
            lines.append(f"| {p['x']} | {p['y']} | {p['value']:.3f} ({p['low']:.3f}–{p['high']:.3f}) |")
    if summary["improvement_note"]:
        lines += ["", f"*{summary['improvement_note'][0].upper()}{summary['improvement_note'][1:]}.*"]
    if plots:
        band = "Mean over each method's runs; band from its lowest to its highest run (one run: its own curve)."
        lines += ["", "## Learning curves", "", band, ""]
        for title, plot, missing in plots.values():
            lines += [f"![{title}]({plot.name})", ""]
            if missing:
                lines += [f"Not in this plot (no such rows in their metrics): {', '.join(missing)}.", ""]
    return "\n".join(lines) + "\n"


def _episode_intervals(summary: dict) -> list[str]:
    """Each run's final held-out evaluation with its 95% Wilson interval over its episodes (maze and arena runs):
    the variation between episodes of one run, which says nothing of another seed."""
    rows = [r for r in summary["runs"] if r.get("test_ci95")]
    if not rows:
        return []
    lines = [
        "",
        "### Each run's final held-out evaluation",
        "",
        "95% Wilson intervals over the evaluation's episodes: how sure one run's number is, not how another seed "
        "would do.",
        "",
        "| method | run | episodes | held-out success (95% CI) |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        low, high = r["test_ci95"]
        lines.append(
            f"| {r['method']} | {r['run']} | {r['test_episodes']} | {r['test_success']:.3f} ({low:.3f}–{high:.3f}) |"
        )
    return lines
