"""The "any Gymnasium env" path takes what outside envs hand out: Dict observations (one key as it is, or several
flattened into a vector), images stored channels last, and a list of wrappers named by import path (from Python,
YAML or the command line), each with an error naming what cannot be used."""

import json

import numpy as np
import pytest

from mazearena.apps.cli import _train_args
from mazearena.checks import UserError
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.config import load_config, save_config

TOY = '''
import gymnasium as gym
import numpy as np


class Seek(gym.Env):
    """A 5x5 image (channels last) with a mark in one cell, a heading, and a mission text: the agent wins by
    naming the mark's row (5 actions), in one step."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (5, 5, 3), np.uint8),
            "direction": gym.spaces.Discrete(4),
            "mission": gym.spaces.Text(20, charset="abcdefghijklmnopqrstuvwxyz "),
        })
        self.action_space = gym.spaces.Discrete(5)

    def _obs(self):
        image = np.zeros((5, 5, 3), np.uint8)
        image[self.row, self.col, 0] = 255
        return {"image": image, "direction": int(self.row % 4), "mission": "find the mark"}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.row, self.col = (int(v) for v in self.np_random.integers(0, 5, 2))
        return self._obs(), {}

    def step(self, action):
        won = int(action) == self.row
        return self._obs(), float(won), True, False, {}

    def render(self):
        return np.full((8, 8, 3), 40 * self.row, np.uint8)


class Halve(gym.ObservationWrapper):
    """A wrapper that takes an argument (to name in ``module:Class(key=value)``)."""

    def __init__(self, env, by=2):
        super().__init__(env)
        self.by = by

    def observation(self, obs):
        return {**obs, "image": obs["image"] // self.by}


gym.register("toy_dict/Seek-v0", entry_point=Seek, max_episode_steps=5)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch) -> str:
    (tmp_path / "toy_dict.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "toy_dict:toy_dict/Seek-v0"


def spaces(cfg: TrainConfig):
    envs = cfg.task.make_envs(cfg, 2, test=False, seed=0)
    obs, _ = envs.reset(seed=0)
    return envs.single_observation_space, obs


def test_one_key_of_a_dict_is_trained_on_as_it_is_and_an_image_turns_channels_first(toy):
    cfg = TrainConfig(env=EnvConfig(env_id=toy, obs_keys=("image",)))
    space, obs = spaces(cfg)
    assert space.shape == (3, 5, 5) and obs.shape == (2, 3, 5, 5) and cfg.backbone == "cnn"
    assert obs[:, 0].max() == 255 and obs[:, 1:].max() == 0  # the mark's channel first


def test_several_keys_are_flattened_into_one_vector_for_an_mlp(toy):
    cfg = TrainConfig(env=EnvConfig(env_id=toy, obs_keys=("image", "direction")))
    space, obs = spaces(cfg)
    assert space.shape == (5 * 5 * 3 + 4,) and obs.shape == (2, 79) and cfg.backbone == "mlp"
    assert obs[:, :4].sum(1).tolist() == [1, 1]  # the heading one-hot (the Dict's keys in sorted order)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({}, r"hands out Dict observations \(keys: direction, image, mission\): name the keys"),
        ({"obs_keys": ("imag",)}, "'imag' is not a key of"),
        ({"obs_keys": ("image", "mission")}, "'mission' is a Text space, which cannot be flattened"),
        ({"obs_keys": ("image",), "wrappers": ("toy_dict",)}, "is not 'module:Class'"),
        ({"obs_keys": ("image",), "wrappers": ("toy_dict:Nope",)}, "cannot import 'toy_dict:Nope'"),
        ({"obs_keys": ("image",), "wrappers": ("toy_dict:Halve(3)",)}, "arguments must be key=literal"),
        ({"obs_keys": ("image",), "wrappers": ("toy_dict:Halve(by=len)",)}, "arguments must be key=literal"),
        ({"obs_keys": ("image",), "wrappers": ("toy_dict:Halve(height=2)",)}, "'toy_dict:Halve.*' failed on"),
    ],
)
def test_what_cannot_be_used_is_named(toy, env, error):
    with pytest.raises(UserError, match=error):
        TrainConfig(env=EnvConfig(env_id=toy, **env))


def test_wrappers_and_keys_are_for_gymnasium_ids_only():
    with pytest.raises(UserError, match="env.wrappers applies to Gymnasium ids, not to 'mazearena/Maze-v0'"):
        EnvConfig(wrappers=("gymnasium.wrappers:FlattenObservation",))
    with pytest.raises(UserError, match="env.obs_keys names keys of Dict observations"):
        EnvConfig(env_id="CartPole-v1", obs_keys=("image",))


def test_wrappers_come_from_the_command_line_and_yaml_and_run_in_order(toy, tmp_path):
    cfg = _train_args(["--env.env-id", toy, "--env.obs-keys", "image", "--env.wrappers", "toy_dict:Halve(by=5)"])
    assert cfg.env.wrappers == ("toy_dict:Halve(by=5)",) and cfg.env.obs_keys == ("image",)
    _, obs = spaces(cfg)
    assert obs.max() == 51  # 255 // 5
    path = tmp_path / "dict.yaml"
    save_config(cfg, path)
    assert load_config(path).env == cfg.env


def test_a_dict_env_trains_records_and_exports_through_its_wrappers(toy, tmp_path):
    from mazearena.apps.export import ExportConfig, export

    cfg = TrainConfig(
        env=EnvConfig(env_id=toy, obs_keys=("image",), wrappers=("toy_dict:Halve(by=1)",)),
        runs_dir=tmp_path, total_timesteps=2048, eval_every=1024, eval_episodes=16, video_episodes=1,
        wandb_mode="disabled", progress=False,
    )  # fmt: skip
    cfg.ppo.num_envs, cfg.ppo.num_steps = 8, 32
    run = train(cfg)
    assert (run / "episodes.gif").stat().st_size > 0
    report = json.loads((run / "report.json").read_text())
    assert np.isfinite(report["summary"]["test_return"])
    with pytest.raises(ValueError, match=r"names code to import \(env.env_id .*env.wrappers toy_dict:Halve"):
        export(ExportConfig(run=run, out=tmp_path / "brain"))  # a run's wrappers are code: imported when trusted
    out = export(ExportConfig(run=run, out=tmp_path / "brain", trust_code=True))
    spec = json.loads((out / "spec.json").read_text())
    assert spec["env"]["options"] == {"wrappers": ["toy_dict:Halve(by=1)"], "obs_keys": ["image"]}
    assert spec["observation"]["shape"] == [3, 5, 5]
