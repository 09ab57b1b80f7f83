"""Training, logging, checkpoints and videos."""
