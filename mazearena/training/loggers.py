"""The logger facade: algorithms hand metrics to :class:`Logger`, which fans them out to the console
(a rich progress bar), the run folder (``metrics.jsonl`` and ``metrics.csv``), Weights & Biases (offline
unless asked otherwise) and, optionally, TensorBoard. Nothing else in mazearena imports wandb."""

from __future__ import annotations

import csv
import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mazearena.checks import UserError, require


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


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite a run's ``metrics.jsonl`` and ``metrics.csv`` to hold ``rows`` (each file replaced atomically)."""
    run_dir = Path(run_dir)
    fields = list(dict.fromkeys(["step", *(k for row in rows for k in row)]))
    for name, write in (
        ("metrics.jsonl", lambda f: f.writelines(json.dumps(row) + "\n" for row in rows)),
        ("metrics.csv", lambda f: (w := csv.DictWriter(f, fields)).writeheader() or w.writerows(rows)),
    ):
        tmp = run_dir / f".{name}.tmp"
        with open(tmp, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, run_dir / name)


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
        self._progress = self._task = None
        if console:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = (
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._progress = Progress(*columns)
            self._progress.start()
            self._task = self._progress.add_task("train", total=total_steps, completed=start_step, status="")
        self._wandb = None
        if wandb_mode != "disabled":
            self._wandb = self._start_wandb(config, wandb_mode, wandb_project, wandb_group, wandb_tags)
            known = self._wandb.step  # online: the step after the last one the server holds; offline: 0
            for row in history or ():
                if row["step"] >= known:
                    self._wandb.log({k: v for k, v in row.items() if k != "step"}, step=row["step"])
        self._tb = None
        if tensorboard:
            require("tensorboard")
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def _start_wandb(self, config, mode, project, group, tags):
        import wandb

        if mode == "online" and not os.environ.get("WANDB_API_KEY"):
            raise UserError("wandb_mode 'online' needs WANDB_API_KEY in the environment; use 'offline' to log locally")
        id_file = self.run_dir / "wandb_id.txt"
        run_id = id_file.read_text(errors="replace").strip() if id_file.exists() else ""
        if not re.fullmatch(r"[0-9a-z]{8,64}", run_id):  # none yet, or a damaged file: a new W&B run
            run_id = uuid.uuid4().hex[:12]
            id_file.write_text(run_id)
        # resume="allow": a resumed training run continues the same W&B run
        return wandb.init(
            project=project,
            group=group or None,
            tags=list(tags),
            config=config,
            id=run_id,
            resume="allow",
            mode=mode,
            dir=str(self.run_dir),
            name=self.run_dir.name,
            settings=wandb.Settings(silent=True, console="off"),
        )

    def log(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None}  # NaN and inf too: never dropped
        self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
        self._jsonl.flush()
        self._write_csv(step, clean)
        if self._wandb is not None:
            self._wandb.log(clean, step=step)
        if self._tb is not None:
            for k, v in clean.items():
                self._tb.add_scalar(k, v, step)
        if self._progress is not None:
            parts = [
                f"{k.split('/')[-1]} {clean[k]:.3g}"
                for k in ("sps", "episode/return", "episode/success", "eval/success_rate")
                if k in clean
            ]
            self._progress.update(self._task, completed=min(step, self.total_steps), status="  ".join(parts))

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

    def task(self, description: str, total: int):
        """A second progress bar for work after training (``advance()`` per unit done); a no-op without a
        console."""
        if self._progress is None:
            return lambda: None
        task = self._progress.add_task("extra", total=total, status=description)
        return lambda: self._progress.advance(task)

    def log_checkpoint(self, path: Path, aliases: tuple[str, ...] = ("latest",)) -> None:
        if self._wandb is not None:
            import wandb

            artifact = wandb.Artifact(f"{self.run_dir.name}-model", type="model")
            artifact.add_file(str(path))
            self._wandb.log_artifact(artifact, aliases=list(aliases))

    def summary(self, values: dict[str, Any]) -> None:
        if self._wandb is not None:
            self._wandb.summary.update(values)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._jsonl.close()
        if self._wandb is not None:
            self._wandb.finish()
        if self._tb is not None:
            self._tb.close()


def log_eval(out: Path, summary: dict, plots: dict[str, Path], *, mode: str, project: str, group: str) -> None:
    """An evaluation as a W&B ``eval`` job in ``group`` (the run's group): the per-condition table, the
    aggregates and robustness tables, and the plots as images; the offline run lives in ``out``."""
    import wandb

    if mode == "online" and not os.environ.get("WANDB_API_KEY"):
        raise UserError("wandb_mode 'online' needs WANDB_API_KEY in the environment; use 'offline' to log locally")
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
        for name, path in plots.items():
            logged[f"eval/{name}"] = wandb.Image(str(path))
        run.log(logged)
        for m, by_mode in summary["aggregates"].items():
            for mode_, a in by_mode.items():
                run.summary[f"{m}/{mode_}/iqm"] = a["iqm"]["value"]
    finally:
        run.finish()
