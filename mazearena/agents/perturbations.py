"""Perturbations for robustness evaluation and for training under them, each at a severity, as wrappers
reusable on their own.

One batched core (:class:`Perturbation`) acts on torch batches; three wrappers put it around the three
kinds of env mazearena has, with the same semantics:

* :class:`PerturbedVectorEnv` — a ``gymnasium.vector.VectorWrapper`` around a maze vector env, or around an
  arena vector env (``[num_envs, agents]`` batches); thousands of games at once.
* :class:`PerturbedEnv` — a ``gymnasium.Wrapper`` around one maze (``mazearena/Maze*-v0``).
* :class:`PerturbedParallelEnv` — a PettingZoo ``BaseParallelWrapper`` around one arena.

Perturbations (``PERTURBATIONS`` gives each one's severities; severity 0 is the clean env, exactly):

* ``sticky_actions`` p — with probability p the previous action is repeated instead of the chosen one
  (Machado et al. 2018); never at the first step of an episode.
* ``random_actions`` ε — with probability ε a uniformly random action replaces the chosen one.
* ``slippery`` p — dynamics shift: with probability p a move slips sideways (to one of the two perpendicular
  directions). Needs compass moves (maze ``actions="cardinal"``, arenas).
* ``obs_noise`` p — every entry of an image observation is replaced by a uniformly random value of its range
  with probability p; arena token features get Gaussian noise of standard deviation p.
* ``obs_dropout`` p — every cell of the view (all its channels) is blanked with probability p; arena tokens
  (other entities) are hidden with probability p.
* ``frame_drop`` p — the whole observation is blanked with probability p (a dropped frame).
* ``npc_sharpness`` s — arenas with scripted NPCs: every NPC's random-action rate is scaled by (1 − s), so
  s = 1 gives NPCs that never blunder.
* ``attack_obs`` k — an adversary changes at most k cells of every one-hot view (a tile to floor, floor to wall;
  never the agent's cell), or hides at most k entities of an arena token view (never the observer's own), to
  make the policy drop the action it takes on the clean view: greedy exact search,
  :mod:`mazearena.agents.attacks`. ``flip_obs`` k — the control: k cells (entities) changed at random.

Randomness comes from the perturbation's own ``torch.Generator`` (``seed``), never from the global RNGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorWrapper
from pettingzoo.utils import BaseParallelWrapper

from mazearena.checks import UserError


@dataclass(frozen=True)
class PerturbationInfo:
    description: str
    severities: tuple[float, ...]
    needs: str = ""
    """``npcs`` (an arena with scripted NPCs), ``moves`` (compass moves) or ``views`` (one-hot views channels
    first, or arena entity tokens)."""


PERTURBATIONS: dict[str, PerturbationInfo] = {
    "sticky_actions": PerturbationInfo("previous action repeated with probability p", (0.0, 0.1, 0.25, 0.5)),
    "random_actions": PerturbationInfo("random action with probability ε", (0.0, 0.1, 0.25, 0.5)),
    "slippery": PerturbationInfo("moves slip sideways with probability p", (0.0, 0.1, 0.25, 0.5), needs="moves"),
    "obs_noise": PerturbationInfo("observation entries randomised with probability p", (0.0, 0.05, 0.1, 0.2)),
    "obs_dropout": PerturbationInfo("view cells blanked with probability p", (0.0, 0.1, 0.25, 0.5)),
    "frame_drop": PerturbationInfo("whole observation blanked with probability p", (0.0, 0.1, 0.25, 0.5)),
    "npc_sharpness": PerturbationInfo("NPC random-action rate scaled by 1 − s", (0.0, 0.5, 1.0), needs="npcs"),
    "attack_obs": PerturbationInfo(
        "at most k view cells (or entities) changed to turn the clean action (greedy exact search)",
        (0, 1, 2, 4),
        needs="views",
    ),
    "flip_obs": PerturbationInfo(
        "k random view cells (or entities) changed (the attack's control)", (0, 1, 2, 4), needs="views"
    ),
}
OBS_ATTACKS = ("attack_obs", "flip_obs")
"""Perturbations whose severity is a budget of cells (an int): the adversary reads the policy, so the harness
puts them between the env and the actor (:class:`~mazearena.agents.attacks.AttackedActor`); on their own the
wrappers pass observations through."""


def check_perturbation(name: str, severity: float) -> None:
    """An error naming an unknown perturbation or a severity outside [0, 1]."""
    if name not in PERTURBATIONS:
        raise UserError(f"unknown perturbation {name!r}; valid perturbations: {', '.join(PERTURBATIONS)}")
    if name in OBS_ATTACKS:
        if isinstance(severity, bool) or not float(severity).is_integer() or not 0 <= severity <= 16:
            raise UserError(f"severity of {name} is a number of cells, an int in [0, 16], got {severity!r}")
        return
    if isinstance(severity, bool) or not isinstance(severity, (int, float)) or not 0.0 <= severity <= 1.0:
        raise UserError(f"severity of {name} must be a number in [0, 1], got {severity!r}")


def _perpendicular(env) -> torch.Tensor | None:
    """``[num_actions, 2]``: the two sideways slips of each action (itself where it is no move), or None when
    the env has no compass moves."""
    from mazearena.envs.engine.maze import ActionSet

    config = env.config
    if hasattr(config, "actions"):  # a maze: 0..3 are north, east, south, west with cardinal actions
        if config.actions is not ActionSet.CARDINAL:
            return None
        return torch.tensor([[(a - 1) % 4, (a + 1) % 4] for a in range(4)])
    # an arena: 0 stay, 1..4 north, east, south, west, 5 attack
    table = [[a, a] if a in (0, 5) else [(a - 2) % 4 + 1, a % 4 + 1] for a in range(config.num_actions)]
    return torch.tensor(table)


class Perturbation:
    """One perturbation at one severity for batches of ``num_envs`` games of ``env`` (a mazearena env of any
    kind: it reads ``env.config``, the observation space of one agent and, for ``npc_sharpness``, the NPC
    controller ``env.npcs``). The wrappers call :meth:`action` before each step, :meth:`observation` on what
    comes back and :meth:`episodes_started` with the games that start afresh."""

    def __init__(
        self, name: str, severity: float, env, num_envs: int, seed: int = 0, device: str | torch.device = "cpu"
    ) -> None:
        check_perturbation(name, severity)
        self.name, self.severity, self.num_envs = name, float(severity), num_envs
        self.device = torch.device(device)
        self.seed = int(seed)
        self.generator = torch.Generator(self.device).manual_seed(self.seed)
        self.num_actions = int(env.config.num_actions)
        self._previous: torch.Tensor | None = None
        self._fresh = torch.ones(num_envs, dtype=torch.bool, device=self.device)
        space = getattr(env, "single_observation_space", None) or env.observation_space
        if isinstance(space, gym.spaces.Dict):
            space = space.spaces.get("grid")
        self._high = int(space.high.max()) if isinstance(space, gym.spaces.Box) else 1
        self._channels_last = (env.config.obs_layout or env.config.native_layout) == "hwc"
        needs = PERTURBATIONS[name].needs
        if needs == "moves":
            self._sideways = _perpendicular(env)
            if self._sideways is None:
                raise UserError(f"perturbation {name} needs compass moves; this maze turns (actions='turn')")
            self._sideways = self._sideways.to(self.device)
        if needs == "views":
            from mazearena.agents.attacks import attack_target

            attack_target(env, name)  # an error naming what the attack changes, where it cannot
            if self.active:  # the attack reads the policy, and its control is played where it is; 0: the clean env
                raise UserError(
                    f"{name} wraps the actor, not the env (the attack reads the policy): "
                    "mazearena.agents.attacks.AttackedActor (mazearena eval does this)"
                )
        if needs == "npcs":
            npcs = getattr(env, "npcs", None)
            if npcs is None:
                raise UserError(f"perturbation {name} needs an arena with scripted NPCs; this env has none")
            npcs.epsilon = npcs.base_epsilon * (1.0 - self.severity)

    def reseed(self, reset_seed) -> None:
        """Restart the perturbation's randomness from its seed and the env's reset seed (an int or a list),
        so that ``reset(seed=...)`` replays exactly, as Gymnasium asks."""
        seeds = [int(reset_seed)] if isinstance(reset_seed, (int, np.integer)) else [int(s) for s in reset_seed]
        mixed = np.random.SeedSequence([self.seed % 2**63, *[s % 2**63 for s in seeds]]).generate_state(2, np.uint32)
        self.generator.manual_seed(int(mixed[0]) << 32 | int(mixed[1]))
        self._previous = None

    @property
    def active(self) -> bool:
        return self.severity > 0.0

    def _rand(self, shape) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=self.device)

    def episodes_started(self, games: torch.Tensor | None = None) -> None:
        """Mark games (a ``[num_envs]`` bool mask; all when None) whose episode starts afresh."""
        self._fresh = torch.ones_like(self._fresh) if games is None else games.to(self.device, torch.bool)

    def action(self, actions: torch.Tensor) -> torch.Tensor:
        """The actions the env executes, ``[num_envs]`` or ``[num_envs, agents]``; after it, no game is at the
        first step of its episode until :meth:`episodes_started` says so."""
        actions = torch.as_tensor(actions, device=self.device).long()
        if not self.active or self.name not in ("sticky_actions", "random_actions", "slippery"):
            return actions
        hit = self._rand(actions.shape) < self.severity
        if self.name == "sticky_actions":
            fresh = self._fresh.view(-1, *[1] * (actions.dim() - 1))
            if self._previous is not None:
                actions = torch.where(hit & ~fresh, self._previous, actions)
            self._previous = actions.clone()
            self._fresh = torch.zeros_like(self._fresh)
        elif self.name == "random_actions":
            random = (self._rand(actions.shape) * self.num_actions).long().clamp(max=self.num_actions - 1)
            actions = torch.where(hit, random, actions)
        else:
            side = (self._rand(actions.shape) < 0.5).long()
            valid = (actions >= 0) & (actions < self.num_actions)  # the env names invalid actions itself
            slipped = self._sideways[actions.clamp(0, self.num_actions - 1), side]
            actions = torch.where(hit & valid, slipped, actions)
        return actions

    def observation(self, obs):
        """The observation the agent sees (a batch, or a dict of batches for arena ``tokens`` observations)."""
        if not self.active or self.name not in ("obs_noise", "obs_dropout", "frame_drop"):
            return obs
        if isinstance(obs, dict):
            out = dict(obs)
            if "grid" in obs:
                out["grid"] = self._image(obs["grid"])
            if "tokens" in obs:
                out["tokens"], out["mask"] = self._tokens(obs["tokens"], obs["mask"])
            return out
        return self._image(obs)

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 planes ``[..., C, H, W]`` or RGB ``[..., H, W, 3]``."""
        channels_last, lead = self._channels_last, x.shape[:-3]
        if self.name == "obs_noise":
            random = (self._rand(x.shape) * (self._high + 1)).clamp(max=self._high).to(x.dtype)
            return torch.where(self._rand(x.shape) < self.severity, random, x)
        if self.name == "obs_dropout":
            shape = (*lead, *x.shape[-3:-1], 1) if channels_last else (*lead, 1, *x.shape[-2:])
        else:  # frame_drop
            shape = (*lead, 1, 1, 1)
        return torch.where(self._rand(shape) < self.severity, torch.zeros((), dtype=x.dtype, device=x.device), x)

    def _tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.name == "obs_noise":
            noise = torch.randn(tokens.shape, generator=self.generator, device=self.device) * self.severity
            return tokens + noise * mask[..., None].to(tokens.dtype), mask
        if self.name == "obs_dropout":  # hide other entities; the observer's own token stays
            from mazearena.envs.engine.cells import TOKEN_FEATURES

            hide = (self._rand(mask.shape) < self.severity) & (tokens[..., TOKEN_FEATURES.index("self")] == 0)
        else:
            hide = (self._rand((*mask.shape[:-1], 1)) < self.severity).expand_as(mask)
        mask = mask & ~hide.to(mask.dtype) if mask.dtype == torch.bool else mask * (~hide).to(mask.dtype)
        return tokens * (mask[..., None] != 0).to(tokens.dtype), mask


