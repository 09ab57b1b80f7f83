"""Fault injection: kill -9 at random points (mid checkpoint write too), SIGTERM and SIGINT, a second process on
the same run, damaged checkpoints and metrics. After each, the run resumes and ends with the training of an
uninterrupted run: no step lost or logged twice in ``metrics.jsonl`` or in the offline W&B run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from wandb_records import history, sessions

from mazearena.apps.cli import main
from mazearena.training import TrainConfig, TrainingDiverged, train
from mazearena.training.algorithms.ppo import PPO
from mazearena.training.checkpoint import CheckpointError, load_checkpoint
from mazearena.training.runs import RunLock

ARGS = [
    *("--env.size", "7", "--env.num-levels", "50"),
    *("--ppo.num-envs", "8", "--ppo.num-steps", "16", "--ppo.num-minibatches", "2"),
    *("--total-timesteps", "2048", "--checkpoint-every", "512", "--eval-every", "1024", "--eval-episodes", "8"),
    *("--video-episodes", "0", "--no-progress", "--seed", "3"),
]
ENV = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | {"WANDB_SILENT": "true"}

# A child that dies by SIGKILL at its n-th rename of a checkpoint into place: with MODE=before, after the new
# file is fully written but before it replaces last.pt; with MODE=between, after last.pt was moved to
# last.previous.pt and before the new one takes its place (a moment with no last.pt at all).
HARNESS = """
import os, signal, sys
n, mode, seen, real = int(os.environ["KILL_AT"]), os.environ["MODE"], [0], os.replace
def replace(src, dst):
    src, dst = str(src), str(dst)
    if dst.endswith("last.pt") and src.endswith(".tmp"):
        seen[0] += 1
        if seen[0] == n and mode == "before":
            os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
    if dst.endswith("last.previous.pt") and seen[0] + 1 == n and mode == "between":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from mazearena.apps.cli import main
sys.exit(main(sys.argv[1:]))
"""


def child(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HARNESS, "train", *args],
        env=ENV | {"KILL_AT": "0", "MODE": "none"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(run: Path) -> list[dict]:
    out = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("sps", "time")} for r in out]  # wall-clock varies


def wandb_steps(run: Path) -> tuple[set[str], list[list[int]]]:
    """The run ids and, per session (oldest first), the history steps of a run folder's offline W&B runs."""
    files = sessions(run)
    steps = [[row["_step"] for row in history(f, wait=0 if f != files[-1] else 30)] for f in files]  # killed: no exit
    return {f.stem.removeprefix("run-") for f in files}, steps


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("straight")
    assert main(["train", *ARGS, "--runs-dir", str(runs), "--name", "straight"]) == 0
    return runs / "straight"


def assert_complete(run: Path, straight: Path) -> None:
    """The run trained exactly as the uninterrupted one, and W&B holds every row of its metrics."""
    assert rows(run) == rows(straight)
    steps = [r["step"] for r in rows(run)]
    ids, sessions = wandb_steps(run)
    assert len(ids) == 1  # one W&B run, however many sessions: `wandb sync` makes one run of them
    assert sorted(set(sessions[-1])) == steps  # the last session holds every step, re-logged or new
    assert not list(run.rglob(".*.tmp"))


