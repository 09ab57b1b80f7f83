"""The logger facade: algorithms hand metrics to :class:`Logger`, which fans them out to the console
(a rich progress bar), the run folder (``metrics.jsonl`` and ``metrics.csv``), Weights & Biases (offline
unless asked otherwise) and, optionally, TensorBoard. Nothing else in mazearena imports wandb."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mazearena.checks import UserError, require
from mazearena.training.checkpoint import atomic_write


def read_metrics(path: Path, on_torn_tail: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl``. A line that is not a JSON object with a ``step`` is an error naming the
    file and the line; with ``on_torn_tail``, an incomplete last line (a write cut short by a kill, maybe
    NUL-padded) is left out instead and ``on_torn_tail`` is told what was dropped."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n") if path.exists() else []
    while lines and not lines[-1].strip("\x00 \t\r"):
        lines.pop()  # the end of the file (and NUL padding after the last write)
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.strip("\x00"))
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                raise ValueError("not a row of metrics")
        except ValueError as e:
            if number == len(lines) and on_torn_tail is not None:
                on_torn_tail(f"{path}: dropped the incomplete last line {number} ({line[:40]!r}...)")
                break
            raise UserError(f"{path}, line {number}: not a metrics row ({e}): {line[:80]!r}") from None
        rows.append(row)
    return rows


def first_reaching(rows: list[dict[str, Any]], target: float, key: str = "eval/success_rate") -> dict | None:
    """The first held-out evaluation of a run's metrics ``rows`` whose ``key`` reached ``target``: its ``step`` and
    ``seconds`` (the run's training wall-clock then, evaluations included); ``None`` if none did."""
    for row in rows:
        if key in row and row[key] >= target:
            return {"step": row["step"], "seconds": row["time"]}
    return None


def check_wandb(mode: str):
    """The ``wandb`` module for logging in ``mode``, or an error naming what is missing (the extra, or the API
    key that ``online`` needs)."""
    wandb = require("wandb")
    if mode == "online" and not os.environ.get("WANDB_API_KEY"):
        raise UserError("wandb_mode 'online' needs WANDB_API_KEY in the environment; use 'offline' to log locally")
    return wandb


def artifact_name(name: str) -> str:
    """``name`` as a valid W&B artifact name (letters, digits, ``-``, ``_`` and ``.``): sweep trial folders are
    named ``learning_rate=0.0003,seed=0``, which W&B refuses."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite a run's ``metrics.jsonl`` and ``metrics.csv`` to hold ``rows`` (each file replaced atomically)."""
    run_dir = Path(run_dir)
    fields = list(dict.fromkeys(["step", *(k for row in rows for k in row)]))
    for name, write in (
        ("metrics.jsonl", lambda f: f.writelines(json.dumps(row) + "\n" for row in rows)),
        ("metrics.csv", lambda f: (w := csv.DictWriter(f, fields)).writeheader() or w.writerows(rows)),
    ):
        atomic_write(run_dir / name, write)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


STATUS = (
    ("sps", "sps", "{:,.0f}"),
    ("episode/return", "return", "{:.3g}"),
    ("episode/success", "success", "{:.3f}"),
    ("episode/length", "length", "{:.1f}"),
    ("eval/success_rate", "eval success", "{:.3f}"),
    ("eval/return", "eval return", "{:.3g}"),
)
"""The metrics a progress line shows: key, label, format."""


class ConsoleProgress:
    """Training progress for a person. On a terminal, a rich progress bar; on anything else (a log file, the
    output of a batch job) a plain line every ``interval`` seconds and at the end: step, rate, the latest
    episode statistics (those of the latest window of finished episodes, until the next one), elapsed time and
    ETA. The ETA is this process's own average rate over the steps it
    trained, so it shows from the second update on however far apart updates are. Work after training (the
    final evaluations, the video) shows as tasks of its own."""

    def __init__(self, total: int, start_step: int = 0, interval: float = 10.0, terminal: bool | None = None):
        self.total, self.start_step, self.interval = total, start_step, interval
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self.t0 = self._last = time.monotonic()
        self._printed_at = -math.inf
        self._episodes: dict[str, float] = {}  # the latest window's statistics
        self._bar = None
        if self.terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("eta {task.fields[eta]}"),
            )
            self._bar.start()
            self._task = self._bar.add_task("training", total=total, completed=start_step, status="", eta="-:--:--")

    def eta(self, step: int) -> str:
        done, seconds = step - self.start_step, time.monotonic() - self.t0
        if done <= 0 or seconds <= 0:
            return "-:--:--"
        return _clock((self.total - step) * seconds / done)

    def update(self, step: int, metrics: dict[str, float], last: bool = False) -> None:
        self._episodes |= {k: v for k, v in metrics.items() if k.startswith("episode/")}
        metrics = {**self._episodes, **metrics}
        status = "  ".join(f"{label} {fmt.format(metrics[k])}" for k, label, fmt in STATUS if k in metrics)
        if self._bar is not None:
            self._bar.update(self._task, completed=min(step, self.total), status=status, eta=self.eta(step))
            return
        now = time.monotonic()
        if now - self._printed_at >= self.interval or step >= self.total or last:
            self._printed_at = now
            parts = [f"step {step:,}/{self.total:,} ({100 * step / max(self.total, 1):.0f}%)"]
            parts += [f"{label} {fmt.format(metrics[k])}" for k, label, fmt in STATUS if k in metrics]
            parts += [f"elapsed {_clock(now - self.t0)}", f"eta {self.eta(step)}"]
            print("[train] " + " | ".join(parts), flush=True)

    def log_table(self, key: str, columns: list[str], rows: list[list], step: int) -> None:
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Table(columns=columns, data=rows)}, step=step)

    def task(self, description: str, total: int) -> Callable[..., None]:
        if self._bar is not None:
            self._bar.update(self._task, description="training (done)")
            task = self._bar.add_task(description, total=total, status="", eta="")
            return lambda k=1: self._bar.advance(task, k)
        started, done = time.monotonic(), [0]
        printed = [started]  # the 0/total line
        print(f"[{description}] 0/{total}", flush=True)

        def advance(k: int = 1) -> None:
            done[0] += k
            now = time.monotonic()
            if done[0] >= total or now - printed[0] >= self.interval:
                printed[0] = now
                end = f" in {_clock(now - started)}" if done[0] >= total else ""
                print(f"[{description}] {min(done[0], total)}/{total}{end}", flush=True)

        return advance

    def note(self, text: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if self._bar is not None:
            self._bar.console.print(text, soft_wrap=True, highlight=False)
        else:
            print(text, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _run_name(folder: str, seed) -> str:
    """A W&B run's name: its folder's, which tells the seeds of a group apart (``ppo-cnn-9x9-seed1``); a folder
    named otherwise gets its seed beside it (``mine (seed 1)``)."""
    return folder if seed is None or re.search(rf"seed[-_=]?{seed}\b", folder) else f"{folder} (seed {seed})"


class Logger:
    """Metrics, videos and checkpoints of one run, to every sink that is switched on."""

    def __init__(
        self,
        run_dir: Path,
        config: dict[str, Any],
        total_steps: int,
        *,
        console: bool = True,
        wandb_mode: str = "offline",
        wandb_project: str = "mazearena",
        wandb_group: str = "",
        wandb_tags: tuple[str, ...] = (),
        tensorboard: bool = False,
        start_step: int = 0,
        history: list[dict[str, Any]] | None = None,
        progress_interval: float = 10.0,
    ) -> None:
        """``history``: the rows a resumed run already holds (``metrics.jsonl`` up to its checkpoint); W&B gets
        again those it may have lost (a kill loses what its writer had not flushed), so that its run ends up
        with every row ``metrics.jsonl`` has."""
        self.run_dir = Path(run_dir)
        self.total_steps = total_steps
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a")  # noqa: SIM115 - kept open for the run
        self._csv_path = self.run_dir / "metrics.csv"
        self._csv_fields: list[str] | None = None
        if self._csv_path.exists() and self._csv_path.stat().st_size:
            with open(self._csv_path) as f:
                self._csv_fields = next(csv.reader(f), None)
        self._console = ConsoleProgress(total_steps, start_step, interval=progress_interval) if console else None
        self._wandb = None
        if wandb_mode != "disabled":
            self._wandb = self._start_wandb(config, wandb_mode, wandb_project, wandb_group, wandb_tags)
            known = self._wandb.step  # online: the step after the last one the server holds; offline: 0
            for row in history or ():
                if row["step"] >= known:
                    values = {k: v for k, v in row.items() if k != "step"}
                    self._wandb.log(values | {"global_step": row["step"]}, step=row["step"])
        self._tb = None
        if tensorboard:
            require("tensorboard")
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def _start_wandb(self, config, mode, project, group, tags):
        wandb = check_wandb(mode)
        id_file = self.run_dir / "wandb_id.txt"
        run_id = id_file.read_text(errors="replace").strip() if id_file.exists() else ""
        if not re.fullmatch(r"[0-9a-z]{8,64}", run_id):  # none yet, or a damaged file: a new W&B run
            run_id = uuid.uuid4().hex[:12]
            id_file.write_text(run_id)
        # resume="allow": a resumed training run continues the same W&B run
        run = wandb.init(
            project=project,
            group=group or None,
            tags=list(tags),
            config=config,
            id=run_id,
            resume="allow",
            mode=mode,
            dir=str(self.run_dir),
            name=_run_name(self.run_dir.name, config.get("seed")),
            settings=wandb.Settings(silent=True, console="off"),
        )
        run.define_metric("global_step")  # env steps (game steps on arenas): the x-axis of every metric
        run.define_metric("*", step_metric="global_step")
        return run

    def log(self, metrics: dict[str, float], step: int, last: bool = False) -> None:
        """One row of metrics at ``step`` to every sink (``last``: the run's last row, always shown)."""
        clean = {k: float(v) for k, v in metrics.items() if v is not None}  # NaN and inf too: never dropped
        self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
        self._jsonl.flush()
        self._write_csv(step, clean)
        if self._wandb is not None:
            self._wandb.log(clean | {"global_step": step}, step=step)
        if self._tb is not None:
            for k, v in clean.items():
                self._tb.add_scalar(k, v, step)
        if self._console is not None:
            self._console.update(step, clean, last)

    def _write_csv(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **metrics}
        if self._csv_fields is None or not set(row) <= set(self._csv_fields):
            # a new metric appeared: rewrite the file with the wider header (JSONL keeps everything anyway)
            old = []
            if self._csv_fields:
                with open(self._csv_path, newline="") as f:
                    old = list(csv.DictReader(f))
            self._csv_fields = list(dict.fromkeys([*(self._csv_fields or ["step"]), *row]))
            with open(self._csv_path, "w", newline="") as f:
                writer = csv.DictWriter(f, self._csv_fields)
                writer.writeheader()
                writer.writerows(old)
        with open(self._csv_path, "a", newline="") as f:
            csv.DictWriter(f, self._csv_fields).writerow(row)

    def log_video(self, path: Path, step: int, key: str = "eval/video") -> None:
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Video(str(path), format=Path(path).suffix[1:])}, step=step)

    def log_image(self, path: Path, step: int, key: str) -> None:
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Image(str(path))}, step=step)

    def log_table(self, key: str, columns: list[str], rows: list[list], step: int) -> None:
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Table(columns=columns, data=rows)}, step=step)

    def task(self, description: str, total: int) -> Callable[..., None]:
        """Progress of work after training (the final evaluations, the video, the league table):
        ``advance(k=1)`` as units are done; a no-op without a console."""
        if self._console is None:
            return lambda k=1: None
        return self._console.task(description, total)

    def note(self, text: str) -> None:
        """A line for the person watching (the console only)."""
        if self._console is not None:
            self._console.note(text)

    def log_checkpoint(self, path: Path, aliases: tuple[str, ...] = ("latest",)) -> None:
        if self._wandb is not None:
            import wandb

            artifact = wandb.Artifact(artifact_name(f"{self.run_dir.name}-model"), type="model")
            artifact.add_file(str(path))
            self._wandb.log_artifact(artifact, aliases=list(aliases))

    def summary(self, values: dict[str, Any]) -> None:
        if self._wandb is not None:
            self._wandb.summary.update(values)

    def close(self) -> None:
        if self._console is not None:
            self._console.stop()
        self._jsonl.close()
        if self._wandb is not None:
            self._wandb.finish()
        if self._tb is not None:
            self._tb.close()


