"""``mazearena export RUN_DIR``: a trained policy as a file a game can run, with what the game needs beside it.

The folder written holds the model (``policy.onnx``, or ``policy.pt`` for TorchScript; ``policy.int8.onnx`` as
well with ``--quantize int8``), ``spec.json`` (every input and output: names, shapes, dtypes, and what each
observation plane, token feature and action means, so that a game in any language can build the input),
``README.md`` (a Hugging Face model card: the env, the algorithm, the config, the held-out results of the run's
report, how to call the model) and ``brain.py``, a loader that needs only numpy and onnxruntime.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import tyro

from mazearena.agents.brain import BrainSpec, example_inputs, make_brain
from mazearena.checks import MissingExtra, UserError, make_out_dir

RUNTIME = Path(__file__).parents[1] / "agents" / "brain_runtime.py"
"""The torch-free loader copied into every export as ``brain.py``."""


@dataclass
class ExportConfig:
    """Export a trained policy (ONNX or TorchScript) with its model card and observation spec."""

    run: tyro.conf.Positional[Path]
    """A run folder of mazearena's own trainers (ppo, dqn, mappo) or a checkpoint file inside one."""
    format: Literal["onnx", "torchscript"] = "onnx"
    """Model format: ONNX (any runtime, any language) or TorchScript (libtorch)."""
    checkpoint: str = "last"
    """Which checkpoint of the run folder: last or best."""
    quantize: Literal["none", "int8"] = "none"
    """Also write an int8 copy (onnxruntime's dynamic quantization; ONNX only)."""
    out: Path | None = None
    """Folder to write (default: RUN/export)."""
    opset: int = 18
    """ONNX opset version."""
    push_to_hub: str | None = None
    """Upload the folder to this Hugging Face Hub repository (needs huggingface_hub and a login)."""
    trust_code: bool = False
    """Import the code a run's config names (a backbone, env id or wrappers as ``module:Name``): only for runs
    you trust, since importing runs it; without it such a run is refused, naming what it would import."""

    def __post_init__(self) -> None:
        if self.checkpoint not in ("last", "best"):
            raise UserError(f"checkpoint must be 'last' or 'best', got {self.checkpoint!r}")
        if self.quantize != "none" and self.format != "onnx":
            raise UserError("--quantize int8 works on ONNX models: use --format onnx")
        if not 13 <= self.opset <= 23:
            raise UserError(f"opset must be in [13, 23], got {self.opset}")


