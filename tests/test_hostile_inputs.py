"""Hostile inputs (issue 39's list and its neighbours): each one is refused with one clear line, before anything is
written; none reaches a traceback from deep inside."""

import gymnasium as gym
import pytest

import mazearena  # noqa: F401  (registers the ids)
from mazearena.apps.cli import main
from mazearena.checks import UserError
from mazearena.training import TrainConfig


@pytest.mark.parametrize(
    "name,message",
    [
        ("x" * 300, "300 bytes long; at most 200"),
        ("é" * 101, "202 bytes long"),
        (" ", "must not start or end with a space"),
        ("run ", "must not start or end with a space"),
        (" run", "must not start or end with a space"),
        ("a\tb", "control characters"),
        ("a\nb", "control characters"),
        ("a\x7fb", "control characters"),
    ],
)
def test_run_names_a_file_system_or_a_shell_would_trip_on_are_refused(name, message, tmp_path):
    with pytest.raises(UserError, match=message):
        TrainConfig(name=name, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # refused before any folder is made


def test_a_long_name_on_the_command_line_is_one_line_and_leaves_nothing(tmp_path, capsys):
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as code:
        main(["train", "--name", "x" * 300, "--runs-dir", str(runs), "--no-progress", "--wandb-mode", "disabled"])
    err = capsys.readouterr().err
    assert code.value.code == 2 and "Traceback" not in err and "at most 200" in " ".join(err.split())
    assert not runs.exists()


def test_a_name_of_200_bytes_is_a_valid_folder(tmp_path):
    assert TrainConfig(name="y" * 200, runs_dir=tmp_path).run_name == "y" * 200


@pytest.mark.parametrize("env_id", ["mazearena/Maze-v0", "mazearena/MazeKeyDoor-v0"])
def test_stepping_a_maze_before_reset_says_so(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(0)
    env.reset(seed=0)
    env.step(0)  # and then it plays


@pytest.mark.parametrize(
    "text,message",
    [
        ("total_timesteps: 100\ntotal_timesteps: 200\n", r"'total_timesteps' is given twice \(first at line 1\)"),
        ("ppo:\n  num_envs: 8\nppo:\n  num_envs: 16\n", r"'ppo' is given twice"),
        ("ppo:\n  num_envs: 8\n  num_envs: 16\n", r"line 3.*'num_envs' is given twice \(first at line 2\)"),
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ("a: " + "{b: " * 5_000 + "1" + "}" * 5_000, "nested too deeply"),  # 5,000 nested maps, 20 KB
        ("a:\n" + "".join("  " * i + "b:\n" for i in range(1, 5_000)), "holds 25,010,000 bytes"),  # 25 MB: unread
    ],
)
def test_config_files_with_a_key_twice_or_absurd_nesting_are_refused_in_one_line(text, message, tmp_path):
    from mazearena.training.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_config(path)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"record": "x.txt"}, "record must be a .gif or .mp4 path, got '.*x.txt'"),
        ({"record": "x.gif", "fps": 0}, "fps must be a number > 0, got 0"),
        ({"record": "x.gif", "fps": float("nan")}, "fps must be a number > 0"),
        ({"record": "x.gif", "tile": 0}, r"tile must be an int in \[8, 128\], got 0"),
        ({"tile": 4096}, r"tile must be an int in \[8, 128\]"),
    ],
)
def test_watch_and_play_refuse_what_they_could_not_draw_before_playing(options, message, tmp_path, monkeypatch):
    from mazearena.apps.play import PlayConfig
    from mazearena.apps.watch import WatchConfig

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    if "record" in options:
        options = {**options, "record": tmp_path / options["record"]}
    with pytest.raises(UserError, match=message):
        WatchConfig(run=tmp_path, **options)
    with pytest.raises(UserError, match=message):
        PlayConfig(max_frames=1, **options)


