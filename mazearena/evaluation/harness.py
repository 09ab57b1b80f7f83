"""Play a fixed number of episodes with a policy on a batched maze or arena env and summarise them."""

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


def run_games(env, act: Callable[[object, torch.Tensor], torch.Tensor], episodes: int, team: int) -> dict:
    """Play ``episodes`` arena games on an :class:`~mazearena.envs.arena.ArenaVectorEnv` whose learning
    agents are ``team`` (0 red, 1 blue); every game slot contributes the same number of games.
    ``act(obs, alive)`` returns actions ``[num_envs, num_agents]``.

    Returns ``episodes``, ``success_rate`` (the win rate of ``team``) with its 95% Wilson interval
    ``success_ci95``, ``draw_rate``, ``loss_rate``, ``mean_return`` (summed over the learning agents) and
    ``mean_length``.
    """
    n_envs = env.num_envs
    per_env = math.ceil(episodes / n_envs)
    counts = torch.zeros(n_envs, dtype=torch.long)
    returns, lengths, winners = [], [], []
    returns_now = torch.zeros(n_envs)
    obs, info = env.reset()
    alive = info["alive"]
    while bool((counts < per_env).any()):
        obs, reward, _, _, info = env.step(act(obs, alive))
        alive = info["alive"]
        returns_now += (reward * info["active"]).sum(1).cpu()
        done = info["_final_obs"].cpu()
        take = done & (counts < per_env)
        returns += returns_now[take].tolist()
        lengths += info["episode_length"].cpu()[take].tolist()
        winners += info["winner"].cpu()[take].tolist()
        counts += done.long()
        returns_now[done] = 0.0
    n = len(returns)
    wins = sum(w == team for w in winners)
    lo, hi = wilson_interval(wins, n)
    return {
        "episodes": n,
        "success_rate": wins / n,
        "success_ci95": [lo, hi],
        "draw_rate": sum(w == -1 for w in winners) / n,
        "loss_rate": sum(w not in (team, -1) for w in winners) / n,
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean(lengths)),
    }
