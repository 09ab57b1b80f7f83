"""The capture-the-flag study scripts as a user runs them: behaviour cloning of the scripted team into a
checkpoint that ``--init-from`` starts a run from, and that run head to head against the script."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mazearena.training import TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.config import ArenaEnvConfig

ROOT = Path(__file__).resolve().parents[2]
ARENA = ["--env", "arena", "--arena.scenario", "ctf_3v2_vs_guard_and_runner", "--arena.size", "9"]


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def cloned(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bc") / "bc.pt"
    done = script(
        "ctf_behaviour_cloning.py",
        *("--out", out, "--iterations", "2", "--games", "8", "--steps", "8", "--epochs", "1", "--eval-games", "8"),
        "--",
        *ARENA,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"round 2/2: script's share 0\.00, agrees with the script on 0\.\d{3}", done.stdout)
    assert re.search(r"held-out \(deterministic\): wins \d\.\d{3} \(\d\.\d{3}-\d\.\d{3}\)", done.stdout)
    return out


def test_cloned_team_starts_a_run_that_plays_the_script_head_to_head(cloned, tmp_path):
    run = train(
        TrainConfig(
            runs_dir=tmp_path,
            name="ctf",
            algo="mappo",
            arena=ArenaEnvConfig(scenario="ctf_3v2_vs_guard_and_runner", size=9, max_cycles=20, num_levels=20),
            mappo=MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
            total_timesteps=128,
            init_from=cloned,
            eval_every=0,
            eval_episodes=8,
            video_episodes=0,
            wandb_mode="disabled",
            progress=False,
        )
    )
    done = script("ctf_head_to_head.py", run, "--games", "8")
    assert done.returncode == 0, done.stderr
    found = re.search(r"8 games in ctf_3v3_vs_guards: wins ([\d.]+) .*draws ([\d.]+) .*losses ([\d.]+)", done.stdout)
    assert found, done.stdout
    assert sum(map(float, found.groups())) == pytest.approx(1.0, abs=2e-3)


def test_head_to_head_names_a_game_that_is_not_capture_the_flag(tmp_path):
    done = script("ctf_head_to_head.py", tmp_path, "--scenario", "tag_2v1_vs_fleeing_npc")
    assert done.returncode == 2 and "is not a capture-the-flag scenario" in done.stderr
