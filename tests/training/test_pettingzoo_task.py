"""The fourth kind of task: a PettingZoo parallel env from elsewhere, named by its import path, trained by MAPPO
through its task module alone (``training/tasks/pettingzoo.py``), evaluated, recorded and exported."""

import json
import textwrap

import numpy as np
import pytest
import torch

from mazearena.agents.league import LeagueConfig
from mazearena.checks import UserError
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.config import EnvConfig, TrainConfig
from mazearena.training.tasks import TaskKind
from mazearena.training.tasks.pettingzoo import ParallelVectorEnv, play_team_episodes

# Two walkers on a line of 7 cells meet at a target: both are paid minus their distance to it, a walker that
# reaches it leaves the game (terminated) and the episode is cut after 12 steps (truncated).
TOY = textwrap.dedent(
    """
    import numpy as np
    from gymnasium import spaces
    from pettingzoo import ParallelEnv


    class Meet(ParallelEnv):
        metadata = {"name": "meet_v0", "render_modes": ["rgb_array"]}

        def __init__(self, render_mode=None, limit=12):
            self.possible_agents = ["walker_0", "walker_1"]
            self.render_mode, self.limit = render_mode, limit

        def observation_space(self, agent):
            return spaces.Box(0.0, 6.0, (3,), np.float32)

        def action_space(self, agent):
            return spaces.Discrete(3)  # stay, left, right

        def reset(self, seed=None, options=None):
            rng = np.random.default_rng(seed)
            self.agents = list(self.possible_agents)
            self.pos = {a: int(rng.integers(0, 7)) for a in self.agents}
            self.target, self.t = int(rng.integers(0, 7)), 0
            return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

        def _obs(self, a):
            other = [p for b, p in self.pos.items() if b != a][0]
            return np.array([self.pos[a], other, self.target], np.float32)

        def step(self, actions):
            for a, act in actions.items():
                self.pos[a] = min(6, max(0, self.pos[a] + (0, -1, 1)[act]))
            self.t += 1
            rewards = {a: -float(abs(self.pos[a] - self.target)) for a in self.agents}
            terminated = {a: self.pos[a] == self.target for a in self.agents}
            truncated = {a: self.t >= self.limit for a in self.agents}
            obs = {a: self._obs(a) for a in self.agents}
            self.agents = [a for a in self.agents if not (terminated[a] or truncated[a])]
            return obs, rewards, terminated, truncated, {a: {} for a in actions}

        def state(self):
            return np.array([self.pos["walker_0"], self.pos["walker_1"], self.target], np.float32)

        def render(self):
            frame = np.full((8, 56, 3), 255, np.uint8)
            for p in self.pos.values():
                frame[:, 8 * p : 8 * p + 8] = (40, 40, 200)
            frame[6:, 8 * self.target : 8 * self.target + 8] = (0, 160, 0)
            return frame


    def parallel_env(render_mode=None):
        return Meet(render_mode)


    def aec_env():
        from pettingzoo.utils import parallel_to_aec

        return parallel_to_aec(Meet())


    def mixed_spaces():
        env = Meet()
        env.observation_space = lambda a: spaces.Box(0.0, 6.0, (3 if a == "walker_0" else 4,), np.float32)
        return env
    """
)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The import path of the toy env's factory (a module of its own on the path)."""
    (tmp_path / "toy_meet.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "toy_meet:parallel_env"


def _cfg(tmp_path, env_id: str, **kw) -> TrainConfig:
    small = {"num_envs": 4, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}
    return TrainConfig(
        algo="mappo",
        env=EnvConfig(env_id=env_id),
        mappo=MAPPOConfig(**(small | kw.pop("mappo", {}))),
        total_timesteps=kw.pop("total_timesteps", 128),
        eval_episodes=8,
        video_episodes=1,
        runs_dir=tmp_path / "runs",
        progress=False,
        **kw,
    )


def test_an_import_path_is_a_pettingzoo_task_trained_by_mappo_with_an_mlp(tmp_path, toy):
    cfg = _cfg(tmp_path, toy)
    assert cfg.task.kind is TaskKind.PETTINGZOO
    assert cfg.backbone == "mlp"  # vectors: the default cnn gives way
    assert cfg.task.run_name(cfg) == "mappo-mlp-toy_meet-seed0"


@pytest.mark.parametrize(
    ("env_id", "kw", "error"),
    [
        ("toy_meet:parallel_env", {"algo": "ppo"}, "algo 'ppo' does not train teams: pettingzoo tasks train with algo"),
        ("toy_meet:aec_env", {}, "not a PettingZoo parallel env"),
        ("toy_meet:mixed_spaces", {}, "share one observation and one action space"),
        ("toy_meet:parallel_env", {"league": LeagueConfig(self_play=True)}, "not outside envs"),
    ],
)
def test_configs_it_cannot_train_get_errors_naming_what_is_wrong(tmp_path, toy, env_id, kw, error):
    with pytest.raises(UserError, match=error):
        TrainConfig(env=EnvConfig(env_id=env_id), runs_dir=tmp_path, **({"algo": "mappo"} | kw))


def test_the_vector_env_restarts_ended_games_and_drops_agents_that_left(toy):
    envs = ParallelVectorEnv(toy, 3, seed=5, max_steps=4)
    obs, info = envs.reset()
    assert obs.shape == (3, 2, 3) and bool(info["alive"].all())
    assert envs.state().shape == (3, 3)
    ended_seen = False
    for _ in range(8):
        obs, reward, terminated, truncated, info = envs.step(torch.zeros(3, 2, dtype=torch.long))
        assert bool((reward[~info["active"]] == 0).all())
        gone = info["active"] & terminated & ~info["_final_obs"][:, None]
        assert not bool((info["alive"] & gone).any())  # a walker on the target leaves its game
        assert bool((obs[~info["alive"]] == 0).all())  # and reads zeros while the others play on
        if bool(info["_final_obs"].any()):
            ended_seen = True
            i = int(info["_final_obs"].nonzero()[0])
            assert bool(info["alive"][i].all())  # restarted in the same step
    assert ended_seen
    assert int(envs.engine.episodes.sum()) > 0
    with pytest.raises(ValueError, match="action 7 of agent walker_0 in env 0"):
        envs.step(torch.full((3, 2), 7))


def test_episodes_record_the_team_return_and_each_agents(toy):
    envs = ParallelVectorEnv(toy, 2, seed=0, max_steps=6)
    records = play_team_episodes(envs, lambda obs, alive: torch.zeros(obs.shape[:2], dtype=torch.long), 6)
    assert len(records["return"]) == 6 and not any(records["success"])
    team = np.array(records["return"])
    agents = np.array(records["return/walker_0"]) + np.array(records["return/walker_1"])
    assert np.allclose(team, agents)
    assert all(1 <= n <= 6 for n in records["length"])


def test_mappo_trains_evaluates_records_and_exports_it_through_the_task(tmp_path, toy):
    from mazearena.apps.export import ExportConfig, export
    from mazearena.evaluation.evaluate import EvalConfig, evaluate
    from mazearena.training.loop import train

    run = train(_cfg(tmp_path, toy))
    report = (run / "report.md").read_text()
    assert "mean return" in report and "success (95% CI)" not in report  # no notion of success: the returns
    assert (run / "episodes.gif").stat().st_size > 0
    out = evaluate(EvalConfig(runs=(run,), episodes=8, out=tmp_path / "eval", progress=False, trust_code=True))
    header = (out / "episodes.csv").read_text().splitlines()[0].split(",")
    assert {"return/walker_0", "return/walker_1", "per_capita_return"} <= set(header)
    assert json.loads((out / "summary.json").read_text())["has_success"] is False
    eval_report = (out / "report.md").read_text()
    assert "| return (95% CI) |" in eval_report and "success (95% CI)" not in eval_report
    exported = export(ExportConfig(run=run, format="torchscript", trust_code=True))
    spec = json.loads((exported / "spec.json").read_text())
    assert spec["env"] == {"kind": "pettingzoo", "id": toy, "options": {"max_episode_steps": 0}}
    assert spec["observation"]["agents"] == ["walker_0", "walker_1"]
    assert "mean_reward" in (exported / "README.md").read_text()


def test_the_same_seed_trains_the_same_curve_and_ippo_trains_too(tmp_path, toy):
    from mazearena.training.loop import train

    curves = []
    for name in ("a", "b"):
        run = train(_cfg(tmp_path, toy, name=name))
        curves.append([json.loads(line)["loss/policy"] for line in (run / "metrics.jsonl").read_text().splitlines()
                       if "loss/policy" in line])  # fmt: skip
    assert curves[0] == curves[1] and curves[0]
    ippo = train(_cfg(tmp_path, toy, name="ippo", mappo={"centralized_critic": False}))
    assert (ippo / "report.md").exists()


def test_a2c_trains_a_team_on_it_too(tmp_path, toy):
    from mazearena.training.algorithms.a2c import A2CConfig
    from mazearena.training.loop import train

    cfg = TrainConfig(
        algo="a2c", env=EnvConfig(env_id=toy), a2c=A2CConfig(num_envs=4, num_steps=8), total_timesteps=128,
        eval_episodes=8, video_episodes=0, runs_dir=tmp_path / "runs", progress=False,
    )  # fmt: skip
    assert cfg.task.kind is TaskKind.PETTINGZOO and cfg.run_name == "a2c-mlp-toy_meet-seed0"
    run = train(cfg)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [32, 64, 96, 128] and all("loss/value" in r for r in rows)
    assert any("agent/walker_1/return" in r for r in rows) and (run / "report.md").exists()


def test_a_crashed_run_resumes_from_its_checkpoint_with_its_episode_seeds(tmp_path, toy):
    """An outside env's state is not saved: a resumed run continues from the checkpoint's weights and episode
    counters, restarting the episodes that were in progress with the seeds those counters give."""
    from test_train import crash_after

    from mazearena.training.algorithms.mappo import MAPPO
    from mazearena.training.checkpoint import load_checkpoint
    from mazearena.training.loop import train

    run = crash_after(MAPPO, 2, _cfg(tmp_path, toy, name="crashed", checkpoint_every=64, total_timesteps=256))
    games = load_checkpoint(run / "checkpoints" / "last.pt")["algo"]["engine"]
    assert int(games["episodes"].sum()) > 0 and int(games["seed"]) == 0  # how far each game got, and the seed
    resumed = train(TrainConfig(resume=run, progress=False))
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 256 and (resumed / "report.md").exists()
