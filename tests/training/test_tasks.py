"""The task abstraction: one object per kind of task (maze, arena, any Gymnasium env), chosen once from the config,
and the rest of the package asking it instead of testing which kind it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mazearena
from mazearena.agents.league import LeagueConfig
from mazearena.checks import UserError
from mazearena.training.config import ArenaEnvConfig, EnvConfig, TrainConfig
from mazearena.training.tasks import TASKS, TaskKind, task_of

PACKAGE = Path(mazearena.__file__).parent
TASKS_DIR = PACKAGE / "training" / "tasks"

KIND_QUESTION = re.compile(
    r"\b(alg|algorithm\([^)]*\))\.arena\b"  # the registry's flag, asked of an algorithm
    r"|\bruns?(\[\d+\])?\.arena\b"
    r"|\b(env|self)\.maze\b"  # the env section's old flag
    r"|\.task\.kind\b|\bTaskKind\.\w+"
    r"|arena_algorithms\(\)"
    r"|\b\w*cfg\.kind\s*[!=]=\s*[\"']"  # the config's kind field compared with a kind's name
    r"|isinstance\([^)]*\b(Maze|Arena|Gym)Task\b"
    r"|\[\"kind\"\]\s*[!=]=\s*\"(maze|arena|gym)\""  # a kind read back from an export's spec
)
"""A line that asks which kind of task a run is."""


def kind_questions() -> list[str]:
    """``path:line: text`` of every line outside the task modules that asks which kind a task is."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if TASKS_DIR in path.parents:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if KIND_QUESTION.search(line.split("#")[0]):
                found.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    return found


def test_at_most_five_places_outside_the_tasks_ask_which_kind_a_task_is():
    found = kind_questions()
    assert len(found) <= 5, "\n".join(found)


def test_the_kind_question_pattern_finds_the_old_branches():
    # the counter itself must be able to fail: the forms the package used before the tasks
    for line in (
        "if algorithm(cfg.algo).arena:",
        "if alg.arena and team is None:",
        "focal = env.num_agents if run.arena else 1",
        "if runs[0].arena and len(runs) > 1:",
        "if not cfg.env.maze:",
        "if train_cfg.task.kind == TaskKind.ARENA:",
        "isinstance(task, ArenaTask)",
        'if env["kind"] == "arena":',
        'if cfg.kind == "arena":',
    ):
        assert KIND_QUESTION.search(line), line
    assert not KIND_QUESTION.search("a = cfg.arena.scenario_name")


def test_the_config_chooses_the_task_once_by_algorithm_and_env_id():
    assert task_of(TrainConfig()).kind is TaskKind.MAZE
    assert TrainConfig(env=EnvConfig(env_id="mazearena/MazeMemory-v0")).task.kind is TaskKind.MAZE
    assert TrainConfig(env=EnvConfig(env_id="CartPole-v1")).task.kind is TaskKind.GYM
    assert TrainConfig(algo="mappo").task.kind is TaskKind.ARENA
    assert set(TASKS) == set(TaskKind)


@pytest.mark.parametrize(
    ("cfg", "name", "sections", "metric", "suites"),
    [
        (TrainConfig(), "ppo-cnn-9x9-seed0", ("env", "ppo"), "success", ["train", "test", "larger", "harder"]),
        (
            TrainConfig(env=EnvConfig(env_id="CartPole-v1")),
            "ppo-mlp-CartPole-v1-seed0",
            ("env", "ppo"),
            "success",
            ["train", "test"],
        ),
        (
            TrainConfig(algo="mappo", arena=ArenaEnvConfig(mode="ctf"), league=LeagueConfig(self_play=True)),
            "mappo-cnn-selfplay-ctf-seed0",
            ("arena", "mappo", "league"),
            "win rate",
            ["train", "test", "test_arenas", "larger"],
        ),
    ],
)
def test_each_task_answers_for_its_kind(cfg, name, sections, metric, suites):
    task = cfg.task
    assert cfg.run_name == name
    assert cfg.sections == sections
    assert task.metric == metric
    assert task.default_suites(cfg) == suites
    assert task.describe(cfg, 1000)


def test_kind_specific_options_are_refused_by_the_tasks_that_lack_them():
    with pytest.raises(
        UserError, match=r"league.self_play plays mazearena's arenas \(--env arena\), not mazearena/Maze-v0"
    ):
        TrainConfig(league=LeagueConfig(self_play=True))
    with pytest.raises(UserError, match="stop_at_success needs an env with success"):
        TrainConfig(env=EnvConfig(env_id="CartPole-v1"), stop_at_success=0.5)
    with pytest.raises(UserError, match="train_perturbations act on mazearena's mazes and arenas, not on CartPole"):
        TrainConfig(env=EnvConfig(env_id="CartPole-v1"), train_perturbations=("obs_noise:0.1",))
    with pytest.raises(UserError, match="stop_at_win_rate is for arenas"):
        TrainConfig(stop_at_win_rate=0.5)
    with pytest.raises(UserError, match="unknown suite"):
        TrainConfig(algo="mappo").task.check_suites(TrainConfig(algo="mappo"), ["harder"])
