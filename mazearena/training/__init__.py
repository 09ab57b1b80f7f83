"""Training, logging, checkpoints and videos. ``train(TrainConfig(...))`` runs one training job.

Needs the ``train`` extra: ``pip install 'mazearena[train]'``.
"""

from mazearena.checks import require

require("tyro", "rich", "yaml", "matplotlib", "imageio", extra="train")  # wandb: when a run logs to W&B

from mazearena.training.config import EnvConfig, TrainConfig, load_config  # noqa: E402 (after the extra check)
from mazearena.training.train import TrainingDiverged, TrainingInterrupted, train  # noqa: E402

__all__ = ["EnvConfig", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "load_config", "train"]
