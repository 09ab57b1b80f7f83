"""``mazearena eval`` on what users point it at: a run whose observations a default suite does not fit (the
suite is skipped and the report says so, instead of failing), and robustness from tiny samples (the worst case
is a perturbed severity, with its interval, never severity 0)."""

import json

from mazearena.evaluation.evaluate import EvalConfig, evaluate
from mazearena.training import EnvConfig, TrainConfig, train


def test_default_suites_that_do_not_apply_are_skipped_and_worst_cases_carry_intervals(tmp_path):
    cfg = TrainConfig(runs_dir=tmp_path, name="full", env=EnvConfig(size=7, obs_mode="full"), progress=False)
    cfg.total_timesteps, cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 256, 8, 16, 2
    cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
    run = train(cfg)
    ev = EvalConfig(runs=(run,), episodes=8, num_envs=8, curve_episodes=0, wandb_mode="disabled", progress=False)
    ev.perturbations, ev.out = ("frame_drop",), tmp_path / "eval"
    summary = json.loads((evaluate(ev) / "summary.json").read_text())
    assert "larger" not in summary["suites"] and summary["skipped_suites"][0]["suite"] == "larger"
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "Suite 'larger' skipped for full" in report
    assert "Drawn mazes skipped for full (ppo-cnn): it observes the whole grid" in report  # maps change its shape
    for r in summary["robustness"]:
        assert r["worst_severity"] > 0 and len(r["worst_ratio_ci95"] or [0, 0]) == 2
    worst = summary["worst_case"].get("ppo-cnn")
    if worst is not None:
        low, high = worst["ratio_ci95"]
        assert worst["severity"] > 0 and low <= worst["ratio"] <= high
