"""Engine step speed, backend by backend: the batched maze and arena engines (step with autoreset, observations
included) and the single-game Gymnasium env, each timed on its own. For comparing two versions of the engine
on one machine, run it once per checkout (``PYTHONPATH=CHECKOUT``), alternating, and compare the medians.

    python benchmarks/engine_step.py [--backend numba torch] [--repeats 7] [--device cpu]

Writes runs/bench/engine_step.{json,md}: env-steps/s for mazes, agent-steps/s for arenas (medians).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from timing import write

import mazearena
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine
from mazearena.envs.engine.maze import MazeConfig, MazeEngine


def median_rate(step, items_per_step: int, steps: int, repeats: int) -> float:
    for _ in range(max(1, steps // 5)):  # warm-up (and compilation)
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * items_per_step / (time.perf_counter() - t0))
    return statistics.median(rates)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["numba", "torch"], choices=["numba", "torch"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = parser.parse_args()
    rows = [("Maze-v0 single env", "env-steps/s", single_env(args.repeats))]
    for backend in args.backend:
        if backend == "numba" and args.device != "cpu":
            continue
        for n in (64, 4096):
            rows.append(
                (
                    f"maze engine {n} games ({backend})",
                    "env-steps/s",
                    maze_engine(n, backend, args.device, args.repeats),
                )
            )
        for mode in ("tag", "ctf", "combat"):
            for n in (10, 256, 1024):
                rows.append(
                    (
                        f"arena {mode} 8v8 {n} games ({backend})",
                        "agent-steps/s",
                        arena_engine(mode, n, backend, args.device, args.repeats),
                    )
                )
    md = "| what | unit | median |\n|---|---|---:|\n" + "".join(f"| {w} | {u} | {v:,.0f} |\n" for w, u, v in rows)
    report = {
        "mazearena": mazearena.__version__,
        "torch": torch.__version__,
        "device": args.device,
        "rows": [{"what": w, "unit": u, "median": v} for w, u, v in rows],
    }
    write(args.out, "engine_step", report, md)


if __name__ == "__main__":
    main()
