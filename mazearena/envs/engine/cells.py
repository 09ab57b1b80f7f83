"""What each maze tile *is*, in one table, and the observation channels of both games, by name.

Every implementation of the rules reads this module: the torch step, the compiled CPU kernels (through
:class:`TileArrays`), the level generators (through :class:`Cell`), the BFS solver and the sprite atlas.
Adding a tile with a plain behaviour is a row in :data:`TILES`, a sprite in ``mazearena/assets`` and a
generator that places it (``docs/architecture.md`` walks through it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch


@dataclass(frozen=True)
class Tile:
    """One kind of maze cell and what the rules do when an agent walks into it."""

    name: str
    """Lower-case name; also the default observation channel and sprite."""
    code: int
    """The ``uint8`` value in grid tensors (0 is floor; codes are dense: 0..len(TILES)-1)."""
    passable: bool = True
    """False: every move into it is blocked (walls)."""
    locked: bool = False
    """Blocks an agent without the key; an agent holding it walks in and the tile becomes floor for good."""
    picked_up: bool = False
    """Walking in takes it (the tile becomes floor) and the agent then holds the key."""
    terminal: bool = False
    """Walking in ends the episode (``terminated``)."""
    success: bool = False
    """Walking in solves the level: ``is_success`` and the success reward ``1 - 0.9 * t / H``."""
    reward: float = 0.0
    """Paid for walking in, on top of the success reward."""
    channel: str | None = field(default=None)
    """Its one-hot observation plane (default: ``name``; ``""``: no plane, as for floor). Tiles of one variant may
    share a plane (a decoy that looks like the goal it imitates)."""
    variant: str | None = None
    """The level variant whose observations hold its plane (``None``: every maze's), so that tiles of one task
    add no planes to the others."""
    sprite: str | Path | None = None
    """A sprite in ``mazearena/assets`` (by name, default ``name``) or a path to a 16x16 RGBA PNG."""

    def __post_init__(self) -> None:
        if self.channel is None:
            object.__setattr__(self, "channel", self.name)
        if self.sprite is None:
            object.__setattr__(self, "sprite", self.name)

    @property
    def clears(self) -> bool:
        """Whether the tile becomes floor when an agent walks in."""
        return self.locked or self.picked_up


MEMORY_COLOURS = ("red", "green", "blue", "yellow")
"""The colours of the memory task (``variant="memory"``): a cue of one colour near the start names the goal of
that colour; the goals of the other colours are decoys, which look the same and end the episode unrewarded."""

TILES: tuple[Tile, ...] = (
    Tile("floor", 0, channel=""),
    Tile("wall", 1, passable=False),
    Tile("goal", 2, terminal=True, success=True),
    Tile("key", 3, picked_up=True),
    Tile("door", 4, locked=True),
    Tile("lava", 5, terminal=True),
    *(Tile(f"cue_{c}", 6 + i, variant="memory") for i, c in enumerate(MEMORY_COLOURS)),
    *(Tile(f"goal_{c}", 10 + i, terminal=True, success=True, variant="memory") for i, c in enumerate(MEMORY_COLOURS)),
    *(
        Tile(f"decoy_{c}", 14 + i, terminal=True, channel=f"goal_{c}", sprite=f"goal_{c}", variant="memory")
        for i, c in enumerate(MEMORY_COLOURS)
    ),
)
"""The maze tiles. Observation planes follow this order (the tiles that have a channel, of the level's
variant)."""

Cell = IntEnum("Cell", {t.name.upper(): t.code for t in TILES}, module=__name__)
"""The built-in tiles' codes by name (``Cell.WALL``), for generators and tests."""

# Observation planes after the tiles' own: where the agent is, the cell it faces, whether it holds the key.
AGENT_CHANNELS = ("agent", "facing", "has_key")

ARENA_CHANNELS = ("wall", "self", "ally", "enemy", "health", "own_flag", "enemy_flag", "carrier", "chaser")
"""Planes of an arena agent's grid view."""
ARENA_STATE_CHANNELS = ("wall", "red", "blue", "health", "red_flag", "blue_flag", "carrier", "chaser")
"""Planes of the whole-arena state (centralised critics)."""
TOKEN_FEATURES = ("dy", "dx", "self", "ally", "enemy", "health", "carrier", "own_flag", "enemy_flag", "chaser")
"""Features of each entity token, relative to the observer."""


PLANE_CODES = 2
"""At most this many tiles light one plane (a goal and its decoy)."""
NO_CODE = 255
"""Filler of :attr:`TileArrays.plane_codes` (no tile has it: there are at most 64)."""


class TileArrays(NamedTuple):
    """The table as numpy arrays indexed by cell code, the form the compiled kernels take."""

    blocks: np.ndarray  # bool: never passable
    locked: np.ndarray  # bool
    clears: np.ndarray  # bool: becomes floor when entered
    gives_key: np.ndarray  # bool
    terminal: np.ndarray  # bool
    success: np.ndarray  # bool
    reward: np.ndarray  # float32
    plane_codes: np.ndarray  # int64 [planes, PLANE_CODES]: the cell codes that light each plane (NO_CODE: none)
    lights: np.ndarray  # uint8 [256, planes]: 1 where a cell code lights a plane (every uint8 code has a row)


@dataclass(frozen=True)
class TileTable:
    """:data:`TILES` checked, with what every implementation derives from it."""

    tiles: tuple[Tile, ...]

    def __post_init__(self) -> None:
        codes = [t.code for t in self.tiles]
        if codes != list(range(len(codes))) or self.tiles[0].name != "floor":
            raise ValueError(f"tile codes must be 0..{len(codes) - 1} in order, starting with floor; got {codes}")
        if len(codes) > 64:
            raise ValueError(f"at most 64 tiles, got {len(codes)}")
        owner: dict[str, str | None] = {name: "" for name in AGENT_CHANNELS}
        for t in self.tiles:
            if t.channel and owner.setdefault(t.channel, t.variant) != t.variant:
                raise ValueError(f"observation channel {t.channel!r} is shared across variants or with the agent's")
        for plane, tiles in self._groups(None) + [g for v in self._variants() for g in self._groups(v)]:
            if len(tiles) > PLANE_CODES:
                raise ValueError(f"at most {PLANE_CODES} tiles share a plane, got {len(tiles)} on {plane!r}")

    def _variants(self) -> list[str]:
        return list(dict.fromkeys(t.variant for t in self.tiles if t.variant))

    def _groups(self, variant: str | None) -> list[tuple[str, list[Tile]]]:
        """The planes of ``variant``'s observations in order, each with the tiles that light it."""
        groups: dict[str, list[Tile]] = {}
        for t in self.tiles:
            if t.channel and t.variant in (None, variant):
                groups.setdefault(t.channel, []).append(t)
        return list(groups.items())

    def planes(self, variant: str | None = None) -> tuple[Tile, ...]:
        """The first tile of each observation plane of ``variant``'s levels, in plane order."""
        return tuple(tiles[0] for _, tiles in self._groups(variant))

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the planes of an observation of every maze: the tiles', then :data:`AGENT_CHANNELS`."""
        return self.channels_of(None)

    def channels_of(self, variant: str | None) -> tuple[str, ...]:
        """Names of the planes of ``variant``'s observations: its tiles', then :data:`AGENT_CHANNELS`."""
        return tuple(name for name, _ in self._groups(variant)) + AGENT_CHANNELS

    def channel(self, name: str, variant: str | None = None) -> int:
        """Index of the plane ``name``, or an error naming the planes there are."""
        channels = self.channels_of(variant)
        if name not in channels:
            raise KeyError(f"no observation channel {name!r}; channels: {', '.join(channels)}")
        return channels.index(name)

    @property
    def floor(self) -> int:
        return self.tiles[0].code

    def arrays(self, variant: str | None = None) -> TileArrays:
        """The table as arrays for ``variant``'s levels (its planes)."""

        def column(attr: str, dtype) -> np.ndarray:
            return np.array([getattr(t, attr) for t in self.tiles], dtype=dtype)

        groups = self._groups(variant)
        plane_codes = np.full((len(groups), PLANE_CODES), NO_CODE, dtype=np.int64)
        lights = np.zeros((256, len(groups)), dtype=np.uint8)
        for p, (_, tiles) in enumerate(groups):
            plane_codes[p, : len(tiles)] = [t.code for t in tiles]
            lights[[t.code for t in tiles], p] = 1

        return TileArrays(
            blocks=~column("passable", np.bool_),
            locked=column("locked", np.bool_),
            clears=column("clears", np.bool_),
            gives_key=column("picked_up", np.bool_),
            terminal=column("terminal", np.bool_),
            success=column("success", np.bool_),
            reward=column("reward", np.float32),
            plane_codes=plane_codes,
            lights=lights,
        )

    def tensors(self, device: torch.device, variant: str | None = None) -> TileArrays:
        """:meth:`arrays` as torch tensors on ``device`` (plane codes as ``uint8``, for comparing with grids)."""
        a = self.arrays(variant)
        out = {k: torch.from_numpy(v).to(device) for k, v in a._asdict().items()}
        out["plane_codes"] = out["plane_codes"].to(torch.uint8)
        return TileArrays(**out)

    @property
    def pays(self) -> bool:
        """Whether any tile pays a reward of its own (the steps skip that work otherwise)."""
        return any(t.reward != 0.0 for t in self.tiles)

    def solver_masks(self, grid: torch.Tensor) -> dict[str, torch.Tensor]:
        """Boolean maps of a grid for the BFS solver: ``open`` (may be walked through with the key: passable and
        not a losing end), ``locked``, ``goal`` (success tiles), ``key`` (tiles that give the key)."""
        g = grid.to(torch.long)
        t = self.tensors(grid.device)
        return {
            "open": ~t.blocks[g] & ~(t.terminal[g] & ~t.success[g]),
            "locked": t.locked[g],
            "goal": t.success[g],
            "key": t.gives_key[g],
        }


def memory_codes(goals: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``[goals, codes]`` uint8: every cell code as a memory episode whose cue has colour c plays it (row c): any
    cue becomes the cue of colour c, the goal of colour c pays, the goals of the other colours are decoys."""
    names = [t.name for t in table().tiles]
    out = torch.arange(len(names), dtype=torch.uint8).repeat(goals, 1)
    for c, colour in enumerate(MEMORY_COLOURS[:goals]):
        for k, other in enumerate(MEMORY_COLOURS):
            out[c, names.index(f"cue_{other}")] = names.index(f"cue_{colour}")
            goal, decoy = names.index(f"goal_{other}"), names.index(f"decoy_{other}")
            out[c, goal] = out[c, decoy] = goal if k == c else decoy
    return out.to(device)


@lru_cache(maxsize=8)
def _table(tiles: tuple[Tile, ...]) -> TileTable:
    return TileTable(tiles)


def table() -> TileTable:
    """The current tile table (read at call time, so an added row reaches every implementation)."""
    return _table(TILES)
