"""``mazearena.training.train(config)``: train, checkpoint, evaluate on held-out levels, report.

A run is a folder ``runs/<name>/``: ``config.yaml``, ``metrics.jsonl``/``metrics.csv``, ``checkpoints/``
(``last.pt`` every ``checkpoint_every`` steps, ``best.pt`` at the best held-out success), ``report.md``/
``report.json``, ``curve.png``, ``episodes.gif`` and the offline W&B run. ``resume=RUN_DIR`` continues a
run exactly where its last checkpoint left it, into the same W&B run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from mazearena.agents.league import League, SelfPlayVectorEnv
from mazearena.training.algorithms import algorithm
from mazearena.training.checkpoint import CheckpointError, save_checkpoint
from mazearena.training.config import TrainConfig
from mazearena.training.games import evaluate_policy
from mazearena.training.loggers import Logger
from mazearena.training.report import write_report
from mazearena.training.runs import init_weights, make_envs, make_policy, model_fields, resolve_run, snapshot_path


def train(config: TrainConfig) -> Path:
    """Train as ``config`` says; returns the run folder."""
    cfg, run_dir, checkpoint = resolve_run(config)
    torch.manual_seed(cfg.seed)
    iteration_steps = cfg.iteration_steps
    total_iterations = max(1, cfg.total_timesteps // iteration_steps)
    total_steps = total_iterations * iteration_steps
    device = torch.device(cfg.device)
    alg = algorithm(cfg.algo)
    envs = policy = None
    self_play = alg.arena and cfg.league.self_play
    if alg.own:
        envs = make_envs(cfg, cfg.num_envs, test=False, seed=cfg.seed, both_teams=self_play)
        policy = make_policy(cfg, envs)
        if cfg.init_from is not None and checkpoint is None:
            init_weights(policy, cfg.init_from, cfg.device)
        if self_play:
            from mazearena.envs.scenarios import scenario as find

            scripted = find(cfg.arena.scenario_name).npcs  # the scripted team, for scripted_groups
            npcs = [scripted[name] for name in sorted(scripted, key=lambda n: int(n.split("_")[1]))]
            envs = SelfPlayVectorEnv(envs, policy, League(cfg.league, seed=cfg.seed), cfg.trained_team, npcs)
    algo = alg.trainer(cfg, envs, policy, device, total_iterations, total_steps)
    policy = policy if alg.own else algo.policy
    best, elapsed = -1.0, 0.0  # elapsed: training wall-clock seconds, carried across resumes
    if checkpoint is not None:
        try:
            algo.load_state_dict(checkpoint["algo"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"{cfg.resume}: the last checkpoint does not fit this trainer ({e}); it was "
                "written by another version or another configuration"
            ) from e
        best, elapsed = float(checkpoint.get("best", -1.0)), float(checkpoint.get("elapsed", 0.0))
    logger = Logger(
        run_dir,
        cfg.to_dict(),
        total_steps,
        console=cfg.progress,
        wandb_mode=cfg.wandb_mode,
        wandb_project=cfg.wandb_project,
        wandb_group=cfg.wandb_group or run_dir.name,
        wandb_tags=cfg.wandb_tags,
        tensorboard=cfg.tensorboard,
        start_step=algo.global_step,
    )

    def save(name: str) -> Path:
        state = {
            "algo": algo.state_dict(),
            "best": best,
            "elapsed": elapsed,
            "config": json.dumps(model_fields(cfg), sort_keys=True),
        }
        return save_checkpoint(run_dir / "checkpoints" / f"{name}.pt", state)

    next_checkpoint = (algo.global_step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    next_eval = (algo.global_step // cfg.eval_every + 1) * cfg.eval_every if cfg.eval_every else None
    try:
        while algo.global_step < total_steps:
            start, steps_before = time.perf_counter(), algo.global_step
            metrics = alg.iterate(algo, cfg)
            metrics["sps"] = (algo.global_step - steps_before) / (time.perf_counter() - start)
            if next_eval is not None and algo.global_step >= next_eval:
                result = evaluate_policy(policy, cfg, test=True, episodes=cfg.eval_episodes, seed=cfg.seed + 1)
                metrics |= {
                    "eval/success_rate": result["success_rate"],
                    "eval/return": result["mean_return"],
                    "eval/length": result["mean_length"],
                }
                next_eval += cfg.eval_every
                if result["success_rate"] > best:
                    best = result["success_rate"]
                    logger.log_checkpoint(save("best"), aliases=("best",))
            elapsed += time.perf_counter() - start  # wall-clock of training and its evaluations
            metrics["time"] = elapsed
            logger.log(metrics, algo.global_step)
            if algo.global_step >= next_checkpoint or algo.global_step >= total_steps:
                save("last")
                if cfg.keep_snapshots and alg.own:  # eval loads our own trainers only
                    save_checkpoint(
                        snapshot_path(run_dir, algo.global_step),
                        {
                            "policy": policy.state_dict(),
                            "step": algo.global_step,
                            "config": json.dumps(model_fields(cfg), sort_keys=True),
                        },
                    )
                next_checkpoint += cfg.checkpoint_every
        logger.log_checkpoint(run_dir / "checkpoints" / "last.pt")
        report = write_report(cfg, policy, run_dir, logger, algo.global_step, league=envs.league if self_play else None)
        logger.summary({f"final/{k}": v for k, v in report["summary"].items()})
    finally:
        logger.close()
    return run_dir
