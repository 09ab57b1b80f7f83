"""The recipe of ``docs/architecture.md`` ("add a kind of task"), tried with a throw-away kind: one ``Task``
subclass and one line in ``TASKS``, and training, the report, evaluation, export and ``bench brain``'s reading of
an export all take it, with no other change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from mazearena.training import tasks
from mazearena.training.config import EnvConfig, TrainConfig
from mazearena.training.tasks.base import Task

LENGTH = 5


class Corridor(gym.Env):
    """Walk right (action 1) to the end of a corridor: reward 1 and success there."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode=None, start: int = 0) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (LENGTH,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.render_mode, self.start, self.pos = render_mode, start, start

    def _obs(self):
        return np.eye(LENGTH, dtype=np.float32)[self.pos]

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.start
        return self._obs(), {}

    def step(self, action):
        self.pos = min(LENGTH - 1, max(0, self.pos + (1 if action == 1 else -1)))
        won = self.pos == LENGTH - 1
        return self._obs(), float(won), won, False, {"is_success": won}

    def render(self):
        frame = np.zeros((8, 8 * LENGTH, 3), np.uint8)
        frame[:, 8 * self.pos : 8 * self.pos + 8] = 255
        return frame


class CorridorTask(Task):
    """The throw-away kind: the corridor, trained from its left end, tested from one cell further right."""

    kind = "corridor"
    section = "env"
    suites = {"train": "from the left end", "test": "from the second cell"}

    def claims(self, cfg: TrainConfig) -> bool:
        return cfg.env.env_id == "Corridor-v0"

    def env_name(self, cfg):
        return "the corridor"

    def run_name(self, cfg):
        return f"{cfg.algo}-corridor-seed{cfg.seed}"

    def key(self, cfg):
        return json.dumps(["corridor", cfg.env.max_episode_steps])

    def make_envs(self, cfg, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        from gymnasium.vector import AutoresetMode, SyncVectorEnv

        start = 1 if test else 0
        envs = SyncVectorEnv(
            [lambda: gym.wrappers.TimeLimit(Corridor(start=start), 20)] * num_envs,
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
        envs.reset(seed=seed)
        return envs

    def actor(self, cfg, policy, deterministic: bool = False, team=None):
        from mazearena.actor import PolicyActor

        return PolicyActor(policy, deterministic)

    def play(self, cfg, envs, actor, episodes: int, advance=None) -> dict:
        from mazearena.agents.episodes import play_episodes

        return play_episodes(envs, actor, episodes, advance)

    def _suite_env(self, cfg, suite: str, num_envs: int, seed: int, device: str):
        return self.make_envs(cfg, num_envs, test=suite == "test", seed=seed)

    def record(self, cfg, policy, path: Path) -> Path:
        from mazearena.training.video import write_video

        env, actor = Corridor(), self.actor(cfg, policy, deterministic=True)
        obs, _ = env.reset()
        frames, done = [env.render()], False
        while not done and len(frames) < 20:
            action, _ = actor.act(torch.as_tensor(obs)[None], None)
            obs, _, done, _, _ = env.step(int(action[0]))
            frames.append(env.render())
        return write_video(frames, path)

    def describe(self, cfg, step: int) -> str:
        return f"{cfg.algo} in the corridor, {step:,} steps; held out: starting one cell further right."

    def export_spec(self, cfg) -> dict[str, Any]:
        observation = {"kind": "corridor", "summary": "Observations: the cell, one-hot.", "actions": ["left", "right"]}
        return {"observation": observation, "env": {"kind": "corridor", "options": {}}}

    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        return self.make_envs(None, num_envs, test=True, seed=seed)


@pytest.fixture
def corridor(monkeypatch):
    gym.register("Corridor-v0", entry_point=Corridor)
    monkeypatch.setattr(tasks, "TASKS", {"corridor": CorridorTask(), **tasks.TASKS})  # the one line in TASKS
    yield
    gym.registry.pop("Corridor-v0")


def test_a_new_kind_of_task_is_one_task_subclass_and_one_line_in_tasks(tmp_path, corridor):
    from mazearena.apps.bench.brain import exported_task
    from mazearena.apps.export import ExportConfig, export
    from mazearena.evaluation.evaluate import EvalConfig, evaluate
    from mazearena.training.algorithms.ppo import PPOConfig
    from mazearena.training.loop import train

    cfg = TrainConfig(
        env=EnvConfig(env_id="Corridor-v0"),
        backbone="mlp",
        ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, learning_rate=0.003),
        total_timesteps=3072,
        eval_episodes=8,
        runs_dir=tmp_path,
        progress=False,
    )
    assert cfg.task.kind_name == "corridor"
    run = train(cfg)
    assert run.name == "ppo-corridor-seed0"
    report = (run / "report.md").read_text()
    assert "held out: starting one cell further right" in report
    assert (run / "episodes.gif").exists()
    out = evaluate(EvalConfig(runs=(run,), episodes=8, out=tmp_path / "eval", progress=False))
    summary = json.loads((out / "summary.json").read_text())
    assert {"train", "test"} <= set(json.dumps(summary).split('"'))  # the kind's own suites
    exported = export(ExportConfig(run=run, format="torchscript"))
    spec = json.loads((exported / "spec.json").read_text())
    assert spec["env"]["kind"] == "corridor" and isinstance(exported_task(spec), CorridorTask)
    learned = json.loads((run / "report.json").read_text())["test_levels"]["success_rate"]
    assert learned > 0.5  # the kind's own success signal reached the report
