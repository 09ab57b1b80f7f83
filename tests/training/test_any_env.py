"""``mazearena train`` on any registered Gymnasium id with Discrete actions and Box observations: CartPole
learns within the test budget, with the same run folder, report, resume and eval (suites that need mazearena's
levels skipped); ids of a user's own package register through ``module:id``; other spaces are named."""

import json
import sys

import pytest

from mazearena.evaluation.evaluate import EvalConfig, evaluate
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.loggers import read_metrics


def cartpole(tmp_path, total: int, **kwargs) -> TrainConfig:
    cfg = TrainConfig(runs_dir=tmp_path, env=EnvConfig(env_id="CartPole-v1"), total_timesteps=total, **kwargs)
    if cfg.algo == "ppo":  # another algorithm's run refuses ppo.* options
        cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.learning_rate = 8, 128, 1e-3
    cfg.eval_every, cfg.eval_episodes, cfg.video_episodes, cfg.progress = 25_000, 32, 0, False
    return cfg


def test_ppo_learns_cartpole_and_the_run_is_a_normal_run(tmp_path):
    cfg = cartpole(tmp_path, 100_000, wandb_mode="offline")
    cfg.video_episodes = 1  # the final video, rendered by the env itself
    assert cfg.backbone == "mlp"  # vectors: an MLP unless another backbone is given
    run = train(cfg)
    assert run.name == "ppo-mlp-CartPole-v1-seed0" and (run / "episodes.gif").exists()
    report = json.loads((run / "report.json").read_text())
    assert report["summary"]["test_return"] >= 195, report["summary"]  # CartPole-v1's old "solved" bar
    returns = [r["episode/return"] for r in read_metrics(run / "metrics.jsonl") if "episode/return" in r]
    assert returns[-1] > 2 * returns[0]
    ev = EvalConfig(runs=(run,), episodes=8, num_envs=8, curve_episodes=8, wandb_mode="disabled", progress=False)
    summary = json.loads((evaluate(ev) / "summary.json").read_text())
    assert summary["suites"] == ["train", "test"] and {s["suite"] for s in summary["skipped_suites"]} == {
        "larger",
        "harder",
    }
    from mazearena.evaluation.compare import CompareConfig, compare

    compared = compare(CompareConfig(runs=(run,), out=tmp_path / "cmp"))  # no success here: returns, no 0.000s
    side = json.loads((compared / "summary.json").read_text())
    assert side["score"] == "test_return" and side["per_method"]["ppo-mlp"]["test_return"] >= 195
    assert "success" not in (compared / "report.md").read_text().split("## Learning curves")[0]


def test_dqn_runs_and_a_user_package_registers_its_env(tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "myenvs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "import gymnasium as gym\n"
        "gym.register('myenvs/Pole-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv', "
        "max_episode_steps=50)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    cfg = cartpole(tmp_path, 2048, algo="dqn", wandb_mode="disabled")
    cfg.env = EnvConfig(env_id="myenvs:myenvs/Pole-v0")
    cfg.dqn.num_envs, cfg.dqn.learning_starts, cfg.dqn.buffer_size, cfg.eval_every = 4, 256, 4096, 0
    cfg.__post_init__()
    run = train(cfg)
    assert run.name == "dqn-mlp-Pole-v0-seed0" and (run / "report.md").exists()
    assert "myenvs" in sys.modules


@pytest.mark.parametrize(
    "env_id,message",
    [
        ("Pendulum-v1", "training needs Discrete actions and Box observations"),
        ("Nope-v0", "neither a maze"),
        ("nopkg:X-v0", "cannot import 'nopkg'"),
    ],
)
def test_envs_that_do_not_fit_are_named(env_id, message):
    with pytest.raises(ValueError, match=message):
        EnvConfig(env_id=env_id)
