"""``mazearena.training.train(config)`` (this module's :func:`train`): train, checkpoint, evaluate on held-out levels,
report.

A run is a folder ``runs/<name>/``: ``config.yaml``, ``metrics.jsonl``/``metrics.csv``, ``checkpoints/``
(``last.pt`` at step 0 and every ``checkpoint_every`` steps, the one before it as ``last.previous.pt``; the
weights alone as ``best.pt`` at the best held-out success and ``final.pt`` at the end), ``report.md``/
``report.json``, ``curve.png``, ``episodes.gif`` and the offline W&B run. ``resume=RUN_DIR`` continues a run
exactly where its last checkpoint left it, into the same W&B run (``total_timesteps`` extends it). One process
at a time trains in a folder (a lock). With ``handle_signals`` (the CLI's), SIGINT or SIGTERM stops at the end of
the current iteration with a checkpoint (:class:`TrainingInterrupted`); a loss that turns non-finite stops the
run before it is saved (:class:`TrainingDiverged`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from mazearena.checks import UserError
from mazearena.training import distributed
from mazearena.training.algorithms import algorithm
from mazearena.training.checkpoint import CheckpointError, save_checkpoint
from mazearena.training.config import TrainConfig
from mazearena.training.games import evaluate_policy
from mazearena.training.loading import make_policy, model_fields
from mazearena.training.loggers import Logger
from mazearena.training.report import stopped_line, write_report
from mazearena.training.runs import RunStart, discard_unstarted, init_weights, resolve_run, snapshot_path


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving its checkpoint; ``--resume run_dir`` continues it."""

    def __init__(self, signum: int, run_dir: Path, step: int, processes: int = 1) -> None:
        self.signum, self.run_dir, self.step = signum, run_dir, step
        name = signal.Signals(signum).name
        on = f" on {processes} processes (mazearena-torchrun --nproc_per_node {processes})" if processes > 1 else ""
        super().__init__(f"{name}: stopped at step {step}, checkpoint saved; continue with --resume {run_dir}{on}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


STORAGE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG})
"""What a run folder that cannot be written fails with: a full disk or quota, a read-only or forbidden folder."""


class RunNotWritable(UserError):
    """The run folder could not be written (a full disk, a folder made read-only): training stopped where it was,
    its last checkpoint kept; ``--resume`` continues once the folder can be written. Exit code 1: not bad input."""

    exit_code = 1

    @classmethod
    def of(cls, error: OSError, run_dir: Path, step: int | None, saved: int | None) -> RunNotWritable:
        where = f" {error.filename}" if error.filename else ""
        what = f"{error.strerror or error}:{where}"
        fix = "free space" if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else f"make {run_dir} writable"
        if saved is None:
            return cls(f"{what}; the run stopped before its first checkpoint: {fix} and start it again")
        stopped = f"; training stopped at step {step:,}" if step is not None else ""
        return cls(
            f"{what}{stopped}; {run_dir / 'checkpoints' / 'last.pt'} (step {saved:,}) is kept: {fix}, then "
            f"continue with --resume {run_dir}"
        )


class TrainingDiverged(UserError):
    """A loss became NaN or infinite: the run stopped without saving that state (its last checkpoint is the
    last good one)."""


