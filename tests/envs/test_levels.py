"""The level source: whatever the path (cache, prefetched slot, miss), a level id gives that level's tensors."""

import pytest
import torch

from mazearena.envs.engine.levels import LevelSource


def make(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return ids * 10, torch.stack([ids, -ids], 1)  # stand-ins for a level's tensors, easy to check


@pytest.mark.parametrize("num_levels", [0, 50])
def test_fetch_returns_the_levels_asked_for_whether_prefetched_or_not(num_levels):
    n = 200
    source = LevelSource(make, num_levels, 7, n, torch.device("cpu"), bytes_per_level=24)
    assert source.cached == (num_levels > 0)
    seeds, episodes = torch.arange(n), torch.zeros(n, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        idx = torch.randperm(n, generator=gen)[: int(torch.randint(1, 80, (1,), generator=gen))]
        episodes[idx] += 1
        ids = source.level_id(seeds[idx], episodes[idx])
        assert bool((ids >= 7).all()) and (num_levels == 0 or bool((ids < 57).all()))
        a, b = source.fetch(idx, ids, seeds, episodes)
        assert torch.equal(a, ids * 10) and torch.equal(b, torch.stack([ids, -ids], 1))
        source.prefetch(seeds, episodes)
    if num_levels == 0:  # most levels came from slots filled ahead of need
        assert bool((source.slot_ids >= 0).any())


def test_level_ids_outside_the_set_are_named():
    source = LevelSource(make, 10, 5, 4, torch.device("cpu"), bytes_per_level=24)
    assert torch.equal(source.check([5, 14]), torch.tensor([5, 14]))
    with pytest.raises(ValueError, match=r"level_id 15 is outside this env's level set \[5, 15\)"):
        source.check([6, 15])
