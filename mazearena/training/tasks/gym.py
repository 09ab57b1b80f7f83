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


def check_env_id(env_id: str, wrappers: tuple[str, ...] = (), obs_keys: tuple[str, ...] = ()) -> None:
    """An error naming an env id that is neither a maze id, a PettingZoo env's import path nor a Gymnasium id
    training can use (with its ``wrappers`` and ``obs_keys``, which only Gymnasium ids take)."""
    import mazearena
    from mazearena.training.tasks.pettingzoo import env_factory

    if env_id in mazearena.MAZE_IDS or env_factory(env_id) is not None:
        for name, given in (("wrappers", wrappers), ("obs_keys", obs_keys)):
            if given:
                raise UserError(f"env.{name} applies to Gymnasium ids, not to {env_id!r}")
        return
    check_gym_env(env_id, tuple(wrappers), tuple(obs_keys))


@functools.cache
def check_gym_env(env_id: str, wrappers: tuple[str, ...] = (), obs_keys: tuple[str, ...] = ()) -> tuple:
    """The observation and action spaces of a Gymnasium id (``module:id`` imports the module first) as training
    sees them (after ``wrappers`` and the choice of ``obs_keys``: :func:`adapt`), or an error naming what does not
    fit: the trainers take Discrete actions and Box observations. Made once per id (a config is built and checked
    many times: the command line, YAML, each resume)."""
    import gymnasium as gym

    env = adapt(gym.make(_registered(env_id).id), env_id, wrappers, obs_keys)
    try:
        obs, act = env.observation_space, env.action_space
    finally:
        env.close()
    if not isinstance(act, gym.spaces.Discrete) or not isinstance(obs, gym.spaces.Box):
        raise UserError(f"env_id {env_id!r}: training needs Discrete actions and Box observations, got {act} and {obs}")
    return obs, act


def _registered(env_id: str):
    """The Gymnasium spec of ``env_id`` (``module:id`` imports the module first), or an error naming it."""
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
        return gym.spec(name)
    except gym.error.Error as e:
        raise UserError(
            f"env_id {env_id!r} is neither a maze ({', '.join(mazearena.MAZE_IDS)}), a registered Gymnasium id ({e}) "
            "nor a PettingZoo env's factory ('package.module:function')"
        ) from None


def adapt(env, env_id: str, wrappers: tuple[str, ...] = (), obs_keys: tuple[str, ...] = ()):
    """``env`` as training sees it: each of ``wrappers`` applied in order (:func:`wrapper`); of a Dict
    observation the ``obs_keys`` (one Box key as it is, several flattened into one vector); an image stored
    channels last (``[H, W, C]`` with C the smallest side, MiniGrid's ``image``) turned channels first, as the
    convolutional backbones read it."""
    import gymnasium as gym
    import numpy as np

    for spec in wrappers:
        make = wrapper(spec)
        try:
            env = make(env)
        except Exception as e:  # noqa: BLE001 - any failure of outside code, named with its wrapper
            raise UserError(f"env.wrappers: {spec!r} failed on {env_id!r}: {type(e).__name__}: {e}") from None
    space = env.observation_space
    if isinstance(space, gym.spaces.Dict):
        env = _select(env, env_id, obs_keys)
    elif obs_keys:
        raise UserError(f"env.obs_keys names keys of Dict observations; {env_id!r} hands out {space}")
    space = env.observation_space
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.shape[2] < min(space.shape[:2]):
        shape = (space.shape[2], space.shape[0], space.shape[1])
        low, high = np.transpose(space.low, (2, 0, 1)), np.transpose(space.high, (2, 0, 1))
        channels_first = gym.spaces.Box(low, high, shape, space.dtype)
        env = gym.wrappers.TransformObservation(
            env, lambda o: np.ascontiguousarray(o.transpose(2, 0, 1)), channels_first
        )
    return env