@pytest.mark.slow  # a soak of five killed processes (about 40 s); the default suite kills one (test_train.py)
def test_kill_9_at_random_points_including_mid_write_loses_and_repeats_nothing(straight, tmp_path):
    """Checkpoints are written at steps 0, 512, ..., 2048. Kills: writing the step-0 checkpoint; between moving
    last.pt aside and putting the new one in place; with the new one written but not yet renamed; between again;
    and one at a random moment. Each run after the first resumes the one before."""
    run = tmp_path / "killed"
    first = child([*ARGS, "--runs-dir", str(tmp_path), "--name", "killed"], KILL_AT="1", MODE="before")
    assert first.wait(timeout=300) == -signal.SIGKILL
    assert not (run / "checkpoints" / "last.pt").exists() and list(run.rglob(".*.tmp"))
    for at, mode in ((2, "between"), (2, "before"), (1, "between")):
        proc = child(["--resume", str(run)], KILL_AT=str(at), MODE=mode)
        assert proc.wait(timeout=300) == -signal.SIGKILL, proc.stderr.read()
    proc = child(["--resume", str(run)])
    time.sleep(random.Random(17).uniform(2.0, 6.0))
    proc.kill()  # whatever it was doing (it may have finished)
    proc.wait()
    proc = child(["--resume", str(run)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert_complete(run, straight)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_says_how_to_resume_and_exits_128_plus_signum(signum, straight, tmp_path):
    run = tmp_path / "signalled"
    proc = child([*ARGS, "--total-timesteps", "200000", "--runs-dir", str(tmp_path), "--name", "signalled"])
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or len((run / "metrics.jsonl").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "too slow"
        time.sleep(0.1)
    proc.send_signal(signum)
    assert proc.wait(timeout=120) == 128 + signum
    err = proc.stderr.read()
    assert "Traceback" not in err and f"--resume {run}" in err, err
    saved = load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["global_step"]
    assert saved == rows(run)[-1]["step"]  # nothing trained past the checkpoint: nothing lost
    assert main(["train", "--resume", str(run), "--total-timesteps", "2048", "--no-progress"]) == 0 or saved > 2048


def test_a_second_sigint_stops_at_once_without_a_traceback(tmp_path):
    run, slow = tmp_path / "r", ["--ppo.num-envs", "64", "--ppo.num-steps", "256", "--ppo.update-epochs", "8"]
    proc = child([*ARGS, *slow, "--total-timesteps", "10000000", "--runs-dir", str(tmp_path), "--name", "r"])
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    time.sleep(1.0)  # into the second iteration (16k steps, 8 epochs: about 5 s on 2 cores)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    err = proc.stderr.read()
    assert "Traceback" not in err and "interrupted" in err, err


def test_a_second_process_on_a_run_fails_at_once_naming_the_holder(tmp_path, capsys):
    holder = child([*ARGS, "--total-timesteps", "200000", "--runs-dir", str(tmp_path), "--name", "busy"])
    lock = tmp_path / "busy" / ".lock"
    deadline = time.time() + 60
    while not (lock.exists() and lock.read_text().strip()):
        assert holder.poll() is None and time.time() < deadline
        time.sleep(0.05)
    try:
        for args in ([*ARGS, "--runs-dir", str(tmp_path), "--name", "busy"], ["--resume", str(tmp_path / "busy")]):
            started = time.time()
            assert main(["train", *args]) == 2
            assert f"in use by process {holder.pid}" in capsys.readouterr().err
            assert time.time() - started < 30
    finally:
        holder.kill()
        holder.wait()
    RunLock(tmp_path / "busy").release()  # the OS released the killed holder's lock


def test_damaged_checkpoints_fall_back_or_fail_by_name(straight, tmp_path, capsys):
    assert main(["train", *ARGS, "--runs-dir", str(tmp_path), "--name", "r"]) == 0
    run, last = tmp_path / "r", tmp_path / "r" / "checkpoints" / "last.pt"
    data = bytearray(last.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # 64 bytes zeroed in the middle
    last.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(last)
    (run / "checkpoints" / ".last.pt.x.tmp").write_bytes(b"half")  # a write a kill cut short
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # from the one before: 1536
    err = " ".join(capsys.readouterr().err.split())
    assert "last.pt' is corrupted" in err and "resuming from the checkpoint before it" in err
    assert_complete(run, straight)

    for path in (last, last.with_name("last.previous.pt")):
        path.write_bytes(path.read_bytes()[:100])
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no usable checkpoint" in err and "last.pt" in err and "last.previous.pt" in err


def test_torn_metrics_lines_are_dropped_at_the_end_and_named_elsewhere(tmp_path, capsys):
    config = ["train", *ARGS, "--total-timesteps", "1024", "--wandb-mode", "disabled", "--runs-dir", str(tmp_path)]
    assert main([*config, "--name", "r"]) == 0
    run = tmp_path / "r"
    metrics = run / "metrics.jsonl"
    kept = metrics.read_text()
    metrics.write_text(kept + '{"step": 1152, "loss/po' + "\x00" * 32)  # a kill mid-line, NUL-padded
    assert main(["train", "--resume", str(run), "--no-progress", "--total-timesteps", "1280"]) == 0
    assert "dropped the incomplete last line" in capsys.readouterr().err
    assert [r["step"] for r in rows(run)] == list(range(128, 1281, 128))
    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join([*lines[:3], lines[3][:20], *lines[4:]]) + "\n")
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 2
    assert f"{metrics}, line 4: not a metrics row" in " ".join(capsys.readouterr().err.split())


def test_resume_extends_a_run_and_refuses_options_that_would_change_it(straight, tmp_path, capsys):
    config = ["train", *ARGS, "--runs-dir", str(tmp_path), "--name", "r"]
    assert main([*config, "--total-timesteps", "1024"]) == 0
    run = tmp_path / "r"
    assert main(["train", "--resume", str(run), "--ppo.learning-rate", "0.01", "--env.size", "11"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "refused" in err and "ppo.learning_rate" in err and "env.size" in err
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # nothing to do, and it says so
    assert "reached its total_timesteps (1024)" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--total-timesteps", "2048", "--no-progress"]) == 0
    assert "applied total_timesteps=2048" in capsys.readouterr().err
    assert [r["step"] for r in rows(run)] == [r["step"] for r in rows(straight)]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["global_step"] == 2048
    assert main(["train", "--resume", str(run), "--total-timesteps", "512"]) == 2
    assert "below the step the run reached (2048)" in capsys.readouterr().err
    # a value that happens to be the default is given all the same: applied, or refused, never dropped
    assert main(["train", "--resume", str(run), "--env.size", "9"]) == 2  # 9 is the default size; the run's is 7
    assert "env.size (the run's: 7, given: 9)" in " ".join(capsys.readouterr().err.split())
    assert main(["train", "--resume", str(run), "--eval-every", "200000", "--no-progress"]) == 0  # the default
    assert "applied eval_every=200000" in capsys.readouterr().err


def test_a_start_that_died_before_its_first_checkpoint_starts_again_cleanly(tmp_path):
    proc = child([*ARGS, "--runs-dir", str(tmp_path), "--name", "r"], KILL_AT="1", MODE="before")
    assert proc.wait(timeout=300) == -signal.SIGKILL
    assert main(["train", *ARGS, "--total-timesteps", "512", "--runs-dir", str(tmp_path), "--name", "r"]) == 0
    assert [r["step"] for r in rows(tmp_path / "r")] == [128, 256, 384, 512]
    assert main(["train", *ARGS, "--runs-dir", str(tmp_path), "--name", "r"]) == 2  # now it holds a run


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real, calls = PPO.iteration, []

    def diverging(self):
        metrics = real(self)
        calls.append(1)
        if len(calls) == 6:
            metrics["loss/value"] = float("nan")
        return metrics

    monkeypatch.setattr(PPO, "iteration", diverging)
    cfg = TrainConfig(runs_dir=tmp_path, name="r", total_timesteps=2048, checkpoint_every=512, progress=False)
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.eval_every, cfg.video_episodes = 8, 16, 0, 0
    with pytest.raises(TrainingDiverged, match=r"step 768: loss/value became non-finite"):
        train(cfg)
    run = tmp_path / "r"
    assert load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["global_step"] == 512
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 768 and last["loss/value"] != last["loss/value"]  # logged, as NaN, not dropped
    assert torch.isfinite(load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["policy"]["critic.weight"]).all()


class _FullDisk:
    """A file whose writes fail after ``room`` bytes as a full disk's do (or a folder turned read-only)."""

    def __init__(self, f, code: int, room: int = 100) -> None:
        self.f, self.code, self.room = f, code, room

    def write(self, data) -> int:
        if self.room < len(data):
            raise OSError(self.code, os.strerror(self.code))
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_a_disk_that_fills_up_mid_run_stops_it_in_one_line_keeping_the_last_checkpoint(
    code, straight, tmp_path, capsys, monkeypatch
):
    import errno

    real_save, saves = torch.save, []

    def save(obj, f, *args, **kwargs):  # the third last.pt (step 1024: the trainer's state) meets the full disk
        saves.append("algo" in obj)
        fails = saves[-1] and sum(saves) == 3
        return real_save(obj, _FullDisk(f, getattr(errno, code)) if fails else f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    config = ["train", *ARGS, "--runs-dir", str(tmp_path), "--name", "r"]
    assert main(config) == 1
    err = " ".join(capsys.readouterr().err.split())
    run = tmp_path / "r"
    assert f"{os.strerror(getattr(errno, code))}: {run / 'checkpoints' / 'last.pt'}" in err, err
    fix = "free space" if code == "ENOSPC" else f"make {run} writable"
    assert f"training stopped at step 1,024; {run / 'checkpoints' / 'last.pt'} (step 512) is kept: {fix}" in err
    assert f"continue with --resume {run}" in err and "Traceback" not in err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["global_step"] == 512
    assert not list(run.rglob(".*.tmp"))  # the half-written file is gone
    monkeypatch.setattr(torch, "save", real_save)  # space again
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert rows(run) == rows(straight)  # bit-identical to the run that never stopped