class _Stop:
    """SIGINT and SIGTERM ask the loop to stop after the current iteration; a second one stops at once. Installed
    only when asked (``enabled``): a library call leaves the process's handlers to its caller."""

    def __init__(self, enabled: bool, speaks: bool = True) -> None:
        self.signum: int | None = None
        self.enabled, self.speaks = enabled, speaks  # speaks: the process that says what happens (process 0)
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Stop:
        if self.enabled and threading.current_thread() is threading.main_thread():  # signals reach it only
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # the second one: now
            raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)
        self.signum = signum
        if not self.speaks:
            return
        print(
            f"\n{signal.Signals(signum).name}: finishing the iteration and saving a checkpoint (again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def reached_target(cfg: TrainConfig, result: dict, step: int) -> dict | None:
    """The held-out evaluation ``result`` at ``step`` as the reason to stop, if it reached ``cfg.stop_at`` (its
    rate, or with ``stop_on_lower_bound`` the lower end of its 95% interval); else ``None``."""
    if not cfg.stop_at:
        return None
    score = result["success_ci95"][0] if cfg.stop_on_lower_bound else result["success_rate"]
    if score < cfg.stop_at:
        return None
    return {
        "step": step,
        "metric": cfg.task.metric,
        "rate": result["success_rate"],
        "ci95": result["success_ci95"],
        "target": cfg.stop_at,
        "lower_bound": cfg.stop_on_lower_bound,
    }


def train(config: TrainConfig, *, handle_signals: bool = False) -> Path:
    """Train as ``config`` says; returns the run folder. Under ``torchrun`` every process calls it and trains
    its share of the envs (:mod:`mazearena.training.distributed`). ``handle_signals``: while training, SIGINT
    and SIGTERM stop it at the end of the current iteration with a checkpoint and raise
    :class:`TrainingInterrupted` (what ``mazearena train`` does); left ``False``, the process's own handlers stay
    (a notebook's Ctrl-C raises ``KeyboardInterrupt``; the last checkpoint is at most ``checkpoint_every`` old)."""
    world = distributed.join(_device_of(config))
    try:
        start = _resolve(config, world)
        finished = False
        try:
            with _Stop(handle_signals, speaks=world.main) as stop:
                run_dir = _train(start, stop, world)
            finished = True
            return run_dir
        except OSError as e:  # before the loop (its envs, logs): the run folder as it was
            if e.errno not in STORAGE_ERRORS:
                raise
            saved = None if start.checkpoint is None else int(start.checkpoint["algo"]["global_step"])
            raise RunNotWritable.of(e, start.run_dir, None, saved) from None
        finally:
            if start.lock is not None:
                with contextlib.suppress(OSError):  # a read-only folder: the lock file stays, its process gone
                    start.lock.release()
            if not finished and start.checkpoint is None and config.resume is None and world.main:
                with contextlib.suppress(OSError):
                    discard_unstarted(start.run_dir)  # a new run that failed before its first checkpoint leaves nothing
    finally:
        distributed.stop(world)


def _device_of(config: TrainConfig) -> str:
    """The device the run will train on: the given one, or a resumed run's own unless another is given."""
    if config.resume is not None and config.device == TrainConfig().device:
        saved = Path(config.resume) / "config.yaml"
        if saved.is_file():
            from mazearena.training.config import load_config

            return load_config(saved, config.trust_code).device
    return config.device


def _resolve(config: TrainConfig, world: distributed.World) -> RunStart:
    """:func:`resolve_run` on process 0 (the only one that writes), its outcome sent to the others."""
    if not world.parallel:
        return resolve_run(config)
    if not world.main:
        kind, payload = distributed.broadcast(None, world)
        if kind == "error":
            raise UserError(f"process 0 did not start the run: {payload}")
        cfg, run_dir, checkpoint = payload
        return RunStart(cfg, run_dir, checkpoint, None)
    start = None
    try:
        if config.resume is None:
            distributed.check(config, world.size)
        start = resolve_run(config)
        distributed.check(start.cfg, world.size)
    except BaseException as e:
        if start is not None:
            start.lock.release()
        distributed.broadcast(("error", str(e)), world)
        raise
    distributed.broadcast(("ok", (start.cfg, start.run_dir, start.checkpoint)), world)
    return start


class _Quiet:
    """The logger of the processes that do not write (all but process 0 of a data-parallel run)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _perturbed(cfg: TrainConfig, local: TrainConfig, envs, policy):
    """The training envs under ``cfg.train_perturbations`` (:mod:`~mazearena.training.perturb`); the adversary of
    ``attack_obs`` reads ``policy`` as the trained team (or agent) acts."""
    from mazearena.training.perturb import TrainingPerturbations, parse_train_perturbations

    actor = cfg.task.learner(cfg, policy)
    specs = parse_train_perturbations(cfg.train_perturbations)
    return TrainingPerturbations(envs, specs, actor, seed=local.seed)


def _train(start: RunStart, stop: _Stop, world: distributed.World) -> Path:
    """The loop: iterate, evaluate, film, log and checkpoint until the run's steps are done (or its target reached,
    or a signal), then the final checkpoint and the report."""
    run = _Session(start, stop, world)
    failed = None
    try:
        run.save_start()
        while run.algo.global_step < run.total_steps and run.stopped is None:
            if run.stopping():
                raise run.interrupted()
            run.iterate()
        if run.stopping():
            raise run.interrupted()
        distributed.leave(world)  # the last collective: process 0's report needs the others no more
        if world.main:
            run.finish()
    except OSError as e:  # the disk filled up, the folder turned read-only: stop, keep the last checkpoint
        if e.errno not in STORAGE_ERRORS:
            raise
        failed = e
    finally:
        try:
            run.logger.close()
        except OSError as e:  # the disk that failed the run fails its logs too
            if e.errno not in STORAGE_ERRORS:
                raise
            failed = failed or e
    if failed is not None:
        raise RunNotWritable.of(failed, run.run_dir, run.algo.global_step, run.saved_step) from None
    return run.run_dir


def _schedule(cfg: TrainConfig, world: distributed.World, fresh: bool) -> tuple[int, int]:
    """Iterations and env steps of the run: at least ``total_timesteps``, in whole iterations (said once)."""
    iteration_steps = cfg.iteration_steps
    total_iterations = -(-cfg.total_timesteps // iteration_steps)
    total_steps = total_iterations * iteration_steps
    if total_steps != cfg.total_timesteps and fresh and world.main:
        print(
            f"mazearena train: training {total_steps:,} steps: total_timesteps {cfg.total_timesteps:,} rounded up to "
            f"whole iterations of {iteration_steps:,} steps",
            file=sys.stderr,
            flush=True,
        )
    return total_iterations, total_steps


def _next(step: int, every: int) -> int | None:
    """The first multiple of ``every`` after ``step`` (``None``: never, for ``every`` 0)."""
    return (step // every + 1) * every if every else None


class _Session:
    """One training run in progress: its envs, network, trainer and logger, and the named steps of the loop."""

    def __init__(self, start: RunStart, stop: _Stop, world: distributed.World) -> None:
        cfg = distributed.on_device(start.cfg, world)
        self.cfg, self.run_dir, self.stop, self.world = cfg, start.run_dir, stop, world
        checkpoint = start.checkpoint
        for notice in start.notices:
            print(f"mazearena train: {notice}", file=sys.stderr, flush=True)
        local = distributed.local_config(cfg, world)  # this process's share of the envs (all of them in one)
        torch.manual_seed(cfg.seed)
        total_iterations, self.total_steps = _schedule(cfg, world, checkpoint is None)
        self.device = torch.device(cfg.device)
        self.alg, self.task = algorithm(cfg.algo), cfg.task
        self.envs, self.policy = self._build(local, checkpoint is None)
        self.algo = self.alg.trainer(local, self.envs, self.policy, self.device, total_iterations, self.total_steps)
        self.policy = self.policy if self.alg.own else self.algo.policy
        self.best, self.elapsed = -1.0, 0.0  # elapsed: training wall-clock seconds, carried across resumes
        if checkpoint is not None:
            self._resume(checkpoint)
        self.logger = self._logger(start.history)
        step = self.algo.global_step
        self.next_checkpoint = _next(step, cfg.checkpoint_every)
        self.next_eval, self.next_video = _next(step, cfg.eval_every), _next(step, cfg.video_every)
        self.stopped: dict | None = None  # the evaluation that reached --stop-at-success / --stop-at-win-rate
        self.fresh = checkpoint is None
        self.saved_step = None if checkpoint is None else step  # the step of last.pt on disk

    def _build(self, local: TrainConfig, fresh: bool):
        """The training envs and the network (``None`` for a trainer that brings its own)."""
        cfg, task = self.cfg, self.task
        if not self.alg.own:
            return None, None
        envs = task.make_envs(local, local.num_envs, test=False, seed=local.seed, both_teams=cfg.league.self_play)
        policy = make_policy(cfg, envs)
        if cfg.init_from is not None and fresh:
            init_weights(policy, cfg.init_from, cfg.device)
        distributed.seed_sampling(cfg, self.world)
        envs = task.training_envs(cfg, envs, policy)
        if cfg.train_perturbations:
            envs = _perturbed(cfg, local, envs, policy)
        return envs, policy

    def _resume(self, checkpoint: dict) -> None:
        try:
            self.algo.load_state_dict(distributed.state_of(checkpoint["algo"], self.world))
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"{self.cfg.resume}: the last checkpoint does not fit this trainer ({e}); it was "
                "written by another version or another configuration"
            ) from e
        self.best, self.elapsed = float(checkpoint.get("best", -1.0)), float(checkpoint.get("elapsed", 0.0))

    def _logger(self, history: list[dict]):
        cfg = self.cfg
        if not self.world.main:
            return _Quiet()
        return Logger(
            self.run_dir,
            cfg.experiment_dict(),
            self.total_steps,
            console=cfg.progress,
            wandb_mode=cfg.wandb_mode,
            wandb_project=cfg.wandb_project,
            wandb_group=cfg.experiment,
            wandb_tags=cfg.wandb_tags,
            tensorboard=cfg.tensorboard,
            start_step=self.algo.global_step,
            history=history,
            progress_interval=cfg.log_interval,
        )

    # ---------------------------------------------------------------- checkpoints
    def _state(self) -> dict:
        return {
            "algo": self.algo.state_dict(),
            "best": self.best,
            "elapsed": self.elapsed,
            "config": json.dumps(model_fields(self.cfg), sort_keys=True),
        }

    def save_start(self) -> None:
        """Step 0's checkpoint: a run killed before its first interval resumes instead of starting over."""
        if self.fresh and self.alg.own:
            self.save_last()

    def save_last(self) -> None:
        """The whole training state (``last.pt``, for --resume) and, kept, the weights of this step. In a
        data-parallel run every process calls it: process 0 writes every process's state."""
        state = self._state()
        state["algo"] = distributed.gather_state(state["algo"], self.world)
        if not self.world.main:
            return
        save_checkpoint(self.run_dir / "checkpoints" / "last.pt", state, keep_previous=True)
        self.saved_step = self.algo.global_step
        if self.cfg.keep_snapshots and self.alg.own:  # eval loads our own trainers only
            self.save_weights(snapshot_path(self.run_dir, self.algo.global_step))

    def save_weights(self, path: Path) -> Path:
        """The network alone (what ``eval``, ``watch`` and the W&B model artifact need; DQN's replay buffer and
        the optimiser stay in ``last.pt``). Trainers that bring their own network save their whole state."""
        if not self.alg.own:
            return save_checkpoint(path, self._state())
        state = {"policy": self.policy.state_dict(), "step": self.algo.global_step}
        return save_checkpoint(path, state | {"config": json.dumps(model_fields(self.cfg), sort_keys=True)})

    def interrupted(self) -> TrainingInterrupted:
        self.save_last()
        signum = self.stop.signum or signal.SIGTERM
        return TrainingInterrupted(signum, self.run_dir, self.algo.global_step, self.world.size)

    def stopping(self) -> bool:
        """Whether a signal asked to stop (any process's, in a data-parallel run: they stop together)."""
        return distributed.any_of(self.stop.signum is not None, self.world, self.device)

    # ---------------------------------------------------------------- one iteration
    def iterate(self) -> None:
        """One iteration of the trainer, then what falls due at its step: an evaluation, a video, a log line,
        a checkpoint."""
        cfg, algo = self.cfg, self.algo
        start_time, steps_before = time.perf_counter(), algo.global_step
        metrics = self.alg.iterate(algo, cfg)
        if algo.global_step >= self.total_steps and not any(k.startswith("episode/") for k in metrics):
            metrics |= self._unfinished_window()  # a short run logs its episodes all the same
        metrics = distributed.mean_metrics(metrics, self.world)
        metrics["sps"] = (algo.global_step - steps_before) / (time.perf_counter() - start_time)
        self._check_finite(metrics)
        if self.next_eval is not None and algo.global_step >= self.next_eval:
            metrics |= self._evaluate()
            self.next_eval += cfg.eval_every
        if self.next_video is not None and algo.global_step >= self.next_video:
            if cfg.video_episodes and self.world.main:
                self._video()
            self.next_video += cfg.video_every
        self.elapsed += time.perf_counter() - start_time  # wall-clock of training and its evaluations
        metrics["time"] = self.elapsed
        self.logger.log(metrics, algo.global_step, last=self.stopped is not None)
        if algo.global_step >= self.next_checkpoint or algo.global_step >= self.total_steps or self.stopped:
            self.save_last()
            self.next_checkpoint += cfg.checkpoint_every

    def _unfinished_window(self) -> dict:
        """The training episodes that ended since the last window of episode statistics (the run's last row)."""
        episodes = getattr(self.algo, "episodes", None)
        if episodes is None:  # a trainer that keeps its own (sb3-ppo)
            return {}
        team = getattr(self.algo, "team", None)
        return episodes.metrics(team, partial=True) if team is not None else episodes.metrics(partial=True)

    def _check_finite(self, metrics: dict) -> None:
        broken = sorted(k for k, v in metrics.items() if v is not None and not math.isfinite(float(v)))
        if broken:
            self.logger.log(metrics, self.algo.global_step)  # the row that shows it
            run_dir = self.run_dir
            raise TrainingDiverged(
                f"training diverged at step {self.algo.global_step}: {', '.join(broken)} became non-finite. Nothing "
                f"was saved after it; the last good checkpoint is {run_dir / 'checkpoints' / 'last.pt'}. "
                f"Lower the learning rate (or max_grad_norm) and start again, e.g. --init-from {run_dir}"
            )

    def _evaluate(self) -> dict:
        """The held-out evaluation (by process 0): its metrics, ``best.pt`` when it is the best so far, and
        whether it reached the run's target."""
        cfg, metrics, stopped = self.cfg, {}, None
        if self.world.main:
            result = evaluate_policy(self.policy, cfg, test=True, episodes=cfg.eval_episodes, seed=cfg.seed + 1)
            metrics = {
                "eval/success_rate": result["success_rate"],
                "eval/return": result["mean_return"],
                "eval/length": result["mean_length"],
            }
            if result["success_rate"] > self.best:
                self.best = result["success_rate"]
                best = self.save_weights(self.run_dir / "checkpoints" / "best.pt")
                self.logger.log_checkpoint(best, aliases=("best",))
            stopped = reached_target(cfg, result, self.algo.global_step)
        self.stopped = distributed.broadcast(stopped, self.world)
        return metrics

    def _video(self) -> None:
        """Held-out episodes at this step into ``videos/`` and W&B; the policy samples from an RNG of its own, so
        the training's random stream is not shifted."""
        device, step = self.device, self.algo.global_step
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            path = self.task.record(self.cfg, self.policy, self.run_dir / "videos" / f"step-{step:012d}.gif")
        self.logger.log_video(path, step, key="train/video")

    # ---------------------------------------------------------------- the end
    def finish(self) -> None:
        """The final weights and the report (process 0)."""
        step, logger = self.algo.global_step, self.logger
        if self.stopped is not None:
            logger.note(stopped_line(self.stopped))
        logger.log_checkpoint(self.save_weights(self.run_dir / "checkpoints" / "final.pt"), aliases=("latest", "final"))
        curriculum = getattr(self.algo, "curriculum", None)
        if curriculum is not None:
            from mazearena.training.curriculum import report_curriculum

            report_curriculum(curriculum, self.run_dir, logger, step)
        league = self.envs.league if self.cfg.league.self_play else None
        report = write_report(self.cfg, self.policy, self.run_dir, logger, step, league=league, stopped=self.stopped)
        logger.summary({f"final/{k}": v for k, v in report["summary"].items()})
