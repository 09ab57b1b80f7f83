"""Training, logging, checkpoints and videos. ``train(TrainConfig(...))`` runs one training job.

Needs the ``train`` extra: ``pip install 'mazearena[train]'``.
"""

from mazearena.checks import require

require("tyro", "rich", "yaml", "wandb", "matplotlib", "imageio", extra="train")

from mazearena.training.config import EnvConfig, TrainConfig, load_config  # noqa: E402 (after the extra check)
from mazearena.training.train import train  # noqa: E402 (after the extra check)

__all__ = ["EnvConfig", "TrainConfig", "load_config", "train"]