@pytest.mark.parametrize("command", ["eval", "export", "compare", "demo"])
@pytest.mark.parametrize("where", ["file", "under_a_file"])
def test_an_output_folder_that_is_a_file_or_cannot_be_made_is_one_line(command, where, tiny_maze_run, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    out = taken if where == "file" else taken / "sub"
    argv = {
        "eval": ["eval", str(tiny_maze_run), "--episodes", "8", "--suites", "test", "--perturbations", "none",
                 "--curve-episodes", "0", "--mazes", "none", "--wandb-mode", "disabled", "--no-progress"],
        "export": ["export", str(tiny_maze_run)],
        "compare": ["compare", str(tiny_maze_run)],
        "demo": ["demo", "--episodes", "1"],
    }[command]  # fmt: skip
    code = main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert ("is a file" if where == "file" else "cannot be made") in err
    assert taken.read_text() == "mine"


@pytest.mark.parametrize(
    "make",
    [
        lambda: mazearena.make_vec("mazearena/Maze-v0", 10**7),
        lambda: mazearena.make_vec("mazearena/Maze-v0", 10**6, size=127),
        lambda: __import__("mazearena.envs.arena_v0", fromlist=["x"]).vector_env(10**7),
        lambda: __import__("mazearena.envs.arena_v0", fromlist=["x"]).vector_env(10**5, size=63),
    ],
    ids=["maze-1e7", "maze-1e6-127", "arena-1e7", "arena-1e5-63"],
)
def test_batches_that_cannot_fit_in_memory_are_refused_before_allocating(make, monkeypatch):
    import mazearena.checks

    monkeypatch.setattr(mazearena.checks, "free_memory", lambda device: 8 * 2**30)  # a machine with 8 GiB free
    with pytest.raises(ValueError, match=r"num_envs=.* needs about .* GiB .* 8[.]0 GiB are free on cpu: use fewer"):
        make()


def test_a_batch_that_fits_is_made_and_the_estimate_is_not_far_below_what_it_takes(monkeypatch):
    import mazearena.checks

    seen = {}
    real = mazearena.checks.check_memory

    def spy(what, games, per_game, device):
        seen["per_game"] = per_game
        return real(what, games, per_game, device)

    monkeypatch.setattr(mazearena.envs.engine.maze, "check_memory", spy)
    envs = mazearena.make_vec("mazearena/Maze-v0", 256, size=15)
    state = sum(t.numel() * t.element_size() for t in (envs.engine.grid, envs.engine.pos, envs.engine.t))
    assert seen["per_game"] * 256 >= state  # at least what the engine's own state holds


@pytest.mark.parametrize(
    "argv",
    [["--ppo.num-envs", "100000000"], ["--algo", "mappo", "--mappo.num-envs", "100000000"]],
    ids=["ppo", "mappo"],
)
def test_training_envs_that_cannot_fit_are_refused_in_one_line_before_the_run_folder(argv, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["train", *argv, "--runs-dir", str(runs), "--no-progress", "--wandb-mode", "disabled"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "num_envs=100,000,000" in err and "GiB are free" in err
    assert not runs.exists()


def test_a_refused_init_from_leaves_no_run_folder_behind(tiny_maze_run, tmp_path):
    from mazearena.training import EnvConfig, train
    from mazearena.training.checkpoint import CheckpointError

    runs = tmp_path / "runs"
    common = dict(runs_dir=runs, name="x", total_timesteps=256, progress=False, wandb_mode="offline")
    with pytest.raises(CheckpointError, match="does not exist"):
        train(TrainConfig(init_from=tmp_path / "nowhere", **common))
    assert not (runs / "x").exists()
    with pytest.raises(CheckpointError, match="size mismatch"):  # a network of another width
        train(TrainConfig(init_from=tiny_maze_run, backbone_width=8, env=EnvConfig(size=7), **common))
    assert not (runs / "x").exists()


def test_links_in_a_run_folder_are_never_followed_out_of_it(tiny_maze_run, tmp_path, capsys):
    import dataclasses
    import shutil

    from mazearena.training import train
    from mazearena.training.config import load_config

    run = shutil.copytree(tiny_maze_run, tmp_path / "run")
    victim = tmp_path / "precious.txt"
    victim.write_text("precious")
    (run / ".lock").unlink(missing_ok=True)
    (run / ".lock").symlink_to(victim)
    cfg = dataclasses.replace(load_config(run / "config.yaml"), resume=run, total_timesteps=512)
    with pytest.raises(UserError, match="is a symbolic link"):
        train(cfg)
    assert victim.read_text() == "precious"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "eval").symlink_to(elsewhere, target_is_directory=True)
    argv = ["eval", str(run), "--episodes", "8", "--suites", "test", "--perturbations", "none", "--mazes", "none"]
    code = main([*argv, "--curve-episodes", "0", "--wandb-mode", "disabled", "--no-progress"])
    assert code == 2 and "leads out of the run folder" in capsys.readouterr().err
    assert not any(elsewhere.iterdir())


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="display servers are Linux's")
def test_a_window_without_a_display_is_refused_before_playing_and_a_recording_needs_none(tmp_path, monkeypatch):
    from mazearena.apps.play import PlayConfig
    from mazearena.apps.watch import WatchConfig

    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match="no display to open a window on"):
        WatchConfig(run=tmp_path)
    with pytest.raises(UserError, match="no display to open a window on"):
        PlayConfig()
    assert WatchConfig(run=tmp_path, record=tmp_path / "w.gif").record is not None  # no window: no display needed
    monkeypatch.setenv("DISPLAY", ":99")
    assert WatchConfig(run=tmp_path).run == tmp_path


