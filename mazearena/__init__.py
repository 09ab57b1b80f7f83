"""mazearena: procedurally generated mazes and arenas for reinforcement learning, on a batched torch engine.

Importing the package registers the Gymnasium ids (and does nothing else): ``mazearena/Maze-v0``,
``mazearena/MazeKeyDoor-v0``, ``mazearena/MazeHazards-v0``, ``mazearena/MazeMemory-v0``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__version__ = "0.1.0"

DEFAULT_SIZE = 11

# id -> default keyword arguments. No time limit is registered: each env ends episodes at its own limit, which
# follows the size (4 * size**2, the reward horizon; the option ``max_steps`` sets another, 0 none). A
# ``max_episode_steps`` given to gymnasium.make adds Gymnasium's TimeLimit on top (it can only end them sooner);
# given to make_vec / gymnasium.make_vec it is the vector env's limit.
MAZE_IDS: dict[str, dict[str, Any]] = {
    "mazearena/Maze-v0": {"variant": "goal"},
    "mazearena/MazeKeyDoor-v0": {"variant": "key_door"},
    "mazearena/MazeHazards-v0": {"variant": "hazards", "loops": 0.25},
    "mazearena/MazeMemory-v0": {"variant": "memory"},
}


def _register() -> None:
    for env_id, kwargs in MAZE_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="mazearena.envs.maze:MazeEnv",
            vector_entry_point="mazearena.envs.vector:GymMazeVectorEnv",
            kwargs={"size": DEFAULT_SIZE, **kwargs},
        )


_register()


def make_vec(env_id: str, num_envs: int, device: str = "cpu", seed: int | None = None, **kwargs: Any):
    """A batched :class:`~mazearena.envs.vector.MazeVectorEnv` of ``num_envs`` games of ``env_id``: torch tensors
    on ``device``, same-step autoreset (``gymnasium.make_vec`` gives the numpy, next-step-autoreset version that
    Gymnasium's vector wrappers expect).

    ``seed`` seeds game i with ``seed + i`` at the first reset. Other keyword arguments are maze options
    (``size``, ``view_size``, ``num_levels``, ``max_steps``, ...) or ``max_episode_steps`` (the same as
    ``max_steps``).
    """
    import dataclasses

    from gymnasium.envs.registration import load_env_creator

    if env_id not in MAZE_IDS:
        raise ValueError(f"unknown env id {env_id!r}; mazearena's vector envs: {', '.join(MAZE_IDS)}")
    spec = gym.spec(env_id)
    entry_point = "mazearena.envs.vector:MazeVectorEnv"  # a string, as registrations are: the root imports no env
    env = load_env_creator(entry_point)(num_envs, device=device, seed=seed, **{**spec.kwargs, **kwargs})
    env.spec = dataclasses.replace(
        spec,
        vector_entry_point=entry_point,
        kwargs={**spec.kwargs, **kwargs, "num_envs": num_envs, "device": str(device), "seed": seed},
    )
    return env


__all__ = ["MAZE_IDS", "__version__", "make_vec"]
