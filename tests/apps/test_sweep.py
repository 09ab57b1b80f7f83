"""``mazearena sweep``: a tiny local Ray Tune sweep end to end, a crashing trial, resuming, bad parameters."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mazearena.apps.cli import main
from mazearena.apps.sweep import SweepConfig, parse_params, plan

TINY = {
    "algo": "ppo",
    "total_timesteps": 256,
    "env": {"size": 7, "num_levels": 20},
    "ppo": {"num_envs": 8, "num_steps": 16, "num_minibatches": 2},
    "checkpoint_every": 128,
    "eval_every": 0,
    "video_episodes": 0,
}


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.mark.slow  # about 30 s; the default suite runs the README's two-trial sweep with W&B offline
def test_a_tiny_sweep_runs_trials_reports_a_crash_ranks_and_resumes(config, tmp_path):
    pytest.importorskip("ray.tune")
    args = [
        "sweep",
        str(config),
        "--seeds",
        "1",
        "--param",
        "init_from=null,/no/such/run",
        "--name",
        "s",
        "--runs-dir",
        str(tmp_path),
        "--eval-episodes",
        "8",
        "--wandb-mode",
        "offline",  # as users run it (W&B's name rules once crashed every trial)
    ]
    assert main(args) == 0
    sweep_dir = tmp_path / "s"
    result = json.loads((sweep_dir / "sweep.json").read_text())
    assert result["finished"] == ["init_from=None,seed=0"]
    assert [c["trial"] for c in result["crashed"]] == ["init_from=_no_such_run,seed=0"]  # reported, not fatal
    assert "does not exist" in result["crashed"][0]["error"]
    assert [r["configuration"] for r in result["ranking"]] == ["init_from=None"]
    trial = sweep_dir / "init_from=None,seed=0"
    for name in ("config.yaml", "checkpoints/last.pt", "eval/summary.json", "trial.json"):
        assert (trial / name).exists(), name
    assert yaml.safe_load((trial / "config.yaml").read_text())["wandb_group"] == "s"  # the sweep's W&B group
    assert "Crashed trials" in (sweep_dir / "sweep.md").read_text() and (sweep_dir / "sweep.png").exists()
    finished_at = (trial / "trial.json").stat().st_mtime
    assert main(args) == 2  # the folder exists: resume or another name
    assert main([*args, "--resume"]) == 0  # finished trials are kept, the crashed one is tried again
    assert (trial / "trial.json").stat().st_mtime == finished_at
    assert len(json.loads((sweep_dir / "sweep.json").read_text())["crashed"]) == 1


def test_the_readme_sweep_with_wandb_offline_finishes_both_trials(config, tmp_path, capsys):
    """``--param ppo.learning_rate=3e-4,1e-3`` as the README shows it, W&B offline (the default): trial folders
    keep their readable names, W&B gets valid artifact names, and both trials finish into one W&B group; the
    sweep says how it goes and ends with its table."""
    pytest.importorskip("ray.tune")
    args = ["sweep", str(config), "--seeds", "1", "--param", "ppo.learning_rate=3e-4,1e-3", "--name", "lr"]
    assert main([*args, "--runs-dir", str(tmp_path), "--eval-episodes", "8"]) == 0
    out = capsys.readouterr().out
    assert "[sweep] 2 trials in" in out and "[sweep] done learning_rate=0.001,seed=0: success train" in out
    assert "[sweep] 2/2 trials done" in out and "configurations by IQM" in out
    assert "Configuration for experiment" not in out  # Ray Tune's own table, printed whatever the verbosity
    result = json.loads((tmp_path / "lr" / "sweep.json").read_text())
    assert sorted(result["finished"]) == ["learning_rate=0.0003,seed=0", "learning_rate=0.001,seed=0"]
    assert not result["crashed"]
    for trial in result["finished"]:
        assert list((tmp_path / "lr" / trial / "wandb").glob("offline-run-*"))


def test_sweep_parameters_are_checked_before_anything_runs(config, tmp_path):
    assert parse_params(("ppo.learning_rate=3e-4,0.001", "backbone=cnn,mlp")) == {
        "ppo.learning_rate": [3e-4, 0.001],
        "backbone": ["cnn", "mlp"],
    }
    trials = plan(SweepConfig(config=config, seeds=2, param=("backbone=cnn,mlp",)), tmp_path / "s")
    assert [t["trial"] for t in trials] == [
        "backbone=cnn,seed=0",
        "backbone=cnn,seed=1",
        "backbone=mlp,seed=0",
        "backbone=mlp,seed=1",
    ]
    for bad, match in (
        ("ppo.learning_rat=0.1", "unknown PPOConfig field"),
        ("backbone=lstm", "backbone must be"),
        ("seed=1,2", "the sweep sets seed"),
        ("lr", "name=value1,value2"),
    ):
        with pytest.raises(ValueError, match=match):
            plan(SweepConfig(config=config, param=(bad,)), tmp_path / "s")
    with pytest.raises(ValueError, match="does not exist"):
        SweepConfig(config=tmp_path / "missing.yaml")
    shipped = SweepConfig(config="ppo_maze9")  # a shipped config by name, as the docs and --help write it
    assert shipped.config.name == "ppo_maze9.yaml" and shipped.config.is_file()
    assert (
        len(plan(SweepConfig(config="ppo_maze9", seeds=1, param=("ppo.learning_rate=1e-3,3e-4",)), tmp_path / "n")) == 2
    )
    import tyro

    repeated = tyro.cli(SweepConfig, args=[str(config), "--param", "backbone=cnn,mlp", "--param", "seed_x=1"])
    assert repeated.param == ("backbone=cnn,mlp", "seed_x=1")  # the option repeats


def test_a_trial_keeps_torch_and_the_engine_to_its_share_of_the_cores(config, tmp_path, monkeypatch):
    import numba
    import torch

    import mazearena.training.loop as loop
    from mazearena.apps.sweep import run_trial

    seen = {}

    def train(cfg, handle_signals):
        seen["threads"] = torch.get_num_threads(), numba.get_num_threads()
        raise KeyboardInterrupt  # stop before the trial trains

    before = torch.get_num_threads(), numba.get_num_threads()
    monkeypatch.setattr(loop, "train", train)
    spec = {"config": {**TINY, "runs_dir": str(tmp_path), "name": "t"}, "threads": 1}
    try:
        with pytest.raises(KeyboardInterrupt):
            run_trial(spec)
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
    assert seen["threads"] == (1, 1)


def test_time_to_target_ranks_by_the_median_and_counts_a_run_that_never_got_there_as_slowest():
    from mazearena.apps.sweep import time_to_target
    from mazearena.training.loggers import first_reaching

    rows = [
        {"step": 100, "time": 1.0, "eval/success_rate": 0.5},
        {"step": 150, "time": 1.5},
        {"step": 200, "time": 2.5, "eval/success_rate": 0.96},
        {"step": 300, "time": 3.5, "eval/success_rate": 0.99},
    ]
    assert first_reaching(rows, 0.95) == {"step": 200, "seconds": 2.5}
    assert first_reaching(rows, 0.995) is None

    def trial(label: str, reached) -> dict:
        return {"label": label, "target": 0.95, "reached": reached}

    done = [
        trial("lr=a", {"step": 300, "seconds": 30.0}),
        trial("lr=a", None),  # never: slower than any run that got there
        trial("lr=a", {"step": 100, "seconds": 10.0}),
        trial("lr=b", {"step": 200, "seconds": 20.0}),
        trial("lr=b", {"step": 250, "seconds": 25.0}),
        {"label": "no-target", "target": None, "reached": None},
    ]
    ranked = time_to_target(done)
    assert [r["configuration"] for r in ranked] == ["lr=b", "lr=a"]  # medians 22.5 s and 30 s
    assert ranked[1]["reached"] == 2 and ranked[1]["runs"] == 3
    assert ranked[1]["seconds"][-1] == float("inf")
    assert time_to_target([{"label": "x", "target": None, "reached": None}]) == []


def test_the_sweep_plot_keeps_a_long_title_inside_the_image(tmp_path):
    """sweep.png's title lists the configurations with one run; with many it was cut at both edges."""
    from PIL import Image

    from mazearena.evaluation.plots import plot_intervals

    methods = [f"learning_rate={lr},ent_coef={e},num_steps=128" for lr in (1e-4, 3e-4, 1e-3) for e in (0.0, 0.01)]
    agg = {"low": 0.4, "high": 0.6, "value": 0.5, "runs": 1}
    summary = {
        "methods": methods,
        "played_modes": {m: ["stochastic"] for m in methods},
        "aggregates": {
            m: {"stochastic": dict.fromkeys(("mean", "median", "iqm", "optimality_gap"), agg) | {"runs": 1}}
            for m in methods
        },
        "suites": ["train", "test"],
    }
    image = np.asarray(Image.open(plot_intervals(summary, tmp_path / "sweep.png")).convert("L"))
    border = np.concatenate([image[:3].ravel(), image[:, :3].ravel(), image[:, -3:].ravel()])
    assert border.min() > 200, "something is drawn across the image's edge"  # white margins: nothing cut


