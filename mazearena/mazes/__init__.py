"""The named test set: hand-designed mazes shipped as text maps (:mod:`mazearena.envs.engine.textmap`), for testing
agents on levels no generator made: rooms, corridors, labyrinths, spirals, open fields, dead-end traps, a key and
door, lava, several goals. 13×13 to 21×21; each file's first line says what it is."""

from __future__ import annotations

from pathlib import Path

from mazearena.envs.engine.textmap import TextLevel, load

FOLDER = Path(__file__).parent
"""Where the named set's ``.txt`` maps are."""


def names() -> list[str]:
    """The named mazes, sorted."""
    return sorted(p.stem for p in FOLDER.glob("*.txt"))


def named(name: str) -> TextLevel:
    """The named maze ``name`` (see :func:`names`), read and checked."""
    path = FOLDER / f"{name}.txt"
    if not path.is_file() or path.parent != FOLDER:
        raise ValueError(f"no named maze {name!r}; the set: {', '.join(names())}")
    return load(path)


def named_set() -> dict[str, TextLevel]:
    """Every named maze by name."""
    return {path.stem: load(path) for path in sorted(FOLDER.glob("*.txt"))}


__all__ = ["FOLDER", "named", "named_set", "names"]
