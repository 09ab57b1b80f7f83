"""Drawn mazes in ``mazearena eval``: every run plays every text map of a folder (the named set by default) the same
number of episodes, and the report gives each maze's solve rate and steps with 95% intervals, the mean over the
mazes, and a picture of the mazes coloured by solve rate.

The mean's interval is a two-level bootstrap: runs (seeds) resampled, then each run's episodes on each maze (as
binomial draws), so it holds the spread between seeds and the luck of the episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mazearena.checks import UserError
from mazearena.stats.metrics import bootstrap_mean_ci, wilson_interval

NAMED = "named"
"""``--mazes``: the named set shipped with the package."""
NONE = "none"
"""``--mazes``: no drawn mazes."""


def maze_source(spec: str) -> Path | None:
    """The folder (or file) of text maps ``--mazes`` names: the named set for ``named``, ``None`` for ``none``;
    a path must hold readable maps (errors name the file, line and column)."""
    from mazearena.envs.engine.textmap import read_layouts
    from mazearena.mazes import FOLDER

    if spec == NONE:
        return None
    path = FOLDER if spec == NAMED else Path(spec)
    try:
        read_layouts(str(path), "mazes")
    except ValueError as e:
        raise UserError(str(e)) from None
    return path


def check_request(spec: str, runs: list) -> None:
    """A folder of maps asked for by name (not the default set) must have a run that can play it."""
    if spec in (NAMED, NONE) or any(unavailable(r) is None for r in runs):
        return
    why = "; ".join(f"{r.name} {unavailable(r)}" for r in runs)
    raise UserError(f"mazes {spec!r}: no run here plays drawn mazes ({why})")


def unavailable(run) -> str | None:
    """Why ``run`` cannot play drawn mazes, or ``None`` if it can."""
    task = run.config.task
    if task.kind != "maze" or run.scripted is not None:
        return f"plays {task.env_name(run.config)}, not mazearena's mazes"
    maze = run.config.env.maze_config(test=True)  # options unset in the run are its env id's
    if maze.obs_mode.value == "full":
        return "observes the whole grid (obs_mode 'full'), whose shape changes with the maze"
    if maze.variant.value == "memory":
        return "was trained on memory mazes (a cue and coloured goals no map draws)"
    return None


def play_mazes(cfg, run, mode: str, source: Path, advance=None) -> list[dict]:
    """``cfg.maze_episodes`` episodes of ``run`` on every maze of ``source`` (each game slot keeps one maze), as
    rows: method, run, seed, mode, maze, success, length, return."""
    import mazearena
    from mazearena.agents.episodes import play_episodes
    from mazearena.envs.engine.textmap import layout_names, read_layouts
    from mazearena.training.runs import make_actor

    texts, names = read_layouts(str(source)), layout_names(str(source))
    per_maze = cfg.maze_episodes
    games = slots_per_maze(cfg, len(texts))
    env_cfg = run.config.env
    # the run's maze options, the drawn levels instead of its own, their grid's time limit
    kwargs = env_cfg.make_kwargs(test=True) | {"layouts": texts, "max_steps": None, "num_levels": 0, "start_level": 0}
    env = mazearena.make_vec(env_cfg.env_id, games * len(texts), device=cfg.device, seed=cfg.seed, **kwargs)
    mazes = torch.arange(env.num_envs, device=env.device) % len(texts)
    env.engine.choose_levels = lambda idx: mazes[idx]  # every episode of a slot on its own maze
    actor = make_actor(run.config, run.policy, mode != "stochastic")
    with torch.no_grad():
        records = play_episodes(env, actor, env.num_envs * (per_maze // games), advance)
    return [
        {
            "method": run.method,
            "run": run.name,
            "seed": run.seed,
            "mode": mode,
            "maze": names[level],
            "success": bool(success),
            "length": int(length),
            "return": float(ret),
        }
        for level, success, length, ret in zip(
            records["level_id"], records["success"], records["length"], records["return"], strict=True
        )
    ]


def episodes_owed(cfg, source: Path) -> int:
    """Episodes :func:`play_mazes` plays for one run and mode."""
    from mazearena.envs.engine.textmap import read_layouts

    return len(read_layouts(str(source))) * cfg.maze_episodes


def slots_per_maze(cfg, mazes: int) -> int:
    """Game slots given to each maze: the most (within ``num_envs`` in all) that share ``maze_episodes`` evenly."""
    cap = max(1, min(cfg.maze_episodes, cfg.num_envs // mazes))
    return max(d for d in range(1, cap + 1) if cfg.maze_episodes % d == 0)


def summarise_mazes(rows: list[dict], seed: int = 0, reps: int = 2000) -> dict:
    """Per method and mode: each maze's solve rate (Wilson 95% interval) and mean steps of the solved episodes
    (bootstrap interval), and the mean solve rate over mazes with its two-level bootstrap interval."""
    out: dict = {"mazes": sorted({r["maze"] for r in rows}), "methods": {}}
    rng = np.random.default_rng(seed)
    for method, mode in dict.fromkeys((r["method"], r["mode"]) for r in rows):
        mine = [r for r in rows if r["method"] == method and r["mode"] == mode]
        runs = list(dict.fromkeys(r["run"] for r in mine))
        per_maze = []
        wins = np.zeros((len(runs), len(out["mazes"])))
        counts = np.zeros_like(wins)
        for j, maze in enumerate(out["mazes"]):
            here = [r for r in mine if r["maze"] == maze]
            solved = [r["length"] for r in here if r["success"]]
            low, high = wilson_interval(len(solved), len(here))
            steps = float(np.mean(solved)) if solved else None
            steps_ci = bootstrap_mean_ci(solved, seed=seed) if len(solved) > 1 else (steps, steps)
            per_maze.append(
                {
                    "maze": maze,
                    "episodes": len(here),
                    "success": len(solved) / len(here),
                    "low": low,
                    "high": high,
                    "steps": steps,
                    "steps_low": steps_ci[0],
                    "steps_high": steps_ci[1],
                }
            )
            for i, run in enumerate(runs):
                theirs = [r["success"] for r in here if r["run"] == run]
                wins[i, j], counts[i, j] = sum(theirs), len(theirs)
        rates = wins / np.maximum(counts, 1)
        picks = rng.integers(0, len(runs), size=(reps, len(runs)))
        n = counts[picks]  # [reps, runs, mazes]
        draws = rng.binomial(n.astype(np.int64), rates[picks]) / np.maximum(n, 1)
        means = draws.mean(axis=(1, 2))
        out["methods"].setdefault(method, {})[mode] = {
            "mazes": per_maze,
            "mean": float(rates.mean()),
            "low": float(np.quantile(means, 0.025)),
            "high": float(np.quantile(means, 0.975)),
            "runs": {run: float(rates[i].mean()) for i, run in enumerate(runs)},
        }
    return out


def markdown_section(summary: dict, source: str, plot: Path | None) -> list[str]:
    """The report's section: a table of mazes by method (solve rate, 95% interval, steps when solved)."""
    columns = [(m, mode) for m, modes in summary["methods"].items() for mode in modes]
    label = {c: c[0] if len({mode for _, mode in columns}) == 1 else f"{c[0]} ({c[1]})" for c in columns}
    lines = [
        "## Drawn mazes",
        "",
        f"Every maze of `{source}`, the same number of episodes each: solve rate with its 95% Wilson interval, and "
        "the mean steps of the solved episodes. The mean over mazes has a two-level bootstrap interval (seeds, then "
        "episodes).",
        "",
        "| maze | " + " | ".join(label[c] for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for j, maze in enumerate(summary["mazes"]):
        cells = []
        for m, mode in columns:
            s = summary["methods"][m][mode]["mazes"][j]
            steps = f", {s['steps']:.0f} steps" if s["steps"] is not None else ""
            cells.append(f"{s['success']:.2f} [{s['low']:.2f}, {s['high']:.2f}]{steps}")
        lines.append(f"| {maze} | " + " | ".join(cells) + " |")
    means = [summary["methods"][m][mode] for m, mode in columns]
    lines.append("| **mean** | " + " | ".join(f"**{s['mean']:.3f}** [{s['low']:.3f}, {s['high']:.3f}]" for s in means))
    lines[-1] += " |"
    lines.append("")
    if plot is not None:
        lines += [f"![drawn mazes coloured by solve rate]({plot.name})", ""]
    return lines


def plot_mazes(summary: dict, source: Path, path: Path, tile: int = 12, dpi: int = 90) -> Path:
    """The mazes in a grid, rows of six a method, each tinted by its solve rate (red 0 to green 1); ``tile`` pixels
    a cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mazearena.envs.engine.cells import Cell
    from mazearena.envs.engine.textmap import layout_names, parse, read_layouts
    from mazearena.envs.render import level_picture

    levels = dict(
        zip(
            layout_names(str(source)),
            (parse(t) for t in read_layouts(str(source))),
            strict=True,
        )
    )
    columns = [(m, mode) for m, modes in summary["methods"].items() for mode in modes]
    mazes = summary["mazes"]
    cmap = matplotlib.colormaps["RdYlGn"]
    wide = min(6, len(mazes))  # mazes per row; a method's mazes take rows of their own
    per_method = -(-len(mazes) // wide)
    fig, axes = plt.subplots(
        per_method * len(columns), wide, figsize=(1.9 * wide, 2.4 * per_method * len(columns)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for row, (m, mode) in enumerate(columns):
        for j, maze in enumerate(mazes):
            ax, level = axes[row * per_method + j // wide, j % wide], levels[maze]
            rate = summary["methods"][m][mode]["mazes"][j]["success"]
            picture = level_picture(level, tile).astype(np.float32) / 255
            px = picture.shape[0] // level.grid.shape[0]
            floor = np.kron((level.grid != int(Cell.WALL)).numpy().astype(np.float32), np.ones((px, px)))[..., None]
            picture = picture * (1 - 0.45 * floor) + np.asarray(cmap(rate)[:3]) * 0.45 * floor
            ax.imshow(picture)
            name = m if len({md for _, md in columns}) == 1 else f"{m} ({mode})"
            ax.set_title(f"{name}: {maze}\n{rate:.2f}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
