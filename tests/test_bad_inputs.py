"""A catalogue of bad inputs, generated from the configs themselves: a wrong type, ``None``, a bool, NaN and
infinity, a negative and a huge number for every field of the training config (in a YAML file, as users
write them) and for every option of the maze and arena envs; bad actions for every env form; damaged and
malicious checkpoints. Each must be refused with an error of the kind the API promises (``ValueError``,
``TypeError``, ``KeyError`` for an unknown agent) whose message names the field, or accepted when it is a valid
value; nothing else may escape. ``python tests/test_bad_inputs.py`` prints the counts."""

from __future__ import annotations

import dataclasses
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

import mazearena
from mazearena.envs import arena_v0
from mazearena.envs.engine.arena import ArenaConfig
from mazearena.envs.engine.maze import MazeConfig
from mazearena.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mazearena.training.config import SECTIONS, TrainConfig, load_config

BAD_VALUES = {
    "text": "x",
    "none": None,
    "bool": True,
    "nan": float("nan"),
    "inf": float("inf"),
    "negative": -3,
    "huge": 2**70,
    "list": [1, 2],
}


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def train_config_cases() -> list[tuple[str, str, object]]:
    cases = []
    for name in _fields(TrainConfig):
        if name in SECTIONS:
            cases += [(f"{name}.{sub}", kind, v) for sub in _fields(SECTIONS[name]) for kind, v in BAD_VALUES.items()]
        else:
            cases += [(name, kind, v) for kind, v in BAD_VALUES.items()]
    return cases


def env_option_cases() -> list[tuple[str, str, str, object]]:
    maze = [("maze", f, kind, v) for f in _fields(MazeConfig) for kind, v in BAD_VALUES.items()]
    arena = [("arena", f, kind, v) for f in _fields(ArenaConfig) for kind, v in BAD_VALUES.items()]
    return maze + arena


def classify(error: BaseException | None, field: str) -> str:
    """``clean``: refused with a promised error kind naming the field; ``accepted``: a valid value; else the
    kind of failure."""
    if error is None:
        return "accepted"
    if isinstance(error, (ValueError, TypeError)) and field.split(".")[-1] in str(error):
        return "clean"
    return f"unclean {type(error).__name__}: {error}"


def try_train_config(tmp_path, dotted: str, value) -> str:
    data: dict = {}
    section, _, key = dotted.rpartition(".")
    (data.setdefault(section, {}) if section else data)[key] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_config(path)
    except Exception as e:  # noqa: BLE001 - the catalogue classifies whatever escapes
        return classify(e, dotted)
    return classify(None, dotted)


def try_env_option(kind: str, field: str, value) -> str:
    try:
        if kind == "maze":
            env = gym.make("mazearena/Maze-v0", **{field: value})
            env.reset(seed=0)
            env.step(0)
        else:
            env = arena_v0.parallel_env(**{field: value})
            env.reset(seed=0)
            env.step({a: 0 for a in env.agents})
    except Exception as e:  # noqa: BLE001
        return classify(e, field)
    return classify(None, field)


# Values that are valid for some fields: accepting them is right (a seed of True is not, and is refused).
VALID = {
    ("huge", "start_level"),
    ("huge", "test_start_level"),
    ("none", "max_steps"),
    ("none", "obs_layout"),
    ("none", "variant"),  # unset: the env id's
    ("none", "loops"),
    ("none", "resume"),
    ("none", "init_from"),
    ("none", "adversary_of"),
    ("text", "name"),
    ("text", "wandb_project"),
    ("text", "wandb_group"),
    ("text", "runs_dir"),
    ("text", "resume"),
    ("text", "init_from"),
    ("list", "wandb_tags"),
    ("bool", "amp"),
    ("bool", "compile"),
    ("bool", "keep_snapshots"),
    ("bool", "tensorboard"),
    ("bool", "progress"),
}


def expected(kind: str, field: str, value) -> str:
    """What a value should get: accepted where it is valid for the field, else a clean error."""
    name = field.split(".")[-1]
    if (kind, name) in VALID or (kind == "bool" and isinstance(_default(field), bool)):
        return "accepted"
    return "clean"