@contextmanager
def _quiet():
    """The exporter's and the quantizer's notes to developers (missing torchvision ops, deprecations, advice to
    pre-process) kept out of a user's console; errors still raise."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx"), logging.getLogger("onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for logger in loggers:
                logger.setLevel(logging.ERROR)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _need(module: str, extra: str = "export"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module} is not installed: pip install 'mazearena[{extra}]'") from None


def write_onnx(brain: torch.nn.Module, spec: BrainSpec, path: Path, opset: int = 18) -> Path:
    """``brain`` as an ONNX model with a dynamic batch dimension, its inputs and outputs named as ``spec`` says."""
    _need("onnx")
    _need("onnxscript")  # torch's exporter builds the graph with it
    inputs = example_inputs(spec, 3, torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} for _ in spec.inputs)
    with torch.no_grad(), _quiet():
        program = torch.onnx.export(
            brain,
            inputs,
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_shapes=(shapes,),  # forward(*inputs): one argument, a tuple
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    program.save(str(path))
    return path


def write_torchscript(brain: torch.nn.Module, spec: BrainSpec, path: Path) -> Path:
    """``brain`` traced to TorchScript (the batch dimension stays free)."""
    inputs = example_inputs(spec, 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        traced = torch.jit.trace(brain, inputs, check_trace=False)
    traced.save(str(path))
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """onnxruntime's dynamic int8 quantization of ``source``: the weights of matrix products (the linear layers,
    where nearly all of a policy's weights are) in int8, activations quantized on the fly. Convolutions stay
    float32: onnxruntime's integer convolution (ConvInteger) ran 3-5x slower than the float one on x86 CPUs,
    while quantizing them saved only the small convolution kernels (231 vs 276 KiB for the maze CNN)."""
    quantization = _need("onnxruntime.quantization")
    with _quiet():
        quantization.quantize_dynamic(
            str(source),
            str(target),
            weight_type=quantization.QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
        )
    return target


def _results(run_dir: Path) -> dict | None:
    path = run_dir / "report.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    return {k: report[k] for k in ("summary", "train_levels", "test_levels") if k in report}


def export(cfg: ExportConfig) -> Path:
    """Write the export folder of ``cfg.run``; returns it."""
    from mazearena.training.runs import load_trained

    train_cfg, run_dir, policy, step = load_trained(cfg.run, cfg.checkpoint, "cpu", cfg.trust_code)
    task = train_cfg.task
    envs = task.make_envs(train_cfg, 1, test=True, seed=0)
    space = envs.single_observation_space
    envs.close()
    brain = make_brain(policy, space)
    out = Path(cfg.out) if cfg.out is not None else run_dir / "export"
    make_out_dir(out)
    if cfg.format == "onnx":
        model = write_onnx(brain, brain.spec, out / "policy.onnx", cfg.opset).name
    else:
        model = write_torchscript(brain, brain.spec, out / "policy.pt").name
    quantized = quantize_int8(out / model, out / "policy.int8.onnx").name if cfg.quantize == "int8" else None
    spec = {
        "format": cfg.format,
        "model": model,
        "quantized": quantized,
        "brain": brain.spec.to_dict(),
        **task.export_spec(train_cfg),
        "run": {"name": run_dir.name, "algo": train_cfg.algo, "checkpoint": cfg.checkpoint, "steps": step},
    }
    (out / "spec.json").write_text(json.dumps(spec, indent=2, default=str))
    (out / "README.md").write_text(model_card(train_cfg, spec, _results(run_dir)))
    shutil.copyfile(RUNTIME, out / "brain.py")
    if cfg.push_to_hub:
        push_to_hub(out, cfg.push_to_hub)
    return out


def _interval(entry: dict) -> str:
    lo, hi = entry.get("success_ci95", [None, None])
    rate = entry["success_rate"]
    return f"{rate:.3f}" + (f" ({lo:.3f}–{hi:.3f})" if lo is not None else "")


def model_card(train_cfg, spec: dict, results: dict | None) -> str:
    """``README.md`` in the Hugging Face model-card format: metadata, results, inputs and outputs, usage."""
    task = train_cfg.task.env_name(train_cfg)
    what = f"{train_cfg.task.metric.removesuffix(' rate')} rate" if train_cfg.task.has_success else None
    lines = _card_metadata(spec, results, task, what)
    lines += _card_intro(train_cfg, spec, task)
    lines += _card_results(results, what)
    lines += _card_inputs(spec)
    return "\n".join(lines + _card_use(train_cfg, spec))


def _card_metadata(spec: dict, results: dict | None, task: str, what: str | None) -> list[str]:
    """The YAML front matter: library, tags, and the held-out and training results as model-index metrics (the
    success or win rate, ``what``; the mean return where the env has no notion of success)."""
    import yaml

    metrics = []
    for split, name in (("test_levels", "held-out"), ("train_levels", "training")):
        if results is not None and split in results:
            r = results[split]
            if what is None:
                metric = {"type": "mean_reward", "name": f"{name} mean return", "value": f"{r['mean_return']:.3f}"}
            else:
                lo, hi = r.get("success_ci95", [0.0, 1.0])
                value = f"{r['success_rate']:.3f} (95% CI {lo:.3f}-{hi:.3f})"
                metric = {"type": "success_rate", "name": f"{name} {what}", "value": value}
            metrics.append(metric | {"verified": False})
    meta = {
        "library_name": "onnx" if spec["format"] == "onnx" else "pytorch",
        "tags": ["reinforcement-learning", "mazearena", spec["run"]["algo"], spec["format"]],
        "model-index": [
            {
                "name": spec["run"]["name"],
                "results": [
                    {
                        "task": {"type": "reinforcement-learning", "name": "reinforcement-learning"},
                        "dataset": {"type": task, "name": task},
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    return ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", ""]


def _card_intro(train_cfg, spec: dict, task: str) -> list[str]:
    """What the policy is, how it was trained and exported, and which team it plays."""
    run, env = spec["run"], spec["env"]
    core = f"core {train_cfg.core}" if train_cfg.core != "none" else "no recurrent core"
    lines = [f"# {run['name']}: {run['algo']} on {task}", ""]
    lines += [
        f"A policy trained with [mazearena](https://pypi.org/project/mazearena/) ({run['algo']}, "
        f"{train_cfg.backbone} backbone, {core}, "
        f"{run['steps']:,} training steps, checkpoint `{run['checkpoint']}`), exported as "
        f"`{spec['model']}`" + (f" and int8 `{spec['quantized']}`" if spec["quantized"] else "") + ".",
        "",
    ]
    if "team" in env:
        lines += [f"It plays team `{env['team']}` of the arena scenario `{env['scenario']}`, one row per agent."]
        if train_cfg.adversary_of is not None:
            lines += [
                f"It was trained as the adversary of run {Path(train_cfg.adversary_of).name}: the other team was that "
                "frozen policy, not the scenario's NPCs, and the win rates below are against it."
            ]
        lines += [""]
    return lines


def _card_results(results: dict | None, what: str | None) -> list[str]:
    """The run's report: success (or win rate) and return on both splits; the return alone where the env has no
    notion of success (``what`` None)."""
    lines = ["## Results", ""]
    if results is None:
        return [*lines, "The run has no report (it did not finish training).", ""]
    lines += ["From the run's report (sampled actions; 95% Wilson intervals):", ""]
    lines += [f"| levels | {what} | mean return | episodes |" if what else "| levels | mean return | episodes |"]
    lines += ["|---|---:|---:|---:|" if what else "|---|---:|---:|"]
    for split, name in (("train_levels", "training"), ("test_levels", "held-out")):
        if split in results:
            r = results[split]
            rate = f" {_interval(r)} |" if what else ""
            lines.append(f"| {name} |{rate} {r['mean_return']:.3f} | {r['episodes']} |")
    return [*lines, ""]


def _card_inputs(spec: dict) -> list[str]:
    """The model's inputs and outputs, what the observation holds, the actions, the recurrent state."""
    brain, obs = spec["brain"], spec["observation"]
    lines = ["## Inputs and outputs", "", "| | name | shape | dtype |", "|---|---|---|---|"]
    for kind in ("inputs", "outputs"):
        for t in brain[kind]:
            lines.append(f"| {kind[:-1]} | `{t['name']}` | {list(t['shape'])} | {t['dtype']} |")
    lines += ["", obs["summary"]]
    if brain["agent_input"]:
        lines += [f"`{brain['agent_input']}` is each row's index in its team (0 to {brain['agents'] - 1})."]
    lines += [f"Actions (argmax of `{brain['scores']}`): {', '.join(obs['actions'])}."]
    if brain["state"]:
        lines += [
            "The policy is recurrent: feed each `next_state…` output back as `state…` at the next step, "
            "and zeros where an agent's episode starts."
        ]
    return lines


