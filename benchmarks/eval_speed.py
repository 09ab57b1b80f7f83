"""Evaluation speed: 1,000 held-out maze episodes of a trained CNN policy, mazearena's batched harness next
to Stable-Baselines3's ``evaluate_policy`` (the usual way to evaluate a policy on Gymnasium envs) with the
same network on the same maze, on the CPU.

    python benchmarks/eval_speed.py RUN_DIR [--episodes 1000] [--repeats 3]

Both play a fixed number of episodes per env chosen in advance (SB3 since 2.0 spreads the target evenly over
its envs too). Writes runs/bench/eval_speed.{json,md}; reports the median of the repeats and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from timing import write

from mazearena.evaluation.evaluate import EvalConfig, Run, play_condition
from mazearena.training.runs import load_trained


class _SB3Model:
    """What SB3's evaluate_policy needs of a model: ``predict`` on numpy observations."""

    def __init__(self, policy) -> None:
        self.policy = policy

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        with torch.no_grad():
            return self.policy.act(torch.as_tensor(obs), deterministic=deterministic).numpy(), None


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
    env = make_vec_env(lambda: gym.make(e.env_id, max_episode_steps=e.time_limit, **kwargs), n_envs=n_envs, seed=0)
    start = time.perf_counter()
    returns, _ = evaluate_policy(
        _SB3Model(policy), env, n_eval_episodes=episodes, deterministic=False, return_episode_rewards=True
    )
    seconds = time.perf_counter() - start
    return seconds, float(np.mean(np.array(returns) > 0))


def ours_seconds(run: Run, episodes: int, n_envs: int) -> tuple[float, float]:
    cfg = EvalConfig(runs=(run.path,), num_envs=n_envs, seed=0, wandb_mode="disabled", progress=False)
    start = time.perf_counter()
    rows = play_condition(cfg, run, "test", "none", 0.0, "stochastic", episodes)
    seconds = time.perf_counter() - start
    return seconds, sum(r["success"] for r in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a maze run folder with a CNN policy")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[100, 250, 1000])
    parser.add_argument("--sb3-envs", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    cfg, run_dir, policy, step = load_trained(args.run)
    run = Run(run_dir, cfg, policy, step, "ppo-cnn")
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
        f"{cfg.env.size}x{cfg.env.size} mazes), CPU, {torch.get_num_threads()} threads",
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
    write(args.out, "eval_speed", {"run": str(run_dir), "episodes": args.episodes, "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