def log_eval(out: Path, summary: dict, plots: dict[str, Path], *, mode: str, project: str, group: str) -> None:
    """An evaluation as a W&B ``eval`` job in ``group`` (the run's group): the per-condition table, the
    aggregates and robustness tables, and the plots as images; the offline run lives in ``out``."""
    wandb = check_wandb(mode)
    run = wandb.init(
        project=project,
        group=group,
        job_type="eval",
        name=f"eval-{group}",
        dir=str(out),
        mode=mode,
        config=summary.get("config", {}),
        settings=wandb.Settings(silent=True, console="off"),
    )
    try:
        columns = [
            "method",
            "mode",
            "suite",
            "perturbation",
            "severity",
            "episodes",
            "success_rate",
            "success_low",
            "success_high",
            "mean_return",
            "mean_length",
        ]
        rows = [
            [
                c["method"],
                c["mode"],
                c["suite"],
                c["perturbation"],
                c["severity"],
                c["episodes"],
                c["success_rate"],
                *c["success_ci95"],
                c["mean_return"],
                c["mean_length"],
            ]
            for c in summary["conditions"]
        ]
        logged = {"eval/conditions": wandb.Table(columns=columns, data=rows)}
        agg = [
            [m, mode_, k, v["value"], v["low"], v["high"]]
            for m, by_mode in summary["aggregates"].items()
            for mode_, a in by_mode.items()
            for k, v in a.items()
            if isinstance(v, dict)
        ]
        logged["eval/aggregates"] = wandb.Table(columns=["method", "mode", "metric", "value", "low", "high"], data=agg)
        if summary["robustness"]:
            rob = [
                [r["method"], r["mode"], r["perturbation"], r["auc"], r["worst_ratio"]] for r in summary["robustness"]
            ]
            logged["eval/robustness"] = wandb.Table(
                columns=["method", "mode", "perturbation", "auc", "worst_ratio"], data=rob
            )
        drawn = summary.get("drawn_mazes", {}).get("methods", {})
        if drawn:
            maze_rows = [
                [m, mode_, s["maze"], s["episodes"], s["success"], s["low"], s["high"], s["steps"]]
                for m, by_mode in drawn.items()
                for mode_, d in by_mode.items()
                for s in d["mazes"]
            ]
            columns = ["method", "mode", "maze", "episodes", "success_rate", "success_low", "success_high", "steps"]
            logged["eval/drawn_mazes"] = wandb.Table(columns=columns, data=maze_rows)
        for name, path in plots.items():
            logged[f"eval/{name}"] = wandb.Image(str(path))
        run.log(logged)
        for m, by_mode in drawn.items():
            for mode_, d in by_mode.items():
                run.summary[f"{m}/{mode_}/drawn_mazes_mean"] = d["mean"]
        for m, by_mode in summary["aggregates"].items():
            for mode_, a in by_mode.items():
                run.summary[f"{m}/{mode_}/iqm"] = a["iqm"]["value"]
    finally:
        run.finish()
