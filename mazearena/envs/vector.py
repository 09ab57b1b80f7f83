"""A ``gymnasium.vector.VectorEnv`` over the maze engine: N games in one batch, tensors on the device.

Observations, rewards and flags are torch tensors on ``device``; actions may be a torch tensor or a numpy
array of shape ``[num_envs]``. Autoreset happens in the same step (``AutoresetMode.SAME_STEP``): the last
observation of an ended episode is ``info["final_obs"]`` where ``info["_final_obs"]`` is true.
Sub-env i is seeded with ``seed + i``, so it replays exactly what ``MazeEnv`` does with that seed.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mazearena.checks import check_device, check_int, check_seed
from mazearena.envs.engine.levels import as_level_ids
from mazearena.envs.engine.maze import MazeEngine
from mazearena.envs.maze import as_declared, draw_game, make_config, observation_space


def check_device_and_seed(device: str | torch.device, seed: int | None, num_envs: int = 1) -> torch.device:
    """The torch device a vector env runs on, or an error naming a bad device or seed (game i is seeded
    ``seed + i``, so every one of them must be a valid seed)."""
    device = check_device(device)
    if seed is not None:
        check_seed(seed, num_envs)
    return device


def actions_tensor(actions) -> torch.Tensor:
    """A batch of actions as a tensor: numpy integer arrays in any byte order (big-endian arrays come from some
    files) become tensors; anything else is left to the validation, which names it."""
    if not isinstance(actions, np.ndarray):
        return actions  # a tensor, or something the validation names
    if not np.issubdtype(actions.dtype, np.integer):
        raise TypeError(f"actions must be integers, got dtype {actions.dtype}")
    if not actions.dtype.isnative:
        actions = actions.astype(actions.dtype.newbyteorder("="))
    return torch.from_numpy(actions)


def level_ids_option(options: dict[str, Any] | None, num_envs: int) -> torch.Tensor | None:
    """The ``level_ids`` reset option (one id per game) if given, or an error naming what is wrong."""
    if not options:
        return None
    unknown = set(options) - {"level_ids"}
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: ['level_ids']")
    level_ids = as_level_ids(options["level_ids"])
    if level_ids.shape != (num_envs,):
        raise ValueError(f"options['level_ids'] must hold {num_envs} ids, got {level_ids.numel()}")
    return level_ids


STEP_INFO = ("is_success", "episode_length", "level_id")
"""Per-game info of every step: whether the game's episode succeeded at this step, its length so far, its level."""


def with_masks(info: dict[str, Any], every_game: torch.Tensor) -> dict[str, Any]:
    """``info`` with Gymnasium's ``_key`` mask beside each per-game entry: ``every_game`` (all true, made once
    per env and shared, since every game has these entries at every step; read it, do not write it)."""
    for key in STEP_INFO:
        if key in info:
            info[f"_{key}"] = every_game
    return info


