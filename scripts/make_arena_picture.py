"""Render the README's arena picture, docs/arenas.png: a tag, a ctf and a combat game a few steps in,
played by the scripted NPCs of their scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mazearena.envs import arena_v0
from mazearena.envs.render import render_arena

OUT = Path(__file__).resolve().parent.parent / "docs" / "arenas.png"
GAMES = [
    ("tag_2v1_vs_fleeing_npc", "maze", 6),
    ("ctf_3v3_vs_guards", "rooms", 14),
    ("combat_3v3_vs_chasers", "open", 9),
]


def main() -> None:
    frames = []
    for name, layout, steps in GAMES:
        env = arena_v0.parallel_env(scenario=name, layout=layout, size=17)
        env.reset(seed=4)
        rng = np.random.default_rng(0)
        for _ in range(steps):  # focal agents move at random; the NPCs play their parts
            env.step({a: int(rng.integers(env.action_space(a).n)) for a in env.agents})
        frames.append(render_arena(env.engine, 0, tile=24))
    gap = np.full((frames[0].shape[0], 16, 3), 255, dtype=np.uint8)
    picture = np.concatenate([frames[0], gap, frames[1], gap, frames[2]], axis=1)
    OUT.parent.mkdir(exist_ok=True)
    Image.fromarray(picture).save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
