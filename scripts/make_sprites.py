"""Draw mazearena's 16x16 pixel-art sprites and write them to mazearena/assets/ as PNG.

Run once after changing a sprite: ``python scripts/make_sprites.py``. The PNGs are committed; the package
only reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

N = 16
ASSETS = Path(__file__).resolve().parent.parent / "mazearena" / "assets"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def canvas(colour: str | None = None) -> np.ndarray:
    img = np.zeros((N, N, 4), dtype=np.uint8)
    if colour is not None:
        img[..., :3] = rgb(colour)
        img[..., 3] = 255
    return img


def put(img: np.ndarray, mask: np.ndarray, colour: str) -> None:
    img[mask, :3] = rgb(colour)
    img[mask, 3] = 255


yy, xx = np.mgrid[0:N, 0:N]


def floor() -> np.ndarray:
    img = canvas("#1b2130")
    put(img, (yy == 0) | (xx == 0), "#232a3b")
    return img


def wall() -> np.ndarray:
    img = canvas("#5d6b82")
    mortar = (yy % 4 == 3) | (((yy // 4) % 2 == 0) & (xx % 8 == 7)) | (((yy // 4) % 2 == 1) & (xx % 8 == 3))
    put(img, mortar, "#3c4658")
    put(img, (yy % 4 == 0) & ~mortar, "#7686a0")
    return img


def goal() -> np.ndarray:
    img = canvas()
    put(img, (yy >= 2) & (yy <= 13) & (xx >= 2) & (xx <= 13), "#15803d")
    put(img, (yy >= 3) & (yy <= 12) & (xx >= 3) & (xx <= 12), "#22c55e")
    star = (np.abs(yy - 7.5) + np.abs(xx - 7.5) <= 3.5) | ((np.abs(yy - 7.5) <= 0.5) | (np.abs(xx - 7.5) <= 0.5)) & (
        np.abs(yy - 7.5) + np.abs(xx - 7.5) <= 5.5
    )
    put(img, star, "#dcfce7")
    return img


def key() -> np.ndarray:
    img = canvas()
    ring = ((yy - 7.5) ** 2 + (xx - 4.5) ** 2 <= 10.5) & ((yy - 7.5) ** 2 + (xx - 4.5) ** 2 >= 2.5)
    shaft = (yy >= 7) & (yy <= 8) & (xx >= 7) & (xx <= 14)
    teeth = ((xx == 11) | (xx == 13)) & (yy >= 9) & (yy <= 11)
    put(img, ring | shaft | teeth, "#facc15")
    put(img, ring & (yy <= 6), "#fde68a")
    return img


def door() -> np.ndarray:
    img = canvas("#78350f")
    put(img, (yy >= 1) & (yy <= 14) & (xx >= 2) & (xx <= 13), "#b45309")
    put(img, (xx == 7) | (xx == 8), "#92400e")
    keyhole = (((yy - 7) ** 2 + (xx - 7.5) ** 2) <= 2.3) | ((yy >= 8) & (yy <= 10) & (xx >= 7) & (xx <= 8))
    put(img, (yy >= 5) & (yy <= 11) & (xx >= 5) & (xx <= 10), "#facc15")
    put(img, keyhole, "#1c1917")
    return img


def lava() -> np.ndarray:
    img = canvas("#c2410c")
    wave = np.abs(((xx + 2 * np.round(np.sin(yy / 2.0))) % 8) - 4) <= 1
    put(img, wave & (yy % 5 != 0), "#f97316")
    put(img, (yy % 5 == 2) & (xx % 6 == 1), "#fde047")
    return img


def agent() -> np.ndarray:
    img = canvas()
    # An arrowhead pointing up (north); the renderer rotates it for other headings.
    body = (yy >= 2) & (yy <= 13) & (np.abs(xx - 7.5) <= (yy - 1) * 0.5)
    put(img, body, "#ef4444")
    put(img, body & (yy >= 12), "#b91c1c")
    put(img, (yy >= 6) & (yy <= 8) & (np.abs(xx - 7.5) <= 1), "#fef2f2")
    return img


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, draw in {
        "floor": floor,
        "wall": wall,
        "goal": goal,
        "key": key,
        "door": door,
        "lava": lava,
        "agent": agent,
    }.items():
        Image.fromarray(draw(), "RGBA").save(ASSETS / f"{name}.png")
        print(f"wrote {ASSETS / f'{name}.png'}")


if __name__ == "__main__":
    main()