class MazeVectorEnv(VectorEnv):
    """``num_envs`` maze games on ``device``. Keyword arguments are the fields of ``MazeConfig``.

    ``backend="auto"`` steps CPU games with compiled kernels and GPU games with torch ops; ``"torch"``
    forces torch ops on the CPU too (same results, slower).
    """

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.SAME_STEP, "render_fps": 10}

    def __init__(
        self,
        num_envs: int,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        check_actions: bool = True,
        backend: str = "auto",
        _autoreset: bool = True,
        **kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        device = check_device_and_seed(device, seed, num_envs)
        if max_episode_steps is not None:  # Gymnasium's name for the maze option max_steps
            check_int("max_episode_steps", max_episode_steps, 0)
            if kwargs.get("max_steps") not in (None, max_episode_steps):
                raise ValueError(f"max_episode_steps={max_episode_steps} and max_steps={kwargs['max_steps']}: pass one")
            kwargs["max_steps"] = max_episode_steps
        self.config = make_config(kwargs)
        self.engine = MazeEngine(num_envs, self.config, device, autoreset=_autoreset, backend=backend)
        self.num_envs = num_envs
        self.device = device
        self.render_mode = render_mode
        self.check_actions = check_actions
        self.single_observation_space = observation_space(self.config)
        self.single_action_space = gym.spaces.Discrete(self.config.num_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._default_seed = seed
        self._started = False
        self._every_game = torch.ones(num_envs, dtype=torch.bool, device=device)  # the info masks

    @property
    def autoreset_mode(self) -> AutoresetMode:
        """How ended games restart (as Gymnasium's own vector envs say it; TorchRL and others read it)."""
        return self.metadata["autoreset_mode"]

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every game. ``seed`` (int) seeds game i with ``seed + i``; a list gives each game its seed.

        ``options={"level_ids": [...]}`` plays the given level ids (one per game).
        """
        if isinstance(seed, (int, np.integer)):
            check_seed(seed, self.num_envs)
            seed = int(seed)
        elif seed is not None:
            for s in list(seed):
                check_seed(s)
        super().reset(seed=seed if isinstance(seed, (int, np.integer)) else None)
        if seed is None:
            seed = self._default_seed if not self._started and self._default_seed is not None else None
        if seed is None:
            seeds = torch.as_tensor(self.np_random.integers(2**62, size=self.num_envs))
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = int(seed) + torch.arange(self.num_envs)
        else:
            seeds = torch.as_tensor(list(seed), dtype=torch.long)
            if seeds.shape != (self.num_envs,):
                raise ValueError(f"seed must be an int or a list of {self.num_envs} ints, got {len(seeds)} seeds")
        level_ids = level_ids_option(options, self.num_envs)
        obs = self.engine.reset(seeds, level_ids=level_ids)
        self._started = True
        return as_declared(obs, self.config), self._reset_info()

    def _reset_info(self) -> dict[str, Any]:
        return with_masks({"level_id": self.engine.level_ids.clone()}, self._every_game)

    def step(self, actions: torch.Tensor | np.ndarray):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = actions_tensor(actions)
        if self.check_actions:
            actions = self.engine.validate_actions(actions)
        else:
            actions = actions.to(self.device, torch.long)
        obs, reward, terminated, truncated, info = self.engine.step(actions)
        if "final_obs" in info:
            info["final_obs"] = as_declared(info["final_obs"], self.config)
        return as_declared(obs, self.config), reward, terminated, truncated, with_masks(info, self._every_game)

    def observe(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The games' current observations (``rows`` of them), as :attr:`single_observation_space` declares."""
        return as_declared(self.engine.observe(rows), self.config)

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        return tuple(draw_game(self.engine, i) for i in range(self.num_envs))


class GymMazeVectorEnv(MazeVectorEnv):
    """What ``gymnasium.make_vec`` returns for the maze ids: the batched engine behind Gymnasium's standard vector
    API, so that Gymnasium's vector wrappers apply. Numpy arrays in and out (CPU), ``AutoresetMode.NEXT_STEP`` by
    default (``autoreset_mode="SameStep"`` or ``"Disabled"`` for the others; then ``reset(options={"reset_mask":
    mask})`` restarts the masked games), infos with ``_key`` masks. Sub-env i plays what ``MazeEnv`` does with
    ``seed + i``, as the torch version (:func:`mazearena.make_vec`: tensors on a device, same-step autoreset)
    does.
    """

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP, "render_fps": 10}

    def __init__(
        self,
        num_envs: int,
        seed: int | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        backend: str = "auto",
        **kwargs: Any,
    ) -> None:
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            valid = ", ".join(repr(m.value) for m in AutoresetMode)
            raise ValueError(f"autoreset_mode must be one of {valid}, got {autoreset_mode!r}") from None
        if str(kwargs.pop("device", "cpu")) != "cpu":
            raise ValueError("gymnasium.make_vec's maze env runs on the CPU (numpy); mazearena.make_vec takes a device")
        super().__init__(
            num_envs,
            "cpu",
            seed,
            max_episode_steps,
            render_mode,
            backend=backend,
            _autoreset=mode is AutoresetMode.SAME_STEP,
            **kwargs,
        )
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self._ended = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: the games that restart at the next step

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            obs, info = super().reset(seed=seed, options=options or None)
            self._ended[:] = False
            return obs.numpy(), _numpy(info)
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), got {mask!r}")
        if not self._started:
            raise RuntimeError("call reset() without a reset_mask first")
        if seed is not None or options:
            raise ValueError("reset(options={'reset_mask': ...}) starts the masked games' next episodes: no seed")
        self.engine.reset_next(torch.from_numpy(mask.nonzero()[0]))
        self._ended[mask] = False
        return self.observe().numpy(), _numpy(self._reset_info())

    def step(self, actions):
        obs, reward, terminated, truncated, info = super().step(actions_tensor(np.asarray(actions)))
        mode = self.metadata["autoreset_mode"]
        if mode is AutoresetMode.NEXT_STEP and self._ended.any():
            # the games that ended at the last step start their next episode instead of acting
            rows = torch.from_numpy(self._ended.nonzero()[0])
            self.engine.reset_next(rows)
            obs[rows] = self.observe(rows)
            reward[rows], terminated[rows], truncated[rows] = 0.0, False, False
            info["is_success"][rows], info["episode_length"][rows] = False, 0
            info["level_id"][rows] = self.engine.level_ids[rows]
        if mode is AutoresetMode.NEXT_STEP:
            self._ended = (terminated | truncated).numpy()
        elif mode is AutoresetMode.SAME_STEP:
            info["final_info"] = {k: info[k] for k in (*STEP_INFO, *(f"_{k}" for k in STEP_INFO))}
            info["_final_info"] = info["_final_obs"]
        return obs.numpy(), reward.numpy(), terminated.numpy(), truncated.numpy(), _numpy(info)


def _numpy(info: dict[str, Any]) -> dict[str, Any]:
    """An info dict (nested ones too) with its tensors as numpy arrays."""
    return {
        k: _numpy(v) if isinstance(v, dict) else v.numpy() if isinstance(v, torch.Tensor) else v
        for k, v in info.items()
    }
