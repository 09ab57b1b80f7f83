"""``mazearena watch RUN_DIR``: a trained agent plays held-out mazes (or a trained team the held-out arena
scenario) in a pygame window, or into a video.

In the window: Esc or Q quits, space pauses, the right arrow steps once while paused, + and - play faster and
slower. On mazes a side panel shows the step, the return so far, the action probabilities (Q-values for DQN)
and the value estimate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from mazearena.checks import UserError, check_screen
from mazearena.training.runs import make_actor
from mazearena.training.tasks import TaskKind


@dataclass
class WatchConfig:
    """Watch a trained agent play."""

    run: tyro.conf.Positional[Path]
    """A run folder (its checkpoints/last.pt is loaded) or a checkpoint file inside one."""
    checkpoint: str = "last"
    """Which checkpoint of the run folder: last or best."""
    episodes: int = 3
    """Episodes to play."""
    levels: str = "test"
    """Levels played: test (held-out) or train."""
    layout: str = ""
    """Mazes: play drawn mazes instead, a text map's file or a folder of them (the named set: its folder,
    ``python -c "import mazearena.mazes as m; print(m.FOLDER)"``)."""
    seed: int = 0
    """Seed of the episodes."""
    greedy: bool = False
    """Take the most likely action instead of sampling."""
    fps: float = 8.0
    """Frames per second in the window."""
    tile: int = 32
    """Pixels per cell."""
    record: Path | None = None
    """Write the episodes to this .gif or .mp4 instead of opening a window."""
    trust_code: bool = False
    """Import the code a run's config names (a backbone, env id or wrappers as ``module:Name``): only for runs
    you trust, since importing runs it; without it such a run is refused, naming what it would import."""
    explain: bool = False
    """Show what the policy reacts to: occlusion saliency over its view in red (each cell scored by how much of
    the action distribution moves when the cell reads differently), a transformer's attention as blue squares,
    and the side panel (probabilities, value) in recordings too."""

    def __post_init__(self) -> None:
        if self.checkpoint not in ("last", "best"):
            raise UserError(f"checkpoint must be 'last' or 'best', got {self.checkpoint!r}")
        if self.levels not in ("test", "train"):
            raise UserError(f"levels must be 'test' or 'train', got {self.levels!r}")
        if self.episodes < 1:
            raise UserError(f"episodes must be >= 1, got {self.episodes}")
        check_screen(self.tile, self.fps, self.record, window=self.record is None)
        if self.layout:
            from mazearena.envs.engine.textmap import read_layouts

            try:
                read_layouts(self.layout, "layout")
            except ValueError as e:
                raise UserError(str(e)) from None


def load_policy(cfg: WatchConfig):
    """The run's config and its trained policy (on the CPU)."""
    from mazearena.training.runs import load_trained

    train_cfg, _, policy, _ = load_trained(Path(cfg.run), cfg.checkpoint, trust_code=cfg.trust_code)
    return train_cfg, policy


PANEL, PANEL_HEIGHT = 250, 330
"""Size of the side panel in pixels (the window is at least this tall)."""
ACTION_NAMES = {"cardinal": ("north", "east", "south", "west"), "turn": ("left", "right", "forward")}


class Controls:
    """The window's keys: quit, pause, single step, faster, slower."""

    def __init__(self, window, on_tab=None) -> None:
        self.window, self.paused, self.on_tab = window, False, on_tab

    def poll(self) -> bool:
        """Handle the keys pressed since the last call; whether the game should advance one step now."""
        pg, step = self.window._pg, False
        for event in self.window.events():
            if event.key in (pg.K_ESCAPE, pg.K_q):
                self.window.close()
            elif event.key == pg.K_SPACE:
                self.paused = not self.paused
            elif event.key == pg.K_RIGHT and self.paused:
                step = True
            elif event.key == pg.K_TAB and self.on_tab is not None:
                self.on_tab()
            elif event.key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
                self.window.fps = min(self.window.fps * 1.5, 240.0)
            elif event.key in (pg.K_MINUS, pg.K_KP_MINUS):
                self.window.fps = max(self.window.fps / 1.5, 0.5)
        return not self.window.closed and (step or not self.paused)


