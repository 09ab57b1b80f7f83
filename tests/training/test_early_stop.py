"""--stop-at-success / --stop-at-win-rate: training ends at the first held-out evaluation that reaches the target
(its rate, or the lower end of its interval), writes the report and says so."""

import json

import pytest

from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.ppo import PPOConfig


def _config(tmp_path, **overrides) -> TrainConfig:
    fields = dict(
        env=EnvConfig(size=5, num_levels=50),  # 5x5 mazes: even an untrained policy often succeeds
        ppo=PPOConfig(num_envs=16, num_steps=32, num_minibatches=2),
        total_timesteps=8192,
        eval_every=1024,
        eval_episodes=64,
        video_episodes=0,
        wandb_mode="offline",
        progress=True,
        log_interval=3600.0,
        runs_dir=tmp_path,
    )
    return TrainConfig(**fields | overrides)


def test_training_stops_at_the_first_evaluation_that_reaches_the_target(tmp_path, capsys):
    run = train(_config(tmp_path, stop_at_success=0.3, name="stop"))
    report = json.loads((run / "report.json").read_text())
    stopped = report["stopped_early"]
    assert stopped["step"] == 1024 and stopped["rate"] >= 0.3 and stopped["target"] == 0.3
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 1024 and "eval/success_rate" in rows[-1]  # nothing trained after it
    assert (run / "checkpoints" / "final.pt").exists() and report["summary"]["steps"] == 1024
    assert "Training stopped early at 1,024 steps" in (run / "report.md").read_text()
    out = capsys.readouterr().out
    assert "Training stopped early at 1,024 steps" in out
    assert "[train] step 1,024/8,192" in out  # the last row is shown whatever the log interval


def test_the_lower_bound_waits_for_enough_evidence(tmp_path):
    # 16 episodes: even 16 of 16 has a lower 95% bound of 0.81, below 0.9, so training runs to its end
    run = train(
        _config(
            tmp_path,
            stop_at_success=0.9,
            stop_on_lower_bound=True,
            eval_episodes=16,
            total_timesteps=2048,
            wandb_mode="disabled",
        )
    )
    report = json.loads((run / "report.json").read_text())
    assert "stopped_early" not in report and report["summary"]["steps"] == 2048


def test_stop_options_are_checked_by_name():
    with pytest.raises(ValueError, match="stop_at_win_rate is for arenas.*use stop_at_success"):
        TrainConfig(stop_at_win_rate=0.9)
    with pytest.raises(ValueError, match="stop_at_success is for mazes.*use stop_at_win_rate"):
        TrainConfig(algo="mappo", stop_at_success=0.9)
    with pytest.raises(ValueError, match="set eval_every > 0"):
        TrainConfig(stop_at_success=0.9, eval_every=0)
    with pytest.raises(ValueError, match="stop_at_success"):
        TrainConfig(stop_at_success=1.5)
    with pytest.raises(ValueError, match="needs an env with success"):
        TrainConfig(stop_at_success=0.9, env=EnvConfig(env_id="CartPole-v1"))
    assert TrainConfig(algo="mappo", stop_at_win_rate=0.8).stop_at == 0.8
