"""Render docs/named_mazes.png: every maze of the named test set as the env draws it, the agent at its start."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mazearena.envs.render import level_picture  # noqa: E402
from mazearena.mazes import named_set  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "named_mazes.png"


def main() -> None:
    mazes = named_set()
    cols = 4
    rows = -(-len(mazes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.6, rows * 2.8))
    for ax, (name, level) in zip(axes.flat, mazes.items(), strict=False):
        ax.imshow(level_picture(level, 16))
        ax.set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
