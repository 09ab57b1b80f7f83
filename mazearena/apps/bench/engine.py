"""``mazearena bench engine``: engine step speed, backend by backend. The batched maze and arena engines (step
with autoreset, observations included) and the single-game Gymnasium env, each timed on its own. To compare
two versions of the engine on one machine, run it once per checkout, alternating, and compare the medians.

Writes ``out/engine_step.{json,md}``: env-steps/s for mazes, agent-steps/s for arenas (medians).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np
import torch

from mazearena.apps.bench.common import check_positive, rates, write
from mazearena.checks import UserError
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine
from mazearena.envs.engine.maze import MazeConfig, MazeEngine


@dataclass
class EngineBenchConfig:
    """Step speed of the maze and arena engines and of the single-game env, each backend on its own."""

    backend: tuple[Literal["numba", "torch"], ...] = ("numba", "torch")
    """Engine backends timed (numba runs on the CPU only)."""
    device: str = "cpu"
    """Device of the engines."""
    maze_envs: tuple[int, ...] = (64, 4096)
    """Batch sizes of the maze engine (11x11 mazes, 1,000 cached levels)."""
    arena_envs: tuple[int, ...] = (10, 256, 1024)
    """Batch sizes of the arena engine (8v8 games on 15x15 arenas)."""
    arena_modes: tuple[Literal["tag", "ctf", "combat"], ...] = ("tag", "ctf", "combat")
    """Arena modes timed."""
    repeats: int = 7
    """Timed runs per figure; the median is reported."""
    out: Path = Path("runs/bench")
    """Folder for engine_step.json and engine_step.md."""

    def __post_init__(self) -> None:
        check_positive(self, "repeats")
        if any(n < 1 for n in (*self.maze_envs, *self.arena_envs)):
            raise UserError(f"maze_envs and arena_envs must be ints >= 1, got {self.maze_envs}, {self.arena_envs}")


def median_rate(step, items_per_step: int, steps: int, repeats: int) -> float:
    for _ in range(max(1, steps // 5)):  # warm-up (and compilation)
        step()

    def work() -> int:
        for _ in range(steps):
            step()
        return steps * items_per_step

    return statistics.median(rates(work, repeats))


def maze_engine(n: int, backend: str, device: str, repeats: int) -> float:
    engine = MazeEngine(n, MazeConfig(size=11, num_levels=1000), device=device, max_episode_steps=484, backend=backend)
    engine.reset(torch.arange(n, device=device))
    actions = [torch.randint(0, 4, (n,), device=device) for _ in range(16)]
    i = iter(range(10**12))
    return median_rate(lambda: engine.step(actions[next(i) % 16]), n, max(20, 20_000 // n), repeats)


def arena_engine(mode: str, n: int, backend: str, device: str, repeats: int) -> float:
    cfg = ArenaConfig(mode=mode, red=8, blue=8, size=15, num_levels=1000)
    engine = ArenaEngine(n, cfg, device=device, backend=backend)
    engine.reset(torch.arange(n, device=device))
    actions = [torch.randint(0, cfg.num_actions, (n, 16), device=device) for _ in range(16)]
    i = iter(range(10**12))
    return median_rate(lambda: engine.step(actions[next(i) % 16]), n * 16, max(10, 4_000 // n), repeats)


def single_env(repeats: int) -> float:
    env = gym.make("mazearena/Maze-v0")
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 4, 4096).tolist()
    i = iter(range(10**12))

    def step() -> None:
        _, _, terminated, truncated, _ = env.step(actions[next(i) % 4096])
        if terminated or truncated:
            env.reset()

    return median_rate(step, 1, 4000, repeats)


def run(cfg: EngineBenchConfig) -> Path:
    """Time every engine and backend; returns the Markdown table (written with its JSON to ``cfg.out``)."""
    rows = [("Maze-v0 single env", "env-steps/s", single_env(cfg.repeats))]
    for backend in cfg.backend:
        if backend == "numba" and cfg.device != "cpu":
            continue
        for n in cfg.maze_envs:
            rate = maze_engine(n, backend, cfg.device, cfg.repeats)
            rows.append((f"maze engine {n} games ({backend})", "env-steps/s", rate))
        for mode in cfg.arena_modes:
            for n in cfg.arena_envs:
                rate = arena_engine(mode, n, backend, cfg.device, cfg.repeats)
                rows.append((f"arena {mode} 8v8 {n} games ({backend})", "agent-steps/s", rate))
    md = "| what | unit | median |\n|---|---|---:|\n" + "".join(f"| {w} | {u} | {v:,.0f} |\n" for w, u, v in rows)
    report = {"config": asdict(cfg), "rows": [{"what": w, "unit": u, "median": v} for w, u, v in rows]}
    return write(cfg.out, "engine_step", report, md)
