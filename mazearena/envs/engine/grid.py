"""Shared grid vocabulary of the engine: headings, action checks, engine state I/O.

What a cell code means lives in :mod:`~mazearena.envs.engine.cells`; random draws in :mod:`mazearena.rng`.
"""

from __future__ import annotations

from enum import IntEnum

import torch


class Heading(IntEnum):
    """Compass headings; also the cardinal move actions."""

    NORTH = 0
    EAST = 1
    SOUTH = 2
    WEST = 3


# (dy, dx) per heading, indexed by Heading.
HEADING_DELTAS = torch.tensor([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=torch.long)


def check_action_batch(
    actions,
    shape: tuple[int, ...],
    num_actions: int,
    device: torch.device,
    live: torch.Tensor | None = None,
    describe=None,
) -> torch.Tensor:
    """A batch of actions as int64 on ``device``, or an error naming what is wrong.

    ``actions`` must be an integer tensor of ``shape`` with values in ``0..num_actions-1`` wherever ``live``
    (default: everywhere); ``describe(index)`` names the offending entry in the message.
    """
    if not isinstance(actions, torch.Tensor):
        raise TypeError(f"actions must be a torch tensor or numpy array, got {type(actions).__name__}")
    if tuple(actions.shape) != tuple(shape):
        raise ValueError(f"actions must have shape {tuple(shape)}, got {tuple(actions.shape)}")
    if actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool:
        raise TypeError(f"actions must be integers, got dtype {actions.dtype}")
    actions = actions.to(device, torch.long)
    bad = (actions < 0) | (actions >= num_actions)
    if live is not None:
        bad &= live
    if bool(bad.any()):
        index = tuple(int(v) for v in bad.nonzero()[0])
        where = describe(index) if describe else f"at {index}"
        raise ValueError(
            f"action {int(actions[index])} {where} is out of range: valid actions are 0..{num_actions - 1}"
        )
    return actions


LAYOUTS = ("chw", "hwc")


def check_layout(layout: object) -> None:
    """``obs_layout`` is ``None`` (the observation's own layout), ``"chw"`` or ``"hwc"``, or an error naming it."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"obs_layout must be 'chw', 'hwc' or None, got {layout!r}")


def to_layout(obs, native: str, layout: str | None):
    """Image-like observations ``[..., C, H, W]`` (``native="chw"``) or ``[..., H, W, C]`` in ``layout`` (a torch
    tensor or numpy array; a fresh contiguous one when it moves)."""
    if layout is None or layout == native:
        return obs
    src, dst = (-3, -1) if native == "chw" else (-1, -3)
    if isinstance(obs, torch.Tensor):
        return obs.movedim(src, dst).contiguous()
    import numpy as np

    return np.ascontiguousarray(np.moveaxis(obs, src, dst))


def layout_shape(shape: tuple[int, ...], native: str, layout: str | None) -> tuple[int, ...]:
    if layout is None or layout == native:
        return shape
    return (*shape[1:], shape[0]) if native == "chw" else (shape[-1], *shape[:-1])


class EngineState:
    """``state_dict``/``load_state_dict`` of a batched engine: the tensors named in ``_STATE``.

    They are everything that determines the games' future; levels generated ahead need not be saved (a
    level is a pure function of its id, so a resumed engine regenerates the same ones). Loading copies in
    place, so numpy views of the state (the compiled CPU kernels') stay valid.
    """

    _STATE: tuple[str, ...] = ()

    def _bind_views(self) -> None:
        """(Re)create the numpy views of the state that compiled kernels write through."""

    def __getstate__(self) -> dict:
        # numpy views do not survive pickling or deepcopy as views (they would become copies the kernels write
        # to while the tensors stay unchanged), so they are left out and rebuilt. The tensors go as copies:
        # multiprocessing's pickler moves a pickled tensor's storage into shared memory, which would leave this
        # engine's own kernels writing through views of freed memory.
        return {
            k: v.clone() if isinstance(v, torch.Tensor) else v
            for k, v in self.__dict__.items()
            if not k.startswith("_np_")
        }

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).clone() for name in self._STATE}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict` (same config and batch), or fail naming the mismatch."""
        for name in self._STATE:
            mine = getattr(self, name)
            if name not in state or tuple(state[name].shape) != tuple(mine.shape):
                got = tuple(state[name].shape) if name in state else "nothing"
                raise ValueError(f"engine state {name!r}: expected shape {tuple(mine.shape)}, got {got}")
            mine.copy_(state[name])
