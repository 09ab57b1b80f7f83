import json

import pytest

from mazearena.apps.cli import main


def test_demo_writes_summary_gif_and_picture(tmp_path):
    out = tmp_path / "demo"
    assert (
        main(["demo", "--episodes", "12", "--num-envs", "4", "--size", "7", "--gif-episodes", "1", "--out", str(out)])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    solver, random = summary["agents"]
    assert solver["episodes"] == 12 and solver["success_rate"] == 1.0
    assert solver["success_ci95"][0] < 1.0  # a perfect score still gets an honest interval
    assert random["mean_length"] > solver["mean_length"]
    assert (out / "demo.gif").stat().st_size > 0 and (out / "maze.png").exists()
    assert "| solver | 12 |" in (out / "summary.md").read_text()


def test_bench_writes_a_report_and_names_missing_peers(tmp_path):
    out = tmp_path / "bench"
    assert (
        main(
            [
                "bench",
                "--num-envs",
                "1",
                "16",
                "--repeats",
                "1",
                "--seconds",
                "0.05",
                "--size",
                "7",
                "--arena-envs",
                "2",
                "--arena-modes",
                "ctf",
                "--train-envs",
                "4",
                "8",
                "--train-steps",
                "8",
                "--train-repeats",
                "1",
                "--train-size",
                "7",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads((out / "bench.json").read_text())
    keys = [r["key"] for r in report["rows"]]
    assert keys == [
        "single",
        "minigrid",
        "vector-1",
        "vector-16",
        "magent2-45",
        "magent2-226",
        "arena-vector-ctf-2",
        "mpe2",
        "arena-pz",
        "ppo-4",
        "ppo-8",
        "sb3-ppo-8",
        "dqn",
        "sb3-dqn",
        "ippo",
        "mappo",
        "supersuit-sb3",
    ]
    rows = {r["key"]: r for r in report["rows"]}
    ours = [r for k, r in rows.items() if not k.startswith(("minigrid", "magent2", "mpe2"))]
    assert all(r["env_steps_per_s"] > 0 for r in ours)
    assert rows["arena-vector-ctf-2"]["agents"] == 32
    for peer in ("minigrid", "magent2-45", "mpe2"):
        assert rows[peer]["env_steps_per_s"] is not None or rows[peer]["note"].startswith("missing")
    if rows["magent2-45"]["env_steps_per_s"]:
        assert rows["arena-vector-ctf-2"]["peer"] == "magent2-45"  # the nearest agent count
    text = (out / "bench.md").read_text()
    assert "env-steps/s" in text and "agent-steps/s" in text and "train-steps/s" in text
    assert rows["ppo-8"]["peer"] == "sb3-ppo-8" and rows["ippo"]["peer"] == "supersuit-sb3"
    assert rows["vector-16"]["bytes_per_env"] > 0  # memory per game
    assert (out / "scaling.png").stat().st_size > 0 and "scaling.png" in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["demo", "--size", "4"], "size must be odd"),
        (["demo", "--episodes", "0"], "episodes must be >= 1"),
        (["demo", "--env", "mazearena/Nope-v0"], "env must be one of"),
        (["bench", "--repeats", "0"], "repeats must be >= 1"),
        (["bench", "--arena-modes", "soccer"], "arena_modes must be among"),
        (["play", "--tile", "2"], "tile must be an int in"),
    ],
)
def test_bad_values_exit_2_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "play", "bench"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_version_and_python_dash_m(capsys):
    import subprocess
    import sys

    import mazearena

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mazearena {mazearena.__version__}"
    done = subprocess.run([sys.executable, "-m", "mazearena", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"mazearena {mazearena.__version__}"


def test_bad_input_is_one_line_and_a_bug_is_a_traceback(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  num_envs: 0\n")
    for path, message in ((bad, "bad.yaml: ppo: num_envs"), (tmp_path / "missing.yaml", "does not exist")):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--config", str(path)])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert main(["watch", str(tmp_path)]) == 2  # no run folder: named in one line
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["watch", str(tmp_path / "run[seed=1]")]) == 2  # brackets are text, not console styles
    assert "run[seed=1]" in capsys.readouterr().err

    from mazearena.apps import cli

    def bug(cfg):
        raise ValueError("an internal bug")

    monkeypatch.setitem(cli.COMMANDS, "watch", bug)
    with pytest.raises(ValueError, match="an internal bug"):  # not swallowed into "exit 2"
        main(["watch", str(tmp_path)])


def test_top_level_help_is_answered_before_the_commands_load_and_matches_them(capsys):
    import inspect
    import subprocess
    import sys

    from mazearena import cli
    from mazearena.apps.cli import CONFIGS

    assert list(cli.COMMANDS) == list(CONFIGS)
    for name, config in CONFIGS.items():  # the summaries are the configs' own descriptions
        assert " ".join(cli.COMMANDS[name].split()) == " ".join(inspect.getdoc(config).split("\n\n")[0].split())
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    code = "import sys; from mazearena.cli import main; main(['--help']); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.strip().splitlines()[-1]
    assert "'torch'" not in loaded and "'mazearena.apps.cli'" not in loaded  # no torch, no command imported
