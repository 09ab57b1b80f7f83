"""Learned capture-the-flag teams head to head against a scenario's best scripted team, in a game where both
sides have as many agents: each run's team (trained as red, against NPCs or in self-play) plays the scripted
team (seated on either side) on held-out arenas of ``--scenario`` (default: ``ctf_3v3_vs_guards``, whose
all-agent game is 3 against 3), half the games on each side; the arena options (size, layout, view) are each
run's own. Prints wins, draws and losses with 95% Wilson intervals.

    python scripts/ctf_head_to_head.py runs/my-3v2-team --games 256
    python scripts/ctf_head_to_head.py runs/a runs/b --script ctf_3v2_vs_guard_and_runner
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mazearena.agents.baselines import ScriptedPlayer
from mazearena.agents.league import cross_play
from mazearena.envs.scenarios import scenario
from mazearena.stats.metrics import wilson_interval
from mazearena.training.runs import load_trained, make_envs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", help="run folders of learned ctf teams")
    p.add_argument("--scenario", default="ctf_3v3_vs_guards", help="the ctf game both teams play (all agents)")
    p.add_argument("--script", default="", help="scenario whose scripted team plays (default: each run's own)")
    p.add_argument("--games", type=int, default=256, help="games per run, half on each side")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    game = scenario(args.scenario)
    if game.config.get("mode") != "ctf":
        p.error(f"--scenario {args.scenario!r} is not a capture-the-flag scenario")
    for path in args.runs:
        config, run_dir, policy, step = load_trained(path)
        found = scenario(args.script or config.arena.scenario_name)
        if not found.scripted:
            p.error(f"scenario {found.name!r} has no scripted team")
        if len(found.scripted) != game.config["red"] or game.config["red"] != game.config["blue"]:
            p.error(f"--scenario {args.scenario!r} does not seat {len(found.scripted)} against {len(found.scripted)}")
        cfg = dataclasses.replace(config, arena=dataclasses.replace(config.arena, scenario=args.scenario))
        slots = max(1, args.games // 2)
        table = cross_play(
            lambda cfg=cfg, slots=slots: make_envs(cfg, slots, test=True, seed=args.seed, both_teams=True),
            [policy, ScriptedPlayer(dict(found.scripted))],
            [config.trained_team, 0],
            2 * slots,
        )
        games = 2 * slots
        win, draw = table["win"][0][1], table["draw"][0][1]
        loss = 1.0 - win - draw
        ci = [wilson_interval(round(x * games), games) for x in (win, draw, loss)]
        print(
            f"{run_dir.name} (step {step:,}) vs {found.name}'s scripted team, {games} games in {args.scenario}: "
            + ", ".join(
                f"{n} {x:.3f} ({lo:.3f}-{hi:.3f})"
                for n, x, (lo, hi) in zip(("wins", "draws", "losses"), (win, draw, loss), ci, strict=True)
            )
        )


if __name__ == "__main__":
    main()
