"""``mazearena bench ablation``: MAPPO vs IPPO and shared vs separate weights on one scenario. The same
config with each combination of ``centralized_critic`` and ``share_params``, one training run each, held-out
win-rate curves in one plot.

Writes ``out/marl_ablation.{json,md,png}`` (and the four run folders under ``out/marl_ablation/``; a finished
run found there is reused). One seed per variant; the learning rate anneals over the run's
``total_timesteps``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mazearena.apps.bench.common import check_positive, write
from mazearena.training import load_config, train
from mazearena.training.config import CONFIGS_DIR, find_config
from mazearena.training.loggers import read_metrics


@dataclass
class AblationConfig:
    """Train the four critic/weight-sharing variants of one MAPPO config and compare them."""

    config: Path = CONFIGS_DIR / "mappo_tag.yaml"
    """The MAPPO config every variant starts from."""
    total_timesteps: int = 200_000
    """Game steps per run."""
    eval_every: int = 50_000
    """Game steps between held-out evaluations."""
    eval_episodes: int = 128
    """Games per evaluation."""
    seed: int = 0
    """Seed of every run."""
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    """W&B mode of the four runs."""
    out: Path = Path("runs/bench")
    """Folder for marl_ablation.json/md/png and the runs."""

    def __post_init__(self) -> None:
        check_positive(self, "total_timesteps", "eval_every", "eval_episodes")


VARIANTS = {
    "MAPPO, shared": (True, True),
    "MAPPO, separate": (True, False),
    "IPPO, shared": (False, True),
    "IPPO, separate": (False, False),
}


def run(args: AblationConfig) -> Path:
    """Train (or reuse) the four runs and plot them; returns the Markdown table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    base = load_config(find_config(args.config))  # a file, or a shipped config by name
    results = {}
    for label, (central, share) in VARIANTS.items():
        mappo = dataclasses.replace(base.mappo, centralized_critic=central, share_params=share)
        name = label.lower().replace(", ", "-")
        cfg = dataclasses.replace(
            base,
            mappo=mappo,
            total_timesteps=args.total_timesteps,
            seed=args.seed,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            video_episodes=0,
            runs_dir=args.out / "marl_ablation",
            name=name,
            wandb_mode=args.wandb_mode,
            progress=False,
        )
        run = cfg.runs_dir / name
        if not (run / "report.json").exists():  # a finished run is reused
            train(cfg)
        rows = read_metrics(run / "metrics.jsonl")
        curve = [(r["step"], r["time"], r["eval/success_rate"]) for r in rows if "eval/success_rate" in r]
        final = json.loads((run / "report.json").read_text())["test_levels"]
        curve.append((rows[-1]["step"], rows[-1]["time"], final["success_rate"]))  # the final report's evaluation
        results[label] = {
            "curve": curve,
            "final": final["success_rate"],
            "ci95": final["success_ci95"],
            "seconds": rows[-1]["time"],
        }

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for label, r in results.items():
        steps, seconds, success = zip(*r["curve"], strict=True)
        axes[0].plot(steps, success, marker="o", label=label)
        axes[1].plot(seconds, success, marker="o", label=label)
    axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
    axes[0].set_xlabel("game steps")
    axes[1].set_xlabel(f"training seconds ({os.cpu_count()} CPUs)")
    axes[0].set_ylabel("held-out win rate")
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right")
    fig.suptitle(f"{base.arena.scenario_name}, {base.arena.size}x{base.arena.size} arenas")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "marl_ablation.png", dpi=120)
    plt.close(fig)
    md = ["| variant | held-out win rate at the end (95% CI) | training seconds |", "|---|---|---:|"]
    for label, r in results.items():
        lo, hi = r["ci95"]
        md.append(f"| {label} | {r['final']:.3f} ({lo:.3f}–{hi:.3f}) | {r['seconds']:.0f} |")
    report = {"config": {k: str(v) for k, v in dataclasses.asdict(args).items()}, "variants": results}
    return write(args.out, "marl_ablation", report, "\n".join(md) + "\n\n![curves](marl_ablation.png)\n")
