"""Levels by id for an engine's games: a finite set is generated once and kept on the device; unlimited
levels are generated in batches ahead of need (one slot per game holds its next level), so resets rarely
wait for generation. Shared by the maze and the arena engines; a level is whatever tuple of per-level
tensors the engine's ``make`` returns for a batch of ids.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from mazearena.envs.engine.layouts import MAX_LEVEL_ID, level_range
from mazearena.rng import STREAM_LEVEL, randint

EXTRA_BASE = MAX_LEVEL_ID
"""Ids of the levels an engine is given as tensors (:meth:`LevelSource.put_extra`: edited levels of a curriculum)
start here, after every generated level's id: ``EXTRA_BASE + k`` is slot k of the bank."""
# A finite level set is generated once and kept on the device if it is at most this many bytes.
LEVEL_CACHE_BYTES = 256 * 2**20
_CHUNK = 8192


def as_level_ids(values, name: str = "level_ids") -> torch.Tensor:
    """Level ids given by a user (an int, a sequence or an array of them) as a flat int64 tensor: ints only (a
    float is not truncated, a bool is no id), each a valid id (in ``[0, 2**63)``); whether they belong to an
    env's level set is :meth:`LevelSource.check`'s to say."""
    if isinstance(values, torch.Tensor):
        if values.dtype.is_floating_point or values.dtype == torch.bool:
            raise ValueError(f"{name} must be ints, got a {values.dtype} tensor")
        flat = values.reshape(-1).tolist()
    else:
        flat = np.asarray(values, dtype=object).reshape(-1).tolist()
    for v in flat:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise ValueError(f"{name} must be {'an int' if name == 'level_id' else 'ints'}, got {v!r}")
        if not 0 <= v < 2 * MAX_LEVEL_ID:
            raise ValueError(
                f"level_id {v} is outside every level set: generated levels' ids are in [0, 2**62), those of levels "
                "given as tensors from 2**62"
            )
    return torch.tensor([int(v) for v in flat], dtype=torch.long)


