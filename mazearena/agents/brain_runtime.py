"""An exported mazearena policy in a game loop: numpy and onnxruntime only (no torch, no mazearena).

``mazearena export`` copies this file into its folder as ``brain.py``, beside ``policy.onnx`` and ``spec.json``::

    from brain import Brain

    brain = Brain("path/to/export")                 # or Brain("path/to/export", model="policy.int8.onnx")
    state = brain.initial_state(agents)             # recurrent policies: zeros; feed-forward ones: {}
    actions, state = brain.act(obs, state)          # obs: an array [agents, ...] (or a dict of them)
    actions, state = brain.act(obs, state, agent=ids)   # team policies: each row's index in its team

Where an agent's episode starts, give it its initial state again (``brain.reset(state, rows)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime

SPEC_BYTES = 1 << 20
"""The largest ``spec.json`` read (an export's is a few kilobytes)."""
STATE_VALUES = 1 << 20
"""The most values one agent's recurrent state may hold (a spec asking for more is refused, not allocated)."""
DTYPES = ("float32", "float64", "int8", "uint8", "int32", "int64", "bool")


class SpecError(ValueError):
    """An export folder whose ``spec.json`` or model cannot be used; the message names the file and the field."""


def read_spec(folder: Path) -> dict:
    """``folder/spec.json``, checked field by field before anything is loaded or allocated."""
    path = folder / "spec.json"
    try:
        if path.stat().st_size > SPEC_BYTES:
            raise SpecError(f"{path}: larger than {SPEC_BYTES} bytes; not an export's spec")
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: not JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be an export's spec") from None
    for ok, field, what in _spec_checks(spec):
        if not ok():
            raise SpecError(f"{path}: {field} must be {what}")
    return spec


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _spec_checks(spec):
    """``(check, field, what it must be)`` in order: each check may read what the earlier ones passed."""
    brain = lambda: spec["brain"]  # noqa: E731
    inputs = lambda: {i["name"]: i for i in brain()["inputs"]}  # noqa: E731
    yield lambda: isinstance(spec, dict), "the file", "a JSON object"
    yield lambda: isinstance(spec.get("model"), str), "model", "a file name in the folder"
    yield lambda: isinstance(spec.get("brain"), dict), "brain", "an object"
    keys = lambda: brain().get("observation_keys")  # noqa: E731
    yield lambda: keys() is None or _names(keys()), "brain.observation_keys", "null or a list of names"
    agent = lambda: brain().get("agent_input")  # noqa: E731
    yield lambda: agent() is None or isinstance(agent(), str), "brain.agent_input", "null or a name"
    yield lambda: isinstance(brain().get("scores"), str), "brain.scores", "a name"
    yield (
        lambda: (
            isinstance(brain().get("outputs"), list)
            and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in brain()["outputs"])
        ),
        "brain.outputs",
        "a list of {name: ...}",
    )
    yield (
        lambda: (
            isinstance(brain().get("inputs"), list)
            and all(
                isinstance(i, dict)
                and isinstance(i.get("name"), str)
                and i.get("dtype") in DTYPES
                and isinstance(i.get("shape"), list)
                for i in brain()["inputs"]
            )
        ),
        "brain.inputs",
        f"a list of {{name, dtype (one of {', '.join(DTYPES)}), shape}}",
    )
    yield (
        lambda: (
            isinstance(brain().get("state"), list)
            and all(_names(p) and len(p) == 2 and p[0] in inputs() for p in brain()["state"])
        ),
        "brain.state",
        "a list of [input, output] name pairs, each input listed in brain.inputs",
    )
    yield (
        lambda: all(
            all(_size(d) for d in inputs()[i]["shape"][1:]) and int(np.prod(inputs()[i]["shape"][1:])) <= STATE_VALUES
            for i, _ in brain()["state"]
        ),
        "the shape of each state input",
        f"positive sizes after the batch, at most {STATE_VALUES} values an agent",
    )


def model_path(folder: Path, model: str) -> Path:
    """The model file ``model`` names, which must be a file inside ``folder`` (a spec cannot point elsewhere)."""
    root = folder.resolve()
    path = (folder / model).resolve()
    if root not in path.parents:
        raise SpecError(f"{folder / 'spec.json'}: model {model!r} is outside the export folder {str(folder)!r}")
    if not path.is_file():
        raise SpecError(f"{folder}: the model file {model!r} does not exist")
    return path


class Brain:
    """The policy of an export folder; :meth:`act` takes a batch of observations and returns greedy actions."""

    def __init__(self, folder: str | Path, model: str | None = None, threads: int = 1) -> None:
        folder = Path(folder)
        self.spec = read_spec(folder)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        path = model_path(folder, model or self.spec["model"])
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        brain = self.spec["brain"]
        self.state_pairs = [tuple(pair) for pair in brain["state"]]
        self.keys = brain["observation_keys"]
        self.agent_input = brain["agent_input"]
        self.scores = brain["scores"]
        self.outputs = [o["name"] for o in brain["outputs"]]
        self._types = {i["name"]: np.dtype(i["dtype"]) for i in brain["inputs"]}
        self._state_shapes = {i["name"]: tuple(i["shape"][1:]) for i in brain["inputs"]}

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, model: str | None = None, threads: int = 1) -> Brain:
        """The brain of a local export folder, or of a Hugging Face Hub repository (downloaded with
        ``huggingface_hub``; offline, from its cache)."""
        path = Path(name_or_path)
        if not path.is_dir():
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(str(name_or_path)))
        return cls(path, model, threads)

    def initial_state(self, agents: int) -> dict[str, np.ndarray]:
        """The state of ``agents`` agents at the start of an episode: zeros (nothing without a recurrent core)."""
        return {i: np.zeros((agents, *self._state_shapes[i]), dtype=np.float32) for i, _ in self.state_pairs}

    @staticmethod
    def reset(state: dict[str, np.ndarray], rows) -> dict[str, np.ndarray]:
        """``state`` with the agents ``rows`` (indices or a bool mask) back at the start of an episode."""
        for value in state.values():
            value[rows] = 0.0
        return state

    def scores_of(self, obs, state: dict[str, np.ndarray] | None = None, agent=None) -> tuple[np.ndarray, dict]:
        """The action scores ``[agents, actions]`` (logits, or Q-values) and the next state."""
        feed = {}
        if self.keys is None:
            feed["obs"] = np.asarray(obs, dtype=self._types["obs"])
        else:
            for k in self.keys:
                feed[f"obs.{k}"] = np.asarray(obs[k], dtype=self._types[f"obs.{k}"])
        rows = next(iter(feed.values())).shape[0]
        if self.agent_input is not None:
            if agent is None:
                raise ValueError("this is a team policy: give each row's agent index in its team (agent=...)")
            feed[self.agent_input] = np.broadcast_to(np.asarray(agent, dtype=np.int64), (rows,)).copy()
        state = self.initial_state(rows) if state is None else state
        feed.update(state)
        out = dict(zip(self.outputs, self.session.run(self.outputs, feed), strict=True))
        return out[self.scores], {i: out[o] for i, o in self.state_pairs}

    def act(
        self, obs, state: dict[str, np.ndarray] | None = None, agent=None, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, dict]:
        """Actions ``[agents]`` (int64) and the next state: the most likely ones, or with ``rng`` drawn from the
        policy's probabilities (as in training; Q-values are always acted on greedily)."""
        scores, state = self.scores_of(obs, state, agent)
        if rng is not None and self.scores == "logits":  # Gumbel-max: a draw from softmax(logits)
            scores = scores - np.log(-np.log(rng.random(scores.shape)))
        return scores.argmax(-1), state
