"""Checkpoints: written atomically (a temporary file renamed into place, so a kill never leaves half a file),
with a SHA-256 of their contents checked on load (a flipped byte is an error, not NaN weights), read back with
``torch.load(weights_only=True)``, which never executes pickled code."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch

from mazearena.checks import UserError

FORMAT = "mazearena-checkpoint-1"


class CheckpointError(UserError):
    """A checkpoint that cannot be used: missing, corrupted, or made for another model or config."""


def previous_path(path: Path) -> Path:
    """Where :func:`save_checkpoint` keeps the checkpoint that ``path`` held before (``last.previous.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def save_checkpoint(path: Path, state: dict, keep_previous: bool = False) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) to ``path`` atomically, with its
    checksum. ``keep_previous``: the file ``path`` held is kept as :func:`previous_path` (a fallback should
    ``path`` be lost or damaged later)."""
    state = {"format": FORMAT, **state}
    state["checksum"] = checksum(state)
    return atomic_write(path, lambda f: torch.save(state, f), binary=True, keep_previous=keep_previous)


def atomic_write(path: Path, write: Callable[[IO], object], binary: bool = False, keep_previous: bool = False) -> Path:
    """Write ``path`` through ``write(file)`` atomically: into a temporary file beside it (``.NAME.*.tmp``, which
    :func:`remove_partial_writes` cleans up after a kill), flushed to disk, then renamed into place, so a kill
    never leaves half a file. ``keep_previous``: the file ``path`` held is kept as :func:`previous_path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.exists():
            os.replace(path, previous_path(path))  # a kill between the two renames leaves the previous one
        os.replace(tmp, path)
    except RuntimeError as e:  # torch.save reports a failed write (disk full) as a RuntimeError over the OSError
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e.__context__, OSError):
            raise OSError(e.__context__.errno, e.__context__.strerror, str(path)) from e
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, or raise :class:`CheckpointError` saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling refused, truncated file, not a torch file...
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted or not a mazearena checkpoint: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a mazearena checkpoint (format {FORMAT!r} expected)")
    if "checksum" in state:  # written since checksums were added; older checkpoints load as they are
        expected = state.pop("checksum")
        if checksum(state) != expected:
            raise CheckpointError(f"checkpoint {str(path)!r} is corrupted: its contents do not match their checksum")
    return state


def checksum(value) -> str:
    """SHA-256 of a checkpoint's contents: every tensor's dtype, shape and bytes, every other value's repr, in a
    fixed order (so it does not depend on the file's layout or the device the tensors are loaded on)."""
    h = hashlib.sha256()

    def add(x) -> None:
        if isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(repr(k).encode())
                add(x[k])
        elif isinstance(x, (list, tuple)):
            h.update(f"{type(x).__name__}{len(x)}".encode())
            for v in x:
                add(v)
        elif isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(x).encode())

    add(value)
    return h.hexdigest()


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of checkpoint writes that were killed (``.NAME.*.tmp``); returns them. Call it
    only while holding the run's lock: a running writer's file looks the same."""
    folder = Path(folder)
    removed = sorted(folder.rglob(".*.tmp")) if folder.is_dir() else []
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    return removed
