"""Named evaluation suites: where a trained policy is tested, built from the run's own training config.

Mazes (``MAZE_SUITES``): ``train`` — the training levels; ``test`` — held-out levels (the Procgen-style
split); ``larger`` — held-out levels of mazes 6 cells wider (the time limit scaled by the area); ``harder`` —
held-out levels made of long winding corridors (``backtracker`` generator, no loops).
Arenas (``ARENA_SUITES``): ``train`` — the training scenario on training arenas; ``test`` — the held-out
NPC population on held-out arenas; ``test_arenas`` — the training NPC population on held-out arenas;
``larger`` — the held-out population on held-out arenas 6 cells wider.
"""

from __future__ import annotations

import dataclasses

import mazearena
from mazearena.checks import UserError
from mazearena.training.algorithms import algorithm
from mazearena.training.config import TrainConfig

MAZE_SUITES = {
    "train": "training levels",
    "test": "held-out levels",
    "larger": "held-out levels, mazes 6 cells wider",
    "harder": "held-out levels, long corridors (backtracker, no loops)",
}
ARENA_SUITES = {
    "train": "training scenario, training arenas",
    "test": "held-out NPC population, held-out arenas",
    "test_arenas": "training NPC population, held-out arenas",
    "larger": "held-out NPC population, held-out arenas 6 cells wider",
}
GROW = 6


def suites_for(cfg: TrainConfig) -> dict[str, str]:
    """The suites a run of this config can be evaluated on, with their descriptions."""
    return ARENA_SUITES if algorithm(cfg.algo).arena else MAZE_SUITES


def unavailable_suites(cfg: TrainConfig) -> dict[str, str]:
    """The suites this run's observations cannot be tested on, with why."""
    if not algorithm(cfg.algo).arena and not cfg.env.maze:
        why = f"needs mazearena's levels ({cfg.env.env_id} has none; train and test are episodes of other seeds)"
        return {"larger": why, "harder": why}
    if not algorithm(cfg.algo).arena and cfg.env.obs_mode == "full":
        return {
            "larger": "needs a policy with an egocentric view: this run observes the whole grid (obs_mode "
            "'full'), whose shape changes with the maze size"
        }
    return {}


def default_suites(cfg: TrainConfig) -> list[str]:
    """The suites a run is evaluated on when none are named: every one that applies to it."""
    return [s for s in suites_for(cfg) if s not in unavailable_suites(cfg)]


def check_suites(cfg: TrainConfig, suites) -> None:
    """An error naming unknown suites, or suites this run's observations cannot be tested on."""
    valid = suites_for(cfg)
    unknown = [s for s in suites if s not in valid]
    if unknown:
        kind = "arena" if algorithm(cfg.algo).arena else "maze"
        raise UserError(f"unknown suite(s) {unknown} for {kind} runs; valid suites: {', '.join(valid)}")
    for suite, why in unavailable_suites(cfg).items():
        if suite in suites:
            raise UserError(f"suite {suite!r} {why}")


def suite_env(cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str = "cpu"):
    """A vector env of ``num_envs`` games of ``suite`` for runs of ``cfg``, game i seeded with ``seed + i``."""
    check_suites(cfg, [suite])
    if algorithm(cfg.algo).arena:
        from mazearena.envs import arena_v0

        a = cfg.arena
        if suite == "larger":
            a = dataclasses.replace(a, size=min(a.size + GROW, 63))
        scenario = a.scenario_name if suite in ("train", "test_arenas") else a.heldout_name
        kwargs = a.make_kwargs(test=suite != "train")
        if cfg.adversary_of is not None:  # an adversary plays its victim on the suite's arenas
            from mazearena.envs.scenarios import scenario as find
            from mazearena.training.runs import against_victim

            envs = arena_v0.vector_env(num_envs, device=device, seed=seed, **find(a.scenario_name).config, **kwargs)
            return against_victim(dataclasses.replace(cfg, device=device), envs)
        return arena_v0.vector_env(num_envs, device=device, seed=seed, scenario=scenario, **kwargs)
    e = cfg.env
    if not e.maze:  # any Gymnasium env: the same env, seeded apart (the held-out suite plays other seeds)
        from mazearena.training.runs import make_envs

        return make_envs(cfg, num_envs, test=suite != "train", seed=seed + (0 if suite == "train" else 10**6))
    kwargs = e.make_kwargs(test=suite != "train")
    if suite == "larger":
        size = min(e.size + GROW, 127)
        kwargs |= {"size": size, "max_steps": round(e.time_limit * (size / e.size) ** 2)}
    if suite == "harder":
        kwargs |= {"generator": "backtracker", "loops": 0.0}
    return mazearena.make_vec(e.env_id, num_envs, device=device, seed=seed, **kwargs)
