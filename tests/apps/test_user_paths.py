"""Small things a user hits: example configs by name from anywhere, lower-case choices as the help shows them,
paths given as strings, a headless play that could never end, and TensorBoard logs."""

import pytest

from mazearena.apps.cli import main
from mazearena.apps.play import PlayConfig, play
from mazearena.training import TrainConfig, train
from mazearena.training.config import example_configs, find_config, load_config


def test_the_example_configs_ship_with_the_package_and_load_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # outside the repository, as a pip-installed user is
    assert example_configs() == [
        "a2c_maze7",
        "a2c_tag",
        "dqn_maze7",
        "mappo_tag",
        "ppo_maze13_fast",
        "ppo_maze15_ued",
        "ppo_maze9",
        "ppo_maze9_fast",
        "ppo_memory9",
        "selfplay_ctf",
    ]
    for name in example_configs():
        assert load_config(find_config(name)).total_timesteps > 0
        assert find_config(f"{name}.yaml") == find_config(name) == find_config(f"configs/{name}.yaml")
    (tmp_path / "mine.yaml").write_text("total_timesteps: 64\n")
    assert find_config("mine.yaml").resolve() == tmp_path / "mine.yaml"  # a path that exists comes first
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--config", "nope"])
    err = " ".join(capsys.readouterr().err.split())
    shipped = "'nope' does not exist (nor is it a shipped example: a2c_maze7, a2c_tag, dqn_maze7"
    assert exit_.value.code == 2 and shipped in err


def test_lower_case_choices_strings_for_paths_and_a_headless_play_that_could_not_end(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert play(PlayConfig(size=7, actions="turn", max_frames=2, fps=1000)).frames == 2
    with pytest.raises(ValueError, match="no window to close"):
        PlayConfig(size=7)
    cfg = TrainConfig(runs_dir=str(tmp_path), resume=None, init_from=None)
    assert cfg.runs_dir == tmp_path


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    cfg = TrainConfig(runs_dir=tmp_path, name="tb", total_timesteps=256, tensorboard=True, progress=False)
    cfg.env.size, cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches = 7, 8, 16, 2
    cfg.eval_every, cfg.video_episodes, cfg.eval_episodes, cfg.wandb_mode = 0, 0, 8, "disabled"
    run = train(cfg)
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