def policy_lines(policy, obs, action_names: tuple[str, ...], state=None) -> list[str]:
    """What the network makes of ``obs``, for the side panel: action probabilities and the value estimate (an
    actor-critic; a recurrent one from its ``state``), or Q-values and their maximum (a Q-network)."""
    lines = []
    with torch.no_grad():
        if getattr(policy, "recurrent", False):
            out = policy.step(torch.as_tensor(obs)[None], state)[:2]
        else:
            out = policy(torch.as_tensor(obs)[None])
    if isinstance(out, tuple):
        logits, value = out
        probs = torch.softmax(logits[0].float(), -1).tolist()
        lines += ["action probabilities"] + [
            f"  {n:<8} {p:5.2f}  " + "#" * round(20 * p) for n, p in zip(action_names, probs, strict=False)
        ]
        lines += ["", f"value {float(value.reshape(-1)[0]):.3f}"]
    else:
        q = out[0].float().tolist()
        lines += ["Q-values"] + [f"  {n:<8} {v:6.3f}" for n, v in zip(action_names, q, strict=False)]
        lines += ["", f"value (max Q) {max(q):.3f}"]
    return lines


def _scores(policy, state):
    """The policy's action scores for a batch of views of game 0 (a recurrent one from game 0's ``state``)."""
    from mazearena.actor import PolicyActor, repeat_state

    actor = PolicyActor(policy)
    return lambda batch: actor.logits(batch, repeat_state(state, len(batch)))


def view_cells(config, pos: tuple[int, int], heading: int) -> tuple[np.ndarray, np.ndarray]:
    """World (y, x) of each cell of the agent's observation ``[H, W]`` each (full views: the grid itself)."""
    from mazearena.envs.engine.maze import ActionSet, MazeObsMode, _view_offsets

    if config.obs_mode is MazeObsMode.FULL:
        return np.mgrid[: config.size, : config.size]
    v = config.view_size
    offsets = _view_offsets(v)[heading if config.actions is ActionSet.TURN else 0].numpy()  # [V*V, 2]
    return (pos[0] + offsets[:, 0]).reshape(v, v), (pos[1] + offsets[:, 1]).reshape(v, v)


def explain_frame(frame: np.ndarray, policy, obs, state, engine, tile: int) -> np.ndarray:
    """``frame`` of game 0 with the policy's occlusion saliency (and a transformer's attention) drawn over the
    cells of its view."""
    from mazearena.agents.backbones import Transformer
    from mazearena.agents.explain import cls_attention, occlusion_saliency
    from mazearena.envs.render import dots, heat_overlay

    config, s = engine.config, engine.config.size
    obs = torch.as_tensor(obs)
    channels = list(engine.channels)
    saliency = occlusion_saliency(_scores(policy, state), obs, len(channels) - 3, channels.index("wall"))
    pos, heading = (int(engine.pos[0, 0]), int(engine.pos[0, 1])), int(engine.heading[0])
    ys, xs = view_cells(config, pos, heading)
    inside = (ys >= 0) & (ys < s) & (xs >= 0) & (xs < s)

    def to_world(values: np.ndarray) -> np.ndarray:
        world = np.zeros((s, s), np.float32)
        world[ys[inside], xs[inside]] = values[inside]
        return world

    frame = heat_overlay(frame, to_world(saliency.numpy()), tile)
    backbone = getattr(policy, "backbone", None)
    if isinstance(backbone, Transformer) and not backbone.entities:
        attention = cls_attention(backbone, obs[None])[0].reshape(obs.shape[1:]).numpy()
        frame = dots(frame, to_world(attention), tile)
    return frame


def controls_lines(paused: bool) -> list[str]:
    return ["", "paused: right arrow steps" if paused else "", "space pause  +/- speed  Esc quit"]


def watch(cfg: WatchConfig) -> list[dict]:
    """Play ``cfg.episodes`` episodes; returns their returns, lengths and successes. A sampling policy's actions
    follow ``cfg.seed``: the same seed replays the same episodes (the caller's torch random stream is kept)."""
    with torch.random.fork_rng(devices=[]):
        train_cfg, policy = load_policy(cfg)
        viewer = VIEWERS.get(train_cfg.task.kind)
        if viewer is None:
            raise UserError(f"watch plays mazearena's mazes and arenas, not {train_cfg.task.env_name(train_cfg)}")
        if cfg.layout and train_cfg.task.kind != "maze":
            raise UserError(f"layout is for runs trained on mazes, not on {train_cfg.task.env_name(train_cfg)}")
        torch.manual_seed(cfg.seed)
        return viewer(cfg, train_cfg, policy)


