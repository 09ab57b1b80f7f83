"""Levels drawn as text: a rectangle of characters, one per cell.

=========  ===============================================================
character  cell
=========  ===============================================================
``#``      wall
``.``      floor
``S``      the start, facing east (``>`` ``v`` ``<`` ``^``: facing that way)
``G``      a goal (several: one of them is the goal of an episode)
``K``      the key
``D``      a door (opens with the key)
``L``      lava (ends the episode)
=========  ===============================================================

Blank lines and lines starting with ``;`` are left out. A map whose outer ring is all walls is taken as it is;
otherwise a ring of walls is put around it. Every map is checked when it is read, and a map that cannot be played
is refused with ``file:line:column`` and the reason: an unknown character, a ragged line, no start or two, no goal,
a goal the start cannot reach (keys and doors included), a map larger than the engine's largest grid.
:func:`to_text` writes a level back (a generated one too: :func:`layout_text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from mazearena.checks import UserError, check_readable
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.common import UNREACHABLE
from mazearena.envs.engine.grid import Heading
from mazearena.envs.engine.layouts import MAX_SIZE, Layouts, distance_to_goal

CELLS = {"#": Cell.WALL, ".": Cell.FLOOR, "G": Cell.GOAL, "K": Cell.KEY, "D": Cell.DOOR, "L": Cell.LAVA}
"""The characters of cells, and the cell codes they stand for."""
STARTS = {"S": Heading.EAST, ">": Heading.EAST, "v": Heading.SOUTH, "<": Heading.WEST, "^": Heading.NORTH}
"""The characters of the start, and the heading the agent starts with."""
_WRITE_START = {Heading.EAST: "S", Heading.SOUTH: "v", Heading.WEST: "<", Heading.NORTH: "^"}
_WRITE_CELL = {int(code): char for char, code in CELLS.items()}


MAP_BYTES = 2**20
"""The largest map file read (a 127×127 map is 16 KB)."""


class MapError(ValueError):
    """A text map that cannot be played; the message starts with ``file:line:column``."""


@dataclass(frozen=True)
class TextLevel:
    """A level read from a text map: its cells with a wall ring all around, where the agent starts, which way it
    faces, and where the goals are (an episode's goal is one of them; the others are floor then)."""

    grid: torch.Tensor
    """``[H, W]`` ``uint8`` cell codes, every goal of the map included."""
    start: tuple[int, int]
    """``(row, column)`` of the start in :attr:`grid`."""
    facing: Heading
    """The heading the agent starts with."""
    goals: tuple[tuple[int, int], ...]
    """``(row, column)`` of every goal, in reading order."""
    source: str = "<map>"
    """Where the map came from (a file's path), for messages."""

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.grid.shape[0]), int(self.grid.shape[1])

    def with_goal(self, k: int) -> torch.Tensor:
        """:attr:`grid` with goal ``k`` only (the others floor)."""
        grid = self.grid.clone()
        for i, (y, x) in enumerate(self.goals):
            if i != k:
                grid[y, x] = int(Cell.FLOOR)
        return grid

    def square(self, size: int | None = None, goal: int | None = None) -> torch.Tensor:
        """The grid as the engine holds levels: a square of odd side ``size`` (default: the smallest that holds
        it), the map in its top-left corner and walls beyond; with ``goal``, that goal only."""
        h, w = self.shape
        side = size if size is not None else max(h, w) | 1
        if side < max(h, w) or side % 2 == 0:
            raise ValueError(f"a {h}x{w} map needs an odd square side of at least {max(h, w)}, got {side}")
        grid = self.grid if goal is None else self.with_goal(goal)
        return F.pad(grid, (0, side - w, 0, side - h), value=int(Cell.WALL))


