"""``mazearena bench``: env-step speed of our engine next to the installed peers, in one run.

Each figure is the median of ``repeats`` timed runs after a warm-up. Peers that are not installed are
reported as missing (MiniGrid pulls in pygame-ce, so it lives in its own environment: ``make bench``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import mazearena
from mazearena.envs.engine.maze import MazeConfig


@dataclass
class BenchConfig:
    """Measure env-steps per second side by side with MiniGrid."""

    size: int = 11
    """Maze side for every env measured (MiniGrid's peer is SimpleCrossing of the same size)."""
    view_size: int = 7
    """Egocentric view side (MiniGrid's is 7)."""
    num_envs: tuple[int, ...] = (1, 64, 1024, 4096)
    """Batch sizes of the vector env."""
    num_levels: int = 0
    """Level set of the vector env (0 = unlimited: levels are generated as episodes end)."""
    device: str = "cpu"
    """Device of the vector env."""
    repeats: int = 5
    """Timed runs per figure; the median is reported."""
    seconds: float = 1.0
    """Approximate length of one timed run."""
    peers: bool = True
    """Also measure the peers that are installed."""
    out: Path = Path("runs/bench")
    """Folder for bench.json and bench.md."""

    def __post_init__(self) -> None:
        MazeConfig(size=self.size, view_size=self.view_size, num_levels=self.num_levels)
        if not self.num_envs or any(n < 1 for n in self.num_envs):
            raise ValueError(f"num_envs must be a non-empty list of ints >= 1, got {self.num_envs}")
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")
        if not self.seconds > 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds}")


@dataclass
class Row:
    name: str
    env_steps_per_s: float | None
    runs: list[float] = field(default_factory=list)
    note: str = ""


def _timed(run_steps, steps: int, repeats: int) -> list[float]:
    run_steps(max(1, steps // 10))  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = run_steps(steps)
        rates.append(done / (time.perf_counter() - t0))
    return rates


def _calibrate(run_steps, seconds: float, start: int) -> int:
    steps = start
    while True:
        t0 = time.perf_counter()
        run_steps(steps)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or steps > 10**7:
            return max(1, int(steps * seconds / max(dt, 1e-9)))
        steps *= 4


def _gym_runner(env: gym.Env, seed: int):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    n = env.action_space.n

    def run(steps: int) -> int:
        actions = rng.integers(0, n, size=steps)
        for a in actions:
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        return steps

    return run


def bench_single(cfg: BenchConfig) -> Row:
    env = gym.make("mazearena/Maze-v0", size=cfg.size, view_size=cfg.view_size)
    run = _gym_runner(env, 0)
    rates = _timed(run, _calibrate(run, cfg.seconds, 100), cfg.repeats)
    return Row(f"mazearena Maze-v0 single env ({cfg.size}x{cfg.size})", statistics.median(rates), rates)


def bench_minigrid(cfg: BenchConfig) -> Row:
    name = f"MiniGrid SimpleCrossingS{cfg.size}N5 single env"
    try:
        import minigrid  # noqa: F401
    except ImportError:
        return Row(name, None, note="missing: pip install minigrid (in its own environment: make bench)")
    env_id = f"MiniGrid-SimpleCrossingS{cfg.size}N5-v0"
    if env_id not in gym.registry:
        env_id = "MiniGrid-SimpleCrossingS11N5-v0"
    env = gym.make(env_id)
    run = _gym_runner(env, 0)
    rates = _timed(run, _calibrate(run, cfg.seconds, 100), cfg.repeats)
    return Row(name, statistics.median(rates), rates)


def bench_vector(cfg: BenchConfig, num_envs: int) -> Row:
    env = mazearena.make_vec("mazearena/Maze-v0", num_envs, device=cfg.device, seed=0, size=cfg.size,
                             view_size=cfg.view_size, num_levels=cfg.num_levels)
    env.reset()
    gen = torch.Generator(device=cfg.device).manual_seed(0)
    pool = torch.randint(0, 4, (64, num_envs), device=cfg.device, generator=gen)
    sync = torch.cuda.synchronize if env.unwrapped.device.type == "cuda" else (lambda: None)

    def run(steps: int) -> int:
        calls = max(1, steps // num_envs)
        for i in range(calls):
            env.step(pool[i % 64])
        sync()
        return calls * num_envs

    rates = _timed(run, _calibrate(run, cfg.seconds, 16 * num_envs), cfg.repeats)
    return Row(f"mazearena vector env, {num_envs} envs ({cfg.device})", statistics.median(rates), rates)


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def run_bench(cfg: BenchConfig, progress=None) -> dict:
    """Run every measurement; returns the report (also written to ``cfg.out``)."""
    tasks = [("single", lambda: bench_single(cfg))]
    if cfg.peers:
        tasks.append(("minigrid", lambda: bench_minigrid(cfg)))
    for n in cfg.num_envs:
        tasks.append((f"vector-{n}", lambda n=n: bench_vector(cfg, n)))
    rows: dict[str, Row] = {}
    for key, task in tasks:
        if progress is not None:
            progress(key)
        rows[key] = task()
    peer = rows.get("minigrid")
    peer_rate = peer.env_steps_per_s if peer is not None else None
    report = {"machine": machine(), "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
              "rows": []}
    for key, row in rows.items():
        ratio = row.env_steps_per_s / peer_rate if peer_rate and row.env_steps_per_s and key != "minigrid" else None
        report["rows"].append({"key": key, **asdict(row), "ratio_vs_minigrid": ratio})
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "bench.json").write_text(json.dumps(report, indent=2))
    (cfg.out / "bench.md").write_text(markdown(report))
    return report


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Measured on {m['platform']}, {m['cpus']} CPUs, torch {m['torch']}" + (f", {m['gpu']}" if "gpu" in m else ""),
        "",
        "| what | env-steps/s (median) | × MiniGrid |",
        "|---|---:|---:|",
    ]
    for row in report["rows"]:
        lines.append("| " + " | ".join(format_row(row)) + " |")
    return "\n".join(lines) + "\n"


def format_row(row: dict) -> tuple[str, str, str]:
    """(what, env-steps/s, ratio) of a report row as printed in every table."""
    rate = f"{row['env_steps_per_s']:,.0f}" if row["env_steps_per_s"] else row["note"]
    ratio = f"{row['ratio_vs_minigrid']:,.1f}×" if row["ratio_vs_minigrid"] else "–"
    return row["name"], rate, ratio