def _watch_maze(cfg: WatchConfig, train_cfg, policy) -> list[dict]:
    """The trained agent plays mazes of its training or held-out levels, the network's view in the panel."""
    import gymnasium as gym

    from mazearena.envs.maze import draw_game

    env_cfg = train_cfg.env
    kwargs = env_cfg.make_kwargs(test=cfg.levels == "test")
    if cfg.layout:  # the run's maze options, the drawn levels instead of its own
        kwargs |= {"layouts": (cfg.layout,), "max_steps": None, "num_levels": 0, "start_level": 0}
    env = gym.make(env_cfg.env_id, **kwargs)
    maze = env.unwrapped
    if cfg.explain and (maze.config.obs_mode.value == "rgb" or maze.config.obs_layout == "hwc"):
        raise UserError("--explain reads one-hot planes, channels first: this run observes pixels or channels last")
    window, controls, frames, results = None, None, [], []
    actor = make_actor(train_cfg, policy, deterministic=cfg.greedy)
    names = ACTION_NAMES[str(getattr(maze.config.actions, "value", maze.config.actions))]
    obs, _ = env.reset(seed=cfg.seed)
    try:
        for episode in range(cfg.episodes):
            ret, done, state = 0.0, False, actor.initial_state(1, "cpu")
            while not done:
                frame = draw_game(maze.engine, 0, tile=cfg.tile)
                if cfg.explain:
                    frame = explain_frame(frame, policy, obs, state, maze.engine, cfg.tile)
                if cfg.record is not None:
                    if cfg.explain:  # the side panel goes into the recording too
                        lines = [f"step {int(maze.engine.t[0])}", f"return {ret:.3f}", ""]
                        lines += policy_lines(policy, obs, names, state) + _legend(policy)
                        frame = _with_panel(frame, lines)
                    frames.append(frame)
                else:
                    if window is None:
                        from mazearena.envs.render import Window

                        size = (frame.shape[1] + PANEL, max(frame.shape[0], PANEL_HEIGHT))
                        window = Window("mazearena watch", size, fps=cfg.fps)
                        controls = Controls(window)
                    window.set_title(f"mazearena watch  episode {episode + 1}/{cfg.episodes}  return {ret:.2f}")
                    # the network's view once per game step; a pause shows the same step again
                    panel = [f"step {int(maze.engine.t[0])}", f"return {ret:.3f}", ""] + policy_lines(
                        policy, obs, names, state
                    )
                    panel += _legend(policy) if cfg.explain else []
                    window.show(frame, panel + controls_lines(controls.paused), PANEL)
                    while not controls.poll():
                        if window.closed:
                            return results
                        window.show(frame, panel + controls_lines(controls.paused), PANEL)
                action, state = actor.act(torch.as_tensor(obs)[None], state)
                obs, reward, terminated, truncated, info = env.step(int(action[0]))
                ret += float(reward)
                done = terminated or truncated
            results.append({"return": ret, "length": int(maze.engine.t[0]), "success": bool(info["is_success"])})
            if cfg.record is not None:
                last = draw_game(maze.engine, 0, tile=cfg.tile)
                frames += [_with_panel(last, [f"episode {episode + 1}: return {ret:.3f}"]) if cfg.explain else last] * 4
            obs, _ = env.reset()
    finally:
        if window is not None:
            window.close()
        env.close()
    if cfg.record is not None:
        from mazearena.training.video import write_video

        write_video(frames, cfg.record, fps=cfg.fps)
    return results


def _legend(policy) -> list[str]:
    from mazearena.agents.backbones import Transformer

    lines = ["", "red: saliency (occlusion)"]
    if isinstance(getattr(policy, "backbone", None), Transformer):
        lines.append("blue squares: attention")
    return lines


