"""``mazearena bench brain EXPORT_DIR``: what an exported model costs and keeps, fp32 next to int8.

For each model file of an export folder (``policy.onnx`` and, if ``--quantize int8`` made it, ``policy.int8.onnx``):
the file size, onnxruntime's latency for a batch of 1 and of 256 (one thread, medians), and the held-out success
or win rate of its greedy actions with the 95% Wilson interval, played by the evaluation harness through
:class:`~mazearena.agents.brain.OnnxActor` on the run's held-out levels or scenario.

Writes ``out/brain.{json,md}``.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from mazearena.apps.bench.common import check_positive, write
from mazearena.checks import UserError


@dataclass
class BrainBenchConfig:
    """Size, latency and held-out result of an export folder's models (fp32 and int8)."""

    export: tyro.conf.Positional[Path]
    """A folder written by ``mazearena export``."""
    episodes: int = 1000
    """Held-out episodes (mazes) or games (arenas) per model."""
    num_envs: int = 250
    """Games played at once."""
    repeats: int = 200
    """Timed calls per latency figure (the median is reported)."""
    seed: int = 10_000
    """Seed of the held-out games."""
    out: Path = Path("runs/bench")
    """Folder for brain.json and brain.md."""

    def __post_init__(self) -> None:
        check_positive(self, "episodes", "num_envs", "repeats")
        if not (Path(self.export) / "spec.json").exists():
            raise UserError(f"{str(self.export)!r} is not an export folder (no spec.json): run mazearena export first")


def latency_us(session, spec: dict, batch: int, repeats: int) -> float:
    """Median microseconds of one ``session.run`` on ``batch`` rows (:func:`example_inputs` of the spec)."""
    from mazearena.agents.brain import BrainSpec, example_inputs

    brain = BrainSpec.from_dict(spec["brain"])
    inputs = example_inputs(brain, batch, torch.Generator().manual_seed(0))
    feed = {t.name: x.numpy() for t, x in zip(brain.inputs, inputs, strict=True)}
    for _ in range(10):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def held_out(actor, spec: dict, episodes: int, num_envs: int, seed: int) -> dict:
    """The greedy held-out success (mazes) or win rate (arenas) of ``actor`` with its interval."""
    return exported_task(spec).play_exported(spec["env"], actor, episodes, min(num_envs, episodes), seed)


def exported_task(spec: dict):
    """The task of the env an export's ``spec.json`` describes."""
    from mazearena.training.tasks import TASKS

    return TASKS[spec["env"]["kind"]]


def run(cfg: BrainBenchConfig) -> Path:
    import onnxruntime

    from mazearena.agents.brain import OnnxActor

    folder = Path(cfg.export)
    spec = json.loads((folder / "spec.json").read_text())
    if spec["format"] != "onnx":
        raise UserError(f"{str(folder)!r} holds a {spec['format']} model; this benchmark times ONNX models")
    rows = []
    for model in [spec["model"], *([spec["quantized"]] if spec.get("quantized") else [])]:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(folder / model), options, providers=["CPUExecutionProvider"])
        greedy = held_out(OnnxActor(folder, model), spec, cfg.episodes, cfg.num_envs, cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            sampled = held_out(
                OnnxActor(folder, model, deterministic=False), spec, cfg.episodes, cfg.num_envs, cfg.seed
            )
        rows.append(
            {
                "model": model,
                "kib": (folder / model).stat().st_size / 1024,
                "us_batch_1": latency_us(session, spec, 1, cfg.repeats),
                "us_batch_256": latency_us(session, spec, 256, cfg.repeats),
                "success_rate": greedy["success_rate"],
                "success_ci95": greedy["success_ci95"],
                "sampled_success_rate": sampled["success_rate"],
                "sampled_success_ci95": sampled["success_ci95"],
                "mean_return": greedy["mean_return"],
                "sampled_mean_return": sampled["mean_return"],
                "episodes": greedy["episodes"],
            }
        )
    task = exported_task(spec)
    what = task.metric if task.has_success else "mean return"  # no notion of success: the returns
    md = [
        f"`{folder}` ({spec['run']['algo']}, run {spec['run']['name']}): held-out "
        f"{task.levels}, onnxruntime on one thread",
        "",
        f"| model | size (KiB) | µs, batch 1 | µs, batch 256 | held-out {what}, greedy{' (95% CI)' * task.has_success} "
        "| sampled | episodes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def rate(r: dict, key: str) -> str:
        if not task.has_success:
            return f"{r[key.replace('success', 'mean_return')]:.3f}"
        lo, hi = r[f"{key}_ci95"]
        return f"{r[f'{key}_rate']:.3f} ({lo:.3f}–{hi:.3f})"

    for r in rows:
        md.append(
            f"| {r['model']} | {r['kib']:,.0f} | {r['us_batch_1']:,.0f} | {r['us_batch_256']:,.0f} | "
            f"{rate(r, 'success')} | {rate(r, 'sampled_success')} | {r['episodes']} |"
        )
    if len(rows) == 2 and task.has_success:
        fp32, int8 = rows
        for key, mode in (("success", "greedy"), ("sampled_success", "sampled")):
            inside = fp32[f"{key}_ci95"][0] <= int8[f"{key}_rate"] <= fp32[f"{key}_ci95"][1]
            md += ["", f"int8 {'keeps' if inside else 'does NOT keep'} the {mode} {what} within the fp32 interval."]
    return write(Path(cfg.out), "brain", {"export": str(folder), "rows": rows}, "\n".join(md) + "\n")