@pytest.mark.parametrize(
    "options,resources,message",
    [
        ({"gpus_per_trial": 1.0}, {"CPU": 2.0}, r"gpus_per_trial=1, but the Ray cluster has 0 GPUs"),
        ({"cpus_per_trial": 4.0}, {"CPU": 2.0}, r"cpus_per_trial=4, but the Ray cluster has 2 CPUs"),
    ],
)
def test_a_sweep_whose_trials_could_never_start_is_refused(options, resources, message, tmp_path):
    from mazearena.apps.sweep import SweepConfig, check_resources

    config = tmp_path / "c.yaml"
    config.write_text("total_timesteps: 64\n")
    cfg = SweepConfig(config=config, param=("ppo.learning_rate=1e-3",), runs_dir=tmp_path, **options)
    with pytest.raises(UserError, match=message):
        check_resources(cfg, resources)
    check_resources(cfg, {"CPU": 8.0, "GPU": 1.0})  # fits


def test_output_piped_into_a_reader_that_left_ends_quietly():
    """``mazearena train --help | head -1``: the reader closes the pipe; no traceback, the shell's 141."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mazearena", "train", "--help"], stdout=write, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write)
    assert done.returncode == 141 and b"Traceback" not in done.stderr, done.stderr.decode()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--algo", "mappo", "--env.size", "7", "--ppo.num-envs", "16"], "env.size does not apply to this run"),
        (["--algo", "mappo", "--ppo.num-envs", "16"], "ppo.num_envs does not apply to this run (algo 'mappo'"),
        (["--algo", "dqn", "--ppo.num-envs", "16"], "ppo.num_envs does not apply"),
        (["--algo", "ppo", "--dqn.buffer-size", "5000"], "dqn.buffer_size does not apply"),
        (["--env.size", "7", "--arena.size", "9"], "arena.size does not apply"),
        (["--league.self-play"], "league.self_play plays mazearena's arenas"),  # the task names it first
        (["--plr.buffer-size", "10"], "plr.buffer_size does not apply"),
        (["--env", "arena", "--env.size", "9"], "env.size does not apply"),
    ],
)
def test_options_of_a_section_the_run_does_not_use_are_refused(argv, message, tmp_path, capsys):
    runs = tmp_path / "runs"
    try:
        code = main(["train", *argv, "--runs-dir", str(runs), "--wandb-mode", "disabled", "--total-timesteps", "64"])
    except SystemExit as e:  # refused while parsing
        code = e.code
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not runs.exists()


def test_a_section_the_run_does_not_use_is_refused_from_python_and_yaml_too(tmp_path):
    from mazearena.training.algorithms.ppo import PPOConfig
    from mazearena.training.config import load_config

    with pytest.raises(UserError, match="ppo.num_envs does not apply"):
        TrainConfig(algo="dqn", ppo=PPOConfig(num_envs=16))
    path = tmp_path / "c.yaml"
    path.write_text("algo: dqn\nppo:\n  num_envs: 16\n")
    with pytest.raises(UserError, match="ppo.num_envs does not apply"):
        load_config(path)
    path.write_text("algo: dqn\nppo:\n  num_envs: 64\n")  # the default, as a saved config.yaml writes it: fine
    assert load_config(path).algo == "dqn"


def test_the_ray_cluster_a_sweep_starts_takes_connections_with_its_token_only(tmp_path, monkeypatch):
    """Ray's servers listen beyond this machine (Ray resolves 127.0.0.1 to the node's address, by design): the
    local cluster a sweep starts must run with token authentication (Ray >= 2.59 does so by default)."""
    import ray
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    from mazearena.apps.sweep import SweepConfig, sweep

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    seen = {}

    def resources():  # asked once the cluster is up: what it runs with, then a cluster with no room
        seen["token"] = is_token_auth_enabled()
        return {"CPU": 0.5}

    monkeypatch.setattr(ray, "cluster_resources", resources)
    config = tmp_path / "c.yaml"
    config.write_text("total_timesteps: 64\n")
    with pytest.raises(UserError, match="cpus_per_trial=1, but the Ray cluster has 0.5 CPUs"):
        sweep(SweepConfig(config=config, param=("ppo.learning_rate=1e-3",), runs_dir=tmp_path / "runs"))
    assert seen == {"token": True} and not ray.is_initialized()


def test_runs_that_other_runs_load_are_trusted_only_on_the_command_line(tmp_path, monkeypatch, capsys):
    """An adversary's victim, or a league's adversary run, from elsewhere may name code: ``train --adversary-of``,
    ``league.adversaries`` and ``eval`` of an adversary run import it only with ``--trust-code``; a file cannot
    say ``trust_code: true`` for the user."""
    import sys

    import yaml

    from mazearena.training.config import load_config

    marker = tmp_path / "imported"
    (tmp_path / "evilnets.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "evilnets", raising=False)
    victim = tmp_path / "victim"
    victim.mkdir()
    data = TrainConfig(algo="mappo").to_dict() | {"backbone": "evilnets:Net"}
    (victim / "config.yaml").write_text(yaml.safe_dump(data))
    runs = tmp_path / "runs"
    try:
        code = main(["train", "--algo", "mappo", "--adversary-of", str(victim), "--runs-dir", str(runs)])
    except SystemExit as e:  # refused while the command line is read
        code = e.code
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"adversary_of {str(victim)!r} names code to import (backbone evilnets:Net)" in err, err
    assert "--trust-code" in err and not marker.exists() and not runs.exists()
    adversary = tmp_path / "adversary"  # an adversary run of that victim: its eval would load the victim
    adversary.mkdir()
    (adversary / "config.yaml").write_text(
        yaml.safe_dump(TrainConfig(algo="mappo").to_dict() | {"adversary_of": str(victim)})
    )
    assert main(["eval", str(adversary), "--wandb-mode", "disabled", "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"adversary_of {victim}: backbone evilnets:Net" in err and not marker.exists(), err
    league = tmp_path / "league.yaml"  # a self-play run with that adversary run in its league
    league.write_text(
        yaml.safe_dump(
            {
                "algo": "mappo",
                "arena": {"mode": "combat"},
                "league": {"self_play": True, "adversaries": [str(adversary)]},
            }
        )
    )
    with pytest.raises(UserError, match=f"league.adversaries run {str(adversary)!r} names code to import"):
        load_config(league)
    assert not marker.exists()
    (tmp_path / "trusting.yaml").write_text("trust_code: true\n")
    with pytest.raises(UserError, match="trust_code is not read from a file; give --trust-code"):
        load_config(tmp_path / "trusting.yaml")
    assert load_config(league, trust_code=True).trust_code  # the command's word


@pytest.mark.parametrize(
    "option,make,message",
    [
        ("--config", "device", "config file '/dev/zero' is not a regular file"),
        ("--config", "fifo", "is not a regular file (a device, a pipe or a socket)"),  # opening it would block
        ("--config", "huge", "holds 9,437,184 bytes; at most 8,388,608 are read"),
        ("--env.layouts", "device", "map file '/dev/zero' is not a regular file"),
        ("--env.layouts", "fifo", "is not a regular file"),
    ],
)
def test_files_that_are_no_files_or_too_big_to_parse_are_refused_at_once(option, make, message, tmp_path, capsys):
    import os

    if make == "device":
        path = "/dev/zero"  # read whole, it never ends
    elif make == "fifo":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    else:
        path = str(tmp_path / "huge.yaml")
        with open(path, "w") as f:  # 9 MiB of a valid config: parsing it would take seconds to minutes
            f.write("total_timesteps: 64\n" + "#" * (9 * 2**20 - 21) + "\n")
    try:
        code = main(["train", option, path, "--runs-dir", str(tmp_path / "runs")])
    except SystemExit as e:
        code = e.code
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists()