class LevelSource:
    """Per-level tensors by level id, for ``num_envs`` games that draw levels from ``[start, start + n)``."""

    def __init__(
        self,
        make: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
        num_levels: int,
        start_level: int,
        num_envs: int,
        device: torch.device,
        bytes_per_level: int,
    ) -> None:
        self.make, self.device, self.num_envs = make, device, num_envs
        lo, hi = level_range(num_levels, start_level)
        self.lo, self.span = lo, hi - lo
        self.cached = num_levels > 0 and num_levels * bytes_per_level <= LEVEL_CACHE_BYTES
        if self.cached:
            ids = torch.arange(lo, hi, device=device)
            parts = [make(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]
            self.store = tuple(torch.cat(column) for column in zip(*parts, strict=True))
        else:
            self.slot_ids = torch.full((num_envs,), -1, dtype=torch.long, device=device)
            self.slots: tuple[torch.Tensor, ...] | None = None  # allocated at the first generation
            self.refill_at = max(64, num_envs // 8)
        self.extra: tuple[torch.Tensor, ...] | None = None  # a bank of levels given as tensors (put_extra)

    def put_extra(self, slots: torch.Tensor, values: tuple[torch.Tensor, ...], capacity: int) -> torch.Tensor:
        """Write levels given as tensors (one row each, as ``make`` returns them) into the bank's ``slots`` (a bank
        of ``capacity`` levels, made at the first call); returns their ids, ``EXTRA_BASE + slot``. A game that
        plays a slot's level keeps its copy when the slot is written again."""
        slots = torch.as_tensor(slots, dtype=torch.long, device=self.device).reshape(-1)
        if self.extra is None:
            self.extra = tuple(torch.zeros((capacity, *v.shape[1:]), dtype=v.dtype, device=self.device) for v in values)
        if len(slots) and not 0 <= int(slots.min()) <= int(slots.max()) < len(self.extra[0]):
            raise ValueError(f"bank slots must be in [0, {len(self.extra[0])}), got {slots.tolist()}")
        for bank, v in zip(self.extra, values, strict=True):
            bank[slots] = v.to(self.device, bank.dtype)
        return EXTRA_BASE + slots

    def level_id(self, seeds: torch.Tensor, episodes: torch.Tensor) -> torch.Tensor:
        """The level episode ``episodes`` of the games seeded ``seeds`` plays."""
        return self.lo + randint(self.span, seeds, STREAM_LEVEL, episodes)

    def check(self, level_ids) -> torch.Tensor:
        """``level_ids`` as a tensor on the device, or an error naming one outside the set."""
        level_ids = torch.as_tensor(level_ids, dtype=torch.long, device=self.device).reshape(-1)
        bad = (level_ids < self.lo) | (level_ids >= self.lo + self.span)
        if self.extra is not None:
            bad &= (level_ids < EXTRA_BASE) | (level_ids >= EXTRA_BASE + len(self.extra[0]))
        if bool(bad.any()):
            raise ValueError(
                f"level_id {level_ids[bad][0].item()} is outside this env's level set "
                f"[{self.lo}, {self.lo + self.span})"
            )
        return level_ids

    def _fill(self, rows: torch.Tensor, values: tuple[torch.Tensor, ...], ids: torch.Tensor) -> None:
        if self.slots is None:
            self.slots = tuple(
                torch.zeros((self.num_envs, *v.shape[1:]), dtype=v.dtype, device=self.device) for v in values
            )
        for slot, v in zip(self.slots, values, strict=True):
            slot[rows] = v
        self.slot_ids[rows] = ids

    def fetch(
        self, env_idx: torch.Tensor, level_ids: torch.Tensor, seeds: torch.Tensor, episodes: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """The tensors of ``level_ids`` for the games ``env_idx``.

        ``seeds`` and ``episodes`` are those of all games, so a miss also refills every empty slot in the
        same batch: generating a batch costs little more than generating one level. Ids from ``EXTRA_BASE`` are
        read from the bank (:meth:`put_extra`).
        """
        if self.extra is not None:
            extra = level_ids >= EXTRA_BASE
            if bool(extra.any()):
                out = tuple(t[(level_ids - EXTRA_BASE).clamp(min=0)] for t in self.extra)
                own = (~extra).nonzero().squeeze(1)
                if len(own):
                    for o, v in zip(out, self._fetch(env_idx[own], level_ids[own], seeds, episodes), strict=True):
                        o[own] = v
                return out
        return self._fetch(env_idx, level_ids, seeds, episodes)

    def _fetch(
        self, env_idx: torch.Tensor, level_ids: torch.Tensor, seeds: torch.Tensor, episodes: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        if self.cached:
            k = level_ids - self.lo
            return tuple(t[k] for t in self.store)
        hit = self.slot_ids[env_idx] == level_ids
        out = None if self.slots is None else tuple(t[env_idx] for t in self.slots)
        self.slot_ids[env_idx] = -1
        if not bool(hit.all()):
            miss = (~hit).nonzero().squeeze(1)
            empty = (self.slot_ids < 0).nonzero().squeeze(1)
            ahead = self.level_id(seeds[empty], episodes[empty] + 1)
            fresh = self.make(torch.cat([level_ids[miss], ahead]))
            k = len(miss)
            if out is None:  # no slots yet: every game missed
                out = tuple(v[:k] for v in fresh)
            else:
                for o, v in zip(out, fresh, strict=True):
                    o[miss] = v[:k]
            self._fill(empty, tuple(v[k:] for v in fresh), ahead)
        return out

    def prefetch(self, seeds: torch.Tensor, episodes: torch.Tensor) -> None:
        """Generate, in one batch, the next level of every game whose slot was used up."""
        if self.cached:
            return
        empty = (self.slot_ids < 0).nonzero().squeeze(1)
        if len(empty) < min(self.refill_at, self.num_envs):
            return
        ids = self.level_id(seeds[empty], episodes[empty] + 1)
        self._fill(empty, self.make(ids), ids)
