"""``mazearena bench eval RUN``: evaluation speed. 1,000 held-out maze episodes of a trained policy, our
batched harness next to Stable-Baselines3's ``evaluate_policy`` (the usual way to evaluate a policy on
Gymnasium envs) with the same network on the same maze, on the CPU.

Both play a fixed number of episodes per env chosen in advance (SB3 since 2.0 spreads the target evenly over
its envs too). Writes ``out/eval_speed.{json,md}``; reports the median of the repeats and the ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from mazearena.actor import Actor, reset_where
from mazearena.apps.bench.common import check_positive, write
from mazearena.checks import UserError
from mazearena.evaluation.evaluate import EvalConfig, Run, play_condition
from mazearena.training.runs import load_trained, make_actor
from mazearena.training.tasks import TaskKind


@dataclass
class EvalSpeedConfig:
    """Seconds to evaluate a maze run on held-out levels: our harness vs SB3's evaluate_policy."""

    run: tyro.conf.Positional[Path]
    """A maze run folder (its latest checkpoint is evaluated)."""
    episodes: int = 1000
    """Held-out episodes per timed run."""
    repeats: int = 3
    """Timed runs; the median is reported."""
    num_envs: tuple[int, ...] = (100, 250, 1000)
    """Games at once in our harness, one row each."""
    sb3_envs: tuple[int, ...] = (1, 8)
    """Envs of SB3's DummyVecEnv, one row each."""
    out: Path = Path("runs/bench")
    """Folder for eval_speed.json and eval_speed.md."""

    def __post_init__(self) -> None:
        check_positive(self, "episodes", "repeats")
        if not self.sb3_envs or any(n < 1 for n in (*self.num_envs, *self.sb3_envs)):
            raise UserError(f"num_envs and sb3_envs must be ints >= 1, got {self.num_envs}, {self.sb3_envs}")


class _SB3Model:
    """What SB3's evaluate_policy needs of a model: ``predict`` on numpy observations, through the run's actor
    (its state carried in SB3's ``state`` and reset where SB3 says an episode starts)."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        obs = torch.as_tensor(obs)
        fresh = self.actor.initial_state(len(obs), obs.device)
        if state is None:
            state = fresh
        elif episode_start is not None:
            state = reset_where(state, torch.as_tensor(episode_start, dtype=torch.bool), fresh)
        with torch.no_grad():
            actions, state = self.actor.act(obs, state)
        return actions.numpy(), state


def sb3_seconds(cfg, policy, episodes: int, n_envs: int) -> tuple[float, float]:
    """Seconds and success rate of SB3's evaluate_policy over ``n_envs`` single maze envs (DummyVecEnv)."""
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    e = cfg.env
    kwargs = {
        "num_levels": 0,
        "start_level": e.test_start_level,
        "size": e.size,
        "view_size": e.view_size,
        "obs_mode": e.obs_mode,
    }
    env = make_vec_env(lambda: gym.make(e.env_id, max_steps=e.time_limit, **kwargs), n_envs=n_envs, seed=0)
    start = time.perf_counter()
    model = _SB3Model(make_actor(cfg, policy))
    returns, _ = evaluate_policy(model, env, n_eval_episodes=episodes, return_episode_rewards=True)
    seconds = time.perf_counter() - start
    return seconds, float(np.mean(np.array(returns) > 0))


def ours_seconds(run: Run, episodes: int, n_envs: int) -> tuple[float, float]:
    cfg = EvalConfig(runs=(run.path,), num_envs=n_envs, seed=0, wandb_mode="disabled", progress=False)
    start = time.perf_counter()
    rows = play_condition(cfg, run, "test", "none", 0.0, "stochastic", episodes)
    seconds = time.perf_counter() - start
    return seconds, sum(r["success"] for r in rows) / len(rows)


def run(args: EvalSpeedConfig) -> Path:
    """Time both harnesses; returns the Markdown table (written with its JSON to ``args.out``)."""
    cfg, run_dir, policy, step = load_trained(args.run)
    if cfg.task.kind is not TaskKind.MAZE:
        raise UserError(f"bench eval times a maze run; {run_dir} trained {cfg.algo}")
    run = Run(run_dir, cfg, policy, step, f"{cfg.algo}-{cfg.model}")
    rows = []
    for n in args.num_envs:
        results = [ours_seconds(run, args.episodes, n) for _ in range(args.repeats)]
        rows.append(
            {"what": f"mazearena eval, {n} games at once", "seconds": [r[0] for r in results], "success": results[0][1]}
        )
    for n in args.sb3_envs:
        results = [sb3_seconds(cfg, policy, args.episodes, n) for _ in range(args.repeats)]
        rows.append(
            {
                "what": f"SB3 evaluate_policy, DummyVecEnv of {n}",
                "seconds": [r[0] for r in results],
                "success": results[0][1],
            }
        )
    for row in rows:
        row["median_seconds"] = statistics.median(row["seconds"])
    best_sb3 = min(r["median_seconds"] for r in rows if r["what"].startswith("SB3"))
    lines = [
        f"# Evaluation speed: {args.episodes} held-out episodes of {run_dir.name} ({cfg.backbone}, "
        f"{cfg.env.size}x{cfg.env.size} mazes), CPU",
        "",
        f"Median of {args.repeats} runs.",
        "",
        "| what | seconds (median) | episodes/s | success | speed-up vs best SB3 |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        row["speedup"] = best_sb3 / row["median_seconds"]
        lines.append(
            f"| {row['what']} | {row['median_seconds']:.2f} | {args.episodes / row['median_seconds']:,.0f} | "
            f"{row['success']:.3f} | {row['speedup']:.1f}× |"
        )
    report = {"run": str(run_dir), "episodes": args.episodes, "rows": rows}
    return write(args.out, "eval_speed", report, "\n".join(lines))
