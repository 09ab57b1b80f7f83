"""The quick start of the docs' home page, followed word for word in a fresh folder: every ``mazearena`` command of
its shell block as written, with only budget options added so that it runs in seconds (fewer steps and episodes;
``watch`` into a recording, as there is no display), and its Python block as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = {  # what each command adds to run small; the command itself stays as the page writes it
    "demo": ["--episodes", "8", "--gif-episodes", "0"],
    "train": ["--total-timesteps", "4096", "--eval-every", "4096", "--eval-episodes", "8", "--video-episodes", "0"],
    "eval": [
        "--episodes",
        "8",
        "--curve-episodes",
        "0",
        "--maze-episodes",
        "2",
        "--perturbations",
        "none",
        "--suites",
        "test",
    ],
    "watch": ["--episodes", "1", "--record", "play.gif"],
}


def blocks(language: str) -> list[str]:
    """The fenced ``language`` blocks of the home page's "Quick start" section."""
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    section = page.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_the_quick_start_runs_as_the_docs_write_it(tmp_path):
    (shell,) = blocks("bash")
    commands = [shlex.split(line.split("#", 1)[0]) for line in shell.splitlines() if line.startswith("mazearena ")]
    assert [c[1] for c in commands] == ["demo", "train", "eval", "watch"], commands
    env = os.environ | {"SDL_VIDEODRIVER": "dummy", "WANDB_SILENT": "true", "PYTHONPATH": str(ROOT)}
    for command in commands:
        args = [sys.executable, "-m", "mazearena", *command[1:], *SMOKE[command[1]]]
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert (tmp_path / "runs" / "ppo-mlp-9x9-seed0" / "eval" / "report.md").exists()
    assert (tmp_path / "play.gif").stat().st_size > 0
    (python,) = blocks("python")
    exec(compile(python, "docs/index.md", "exec"), {})
