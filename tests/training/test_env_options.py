"""Every maze and arena option trains from the command line and YAML: the training sections take their options
from the env configs (declared once there), with the training defaults."""

import dataclasses
import re

import pytest
import yaml

from mazearena.apps import cli
from mazearena.envs.engine.arena import ArenaConfig
from mazearena.envs.engine.maze import MazeConfig
from mazearena.training import EnvConfig, TrainConfig, load_config, train
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.config import ARENA_OPTIONS, MAZE_OPTIONS, ArenaEnvConfig, save_config
from mazearena.training.runs import make_envs

# what training leaves out, and why: the section's max_episode_steps sets the time limit on every env; networks
# read channels first; an arena scenario fixes the mode and teams (``arena.mode`` picks a scenario)
NOT_TRAINED = {"maze": {"max_steps", "obs_layout"}, "arena": {"mode", "red", "blue", "obs_layout"}}


def _names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_env_option_is_a_training_option_with_the_env_configs_help(capsys, monkeypatch):
    assert set(MAZE_OPTIONS) == _names(MazeConfig) - NOT_TRAINED["maze"]
    assert set(ARENA_OPTIONS) == _names(ArenaConfig) - NOT_TRAINED["arena"]
    assert set(MAZE_OPTIONS) <= _names(EnvConfig) and set(ARENA_OPTIONS) <= _names(ArenaEnvConfig)
    monkeypatch.setenv("COLUMNS", "80")  # one column
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(re.sub("[│╭╮╰╯─]", " ", capsys.readouterr().out).split())  # without rich's box
    for section, options in (("env", MAZE_OPTIONS), ("arena", ARENA_OPTIONS)):
        for name in options:
            assert f"--{section}.{name.replace('_', '-')}" in out, name
    # the help is the env config's docstring
    assert "``kruskal`` (short dead ends) or ``backtracker`` (long corridors). (default: kruskal)" in out
    assert "``combat`` only: how many cells an attack reaches. (default: 3)" in out
    assert "Unset (None): the env id's, 0.25 for mazearena/MazeHazards-v0, else 0.0." in out


def test_training_defaults_and_what_the_env_id_sets():
    env = EnvConfig()
    assert (env.size, env.num_levels) == (9, 500)  # the training defaults
    assert env.maze_config() == MazeConfig(size=9, num_levels=500, max_steps=4 * 81)
    hazards = EnvConfig(env_id="mazearena/MazeHazards-v0")
    assert (hazards.maze_config().variant, hazards.maze_config().loops) == ("hazards", 0.25)
    plain = EnvConfig(env_id="mazearena/MazeHazards-v0", loops=0.0, variant="goal")
    assert (plain.maze_config().variant, plain.maze_config().loops) == ("goal", 0.0)
    test = env.maze_config(test=True)
    assert (test.num_levels, test.start_level) == (0, env.test_start_level)


def test_maze_options_from_the_command_line_reach_every_env_of_the_run(monkeypatch):
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "train", seen.append)
    args = "--env.generator backtracker --env.actions turn --env.rooms 2 --env.loops 0.1 --env.variant key_door"
    assert cli.main(["train", *args.split(), "--env.obs-mode", "rgb", "--env.pixel-tile", "4"]) == 0
    cfg = seen[0]
    want = dict(generator="backtracker", actions="turn", rooms=2, loops=0.1, variant="key_door", pixel_tile=4)
    for test in (False, True):
        made = make_envs(cfg, 2, test=test, seed=0).config
        assert {k: getattr(made, k) for k in want} == want
        assert made.start_level == (cfg.env.test_start_level if test else 0)
    assert cfg.task.suite_env(cfg, "test", 2, seed=0).config.actions == "turn"
    assert cfg.task.suite_env(cfg, "harder", 2, seed=0).config.rooms == 2


def test_arena_options_from_the_command_line_reach_the_arena(monkeypatch):
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "train", seen.append)
    args = "--env arena --mode combat --arena.max-health 5 --arena.attack-range 2 --arena.layout open"
    assert cli.main(["train", *args.split()]) == 0
    made = make_envs(seen[0], 2, test=True, seed=0).config
    assert (made.mode, made.max_health, made.attack_range, made.layout) == ("combat", 5, 2, "open")
    with pytest.raises(ValueError, match="attack_range"):
        ArenaEnvConfig(attack_range=0)
    with pytest.raises(TypeError):  # what the scenario fixes is not an option
        ArenaEnvConfig(red=3)


def test_options_round_trip_through_yaml_and_old_config_files_still_load(tmp_path):
    cfg = TrainConfig(env=EnvConfig(generator="backtracker", actions="turn", rooms=1, loops=None))
    save_config(cfg, tmp_path / "c.yaml")
    text = (tmp_path / "c.yaml").read_text()
    assert "generator: backtracker" in text and "loops: null" in text
    assert load_config(tmp_path / "c.yaml") == cfg
    # a config.yaml written before the options were derived: the fields it has, nothing more
    old = {
        "env": dict(env_id="mazearena/Maze-v0", size=7, view_size=5, obs_mode="partial", num_levels=50),
        "arena": dict(scenario="", mode="", size=15, layout="rooms", obs_mode="grid", pickup_reward=0.0),
    }
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    loaded = load_config(tmp_path / "old.yaml")
    assert loaded.env.maze_config() == MazeConfig(size=7, view_size=5, num_levels=50, max_steps=4 * 49)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"env": {"generator": "prim"}}))
    with pytest.raises(ValueError, match="generator must be one of 'kruskal', 'backtracker', got 'prim'"):
        load_config(tmp_path / "bad.yaml")


def test_a_run_trains_with_turn_actions_and_pixels_and_resumes(tmp_path):
    env = EnvConfig(size=7, num_levels=20, actions="turn", obs_mode="rgb", pixel_tile=4, generator="backtracker")
    cfg = TrainConfig(
        env=env,
        ppo=PPOConfig(num_envs=4, num_steps=16, num_minibatches=2),
        total_timesteps=128,
        checkpoint_every=64,
        eval_every=0,
        eval_episodes=4,
        video_episodes=0,
        wandb_mode="offline",
        progress=False,
        runs_dir=tmp_path,
    )
    run = train(cfg)
    saved = load_config(run / "config.yaml")
    assert saved.env == env and saved.env.maze_config().num_actions == 3
    resumed = train(dataclasses.replace(saved, resume=run, total_timesteps=192))
    assert resumed == run
