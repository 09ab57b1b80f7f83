"""``mazearena sweep CONFIG --seeds N --param name=v1,v2 ...``: hyperparameters × seeds as Ray Tune trials.

Every trial is an ordinary run folder (``runs/<sweep>/<trial>/``) and a W&B run in the sweep's group; after
training, each trial is evaluated by the harness on the training and held-out suites. The sweep then
ranks the configurations by the IQM of their runs' success over those suites, with stratified-bootstrap
95% intervals (``runs/<sweep>/sweep.md``, ``sweep.json``, ``sweep.png``). Ray runs the trials on this
machine by default (a cluster of its own, which Ray >= 2.59 starts with token authentication: its servers listen
on the machine's address, Ray does not bind them to 127.0.0.1, and take only connections showing the token in
``~/.ray/auth_token``), or on an existing cluster with ``--address``, as that cluster is configured. A trial that
crashes is reported and
does not stop the others; running the same sweep again with ``--resume`` skips finished trials and continues
unfinished ones from their last checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import os
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tyro
import yaml

from mazearena.checks import UserError, check_name
from mazearena.training.config import TrainConfig, find_config, from_dict, read_config_data
from mazearena.training.loggers import first_reaching, read_metrics

DONE = "trial.json"


@dataclass
class SweepConfig:
    """Train every combination of hyperparameter values × seeds as Ray Tune trials; rank the configurations."""

    config: tyro.conf.Positional[Path]
    """Training config the trials start from: a YAML file, or a shipped example by name (``ppo_maze9``)."""
    seeds: int = 3
    """Seeds per configuration (seed, seed + 1, ...)."""
    param: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    """Values to sweep, ``name=v1,v2,...`` with dotted names of training options (``ppo.learning_rate=3e-4,1e-3``);
    repeat the option for more. The grid is every combination."""
    name: str = ""
    """Sweep name: its folder under runs_dir and its W&B group (default: config name and time)."""
    runs_dir: Path = Path("runs")
    """Where the sweep folder is made."""
    address: str = ""
    """Ray cluster to run on (``auto`` or ``ray://host:10001``); empty: a local Ray on this machine."""
    cpus_per_trial: float = 1.0
    """CPUs Ray reserves per trial (trials run side by side as the machine allows)."""
    gpus_per_trial: float = 0.0
    """GPUs per trial (fractions share one); trials with GPUs train on ``cuda``."""
    max_concurrent: int = 0
    """Trials at once at most (0: as many as the resources allow)."""
    eval_episodes: int = 128
    """Episodes per suite (train, test) in each trial's evaluation."""
    resume: bool = False
    """Continue the sweep of this name: finished trials are kept, unfinished ones resume from their checkpoint."""
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    """W&B mode of the trials (each a run in the sweep's group)."""

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise UserError(f"seeds must be >= 1, got {self.seeds}")
        if self.eval_episodes < 1:
            raise UserError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise UserError("cpus_per_trial must be > 0 and gpus_per_trial >= 0")
        self.config = find_config(self.config)  # a file, or a shipped example by name (ppo_maze9)


def check_resources(cfg: SweepConfig, resources: dict[str, float]) -> None:
    """A trial must fit on the cluster (Ray would otherwise wait for ever for GPUs or CPUs that never come)."""
    for key, asked in (("GPU", cfg.gpus_per_trial), ("CPU", cfg.cpus_per_trial)):
        has = float(resources.get(key, 0.0))
        if asked > has:
            option = f"{key.lower()}s_per_trial"
            raise UserError(f"{option}={asked:g}, but the Ray cluster has {has:g} {key}s: no trial could ever start")


def parse_params(params: tuple[str, ...]) -> dict[str, list[Any]]:
    """``{"ppo.learning_rate": [0.0003, 0.001]}`` from ``name=v1,v2`` strings (values read as YAML)."""
    out: dict[str, list[Any]] = {}
    for item in params:
        name, eq, values = item.partition("=")
        if not eq or not name or not values:
            raise UserError(f"--param must look like name=value1,value2; got {item!r}")
        if name in out:
            raise UserError(f"--param {name} is given twice")
        if name in ("seed", "name", "runs_dir", "resume"):
            raise UserError(f"--param {name}: the sweep sets {name} itself")
        out[name] = [_value(v) for v in values.split(",")]
    return out


def _value(text: str) -> Any:
    """A parameter value: a number where it reads as one (``3e-4`` too, which YAML would keep as text), else
    YAML (``null``, ``true``, strings)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return yaml.safe_load(text)


def _set(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        data = data.setdefault(key, {})
        if not isinstance(data, dict):
            raise UserError(f"--param {dotted}: {key} is not a section of the training config")
    data[keys[-1]] = value


def _label(values: dict[str, Any]) -> str:
    return ",".join(f"{k.split('.')[-1]}={v}" for k, v in values.items()) or "base"


def plan(cfg: SweepConfig, sweep_dir: Path) -> list[dict[str, Any]]:
    """Every trial: its configuration label, the values it sets, its seed and its training config (as a dict),
    each config checked by building it (a bad value is named before anything runs)."""
    base = read_config_data(find_config(cfg.config))
    params = parse_params(cfg.param)
    try:
        first_seed = from_dict(TrainConfig, base).seed  # the base config is checked before any trial is built
    except (TypeError, ValueError) as e:
        raise UserError(f"{cfg.config}: {e}") from None
    trials = []
    for combo in itertools.product(*params.values()) if params else [()]:
        values = dict(zip(params, combo, strict=True))
        for k in range(cfg.seeds):
            data = copy.deepcopy(base)
            for name, value in values.items():
                _set(data, name, value)
            seed = first_seed + k
            trial = f"{_label(values)},seed={seed}".replace("/", "_")
            data |= {
                "seed": seed,
                "name": trial,
                "runs_dir": str(sweep_dir.resolve()),
                "progress": False,
                "wandb_group": sweep_dir.name,
                "wandb_mode": cfg.wandb_mode,
                "resume": None,
            }
            if cfg.gpus_per_trial > 0:
                data["device"] = "cuda"
            try:
                from_dict(TrainConfig, data)
            except (TypeError, ValueError) as e:
                raise UserError(f"trial {trial}: {e}") from None
            trials.append({"label": _label(values), "values": values, "seed": seed, "trial": trial, "config": data})
    return trials


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one trial (resuming its run folder if it holds a checkpoint) and evaluate it; writes
    ``trial.json`` in the run folder when done and returns what it holds."""
    import numba
    import torch

    from mazearena.evaluation.evaluate import EvalConfig, evaluate
    from mazearena.training.loop import train

    data = dict(spec["config"])
    run_dir = Path(data["runs_dir"]) / data["name"]
    done = run_dir / DONE
    if done.exists():
        return json.loads(done.read_text())
    (run_dir / "error.txt").unlink(missing_ok=True)  # a crashed trial is tried again
    threads = max(1, int(spec.get("threads", 1)))
    torch.set_num_threads(threads)  # trials share the machine: neither torch nor the engine's numba kernels
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # may take more than the trial's cores
    if (run_dir / "checkpoints" / "last.pt").exists():
        data["resume"] = str(run_dir)
    start = time.time()
    trained = from_dict(TrainConfig, data)
    train(trained, handle_signals=True)  # a stopped trial saves, and resumes
    evaluate(
        EvalConfig(
            runs=(run_dir,),
            suites=("train", "test"),
            perturbations=("none",),
            episodes=spec["eval_episodes"],
            curve_episodes=0,
            wandb_mode=data["wandb_mode"],
            progress=False,
        )
    )
    summary = json.loads((run_dir / "eval" / "summary.json").read_text())
    success = {c["suite"]: c["success_rate"] for c in summary["conditions"]}
    reached = None
    if trained.stop_at:  # how soon the trial reached its held-out target (the sweep ranks by it too)
        reached = first_reaching(read_metrics(run_dir / "metrics.jsonl"), trained.stop_at)
    result = {
        "trial": spec["trial"],
        "label": spec["label"],
        "values": spec["values"],
        "seed": spec["seed"],
        "run": str(run_dir),
        "success": success,
        "seconds": time.time() - start,
        "target": trained.stop_at or None,
        "reached": reached,
    }
    done.write_text(json.dumps(result, indent=2))
    return result


def _trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: one trial; a crash is recorded in the run folder, then raised."""
    from ray import tune

    spec = config["spec"]
    try:
        result = run_trial(spec)
    except BaseException:
        run_dir = Path(spec["config"]["runs_dir"]) / spec["config"]["name"]
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "error.txt").write_text(traceback.format_exc())
        raise
    tune.report(
        {"test_success": result["success"].get("test", 0.0), "train_success": result["success"].get("train", 0.0)}
    )


def sweep(cfg: SweepConfig, say: Callable[[str], None] | None = None, interval: float = 10.0) -> Path:
    """Run the sweep ``cfg`` describes; returns its folder (which holds sweep.md/json/png). ``say``: where its
    progress goes, every ``interval`` seconds (:class:`~mazearena.apps.sweep_progress.SweepProgress`)."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UserError(
            "mazearena sweep runs on Ray Tune, which is not installed: pip install 'mazearena[sweep]'"
        ) from None

    if cfg.name:
        check_name(cfg.name, "sweep name")
    name = cfg.name or f"sweep-{Path(cfg.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    sweep_dir = (Path(cfg.runs_dir) / name).resolve()
    if sweep_dir.exists() and not cfg.resume and any(sweep_dir.iterdir()):
        raise UserError(
            f"sweep folder {str(sweep_dir)!r} already exists: pass --resume to continue it, or another --name"
        )
    trials = plan(cfg, sweep_dir)
    threads = max(1, int(cfg.cpus_per_trial))
    specs = [t | {"eval_episodes": cfg.eval_episodes, "threads": threads} for t in trials]
    started = not ray.is_initialized()
    if started:
        ray.init(address=cfg.address or None, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        check_resources(cfg, ray.cluster_resources())
    except UserError:
        if started:
            ray.shutdown()
        raise
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "sweep_config.json").write_text(
        json.dumps({"config": str(cfg.config), "seeds": cfg.seeds, "param": list(cfg.param)}, indent=2)
    )
    try:
        trainable = tune.with_resources(_trainable, {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial})
        tuner = tune.Tuner(
            trainable,
            param_space={"spec": tune.grid_search(specs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=cfg.max_concurrent or None),
            run_config=tune.RunConfig(
                name="ray",
                storage_path=str(sweep_dir),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
        if say is None:
            tuner.fit()  # errors of trials are collected below, from the run folders
        else:
            from mazearena.apps.sweep_progress import SweepProgress

            say(f"[sweep] {len(trials)} trials in {sweep_dir}; progress every {interval:g} s")
            quiet = {"RAY_AIR_NEW_OUTPUT": "0"}  # Tune's newer output prints its own table whatever the verbosity
            with SweepProgress(trials, sweep_dir, say, interval), _environ(quiet):
                tuner.fit()
    finally:
        if started:
            ray.shutdown()
    write_summary(sweep_dir, trials)
    return sweep_dir


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """``values`` set in the environment for the block (those the user set are kept), then undone."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def time_to_target(done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration of the finished trials ``done`` (their ``trial.json``) that had a held-out target: how
    many runs reached it and the seconds and steps each took (``inf`` for one that did not), ranked by the median
    seconds; empty when no trial had a target."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for d in done:
        if d.get("target"):
            by_label.setdefault(d["label"], []).append(d)
    out = []
    for label, runs in by_label.items():
        reached = [r["reached"] for r in runs]
        out.append(
            {
                "configuration": label,
                "runs": len(runs),
                "reached": sum(r is not None for r in reached),
                "seconds": sorted(r["seconds"] if r else math.inf for r in reached),
                "steps": sorted(r["step"] if r else math.inf for r in reached),
            }
        )
    return sorted(out, key=lambda r: (statistics.median(r["seconds"]), r["configuration"]))


def _time_table(timed: list[dict[str, Any]], target: float) -> list[str]:
    """The Markdown section of :func:`time_to_target`'s ranking."""
    lines = [
        "",
        f"## Time to the held-out target ({target:g})",
        "",
        "Training seconds (evaluations included) and env steps until a run's held-out evaluation first reached "
        "the config's target; configurations ranked by the median seconds, a run that never reached it counting "
        "as slower than any that did.",
        "",
        "| rank | configuration | reached | median seconds (range) | median steps (range) |",
        "|---:|---|---:|---:|---:|",
    ]
    for i, r in enumerate(timed, 1):
        lines.append(
            f"| {i} | {r['configuration']} | {r['reached']} of {r['runs']} | {_spread(r['seconds'], '{:.1f}')} | "
            f"{_spread(r['steps'], '{:,.0f}')} |"
        )
    return lines


def _spread(values: list[float], fmt: str) -> str:
    """``median (low–high)`` of ``values``, ``never`` for the infinite ones (runs that did not reach the target)."""

    def one(v: float) -> str:
        return "never" if math.isinf(v) else fmt.format(v)

    return f"{one(statistics.median(values))} ({one(min(values))}–{one(max(values))})"


def write_summary(sweep_dir: Path, trials: list[dict[str, Any]]) -> dict:
    """Rank the configurations by the IQM of their runs' success over the train and test suites (stratified
    bootstrap 95% CIs); list crashed and unfinished trials. Writes sweep.json, sweep.md and sweep.png."""
    from mazearena.evaluation.plots import plot_intervals
    from mazearena.evaluation.summary import played_mode, read_csv, summarise

    rows, finished, crashed, missing, done = [], [], [], [], []
    for t in trials:
        run_dir = sweep_dir / t["trial"]
        if (run_dir / DONE).exists():
            for row in read_csv(run_dir / "eval" / "episodes.csv"):
                rows.append(row | {"method": t["label"], "severity": float(row["severity"])})
            finished.append(t["trial"])
            done.append(json.loads((run_dir / DONE).read_text()))
        elif (run_dir / "error.txt").exists():
            crashed.append({"trial": t["trial"], "error": (run_dir / "error.txt").read_text().strip().splitlines()[-1]})
        else:
            missing.append(t["trial"])
    result: dict[str, Any] = {"finished": finished, "crashed": crashed, "unfinished": missing, "ranking": []}
    lines = [
        f"# Sweep {sweep_dir.name}",
        "",
        f"{len(finished)} of {len(trials)} trials finished"
        + (f", {len(crashed)} crashed" if crashed else "")
        + (f", {len(missing)} unfinished" if missing else "")
        + ".",
        "",
    ]
    if rows:
        summary = summarise(rows)
        mode = summary["modes"][0]
        agg_of = {m: summary["aggregates"][m][played_mode(summary, m, mode)] for m in summary["methods"]}
        ranking = sorted(summary["methods"], key=lambda m: -agg_of[m]["iqm"]["value"])
        for m in ranking:
            agg = agg_of[m]
            result["ranking"].append({"configuration": m, "runs": agg["runs"], "iqm": agg["iqm"], "mean": agg["mean"]})
        lines += [
            "Configurations ranked by the IQM of their runs' success on the training and held-out suites, "
            "95% stratified bootstrap intervals.",
            "",
            "| rank | configuration | runs | IQM (95% CI) | mean (95% CI) |",
            "|---:|---|---:|---:|---:|",
        ]
        for i, r in enumerate(result["ranking"], 1):
            iqm, mean = r["iqm"], r["mean"]
            lines.append(
                f"| {i} | {r['configuration']} | {r['runs']} | {iqm['value']:.3f} ({iqm['low']:.3f}–"
                f"{iqm['high']:.3f}) | {mean['value']:.3f} ({mean['low']:.3f}–{mean['high']:.3f}) |"
            )
        summary["methods"] = ranking
        plot_intervals(summary, sweep_dir / "sweep.png")
        lines += ["", "![configurations](sweep.png)"]
    timed = time_to_target(done)
    result["time_to_target"] = [  # null for the runs that never reached it (JSON has no infinity)
        r | {k: [None if math.isinf(v) else v for v in r[k]] for k in ("seconds", "steps")} for r in timed
    ]
    if timed:
        lines += _time_table(timed, next(d["target"] for d in done if d.get("target")))
    if crashed:
        lines += ["", "## Crashed trials", "", *[f"- {c['trial']}: {c['error']}" for c in crashed]]
    if missing:
        lines += [
            "",
            "## Unfinished trials",
            "",
            *[f"- {m}" for m in missing],
            "",
            "Run the same command with --resume to finish them.",
        ]
    (sweep_dir / "sweep.json").write_text(json.dumps(result, indent=2))
    (sweep_dir / "sweep.md").write_text("\n".join(lines) + "\n")
    return result
