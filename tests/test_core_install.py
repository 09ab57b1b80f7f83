"""Dependencies by use: a fresh venv with only the core install (no extra) makes and steps every env, and
importing a part that needs an extra says which one.

Builds and installs the project into a new virtual environment (torch at the version running these tests),
so it takes a minute; it needs the package index that ``pip`` is configured with.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

SMOKE = textwrap.dedent(
    """
    import importlib.util
    import gymnasium as gym
    import torch
    import mazearena
    from mazearena.envs import arena_v0

    for env_id in mazearena.MAZE_IDS:
        for obs_mode in ("partial", "full", "rgb"):
            env = gym.make(env_id, size=9, obs_mode=obs_mode, render_mode="rgb_array")
            env.reset(seed=0)
            for _ in range(10):
                env.step(env.action_space.sample())
            assert env.render().ndim == 3
        vec = mazearena.make_vec(env_id, 4, seed=0, size=9)
        vec.reset()
        for _ in range(10):
            vec.step(vec.action_space.sample())
    for mode in ("tag", "ctf", "combat"):
        env = arena_v0.parallel_env(mode=mode, size=11, render_mode="rgb_array")
        env.reset(seed=0)
        for _ in range(10):
            if not env.agents:
                env.reset()
            env.step({a: env.action_space(a).sample() for a in env.agents})
        assert env.render().ndim == 3
        arena_v0.env(mode=mode, size=11).reset(seed=0)
        vec = arena_v0.vector_env(2, seed=0, mode=mode, size=11)
        vec.reset()
        vec.step(torch.zeros((2, len(vec.possible_agents)), dtype=torch.long))
    optional = ("tyro", "rich", "yaml", "wandb", "matplotlib", "scipy", "openskill", "imageio", "pygame",
                "stable_baselines3")
    present = [m for m in optional if importlib.util.find_spec(m) is not None]
    assert not present, f"not a core-only install: {present}"
    for module, extra in (("mazearena.training", "train"), ("mazearena.evaluation", "eval"),
                          ("mazearena.apps.cli", "train"), ("mazearena.agents.sb3", "sb3")):
        try:
            __import__(module)
        except ModuleNotFoundError as e:
            assert f"mazearena[{extra}]" in str(e), (module, str(e))
        else:
            raise AssertionError(f"{module} imported without its extra")
    print("core ok")
    """
)


def test_a_core_only_install_makes_and_steps_every_env(tmp_path):
    env_dir = tmp_path / "core"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")

    def run(*args: str) -> str:
        done = subprocess.run([python, *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    # torch as the tests run it (a CPU build stays a CPU build), then the project with its core dependencies only
    run("-m", "pip", "install", "--quiet", f"torch=={torch.__version__.split('+')[0]}")
    # built from a copy: building in the checkout would leave build/ and egg-info folders there
    source = shutil.copytree(
        ROOT,
        tmp_path / "source",
        ignore=shutil.ignore_patterns(".git", ".venv*", "runs", "build", "site", "wandb", "*.egg-info", "__pycache__"),
    )
    run("-m", "pip", "install", "--quiet", str(source))
    assert "core ok" in run("-c", SMOKE)