def test_sweep_progress_reads_each_trial_from_its_folder(tmp_path):
    from mazearena.apps.sweep_progress import SweepProgress

    trials = [{"trial": f"lr={k},seed=0", "config": {"total_timesteps": 1000}} for k in range(4)]
    running, done, crashed = (tmp_path / t["trial"] for t in trials[:3])
    for run, step in ((running, 400), (done, 1000), (crashed, 200)):
        run.mkdir()
        (run / "metrics.jsonl").write_text(json.dumps({"step": step, "eval/success_rate": 0.5}) + '\n{"step": 9')
    (done / "trial.json").write_text(json.dumps({"success": {"train": 0.9, "test": 0.8}, "seconds": 12}))
    (crashed / "error.txt").write_text("boom")
    said: list[str] = []
    progress = SweepProgress(trials, tmp_path, said.append, interval=60)
    progress.report()
    assert "[sweep] lr=0,seed=0: step 400/1,000 (40%), held-out 0.500" in said  # the torn last row is skipped
    assert "[sweep] done lr=1,seed=0: success train 0.900, test 0.800 (12 s)" in said
    assert any(line.startswith("[sweep] crashed lr=2,seed=0 at step 200") for line in said)
    assert said[-1].startswith("[sweep] 1/4 trials done, 1 crashed; 1,600/4,000 steps (40%)")
    said.clear()
    progress.report()  # a finished trial is told once
    assert not any("done lr=1" in line for line in said)
