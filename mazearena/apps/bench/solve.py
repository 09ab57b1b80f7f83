"""``mazearena bench solve``: wall-clock seconds until held-out success reaches a target, our PPO next to
Stable-Baselines3's PPO with the hyperparameters RL Baselines3 Zoo uses for MiniGrid, on ``make train``'s task.

Both train through the same run folder and are stopped by the same held-out evaluation (``--stop-at-success``:
``eval_episodes`` episodes on held-out levels every ``eval_every`` steps); the seconds are the run's training
wall-clock at that evaluation, evaluations included. Seeds ``0 … seeds-1`` of each; the median and range are
reported, and the ratio of the medians. Writes ``out/solve.{json,md,png}`` and the runs under ``out/solve/`` (a
finished run found there is reused).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mazearena.apps.bench.common import check_positive, write
from mazearena.checks import UserError
from mazearena.training import load_config, train
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.config import CONFIGS_DIR, find_config
from mazearena.training.loggers import first_reaching, read_metrics

ZOO_MINIGRID = PPOConfig(
    num_envs=8,
    num_steps=128,
    num_minibatches=16,  # batch_size 64 of 8 x 128
    update_epochs=10,
    learning_rate=2.5e-4,
    gamma=0.99,
    gae_lambda=0.95,
    clip_coef=0.2,
    ent_coef=0.0,
    anneal_lr=False,
)
"""RL Baselines3 Zoo's PPO hyperparameters for MiniGrid (``hyperparams/ppo.yml``, MiniGrid-DoorKey-5x5-v0):
8 envs x 128 steps, minibatches of 64, 10 epochs, learning rate 2.5e-4 (constant), no entropy bonus. The Zoo's
``normalize: true`` (VecNormalize) is left out: the observations are 0/1 planes and the rewards lie in [0, 1]."""


@dataclass
class SolveConfig:
    """Seconds to a held-out success target: our PPO vs SB3 PPO with RL Zoo's MiniGrid hyperparameters."""

    config: Path = CONFIGS_DIR / "ppo_maze9.yaml"
    """The task and our PPO's settings (``make train``'s config); SB3 gets the same env and backbone."""
    target: float = 0.95
    """Held-out success rate that counts as solved."""
    seeds: int = 3
    """Runs per trainer (seeds 0 … seeds-1)."""
    eval_every: int = 20_000
    """Env steps between held-out evaluations (both trainers; their time counts)."""
    eval_episodes: int = 256
    """Held-out episodes per evaluation."""
    max_steps: int = 2_000_000
    """Env steps after which a run that has not reached the target stops (reported as not solved)."""
    trainers: tuple[Literal["mazearena", "sb3"], ...] = ("mazearena", "sb3")
    """Which trainers to run."""
    out: Path = Path("runs/bench")
    """Folder for solve.json/md/png and the runs."""

    def __post_init__(self) -> None:
        check_positive(self, "seeds", "eval_every", "eval_episodes", "max_steps")
        if not 0 < self.target <= 1:
            raise UserError(f"target must be in (0, 1], got {self.target}")


def _config(args: SolveConfig, trainer: str, seed: int):
    base = load_config(find_config(args.config))  # a file, or a shipped config by name
    cfg = dataclasses.replace(
        base,
        seed=seed,
        total_timesteps=args.max_steps,
        stop_at_success=args.target,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        checkpoint_every=args.max_steps,
        video_episodes=0,
        wandb_mode="disabled",
        progress=False,
        runs_dir=args.out / "solve",
        name=f"{trainer}-seed{seed}",
    )
    if trainer == "sb3":
        cfg = dataclasses.replace(cfg, algo="sb3-ppo", ppo=ZOO_MINIGRID)
    return cfg


def _solve(args: SolveConfig, trainer: str, seed: int) -> dict:
    cfg = _config(args, trainer, seed)
    run = cfg.runs_dir / cfg.name
    if not (run / "report.json").exists():  # a finished run is reused
        train(cfg)
    rows = read_metrics(run / "metrics.jsonl")
    curve = [(r["step"], r["time"], r["eval/success_rate"]) for r in rows if "eval/success_rate" in r]
    solved = first_reaching(rows, args.target)
    return {
        "curve": curve,
        "seconds": solved["seconds"] if solved else None,
        "steps": solved["step"] if solved else None,
        "steps_per_second": rows[-1]["step"] / rows[-1]["time"],
    }


def _spread(values: list[float | None]) -> dict:
    done = [v for v in values if v is not None]
    if len(done) < len(values):  # a run that did not solve: the median is unknown past the budget
        return {"median": None, "low": min(done, default=None), "high": None, "solved": len(done)}
    return {"median": statistics.median(done), "low": min(done), "high": max(done), "solved": len(done)}


def run(args: SolveConfig) -> Path:
    """Train (or reuse) every run, then table and plot them; returns the Markdown report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {t: [_solve(args, t, s) for s in range(args.seeds)] for t in args.trainers}
    summary = {
        t: {
            "seconds": _spread([r["seconds"] for r in rs]),
            "steps": _spread([r["steps"] for r in rs]),
            "steps_per_second": statistics.median(r["steps_per_second"] for r in rs),
        }
        for t, rs in runs.items()
    }
    names = {"mazearena": "mazearena PPO (the config's settings)", "sb3": "SB3 PPO, RL Zoo MiniGrid settings"}
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for (t, rs), colour in zip(runs.items(), ("tab:blue", "tab:orange"), strict=False):
        for i, r in enumerate(rs):
            _, seconds, success = zip(*r["curve"], strict=True) if r["curve"] else ((), (), ())
            ax.plot(seconds, success, marker=".", color=colour, alpha=0.8, label=names[t] if i == 0 else None)
    ax.axhline(args.target, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"training seconds, evaluations included ({os.cpu_count()} CPUs)")
    ax.set_ylabel("held-out success")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "solve.png", dpi=120)
    plt.close(fig)

    def cell(s: dict, unit: str = "") -> str:
        if s["median"] is None:
            return f"not solved by every run ({s['solved']} of {args.seeds} within {args.max_steps:,} steps)"
        return f"{s['median']:,.0f}{unit} ({s['low']:,.0f}–{s['high']:,.0f})"

    md = [
        f"Held-out success ≥ {args.target:.2f} on `{args.config.name}`'s task; {args.seeds} seeds each, median "
        f"(range); evaluations of {args.eval_episodes} held-out episodes every {args.eval_every:,} steps.",
        "",
        "| trainer | seconds to target | env steps to target | train-steps/s |",
        "|---|---:|---:|---:|",
    ]
    for t, s in summary.items():
        md.append(f"| {names[t]} | {cell(s['seconds'], ' s')} | {cell(s['steps'])} | {s['steps_per_second']:,.0f} |")
    ratio = None
    if {"mazearena", "sb3"} <= set(summary):
        ours, theirs = summary["mazearena"]["seconds"]["median"], summary["sb3"]["seconds"]["median"]
        if ours is not None and theirs is not None:
            ratio = theirs / ours
            md += ["", f"mazearena reaches the target **{ratio:.1f}×** sooner than SB3 (ratio of the medians)."]
    md += ["", "![held-out success against seconds](solve.png)", ""]
    report = {
        "config": {k: str(v) for k, v in dataclasses.asdict(args).items()},
        "sb3_hyperparameters": dataclasses.asdict(ZOO_MINIGRID),
        "summary": summary,
        "ratio": ratio,
        "runs": runs,
    }
    return write(args.out, "solve", report, "\n".join(md))
