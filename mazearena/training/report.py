"""A run's report: the final evaluation on training and held-out levels, the learning curve, the video and,
for self-play, the league's win-rate table (``report.md``, ``report.json``, ``curve.png``, ``league.png``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mazearena.agents.league import League
from mazearena.training.config import TrainConfig
from mazearena.training.games import EVAL_ENVS, eval_games, evaluate_policy
from mazearena.training.loggers import Logger, read_metrics


def write_report(
    cfg: TrainConfig,
    policy: torch.nn.Module,
    run_dir: Path,
    logger: Logger,
    step: int,
    league: League | None = None,
    stopped: dict | None = None,
) -> dict:
    """Final evaluation on training and held-out levels, the learning curve and a video, as report.md/json;
    for self-play, the win-rate table of the league's snapshots; for an adversary, its victim's table;
    ``stopped``: the evaluation that ended training early."""
    train_result, test_result = _final_evaluations(cfg, policy, logger)
    report = _numbers(cfg, run_dir, step, train_result, test_result, stopped)
    _save(run_dir, report)
    curve, video = _curve_and_video(cfg, policy, run_dir, logger, step, test_result)
    lines = _results_lines(cfg, run_dir, step, report)
    if league is not None:
        report["league"] = league_table(cfg, policy, league, run_dir, track=logger.task)
        logger.log_image(run_dir / "league.png", step, "league/win_rates")
        _save(run_dir, report)
        lines += league_lines(report["league"])
    if cfg.adversary_of is not None:
        from mazearena.training.adversary import victim_lines, victim_table

        done = logger.task("the victim against its opponents", 1)
        report["victim"] = victim_table(cfg, policy, cfg.eval_episodes, cfg.seed + 5)
        done()
        _save(run_dir, report)
        lines += victim_lines(cfg, report["victim"])
    if curve is not None:
        lines += [f"![learning curve]({curve.name})", ""]
    if video is not None:
        lines += [f"![held-out episodes]({video.name})", ""]
    (run_dir / "report.md").write_text("\n".join(lines))
    return report


def _save(run_dir: Path, report: dict) -> None:
    """report.json as it stands (written again as the league's and the victim's tables are added)."""
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))


def _final_evaluations(cfg: TrainConfig, policy: torch.nn.Module, logger: Logger) -> tuple[dict, dict]:
    """The trained policy on the training split and on the held-out one, ``eval_episodes`` each."""
    task, results = cfg.task, []
    for test, seed in ((False, cfg.seed + 2), (True, cfg.seed + 3)):
        n = eval_games(cfg.eval_episodes)[1]  # whole rounds of games are played
        what = f"final evaluation, {'held-out' if test else 'training'} {task.levels} ({task.unit})"
        advance = logger.task(what, n)
        results.append(evaluate_policy(policy, cfg, test=test, episodes=cfg.eval_episodes, seed=seed, advance=advance))
    return results[0], results[1]


def _numbers(
    cfg: TrainConfig, run_dir: Path, step: int, train_result: dict, test_result: dict, stopped: dict | None
) -> dict:
    """What report.json holds: the summary (success on both splits, their gap, returns, when held-out success
    first reached 95%), both evaluations and, if it did, the evaluation that ended training early."""
    summary = {
        "train_success": train_result["success_rate"],
        "test_success": test_result["success_rate"],
        "generalisation_gap": train_result["success_rate"] - test_result["success_rate"],
        "train_return": train_result["mean_return"],
        "test_return": test_result["mean_return"],
        "steps": step,
    } | first_reaching(run_dir, 0.95)
    report = {
        "run": run_dir.name,
        "config": cfg.to_dict(),
        "summary": summary,
        "train_levels": train_result,
        "test_levels": test_result,
    }
    if stopped is not None:
        report["stopped_early"] = stopped
    return report


def _curve_and_video(
    cfg: TrainConfig, policy: torch.nn.Module, run_dir: Path, logger: Logger, step: int, test_result: dict
) -> tuple[Path | None, Path | None]:
    """curve.png with the final held-out result as a point, and episodes.gif (``video_episodes`` of them)."""
    task = cfg.task
    final = (step, test_result["success_rate"] if task.has_success else test_result["mean_return"])
    curve = plot_curve(run_dir, final=final, **task.curve())
    if curve is not None:
        logger.log_image(curve, step, "curve")
    video = None
    if cfg.video_episodes:
        done = logger.task(f"video of {cfg.video_episodes} held-out {task.unit}", 1)
        video = task.record(cfg, policy, run_dir / "episodes.gif")
        done()
    if video is not None:
        logger.log_video(video, step)
    return curve, video


def _results_lines(cfg: TrainConfig, run_dir: Path, step: int, report: dict) -> list[str]:
    """The report's head: what was trained, the table of both splits, the gap, an early stop, the step at 95%."""
    summary, stopped = report["summary"], report.get("stopped_early")
    lines = [
        f"# {run_dir.name}",
        "",
        cfg.task.describe(cfg, step),
        "",
    ]
    splits = (("training", report["train_levels"]), ("held-out", report["test_levels"]))
    if cfg.task.has_success:
        lines += ["| levels | episodes | success (95% CI) | mean return | mean length |", "|---|---:|---:|---:|---:|"]
        for name, r in splits:
            lo, hi = r["success_ci95"]
            lines.append(
                f"| {name} | {r['episodes']} | {r['success_rate']:.3f} ({lo:.3f}–{hi:.3f}) | "
                f"{r['mean_return']:.3f} | {r['mean_length']:.1f} |"
            )
        lines += ["", f"Generalisation gap (training − held-out success): {summary['generalisation_gap']:+.3f}", ""]
    else:  # no notion of success: the returns
        lines += ["| levels | episodes | mean return | mean length |", "|---|---:|---:|---:|"]
        lines += [
            f"| {name} | {r['episodes']} | {r['mean_return']:.3f} | {r['mean_length']:.1f} |" for name, r in splits
        ]
        gap = splits[0][1]["mean_return"] - splits[1][1]["mean_return"]
        lines += ["", f"Generalisation gap (training − held-out mean return): {gap:+.3f}", ""]
    if stopped is not None:
        lines += [stopped_line(stopped), ""]
    if summary.get("steps_to_95") is not None:
        lines += [
            f"Held-out success first reached 95% at {summary['steps_to_95']:,} steps, after "
            f"{summary['seconds_to_95']:.0f} s of training.",
            "",
        ]
    return lines


