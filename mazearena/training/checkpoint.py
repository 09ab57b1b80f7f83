"""Checkpoints: written atomically (a temporary file renamed into place, so a kill never leaves half a file),
read back with ``torch.load(weights_only=True)``, which never executes pickled code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from mazearena.checks import UserError

FORMAT = "mazearena-checkpoint-1"


class CheckpointError(UserError):
    """A checkpoint that cannot be used: missing, corrupted, or made for another model or config."""


def save_checkpoint(path: Path, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
    return state
