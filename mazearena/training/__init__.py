"""Training, logging, checkpoints and videos. ``train(TrainConfig(...))`` runs one training job.

Needs the ``train`` extra: ``pip install 'mazearena[train]'``. The names below load on first use, so that importing
one helper (``mazearena.training.checkpoint``) does not import the whole training stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mazearena.checks import require

require("tyro", "rich", "yaml", "matplotlib", "imageio", extra="train")  # wandb: when a run logs to W&B

_EXPORTS = {
    "EnvConfig": "mazearena.training.config",
    "TrainConfig": "mazearena.training.config",
    "load_config": "mazearena.training.config",
    "TrainingDiverged": "mazearena.training.loop",
    "TrainingInterrupted": "mazearena.training.loop",
    "train": "mazearena.training.loop",
}

if TYPE_CHECKING:
    from mazearena.training.config import EnvConfig, TrainConfig, load_config
    from mazearena.training.loop import TrainingDiverged, TrainingInterrupted, train


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # looked up once
    return value


__all__ = ["EnvConfig", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "load_config", "train"]
