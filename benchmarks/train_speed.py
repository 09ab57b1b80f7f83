"""PPO training speed next to Stable-Baselines3 PPO: the same env, the same CNN, the same hyperparameters.

    python benchmarks/train_speed.py [--iterations 4] [--repeats 3] [--size 9]

Train-steps/s = env steps collected and learned from per second (rollout + update), median of ``repeats``
timed runs of ``iterations`` PPO iterations each, after one warm-up iteration. Writes
runs/bench/train_speed.{json,md}.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import tyro

import mazearena
from mazearena.agents.ppo import PPO, ActorCritic, PPOConfig
from mazearena.agents.sb3 import policy_kwargs


@dataclass
class Args:
    """PPO train-steps/s: mazearena vs Stable-Baselines3."""

    size: int = 9
    """Maze side."""
    backbone: str = "cnn"
    """Backbone used by both."""
    num_envs: int = 64
    """Envs per rollout."""
    num_steps: int = 64
    """Steps per env per rollout."""
    iterations: int = 4
    """PPO iterations per timed run."""
    repeats: int = 3
    """Timed runs; the median is reported."""
    out: Path = Path("runs/bench")
    """Folder for train_speed.json and train_speed.md."""


def ours(args: Args) -> list[float]:
    torch.manual_seed(0)
    cfg = PPOConfig(num_envs=args.num_envs, num_steps=args.num_steps)
    envs = mazearena.make_vec("mazearena/Maze-v0", args.num_envs, seed=0, size=args.size, num_levels=500)
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space.n, args.backbone)
    algo = PPO(cfg, envs, policy, torch.device("cpu"), total_iterations=10**6)
    algo.iteration()  # warm-up
    rates = []
    for _ in range(args.repeats):
        start, steps = time.perf_counter(), algo.global_step
        for _ in range(args.iterations):
            algo.iteration()
        rates.append((algo.global_step - steps) / (time.perf_counter() - start))
    return rates


def sb3(args: Args) -> list[float]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = make_vec_env("mazearena/Maze-v0", n_envs=args.num_envs, seed=0, vec_env_cls=DummyVecEnv,
                       env_kwargs={"size": args.size, "num_levels": 500})  # fmt: skip
    cfg = PPOConfig()
    model = SB3PPO("MlpPolicy", env, n_steps=args.num_steps, batch_size=args.num_envs * args.num_steps // 4,
                   n_epochs=cfg.update_epochs, learning_rate=cfg.learning_rate, ent_coef=cfg.ent_coef,
                   policy_kwargs=policy_kwargs(args.backbone), seed=0, device="cpu")  # fmt: skip
    per_run = args.iterations * args.num_envs * args.num_steps
    model.learn(args.num_envs * args.num_steps)  # warm-up
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.learn(per_run, reset_num_timesteps=False)
        rates.append(per_run / (time.perf_counter() - start))
    return rates


def main(args: Args) -> dict:
    mine, theirs = ours(args), sb3(args)
    report = {"args": {k: str(v) for k, v in asdict(args).items()}, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "mazearena_ppo": mine, "sb3_ppo": theirs,
              "ratio": statistics.median(mine) / statistics.median(theirs)}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_speed.json").write_text(json.dumps(report, indent=2))
    md = (f"PPO + {args.backbone}, Maze-v0 {args.size}x{args.size}, {args.num_envs} envs x {args.num_steps} steps, "
          f"4 epochs of 4 minibatches, CPU ({torch.get_num_threads()} threads)\n\n"
          "| trainer | train-steps/s (median) |\n|---|---:|\n"
          f"| mazearena PPO | {statistics.median(mine):,.0f} |\n| Stable-Baselines3 PPO | "
          f"{statistics.median(theirs):,.0f} |\n\nmazearena / SB3: {report['ratio']:.1f}x\n")
    (args.out / "train_speed.md").write_text(md)
    print(md)
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
