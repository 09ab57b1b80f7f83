"""``mazearena bench profile``: where a training run's wall-clock goes, and how far it is from its floor.

Trains a config (by default ``make train``'s, until its held-out target) with timers around the phases of the
loop: env steps in rollouts, the network's forward passes in rollouts and in the update, backward passes, the
optimiser (gradient clipping and Adam), held-out evaluations, checkpoints, logging; the rest of an iteration
(GAE, buffers, sampling actions, Python) is what the timers leave. Each phase's time is its own (a timer inside
an evaluation counts as evaluation). Setup before the first iteration and the report after the last are
timed apart: the ``time`` that ``bench solve`` reports is the iterations' share.

The floor is the network's arithmetic alone: its FLOPs per sample (forward, and forward + backward, counted by
torch) times the passes the trainer makes over each sample (one forward in the rollout, ``update_epochs``
forward + backward in the update), at this CPU's measured float32 matrix-multiply rate; and, closer to what a
small network can reach, the same passes timed on random observations (no env, no bookkeeping). Writes
``out/profile.{json,md}`` and the run under ``out/profile/``.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from mazearena.apps.bench.common import write
from mazearena.checks import UserError
from mazearena.training.config import CONFIGS_DIR, find_config

PHASES = (
    ("env", "env steps (rollouts)"),
    ("forward_rollout", "forward passes, rollouts"),
    ("forward_update", "forward passes, update"),
    ("backward", "backward passes"),
    ("optimiser", "gradient clipping + Adam"),
    ("evaluation", "held-out evaluations"),
    ("checkpoint", "checkpoints (last.pt, best.pt)"),
    ("logging", "logging (metrics, W&B, console)"),
    ("rest", "the rest of an iteration (GAE, buffers, sampling, Python)"),
)


@dataclass
class ProfileConfig:
    """Where a training run's time goes, phase by phase, and the network's floor."""

    config: Path = CONFIGS_DIR / "ppo_maze9_fast.yaml"
    """The run to profile (a file or a shipped config's name)."""
    seed: int = 0
    """The run's seed."""
    max_steps: int = 2_000_000
    """Env steps after which the run stops if its held-out target has not stopped it (``bench solve``'s budget:
    the learning rate anneals over it as there)."""
    out: Path = Path("runs/bench")
    """Folder for profile.json/md and the run."""

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise UserError(f"max_steps must be >= 1, got {self.max_steps}")


class _Clock:
    """Exclusive time per phase: a phase timed inside another is taken out of the outer one, and everything
    inside an opaque phase (an evaluation, a checkpoint, logging) counts as that phase."""

    OPAQUE = ("evaluation", "checkpoint", "logging")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.active = False  # inside an iteration of the loop (setup and the report are timed apart)
        self.iterations, self.iteration_seconds = 0, 0.0
        self._stack: list[list] = []  # [phase, start, seconds of timed children]

    def iteration(self, fn):
        """``fn`` (the loop's iteration) timed as a whole, the phases timed inside it only."""

        def timed(*args, **kwargs):
            start, self.active = time.perf_counter(), True
            try:
                return fn(*args, **kwargs)
            finally:
                self.active = False
                self.iteration_seconds += time.perf_counter() - start
                self.iterations += 1

        return timed

    def wrap(self, phase, fn):
        """``fn`` timed as ``phase`` (a name, or a function of nothing that names it at call time)."""

        def timed(*args, **kwargs):
            if not self.active or (self._stack and self._stack[-1][0] in self.OPAQUE):
                return fn(*args, **kwargs)
            name = phase() if callable(phase) else phase
            self._stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, inner = self._stack.pop()
                spent = time.perf_counter() - start
                self.seconds[name] += spent - inner
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1][2] += spent

        return timed


@contextmanager
def _patched(clock: _Clock):
    """Timers around the loop's phases, for the length of the block."""
    from mazearena.agents import batches, policies
    from mazearena.training import loggers, loop

    def forward_phase() -> str:
        return "forward_update" if torch.is_grad_enabled() else "forward_rollout"

    targets = [
        (batches, "step", "env"),
        (policies.ActorCritic, "forward", forward_phase),
        (torch.Tensor, "backward", "backward"),
        (torch.optim.Adam, "step", "optimiser"),
        (torch.nn.utils, "clip_grad_norm_", "optimiser"),
        (loop, "evaluate_policy", "evaluation"),
        (loop, "save_checkpoint", "checkpoint"),
        (loggers.Logger, "log", "logging"),
        (loggers.Logger, "log_checkpoint", "logging"),
        (loggers.Logger, "log_video", "logging"),
    ]
    with ExitStack() as stack:
        for owner, name, phase in [*targets, (loop._Session, "iterate", None)]:
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            setattr(owner, name, clock.iteration(original) if phase is None else clock.wrap(phase, original))
            stack.callback(setattr, owner, name, original)
        yield


def matmul_flops_per_second(size: int = 1024, repeats: int = 5) -> float:
    """This CPU's float32 matrix-multiply rate (FLOP/s, median of ``repeats``), torch's threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        times.append((time.perf_counter() - start) / 4)
    return 2 * size**3 / statistics.median(times)


def network_flops(policy: torch.nn.Module, obs) -> dict[str, float]:
    """FLOPs per sample of ``policy`` on the batch ``obs``: a forward pass, and a forward and backward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    n = obs.shape[0]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        policy(obs)
    forward = counter.get_total_flops() / n
    with FlopCounterMode(display=False) as counter:
        logits, value = policy(obs)
        (logits.logsumexp(-1).mean() + value.mean()).backward()
    return {"forward": forward, "forward_backward": counter.get_total_flops() / n}


