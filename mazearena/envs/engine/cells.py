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
    """Its one-hot observation plane (default: ``name``; ``""``: no plane, as for floor)."""
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


TILES: tuple[Tile, ...] = (
    Tile("floor", 0, channel=""),
    Tile("wall", 1, passable=False),
    Tile("goal", 2, terminal=True, success=True),
    Tile("key", 3, picked_up=True),
    Tile("door", 4, locked=True),
    Tile("lava", 5, terminal=True),
)
"""The maze tiles. Observation planes follow this order (the tiles that have a channel)."""

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


class TileArrays(NamedTuple):
    """The table as numpy arrays indexed by cell code, the form the compiled kernels take."""

    blocks: np.ndarray  # bool: never passable
    locked: np.ndarray  # bool
    clears: np.ndarray  # bool: becomes floor when entered
    gives_key: np.ndarray  # bool
    terminal: np.ndarray  # bool
    success: np.ndarray  # bool
    reward: np.ndarray  # float32
    plane_codes: np.ndarray  # int64: the cell code of each tile plane, in plane order


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
        names = [t.channel for t in self.tiles if t.channel] + list(AGENT_CHANNELS)
        if len(set(names)) != len(names):
            raise ValueError(f"observation channels must be distinct, got {names}")

    @property
    def planes(self) -> tuple[Tile, ...]:
        """The tiles that have an observation plane, in plane order."""
        return tuple(t for t in self.tiles if t.channel)

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of a maze observation's planes: the tiles', then :data:`AGENT_CHANNELS`."""
        return tuple(t.channel for t in self.planes) + AGENT_CHANNELS

    def channel(self, name: str) -> int:
        """Index of the plane ``name``, or an error naming the planes there are."""
        if name not in self.channels:
            raise KeyError(f"no observation channel {name!r}; channels: {', '.join(self.channels)}")
        return self.channels.index(name)

    @property
    def floor(self) -> int:
        return self.tiles[0].code

    def arrays(self) -> TileArrays:
        def column(attr: str, dtype) -> np.ndarray:
            return np.array([getattr(t, attr) for t in self.tiles], dtype=dtype)

        return TileArrays(
            blocks=~column("passable", np.bool_),
            locked=column("locked", np.bool_),
            clears=column("clears", np.bool_),
            gives_key=column("picked_up", np.bool_),
            terminal=column("terminal", np.bool_),
            success=column("success", np.bool_),
            reward=column("reward", np.float32),
            plane_codes=np.array([t.code for t in self.planes], dtype=np.int64),
        )

    def tensors(self, device: torch.device) -> TileArrays:
        """:meth:`arrays` as torch tensors on ``device`` (plane codes as ``uint8``, for comparing with grids)."""
        a = self.arrays()
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


@lru_cache(maxsize=8)
def _table(tiles: tuple[Tile, ...]) -> TileTable:
    return TileTable(tiles)


def table() -> TileTable:
    """The current tile table (read at call time, so an added row reaches every implementation)."""
    return _table(TILES)