def _select(env, env_id: str, keys: tuple[str, ...]):
    """Of a Dict observation, the Box of one key, or several keys flattened into one vector (in the sorted order
    of their names, as Gymnasium orders a Dict space; a Discrete key one-hot)."""
    import gymnasium as gym

    space = env.observation_space
    if not keys:
        raise UserError(
            f"env_id {env_id!r} hands out Dict observations (keys: {', '.join(space.spaces)}): name the keys to "
            "train on with env.obs_keys (one Box key as it is, e.g. image; several flattened into one vector)"
        )
    for key in keys:
        if key not in space.spaces:
            raise UserError(
                f"env.obs_keys: {key!r} is not a key of {env_id!r}'s observations ({', '.join(space.spaces)})"
            )
    if len(keys) == 1:
        key = keys[0]
        return gym.wrappers.TransformObservation(env, lambda o: o[key], space.spaces[key])
    chosen = gym.spaces.Dict({k: space.spaces[k] for k in keys})
    for key in keys:
        if not isinstance(space.spaces[key], (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiBinary,
                                              gym.spaces.MultiDiscrete)):  # fmt: skip
            raise UserError(
                f"env.obs_keys: {key!r} is a {type(space.spaces[key]).__name__} space, which cannot be flattened into "
                "a vector beside the other keys"
            )
    flat = gym.spaces.flatten_space(chosen)
    return gym.wrappers.TransformObservation(
        env, lambda o: gym.spaces.flatten(chosen, {k: o[k] for k in keys}).astype(flat.dtype), flat
    )


def wrapper(spec: str):
    """The wrapper of ``module:Class`` or ``module:Class(key=value, ...)`` (literal values): a callable that
    takes an env and returns it wrapped; or an error naming ``spec``."""
    import ast
    import importlib

    module, colon, rest = spec.partition(":")
    name, paren, args = rest.partition("(")
    if not colon or not module or not name.strip().isidentifier():
        raise UserError(f"env.wrappers: {spec!r} is not 'module:Class' or 'module:Class(key=value, ...)'")
    kwargs = {}
    if paren:
        try:
            call = ast.parse(f"f({args}", mode="eval").body
            if call.args:
                raise ValueError("positional arguments")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except (SyntaxError, ValueError) as e:
            raise UserError(f"env.wrappers: {spec!r}: arguments must be key=literal ({e})") from None
    try:
        cls = getattr(importlib.import_module(module), name.strip())
    except (ImportError, AttributeError) as e:
        raise UserError(f"env.wrappers: cannot import {spec!r} ({e})") from None
    if not callable(cls):
        raise UserError(f"env.wrappers: {spec!r} is not callable")
    return functools.partial(cls, **kwargs) if kwargs else cls


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
        mlp_for_vectors(cfg, _spaces(cfg)[0])

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

        e = cfg.env
        env = gym.make(e.env_id.rpartition(":")[2], render_mode="rgb_array", **_options(cfg, make=True))
        return adapt(env, e.env_id, tuple(e.wrappers), tuple(e.obs_keys))

    def describe(self, cfg: TrainConfig, step: int) -> str:
        return (
            f"{cfg.algo} + {cfg.model} on {cfg.env.env_id}, {step:,} steps. The env has no levels and no notion "
            "of success: both rows are fresh episodes (other seeds); read the returns."
        )

    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        obs, act = _spaces(cfg)
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


def _options(cfg: TrainConfig, make: bool = False) -> dict[str, Any]:
    """What the env is made with besides its id: the run's time limit, if it sets one; its wrappers and the keys
    of a Dict observation, if any (not with ``make``: what ``gym.make`` takes)."""
    e = cfg.env
    options = {"max_episode_steps": e.max_episode_steps} if e.max_episode_steps else {}
    if make:
        return options
    return (
        options
        | ({"wrappers": list(e.wrappers)} if e.wrappers else {})
        | ({"obs_keys": list(e.obs_keys)} if e.obs_keys else {})
    )


def _spaces(cfg: TrainConfig) -> tuple:
    """The observation and action spaces training sees (:func:`check_gym_env`)."""
    return check_gym_env(cfg.env.env_id, tuple(cfg.env.wrappers), tuple(cfg.env.obs_keys))


def _vector_env(env_id: str, num_envs: int, seed: int, options: dict[str, Any]):
    """``num_envs`` games of a Gymnasium id (``module:id`` imports the module first) in a sync vector env with
    same-step autoreset, each game adapted (:func:`adapt`), reset with game i seeded ``seed + i``."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    options = dict(options)
    wrappers, obs_keys = tuple(options.pop("wrappers", ())), tuple(options.pop("obs_keys", ()))
    check_gym_env(env_id, wrappers, obs_keys)
    envs = gym.make_vec(
        env_id.rpartition(":")[2],
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        wrappers=[functools.partial(adapt, env_id=env_id, wrappers=wrappers, obs_keys=obs_keys)],
        **options,
    )
    envs.reset(seed=seed)
    return envs
