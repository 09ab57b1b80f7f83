"""Run folders: what a run is made of and how it is found again.

The factories of a run's envs and network (:func:`make_envs`, :func:`make_policy`), loading a trained policy
(:func:`load_trained`, :func:`init_weights`), the checks that a checkpoint fits its config (:func:`fits`) and
the folder's bookkeeping on start and resume (:func:`resolve_run`: checks before anything is written, the
folder's lock, the checkpoint to continue from, the options ``--resume`` applies). ``eval``, ``watch`` and
``compare`` read runs through this module.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mazearena.actor import Actor
from mazearena.checks import UserError, check_device, require
from mazearena.training import loading
from mazearena.training.algorithms import algorithm
from mazearena.training.checkpoint import CheckpointError, load_checkpoint, previous_path, remove_partial_writes
from mazearena.training.config import RESUME_OPTIONS, TrainConfig, load_config, save_config
from mazearena.training.loading import fits
from mazearena.training.loggers import check_wandb, read_metrics, write_metrics


def make_envs(cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
    """A vector env over the training split of the run's task, or (``test``) over the held-out one (arenas: the
    held-out scenario on held-out arenas, or with ``both_teams`` the scenario's arena with no NPCs, for
    self-play; an adversary run's arenas against its victim)."""
    return cfg.task.make_envs(cfg, num_envs, test=test, seed=seed, both_teams=both_teams)


def make_actor(
    cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None
) -> Actor:
    """How a run's network acts (:mod:`~mazearena.actor`): its algorithm's actor, by default the
    network's ``act``; on arenas for ``team`` (default: the scenario's learning team), through the mirror when
    the network learned as the other team."""
    return cfg.task.actor(cfg, policy, deterministic, team)


class RunLock:
    """An OS-level lock on a run folder (``.lock``, holding the holder's pid): one process trains in a folder at
    a time. A second one fails at once, naming the folder and the holder; the OS releases the lock when its
    holder exits, however it exits (kill -9 too)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".lock"
        # never through a link: a .lock pointing elsewhere would have that file overwritten with a pid
        nofollow = getattr(os, "O_NOFOLLOW", 0)
        if self.path.is_symlink():
            raise UserError(f"{str(self.path)!r} is a symbolic link; a run's lock is a plain file (remove the link)")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | nofollow, 0o644)
        except OSError as e:
            raise UserError(f"cannot open the run's lock {str(self.path)!r}: {e.strerror or e}") from None
        self._file = os.fdopen(fd, "a+")  # noqa: SIM115 - held for the run
        try:
            _lock_file(self._file)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            raise UserError(
                f"run folder {str(run_dir)!r} is in use by process {holder} (another mazearena train); wait for "
                "it to end, or use another name"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing the file releases the lock


def _lock_file(f) -> None:
    if os.name == "nt":
        import msvcrt

        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


@dataclass
class RunStart:
    """Where a training run starts: its config, folder, checkpoint (``None``: from step 0), the folder's lock and
    what the user should be told (skipped files, options applied on resume)."""

    cfg: TrainConfig
    run_dir: Path
    checkpoint: dict | None
    lock: RunLock
    history: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def preflight(cfg: TrainConfig) -> None:
    """What would make a run fail at once, checked before anything is created on disk: the device, the envs'
    memory, W&B's key, the optional packages asked for and the runs folder."""
    check_device(cfg.device)
    cfg.task.check_memory(cfg)  # the training envs fit in the device's free memory
    if cfg.wandb_mode != "disabled":
        check_wandb(cfg.wandb_mode)
    if cfg.tensorboard:
        require("tensorboard")
    runs = Path(cfg.runs_dir)
    if runs.exists() and not runs.is_dir():
        raise UserError(f"runs_dir {str(runs)!r} is a file, not a folder")
    try:
        runs.mkdir(parents=True, exist_ok=True)
        probe = runs / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise UserError(f"runs_dir {str(runs)!r} cannot be written to: {e.strerror or e}") from None


