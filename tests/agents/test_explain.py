"""What ``watch --explain`` shows: occlusion saliency on a hand-made position, the transformer's attention."""

from collections import deque

import torch

import mazearena
from mazearena.agents.backbones import Transformer
from mazearena.agents.explain import cls_attention, occlusion_saliency
from mazearena.envs import arena_v0

WALL, GOAL, TILE_PLANES = 0, 1, 5  # the maze planes: wall, goal, key, door, lava, then agent, facing, has_key
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # north, east, south, west

# A 7x7 view, the agent at the centre. A wall row splits it; the only gap is at the east end, so the way to the
# goal (north of the agent, behind the wall) goes east, through the gap, then back west.
POSITION = [
    "...G...",
    ".......",
    "#####.#",
    "...A...",
    ".......",
    ".......",
    ".......",
]
PATH = {(3, 4), (3, 5), (2, 5), (1, 5)}  # the cells every shortest way passes


def view() -> torch.Tensor:
    obs = torch.zeros(8, 7, 7, dtype=torch.int8)
    for y, row in enumerate(POSITION):
        for x, ch in enumerate(row):
            if ch == "#":
                obs[WALL, y, x] = 1
            elif ch == "G":
                obs[GOAL, y, x] = 1
    obs[5, 3, 3] = 1  # agent
    obs[6, 2, 3] = 1  # facing north
    return obs


def shortest_way(batch: torch.Tensor) -> torch.Tensor:
    """A policy that only cares for the goal: logits favour the first step of a shortest path to the goal seen in
    the view (breadth-first from the goal), and are flat when no goal is in sight."""
    logits = torch.zeros(len(batch), 4)
    for b, obs in enumerate(batch):
        walls, goals = obs[WALL].bool(), obs[GOAL].nonzero().tolist()
        if not goals:
            continue
        dist = {tuple(goals[0]): 0}
        queue = deque(dist)
        while queue:
            y, x = queue.popleft()
            for dy, dx in MOVES:
                n = (y + dy, x + dx)
                if 0 <= n[0] < 7 and 0 <= n[1] < 7 and not walls[n] and n not in dist:
                    dist[n] = dist[(y, x)] + 1
                    queue.append(n)
        for a, (dy, dx) in enumerate(MOVES):
            logits[b, a] = -5.0 * dist.get((3 + dy, 3 + dx), 20)
    return logits


def test_occlusion_saliency_falls_on_the_goal_and_the_way_to_it():
    saliency = occlusion_saliency(shortest_way, view(), TILE_PLANES, WALL)
    assert torch.isclose(saliency.sum(), torch.tensor(1.0))
    mass = {(y, x): float(saliency[y, x]) for y in range(7) for x in range(7)}
    on_way = mass[(0, 3)] + sum(mass[c] for c in PATH)
    assert on_way > 0.5, saliency  # most of it: the goal and the way there
    assert mass[(0, 3)] > 0.1 and all(mass[c] > 0.1 for c in PATH)
    # the rest on the walls that force the detour (open one and a shorter way starts north or west)
    detour = sum(mass[(2, x)] for x in (1, 2, 3))
    assert on_way + detour > 0.99 and mass[(2, 3)] > 0.1
    # cells off the way change nothing: walls that shorten nothing, floor the way does not use
    assert mass[(5, 0)] == mass[(6, 6)] == mass[(2, 0)] == mass[(2, 6)] == 0.0


def test_a_view_that_nothing_changes_has_no_saliency():
    flat = occlusion_saliency(lambda b: torch.zeros(len(b), 4), view(), TILE_PLANES, WALL)
    assert flat.shape == (7, 7) and float(flat.sum()) == 0.0


def test_transformer_attention_covers_the_cells_and_skips_masked_entities():
    space = mazearena.make_vec("mazearena/Maze-v0", 1, size=7).single_observation_space
    torch.manual_seed(0)
    net = Transformer(space).eval()
    att = cls_attention(net, view()[None])
    assert att.shape == (1, 49) and (att >= 0).all() and float(att.sum()) <= 1.0 + 1e-5
    env = arena_v0.vector_env(2, seed=0, mode="tag", red=2, blue=1, obs_mode="tokens")
    obs, _ = env.reset()
    rows = {k: v[:, 0] for k, v in obs.items()}
    rows["mask"] = rows["mask"].clone()
    rows["mask"][:, -1] = False  # the last entity hidden
    net = Transformer(env.single_observation_space).eval()
    att = cls_attention(net, rows)
    assert att.shape == (2, rows["mask"].shape[1]) and (att[:, -1] == 0).all()
    assert torch.allclose(net(rows), net(rows))  # reading the attention leaves the network as it was
