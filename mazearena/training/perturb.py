"""Training under perturbations (``--train-perturbations``): robustness as part of the training distribution.

Each perturbation is given as ``NAME:SEVERITY[:PROBABILITY]``, any of the harness's
(:data:`~mazearena.agents.perturbations.PERTURBATIONS`) but ``npc_sharpness`` (it acts on every game's
NPCs at once). At every episode start each game draws one of the perturbations, each with its probability
(they sum to at most 1), or none: a game plays its whole episode clean or under one perturbation, and the
policy learns from what it saw (the perturbed observation, the executed action's outcome). ``attack_obs`` is
adversarial training: the adversary reads the policy being trained, as it is at that step, and attacks the
views of the games drawn for it (feed-forward policies: the attack needs no memory inside the env).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from mazearena.actor import map_tensors
from mazearena.agents.perturbations import OBS_ATTACKS, Perturbation, check_perturbation
from mazearena.checks import UserError

DEFAULT_PROBABILITY = 0.5


@dataclass(frozen=True)
class TrainPerturbation:
    name: str
    severity: float
    probability: float = DEFAULT_PROBABILITY

    def __str__(self) -> str:
        severity = int(self.severity) if self.name in OBS_ATTACKS else self.severity
        return f"{self.name}:{severity}:{self.probability:g}"


def parse_train_perturbations(specs: tuple[str, ...] | list[str]) -> list[TrainPerturbation]:
    """``NAME:SEVERITY[:PROBABILITY]`` strings as :class:`TrainPerturbation`, or an error naming the bad one."""
    out: list[TrainPerturbation] = []
    for spec in specs:
        parts = str(spec).split(":")
        if len(parts) not in (2, 3):
            raise UserError(
                f"train_perturbations: {spec!r} is not NAME:SEVERITY[:PROBABILITY] (e.g. attack_obs:1:0.5, "
                "obs_noise:0.1)"
            )
        name = parts[0]
        if name == "npc_sharpness":
            raise UserError(
                "train_perturbations: npc_sharpness changes every game's NPCs at once; train on a "
                "scenario with sharper NPCs instead"
            )
        try:
            severity = float(parts[1])
            probability = float(parts[2]) if len(parts) == 3 else DEFAULT_PROBABILITY
        except ValueError:
            raise UserError(f"train_perturbations: {spec!r}: severity and probability must be numbers") from None
        if name in OBS_ATTACKS and severity.is_integer():
            severity = int(severity)
        try:
            check_perturbation(name, severity)
        except UserError as e:
            raise UserError(f"train_perturbations: {e}") from None
        if not 0.0 < probability <= 1.0:
            raise UserError(f"train_perturbations: probability of {name} must be in (0, 1], got {probability}")
        if any(p.name == name for p in out):
            raise UserError(f"train_perturbations: {name} is given twice")
        out.append(TrainPerturbation(name, severity, probability))
    total = sum(p.probability for p in out)
    if total > 1.0 + 1e-9:
        raise UserError(f"train_perturbations: the probabilities sum to {total:g}; a game plays one at a time (<= 1)")
    return out


class TrainingPerturbations(gym.vector.VectorWrapper):
    """A training vector env (a maze vector env, an arena vector env, a self-play or an adversary's env: each
    gives the config and spaces the perturbations read) whose games each play their episode clean or under one of
    ``perturbations`` (see the module). ``actor`` is the learning policy's actor (its ``logits``), for
    ``attack_obs``. Its state (which game plays what, every random stream) is saved
    with the trainer's, so a resumed run continues exactly."""

    def __init__(self, env, perturbations: list[TrainPerturbation], actor, seed: int) -> None:
        from mazearena.agents.attacks import AttackedActor, attack_target

        if isinstance(env, gym.vector.VectorEnv):
            super().__init__(env)
        else:  # an arena vector env or a self-play env: the same protocol with [num_envs, agents] batches
            self.env = env
        self.specs = perturbations
        self.device = torch.device(env.device)
        self.seed = int(seed)
        self.generator = torch.Generator(self.device).manual_seed(self.seed)
        self.parts: list[Perturbation | AttackedActor] = []
        for i, p in enumerate(perturbations):
            if p.name in OBS_ATTACKS:
                if p.name == "attack_obs" and getattr(actor, "recurrent", False):
                    raise UserError(
                        "train_perturbations: attack_obs reads the policy inside the env, where a recurrent "
                        "core's memory is not; train a feed-forward policy (core none) with it"
                    )
                attacker = torch.Generator(self.device).manual_seed(seed + 7919 * (i + 1))
                self.parts.append(AttackedActor(actor, p.name, int(p.severity), attack_target(env, p.name), attacker))
            else:
                self.parts.append(
                    Perturbation(p.name, p.severity, env, env.num_envs, seed + 7919 * (i + 1), self.device)
                )
        self.which = torch.full((env.num_envs,), -1, dtype=torch.long, device=self.device)
        self._alive = None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def _draw(self, games: torch.Tensor | None = None) -> None:
        """Each game in ``games`` (all: None) draws what its next episode plays: ``which`` (-1: clean)."""
        u = torch.rand(self.env.num_envs, generator=self.generator, device=self.device)
        edges = torch.tensor([p.probability for p in self.specs], device=self.device).cumsum(0)
        drawn = torch.searchsorted(edges, u, right=True)
        drawn = torch.where(drawn < len(self.specs), drawn, -1)
        self.which = drawn if games is None else torch.where(games.to(self.device), drawn, self.which)

    def _observe(self, obs, alive):
        for i, part in enumerate(self.parts):
            mine = self.which == i
            if isinstance(part, Perturbation):
                changed = part.observation(obs)
                obs = map_tensors(
                    lambda c, x, m=mine: torch.where(m.view(-1, *[1] * (x.dim() - 1)), c, x), changed, obs
                )
            elif bool(mine.any()):
                games = mine.nonzero().squeeze(1)
                rows = map_tensors(lambda x, g=games: x[g], obs)
                attacked = part.attack(rows, None, None if alive is None else alive[games])
                obs = map_tensors(lambda x, a, g=games: x.index_put((g,), a.to(x.dtype)), obs, attacked)
        return obs

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:  # the draws of a seeded reset replay, as Gymnasium asks
            words = np.random.SeedSequence([self.seed, int(seed) % 2**63]).generate_state(
                2 + len(self.parts), np.uint32
            )
            self.generator.manual_seed(int(words[0]) << 32 | int(words[1]))
            for part, word in zip(self.parts, words[2:], strict=True):
                if isinstance(part, Perturbation):
                    part.reseed(seed)
                else:
                    part.generator.manual_seed(int(word))
        self._draw()
        for part in self.parts:
            if isinstance(part, Perturbation):
                part.episodes_started()
        return self._observe(obs, info.get("alive")), info

    def step(self, actions):
        actions = torch.as_tensor(actions, device=self.device).long()
        for i, part in enumerate(self.parts):
            if isinstance(part, Perturbation):
                executed = part.action(actions)
                mine = (self.which == i).view(-1, *[1] * (actions.dim() - 1))
                actions = torch.where(mine, executed, actions)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        done = info["_final_obs"] if "_final_obs" in info else terminated | truncated
        done = done.to(self.device)
        self._draw(done)
        for part in self.parts:
            if isinstance(part, Perturbation):
                part.episodes_started(done)
        return self._observe(obs, info.get("alive")), reward, terminated, truncated, info

    def state_dict(self) -> dict:
        state = {
            "which": self.which,
            "generator": self.generator.get_state(),
            "parts": [
                {"generator": p.generator.get_state(), "previous": p._previous, "fresh": p._fresh}
                if isinstance(p, Perturbation)
                else {"generator": p.generator.get_state()}
                for p in self.parts
            ],
        }
        if hasattr(self.env, "state_dict"):
            state["env"] = self.env.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.which = state["which"].to(self.device)
        self.generator.set_state(state["generator"])
        for part, saved in zip(self.parts, state["parts"], strict=True):
            part.generator.set_state(saved["generator"])
            if isinstance(part, Perturbation):
                part._previous = None if saved["previous"] is None else saved["previous"].to(self.device)
                part._fresh = saved["fresh"].to(self.device)
        if "env" in state:
            self.env.load_state_dict(state["env"])
