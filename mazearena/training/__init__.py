"""Training, logging, checkpoints and videos. ``train(TrainConfig(...))`` runs one training job."""

from mazearena.training.config import EnvConfig, TrainConfig, load_config
from mazearena.training.train import train

__all__ = ["EnvConfig", "TrainConfig", "load_config", "train"]
