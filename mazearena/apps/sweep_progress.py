"""What a sweep in progress shows: its trials read from their run folders (the last row of ``metrics.jsonl``,
``trial.json`` once done, ``error.txt`` if crashed) every few seconds, as lines a terminal and a batch log both
read: each trial's step, its latest held-out success and state, the sweep's share done and its ETA."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _last_row(path: Path) -> dict:
    """The last complete row of a ``metrics.jsonl`` (empty if none yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue  # a row being written
    return {}


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class SweepProgress:
    """Reports the sweep ``trials`` (as :func:`~mazearena.apps.sweep.plan` makes them) through ``say`` every
    ``interval`` seconds while it runs (a thread), and once more when stopped."""

    def __init__(self, trials: list[dict[str, Any]], sweep_dir: Path, say: Callable[[str], None], interval: float):
        self.trials, self.sweep_dir, self.say, self.interval = trials, Path(sweep_dir), say, interval
        self.total = sum(int(t["config"].get("total_timesteps", 0)) for t in trials)
        self.start_time = time.monotonic()
        self.start_steps = self._steps()
        self._told: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep-progress", daemon=True)

    def __enter__(self) -> SweepProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.report()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def _steps(self) -> int:
        return sum(self._state(t)[1] for t in self.trials)

    def _state(self, trial: dict) -> tuple[str, int, dict]:
        """(state, step, last metrics row) of one trial: waiting, running, done or crashed."""
        run = self.sweep_dir / trial["trial"]
        total = int(trial["config"].get("total_timesteps", 0))
        if (run / "trial.json").exists():
            return "done", total, _last_row(run / "metrics.jsonl")
        row = _last_row(run / "metrics.jsonl")
        if (run / "error.txt").exists():
            return "crashed", int(row.get("step", 0)), row
        return ("running" if row else "waiting"), min(int(row.get("step", 0)), total), row

    def lines(self) -> list[str]:
        """The report: newly finished or crashed trials, the running ones, then the sweep as a whole."""
        out, states = [], {t["trial"]: self._state(t) for t in self.trials}
        for t in self.trials:
            name, (state, step, row) = t["trial"], states[t["trial"]]
            if state in ("done", "crashed") and name not in self._told:
                self._told.add(name)
                if state == "done":
                    result = json.loads((self.sweep_dir / name / "trial.json").read_text())
                    success = ", ".join(f"{k} {v:.3f}" for k, v in result.get("success", {}).items())
                    out.append(f"[sweep] done {name}: success {success} ({result.get('seconds', 0):.0f} s)")
                else:
                    out.append(f"[sweep] crashed {name} at step {step:,}: see {self.sweep_dir / name / 'error.txt'}")
            elif state == "running":
                total = int(t["config"].get("total_timesteps", 0))
                held = f", held-out {row['eval/success_rate']:.3f}" if "eval/success_rate" in row else ""
                out.append(f"[sweep] {name}: step {step:,}/{total:,} ({step / max(total, 1):.0%}){held}")
        done = sum(s == "done" for s, _, _ in states.values())
        crashed = sum(s == "crashed" for s, _, _ in states.values())
        steps, elapsed = sum(s for _, s, _ in states.values()), time.monotonic() - self.start_time
        rate = (steps - self.start_steps) / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - steps) / rate) if rate > 0 and steps < self.total else "—"
        failed = f", {crashed} crashed" if crashed else ""
        out.append(
            f"[sweep] {done}/{len(self.trials)} trials done{failed}; {steps:,}/{self.total:,} steps "
            f"({steps / max(self.total, 1):.0%}); elapsed {_clock(elapsed)}, ETA {eta} (evaluations not counted)"
        )
        return out

    def report(self) -> None:
        for line in self.lines():
            self.say(line)
