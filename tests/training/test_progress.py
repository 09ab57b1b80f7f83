"""Progress a person and a log file can follow: plain lines when the output is not a terminal (batch jobs,
``> run.log``), an ETA from the second update on however far apart updates are, the work after training shown
as it runs, and step counts rounded up, not down."""

import os
import re
import subprocess
import sys
import time

from mazearena.training.loggers import ConsoleProgress

ARGS = [
    *("--env.size", "7", "--ppo.num-envs", "8", "--ppo.num-steps", "16", "--ppo.num-minibatches", "2"),
    *("--eval-every", "0", "--eval-episodes", "8", "--video-episodes", "1", "--wandb-mode", "offline"),
]


def test_a_batch_job_log_has_periodic_progress_lines_and_the_final_work(tmp_path):
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | {"WANDB_SILENT": "true"}
    with open(log, "w") as out:  # stdout and stderr to a file, as `nohup ... > run.log 2>&1` does
        cmd = [sys.executable, "-m", "mazearena", "train", *ARGS, "--total-timesteps", "1000", "--log-interval", "0"]
        proc = subprocess.run([*cmd, "--runs-dir", str(tmp_path), "--name", "r"], stdout=out, stderr=out, env=env)
    text = log.read_text()
    assert proc.returncode == 0, text
    lines = [line for line in text.splitlines() if line.startswith("[train] step")]
    assert len(lines) == 8  # 1000 steps rounded up to 8 iterations of 128, a line each with --log-interval 0
    assert "rounded up to whole iterations of 128 steps" in text and "training 1,024 steps" in text
    assert lines[-1].startswith("[train] step 1,024/1,024 (100%)")
    assert all(re.search(r"\| eta \d+:\d\d:\d\d$", line) for line in lines)  # an ETA on every line
    for phase in ("final evaluation, training levels", "final evaluation, held-out levels", "video of 1"):
        assert re.search(rf"\[{phase}[^\]]*\] \d+/\d+ in ", text), phase  # each phase says when it is done
    assert "\x1b[" not in text  # no terminal control codes in a log file
    assert f"resume with --resume {tmp_path / 'r'}" in text  # on one line, however long the path


def test_the_eta_shows_from_the_second_update_however_far_apart(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    progress = ConsoleProgress(total=10_000, start_step=0, interval=3600, terminal=False)
    assert progress.eta(0) == "-:--:--"
    clock[0] += 600  # ten minutes between updates (rich's window is 30 s)
    assert progress.eta(1000) == "1:30:00"  # 9000 steps left at 1000 steps per 10 minutes
    resumed = ConsoleProgress(total=10_000, start_step=5_000, interval=60, terminal=False)
    clock[0] += 100
    assert resumed.eta(6000) == "0:06:40"  # the rate of this process, not counting the steps before the resume


def test_progress_lines_show_the_latest_window_until_the_next_one(capsys):
    progress = ConsoleProgress(total=300, interval=0, terminal=False)
    progress.update(100, {"sps": 50.0})
    progress.update(200, {"sps": 50.0, "episode/return": 0.5, "episode/success": 0.75, "episode/length": 12.0})
    progress.update(300, {"sps": 50.0})  # too few episodes finished since: the latest window's statistics
    lines = capsys.readouterr().out.splitlines()
    assert "return" not in lines[0]
    assert all("return 0.5 | success 0.750 | length 12.0" in line for line in lines[1:])
    advance = ConsoleProgress(total=1, interval=3600, terminal=False).task("final evaluation", 5)
    for _ in range(5):
        advance(1)
    lines = capsys.readouterr().out.splitlines()  # its start, then every interval (an hour), then its end
    assert (
        lines[0] == "[final evaluation] 0/5" and lines[1].startswith("[final evaluation] 5/5 in ") and len(lines) == 2
    )


def test_training_episode_statistics_come_from_windows_of_enough_episodes(tmp_path):
    """Early on only the short episodes have ended: a mean over the few of one iteration showed success 1.0 at
    the first points of every curve. Each reported window now holds at least one episode per env (the run's last
    row excepted: it reports the unfinished window, so that a short run has episode statistics at all)."""
    import json

    from mazearena.training import EnvConfig, TrainConfig, train

    cfg = TrainConfig(runs_dir=tmp_path, name="r", env=EnvConfig(size=7), total_timesteps=4096, progress=False)
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 16, 16, 2
    cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
    rows = [json.loads(line) for line in (train(cfg) / "metrics.jsonl").read_text().splitlines()]
    windows = [r for r in rows if "episode/count" in r and r is not rows[-1]]
    assert windows and all(r["episode/count"] >= 16 for r in windows)
    assert len(windows) < len(rows) - 1  # some iterations had too few episodes to report on their own
    assert rows[-1].get("episode/count", 1) >= 1  # the last row: what ended since the last window, however few


def test_periodic_videos_leave_training_unchanged(tmp_path):
    import json

    import torch

    from mazearena.training import EnvConfig, TrainConfig, train
    from mazearena.training.checkpoint import load_checkpoint

    def run(name: str, video_every: int):
        cfg = TrainConfig(runs_dir=tmp_path, name=name, env=EnvConfig(size=7), total_timesteps=512, progress=False)
        cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 8, 16, 2
        cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 1, 8, "offline"
        cfg.video_every = video_every
        out = train(cfg)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return out, [{k: v for k, v in r.items() if k not in ("sps", "time")} for r in rows]

    with_videos, rows_a = run("videos", 256)
    without, rows_b = run("plain", 0)
    assert sorted(p.name for p in (with_videos / "videos").iterdir()) == [
        "step-000000000256.gif",
        "step-000000000512.gif",
    ]
    assert not (without / "videos").exists()
    assert rows_a == rows_b  # the videos' episodes sample from an RNG of their own
    a, b = (load_checkpoint(r / "checkpoints" / "last.pt")["algo"]["policy"] for r in (with_videos, without))
    assert all(torch.equal(a[k], b[k]) for k in a)
