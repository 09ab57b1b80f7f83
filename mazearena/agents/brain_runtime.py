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


class Brain:
    """The policy of an export folder; :meth:`act` takes a batch of observations and returns greedy actions."""

    def __init__(self, folder: str | Path, model: str | None = None, threads: int = 1) -> None:
        folder = Path(folder)
        self.spec = json.loads((folder / "spec.json").read_text())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(folder / (model or self.spec["model"])), options, providers=["CPUExecutionProvider"]
        )
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
