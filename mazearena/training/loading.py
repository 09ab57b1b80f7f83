"""A trained run loaded again: its network built for its config (:func:`make_policy`), the checks that a
checkpoint fits the config (:func:`fits`), and :func:`load_trained`, which ``eval``, ``watch``, ``export`` and
the adversaries' victims go through. Nothing here imports the config module: the config class is handed in (the
tasks, which the config imports, load their victims through here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from mazearena.checks import UserError, check_device
from mazearena.training.algorithms import ALGORITHMS, algorithm
from mazearena.training.checkpoint import CheckpointError, load_checkpoint

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig


def make_policy(cfg: TrainConfig, envs) -> torch.nn.Module:
    """The network the run trains (its algorithm's: an actor-critic for PPO, a Q-network for DQN, a team's for
    MAPPO), on the run's device."""
    alg = algorithm(cfg.algo)
    if not alg.own:
        raise ValueError(f"algo {cfg.algo!r} builds its own network inside its trainer")
    return alg.network(cfg, envs)


def model_fields(cfg: TrainConfig) -> dict:
    """What a checkpoint must match to be loaded: the network and what it sees."""
    d = cfg.to_dict()
    fields = {
        "algo": d["algo"],
        "backbone": d["backbone"],
        "backbone_width": d["backbone_width"],
        "env": d["env"],
        "num_envs": cfg.num_envs,
        "iteration_steps": cfg.iteration_steps,
    }
    return fields | {section: d[section] for section in cfg.task.model_sections(algorithm(cfg.algo))}


def fits(saved: str | None, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's recorded model fields (JSON) are those of ``cfg``. A field the checkpoint does not
    record (added to mazearena after it was written) fits when ``cfg`` leaves it at its default."""
    if saved is None:
        return False
    defaults = json.loads(json.dumps(model_fields(type(cfg)(algo=cfg.algo)), sort_keys=True))

    def same(old, new, default) -> bool:
        if isinstance(old, dict) and isinstance(new, dict):
            return all(k in new for k in old) and all(
                same(old[k], new[k], (default or {}).get(k)) if k in old else new[k] == (default or {}).get(k)
                for k in new
            )
        return old == new

    return same(json.loads(saved), json.loads(json.dumps(model_fields(cfg), sort_keys=True)), defaults)


def code_named(config_file: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    """What a run's ``config.yaml`` would import to be loaded: a backbone, an env id or wrappers given by import path
    (``module:Name``), and what the runs it loads name (the victim of ``adversary_of``, ``league.adversaries``); read
    as plain data, nothing imported."""
    from mazearena.training.config_io import read_config_data

    data = read_config_data(config_file)
    env = data.get("env") if isinstance(data.get("env"), dict) else {}
    league = data.get("league") if isinstance(data.get("league"), dict) else {}
    named = []
    if isinstance(data.get("backbone"), str) and ":" in data["backbone"]:
        named.append(f"backbone {data['backbone']}")
    if isinstance(env.get("env_id"), str) and ":" in env["env_id"]:
        named.append(f"env.env_id {env['env_id']}")
    named += [f"env.wrappers {w}" for w in env.get("wrappers") or () if isinstance(w, str)]
    others = [("adversary_of", data.get("adversary_of"))]
    others += [("league.adversaries", a) for a in league.get("adversaries") or ()]
    seen = seen | {Path(config_file).resolve()}
    for field, other in others:
        if isinstance(other, str) and (other_file := Path(other) / "config.yaml").is_file():
            if other_file.resolve() not in seen:  # a loop of runs is read once
                named += [f"{field} {other}: {n}" for n in code_named(other_file, seen)]
    return named


def check_trusted(run_dir: Path, trust_code: bool, field: str = "run") -> None:
    """A run folder from elsewhere may name code to import; it is imported only with ``trust_code`` (the
    ``--trust-code`` of ``train``, ``eval``, ``watch``, ``export`` and ``compare``), else refused naming what it
    imports. ``field``: what named the run (``adversary_of``)."""
    named = code_named(Path(run_dir) / "config.yaml")
    if named and not trust_code:
        raise UserError(
            f"{field} {str(run_dir)!r} names code to import ({'; '.join(named)}): importing it runs it. Pass "
            "--trust-code if you trust where the run came from"
        )


def load_trained(path: Path, checkpoint: str, device: str, config_type: type[TrainConfig], trust_code: bool = False):
    """``(config, run_dir, policy, step)`` of a run folder's ``checkpoint`` (``last``, ``best``, or a ``.pt``
    file inside the run: a checkpoint or a weights-only snapshot), the policy in eval mode on ``device``; the
    run's config read by ``config_type.load``. Errors name a folder that is no run, a missing checkpoint, one made
    for another config, or code the run names without ``trust_code`` (:func:`check_trusted`)."""
    path = Path(path)
    run_dir = (
        path.parent.parent
        if path.is_file() and path.parent.name == "checkpoints"
        else (path.parent.parent.parent if path.is_file() else path)
    )
    if not (run_dir / "config.yaml").exists():
        raise UserError(f"{str(path)!r} is not a run folder or a checkpoint inside one (no config.yaml)")
    check_trusted(run_dir, trust_code)
    cfg = config_type.load(run_dir / "config.yaml", trust_code)  # and the runs it loads in turn (its victim)
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
    check_device(device)  # before reading: a checkpoint is not "corrupted" because the machine lacks a GPU
    cfg.device = device
    state = load_checkpoint(file, map_location=device)
    if "config" in state and not fits(state["config"], cfg):
        raise CheckpointError(
            f"checkpoint {str(file)!r} was made with another model or env config than its run's config.yaml"
        )
    policy = make_policy(cfg, cfg.task.make_envs(cfg, 1, test=True, seed=0))
    weights = state["policy"] if "policy" in state else state.get("algo", {}).get("policy")
    try:
        policy.load_state_dict(weights)
    except (TypeError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {str(file)!r} does not fit the run's network: {e}") from None
    step = int(state["step"]) if "step" in state else int(state["algo"]["global_step"])
    return cfg, run_dir, policy.eval(), step