def resolve_run(cfg: TrainConfig) -> RunStart:
    """The config to run, its folder (locked) and, when resuming, the checkpoint to continue from (the last
    one, or the one before it if the last is missing or damaged). Nothing is created before the checks pass: a
    new run's on its config, a resumed run's on the run's own config with the given options applied (its device,
    its W&B mode)."""
    if cfg.resume is None:
        preflight(cfg)
        return _new_run(cfg)
    run_dir = Path(cfg.resume)
    if not (run_dir / "config.yaml").is_file():
        raise UserError(f"resume: {str(run_dir)!r} is not a run folder (no config.yaml)")
    lock = RunLock(run_dir)
    try:
        return _resume(cfg, run_dir, lock)
    except BaseException:
        lock.release()
        raise


def _new_run(cfg: TrainConfig) -> RunStart:
    run_dir = Path(cfg.runs_dir) / cfg.run_name
    if not cfg.name:  # a default name: a rerun gets the next free one (-2, -3, ...), never the old run's folder
        base, k = cfg.run_name, 1
        while _holds_run(run_dir):
            k += 1
            run_dir = Path(cfg.runs_dir) / f"{base}-{k}"
        cfg = dataclasses.replace(cfg, name=run_dir.name)
    run_dir.mkdir(exist_ok=True)
    lock = RunLock(run_dir)
    try:
        if _holds_run(run_dir):
            raise UserError(
                f"run folder {str(run_dir)!r} already holds a run (a checkpoint or metrics): continue it with "
                f"--resume {run_dir}, or pick another name"
            )
        # an earlier start that died before its first checkpoint left at most a config and an empty W&B run
        for leftover in ("metrics.jsonl", "metrics.csv", "wandb_id.txt"):
            (run_dir / leftover).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "wandb", ignore_errors=True)
        remove_partial_writes(run_dir)
        save_config(cfg, run_dir / "config.yaml")
        return RunStart(cfg, run_dir, None, lock)
    except BaseException:
        lock.release()
        raise


def discard_unstarted(run_dir: Path) -> None:
    """Remove what a new run that failed before its first checkpoint left (its config, lock, empty logs), and the
    folder if nothing else is in it; a folder that holds a run is left as it is."""
    if _holds_run(run_dir):
        return
    for leftover in ("config.yaml", ".lock", "metrics.jsonl", "metrics.csv", "wandb_id.txt"):
        (run_dir / leftover).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "wandb", ignore_errors=True)
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.rglob("*.pt")):
        shutil.rmtree(checkpoints, ignore_errors=True)
    try:
        run_dir.rmdir()
    except OSError:
        pass  # something else is in it: not ours to remove


def _holds_run(run_dir: Path) -> bool:
    """Whether a folder holds a run (a checkpoint or metrics), not just the leftovers of a start that died
    before its first checkpoint."""
    metrics = run_dir / "metrics.jsonl"
    return any(p.exists() for p in _checkpoint_candidates(run_dir)) or (metrics.exists() and metrics.stat().st_size > 0)


def _checkpoint_candidates(run_dir: Path) -> list[Path]:
    last = run_dir / "checkpoints" / "last.pt"
    return [last, previous_path(last)]


def _resume(cfg: TrainConfig, run_dir: Path, lock: RunLock) -> RunStart:
    saved = load_config(run_dir / "config.yaml", cfg.trust_code)
    if not algorithm(saved.algo).own:
        raise UserError(f"resume: runs of algo {saved.algo} (a trainer that is not mazearena's) cannot be resumed")
    applied = _resume_options(cfg, saved, run_dir)
    preflight(dataclasses.replace(saved, runs_dir=run_dir.parent))
    notices = [f"removed {p} (a checkpoint write that was cut short)" for p in remove_partial_writes(run_dir)]
    checkpoint = _load_resumable(run_dir, saved, notices)
    step = int(checkpoint["algo"]["global_step"]) if checkpoint is not None else 0
    if applied:
        if saved.total_timesteps < step:
            raise UserError(f"total_timesteps {saved.total_timesteps} is below the step the run reached ({step})")
        notices.append("applied " + ", ".join(f"{k}={getattr(saved, k)}" for k in applied))
    elif checkpoint is not None and step >= saved.total_timesteps:
        notices.append(f"the run has reached its total_timesteps ({step}); extend it with --total-timesteps N")
    rows = read_metrics(run_dir / "metrics.jsonl", on_torn_tail=notices.append)
    if checkpoint is None and rows:
        raise UserError(
            f"resume: {str(run_dir)!r} has metrics up to step {rows[-1]['step']} but no checkpoint to continue "
            "from; start a new run"
        )
    kept = [row for row in rows if row["step"] <= step]
    write_metrics(run_dir, kept)  # what is past the checkpoint will be logged again
    saved.resume, saved.progress, saved.runs_dir = run_dir, cfg.progress, run_dir.parent
    save_config(saved, run_dir / "config.yaml")
    return RunStart(saved, run_dir, checkpoint, lock, kept, notices)


