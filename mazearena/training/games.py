"""A run's policy at play: held-out evaluation during training and in its report (:func:`evaluate_policy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig

EVAL_ENVS = 1024
"""The most games an evaluation plays at once: ``episodes`` up to this many are one episode per game, played
together (the longest episode, not a queue of them, sets how long an evaluation takes)."""


def eval_games(episodes: int) -> tuple[int, int]:
    """The games an evaluation of ``episodes`` episodes plays at once, and the episodes it then plays (whole
    rounds of them: ``episodes`` itself up to :data:`EVAL_ENVS`)."""
    games = min(episodes, EVAL_ENVS)
    return games, -(-episodes // games) * games


def evaluate_policy(
    policy: torch.nn.Module, cfg: TrainConfig, *, test: bool, episodes: int, seed: int, advance=None
) -> dict:
    """Success, return and length over ``episodes`` episodes on the training or the held-out levels
    (``advance(k)`` as ``k`` more end: a progress bar)."""
    task = cfg.task
    envs = task.make_envs(cfg, eval_games(episodes)[0], test=test, seed=seed)
    device = torch.device(cfg.device)
    policy.eval()
    # the policy samples from an RNG of its own: evaluating does not shift the training's random stream
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        try:
            return task.summarise(cfg, envs, task.actor(cfg, policy), episodes, advance)
        finally:
            policy.train()
