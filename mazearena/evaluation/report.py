"""What ``mazearena eval`` writes: the episode table, the statistics over it (:mod:`.summary`), the plots
(:mod:`.plots`) and a Markdown report, a function per section (:func:`markdown`)."""

from __future__ import annotations

import json
from pathlib import Path

from mazearena.envs.npcs import Behaviour
from mazearena.evaluation.plots import plot_cross_play, plot_curves, plot_intervals, plot_profile, plot_severity
from mazearena.evaluation.summary import CLEAN, summarise, write_csv


def _ci(v: float, ci) -> str:
    return f"{v:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"


def _methods(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Skipped suites and the methods compared, with their runs."""
    lines: list[str] = []
    for skip in summary.get("skipped_suites", []):
        lines += [f"Suite {skip['suite']!r} skipped for {skip['run']} ({skip['method']}): it {skip['reason']}.", ""]
    for m, what in summary.get("baselines", {}).items():
        lines += [f"Baseline **{m}**: {what}.", ""]
    lines += [
        "Methods: "
        + "; ".join(
            f"**{m}** ({next(iter(summary['aggregates'][m].values()))['runs']} runs)" for m in summary["methods"]
        )
        + ".",
        "",
    ]
    return lines


def _per_condition(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Success and return of every condition, with intervals (the return alone where the envs have no notion of
    success)."""
    has = summary.get("has_success", True)
    lines = ["## Per condition", ""]
    if has:
        lines += [
            "Success with its 95% Wilson interval over all episodes of the method's runs; return with a 95% "
            "BCa bootstrap interval.",
            "",
            "| method | mode | suite | perturbation | severity | episodes | success (95% CI) | return (95% CI) "
            "| length |",
            "|---|---|---|---|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += [
            "Return with a 95% BCa bootstrap interval over all episodes of the method's runs (the env has no notion "
            "of success, so the sections built on success rates are left out).",
            "",
            "| method | mode | suite | perturbation | severity | episodes | return (95% CI) | length |",
            "|---|---|---|---|---:|---:|---:|---:|",
        ]
    for s in summary["conditions"]:
        suite = f"{s['suite']} ({describe.get(s['suite'], '')})" if s["perturbation"] == CLEAN else s["suite"]
        success = f"{_ci(s['success_rate'], s['success_ci95'])} | " if has else ""
        lines.append(
            f"| {s['method']} | {s['mode']} | {suite} | {s['perturbation']} | {s['severity']:g} | "
            f"{s['episodes']} | {success}{_ci(s['mean_return'], s['return_ci95'])} | {s['mean_length']:.1f} |"
        )
    return lines


def _across_runs(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Aggregates over runs and suites, their plots and the probability of improvement."""
    lines: list[str] = []
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
    return lines


def _generalisation(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Training-level minus held-out success, per run."""
    lines: list[str] = []
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
    return lines


def _robustness(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Success under each perturbation relative to the clean suite, and the worst case."""
    lines: list[str] = []
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
    return lines


def _games(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Arenas: win, draw and loss of the learning team and its per-capita return."""
    lines: list[str] = []
    arena = [s for s in summary["conditions"] if "per_capita_return" in s]
    if arena:
        lines += [
            "",
            "## Games",
            "",
            "Win/draw/loss of the learning team and its per-capita (focal) return. How the games ended: won or lost",
            "before the time limit (the game's goal reached: every runner caught, the captures to win...) or at it",
            "on the score; draws are at the time limit.",
            "",
            "| method | mode | suite | perturbation | severity | win | draw | loss | per-capita return "
            "| won before / at the limit | lost before / at the limit |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in arena:
            o = s.get("outcomes", {})
            ended = (
                f"{o['win_decided']:.3f} / {o['win_at_time_limit']:.3f} | "
                f"{o['loss_decided']:.3f} / {o['loss_at_time_limit']:.3f}"
                if o
                else "— | —"
            )
            lines.append(
                f"| {s['method']} | {s['mode']} | {s['suite']} | {s['perturbation']} | {s['severity']:g} | "
                f"{s['success_rate']:.3f} | {s['draw_rate']:.3f} | {s['loss_rate']:.3f} | "
                f"{s['per_capita_return']:.3f} | {ended} |"
            )
    roles = [s for s in arena if s.get("roles") and s["perturbation"] == "none"]
    if roles:
        lines += [
            "",
            "### Roles",
            "",
            "What each learning agent did per game (capture the flag, unperturbed games): enemy flags picked up and",
            "brought home, times it was tagged and sent back to its base, and the share of the game it spent within",
            "2 steps of its own flag (guarding).",
            "",
            "| method | mode | suite | agent | pickups | captures | tagged | near own flag |",
            "|---|---|---|---|---:|---:|---:|---:|",
        ]
        for s in roles:
            for agent, r in s["roles"].items():
                lines.append(
                    f"| {s['method']} | {s['mode']} | {s['suite']} | {agent} | {r['pickups']:.2f} | "
                    f"{r['captures']:.2f} | {r['tagged']:.2f} | {r['home']:.2f} |"
                )
    return lines


def _cross_play(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Arenas: the cross-play matrix (teammates, or head to head with ratings)."""
    lines: list[str] = []
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
            f"Every run against every other on held-out arenas, both teams played by runs (or baselines), "
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
    return lines


def _sample_efficiency(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """Held-out success against training steps."""
    lines: list[str] = []
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
    return lines


def _drawn_mazes(summary: dict, plots: dict[str, Path | None], describe: dict[str, str]) -> list[str]:
    """The drawn mazes, maze by maze (:mod:`~mazearena.evaluation.mazes`), and the runs that could not play them."""
    from mazearena.evaluation.mazes import markdown_section

    drawn = summary.get("drawn_mazes")
    if drawn is None:
        return []
    lines = markdown_section(drawn, drawn["source"], plots.get("mazes")) if "methods" in drawn else []
    for skip in drawn["skipped"]:
        lines += [f"Drawn mazes skipped for {skip['run']} ({skip['method']}): it {skip['reason']}.", ""]
    return lines


REPORT_SECTIONS = (
    _methods,
    _per_condition,
    _across_runs,
    _drawn_mazes,
    _generalisation,
    _robustness,
    _games,
    _cross_play,
    _sample_efficiency,
)
"""The report's sections in order, each ``(summary, plots, describe) -> lines``."""
ON_SUCCESS = (_across_runs, _generalisation, _sample_efficiency)
"""The sections built on success rates, left out where the runs' envs have no notion of success (they would read
zeros); their plots are not drawn either."""


def markdown(summary: dict, title: str, plots: dict[str, Path | None], describe: dict[str, str]) -> str:
    """The evaluation report: the title, then each of :data:`REPORT_SECTIONS` that applies (an empty one is left
    out)."""
    lines = [f"# {title}", ""]
    for section in REPORT_SECTIONS:
        if summary.get("has_success", True) or section not in ON_SUCCESS:
            lines += section(summary, plots, describe)
    return "\n".join(lines) + "\n"


def write_eval(
    out: Path, cfg, runs, rows: list[dict], curves: list[dict], cross: dict | None, baselines=(), drawn=None
) -> dict:
    """episodes.csv, summary.json, report.md, the plots and the W&B eval job for ``mazearena eval``; ``baselines``
    (runs with a scripted team) played beside ``runs``; ``drawn``, the drawn mazes' episodes
    (:func:`~mazearena.evaluation.evaluate.drawn_mazes`)."""
    from mazearena.evaluation.mazes import plot_mazes, summarise_mazes

    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "episodes.csv")
    if curves:
        write_csv(curves, out / "sample_efficiency.csv")
    summary = summarise(rows, cfg.seed, cross, curves)
    maze_plot = None
    if drawn is not None:
        summary["drawn_mazes"] = {"source": str(drawn["source"]), "skipped": drawn["skipped"]}
        if drawn["rows"]:
            write_csv(drawn["rows"], out / "mazes.csv")
            summary["drawn_mazes"] |= summarise_mazes(drawn["rows"], cfg.seed)
            maze_plot = plot_mazes(summary["drawn_mazes"], drawn["source"], out / "mazes.png")
    summary["has_success"] = any(r.config.task.has_success for r in runs)  # else the envs have returns only
    summary["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()}
    summary["config"]["runs"] = [str(r.path) for r in runs]
    summary["checkpoint_steps"] = {r.name: r.step for r in runs}
    summary["baselines"] = {
        b.method: "the scenario's best scripted team ("
        + ", ".join(f"{a}: {Behaviour(spec.behaviour).value}" for a, spec in b.scripted.items())
        + "), playing from the whole game state"
        for b in baselines
    }
    summary["skipped_suites"] = [
        {"run": r.name, "method": r.method, "suite": suite, "reason": why}
        for r in runs
        for suite, why in (r.config.task.unavailable_suites(r.config).items() if not cfg.suites else ())
    ]
    curve_title = f"Sample efficiency ({cfg.modes[0]} policy)"
    rates = summary["has_success"]  # the success-rate plots (of the ON_SUCCESS sections) only where they mean something
    plots = {
        "intervals": plot_intervals(summary, out / "intervals.png") if rates else None,
        "profile": plot_profile(summary, out / "profile.png", cfg.seed) if rates else None,
        "severity": plot_severity(summary, out / "severity.png"),
        "cross_play": plot_cross_play(cross, out / "cross_play.png") if cross else None,
        "sample_efficiency": plot_curves(curves, out / "sample_efficiency.png", curve_title)
        if curves and rates
        else None,
        "mazes": maze_plot,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    title = "Evaluation of " + ", ".join(dict.fromkeys(r.method for r in runs))
    (out / "report.md").write_text(markdown(summary, title, plots, runs[0].config.task.suites))
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