def _resume_options(cfg: TrainConfig, saved: TrainConfig, run_dir: Path) -> list[str]:
    """Apply to ``saved`` the options of :data:`RESUME_OPTIONS` that ``cfg`` gives (those differing from the run's
    and either from the defaults or named in ``cfg.given``, what the command line gave); refuse any other given
    option, naming it. Returns the applied ones."""
    given, run, default = (c.flat_dict() for c in (cfg, saved, TrainConfig()))
    named = getattr(cfg, "given", set())  # what the command line gave, at the default value too
    changed = {
        k: v
        for k, v in given.items()
        if k not in ("resume", "progress") and (v != default.get(k) or k in named) and v != run.get(k)
    }
    refused = [k for k in changed if k not in RESUME_OPTIONS]
    if refused:
        listed = ", ".join(f"{k} (the run's: {run.get(k)!r}, given: {changed[k]!r})" for k in refused)
        raise UserError(
            f"--resume continues {str(run_dir)!r} as it was configured; refused, as they would change it: {listed}. "
            f"Start a new run for them (another name; --init-from {run_dir} starts from its weights)"
        )
    for k in changed:
        setattr(saved, k, getattr(cfg, k))
    if changed:
        saved.__post_init__()  # the applied values checked together with the rest
    return list(changed)


def _load_resumable(run_dir: Path, cfg: TrainConfig, notices: list[str]) -> dict | None:
    """The newest checkpoint of the run that loads, passes its checksum and fits its config (the last one, else
    the one kept before it, which then becomes the last); ``None`` if the run has none yet (it died before its
    first checkpoint). Skipped files are told in ``notices`` and moved aside, never overwritten."""
    last, previous = _checkpoint_candidates(run_dir)
    if not last.exists() and not previous.exists():
        notices.append(f"{run_dir} has no checkpoint yet (it stopped before its first one): starting from step 0")
        return None
    problems = []
    for path in (last, previous):
        if not path.exists():
            problems.append(f"{path.name} is missing")
            continue
        try:
            checkpoint = load_checkpoint(path, map_location=cfg.device)
            if not fits(checkpoint.get("config"), cfg):
                raise CheckpointError(f"checkpoint {str(path)!r} was made with another model or env config")
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if path == previous:
            if last.exists():
                damaged = last.with_name(f"last.damaged-{int(time.time())}.pt")
                os.replace(last, damaged)
                problems[-1] += f" (kept as {damaged.name})"
            os.replace(previous, last)
            notices.append(f"skipped {'; '.join(problems)}; resuming from the checkpoint before it")
        return checkpoint
    raise CheckpointError(f"resume: no usable checkpoint in {str(run_dir / 'checkpoints')!r}: {'; '.join(problems)}")


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


def load_trained(path: Path, checkpoint: str = "last", device: str = "cpu", trust_code: bool = False):
    """``(config, run_dir, policy, step)`` of a run folder's ``checkpoint`` (``last``, ``best``, or a ``.pt``
    file inside the run: a checkpoint or a weights-only snapshot), the policy in eval mode on ``device``.
    Errors name a folder that is no run, a missing checkpoint, one made for another config, or code the run's
    config would import without ``trust_code``."""
    return loading.load_trained(path, checkpoint, device, TrainConfig, trust_code)
