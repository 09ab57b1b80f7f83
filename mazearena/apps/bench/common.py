"""What the benchmarks share: timed repeats, the machine they ran on, and writing their result files."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mazearena.checks import UserError


def check_positive(cfg, *names: str) -> None:
    """A :class:`~mazearena.checks.UserError` naming the first of ``cfg``'s fields ``names`` that is below 1."""
    for name in names:
        if getattr(cfg, name) < 1:
            raise UserError(f"{name} must be >= 1, got {getattr(cfg, name)}")


def rates(work: Callable[[], float], repeats: int) -> list[float]:
    """Steps per second of ``repeats`` timed calls of ``work``, which returns how many steps it did (CUDA work
    is waited for before the clock stops)."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = work()
        sync()
        out.append(steps / (time.perf_counter() - start))
    return out


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def machine() -> dict:
    """What a figure was measured on: platform, Python, torch, CPUs and threads, and the GPU if there is one."""
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_line(m: dict) -> str:
    gpu = f", {m['gpu']}" if "gpu" in m else ""
    threads = f"{m['cpus']} CPUs ({m['torch_threads']} torch threads)"
    return f"Measured on {m['platform']}, {threads}, torch {m['torch']}{gpu}"


def write(out: Path, name: str, report: dict, md: str) -> Path:
    """``out/name.json`` (with the machine added) and ``out/name.md`` (headed by the machine line); returns the
    Markdown file."""
    report = {"machine": machine(), **report}
    md = machine_line(report["machine"]) + "\n\n" + md
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    path = out / f"{name}.md"
    path.write_text(md)
    return path