def parse(text: str, source: str = "<map>") -> TextLevel:
    """The level a text map draws (see the module's table), or a :class:`MapError` naming ``source``, the line
    and the column of what is wrong."""
    rows: list[tuple[int, str]] = []  # (line number, text) of the map's lines
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if line and not line.startswith(";"):
            rows.append((number, line))
    if not rows:
        raise MapError(f"{source}:1:1: the map is empty (no line other than blanks and ';' comments)")
    width = len(rows[0][1])
    starts: list[tuple[int, int, Heading]] = []
    goals: list[tuple[int, int]] = []
    codes = []
    for y, (number, line) in enumerate(rows):
        if len(line) != width:
            column = min(len(line), width) + 1
            raise MapError(
                f"{source}:{number}:{column}: ragged map: this line has {len(line)} characters, the first line "
                f"{width} (a map is a rectangle)"
            )
        row = []
        for x, char in enumerate(line):
            if char in STARTS:
                if starts:
                    first = starts[0]
                    raise MapError(
                        f"{source}:{number}:{x + 1}: a second start ({char!r}); the first is at line "
                        f"{rows[first[0]][0]}, column {first[1] + 1}"
                    )
                starts.append((y, x, STARTS[char]))
                row.append(int(Cell.FLOOR))
            elif char in CELLS:
                if char == "G":
                    goals.append((y, x))
                row.append(int(CELLS[char]))
            else:
                known = " ".join(sorted(CELLS) + sorted(STARTS))
                raise MapError(f"{source}:{number}:{x + 1}: unknown character {char!r} (a map uses {known})")
        codes.append(row)
    first_line = rows[0][0]
    if not starts:
        raise MapError(f"{source}:{first_line}:1: no start: put one S (or > v < ^) where the agent starts")
    if not goals:
        raise MapError(f"{source}:{first_line}:1: no goal: put at least one G")
    grid = torch.tensor(codes, dtype=torch.uint8)
    ring = torch.cat([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    offset = 0 if bool((ring == int(Cell.WALL)).all()) else 1
    if offset:
        grid = F.pad(grid, (1, 1, 1, 1), value=int(Cell.WALL))
    h, w = grid.shape
    if max(h, w) > MAX_SIZE:
        raise MapError(
            f"{source}:{first_line}:1: the map is {h}x{w} cells{' with its wall ring' if offset else ''}; the largest "
            f"is {MAX_SIZE}x{MAX_SIZE}"
        )
    (sy, sx, facing) = starts[0]
    level = TextLevel(
        grid=grid,
        start=(sy + offset, sx + offset),
        facing=facing,
        goals=tuple((gy + offset, gx + offset) for gy, gx in goals),
        source=source,
    )
    _check_reachable(level, rows, offset)
    return level


def _check_reachable(level: TextLevel, rows: list[tuple[int, str]], offset: int) -> None:
    """Every goal of ``level`` must be reachable from its start under the game's rules (keys and doors too)."""
    grids = torch.stack([level.square(goal=k) for k in range(len(level.goals))])
    without_key, _ = distance_to_goal(grids)
    y, x = level.start
    for k, (gy, gx) in enumerate(level.goals):
        if int(without_key[k, y, x]) >= UNREACHABLE:
            number, column = rows[gy - offset][0], gx - offset + 1
            raise MapError(
                f"{level.source}:{number}:{column}: the start (line {rows[y - offset][0]}, column {x - offset + 1}) "
                "cannot reach this goal (walls, lava, or a door without a key on its side)"
            )


def load(path: str | Path) -> TextLevel:
    """The level of the text map in the file ``path``; errors name the file, line and column."""
    path = Path(path)
    try:
        check_readable(path, "map file", MAP_BYTES)
    except UserError as e:
        raise MapError(str(e)) from None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MapError(f"{path}:1:1: not a text file ({e.reason})") from None
    except OSError as e:
        raise MapError(f"{path}: cannot read the map ({e.strerror or e})") from None
    return parse(text, str(path))


def to_text(grid: torch.Tensor, start: tuple[int, int], facing: Heading = Heading.EAST) -> str:
    """The text map of a ``[H, W]`` grid of cell codes with the agent at ``start`` facing ``facing`` (the start's
    cell must be floor). Cells no character stands for (the memory task's cues and coloured goals) are refused."""
    y0, x0 = start
    if int(grid[y0, x0]) != int(Cell.FLOOR):
        raise ValueError(f"the start {start} is not a floor cell")
    lines = []
    for y, row in enumerate(grid.tolist()):
        chars = []
        for x, code in enumerate(row):
            if (y, x) == (y0, x0):
                chars.append(_WRITE_START[Heading(facing)])
            elif code in _WRITE_CELL:
                chars.append(_WRITE_CELL[code])
            else:
                raise ValueError(f"cell ({y}, {x}) holds {Cell(code).name.lower()}, which no map character stands for")
        lines.append("".join(chars))
    return "\n".join(lines) + "\n"


def layout_text(layouts: Layouts, index: int = 0, start: tuple[int, int] | None = None, facing=Heading.EAST) -> str:
    """The text map of the generated level ``index`` of ``layouts``, starting at ``start`` (default: the first of
    its spawn cells in reading order)."""
    grid = layouts.grid[index].cpu()
    if start is None:
        cells = layouts.spawn_mask[index].cpu().nonzero()
        if not len(cells):
            raise ValueError(f"level {int(layouts.level_ids[index])} has no spawn cell")
        start = (int(cells[0, 0]), int(cells[0, 1]))
    return to_text(grid, start, facing)


@lru_cache(maxsize=4096)
def parsed(text: str) -> TextLevel:
    """:func:`parse` of a map's text, kept: configs hold maps as text and engines read them more than once."""
    return parse(text)


def read_layouts(entries, name: str = "layouts") -> tuple[str, ...]:
    """The texts of the maps ``entries`` name, in order, each checked (:func:`parse`): an entry with a line break
    is a map's text; any other is a ``.txt`` file or a folder whose ``.txt`` files are read in name order. Errors
    name the option (``name``) first, then the file, line and column."""
    try:
        return _read_layouts(entries)
    except (MapError, TypeError) as e:
        raise type(e)(f"{name}: {e}") from None


def _read_layouts(entries) -> tuple[str, ...]:
    if isinstance(entries, (str, Path)):
        entries = (entries,)
    texts: list[str] = []
    for entry in entries:
        if isinstance(entry, str) and "\n" in entry:
            try:
                parsed(entry)  # read once: configs are made again from the texts they hold
            except MapError:
                parse(entry, f"<layout {len(texts)}>")  # the same error, naming the entry
            texts.append(entry)
            continue
        if not isinstance(entry, (str, Path)):
            raise TypeError(f"a layout is a map's text, a .txt file or a folder of them, got {entry!r}")
        path = Path(entry)
        if path.is_dir():
            files = sorted(path.glob("*.txt"))
            if not files:
                raise MapError(f"{path}: the folder holds no .txt map")
        elif path.exists():
            files = [path]  # load() refuses a device, a pipe or a huge file by name
        else:
            raise MapError(f"{path}: no such file or folder (a map given as text has a line break)")
        for file in files:
            load(file)  # checked with the file's name in its errors
            texts.append(file.read_text(encoding="utf-8"))
    if not texts:
        raise MapError("no map given")
    return tuple(texts)


def layout_names(entries) -> list[str]:
    """A name for each map ``entries`` name (as :func:`read_layouts` reads them): a file's stem, else
    ``layout-K``."""
    if isinstance(entries, (str, Path)):
        entries = (entries,)
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, str) and "\n" in entry:
            names.append(f"layout-{len(names)}")
        else:
            path = Path(entry)
            names += [p.stem for p in (sorted(path.glob("*.txt")) if path.is_dir() else [path])]
    return names


def fit_size(texts: tuple[str, ...], size: int) -> int:
    """The engine's grid side for maps ``texts``: ``size``, or the smallest odd side that holds the largest."""
    need = max(max(parsed(t).shape) for t in texts) | 1
    return max(size, need) if isinstance(size, int) and not isinstance(size, bool) else size


def map_tensors(levels: list[TextLevel], size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The engine's tensors of ``levels`` on a ``size`` square: grids (every goal in), start masks (one cell),
    headings."""
    grid = torch.stack([level.square(size) for level in levels]).to(device)
    start = torch.zeros_like(grid, dtype=torch.bool)
    for k, level in enumerate(levels):
        start[k, level.start[0], level.start[1]] = True
    facing = torch.tensor([int(level.facing) for level in levels], dtype=torch.long, device=device)
    return grid, start, facing
