"""The sprite atlas: one row per maze tile (from :mod:`cells`), then the agent facing N/E/S/W, then the same
carrying the key. Sprites are 16x16 RGBA PNGs (``mazearena/assets`` or a tile's own path), scaled once per
tile size. ``rgb`` observations and every renderer draw from this atlas.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mazearena.envs.engine.cells import Tile, table


def _sprite(source: str | Path) -> np.ndarray:
    if isinstance(source, Path):
        image = Image.open(source)
    else:
        with resources.files("mazearena.assets").joinpath(f"{source}.png").open("rb") as f:
            image = Image.open(f)
            image.load()
    if image.size != (16, 16):
        raise ValueError(f"sprite {source!s} must be 16x16 pixels, got {image.size[0]}x{image.size[1]}")
    return np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0


def _over(base: np.ndarray, top: np.ndarray) -> np.ndarray:
    alpha = top[..., 3:4]
    out = base.copy()
    out[..., :3] = top[..., :3] * alpha + base[..., :3] * (1 - alpha)
    out[..., 3] = 1.0
    return out


@lru_cache(maxsize=8)
def _atlas_16(tiles: tuple[Tile, ...]) -> np.ndarray:
    floor = _sprite(tiles[0].sprite)
    rows = [floor] + [_over(floor, _sprite(t.sprite)) for t in tiles[1:]]
    arrow = _sprite("agent")
    small_key = np.zeros_like(arrow)
    small_key[8:16, 8:16] = _sprite("key")[::2, ::2]
    for carrying in (False, True):
        for heading in range(4):
            tile = _over(floor, np.rot90(arrow, k=-heading).copy())
            rows.append(_over(tile, small_key) if carrying else tile)
    return np.stack(rows)[..., :3]


@lru_cache(maxsize=16)
def _atlas(tile: int, tiles: tuple[Tile, ...]) -> torch.Tensor:
    out = []
    for img in _atlas_16(tiles):
        pil = Image.fromarray((img * 255).round().astype(np.uint8))  # [h, w, 3] uint8: RGB
        resample = Image.Resampling.NEAREST if tile >= 16 else Image.Resampling.BOX
        out.append(np.asarray(pil.resize((tile, tile), resample)))
    return torch.from_numpy(np.stack(out))


def tile_atlas(tile: int) -> torch.Tensor:
    """``[agent_tile() + 8, tile, tile, 3]`` uint8 sprites at ``tile`` pixels (box-filtered when shrinking)."""
    return _atlas(tile, table().tiles)


def agent_tile() -> int:
    """Atlas row of the agent facing north without the key (the tiles' rows come first)."""
    return len(table().tiles)


def agent_tiles(heading: torch.Tensor, has_key: torch.Tensor) -> torch.Tensor:
    """Atlas row of the agent sprite for each heading / key state."""
    return agent_tile() + heading + 4 * has_key.to(torch.long)
