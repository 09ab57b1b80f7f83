"""Drawing games: frames of whole mazes and arenas in numpy (from the engine's sprite atlas), and a pygame window.

pygame is imported only when a window is opened, so importing mazearena never initialises a display.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from mazearena.checks import require
from mazearena.envs.engine.arena import Mode
from mazearena.envs.engine.cells import Cell
from mazearena.envs.engine.grid import HEADING_DELTAS
from mazearena.envs.engine.sprites import agent_tile, agent_tiles, tile_atlas

FOV_TINT = np.array([255, 244, 214], dtype=np.float32)


def draw(tiles: torch.Tensor | np.ndarray, tile: int) -> np.ndarray:
    """Draw an [h, w] array of atlas rows as an RGB image of [h*tile, w*tile, 3]."""
    ids = torch.as_tensor(np.asarray(tiles), dtype=torch.long)
    h, w = ids.shape
    img = tile_atlas(tile)[ids]  # [h, w, t, t, 3]
    return img.permute(0, 2, 1, 3, 4).reshape(h * tile, w * tile, 3).numpy()


def render_frame(
    grid: np.ndarray,
    pos: tuple[int, int],
    heading: int,
    has_key: bool,
    view_cells: np.ndarray | None = None,
    tile: int = 32,
) -> np.ndarray:
    """One game as an RGB frame: the grid, the agent, and its field of view (``view_cells``) tinted."""
    tiles = np.asarray(grid, dtype=np.int64).copy()
    y, x = pos
    tiles[y, x] = agent_tile() + heading + 4 * int(has_key)
    frame = draw(tiles, tile).astype(np.float32)
    if view_cells is not None:
        mask = np.kron(view_cells.astype(np.float32), np.ones((tile, tile), dtype=np.float32))[..., None]
        frame = frame * (1 - 0.22 * mask) + FOV_TINT * 0.22 * mask
    return frame.round().astype(np.uint8)


SALIENCY_COLOUR = np.array([235, 40, 40], dtype=np.float32)
ATTENTION_COLOUR = np.array([40, 120, 255], dtype=np.float32)


def heat_overlay(frame: np.ndarray, cells: np.ndarray, tile: int, colour=SALIENCY_COLOUR, strength: float = 0.55):
    """``frame`` with each cell tinted towards ``colour`` in proportion to ``cells [h, w]`` (scaled so that the
    largest value gets ``strength``): where a policy looks, drawn over the game."""
    top = float(np.max(cells)) if np.size(cells) else 0.0
    if top <= 0:
        return frame
    alpha = np.kron(np.asarray(cells, np.float32) / top * strength, np.ones((tile, tile), np.float32))[..., None]
    return (frame.astype(np.float32) * (1 - alpha) + np.asarray(colour, np.float32) * alpha).round().astype(np.uint8)


def dots(frame: np.ndarray, cells: np.ndarray, tile: int, colour=ATTENTION_COLOUR) -> np.ndarray:
    """``frame`` with a square in each cell whose side grows with ``cells [h, w]`` (largest: half the tile)."""
    top = float(np.max(cells)) if np.size(cells) else 0.0
    out = frame.copy()
    if top <= 0:
        return out
    for y, x in zip(*np.nonzero(cells), strict=True):
        half = int(round(tile / 4 * float(cells[y, x]) / top))
        if half:
            c = tile // 2
            out[y * tile + c - half : y * tile + c + half, x * tile + c - half : x * tile + c + half] = colour
    return out


def wrap_lines(lines: list[str], fits) -> list[str]:
    """``lines`` broken at spaces so that each piece ``fits(text)`` (a panel's width; a word too long alone stays
    whole): nothing is cut off at the panel's edge."""
    out = []
    for line in lines:
        words, current = line.split(" "), ""
        for word in words:
            joined = f"{current} {word}" if current else word
            if current and not fits(joined):
                out.append(current)
                current = "  " + word  # a continued line, indented
            else:
                current = joined
        out.append(current)
    return out


