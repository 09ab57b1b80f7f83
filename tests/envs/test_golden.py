"""Golden trajectories: every env id, arena mode and observation mode plays exactly the recorded games.

Each digest is a SHA-256 over everything a trainer sees (observations, rewards, flags, final observations,
level ids, episode lengths, successes or winners, centralised states, rendered frames) under seeded random
actions, across several episodes. They were recorded before the engine's rules became data; a change to
any of them is a behaviour change. Re-record only for a deliberate one, and say so in its commit and here.
Re-recorded: the arena env digests when infos began to hold the team as a number (0/1) instead of its name;
with the name put back, the same games give the recorded digests. The maze env digests of the plane modes
when their observations became int8 (the dtype of ``MultiBinary``) instead of uint8; viewed as uint8 again,
the same games give the recorded digests. The MazeMemory-v0 digests were recorded when the id was added (the
other ids' digests unchanged by it).
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest
import torch

import mazearena
from mazearena.envs import arena_v0
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine
from mazearena.envs.engine.maze import MazeConfig, MazeEngine


class Digest:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def add(self, x) -> None:
        if isinstance(x, dict):
            for k in sorted(x):
                self.h.update(k.encode())
                self.add(x[k])
        elif isinstance(x, (tuple, list)):
            for v in x:
                self.add(v)
        elif isinstance(x, torch.Tensor):
            self.add(x.detach().cpu().numpy())
        elif isinstance(x, np.ndarray):
            self.h.update(str((x.dtype.str, x.shape)).encode())
            self.h.update(np.ascontiguousarray(x).tobytes())
        else:
            self.h.update(repr(x).encode())

    def hex(self) -> str:
        return self.h.hexdigest()[:16]


MAZE_CASES = [
    (env_id, obs, act)
    for env_id in mazearena.MAZE_IDS
    for obs, act in (("partial", "cardinal"), ("partial", "turn"), ("full", "cardinal"), ("rgb", "turn"))
]


def maze_engine_digest(
    env_id: str, obs_mode: str, actions: str, backend: str, num_levels: int, device: str = "cpu"
) -> str:
    kwargs = {k: v for k, v in gym.spec(env_id).kwargs.items()}
    cfg = MazeConfig(**{**kwargs, "size": 9, "obs_mode": obs_mode, "actions": actions, "num_levels": num_levels})
    engine = MazeEngine(8, cfg, max_episode_steps=30, backend=backend, device=device)
    rng = np.random.default_rng(3)
    d = Digest()
    d.add(engine.reset(torch.arange(100, 108, device=device)))
    for _ in range(120):
        action = torch.from_numpy(rng.integers(0, cfg.num_actions, 8)).to(device)
        obs, reward, terminated, truncated, info = engine.step(action)
        d.add((obs, reward, terminated, truncated, info))
    d.add(engine.state_dict())
    return d.hex()


def maze_env_digest(env_id: str, obs_mode: str, actions: str) -> str:
    env = gym.make(env_id, size=9, obs_mode=obs_mode, actions=actions, max_episode_steps=30, render_mode="rgb_array")
    rng = np.random.default_rng(4)
    d = Digest()
    obs, info = env.reset(seed=21)
    d.add((obs, info))
    for t in range(150):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        d.add((obs, float(reward), terminated, truncated, info))
        if t % 37 == 0:
            d.add(env.render())
        if terminated or truncated:
            d.add(env.reset())
    return d.hex()


MAZE_GOLDEN = {
    "mazearena/Maze-v0|full|cardinal": {
        "env": "90f058c4b8e301e3",
        "numba-0": "6293ca7fe9966029",
        "numba-16": "c01767eab43261b9",
        "torch-0": "6293ca7fe9966029",
        "torch-16": "c01767eab43261b9",
    },
    "mazearena/Maze-v0|partial|cardinal": {
        "env": "8f6346e2f6938175",
        "numba-0": "40998979b0066c46",
        "numba-16": "bf4b24600e9c4991",
        "torch-0": "40998979b0066c46",
        "torch-16": "bf4b24600e9c4991",
    },
    "mazearena/Maze-v0|partial|turn": {
        "env": "323c4c5f3c1765ac",
        "numba-0": "945c8e735b9de243",
        "numba-16": "b6affd002f3371c6",
        "torch-0": "945c8e735b9de243",
        "torch-16": "b6affd002f3371c6",
    },
    "mazearena/Maze-v0|rgb|turn": {
        "env": "9f858cdc8f8707a7",
        "numba-0": "288f2f2e1fbbfee2",
        "numba-16": "56b8aa791609bfb2",
        "torch-0": "288f2f2e1fbbfee2",
        "torch-16": "56b8aa791609bfb2",
    },
    "mazearena/MazeHazards-v0|full|cardinal": {
        "env": "d1bc2f2872a6168a",
        "numba-0": "09fdf1c7d17d7e87",
        "numba-16": "39dfe01f8f233552",
        "torch-0": "09fdf1c7d17d7e87",
        "torch-16": "39dfe01f8f233552",
    },
    "mazearena/MazeHazards-v0|partial|cardinal": {
        "env": "f3c2224442e5db45",
        "numba-0": "449d0779191f836a",
        "numba-16": "02385449bbf3178d",
        "torch-0": "449d0779191f836a",
        "torch-16": "02385449bbf3178d",
    },
    "mazearena/MazeHazards-v0|partial|turn": {
        "env": "23296b9b82c17f02",
        "numba-0": "0313adbbead8bb5c",
        "numba-16": "cb7de13d47c5c5bf",
        "torch-0": "0313adbbead8bb5c",
        "torch-16": "cb7de13d47c5c5bf",
    },
    "mazearena/MazeHazards-v0|rgb|turn": {
        "env": "1943ba99ee7e1d76",
        "numba-0": "c83e9aabf9ecbf2e",
        "numba-16": "ff83cc8711750a20",
        "torch-0": "c83e9aabf9ecbf2e",
        "torch-16": "ff83cc8711750a20",
    },
    "mazearena/MazeKeyDoor-v0|full|cardinal": {
        "env": "2aabbc088f4f5097",
        "numba-0": "951317538c35184e",
        "numba-16": "40879b26a7345a97",
        "torch-0": "951317538c35184e",
        "torch-16": "40879b26a7345a97",
    },
    "mazearena/MazeKeyDoor-v0|partial|cardinal": {
        "env": "8a5a11e0c56cb971",
        "numba-0": "00e853feb6aff87e",
        "numba-16": "695fc9cf3d327980",
        "torch-0": "00e853feb6aff87e",
        "torch-16": "695fc9cf3d327980",
    },
    "mazearena/MazeKeyDoor-v0|partial|turn": {
        "env": "605a260350cbd99e",
        "numba-0": "15d0cbe9988039e1",
        "numba-16": "fe53a93ae762f551",
        "torch-0": "15d0cbe9988039e1",
        "torch-16": "fe53a93ae762f551",
    },
    "mazearena/MazeKeyDoor-v0|rgb|turn": {
        "env": "3e7c1b9cb764b9cd",
        "numba-0": "9eda652acb86e61a",
        "numba-16": "fb10cd2e478a0db1",
        "torch-0": "9eda652acb86e61a",
        "torch-16": "fb10cd2e478a0db1",
    },
    "mazearena/MazeMemory-v0|partial|cardinal": {
        "env": "0a1b57ad56381e82",
        "numba-0": "5e75c8801dae0b48",
        "numba-16": "38ad10c1d01f00e0",
        "torch-0": "5e75c8801dae0b48",
        "torch-16": "38ad10c1d01f00e0",
    },
    "mazearena/MazeMemory-v0|partial|turn": {
        "env": "761d7d037fe1742b",
        "numba-0": "bdcfcf6a06e033e3",
        "numba-16": "7c31395b1d90cf39",
        "torch-0": "bdcfcf6a06e033e3",
        "torch-16": "7c31395b1d90cf39",
    },
    "mazearena/MazeMemory-v0|full|cardinal": {
        "env": "32fdda38119c2fb7",
        "numba-0": "6d888276db2c34ec",
        "numba-16": "f0b7e730c06d56b5",
        "torch-0": "6d888276db2c34ec",
        "torch-16": "f0b7e730c06d56b5",
    },
    "mazearena/MazeMemory-v0|rgb|turn": {
        "env": "63159ea1401b59cd",
        "numba-0": "d088ad0d07f89c83",
        "numba-16": "fbb654900d7ad319",
        "torch-0": "d088ad0d07f89c83",
        "torch-16": "fbb654900d7ad319",
    },
}


@pytest.mark.parametrize("env_id,obs_mode,actions", MAZE_CASES)
def test_maze_engines_play_the_recorded_games(env_id, obs_mode, actions, device):
    want = MAZE_GOLDEN[f"{env_id}|{obs_mode}|{actions}"]
    if device != "cpu":  # the torch rules on the accelerator play the games the CPU recorded
        got = {f"torch-{n}": maze_engine_digest(env_id, obs_mode, actions, "torch", n, device) for n in (0, 16)}
        assert got == {k: v for k, v in want.items() if k.startswith("torch")}
        return
    got = {
        f"{backend}-{levels}": maze_engine_digest(env_id, obs_mode, actions, backend, levels)
        for backend in ("torch", "numba")
        for levels in (0, 16)
    }
    got["env"] = maze_env_digest(env_id, obs_mode, actions)
    assert got == want


ARENA_CASES = [(mode, obs) for mode in ("tag", "ctf", "combat") for obs in ("grid", "tokens", "both")]
ARENA_OPTIONS = {"ctf": {"pickup_reward": 0.25, "flag_shaping": 1.0}}


def arena_engine_digest(mode: str, obs_mode: str, backend: str, num_levels: int, device: str = "cpu") -> str:
    cfg = ArenaConfig(
        mode=mode,
        obs_mode=obs_mode,
        red=3,
        blue=2,
        size=13,
        max_cycles=40,
        num_levels=num_levels,
        **ARENA_OPTIONS.get(mode, {}),
    )
    engine = ArenaEngine(6, cfg, backend=backend, device=device)
    rng = np.random.default_rng(5)
    d = Digest()
    d.add(engine.reset(torch.arange(50, 56, device=device)))
    for _ in range(100):
        obs, reward, terminated, truncated, info = engine.step(
            torch.from_numpy(rng.integers(0, cfg.num_actions, (6, cfg.num_agents))).to(device)
        )
        d.add((obs, reward, terminated, truncated, info, engine.state()))
    d.add(engine.state_dict())
    return d.hex()


def arena_env_digest(mode: str, obs_mode: str) -> str:
    env = arena_v0.parallel_env(
        mode=mode,
        obs_mode=obs_mode,
        red=2,
        blue=3,
        size=11,
        max_cycles=30,
        render_mode="rgb_array",
        **ARENA_OPTIONS.get(mode, {}),
    )
    rng = np.random.default_rng(6)
    d = Digest()
    d.add(env.reset(seed=9))
    for t in range(120):
        if not env.agents:
            d.add(env.reset())
            continue
        d.add(env.step({a: int(rng.integers(env.action_space(a).n)) for a in env.agents}))
        d.add(env.state())
        if t % 29 == 0:
            d.add(env.render())
    return d.hex()


ARENA_GOLDEN = {
    "combat|both": {
        "env": "4fc4d0850966f210",
        "numba-0": "dad449f3d005cda5",
        "numba-8": "e4dba32302861145",
        "torch-0": "dad449f3d005cda5",
        "torch-8": "e4dba32302861145",
    },
    "combat|grid": {
        "env": "3e0e0e76856a3343",
        "numba-0": "848a03fe84af284d",
        "numba-8": "bad3382abfcf222b",
        "torch-0": "848a03fe84af284d",
        "torch-8": "bad3382abfcf222b",
    },
    "combat|tokens": {
        "env": "016d2cea7e8075f9",
        "numba-0": "1d7f84fbb6fc46c3",
        "numba-8": "009ec35b3bc8349b",
        "torch-0": "1d7f84fbb6fc46c3",
        "torch-8": "009ec35b3bc8349b",
    },
    "ctf|both": {
        "env": "bb33f47f7a9a2825",
        "numba-0": "41c3aa2fbb059e6b",
        "numba-8": "45fd89bf73184852",
        "torch-0": "41c3aa2fbb059e6b",
        "torch-8": "45fd89bf73184852",
    },
    "ctf|grid": {
        "env": "0baa320a0dcd0627",
        "numba-0": "acae86ebf5eb70b0",
        "numba-8": "f3b28426fcab7af0",
        "torch-0": "acae86ebf5eb70b0",
        "torch-8": "f3b28426fcab7af0",
    },
    "ctf|tokens": {
        "env": "10928491464f5292",
        "numba-0": "2fc55d0582496b7a",
        "numba-8": "58db3aa58e01c0c2",
        "torch-0": "2fc55d0582496b7a",
        "torch-8": "58db3aa58e01c0c2",
    },
    "tag|both": {
        "env": "f33dcaaa10e3b608",
        "numba-0": "c5fdf22416e1cd50",
        "numba-8": "e91dd7840f2f0229",
        "torch-0": "c5fdf22416e1cd50",
        "torch-8": "e91dd7840f2f0229",
    },
    "tag|grid": {
        "env": "57b6c9f0ae3bcec6",
        "numba-0": "7cf5134c8063337e",
        "numba-8": "67db830bb3a426ae",
        "torch-0": "7cf5134c8063337e",
        "torch-8": "67db830bb3a426ae",
    },
    "tag|tokens": {
        "env": "94d56dceec129f3a",
        "numba-0": "ab95b932f78b14af",
        "numba-8": "ab25cc6326d70dd6",
        "torch-0": "ab95b932f78b14af",
        "torch-8": "ab25cc6326d70dd6",
    },
}


@pytest.mark.parametrize("mode,obs_mode", ARENA_CASES)
def test_arena_engines_play_the_recorded_games(mode, obs_mode, device):
    want = ARENA_GOLDEN[f"{mode}|{obs_mode}"]
    if device != "cpu":  # the torch rules on the accelerator play the games the CPU recorded
        got = {f"torch-{n}": arena_engine_digest(mode, obs_mode, "torch", n, device) for n in (0, 8)}
        assert got == {k: v for k, v in want.items() if k.startswith("torch")}
        return
    got = {
        f"{backend}-{levels}": arena_engine_digest(mode, obs_mode, backend, levels)
        for backend in ("torch", "numba")
        for levels in (0, 8)
    }
    got["env"] = arena_env_digest(mode, obs_mode)
    assert got == want