def _with_panel(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` with the side panel to its right, as the window shows it."""
    from mazearena.envs.render import panel_image

    height = max(frame.shape[0], PANEL_HEIGHT)
    canvas = np.full((height, frame.shape[1], 3), 24, dtype=np.uint8)
    canvas[: frame.shape[0]] = frame
    return np.concatenate([canvas, panel_image(lines, PANEL, height)], axis=1)


class TeamExplainer:
    """``--explain`` in arenas: what the selected agent of the team reacts to (Tab selects the next one). Grid views:
    occlusion saliency over its view's cells; entity tokens: each entity's saliency (the change when it is
    hidden) as a red tint on its cell, and a transformer's attention to it as a blue square."""

    def __init__(self, policy, names: list[str]) -> None:
        self.policy, self.names, self.selected = policy, names, 0
        self.probs: list[float] = []  # the selected agent's action probabilities at the last frame
        self.value: float | None = None  # and its value, where the critic is its own (not centralised)

    def lines(self) -> list[str]:
        """The side panel: who is explained, the legend, the agent's action probabilities and value."""
        from mazearena.envs.arena import ACTION_MEANINGS

        out = [f"explaining {self.names[self.selected]} (Tab: next)", "red: saliency (occlusion)"]
        if type(self.policy.backbones[0]).__name__ == "Transformer":
            out.append("blue squares: attention")
        if self.probs:
            out += ["", "action probabilities"] + [
                f"  {n:<7} {q:5.2f}  " + "#" * round(16 * q) for n, q in zip(ACTION_MEANINGS, self.probs, strict=False)
            ]
        if self.value is not None:
            out += ["", f"value {self.value:.3f}"]
        return out

    def next(self) -> None:
        self.selected = (self.selected + 1) % len(self.names)

    def _scores(self, obs, state, alive):
        """Logits of the selected agent for a batch of its observations, its team mates' left as they are."""
        i, p = self.selected, self.policy

        def scores(batch):
            n = len(next(iter(batch.values())) if isinstance(batch, dict) else batch)

            def team(key=None):
                mine, all_ = (batch[key], obs[key]) if key else (batch, obs)
                rows = all_.expand(n, *all_.shape[1:]).clone()
                rows[:, i] = mine
                return rows

            stacked = {k: team(k) for k in obs} if isinstance(obs, dict) else team()
            active = alive.expand(n, -1)
            if p.recurrent:
                memory = (
                    tuple(m.expand(n, *m.shape[1:]) for m in state)
                    if isinstance(state, tuple)
                    else state.expand(n, *state.shape[1:])
                )
                return p.step(stacked, memory, active)[0][:, i]
            return p(stacked, None, active)[0][:, i]

        return scores

    def __call__(self, frame: np.ndarray, env, obs, state, alive) -> np.ndarray:
        from mazearena.agents.explain import action_shift, cls_attention, occlusion_saliency
        from mazearena.envs.engine.cells import ARENA_CHANNELS
        from mazearena.envs.render import dots, heat_overlay

        i, engine = self.selected, env.engine
        if not bool(alive[0, i]):
            return frame
        me = engine.config.agent_names.index(self.names[i])
        s = engine.config.size
        t = frame.shape[0] // s  # the arena's own frames: cells of the renderer's tile size
        y, x = (int(v) for v in engine.pos[0, me])
        world = np.zeros((s, s), np.float32)
        scores = self._scores(obs, state, alive)
        with torch.no_grad():
            mine = {k: v[:, i] for k, v in obs.items()} if isinstance(obs, dict) else obs[:, i]
            self.probs = torch.softmax(scores(mine).float(), -1)[0].tolist()
            if not self.policy.centralized_critic and not self.policy.recurrent:
                self.value = float(self.policy(obs, None, alive)[1][0, i])
            if not isinstance(obs, dict):
                view = obs[0, i]
                saliency = occlusion_saliency(scores, view, view.shape[0], ARENA_CHANNELS.index("wall")).numpy()
                r = view.shape[-1] // 2
                for (dy, dx), value in np.ndenumerate(saliency):
                    wy, wx = y + dy - r, x + dx - r
                    if 0 <= wy < s and 0 <= wx < s:
                        world[wy, wx] += value
                frame = heat_overlay(frame, world, t)
            else:
                mine = {k: v[0, i] for k, v in obs.items()}
                present = mine["mask"].bool().nonzero().flatten().tolist()
                hidden = {k: v[None].repeat(len(present) + 1, *[1] * v.dim()) for k, v in mine.items()}
                for row, k in enumerate(present, start=1):
                    hidden["mask"][row, k] = 0
                moved = action_shift(scores(hidden))
                places = torch.cat([engine.pos[0], engine.flags()[0]]).tolist()
                for k, value in zip(present, moved.tolist(), strict=True):
                    wy, wx = places[k]
                    world[wy, wx] += value
                frame = heat_overlay(frame, world, t)
                backbone = self.policy.backbones[0 if self.policy.share_params else i]
                attention = cls_attention(backbone, {k: v[None] for k, v in mine.items()})[0]
                marks = np.zeros((s, s), np.float32)
                for k in present:
                    wy, wx = places[k]
                    marks[wy, wx] += float(attention[k])
                frame = dots(frame, marks, t)
        # the selected agent ringed in white
        frame = frame.copy()
        frame[y * t : (y + 1) * t, [x * t, (x + 1) * t - 1]] = 255
        frame[[y * t, (y + 1) * t - 1], x * t : (x + 1) * t] = 255
        return frame


def _watch_arena(cfg: WatchConfig, train_cfg, policy) -> list[dict]:
    """A trained team plays its scenario's games (held-out twin on unseen arenas with ``levels=test``)."""
    from mazearena.envs.scenarios import scenario
    from mazearena.training.tasks.arena import arena_games

    window, controls, frames, results = None, None, [], []
    explainer = None
    if cfg.explain:
        if train_cfg.trained_team != train_cfg.scenario_team:
            raise UserError("--explain shows a team playing the side it trained on; this run trained the other side")
        if train_cfg.adversary_of is not None:
            raise UserError(
                "--explain shows a team against its scenario's NPCs; this run is an adversary (watch it "
                "without --explain, or explain its victim)"
            )
        found = scenario(train_cfg.arena.heldout_name if cfg.levels == "test" else train_cfg.arena.scenario_name)
        explainer = TeamExplainer(policy, found.focal(found.arena_config()))
    status: dict = {}
    try:
        for frame, result in arena_games(
            train_cfg,
            policy,
            cfg.episodes,
            cfg.seed,
            test=cfg.levels == "test",
            greedy=cfg.greedy,
            explain=explainer,
            status=status,
        ):
            if result is not None:
                results.append(result)
            lines = _arena_lines(train_cfg, status, results, cfg.episodes, result) + (
                ["", *explainer.lines()] if explainer is not None else []
            )
            if cfg.record is not None:
                frames += [_with_panel(frame, lines) if explainer is not None else frame] * (4 if result else 1)
                continue
            if window is None:
                from mazearena.envs.render import Window

                size = (frame.shape[1] + PANEL, max(frame.shape[0], PANEL_HEIGHT))
                window = Window("mazearena watch", size, fps=cfg.fps)
                controls = Controls(window, None if explainer is None else explainer.next)
            window.set_title(f"mazearena watch  {train_cfg.arena.scenario_name}")
            window.show(frame, lines + controls_lines(controls.paused), PANEL)
            while not controls.poll():  # paused until space or the right arrow
                if window.closed:
                    return results
                window.show(frame, lines + controls_lines(controls.paused), PANEL)
    finally:
        if window is not None:
            window.close()
    if cfg.record is not None:
        from mazearena.training.video import write_video

        write_video(frames, cfg.record, fps=cfg.fps)
    return results


def _arena_lines(train_cfg, status: dict, results: list[dict], episodes: int, result: dict | None) -> list[str]:
    """The arena panel: the game, its step, the learning team's return, the score (capture the flag), games won."""
    won = sum(r["success"] for r in results)
    lines = [train_cfg.arena.scenario_name, f"game {len(results) + (result is None)}/{episodes}, won {won}"]
    if result is not None:
        lines.append(f"game over: {'won' if result['success'] else 'not won'} in {result['length']} steps")
    elif status:
        lines += [f"step {status['step']}", f"team return {status['return']:.2f}"]
        if status["mode"] == "ctf":
            lines.append(f"score red {status['score'][0]}, blue {status['score'][1]}")
    return lines


VIEWERS = {TaskKind.MAZE: _watch_maze, TaskKind.ARENA: _watch_arena}
"""How each kind of task is watched: one agent with the network's view beside it, or a team's games."""
