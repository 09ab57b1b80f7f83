"""DR vs PLR vs ACCEL at equal env steps: train every curriculum with every seed on one config, evaluate them together
(held-out generated levels and the named test set), follow the named set over training, and write the curves'
picture and the tables (markdown, for the docs).

    python scripts/curriculum_experiment.py --out runs/curricula            # 3 curricula x 3 seeds, 2 at a time
    python scripts/curriculum_experiment.py --methods dr plr plr-all=plr:--plr.no-robust   # LABEL=CURRICULUM:ARGS
    python scripts/curriculum_experiment.py --plr.edits 5                  # other arguments go to every training

Runs already trained in ``--out`` are kept (a killed experiment goes on where it stopped). Each training process
uses one thread, so ``--jobs 2`` fills a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

CONFIG = "ppo_maze15_ued"


def train_all(args, extra: list[str]) -> list[Path]:
    """Every (curriculum, seed) run, trained unless its report is already there."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    jobs = []
    for label, curriculum, own in methods(args):
        for seed in args.seeds:
            run = args.out / f"{label}-seed{seed}"
            if (run / "report.md").exists():
                continue
            command = [sys.executable, "-m", "mazearena", "train", "--config", args.config]
            command += ["--curriculum", curriculum, "--seed", str(seed), "--runs-dir", str(args.out)]
            command += ["--name", run.name, "--wandb-mode", args.wandb_mode, "--no-progress", *extra, *own]
            if (run / "checkpoints" / "last.pt").exists():
                command += ["--resume", str(run)]
            jobs.append((run, command))

    def one(job) -> None:
        run, command = job
        log = args.out / f"{run.name}.log"
        with open(log, "w") as f:
            done = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, env=env, check=False)
        print(f"{run.name}: exit {done.returncode} ({log})", flush=True)
        if done.returncode:
            raise SystemExit(f"{run.name} failed; see {log}")

    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, jobs))
    return [args.out / f"{label}-seed{s}" for label, _, _ in methods(args) for s in args.seeds]


def methods(args) -> list[tuple[str, str, list[str]]]:
    """``--methods`` as (label, curriculum, training arguments): ``plr``, or ``LABEL=CURRICULUM:ARG ARG ...``."""
    out = []
    for spec in args.methods:
        label, _, rest = spec.partition("=")
        curriculum, _, own = (rest or label).partition(":")
        out.append((label, curriculum, own.split()))
    return out


def evaluate_all(args, runs: list[Path]) -> dict:
    """One ``mazearena eval`` of every run: held-out levels and the named set."""
    out = args.out / "eval"
    command = [sys.executable, "-m", "mazearena", "eval", *map(str, runs), "--suites", "test"]
    command += ["--perturbations", "none", "--episodes", str(args.episodes), "--maze-episodes", str(args.maze_episodes)]
    labels = [label for label, _, _ in methods(args)]
    command += ["--labels", *labels, "--out", str(out), "--wandb-mode", "disabled", "--no-progress"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "summary.json").read_text())


def named_curve(args, runs: list[Path]) -> list[dict]:
    """The named set's mean solve rate at every weights snapshot of every run (``--curve-maze-episodes`` each)."""
    import torch

    from mazearena.evaluation.evaluate import Run
    from mazearena.evaluation.mazes import play_mazes
    from mazearena.mazes import FOLDER
    from mazearena.training.runs import load_trained

    settings = SimpleNamespace(maze_episodes=args.curve_maze_episodes, num_envs=256, device="cpu", seed=10_000)
    rows = []
    for path in runs:
        for snapshot in sorted((path / "checkpoints" / "snapshots").glob("step-*.pt")):
            config, _, policy, step = load_trained(snapshot, device="cpu")
            run = Run(path, config, policy, step, method=path.name.rsplit("-seed", 1)[0])
            torch.manual_seed(0)
            episodes = play_mazes(settings, run, "stochastic", FOLDER)
            rate = sum(e["success"] for e in episodes) / len(episodes)
            rows.append({"curriculum": run.method, "seed": config.seed, "step": step, "named": rate})
            print(f"{path.name} step {step:,}: named set {rate:.3f}", flush=True)
    return rows


def held_out_curve(runs: list[Path]) -> list[dict]:
    """The held-out success logged during training (``eval_every``)."""
    rows = []
    for path in runs:
        for line in (path / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line)
            if "eval/success_rate" in row:
                curriculum, seed = path.name.rsplit("-seed", 1)
                rows.append(
                    {
                        "curriculum": curriculum,
                        "seed": int(seed),
                        "step": row["step"],
                        "held_out": row["eval/success_rate"],
                    }
                )
    return rows


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    titles = ("named test set (mean solve rate)", "held-out generated levels (success)")
    for ax, (key, rows), title in zip(axes, curves.items(), titles, strict=True):
        for curriculum in dict.fromkeys(r["curriculum"] for r in rows):
            mine = [r for r in rows if r["curriculum"] == curriculum]
            steps = sorted({r["step"] for r in mine})
            values = [[r[key] for r in mine if r["step"] == s] for s in steps]
            mean = np.array([np.mean(v) for v in values])
            low, high = np.array([min(v) for v in values]), np.array([max(v) for v in values])
            ax.plot(np.array(steps) / 1e6, mean, label=curriculum)
            ax.fill_between(np.array(steps) / 1e6, low, high, alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("env steps (millions)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("DR, PLR and ACCEL: mean over seeds, band = range of seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def tables(summary: dict) -> str:
    drawn = summary["drawn_mazes"]
    methods = list(drawn["methods"])
    lines = [
        "| curriculum | named set, mean solve rate (95% CI) | held-out generated levels, success (95% CI) "
        "| named set per seed |",
        "|---|---|---|---|",
    ]
    for m in methods:
        d = drawn["methods"][m]["stochastic"]
        h = summary["aggregates"][m]["stochastic"]["mean"]
        seeds = ", ".join(f"{v:.3f}" for v in d["runs"].values())
        named = f"{d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"
        lines.append(f"| {m} | {named} | {h['value']:.3f} [{h['low']:.3f}, {h['high']:.3f}] | {seeds} |")
    lines += ["", "| maze | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for j, maze in enumerate(drawn["mazes"]):
        cells = [drawn["methods"][m]["stochastic"]["mazes"][j] for m in methods]
        lines.append(
            f"| {maze} | " + " | ".join(f"{c['success']:.2f} [{c['low']:.2f}, {c['high']:.2f}]" for c in cells) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/curricula"))
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--methods", nargs="+", default=["dr", "plr", "accel"], help="LABEL[=CURRICULUM[:ARGS]]")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=512, help="held-out episodes per run")
    parser.add_argument("--maze-episodes", type=int, default=64, help="episodes per named maze per run")
    parser.add_argument("--curve-maze-episodes", type=int, default=8, help="per maze at each snapshot (0: no curve)")
    parser.add_argument("--wandb-mode", default="disabled")
    args, extra = parser.parse_known_args()
    runs = train_all(args, extra)
    summary = evaluate_all(args, runs)
    curves = {"named": named_curve(args, runs) if args.curve_maze_episodes else [], "held_out": held_out_curve(runs)}
    (args.out / "curves.json").write_text(json.dumps(curves, indent=1))
    if curves["named"]:
        plot(curves, args.out / "curricula.png")
    text = tables(summary)
    (args.out / "tables.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
