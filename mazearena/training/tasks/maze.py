"""The maze task: one agent on mazearena's procedural mazes, trained on a set of levels and tested on held-out
ones (Procgen-style), success = reaching the goal.

Suites: ``train`` — the training levels; ``test`` — held-out levels; ``larger`` — held-out levels of mazes 6
cells wider (the time limit scaled by the area); ``harder`` — held-out levels made of long winding corridors
(``backtracker`` generator, no loops).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mazearena.checks import UserError
from mazearena.envs.engine.textmap import read_layouts
from mazearena.training.tasks.base import Task, TaskKind

if TYPE_CHECKING:
    from mazearena.actor import Actor
    from mazearena.training.config import TrainConfig

MAZE_SUITES = {
    "train": "training levels",
    "test": "held-out levels",
    "larger": "held-out levels, mazes 6 cells wider",
    "harder": "held-out levels, long corridors (backtracker, no loops)",
}
GROW = 6
"""How many cells wider the ``larger`` suite's mazes (and arenas) are."""


class SingleAgentTask(Task):
    """One agent, one network, episodes on a single-agent vector env (a maze, any Gymnasium env)."""

    section = "env"
    suites = MAZE_SUITES

    def actor(self, cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None):
        from mazearena.actor import PolicyActor
        from mazearena.training.algorithms import algorithm

        alg = algorithm(cfg.algo)
        if alg.actor is not None:
            return alg.actor(cfg, policy, deterministic, team)
        return PolicyActor(policy, deterministic)

    def play(self, cfg: TrainConfig, envs, actor: Actor, episodes: int, advance=None) -> dict:
        from mazearena.agents.episodes import play_episodes

        return play_episodes(envs, actor, episodes, advance)

    def env_name(self, cfg: TrainConfig) -> str:
        return cfg.env.env_id

    def key(self, cfg: TrainConfig) -> str:
        e = cfg.env
        return json.dumps(["maze", e.env_id, e.make_kwargs(), e.make_kwargs(True)], default=str)

    @abstractmethod
    def render_env(self, cfg: TrainConfig):
        """One held-out game of the env, rendering RGB frames (for videos)."""

    def record(self, cfg: TrainConfig, policy: torch.nn.Module, path: Path) -> Path:
        from mazearena.training.video import write_video

        env = self.render_env(cfg)
        frames: list = []
        actor = self.actor(cfg, policy)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 4)
            obs, _ = env.reset(seed=cfg.seed + 4)
            for _ in range(cfg.video_episodes):
                done, state = False, actor.initial_state(1, cfg.device)
                frames.append(env.render())
                while not done:
                    action, state = actor.act(torch.as_tensor(obs, device=cfg.device)[None], state)
                    obs, _, terminated, truncated, _ = env.step(int(action[0]))
                    frames.append(env.render())
                    done = terminated or truncated
                frames += [frames[-1]] * 3
                obs, _ = env.reset()
        env.close()
        return write_video(frames, path, fps=8)


class MazeTask(SingleAgentTask):
    kind = TaskKind.MAZE
    perturbable = True

    def claims(self, cfg: TrainConfig) -> bool:
        import mazearena
        from mazearena.training.algorithms import algorithm

        return algorithm(cfg.algo).single and cfg.env.env_id in mazearena.MAZE_IDS

    def check(self, cfg: TrainConfig) -> None:
        import mazearena

        super().check(cfg)
        if cfg.env.env_id not in mazearena.MAZE_IDS:
            raise UserError(f"kind 'maze' trains on {', '.join(mazearena.MAZE_IDS)}, not env_id {cfg.env.env_id!r}")

    def run_name(self, cfg: TrainConfig) -> str:
        size = cfg.env.grid_size
        return f"{cfg.algo}-{cfg.model}-{size}x{size}-seed{cfg.seed}"

    def make_envs(self, cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        import mazearena

        # the trainer's own actions are valid by construction; checking them on a GPU would wait for it every step
        check = torch.device(cfg.device).type != "cuda"
        return mazearena.make_vec(
            cfg.env.env_id, num_envs, device=cfg.device, seed=seed, check_actions=check, **cfg.env.make_kwargs(test)
        )

    def check_memory(self, cfg: TrainConfig) -> None:
        from mazearena.checks import check_memory
        from mazearena.envs.engine.common import maze_bytes_per_game

        try:
            check_memory("maze games", cfg.num_envs, maze_bytes_per_game(cfg.env.maze_config()), cfg.device)
        except ValueError as e:
            raise UserError(str(e)) from None

    def unavailable_suites(self, cfg: TrainConfig) -> dict[str, str]:
        if cfg.env.obs_mode == "full":
            return {
                "larger": "needs a policy with an egocentric view: this run observes the whole grid (obs_mode "
                "'full'), whose shape changes with the maze size"
            }
        return {}

    def _suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str):
        import mazearena

        e = cfg.env
        kwargs = e.make_kwargs(test=suite != "train")
        if suite == "larger":
            size = min(e.grid_size + GROW, 127)
            kwargs |= {"size": size, "max_steps": round(e.time_limit * (size / e.grid_size) ** 2)}
        if suite == "harder":
            kwargs |= {"generator": "backtracker", "loops": 0.0}
        return mazearena.make_vec(e.env_id, num_envs, device=device, seed=seed, **kwargs)

    def render_env(self, cfg: TrainConfig):
        import gymnasium as gym

        return gym.make(cfg.env.env_id, render_mode="rgb_array", **cfg.env.make_kwargs(test=True))

    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        import mazearena

        return mazearena.make_vec(env_spec["id"], num_envs, seed=seed, **env_spec["options"])

    def describe(self, cfg: TrainConfig, step: int) -> str:
        e = cfg.env
        size, levels = e.grid_size, len(read_layouts(e.layouts)) if e.layouts else e.num_levels
        drawn = " drawn" if e.layouts else ""
        return (
            f"{cfg.algo} + {cfg.model} on {e.env_id} {size}x{size}, {step:,} steps, "
            f"trained on {levels or 'unlimited'}{drawn} levels"
        )

    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        from mazearena.envs.engine.cells import table

        maze = cfg.env.maze_config(test=True)
        actions = {"cardinal": ["north", "east", "south", "west"], "turn": ["left", "right", "forward"]}
        layout = maze.obs_layout or maze.native_layout
        observation = {
            "kind": "maze",
            "planes": list(table().channels_of(maze.variant.value)),
            "layout": f"{layout}: one-hot 0/1 planes; partial views centred on the agent, north up "
            "(rotated so the agent faces up with turn actions)",
            "obs_mode": maze.obs_mode.value,
            "view_size": maze.view_size,
            "actions": actions[maze.actions.value],
        }
        observation["summary"] = f"Observation planes ({observation['layout']}): {', '.join(observation['planes'])}."
        env = {"kind": "maze", "id": cfg.env.env_id, "options": cfg.env.make_kwargs(test=True)}
        return {"observation": observation, "env": env}
