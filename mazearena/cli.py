"""The command line's entry point, ``mazearena.cli:main``: what ``python -m mazearena`` and the ``mazearena``
script run. ``mazearena --help`` is answered here, before the commands (:mod:`mazearena.apps.cli`) and the
libraries they need are imported; everything else goes to them."""

from __future__ import annotations

import sys

COMMANDS = {
    "train": "Train an agent on a maze, an arena, or any Gymnasium or PettingZoo env; evaluate it on held-out "
    "levels; write a run folder.",
    "eval": "Evaluate trained runs on suites of levels (or NPC populations) and perturbations; write eval/.",
    "compare": "Compare runs: learning curves with bands over seeds, final results side by side, probability of "
    "improvement; a Markdown report with plots.",
    "sweep": "Train every combination of hyperparameter values × seeds as Ray Tune trials; rank the configurations.",
    "watch": "Watch a trained agent play.",
    "export": "Export a trained policy (ONNX or TorchScript) with its model card and observation spec.",
    "demo": "Play generated mazes with the built-in solver and a random agent; write a GIF and a summary.",
    "play": "Play a maze yourself.",
    "bench": "Speed next to the peers: env-steps/s (MiniGrid), agent-steps/s (MAgent2, MPE2) and train-steps/s "
    "(SB3, SuperSuit + SB3) in one report; ``mazearena bench --help`` lists the other benchmarks.",
}
"""Each subcommand and its config's description (``tests/apps/test_cli.py`` holds them to the configs)."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["-h"], ["--help"]):
        print_help()
        return 0
    from mazearena.apps.cli import main as run

    try:
        return run(args)
    except BrokenPipeError:  # ``mazearena train --help | head``: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit fails quietly
        return 141  # 128 + SIGPIPE, as a shell reports it


def print_help() -> None:
    """The subcommands and what each does, as ``mazearena SUBCOMMAND --help`` details them."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print("usage: mazearena [-h] {" + ",".join(COMMANDS) + "}\n\nmazearena: mazes and arenas for RL\n")
    table = Table(box=None, show_header=False, padding=(0, 2))
    for name, summary in COMMANDS.items():
        table.add_row(f"[bold]{name}[/]", summary.replace("``", "`"))
    console.print(table)
    console.print("\n[dim]mazearena SUBCOMMAND --help: its options; mazearena --version[/]")


__all__ = ["main"]