def _default(field: str):
    section, _, key = field.rpartition(".")
    config = TrainConfig()
    return getattr(getattr(config, section) if section else config, key, None)


@pytest.mark.parametrize("field,kind,value", train_config_cases(), ids=lambda x: str(x)[:20])
def test_every_training_config_field_refuses_bad_values_by_name(field, kind, value, tmp_path):
    got = try_train_config(tmp_path, field, value)
    assert not got.startswith("unclean"), (field, kind, got)
    if kind in ("text", "none", "nan", "inf", "list") and expected(kind, field, value) == "clean":
        assert got == "clean", (field, kind, got)


@pytest.mark.parametrize("env,field,kind,value", env_option_cases(), ids=lambda x: str(x)[:20])
def test_every_env_option_refuses_bad_values_by_name(env, field, kind, value):
    got = try_env_option(env, field, value)
    assert not got.startswith("unclean"), (env, field, kind, got)
    if kind in ("text", "nan", "inf", "list") and field not in ("mode", "layout", "obs_mode", "obs_layout"):
        assert got == "clean", (env, field, kind, got)


BAD_ACTIONS = [5, -1, 2.5, "up", None, [1], np.array([1, 2]), True, 10**20]
BAD_BATCHES = [
    torch.tensor([5, 0]),
    torch.tensor([-1, 0]),
    torch.tensor([0.5, 1.0]),
    torch.tensor([1, 2, 3]),
    torch.tensor([True, False]),
    np.array([1.5, 2.0]),
    [1, 2],
    "up",
]


@pytest.mark.parametrize("action", BAD_ACTIONS, ids=repr)
def test_bad_actions_are_named_by_the_single_game_envs(action):
    env = gym.make("mazearena/Maze-v0")
    env.reset(seed=0)
    with pytest.raises((ValueError, TypeError), match="action"):
        env.step(action)
    parallel = arena_v0.parallel_env()
    parallel.reset(seed=0)
    with pytest.raises((ValueError, TypeError), match="action"):
        parallel.step({a: action for a in parallel.agents})


@pytest.mark.parametrize("batch", BAD_BATCHES, ids=repr)
def test_bad_action_batches_are_named_by_the_vector_envs(batch):
    for env in (mazearena.make_vec("mazearena/Maze-v0", 2, seed=0), arena_v0.vector_env(2, seed=0)):
        env.reset()
        if isinstance(batch, (torch.Tensor, np.ndarray)) and hasattr(env, "num_agents"):  # arena: [games, agents]
            batch = torch.as_tensor(batch)[:, None].expand(-1, env.num_agents).clone()
        with pytest.raises((ValueError, TypeError), match="action"):
            env.step(batch)


def damaged_checkpoints(tmp_path) -> dict[str, object]:
    good = save_checkpoint(tmp_path / "good.pt", {"x": torch.arange(1000.0)})
    data = good.read_bytes()
    cases = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "random bytes": os.urandom(4096),
        "zeroed middle": data[: len(data) // 2] + bytes(64) + data[len(data) // 2 + 64 :],
        "text": b"not a checkpoint",
    }

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"format": "mazearena-checkpoint-1", "x": Evil()}, tmp_path / "evil.pt")
    cases["pickled code"] = (tmp_path / "evil.pt").read_bytes()
    torch.save({"x": 1}, tmp_path / "other.pt")
    cases["another format"] = (tmp_path / "other.pt").read_bytes()
    return cases


def test_damaged_and_malicious_checkpoints_are_refused_without_running_anything(tmp_path):
    for name, data in damaged_checkpoints(tmp_path).items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


def counts(tmp_path) -> dict[str, int]:
    """How many bad inputs the catalogue tries and how many get a clean error (or are rightly accepted)."""
    results = [try_train_config(tmp_path, f, v) for f, _, v in train_config_cases()]
    results += [try_env_option(e, f, v) for e, f, _, v in env_option_cases()]
    tried = len(results)
    clean = sum(not r.startswith("unclean") for r in results)
    refused = sum(r == "clean" for r in results)
    return {"tried": tried, "clean or valid": clean, "refused by name": refused, "other": tried - clean}


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        print(counts(Path(d)))