def _card_use(train_cfg, spec: dict) -> list[str]:
    """How to run the exported policy, and the training config it came from."""
    import yaml

    agent = spec["brain"]["agent_input"]
    call = "brain.act(obs, state" + (f", {agent}={agent}_ids)" if agent else ")")
    return [
        "`spec.json` holds all of this as data.",
        "",
        "## Use",
        "",
        "```python",
        "from brain import Brain  # brain.py of this folder: numpy and onnxruntime only",
        "",
        "brain = Brain('.')",
        "state = brain.initial_state(len(obs))",
        f"actions, state = {call}",
        "```",
        "",
        "From any language: load the model with onnxruntime (or libtorch for TorchScript) and feed the inputs above.",
        "",
        "## Training config",
        "",
        "```yaml",
        yaml.safe_dump(train_cfg.to_dict(), sort_keys=False).rstrip(),
        "```",
        "",
    ]


def push_to_hub(folder: Path, repo: str) -> None:
    """Upload the export folder to the Hugging Face Hub model repository ``repo`` (created if missing)."""
    hub = _need("huggingface_hub", "hub")
    try:
        hub.create_repo(repo, repo_type="model", exist_ok=True)
        hub.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model")
    except Exception as e:  # no network, no login, a refused repository: the export itself is done and kept
        reason = " ".join(str(e).split())[:300] or type(e).__name__
        raise UserError(
            f"push_to_hub: the upload to {repo!r} failed ({type(e).__name__}: {reason}); the export is complete in "
            f"{str(folder)!r}: push it again later"
        ) from None