def stopped_line(stopped: dict) -> str:
    """What ended a run early, in a sentence."""
    lo, hi = stopped["ci95"]
    which = "the lower end of its 95% interval" if stopped["lower_bound"] else "it"
    return (
        f"Training stopped early at {stopped['step']:,} steps: held-out {stopped['metric']} {stopped['rate']:.3f} "
        f"(95% CI {lo:.3f}–{hi:.3f}) at that evaluation, and {which} reached the target {stopped['target']:g}."
    )


LEAGUE_TABLE_SNAPSHOTS = 6


def league_table(
    cfg: TrainConfig, policy: torch.nn.Module, league: League, run_dir: Path, games: int | None = None, track=None
) -> dict:
    """Up to six league snapshots, evenly spread from the untrained one to the latest, play each other on
    held-out arenas (``games`` per pair, half on each side; default ``eval_episodes``); writes league.png.
    ``track(description, total)`` gives a callable advanced once per pair (a progress bar)."""
    from mazearena.agents.league import win_rate_table
    from mazearena.stats.ratings import games_from_table, rate_games

    k = len(league)
    picks = sorted({round(i * (k - 1) / (LEAGUE_TABLE_SNAPSHOTS - 1)) for i in range(LEAGUE_TABLE_SNAPSHOTS)})
    snapshots = [league.snapshots[i] for i in picks]
    iterations = [league.iterations[i] for i in picks]
    steps = [i * cfg.iteration_steps for i in iterations]
    per_pair = games or cfg.eval_episodes
    slots = min(EVAL_ENVS, max(1, per_pair // 2))  # every slot plays as many games; none wasted
    table = win_rate_table(
        lambda: cfg.task.make_envs(cfg, slots, test=True, seed=cfg.seed + 5, both_teams=True),
        policy,
        snapshots,
        cfg.trained_team,
        per_pair,
        track("league table", len(picks) * (len(picks) - 1) // 2) if track and len(picks) > 1 else None,
    )
    table |= {"steps": steps, "games_per_pair": per_pair}
    table["ratings"] = rate_games(
        [f"{s:,}" for s in steps], games_from_table(table["win"], table["draw"], per_pair), seed=cfg.seed
    )
    plot_league(table, run_dir / "league.png")
    return table


def league_lines(table: dict) -> list[str]:
    """The league table as Markdown: row snapshot's win rate against column snapshot."""
    steps = table["steps"]
    head = "| wins of ↓ against → | " + " | ".join(f"{s:,}" for s in steps) + " | rating (95%) |"
    lines = [
        "## Self-play league",
        "",
        f"Snapshots (by training steps) against each other on held-out arenas, {table['games_per_pair']} "
        "games per pair, half on each side; cell = share of games the row snapshot won (draws count for "
        "neither); rating: openskill (Plackett–Luce) mu with its 95% interval, from the same games.",
        "",
        head,
        "|---|" + "---:|" * (len(steps) + 1),
    ]
    for i, s in enumerate(steps):
        cells = ["—" if i == j else f"{w:.2f}" for j, w in enumerate(table["win"][i])]
        r = table["ratings"][i]
        lines.append(f"| {s:,} | " + " | ".join(cells) + f" | {r['mu']:.1f} ({r['low']:.1f}–{r['high']:.1f}) |")
    return [*lines, "", "![league win rates](league.png)", ""]


def plot_league(table: dict, path: Path) -> Path:
    """A heatmap of the league table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    win = np.array(table["win"], dtype=float)
    np.fill_diagonal(win, np.nan)
    labels = [f"{s / 1000:.0f}k" for s in table["steps"]]
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    image = ax.imshow(win, cmap="RdBu", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if i != j:
                dark = abs(win[i, j] - 0.5) > 0.3
                ax.text(
                    j, i, f"{win[i, j]:.2f}", ha="center", va="center", fontsize=8, color="white" if dark else "black"
                )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("opponent snapshot (training steps)")
    ax.set_ylabel("snapshot (training steps)")
    ax.set_title("win rate of row against column")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def first_reaching(run_dir: Path, target: float) -> dict:
    """Steps and training seconds at the first evaluation whose held-out success reached ``target``."""
    for row in read_metrics(run_dir / "metrics.jsonl"):
        if row.get("eval/success_rate", -1) >= target:
            return {"steps_to_95": row["step"], "seconds_to_95": row.get("time")}
    return {"steps_to_95": None, "seconds_to_95": None}


def plot_curve(
    run_dir: Path, arena: bool = False, final: tuple[int, float] | None = None, returns: bool = False
) -> Path | None:
    """curve.png: training success and held-out success against env steps (game steps and arenas for arena
    runs), from metrics.jsonl, with the final held-out evaluation (``final``: step, success) as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir / "metrics.jsonl")
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    held_out = "held-out arenas" if arena else "evaluation episodes" if returns else "held-out levels"
    curves = (
        (("episode/return", "training episodes"), ("eval/return", held_out))  # envs without success
        if returns
        else (
            ("episode/success", "training games won" if arena else "training episodes"),
            ("episode/win_rate", "training games won"),  # runs from before MAPPO logged episode/success
            ("eval/success_rate", held_out),
        )
    )
    for key, label in curves:
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            x, y = zip(*points, strict=True)
            ax.plot(x, y, marker="o" if key.startswith("eval") else None, label=label)
    if final is not None:
        ax.plot(*final, marker="*", markersize=12, linestyle="none", color="black", label=f"{held_out}, final")
    ax.set_xlabel("game steps" if arena else "env steps")
    ax.set_ylabel("return" if returns else "win rate" if arena else "success rate")
    if not returns:
        ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    else:  # a run too short for any episode to end or any evaluation to run
        ax.text(0.5, 0.5, "no episode finished yet", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    path = run_dir / "curve.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