def network_seconds(
    policy: torch.nn.Module, obs, minibatch, epochs: int, minibatches: int, steps: int, repeats: int = 3
) -> float:
    """Seconds per env step of the network work of one PPO iteration alone on random observations: ``steps``
    forward passes on the rollout batch ``obs``, ``epochs × minibatches`` forward + backward passes and Adam steps
    on ``minibatch``. Median of ``repeats`` after a warm-up."""
    opt = torch.optim.Adam(policy.parameters())

    def iteration() -> None:
        with torch.no_grad():
            for _ in range(steps):
                policy(obs)
        for _ in range(epochs * minibatches):
            logits, value = policy(minibatch)
            opt.zero_grad()
            (logits.logsumexp(-1).mean() + value.mean()).backward()
            opt.step()

    iteration()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / (steps * obs.shape[0])


def run(args: ProfileConfig) -> Path:
    """Train with the timers on; returns the Markdown breakdown (written with its JSON to ``args.out``)."""
    from mazearena.training import load_config, train
    from mazearena.training.loggers import read_metrics

    base = load_config(find_config(args.config))
    if base.algo != "ppo" or base.core != "none":
        raise UserError(f"bench profile takes a feed-forward PPO config; {args.config} trains {base.algo}")
    cfg = dataclasses.replace(
        base,
        seed=args.seed,
        total_timesteps=args.max_steps,
        wandb_mode="disabled",
        video_episodes=0,
        progress=False,
        runs_dir=args.out / "profile",
        name=f"{Path(args.config).stem}-seed{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}",
    )
    clock = _Clock()
    start = time.perf_counter()
    with _patched(clock):
        run_dir = train(cfg)
    wall = time.perf_counter() - start
    rows = read_metrics(run_dir / "metrics.jsonl")
    steps = rows[-1]["step"]
    evals = [r for r in rows if "eval/success_rate" in r]

    in_iterations = clock.iteration_seconds
    named = {k: clock.seconds.get(k, 0.0) for k, _ in PHASES if k != "rest"}
    phases = named | {"rest": in_iterations - sum(named.values())}

    report = {
        "config": str(args.config),
        "seed": args.seed,
        "run": str(run_dir),
        "steps": steps,
        "wall_seconds": wall,
        "iteration_seconds": in_iterations,
        "iterations": clock.iterations,
        "setup_and_report_seconds": wall - in_iterations,
        "phases": phases,
        "calls": dict(clock.calls),
        "evaluations": len(evals),
        "final_success": evals[-1]["eval/success_rate"] if evals else None,
        **_floor(cfg, steps),
    }
    return write(args.out, "profile", report, _markdown(args, cfg, report))


def _floor(cfg, steps: int) -> dict:
    """The run's network passes over its ``steps`` samples: FLOPs per sample, at the CPU's matmul rate, and timed
    alone on random observations."""
    from mazearena.training.loading import make_policy

    ppo = cfg.ppo
    envs = cfg.task.make_envs(cfg, 1, test=True, seed=0)
    space = envs.single_observation_space
    policy = make_policy(cfg, envs)
    envs.close()

    def random_obs(n: int) -> torch.Tensor:
        return torch.randint(0, 2, (n, *space.shape), dtype=torch.uint8)

    rows = ppo.num_envs * ppo.num_steps // ppo.num_minibatches
    flops = network_flops(policy, random_obs(rows))
    rate = matmul_flops_per_second()
    per_step = flops["forward"] + ppo.update_epochs * flops["forward_backward"]
    alone = network_seconds(
        policy, random_obs(ppo.num_envs), random_obs(rows), ppo.update_epochs, ppo.num_minibatches, ppo.num_steps
    )
    return {
        "flops_per_sample": flops,
        "flops_per_env_step": per_step,
        "matmul_flops_per_second": rate,
        "flop_floor_seconds": steps * per_step / rate,
        "network_alone_seconds": steps * alone,
    }


def _markdown(args: ProfileConfig, cfg, r: dict) -> str:
    """The breakdown table and the floor in words."""
    steps, seconds, phases, flops = r["steps"], r["iteration_seconds"], r["phases"], r["flops_per_sample"]
    epochs, alone = cfg.ppo.update_epochs, r["network_alone_seconds"]
    last = r["final_success"] if r["final_success"] is not None else float("nan")
    md = [
        f"`{Path(args.config).name}`, seed {args.seed}: {steps:,} env steps in {seconds:.1f} s of iterations "
        f"({steps / seconds:,.0f} steps/s; {r['evaluations']} held-out evaluations, the last at {last:.3f}); setup "
        f"and report {r['setup_and_report_seconds']:.1f} s.",
        "",
        "| phase | seconds | share |",
        "|---|---:|---:|",
    ]
    md += [f"| {label} | {phases[key]:.2f} | {phases[key] / seconds:.1%} |" for key, label in PHASES]
    md += [
        f"| **iterations, in all** | **{seconds:.2f}** | 100% |",
        "",
        f"Network: {flops['forward'] / 1e6:.2f} MFLOP forward, {flops['forward_backward'] / 1e6:.2f} MFLOP forward + "
        f"backward per sample; {1 + epochs} passes per sample (1 in the rollout, {epochs} in the update) = "
        f"{r['flops_per_env_step'] / 1e6:.1f} MFLOP per env step. At this CPU's float32 matmul rate "
        f"({r['matmul_flops_per_second'] / 1e9:.0f} GFLOP/s) the {steps:,} steps need **{r['flop_floor_seconds']:.1f} "
        f"s** of arithmetic; the same passes timed alone on random observations take "
        f"**{alone:.1f} s** (the run's iterations take {seconds / alone:.1f}× that).",
        "",
    ]
    return "\n".join(md)


__all__ = ["ProfileConfig", "run"]
