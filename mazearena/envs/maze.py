"""``mazearena/Maze*-v0``: a single maze game as a ``gymnasium.Env``, a batch-of-one view over the engine.

Observations are numpy arrays, as the Gymnasium API expects; the rules live in :mod:`engine.maze`.
"""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mazearena.checks import check_keywords, check_seed
from mazearena.envs.engine.levels import as_level_ids
from mazearena.envs.engine.maze import ActionSet, MazeConfig, MazeEngine, MazeObsMode, ScalarMaze
from mazearena.envs.render import WindowRender


def make_config(kwargs: dict[str, Any]) -> MazeConfig:
    """A :class:`MazeConfig` from keyword arguments, naming any unknown argument. ``layout`` (one text map: its
    text or file, or a folder of maps) is ``layouts`` with one entry."""
    if "layout" in kwargs:
        kwargs = dict(kwargs)
        if kwargs.get("layouts"):
            raise ValueError("pass layout (one map) or layouts (a level set), not both")
        kwargs["layouts"] = (kwargs.pop("layout"),)
    check_keywords("maze env", kwargs, MazeConfig.field_names())
    return MazeConfig(**kwargs)


class OneHotPlanes(gym.spaces.MultiBinary):
    """The one-hot planes (int8 0/1, ``[C, V, V]`` or channels last): a ``MultiBinary`` to every client (not an
    image, so Stable-Baselines3's checker and CNN defaults do not take it for one, which they would a 3-D ``Box``),
    of its own class so that TorchRL, whose conversion of ``MultiBinary`` reads only one dimension, gets the
    conversion :func:`register_torchrl` gives it: a ``Binary`` spec of the planes' shape."""


_TORCHRL = []  # the TorchRL Gym layer that knows OneHotPlanes, once told


def register_torchrl() -> None:
    """Teach TorchRL :class:`OneHotPlanes` where TorchRL's Gym layer is loaded (``GymEnv("mazearena/Maze-v0")``
    and ``GymWrapper`` convert the space after making the env, which calls this); nothing to do without it."""
    gym_layer = sys.modules.get("torchrl.envs.libs.gym")
    register = getattr(gym_layer, "register_gym_spec_conversion", None)
    if register is None or gym_layer in _TORCHRL:
        return

    @register(OneHotPlanes)
    def _planes(spec, dtype=None, device=None, **_):
        from torchrl.data import Binary

        return Binary(shape=spec.shape, device=device, dtype=torch.int8)

    _TORCHRL.append(gym_layer)


def observation_space(config: MazeConfig) -> gym.spaces.Box | gym.spaces.MultiBinary:
    """``rgb`` is an image (a uint8 ``Box`` of 0..255); the one-hot planes are :class:`OneHotPlanes`."""
    if config.obs_mode is MazeObsMode.RGB:
        return gym.spaces.Box(0, 255, config.obs_shape, dtype=np.uint8)
    register_torchrl()
    return OneHotPlanes(config.obs_shape)


def as_declared(obs: Any, config: MazeConfig) -> Any:
    """An engine observation (numpy or torch, uint8) in the dtype its space declares: the 0/1 planes are viewed
    as int8, without a copy (same bytes, same values)."""
    if config.obs_mode is MazeObsMode.RGB:
        return obs
    return obs.view(torch.int8) if isinstance(obs, torch.Tensor) else obs.view(np.int8)


def view_mask(config: MazeConfig, pos: tuple[int, int], heading: int) -> np.ndarray:
    """[size, size] bool: the cells the agent's observation covers."""
    s = config.size
    mask = np.zeros((s, s), dtype=bool)
    if config.obs_mode is MazeObsMode.FULL:
        mask[:] = True
        return mask
    p = config.view_size // 2
    y, x = pos
    mask[max(0, y - p) : y + p + 1, max(0, x - p) : x + p + 1] = True
    return mask


def draw_game(engine: MazeEngine, i: int, tile: int = 32) -> np.ndarray:
    """RGB frame of game ``i`` of an engine, its field of view highlighted."""
    from mazearena.envs.render import render_frame

    pos = (int(engine.pos[i, 0]), int(engine.pos[i, 1]))
    heading = int(engine.heading[i])
    return render_frame(
        engine.layout_grid(i).cpu().numpy(),
        pos,
        heading,
        bool(engine.has_key[i]),
        view_mask(engine.config, pos, heading),
        tile=tile,
    )


def check_action(action: Any, num_actions: int) -> int:
    """An action as a Python int, or a clear error naming it."""
    if isinstance(action, (np.ndarray, torch.Tensor)):
        if action.ndim != 0 and action.shape != (1,):
            raise ValueError(f"action must be a scalar, got an array of shape {tuple(action.shape)}")
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise TypeError(f"action must be an int in 0..{num_actions - 1}, got {action!r}")
    if not 0 <= int(action) < num_actions:
        raise ValueError(f"action {int(action)} is out of range: valid actions are 0..{num_actions - 1}")
    return int(action)


class MazeEnv(WindowRender, gym.Env):
    """One procedurally generated maze, or a drawn one (``layout=``: a text map, its file, or a folder of maps).
    Keyword arguments are the fields of :class:`MazeConfig`.

    ``reset(options={"level_id": n})`` replays level ``n`` (with a spawn drawn from the seed).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.config = make_config(kwargs)
        self.render_mode = render_mode
        self._engine = MazeEngine(1, self.config, device="cpu", autoreset=False)
        self._game = ScalarMaze(self._engine)
        self.observation_space = observation_space(self.config)
        self.action_space = gym.spaces.Discrete(self.config.num_actions)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            check_seed(seed)
            seed = int(seed)  # numpy integers too (Gymnasium's seeding takes Python ints only)
        super().reset(seed=seed)
        level_id = None
        if options:
            unknown = set(options) - {"level_id"}
            if unknown:
                raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: ['level_id']")
            level_id = as_level_ids(options["level_id"], "level_id")
        if seed is not None or not self._started:
            game_seed = int(seed) if seed is not None else int(self.np_random.integers(2**62))
            self._engine.reset(torch.tensor([game_seed]), level_ids=level_id)
        else:
            self._engine.reset_next(torch.tensor([0]), level_ids=level_id)
        self._game.reset()
        self._started = True
        self._level_id = int(self._engine.level_ids[0])
        if self.render_mode == "human":
            self.render()
        return self.observe(), {"level_id": self._level_id}

    def step(self, action: Any):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = check_action(action, self.config.num_actions)
        reward, terminated, truncated, success = self._game.step(a)
        if self.render_mode == "human":
            self.render()
        return (
            self.observe(),
            float(reward),
            terminated,
            truncated,
            {"is_success": success, "level_id": self._level_id},
        )

    def observe(self) -> np.ndarray:
        """The game's current observation (as :attr:`observation_space` declares it)."""
        return as_declared(self._game.observe(), self.config)

    @property
    def engine(self) -> MazeEngine:
        """The one-game engine (for renderers, solvers and tools): the game's state lives in it."""
        return self._engine

    def frame(self) -> np.ndarray:
        return draw_game(self.engine, 0)

    @property
    def action_meanings(self) -> list[str]:
        if self.config.actions is ActionSet.CARDINAL:
            return ["north", "east", "south", "west"]
        return ["left", "right", "forward"]
