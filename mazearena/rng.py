"""Counter-based random numbers: every random draw in mazearena is a pure function of integers (level id,
env seed, episode, counter), so a game's randomness never depends on which batch it runs in or on any
global RNG. A draw is ``hash(key, stream, counter)``; each use has its own stream.
"""

from __future__ import annotations

import torch

# Independent random streams: a draw is hash(key, stream, counter).
STREAM_LEVEL = 1
STREAM_SPAWN = 2
STREAM_HEADING = 3
STREAM_EDGE = 11
STREAM_WALK = 12
STREAM_GOAL = 13
STREAM_LOOPS = 14
STREAM_ROOMS = 15
STREAM_DIVIDER = 16
STREAM_KEY = 17
STREAM_LAVA = 18
STREAM_SIDE = 19
STREAM_BASE = 20
STREAM_NPC = 21
STREAM_CUE = 22
STREAM_GOAL_PICK = 23

_M1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_M2 = 0x94D049BB133111EB - (1 << 64)
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)


def _shr(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's ``>>`` is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser on int64 tensors (multiplication wraps modulo 2**64)."""
    x = x ^ _shr(x, 30)
    x = x * _M1
    x = x ^ _shr(x, 27)
    x = x * _M2
    return x ^ _shr(x, 31)


def _wrap(v: int) -> int:
    """A Python int as the int64 it wraps to."""
    return ((v + (1 << 63)) % (1 << 64)) - (1 << 63)


def hash_ints(*keys: torch.Tensor | int) -> torch.Tensor:
    """Hash broadcastable int64 tensors (or Python ints) into one well-mixed int64 tensor."""
    first, rest = keys[0], keys[1:]
    if not isinstance(first, torch.Tensor):
        first = torch.tensor(first, dtype=torch.long)
    h = mix64(first.to(torch.long) + _GOLDEN)
    for key in rest:
        if isinstance(key, torch.Tensor):
            h = mix64(h ^ (key.to(torch.long) + _GOLDEN))
        else:  # a scalar key costs no tensor allocation
            h = mix64(h ^ _wrap(int(key) + _GOLDEN))
    return h


def uniform(*keys: torch.Tensor | int) -> torch.Tensor:
    """Uniform float32 in [0, 1) from integer keys."""
    return _shr(hash_ints(*keys), 40).to(torch.float32) * (1.0 / (1 << 24))


def randint(n: torch.Tensor | int, *keys: torch.Tensor | int) -> torch.Tensor:
    """Integers uniform in [0, n) (n < 2**31) from integer keys."""
    return _shr(hash_ints(*keys), 33) % n
