"""``mazearena export``: the folder a game developer gets, loaded the way a game loads it (no torch)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mazearena.apps.cli import main
from mazearena.training import EnvConfig, TrainConfig, train
from mazearena.training.algorithms.mappo import MAPPOConfig
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.config import ArenaEnvConfig

pytest.importorskip("onnxruntime")

TINY = dict(
    env=EnvConfig(size=7, num_levels=50),
    ppo=PPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
    total_timesteps=256,
    eval_every=0,
    eval_episodes=16,
    video_episodes=0,
    wandb_mode="offline",
    progress=False,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    arena = ArenaEnvConfig(scenario="tag_2v1_vs_fleeing_npc", max_cycles=20, size=9, num_levels=20, obs_mode="tokens")
    return {
        "maze": train(TrainConfig(runs_dir=root, name="maze-gru", core="gru", **TINY)),
        "arena": train(
            TrainConfig(
                runs_dir=root,
                name="tag",
                algo="mappo",
                backbone="transformer",
                arena=arena,
                mappo=MAPPOConfig(num_envs=8, num_steps=16, num_minibatches=2),
                **{k: v for k, v in TINY.items() if k not in ("env", "ppo")},
            )
        ),
    }


# what a game runs: the folder's brain.py with numpy and onnxruntime, inputs built from spec.json alone
GAME = """
import json, sys
import numpy as np
folder = sys.argv[1]
sys.path.insert(0, folder)
from brain import Brain
spec = json.load(open(folder + "/spec.json"))
brain = Brain.from_pretrained(folder, model=sys.argv[2])
rows = 5
obs = {}
for t in spec["brain"]["inputs"]:
    shape = [rows if d == "batch" else d for d in t["shape"]]
    if t["name"].startswith("obs"):
        obs[t["name"]] = np.ones(shape, dtype=t["dtype"])
obs = obs["obs"] if "obs" in obs else {k[4:]: v for k, v in obs.items()}
agent = np.arange(rows) % spec["brain"]["agents"] if spec["brain"]["agent_input"] else None
state = brain.initial_state(rows)
for _ in range(3):
    actions, state = brain.act(obs, state, agent=agent)
