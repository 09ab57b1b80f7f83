"""Bad input on the command line: every config file problem, bad flag value and bad run name is one line on
stderr naming it, exit code 2, no traceback, and nothing created on disk."""

import pytest

from mazearena.apps.cli import main

BAD_FILES = {
    "missing": (None, "does not exist"),
    "folder": ("<dir>", "is a folder"),
    "syntax": ("a: [\n", "not valid YAML at line 2"),
    "binary": (b"\xc3\x28\xa0\xa1\x00\xff", "binary content"),
    "empty": ("", "the file is empty"),
    "list": ("- 1\n- 2\n", "mapping of fields, got list"),
    "python tag": ("seed: !!python/object/apply:os.system ['echo hi']\n", "could not determine a constructor"),
    "unknown key": ("foo: 1\n", "unknown TrainConfig field(s) ['foo']"),
    "unknown nested key": ("env:\n  foo: 1\n", "env: unknown EnvConfig field(s) ['foo']"),
    "section not a mapping": ("env: 5\n", "section 'env' must be a mapping of EnvConfig fields, got 5"),
    "int as text": ("total_timesteps: abc\n", "total_timesteps must be an int, got 'abc'"),
    "quoted int": ("env:\n  size: '9'\n", "env: size must be an int, got '9'"),
    "bool for an int": ("seed: true\n", "seed must be an int, got True"),
    "out of range": ("env:\n  size: 4\n", "size must be odd and in [5, 127], got 4"),
    "nan ent_coef": ("ppo:\n  ent_coef: .nan\n", "ppo: ent_coef must be a finite number, got nan"),
    "inf vf_coef": ("ppo:\n  vf_coef: .inf\n", "ppo: vf_coef must be a finite number, got inf"),
    "nan max_grad_norm": ("mappo:\n  max_grad_norm: .nan\n", "mappo: max_grad_norm must be a finite number"),
    "nan target_kl": ("ppo:\n  target_kl: .nan\n", "target_kl must be a finite number"),
    "nan dqn max_grad_norm": ("dqn:\n  max_grad_norm: .nan\n", "dqn: max_grad_norm must be a finite number"),
    "text for a flag": ("amp: 'yes'\n", "amp must be true or false"),
    "bad choice": ("wandb_mode: sometimes\n", "wandb_mode must be one of"),
    "tags as text": ("wandb_tags: abc\n", "wandb_tags must be a list of str"),
    "bad device name": ("device: tpu\n", "device must be a torch device such as 'cpu' or 'cuda', got 'tpu'"),
    "meta device": ("device: meta\n", "device must be 'cpu', 'cuda' or 'mps', got 'meta'"),
    "name with a slash": ("name: ../../x\n", "name must be a single folder name"),
    "name dot": ("name: .\n", "name must be a single folder name"),
    "absolute name": ("name: /tmp/x\n", "name must be a single folder name"),
}


def run_cli(args, capsys) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    return code, err


def one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") <= 1 and "error:" in err, err
    assert expected in " ".join(err.split()), err  # rich may wrap a long line


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_every_config_file_problem_is_one_line_and_exit_2(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    content, expected = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    if content == "<dir>":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, err = run_cli(["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs")], capsys)
    one_line_error(code, err, expected)
    assert not (tmp_path / "runs").exists()  # nothing created


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--device", "tpu"], "device must be a torch device"),
        (["--name", "../../x"], "name must be a single folder name"),
        (["--name", "."], "name must be a single folder name"),
    ],
)
def test_bad_flag_values_are_named(args, expected, tmp_path, capsys):
    code, err = run_cli(["train", "--runs-dir", str(tmp_path / "runs"), *args], capsys)
    assert code == 2 and "Traceback" not in err and expected in " ".join(err.split()), err
    assert not (tmp_path / "runs").exists()


def test_a_malformed_sweep_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: abc\n")
    one_line_error(*run_cli(["sweep", str(bad)], capsys), "seed must be an int, got 'abc'")
    bad.write_text("a: [\n")
    one_line_error(*run_cli(["sweep", str(bad)], capsys), "not valid YAML")
    good = tmp_path / "good.yaml"
    good.write_text("total_timesteps: 64\n")
    one_line_error(*run_cli(["sweep", str(good), "--name", "../up"], capsys), "sweep name must be a single folder")


PARSE_ERRORS = {
    "bad number": (["train", "--ppo.learning-rate", "abc"], "--ppo.learning-rate: could not convert string to float"),
    "config's own check": (["train", "--ppo.num-envs", "0"], "num_envs must be an int >= 1, got 0"),
    "bad choice": (["train", "--algo", "foo"], "--algo must be one of ppo, dqn"),
    "no value": (["train", "--seed"], "--seed needs a value"),
    "two values": (["train", "--ppo.num-envs", "2", "3"], "--ppo.num-envs takes one value; got another, '3'"),
    "value for a flag": (["train", "--amp", "yes"], "--amp is on or off and takes no value (--amp or --no-amp)"),
    "typo": (["train", "--ppo.learning-rat", "3"], "unrecognized option --ppo.learning-rat; did you mean"),
    "unknown command": (["evall"], "unknown command 'evall'; did you mean 'eval'?"),
    "no command": ([], "name a command: train, eval"),
    "missing run": (["watch"], "missing PATH"),
    "other command's option": (["eval", "--ppo.num-envs", "3"], "mazearena eval --help lists the options"),
    "bench": (["bench", "engin"], "unknown command 'engin'; did you mean 'engine'?"),
    "bench option": (["bench", "engine", "--nonsense"], "unrecognized option --nonsense"),
}


@pytest.mark.parametrize("case", list(PARSE_ERRORS))
def test_parse_errors_are_one_line_like_every_other_error(case, capsys):
    args, expected = PARSE_ERRORS[case]
    code, err = run_cli(args, capsys)
    one_line_error(code, err, expected)
    assert not set(err) & set("╭│╰─"), err  # no box
    assert err.startswith("mazearena" + (f" {args[0]}" if args and args[0] != "evall" else "") + ": error:"), err


def test_help_paragraphs_wrap_at_the_terminal_not_at_the_source_line_breaks():
    import os
    import subprocess
    import sys

    from mazearena.apps.parse_errors import join_lines

    text = "Training algorithm: our ppo,\n    ``a2c`` or dqn\n    (the reference).\n\n    - one\n      more\n    - two"
    assert join_lines(text) == "Training algorithm: our ppo, `a2c` or dqn (the reference).\n\n- one more\n- two"
    env = os.environ | {"COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "mazearena", "train", "--help"], capture_output=True, text=True, env=env
    )
    lines = [line.strip("│ ") for line in done.stdout.splitlines()]
    at = lines.index("--kind STR")
    end = next(i for i in range(at + 1, len(lines)) if lines[i].startswith("--"))
    kind = lines[at + 1 : end]
    assert kind[0].startswith("What kind of task") and kind[-1].endswith("(default: auto)")
    assert all(len(line) > 55 for line in kind[:-2]), kind  # every line filled: none broken mid-sentence
