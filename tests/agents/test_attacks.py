"""Budgeted observation attacks on a hand-made position (the policy of tests/agents/test_explain.py)."""

import torch
from test_explain import TILE_PLANES, WALL, shortest_way, view

from mazearena.agents.attacks import greedy_attack, random_flips

CENTRE = torch.zeros(7, 7, dtype=torch.bool)
CENTRE[3, 3] = True


def grouped(views: torch.Tensor) -> torch.Tensor:
    """The hand-made policy on candidate views grouped by game, ``[B, M, C, H, W]`` -> ``[B, M, 4]``."""
    return shortest_way(views.flatten(0, 1)).view(*views.shape[:2], -1)


def test_the_attack_finds_a_single_change_that_turns_the_greedy_action():
    clean = view()[None]
    assert int(shortest_way(clean).argmax()) == 1  # east, towards the gap
    attacked = greedy_attack(grouped, clean, 1, TILE_PLANES, WALL, protect=CENTRE)
    changed = (attacked != clean).any(1)[0]
    assert int(changed.sum()) == 1  # one cell
    assert int(shortest_way(attacked).argmax()) != 1  # and the agent no longer goes east
    # the agent's planes are untouched and the view stays one the game could show
    assert torch.equal(attacked[:, TILE_PLANES:], clean[:, TILE_PLANES:])
    assert not changed[3, 3] and int(attacked[0, :TILE_PLANES].sum(0).max()) <= 1


def test_budget_zero_is_the_clean_view_and_more_budget_never_helps_the_agent():
    clean = view()[None].repeat(3, 1, 1, 1)
    assert greedy_attack(grouped, clean, 0, TILE_PLANES, WALL) is clean
    east = []
    for k in (1, 2, 4):
        attacked = greedy_attack(grouped, clean, k, TILE_PLANES, WALL, protect=CENTRE)
        assert int((attacked != clean).any(1).flatten(1).sum(1).max()) <= k  # at most k cells
        east.append(float(torch.softmax(shortest_way(attacked), -1)[0, 1]))
    assert east[0] >= east[1] >= east[2]


def test_random_flips_spend_the_same_budget_on_random_cells():
    clean = view()[None].repeat(64, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    flipped = random_flips(clean, 2, TILE_PLANES, WALL, g, protect=CENTRE)
    counts = (flipped != clean).any(1).flatten(1).sum(1)
    assert (counts == 2).all() and not (flipped != clean).any(1)[:, 3, 3].any()
    again = random_flips(clean, 2, TILE_PLANES, WALL, torch.Generator().manual_seed(0), protect=CENTRE)
    assert torch.equal(flipped, again)
    # random flips of the same budget move the agent far less often than the attack does
    turned_random = (shortest_way(flipped).argmax(-1) != 1).float().mean()
    attacked = greedy_attack(grouped, clean[:1], 2, TILE_PLANES, WALL, protect=CENTRE)
    assert int(shortest_way(attacked).argmax()) != 1 and turned_random < 0.5
