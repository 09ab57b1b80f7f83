"""Play a fixed number of episodes with a policy on a batched maze env and summarise them."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from mazearena.evaluation.metrics import wilson_interval


def run_episodes(env, act: Callable[[torch.Tensor], torch.Tensor], episodes: int, advance=None) -> dict:
    """Play ``episodes`` episodes on a mazearena vector env; every game contributes the same number, so no
    game (and no level stream) is favoured. ``act(obs)`` returns a batch of actions.

    Returns ``episodes``, ``success_rate`` with its 95% Wilson interval ``success_ci95``, ``mean_return`` and
    ``mean_length``.
    """
    n_envs = env.num_envs
    per_env = math.ceil(episodes / n_envs)
    counts = torch.zeros(n_envs, dtype=torch.long)
    returns, lengths, successes = [], [], []
    returns_now = torch.zeros(n_envs)
    obs, _ = env.reset()
    while bool((counts < per_env).any()):
        obs, reward, terminated, truncated, info = env.step(act(obs))
        returns_now += reward.cpu()
        done = (terminated | truncated).cpu()
        take = done & (counts < per_env)
        returns += returns_now[take].tolist()
        lengths += info["episode_length"].cpu()[take].tolist()
        successes += info["is_success"].cpu()[take].tolist()
        counts += done.long()
        returns_now[done] = 0.0
        if advance is not None and bool(take.any()):
            advance(int(take.sum()))
    n = len(returns)
    lo, hi = wilson_interval(int(sum(successes)), n)
    return {
        "episodes": n,
        "success_rate": float(np.mean(successes)),
        "success_ci95": [lo, hi],
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean(lengths)),
    }
