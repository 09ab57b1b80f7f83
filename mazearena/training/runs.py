"""Run folders: what a run is made of and how it is found again.

The factories of a run's envs and network (:func:`make_envs`, :func:`make_policy`), loading a trained policy
(:func:`load_trained`, :func:`init_weights`), the checks that a checkpoint fits its config (:func:`fits`) and
the folder's bookkeeping on start and resume (:func:`resolve_run`). ``eval``, ``watch`` and ``compare`` read
runs through this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

import mazearena
from mazearena.agents.actor import Actor, PolicyActor
from mazearena.agents.league import TeamPolicy
from mazearena.checks import UserError
from mazearena.training.algorithms import ALGORITHMS, algorithm
from mazearena.training.checkpoint import CheckpointError, load_checkpoint
from mazearena.training.config import TrainConfig, load_config, save_config


def make_envs(cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
    """A vector env over the training levels, or (``test``) over the held-out ones (for arenas: the held-out
    scenario on held-out arenas, or with ``both_teams`` the scenario's arena with no NPCs, for self-play)."""
    if algorithm(cfg.algo).arena:
        from mazearena.envs import arena_v0
        from mazearena.envs.scenarios import scenario as find

        a = cfg.arena
        levels = (
            {"num_levels": 0, "start_level": a.test_start_level}
            if test
            else {"num_levels": a.num_levels, "start_level": a.start_level}
        )
        if both_teams:
            return arena_v0.vector_env(
                num_envs, device=cfg.device, seed=seed, **find(a.scenario_name).config, **levels, **a.make_kwargs()
            )
        scenario = a.heldout_name if test else a.scenario_name
        return arena_v0.vector_env(
            num_envs, device=cfg.device, seed=seed, scenario=scenario, **levels, **a.make_kwargs()
        )
    env = cfg.env
    levels = (
        {"num_levels": 0, "start_level": env.test_start_level}
        if test
        else {"num_levels": env.num_levels, "start_level": env.start_level}
    )
    # the trainer's own actions are valid by construction; checking them on a GPU would wait for it every step
    check = torch.device(cfg.device).type != "cuda"
    return mazearena.make_vec(
        env.env_id, num_envs, device=cfg.device, seed=seed, check_actions=check, **levels, **env.make_kwargs()
    )


def make_policy(cfg: TrainConfig, envs) -> torch.nn.Module:
    """The network the run trains (its algorithm's: an actor-critic for PPO, a Q-network for DQN, a team's for
    MAPPO), on the run's device."""
    alg = algorithm(cfg.algo)
    if not alg.own:
        raise ValueError(f"algo {cfg.algo!r} builds its own network inside its trainer")
    return alg.network(cfg, envs)


def make_actor(
    cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None
) -> Actor:
    """How a run's network acts (:mod:`~mazearena.agents.actor`): its algorithm's actor, by default the
    network's ``act``; on arenas for ``team`` (default: the scenario's learning team), through the mirror when
    the network learned as the other team."""
    alg = algorithm(cfg.algo)
    if alg.arena and team is None:
        team = cfg.scenario_team
    if alg.actor is not None:
        return alg.actor(cfg, policy, deterministic, team)
    if alg.arena:
        return TeamPolicy(policy, cfg.trained_team, team, deterministic)
    return PolicyActor(policy, deterministic)


def resolve_run(cfg: TrainConfig) -> tuple[TrainConfig, Path, dict | None]:
    """The config to run, its folder and, when resuming, the last checkpoint."""
    if cfg.resume is None:
        run_dir = cfg.runs_dir / cfg.run_name
        if (run_dir / "checkpoints" / "last.pt").exists():
            raise UserError(
                f"run folder {str(run_dir)!r} already holds a run: pass resume={str(run_dir)!r} to "
                "continue it, or another name"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        return cfg, run_dir, None
    run_dir = Path(cfg.resume)
    if not (run_dir / "config.yaml").exists():
        raise UserError(f"resume: {str(run_dir)!r} is not a run folder (no config.yaml)")
    saved = load_config(run_dir / "config.yaml")
    if not algorithm(saved.algo).own:
        raise UserError(f"resume: runs of algo {saved.algo} (a trainer that is not mazearena's) cannot be resumed")
    saved.resume, saved.progress, saved.runs_dir = run_dir, cfg.progress, run_dir.parent
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt", map_location=saved.device)
    if not fits(checkpoint.get("config"), saved):
        raise CheckpointError(f"checkpoint in {str(run_dir)!r} was made with another model or env config")
    drop_metrics_after(run_dir, int(checkpoint["algo"]["global_step"]))
    return saved, run_dir, checkpoint


def snapshot_path(run_dir: Path, step: int) -> Path:
    """Where the weights-only snapshot of a run at ``step`` env steps is kept."""
    return run_dir / "checkpoints" / "snapshots" / f"step-{step:012d}.pt"


def init_weights(policy: torch.nn.Module, source: Path, device: str) -> None:
    """Load the network weights of a run folder's last checkpoint (or a checkpoint file) into ``policy``."""
    source = Path(source)
    path = source / "checkpoints" / "last.pt" if source.is_dir() else source
    state = load_checkpoint(path, map_location=device)
    try:
        policy.load_state_dict(state["algo"]["policy"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(
            f"init_from: the network in {str(path)!r} does not fit this config's network ({e})"
        ) from None


def load_trained(path: Path, checkpoint: str = "last", device: str = "cpu"):
    """``(config, run_dir, policy, step)`` of a run folder's ``checkpoint`` (``last``, ``best``, or a ``.pt``
    file inside the run: a checkpoint or a weights-only snapshot), the policy in eval mode on ``device``.
    Errors name a folder that is no run, a missing checkpoint, or one made for another config."""
    path = Path(path)
    run_dir = (
        path.parent.parent
        if path.is_file() and path.parent.name == "checkpoints"
        else (path.parent.parent.parent if path.is_file() else path)
    )
    if not (run_dir / "config.yaml").exists():
        raise UserError(f"{str(path)!r} is not a run folder or a checkpoint inside one (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    if not algorithm(cfg.algo).own:
        own = ", ".join(name for name, a in ALGORITHMS.items() if a.own)
        raise UserError(
            f"{str(run_dir)!r} was trained with {cfg.algo}; only runs of mazearena's own trainers ({own}) can be loaded"
        )
    if not path.is_file() and checkpoint not in ("last", "best"):
        raise UserError(f"checkpoint must be 'last' or 'best', got {checkpoint!r}")
    file = path if path.is_file() else run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not file.exists():
        raise CheckpointError(
            f"run {str(run_dir)!r} has no checkpoint {file.name} (training saves last.pt every "
            "checkpoint_every steps; best.pt needs eval_every > 0)"
        )
    cfg.device = device
    state = load_checkpoint(file, map_location=device)
    if "config" in state and not fits(state["config"], cfg):
        raise CheckpointError(
            f"checkpoint {str(file)!r} was made with another model or env config than its run's config.yaml"
        )
    policy = make_policy(cfg, make_envs(cfg, 1, test=True, seed=0))
    weights = state["policy"] if "policy" in state else state.get("algo", {}).get("policy")
    try:
        policy.load_state_dict(weights)
    except (TypeError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {str(file)!r} does not fit the run's network: {e}") from None
    step = int(state["step"]) if "step" in state else int(state["algo"]["global_step"])
    return cfg, run_dir, policy.eval(), step


def drop_metrics_after(run_dir: Path, step: int) -> None:
    """Forget metrics logged after the checkpoint a run resumes from: they will be logged again."""
    jsonl = run_dir / "metrics.jsonl"
    if jsonl.exists():
        kept = [line for line in jsonl.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        jsonl.write_text("".join(line + "\n" for line in kept))
    table = run_dir / "metrics.csv"
    if table.exists():
        lines = table.read_text().splitlines()
        kept = lines[:1] + [line for line in lines[1:] if int(float(line.split(",", 1)[0])) <= step]
        table.write_text("".join(line + "\n" for line in kept))


def fits(saved: str | None, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's recorded model fields (JSON) are those of ``cfg``. A field the checkpoint does not
    record (added to mazearena after it was written) fits when ``cfg`` leaves it at its default."""
    if saved is None:
        return False
    defaults = json.loads(json.dumps(model_fields(TrainConfig(algo=cfg.algo)), sort_keys=True))

    def same(old, new, default) -> bool:
        if isinstance(old, dict) and isinstance(new, dict):
            return all(k in new for k in old) and all(
                same(old[k], new[k], (default or {}).get(k)) if k in old else new[k] == (default or {}).get(k)
                for k in new
            )
        return old == new

    return same(json.loads(saved), json.loads(json.dumps(model_fields(cfg), sort_keys=True)), defaults)


def model_fields(cfg: TrainConfig) -> dict:
    """What a checkpoint must match to be loaded: the network and what it sees."""
    d = cfg.to_dict()
    fields = {
        "algo": d["algo"],
        "backbone": d["backbone"],
        "env": d["env"],
        "num_envs": cfg.num_envs,
        "iteration_steps": cfg.iteration_steps,
    }
    alg = algorithm(cfg.algo)
    if alg.arena:
        fields |= {section: d[section] for section in alg.config_sections()}
    return fields