brain.reset(state, [0, 2])
print(json.dumps({
    "actions": actions.tolist(),
    "torch": "torch" in sys.modules,
    "mazearena": any(m.startswith("mazearena") for m in sys.modules),
    "state": {k: list(v.shape) for k, v in state.items()},
}))
"""


def _game(folder: Path, model: str = "policy.onnx") -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", GAME, str(folder), model], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["maze", "arena"])
def test_export_writes_a_folder_a_game_runs_without_torch(kind, runs, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", str(runs[kind]), "--quantize", "int8", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert names == {"policy.onnx", "policy.int8.onnx", "spec.json", "README.md", "brain.py"}
    spec = json.loads((out / "spec.json").read_text())
    assert spec["format"] == "onnx" and spec["quantized"] == "policy.int8.onnx"
    if kind == "maze":  # a recurrent maze policy: the state goes in and comes out
        assert spec["brain"]["state"] == [["state", "next_state"]]
        assert spec["observation"]["planes"][:2] == ["wall", "goal"]
        assert spec["observation"]["actions"] == ["north", "east", "south", "west"]
    else:  # a team of two with masked entity tokens, the agent index as input
        assert [t["name"] for t in spec["brain"]["inputs"]] == ["obs.mask", "obs.tokens", "agent"]
        assert spec["brain"]["agents"] == 2 and spec["env"]["team"] == "red"
        assert spec["observation"]["actions"][0] == "stay"
    # the model card: Hugging Face metadata with the run's held-out result, then how to call it
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    report = json.loads((runs[kind] / "report.json").read_text())
    assert metrics[0]["name"].startswith("held-out")
    assert metrics[0]["value"].startswith(f"{report['test_levels']['success_rate']:.3f}")
    assert "from brain import Brain" in card and "## Training config" in card
    for model in ("policy.onnx", "policy.int8.onnx"):
        played = _game(out, model)
        assert not played["torch"] and not played["mazearena"], played  # the brain imports neither
        assert len(played["actions"]) == 5
    if kind == "maze":
        assert played["state"] == {"state": [5, 128]}


def test_torchscript_export_and_bad_requests_are_named(runs, tmp_path, capsys):
    import torch

    out = tmp_path / "ts"
    assert main(["export", str(runs["maze"]), "--format", "torchscript", "--out", str(out)]) == 0
    model = torch.jit.load(str(out / "policy.pt"))
    logits, value, state = model(torch.ones(3, 8, 7, 7, dtype=torch.int8), torch.zeros(3, 128))
    assert logits.shape == (3, 4) and value.shape == (3,) and state.shape == (3, 128)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["export", str(runs["maze"]), "--format", "torchscript", "--quantize", "int8"])
    assert "--quantize int8 works on ONNX models" in capsys.readouterr().err
    assert main(["export", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_push_to_hub_uploads_the_complete_folder(runs, tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    calls = {}
    monkeypatch.setattr(hub, "create_repo", lambda repo, **kw: calls.setdefault("repo", (repo, kw)))
    monkeypatch.setattr(hub, "upload_folder", lambda **kw: calls.setdefault("upload", kw))
    out = tmp_path / "hub"
    assert main(["export", str(runs["maze"]), "--out", str(out), "--push-to-hub", "me/maze-npc"]) == 0
    assert calls["repo"][0] == "me/maze-npc" and calls["upload"]["repo_id"] == "me/maze-npc"
    uploaded = Path(calls["upload"]["folder_path"])
    assert {p.name for p in uploaded.iterdir()} == {"policy.onnx", "spec.json", "README.md", "brain.py"}
    assert _game(uploaded)["actions"]  # what would be uploaded loads offline, from_pretrained-style


def test_the_game_loop_example_wins_as_often_as_eval_says(runs, tmp_path):
    # the example plays held-out games with the brain alone deciding; its win rate must fall in the interval
    # that `mazearena eval --modes deterministic` gives the same run
    from mazearena.evaluation.evaluate import EvalConfig, evaluate

    out = tmp_path / "export"
    assert main(["export", str(runs["arena"]), "--out", str(out)]) == 0
    example = Path(__file__).parents[2] / "examples" / "npc_game_loop.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    played = subprocess.run(
        [sys.executable, str(example), str(out), "--games", "300", "--envs", "50"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert played.returncode == 0, played.stderr[-3000:]
    assert "win rate" in played.stdout and "per decision" in played.stdout
    loop = json.loads(played.stdout.strip().splitlines()[-1])
    assert loop["games"] == 300
    report = evaluate(
        EvalConfig(
            runs=(runs["arena"],),
            suites=("test",),
            perturbations=("none",),
            modes=("deterministic",),
            episodes=300,
            curve_episodes=0,
            out=tmp_path / "eval",
            wandb_mode="disabled",
            progress=False,
        )
    )
    row = json.loads((report / "summary.json").read_text())["conditions"][0]
    lo, hi = row["success_ci95"]
    assert lo <= loop["win_rate"] <= hi, (loop, row)


def test_bench_brain_tables_fp32_next_to_int8(runs, tmp_path):
    out = tmp_path / "export"
    assert main(["export", str(runs["maze"]), "--quantize", "int8", "--out", str(out)]) == 0
    assert (
        main(
            [
                "bench",
                "brain",
                str(out),
                "--episodes",
                "40",
                "--num-envs",
                "20",
                "--repeats",
                "5",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    table = (tmp_path / "b" / "brain.md").read_text()
    assert "| policy.onnx |" in table and "| policy.int8.onnx |" in table and "within the fp32 interval" in table
    rows = json.loads((tmp_path / "b" / "brain.json").read_text())["rows"]
    assert rows[1]["kib"] < rows[0]["kib"] / 2  # int8 weights
    assert all(r["episodes"] == 40 and r["us_batch_256"] > r["us_batch_1"] > 0 for r in rows)


def _spec_cases():
    def edit(change):
        def apply(spec):
            change(spec)
            return json.dumps(spec)

        return apply

    def nested(spec):
        return "[" * 100_000 + "]" * 100_000

    return [
        ("outside", edit(lambda s: s.update(model="/elsewhere/other.onnx")), "outside the export folder"),
        ("traversal", edit(lambda s: s.update(model="../../../../etc/passwd")), "outside the export folder"),
        ("missing model", edit(lambda s: s.update(model="nope.onnx")), "'nope.onnx' does not exist"),
        ("bad json", lambda s: "{not json", "not JSON"),
        ("a list", lambda s: "[1, 2]", "the file must be a JSON object"),
        ("no brain", edit(lambda s: s.pop("brain")), "brain must be an object"),
        ("dtype", edit(lambda s: s["brain"]["inputs"][0].update(dtype="complex1024")), "brain.inputs must be"),
        (
            "huge state",
            edit(
                lambda s: [
                    i.update(shape=["batch", 10**6, 10**6]) for i in s["brain"]["inputs"] if i["name"] == "state"
                ]
            ),
            "at most 1048576 values",
        ),  # fmt: skip
        ("deep", nested, "nested too deeply"),
        ("state pair", edit(lambda s: s["brain"].update(state=[["ghost", "x"]])), "brain.state must be"),
    ]


@pytest.mark.parametrize("case,make,message", _spec_cases(), ids=[c[0] for c in _spec_cases()])
def test_a_malformed_or_hostile_spec_is_refused_naming_its_field(case, make, message, runs, tmp_path):
    import shutil

    from mazearena.agents.brain_runtime import Brain, SpecError

    out = tmp_path / "export"
    if not (out / "spec.json").exists():
        assert main(["export", str(runs["maze"]), "--out", str(out)]) == 0
    spec = json.loads((out / "spec.json").read_text())
    (out / "spec.json").write_text(make(spec))
    with pytest.raises(SpecError, match=message):
        Brain(out)
    shutil.rmtree(out)


def test_push_to_hub_without_network_is_one_line_and_keeps_the_export(runs, tmp_path, monkeypatch, capsys):
    hub = pytest.importorskip("huggingface_hub")

    def offline(repo, **kw):
        raise ConnectionError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(hub, "create_repo", offline)
    out = tmp_path / "hub"
    assert main(["export", str(runs["maze"]), "--out", str(out), "--push-to-hub", "me/maze-npc"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "the upload to 'me/maze-npc' failed (ConnectionError" in err
    assert "the export is complete in" in err and (out / "policy.onnx").exists()