class PerturbedVectorEnv(VectorWrapper):
    """A maze vector env (or an arena vector env) under a perturbation at a severity. The perturbation draws
    from its own generator seeded with ``seed``."""

    def __init__(self, env, perturbation: str, severity: float, seed: int = 0) -> None:
        if isinstance(env, gym.vector.VectorEnv):
            super().__init__(env)
        else:  # an ArenaVectorEnv: the same protocol with [num_envs, agents] batches
            self.env = env
        self.perturbation = Perturbation(perturbation, severity, env, env.num_envs, seed, env.device)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.perturbation.reseed(seed)
        self.perturbation.episodes_started()
        return self.perturbation.observation(obs), info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(self.perturbation.action(actions))
        done = info["_final_obs"] if "_final_obs" in info else terminated | truncated
        self.perturbation.episodes_started(done)
        return self.perturbation.observation(obs), reward, terminated, truncated, info


class PerturbedEnv(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """One maze (``gymnasium.make("mazearena/Maze-v0")``) under a perturbation at a severity."""

    def __init__(self, env: gym.Env, perturbation: str, severity: float, seed: int = 0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, perturbation=perturbation, severity=severity, seed=seed)
        gym.Wrapper.__init__(self, env)
        self.perturbation = Perturbation(perturbation, severity, env.unwrapped, 1, seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.perturbation.reseed(seed)
        self.perturbation.episodes_started()
        return self._observe(obs), info

    def step(self, action):
        action = int(self.perturbation.action(torch.tensor([int(action)]))[0])
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.perturbation.episodes_started(torch.tensor([False]))
        return self._observe(obs), reward, terminated, truncated, info

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        return self.perturbation.observation(torch.from_numpy(obs)[None])[0].numpy()


class PerturbedParallelEnv(BaseParallelWrapper):
    """One arena (``arena_v0.parallel_env``) under a perturbation at a severity; agents are a batch of one game."""

    def __init__(self, env, perturbation: str, severity: float, seed: int = 0) -> None:
        super().__init__(env)
        self.perturbation = Perturbation(perturbation, severity, env.unwrapped, 1, seed)
        self._names = list(env.possible_agents)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.perturbation.reseed(seed)
        self.perturbation.episodes_started()
        return self._observe(obs), info

    def step(self, actions: dict):
        names = [n for n in self._names if n in actions]
        batch = torch.tensor([[int(actions[n]) for n in self._names if n in actions]]).view(1, -1)
        if self.perturbation.name == "sticky_actions" and len(names) != len(self._names):
            # keep one column per possible agent so the previous actions line up across steps
            full = torch.zeros(1, len(self._names), dtype=torch.long)
            full[0, [self._names.index(n) for n in names]] = batch[0]
            batch, names = full, list(self._names)
        executed = self.perturbation.action(batch)[0]
        obs, rewards, terms, truncs, infos = self.env.step(
            {n: int(executed[i]) for i, n in enumerate(names) if n in actions}
        )
        self.perturbation.episodes_started(torch.tensor([False]))
        return self._observe(obs), rewards, terms, truncs, infos

    def _observe(self, obs: dict) -> dict:
        if not obs:
            return obs
        names = list(obs)
        first = obs[names[0]]
        if isinstance(first, dict):
            batch = {k: torch.from_numpy(np.stack([obs[n][k] for n in names]))[None] for k in first}
            out = self.perturbation.observation(batch)
            return {
                n: {k: (v[0, i].numpy().astype(first[k].dtype)) for k, v in out.items()} for i, n in enumerate(names)
            }
        out = self.perturbation.observation(torch.from_numpy(np.stack([obs[n] for n in names]))[None])
        return {n: out[0, i].numpy() for i, n in enumerate(names)}
