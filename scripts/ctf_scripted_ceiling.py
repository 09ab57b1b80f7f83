"""What scripted red teams reach in the capture-the-flag scenarios against the blue guard and flag runner: the
ceiling a learned team is measured against, and the check that skill decides the game (a coordinated team far
above simple ones). Held-out twins on unseen arenas, 256 games each; red wins with 95% Wilson intervals.

    python scripts/ctf_scripted_ceiling.py                # both scenarios, every team
    python scripts/ctf_scripted_ceiling.py --games 64 --scenario ctf_3v2_vs_guard_and_runner_heldout
"""

from __future__ import annotations

import argparse
import time

from mazearena.agents.baselines import play_scripted
from mazearena.envs.npcs import NpcSpec
from mazearena.envs.scenarios import scenario
from mazearena.stats.metrics import wilson_interval


def teams(red: int) -> dict[str, dict[str, NpcSpec] | None]:
    """The red teams compared: ``None`` is the scenario's scripted team."""
    seats = [f"red_{i}" for i in range(red)]
    sharp = {"epsilon": 0.0}
    out = {
        "random": dict.fromkeys(seats, NpcSpec("random")),
        "every agent runs for the flag (flag_runner)": dict.fromkeys(seats, NpcSpec("flag_runner", **sharp)),
        "one guards, the others run (guard, flag_runner)": {
            s: NpcSpec("guard" if i == 0 else "flag_runner", **sharp) for i, s in enumerate(seats)
        },
    }
    if red > 2:
        out["one waits by the flag, the others raid (ctf_defender, ctf_raider)"] = {
            s: NpcSpec("ctf_defender" if i == 0 else "ctf_raider", **sharp) for i, s in enumerate(seats)
        }
    if red == 2:
        out["lure and raid, nobody defends (ctf_lurer, ctf_raider)"] = {
            "red_0": NpcSpec("ctf_lurer", **sharp),
            "red_1": NpcSpec("ctf_raider", **sharp),
        }
    out["the scenario's scripted team"] = None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--scenario",
        action="append",
        help="held-out scenario(s); default: ctf_2v2_... and ctf_3v2_vs_guard_and_runner_heldout",
    )
    p.add_argument("--games", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=15, help="arena side (11: the self-play config's)")
    args = p.parse_args()
    names = args.scenario or ["ctf_2v2_vs_guard_and_runner_heldout", "ctf_3v2_vs_guard_and_runner_heldout"]
    for name in names:
        red = scenario(name).arena_config().red
        print(f"\n{name} ({args.games} games on unseen {args.size}x{args.size} arenas)\n")
        print("| red team | red wins (95% CI) | blue wins | draws | red wins by 3 captures | mean score red–blue |")
        print("|---|---|---|---|---|---|")
        for label, team in teams(red).items():
            begin = time.time()
            out = play_scripted(name, team, games=args.games, seed=args.seed, size=args.size)
            w = out["winner"]
            wins = int((w == 0).sum())
            lo, hi = wilson_interval(wins, len(w))
            by_captures = float(((w == 0) & ~out["truncated"]).mean())
            red_score, blue_score = out["score/red"].mean(), out["score/blue"].mean()
            print(
                f"| {label} | {wins / len(w):.3f} ({lo:.3f}–{hi:.3f}) | {float((w == 1).mean()):.3f} | "
                f"{float((w == -1).mean()):.3f} | {by_captures:.3f} | {red_score:.2f}–{blue_score:.2f} |"
                f"  <!-- {time.time() - begin:.0f} s -->"
            )


if __name__ == "__main__":
    main()
