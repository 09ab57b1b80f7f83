"""Render the README's picture, docs/mazes.png: one level of each variant, as the env draws it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

import mazearena

OUT = Path(__file__).resolve().parent.parent / "docs" / "mazes.png"


def main() -> None:
    frames = []
    extras = [{"rooms": 1}, {"generator": "backtracker"}, {"loops": 0.3}]
    for env_id, extra in zip(mazearena.MAZE_IDS, extras, strict=True):
        env = gym.make(env_id, size=17, render_mode="rgb_array", **extra)
        env.reset(seed=3)
        frames.append(env.unwrapped.render())
    gap = np.full((frames[0].shape[0], 16, 3), 255, dtype=np.uint8)
    picture = np.concatenate([frames[0], gap, frames[1], gap, frames[2]], axis=1)
    OUT.parent.mkdir(exist_ok=True)
    Image.fromarray(picture).resize((picture.shape[1] // 2, picture.shape[0] // 2), Image.Resampling.BOX).save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
