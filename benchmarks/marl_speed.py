"""Multi-agent training speed: our MAPPO next to the PettingZoo → SuperSuit → Stable-Baselines3 PPO recipe,
on the same scenario with the same CNN and the same PPO settings.

    python benchmarks/marl_speed.py [--scenario tag_2v1_vs_fleeing_npc] [--repeats 3]

Train-steps/s counts agent-steps (one learning agent acting once) collected and learned from per second,
rollout and update together: a median of ``repeats`` timed runs of ``iterations`` iterations each, after a
warm-up. Both sides run parameter sharing with the critic on the agent's own observation (IPPO; SB3 shares
the backbone between policy and value as ours does), and our centralised-critic MAPPO is timed too.
Writes runs/bench/marl_speed.{json,md}.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import tyro
from timing import write

from mazearena.apps.bench_train import mappo_ours, mappo_sb3


@dataclass
class Args:
    """Multi-agent train-steps/s: mazearena MAPPO vs SuperSuit + SB3 PPO."""

    scenario: str = "tag_2v1_vs_fleeing_npc"
    """Scenario trained by both."""
    num_envs: int = 64
    """Games per rollout."""
    num_steps: int = 64
    """Steps per game per rollout."""
    iterations: int = 2
    """PPO iterations per timed run."""
    repeats: int = 3
    """Timed runs; the median is reported."""
    out: Path = Path("runs/bench")
    """Folder for marl_speed.json and marl_speed.md."""


def ours(args: Args, centralized: bool) -> list[float]:
    return mappo_ours(args.scenario, args.num_envs, args.num_steps, args.iterations, args.repeats, centralized)


def sb3(args: Args) -> list[float]:
    return mappo_sb3(args.scenario, args.num_envs, args.num_steps, args.iterations, args.repeats)


def main(args: Args) -> dict:
    results = {"mazearena_ippo": ours(args, False), "mazearena_mappo": ours(args, True), "supersuit_sb3": sb3(args)}
    med = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "args": {k: str(v) for k, v in asdict(args).items()},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        **results,
        "ratio_ippo": med["mazearena_ippo"] / med["supersuit_sb3"],
        "ratio_mappo": med["mazearena_mappo"] / med["supersuit_sb3"],
    }
    md = (
        f"{args.scenario}, cnn, {args.num_envs} games x {args.num_steps} steps, 4 epochs x 4 minibatches, "
        f"CPU ({torch.get_num_threads()} threads), medians of {args.repeats}\n\n"
        "| trainer | agent train-steps/s | x SuperSuit + SB3 |\n|---|---:|---:|\n"
        f"| mazearena MAPPO, shared weights, own-observation critic (IPPO) | {med['mazearena_ippo']:,.0f} | "
        f"**{report['ratio_ippo']:.1f}x** |\n"
        f"| mazearena MAPPO, shared weights, centralised critic | {med['mazearena_mappo']:,.0f} | "
        f"{report['ratio_mappo']:.1f}x |\n"
        f"| PettingZoo -> SuperSuit -> SB3 PPO, shared weights | {med['supersuit_sb3']:,.0f} | |\n"
    )
    write(args.out, "marl_speed", report, md)
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