def panel_image(lines: list[str], width: int, height: int) -> np.ndarray:
    """A side panel ``[height, width, 3]`` with ``lines`` of text, as the window draws it (for recordings); long
    lines wrap within it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (24, 24, 28))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(wrap_lines(lines, lambda text: draw.textlength(text) <= width - 20)):
        draw.text((10, 10 + 15 * i), line, fill=(230, 230, 230))
    return np.asarray(image)


TEAM_COLOURS = np.array([[214, 58, 58], [52, 101, 214]], dtype=np.float32)  # red, blue


def _disc(tile: int, radius: float) -> np.ndarray:
    c = (tile - 1) / 2
    yy, xx = np.mgrid[:tile, :tile]
    return (yy - c) ** 2 + (xx - c) ** 2 <= radius**2


def _paint(frame: np.ndarray, y: int, x: int, tile: int, mask: np.ndarray, colour) -> None:
    cell = frame[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile]
    cell[mask] = colour


def render_arena(engine, i: int, tile: int = 24) -> np.ndarray:
    """Game ``i`` of an :class:`~mazearena.envs.engine.arena.ArenaEngine` as an RGB frame: team colours, bases,
    flags, agents with their heading, health bars (combat), flags being carried, chasers ringed (tag)."""
    cfg = engine.config
    walls = engine.walls[i].cpu().numpy()
    grid = np.where(walls, int(Cell.WALL), int(Cell.FLOOR))
    frame = draw(grid, tile).astype(np.float32)
    bases = engine.bases[i].cpu().numpy()
    for team, (y, x) in enumerate(bases):  # bases: floor tinted in the team colour
        cell = frame[y * tile : (y + 1) * tile, x * tile : (x + 1) * tile]
        cell[:] = cell * 0.7 + TEAM_COLOURS[team] * 0.3
    yy, xx = np.mgrid[:tile, :tile]
    top, h, px = tile // 8, tile * 5 // 8, tile // 4
    pole = (xx >= px - 1) & (xx <= px) & (yy >= top) & (yy < tile - tile // 8)
    reach = (tile * 0.6) * (1 - np.abs(yy - top - h / 2) / (h / 2))  # the pennant narrows away from its middle
    pennant = (yy >= top) & (yy <= top + h) & (xx > px) & (xx <= px + reach)
    outline = (
        ~pennant
        & (np.abs(yy - top - h / 2) <= h / 2 + 1)
        & (xx > px)
        & (xx <= px + 1 + (tile * 0.6) * (1 - (np.abs(yy - top - h / 2) - 1) / (h / 2)))
    )
    pos = engine.pos[i].cpu().numpy()
    alive = engine.alive[i].cpu().numpy()
    carrying = engine.carrying[i].cpu().numpy()
    team_of = engine.team.cpu().numpy()
    if cfg.mode is Mode.CTF:
        for team, (y, x) in enumerate(bases):
            home = not any(carrying[k] and team_of[k] != team and alive[k] for k in range(len(pos)))
            if home:
                _paint(frame, y, x, tile, pole | outline, (245, 245, 245))
                _paint(frame, y, x, tile, pennant, TEAM_COLOURS[team])
    body, ring = _disc(tile, tile * 0.36), _disc(tile, tile * 0.44) & ~_disc(tile, tile * 0.36)
    heading = engine.heading[i].cpu().numpy()
    health = engine.health[i].cpu().numpy()
    c = tile // 2
    for k in np.flatnonzero(alive):
        y, x = pos[k]
        team = team_of[k]
        if cfg.mode is Mode.TAG and team == engine.chaser_team:
            _paint(frame, y, x, tile, ring, (250, 210, 60))
        _paint(frame, y, x, tile, body, TEAM_COLOURS[team])
        dy, dx = HEADING_DELTAS[int(heading[k])].tolist()  # a white dot toward the heading
        eye = (yy - (c + dy * tile * 0.22)) ** 2 + (xx - (c + dx * tile * 0.22)) ** 2 <= (tile * 0.09) ** 2
        _paint(frame, y, x, tile, eye, (255, 255, 255))
        if carrying[k]:
            _paint(frame, y, x, tile, pole | outline, (245, 245, 245))
            _paint(frame, y, x, tile, pennant, TEAM_COLOURS[1 - team])
        if cfg.mode is Mode.COMBAT:
            filled = int(round(tile * 0.8 * max(int(health[k]), 0) / cfg.max_health))
            bar = (yy < max(2, tile // 10)) & (xx >= tile // 10) & (xx < tile // 10 + int(tile * 0.8))
            _paint(frame, y, x, tile, bar, (40, 40, 40))
            _paint(frame, y, x, tile, bar & (xx < tile // 10 + filled), (80, 220, 80))
    return frame.round().clip(0, 255).astype(np.uint8)


class Window:
    """A pygame window showing RGB frames; pygame is imported here, not at package import."""

    def __init__(self, title: str, size: tuple[int, int], fps: float = 10.0) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        pygame = require("pygame")

        self._pg = pygame
        pygame.display.init()  # display only: initialising audio is slow and noisy on machines without sound
        pygame.display.set_caption(title)
        self.screen = pygame.display.set_mode(size)
        self.clock = pygame.time.Clock()
        self.fps = fps
        self.closed = False
        self._font = None  # for side panels, loaded on first use

    def show(self, frame: np.ndarray, panel: list[str] | None = None, panel_width: int = 0) -> None:
        """Blit a frame ([h, w, 3] uint8), with ``panel`` (lines of text) in a side panel ``panel_width`` pixels
        wide on its right, and hold the frame rate; call :meth:`events` to pump the queue."""
        if self.closed:
            return
        pg = self._pg
        surface = pg.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        width, height = self.screen.get_size()
        if not panel_width and surface.get_size() != (width, height):
            surface = pg.transform.scale(surface, (width, height))
        self.screen.fill((24, 24, 28))
        self.screen.blit(surface, (0, 0))
        if panel:
            if self._font is None:
                pg.font.init()
                self._font = pg.font.Font(None, 22)
            fits = lambda text: self._font.size(text)[0] <= panel_width - 20  # noqa: E731
            for i, line in enumerate(wrap_lines(panel, fits)):
                text = self._font.render(line, True, (230, 230, 230))
                self.screen.blit(text, (width - panel_width + 10, 10 + 22 * i))
        pg.display.flip()
        if self.fps > 0:
            self.clock.tick(self.fps)

    def events(self) -> list:
        """Pump the event queue; returns the key-down events and notes a window close."""
        if self.closed:
            return []
        keys = []
        for event in self._pg.event.get():
            if event.type == self._pg.QUIT:
                self.close()
                break
            if event.type == self._pg.KEYDOWN:
                keys.append(event)
        return keys

    def set_title(self, title: str) -> None:
        if not self.closed:
            self._pg.display.set_caption(title)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pg.display.quit()


class WindowRender:
    """``render()`` and ``close()`` for an env that draws frames with :meth:`frame`: ``rgb_array`` returns the
    frame, ``human`` shows it in a :class:`Window` opened on first use."""

    render_mode: str | None
    metadata: dict
    window_title = "mazearena"
    _window: Window | None = None

    def frame(self) -> np.ndarray:
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            import gymnasium as gym

            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        frame = self.frame()
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = Window(self.window_title, (frame.shape[1], frame.shape[0]), fps=self.metadata["render_fps"])
        self._window.show(frame)
        self._window.events()
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


def level_picture(level, tile: int = 12) -> np.ndarray:
    """A text map's level as the env draws it, the agent at its start, every goal shown."""
    tiles = level.grid.long().clone()
    tiles[level.start] = agent_tiles(torch.tensor(int(level.facing)), torch.tensor(0))
    return draw(tiles, tile)
