"""What the training benchmarks share: timed repeats of a piece of work, and writing the result files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def rates(work: Callable[[], float], repeats: int) -> list[float]:
    """Steps per second of ``repeats`` timed calls of ``work``, which returns how many steps it did."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = work()
        out.append(steps / (time.perf_counter() - start))
    return out


def write(out: Path, name: str, report: dict, md: str) -> None:
    """``out/name.json`` and ``out/name.md``; the Markdown is printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (out / f"{name}.md").write_text(md)
    print(md)
