"""Any Gymnasium env with Discrete actions and Box observations (``CartPole-v1``; ``mypkg:MyEnv-v0`` imports
``mypkg`` first): no levels and no notion of success, so its splits are episodes of other seeds and its reports
read returns."""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from mazearena.checks import UserError
from mazearena.training.tasks.base import TaskKind, mlp_for_vectors
from mazearena.training.tasks.maze import SingleAgentTask

if TYPE_CHECKING:
    from mazearena.training.config import TrainConfig

HELD_OUT_SEEDS = 10**6
"""How far the held-out suite's seeds are from the training suite's."""


def check_env_id(env_id: str) -> None:
    """An error naming an env id that is neither a maze id, a PettingZoo env's import path nor a Gymnasium id
    training can use."""
    import mazearena
    from mazearena.training.tasks.pettingzoo import env_factory

    if env_id not in mazearena.MAZE_IDS and env_factory(env_id) is None:
        check_gym_env(env_id)


@functools.cache
def check_gym_env(env_id: str) -> tuple:
    """The observation and action spaces of a Gymnasium id (``module:id`` imports the module first), or an error
    naming what does not fit: PPO and DQN train on Discrete actions and Box observations. Made once per id (a
    config is built and checked many times: the command line, YAML, each resume)."""
    import importlib

    import gymnasium as gym

    import mazearena

    module, colon, name = env_id.rpartition(":")
    if colon:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UserError(f"env_id {env_id!r}: cannot import {module!r} ({e})") from None
    try:
        spec = gym.spec(name)
    except gym.error.Error as e:
        raise UserError(
            f"env_id {env_id!r} is neither a maze ({', '.join(mazearena.MAZE_IDS)}), a registered Gymnasium id ({e}) "
            "nor a PettingZoo env's factory ('package.module:function')"
        ) from None
    env = gym.make(spec.id)
    try:
        obs, act = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(act, gym.spaces.Discrete) or not isinstance(obs, gym.spaces.Box):
        raise UserError(f"env_id {env_id!r}: training needs Discrete actions and Box observations, got {act} and {obs}")
    return obs, act


class GymTask(SingleAgentTask):
    kind = TaskKind.GYM
    levels = "seeds"
    has_success = False
    perturbable = False

    def claims(self, cfg: TrainConfig) -> bool:
        """Any single-agent config the maze does not claim (the registry asks it last)."""
        from mazearena.training.algorithms import algorithm

        return algorithm(cfg.algo).single

    def check(self, cfg: TrainConfig) -> None:
        super().check(cfg)
        mlp_for_vectors(cfg, check_gym_env(cfg.env.env_id)[0])

    def run_name(self, cfg: TrainConfig) -> str:
        env = re.sub(r"[^A-Za-z0-9._-]+", "_", cfg.env.env_id.rpartition(":")[2].rpartition("/")[2])
        return f"{cfg.algo}-{cfg.model}-{env}-seed{cfg.seed}"

    def make_envs(self, cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        """Its own vector env (numpy), same-step autoreset for the trainers; game i seeded ``seed + i``, as
        mazearena's vector envs are. ``test`` changes nothing: the env has no levels (the held-out suite plays
        other seeds)."""
        return _vector_env(cfg.env.env_id, num_envs, seed, _options(cfg))

    def unavailable_suites(self, cfg: TrainConfig) -> dict[str, str]:
        why = f"needs mazearena's levels ({cfg.env.env_id} has none; train and test are episodes of other seeds)"
        return {"larger": why, "harder": why}

    def _suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str):
        held_out = suite != "train"
        return self.make_envs(cfg, num_envs, test=held_out, seed=seed + (HELD_OUT_SEEDS if held_out else 0))

    def render_env(self, cfg: TrainConfig):
        import gymnasium as gym

        return gym.make(cfg.env.env_id.rpartition(":")[2], render_mode="rgb_array")

    def describe(self, cfg: TrainConfig, step: int) -> str:
        return (
            f"{cfg.algo} + {cfg.model} on {cfg.env.env_id}, {step:,} steps. The env has no levels and no notion "
            "of success: both rows are fresh episodes (other seeds); read the returns."
        )

    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        obs, act = check_gym_env(cfg.env.env_id)
        observation = {
            "kind": "gym",
            "shape": list(obs.shape),
            "dtype": str(obs.dtype),
            "actions": [str(a) for a in range(int(act.n))],
            "summary": f"Observations: {cfg.env.env_id}'s, shape {list(obs.shape)} ({obs.dtype}).",
        }
        return {"observation": observation, "env": {"kind": "gym", "id": cfg.env.env_id, "options": _options(cfg)}}

    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        return _vector_env(env_spec["id"], num_envs, seed + HELD_OUT_SEEDS, env_spec["options"])

    def key(self, cfg: TrainConfig) -> str:
        return json.dumps(["gym", cfg.env.env_id, cfg.env.max_episode_steps])


def _options(cfg: TrainConfig) -> dict[str, Any]:
    """What the env is made with besides its id: the run's time limit, if it sets one."""
    return {"max_episode_steps": cfg.env.max_episode_steps} if cfg.env.max_episode_steps else {}


def _vector_env(env_id: str, num_envs: int, seed: int, options: dict[str, Any]):
    """``num_envs`` games of a Gymnasium id (``module:id`` imports the module first) in a sync vector env with
    same-step autoreset, reset with game i seeded ``seed + i``."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    check_gym_env(env_id)
    envs = gym.make_vec(
        env_id.rpartition(":")[2],
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        **options,
    )
    envs.reset(seed=seed)
    return envs
