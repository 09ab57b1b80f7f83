"""``mazearena bench``: every speed measurement of the project, in one place.

=============  =====================================================================================
subcommand     what it measures
=============  =====================================================================================
``peers``      (the default) env-steps/s, agent-steps/s and train-steps/s next to MiniGrid, MAgent2,
               MPE2, Stable-Baselines3 and SuperSuit + SB3, in one report with scaling curves
``engine``     the batched engines' step speed, backend by backend (to compare two checkouts)
``train``      PPO and DQN train-steps/s next to SB3, and the network-only floor
``marl``       MAPPO / IPPO agent train-steps/s next to PettingZoo → SuperSuit → SB3
``eval``       seconds to evaluate a run on held-out levels, next to SB3's ``evaluate_policy``
``ablation``   MAPPO vs IPPO, shared vs separate weights: four training runs, one plot
``solve``      seconds to a held-out success target, our PPO next to SB3 PPO (RL Zoo's MiniGrid settings)
``brain``      an export folder's models, fp32 and int8: size, latency, held-out result
``profile``    where a training run's wall-clock goes, phase by phase, and the network's FLOP floor
=============  =====================================================================================

Each is a typed config and a ``run`` function; each writes ``NAME.json`` (with the machine it ran on) and
``NAME.md`` to its ``out`` folder. No module here imports a peer before it measures it, so a missing peer is
reported as missing instead of failing the import.
"""

from __future__ import annotations

from collections.abc import Callable

from mazearena.apps.bench import ablation, brain, engine, eval_speed, marl_speed, peers, profile, solve, train_speed

BENCHMARKS: dict[str, tuple[type, Callable]] = {
    "peers": (peers.BenchConfig, peers.run_bench),
    "engine": (engine.EngineBenchConfig, engine.run),
    "train": (train_speed.TrainSpeedConfig, train_speed.run),
    "marl": (marl_speed.MarlSpeedConfig, marl_speed.run),
    "eval": (eval_speed.EvalSpeedConfig, eval_speed.run),
    "ablation": (ablation.AblationConfig, ablation.run),
    "solve": (solve.SolveConfig, solve.run),
    "brain": (brain.BrainBenchConfig, brain.run),
    "profile": (profile.ProfileConfig, profile.run),
}
"""Subcommand → (config, run). ``run(cfg)`` returns the Markdown file it wrote (``peers``: the report)."""

__all__ = ["BENCHMARKS"]
