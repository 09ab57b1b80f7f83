"""An NPC team in a game loop: the exported brain decides, the game steps.

The brain is the export folder's ``brain.py`` (numpy and onnxruntime only, no torch): what a game ships. The
game here is mazearena's own arena, playing the run's held-out scenario, so that the result can be checked
against ``mazearena eval --modes deterministic`` of the same run::

    mazearena export runs/my-tag-run                     # writes runs/my-tag-run/export/
    python examples/npc_game_loop.py runs/my-tag-run/export --games 500

It prints the team's win rate over the games with its 95% Wilson interval, and the brain's time per decision.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def load_brain(folder: Path, model: str | None):
    """The export folder's brain (importing its brain.py pulls in numpy and onnxruntime only)."""
    sys.path.insert(0, str(folder))
    from brain import Brain

    return Brain(folder, model)


def play(folder: Path, games: int, envs: int, seed: int, model: str | None = None) -> dict:
    brain = load_brain(folder, model)
    spec = brain.spec
    if spec["env"]["kind"] != "arena":
        raise SystemExit(f"{folder} holds a maze policy; this loop plays arena teams")

    import torch  # the game's engine (the brain above runs without it)

    from mazearena.envs import arena_v0
    from mazearena.stats.metrics import wilson_interval

    env = arena_v0.vector_env(envs, seed=seed, scenario=spec["env"]["heldout_scenario"], **spec["env"]["options"])
    team = ("red", "blue").index(spec["env"]["team"])
    agents = env.num_agents
    obs, info = env.reset(seed=seed)
    state = brain.initial_state(envs * agents)
    ids = np.tile(np.arange(agents), envs)
    wins = played = 0
    thinking, decisions = 0.0, 0
    while played < games:
        rows = (
            {k: v.reshape(envs * agents, *v.shape[2:]).numpy() for k, v in obs.items()}
            if isinstance(obs, dict)
            else obs.reshape(envs * agents, *obs.shape[2:]).numpy()
        )
        start = time.perf_counter()
        actions, state = brain.act(rows, state, agent=ids)
        thinking += time.perf_counter() - start
        decisions += len(ids)
        obs, _, _, _, info = env.step(torch.from_numpy(actions.reshape(envs, agents)))
        ended = info["_final_obs"].numpy()
        for g in np.flatnonzero(ended)[: games - played]:
            wins += int(info["winner"][g]) == team
            played += 1
        # a new game, or an agent out of the game, starts from the initial state
        fresh = np.repeat(ended, agents) | ~info["alive"].numpy().reshape(-1)
        brain.reset(state, fresh)
    lo, hi = wilson_interval(wins, played)
    return {
        "games": played,
        "wins": wins,
        "win_rate": wins / played,
        "ci95": [lo, hi],
        "us_per_decision": 1e6 * thinking / decisions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="folder written by mazearena export (an arena team's policy)")
    parser.add_argument("--games", type=int, default=500, help="held-out games to play")
    parser.add_argument("--envs", type=int, default=64, help="games played at once")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the games")
    parser.add_argument(
        "--model", default=None, help="model file of the folder (default: spec.json's; e.g. policy.int8.onnx)"
    )
    args = parser.parse_args()
    result = play(args.export, args.games, args.envs, args.seed, args.model)
    lo, hi = result["ci95"]
    print(
        f"win rate {result['win_rate']:.3f} ({lo:.3f}-{hi:.3f}) over {result['games']} held-out games; "
        f"the brain took {result['us_per_decision']:.1f} us per decision"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
