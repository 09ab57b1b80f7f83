"""Keyboard play in a pygame window: arrows move (or turn / go forward), R resets, Esc or Q quits.

``--env arena --mode ctf|tag|combat``: you are ``red_0`` among scripted teammates and opponents; each key
press is one step of the game (space waits, A attacks in ``combat``).

You act as any policy does, through the :class:`~mazearena.actor.Actor` contract: :class:`Keyboard` answers
``act(obs, state, alive)`` with the move of the key you pressed.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np
import torch

from mazearena import MAZE_IDS
from mazearena.actor import Actor, State
from mazearena.checks import UserError, check_screen, enum_value
from mazearena.envs.engine.maze import ActionSet


@dataclass
class PlayConfig:
    """Play a maze yourself."""

    env: str = "mazearena/Maze-v0"
    """A maze id, or ``arena`` for the team arenas."""
    mode: str = "ctf"
    """``arena`` only: ``tag`` (you chase), ``ctf`` or ``combat``."""
    team_size: int = 3
    """``arena`` only: agents per team, you included."""
    size: int = 11
    """Maze side in cells (odd, 5 to 127)."""
    layout: str = ""
    """Play a drawn maze instead of generated ones: a text map's file, or a folder of them (each episode plays one
    drawn from it)."""
    actions: Literal["cardinal", "turn"] = "cardinal"
    """``cardinal``: arrows move. ``turn``: left/right arrows turn, up goes forward."""
    seed: int = 0
    """Seed of the first episode; R starts the next one."""
    tile: int = 40
    """Pixels per cell on screen."""
    fps: float = 30.0
    """Frame-rate cap."""
    keys: tuple[str, ...] = ()
    """Key presses to replay before handing over to the keyboard (names such as ``up``, ``r``, ``escape``)."""
    record: Path | None = None
    """Write the session (a frame per move or reset) to this .gif or .mp4."""
    max_frames: int = 0
    """Quit after this many frames (0 = play until the window is closed)."""

    def __post_init__(self) -> None:
        if self.env not in (*MAZE_IDS, "arena"):
            raise UserError(f"env must be one of {', '.join(MAZE_IDS)}, arena; got {self.env!r}")
        if self.layout:
            if self.env == "arena":
                raise UserError("layout is for mazes, not env 'arena'")
            from mazearena.envs.engine.textmap import read_layouts

            try:
                read_layouts(self.layout, "layout")
            except ValueError as e:
                raise UserError(str(e)) from None
        if self.mode not in ("tag", "ctf", "combat"):
            raise UserError(f"mode must be one of tag, ctf, combat; got {self.mode!r}")
        if not 1 <= self.team_size <= 8:
            raise UserError(f"team_size must be in [1, 8], got {self.team_size}")
        check_screen(self.tile, self.fps, self.record, window=True)
        enum_value(ActionSet, self.actions, "actions")
        headless = os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen")
        if headless and not self.max_frames and not {"escape", "q"} & set(self.keys):
            raise UserError(
                f"SDL_VIDEODRIVER={os.environ['SDL_VIDEODRIVER']}: there is no window to close, so play would run "
                "forever; pass --max-frames N (or end --keys with escape)"
            )


@dataclass
class PlayResult:
    frames: int = 0
    steps: int = 0
    episodes: list[dict] = field(default_factory=list)


class Keyboard(Actor):
    """You, as an :class:`~mazearena.actor.Actor`: the move of the key pressed last (:meth:`press`), for the one
    game on screen. It reads no observation: you see the window."""

    def __init__(self) -> None:
        self.pressed: int | None = None

    def press(self, action: int) -> None:
        """A key bound to ``action`` was pressed: the next :meth:`act` plays it."""
        self.pressed = action

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        if self.pressed is None:
            raise RuntimeError("Keyboard.act before a key was pressed")
        action, self.pressed = self.pressed, None
        return torch.tensor([action]), state


class _Game(ABC):
    """What the play loop needs of a game: a frame, a title, key bindings, and a step of your actions."""

    def __init__(self) -> None:
        self.result, self.ep_return, self.done = PlayResult(), 0.0, False

    @abstractmethod
    def frame(self) -> np.ndarray: ...

    @abstractmethod
    def title(self) -> str: ...

    @abstractmethod
    def bindings(self, pg) -> dict[int, int]: ...

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def step(self, actions: torch.Tensor) -> None:
        """One step of the game, your agent playing ``actions[0]`` (a :class:`Keyboard`'s)."""

    @abstractmethod
    def close(self) -> None: ...


class _MazeGame(_Game):
    def __init__(self, cfg: PlayConfig) -> None:
        super().__init__()
        from mazearena.envs.maze import draw_game

        self.cfg, self._draw = cfg, draw_game
        drawn = {"layout": cfg.layout} if cfg.layout else {}
        self.env = gym.make(cfg.env, size=cfg.size, actions=cfg.actions, max_steps=0, **drawn)
        self.env.reset(seed=cfg.seed)

    def frame(self):
        return self._draw(self.env.unwrapped.engine, 0, tile=self.cfg.tile)

    def title(self) -> str:
        solved = self.done and self.result.episodes[-1]["success"]
        status = (
            "solved! press an arrow for the next maze"
            if solved
            else ("game over: press an arrow" if self.done else "arrows move, R resets, Esc quits")
        )
        level = int(self.env.unwrapped.engine.level_ids[0])
        return f"mazearena  level {level}  return {self.ep_return:.2f}  {status}"

    def bindings(self, pg) -> dict[int, int]:
        if ActionSet(self.cfg.actions) is ActionSet.CARDINAL:
            return {pg.K_UP: 0, pg.K_RIGHT: 1, pg.K_DOWN: 2, pg.K_LEFT: 3}
        return {pg.K_LEFT: 0, pg.K_RIGHT: 1, pg.K_UP: 2}

    def reset(self) -> None:
        self.env.reset()
        self.ep_return, self.done = 0.0, False

    def step(self, actions: torch.Tensor) -> None:
        _, reward, terminated, truncated, info = self.env.step(int(actions[0]))
        self.ep_return += reward
        if terminated or truncated:
            self.done = True
            self.result.episodes.append({"return": self.ep_return, "success": info["is_success"]})

    def close(self) -> None:
        self.env.close()


class _ArenaGame(_Game):
    def __init__(self, cfg: PlayConfig) -> None:
        super().__init__()
        from mazearena.envs.arena import ArenaParallelEnv
        from mazearena.envs.render import render_arena

        self.cfg, self._draw = cfg, render_arena
        self.env = ArenaParallelEnv(scenario=arena_scenario(cfg.mode, cfg.team_size, max(cfg.size, 13)))
        self.env.reset(seed=cfg.seed)

    def frame(self):
        return self._draw(self.env.engine, 0, tile=self.cfg.tile)

    def title(self) -> str:
        red, blue = self.env.engine.score[0].tolist()
        status = "game over: press a key" if self.done else "arrows move, space waits, R resets, Esc quits"
        score = f"score {red}:{blue}  " if self.cfg.mode == "ctf" else ""
        return f"mazearena {self.cfg.mode}  {score}return {self.ep_return:.2f}  {status}"

    def bindings(self, pg) -> dict[int, int]:
        keys = {pg.K_SPACE: 0, pg.K_UP: 1, pg.K_RIGHT: 2, pg.K_DOWN: 3, pg.K_LEFT: 4}
        return keys | ({pg.K_a: 5} if self.cfg.mode == "combat" else {})

    def reset(self) -> None:
        self.env.reset()
        self.ep_return, self.done = 0.0, False

    def step(self, actions: torch.Tensor) -> None:
        _, rewards, terms, truncs, _ = self.env.step({"red_0": int(actions[0])})
        self.ep_return += rewards["red_0"]
        if terms["red_0"] or truncs["red_0"]:
            self.done = True
            self.result.episodes.append({"return": self.ep_return, "score": self.env.engine.score[0].tolist()})

    def close(self) -> None:
        self.env.close()


def _post_keys(window, names: tuple[str, ...]) -> None:
    pg = window._pg
    for name in names:
        try:
            code = pg.key.key_code(name)
        except ValueError:
            window.close()
            raise UserError(f"unknown key name {name!r} in keys (try 'up', 'left', 'r', 'escape')") from None
        pg.event.post(pg.event.Event(pg.KEYDOWN, key=code))


def _finish(cfg: PlayConfig, recorded: list) -> None:
    if cfg.record is not None:
        from mazearena.training.video import write_video

        write_video(recorded, cfg.record, fps=min(cfg.fps, 15))


# NPC company for a human red_0: (teammates, opponents) by mode.
_ARENA_COMPANY = {
    "tag": (("chase", 0.2), ("flee", 0.2)),
    "ctf": (("guard", 0.2), ("flag_runner", 0.3)),
    "combat": (("chase", 0.3), ("chase", 0.3)),
}


def arena_scenario(mode: str, team_size: int, size: int):
    """The scenario a human plays: red_0 is the player, everyone else a scripted NPC."""
    from mazearena.envs.npcs import NpcSpec
    from mazearena.envs.scenarios import Scenario

    (ally, ally_eps), (foe, foe_eps) = _ARENA_COMPANY[mode]
    npcs = {f"red_{i}": NpcSpec(ally, epsilon=ally_eps) for i in range(1, team_size)}
    npcs |= {f"blue_{i}": NpcSpec(foe, epsilon=foe_eps) for i in range(team_size)}
    config = {"mode": mode, "red": team_size, "blue": team_size, "size": size, "max_cycles": 10**6}
    return Scenario(f"play_{mode}", "You are red_0.", config, npcs)


def play(cfg: PlayConfig) -> PlayResult:
    """Run the play loop until the window closes, Esc/Q is pressed or ``max_frames`` pass."""
    from mazearena.envs.render import Window

    game = _ArenaGame(cfg) if cfg.env == "arena" else _MazeGame(cfg)
    frame = game.frame()
    window = Window("mazearena", (frame.shape[1], frame.shape[0]), fps=cfg.fps)
    pg = window._pg
    bindings, you = game.bindings(pg), Keyboard()
    recorded = [frame]
    try:
        _post_keys(window, cfg.keys)
        while not window.closed:
            for event in window.events():
                if event.key in (pg.K_ESCAPE, pg.K_q):
                    window.close()
                    break
                if event.key == pg.K_r or (game.done and event.key in bindings):
                    game.reset()
                elif event.key in bindings and not game.done:
                    you.press(bindings[event.key])
                    game.step(you.act(None, None)[0])
                    game.result.steps += 1
                else:
                    continue
                recorded.append(game.frame())
            if window.closed:
                break
            window.set_title(game.title())
            window.show(game.frame())
            game.result.frames += 1
            if cfg.max_frames and game.result.frames >= cfg.max_frames:
                break
    finally:
        window.close()
        game.close()
    _finish(cfg, recorded)
    return game.result
