"""``mazearena bench marl``: multi-agent training speed. Our MAPPO next to the PettingZoo → SuperSuit →
Stable-Baselines3 PPO recipe, on the same scenario with the same CNN and the same PPO settings.

Train-steps/s counts agent-steps (one learning agent acting once) collected and learned from per second,
rollout and update together: a median of ``repeats`` timed runs of ``iterations`` iterations each, after a
warm-up. Both sides run parameter sharing with the critic on the agent's own observation (IPPO; SB3 shares
the backbone between policy and value as ours does), and our centralised-critic MAPPO is timed too.
Writes ``out/marl_speed.{json,md}``.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from mazearena.apps.bench.common import check_positive, write
from mazearena.apps.bench.trainers import mappo_ours, mappo_sb3
from mazearena.checks import UserError
from mazearena.envs.scenarios import SCENARIOS


@dataclass
class MarlSpeedConfig:
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

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise UserError(f"scenario must be one of {', '.join(SCENARIOS)}, got {self.scenario!r}")
        check_positive(self, "num_envs", "num_steps", "iterations", "repeats")


def ours(args: MarlSpeedConfig, centralized: bool) -> list[float]:
    return mappo_ours(args.scenario, args.num_envs, args.num_steps, args.iterations, args.repeats, centralized)


def sb3(args: MarlSpeedConfig) -> list[float]:
    return mappo_sb3(args.scenario, args.num_envs, args.num_steps, args.iterations, args.repeats)


def run(args: MarlSpeedConfig) -> Path:
    """Time both trainers; returns the Markdown table (written with its JSON to ``args.out``)."""
    results = {"mazearena_ippo": ours(args, False), "mazearena_mappo": ours(args, True), "supersuit_sb3": sb3(args)}
    med = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "args": {k: str(v) for k, v in asdict(args).items()},
        **results,
        "ratio_ippo": med["mazearena_ippo"] / med["supersuit_sb3"],
        "ratio_mappo": med["mazearena_mappo"] / med["supersuit_sb3"],
    }
    md = (
        f"{args.scenario}, cnn, {args.num_envs} games x {args.num_steps} steps, 4 epochs x 4 minibatches, "
        f"medians of {args.repeats}\n\n"
        "| trainer | agent train-steps/s | x SuperSuit + SB3 |\n|---|---:|---:|\n"
        f"| mazearena MAPPO, shared weights, own-observation critic (IPPO) | {med['mazearena_ippo']:,.0f} | "
        f"**{report['ratio_ippo']:.1f}x** |\n"
        f"| mazearena MAPPO, shared weights, centralised critic | {med['mazearena_mappo']:,.0f} | "
        f"{report['ratio_mappo']:.1f}x |\n"
        f"| PettingZoo -> SuperSuit -> SB3 PPO, shared weights | {med['supersuit_sb3']:,.0f} | |\n"
    )
    return write(args.out, "marl_speed", report, md)
