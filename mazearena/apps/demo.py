"""``mazearena demo``: generate held-out mazes, let the BFS solver and a random agent play them, and write
a GIF, a picture of a maze and a short summary (JSON and Markdown) to a run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

import mazearena
from mazearena.agents.baselines import RandomPolicy, SolverPolicy
from mazearena.agents.episodes import run_episodes
from mazearena.checks import UserError, make_out_dir
from mazearena.envs.engine.maze import MazeConfig


@dataclass
class DemoConfig:
    """Play generated mazes with the built-in solver and a random agent; write a GIF and a summary."""

    env: str = "mazearena/Maze-v0"
    """Environment id."""
    size: int = 11
    """Maze side in cells (odd, 5 to 127)."""
    episodes: int = 256
    """Episodes per agent (split evenly over the games of the batch, so none is favoured)."""
    num_envs: int = 64
    """Games played at once."""
    start_level: int = 100_000
    """First level id of the held-out levels played."""
    seed: int = 0
    """Seed of the games (levels and spawns)."""
    gif_episodes: int = 3
    """Solver episodes recorded into demo.gif."""
    out: Path = Path("runs/demo")
    """Run folder."""

    def __post_init__(self) -> None:
        if self.env not in mazearena.MAZE_IDS:
            raise UserError(f"env must be one of {', '.join(mazearena.MAZE_IDS)}, got {self.env!r}")
        MazeConfig(size=self.size, start_level=self.start_level)
        for name in ("episodes", "num_envs"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gif_episodes < 0:
            raise UserError(f"gif_episodes must be >= 0, got {self.gif_episodes}")


def play_agent(cfg: DemoConfig, policy_name: str, advance=None) -> dict:
    """Play ``cfg.episodes`` episodes with a built-in policy on held-out levels."""
    env = mazearena.make_vec(cfg.env, cfg.num_envs, seed=cfg.seed, size=cfg.size, start_level=cfg.start_level)
    engine = env.unwrapped.engine
    policy = SolverPolicy(engine) if policy_name == "solver" else RandomPolicy(engine, seed=cfg.seed)
    # the built-in policies read the engine's state and act for every game
    return {"agent": policy_name, **run_episodes(env, lambda obs: policy(), cfg.episodes, advance, subset=False)}


def record_solver(cfg: DemoConfig) -> list[np.ndarray]:
    env = gym.make(cfg.env, size=cfg.size, start_level=cfg.start_level, render_mode="rgb_array")
    maze = env.unwrapped
    frames = []
    env.reset(seed=cfg.seed)
    for _ in range(cfg.gif_episodes):
        policy = SolverPolicy(maze.engine)
        frames.append(env.render())
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(policy()[0]))
            frames.append(env.render())
            done = terminated or truncated
        frames += [frames[-1]] * 4  # linger on the solved maze
        env.reset()
    return frames


def run_demo(cfg: DemoConfig, progress=None) -> dict:
    from PIL import Image

    from mazearena.training.video import write_video

    make_out_dir(cfg.out)
    results = []
    for name in ("solver", "random"):
        results.append(play_agent(cfg, name, advance=progress(name, cfg.episodes) if progress else None))
    summary = {"env": cfg.env, "size": cfg.size, "levels": f"from {cfg.start_level} (held out)", "agents": results}
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = [
        f"# mazearena demo: {cfg.env}, {cfg.size}x{cfg.size}, held-out levels from {cfg.start_level}",
        "",
        "| agent | episodes | success rate (95% CI) | mean return | mean length |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lo, hi = r["success_ci95"]
        lines.append(
            f"| {r['agent']} | {r['episodes']} | {r['success_rate']:.3f} ({lo:.3f}–{hi:.3f}) "
            f"| {r['mean_return']:.3f} | {r['mean_length']:.1f} |"
        )
    lines += ["", "![solver](demo.gif)", ""]
    (cfg.out / "summary.md").write_text("\n".join(lines))
    if cfg.gif_episodes:
        frames = record_solver(cfg)
        write_video(frames, cfg.out / "demo.gif", fps=8)
        Image.fromarray(frames[0]).save(cfg.out / "maze.png")
    return summary
