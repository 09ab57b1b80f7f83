"""Any PettingZoo parallel env with Discrete actions and Box observations, named by its import path
(``mpe2.simple_spread_v3:parallel_env``): a team of agents learns it together with ``algo=mappo`` (MAPPO, or IPPO
with ``mappo.centralized_critic=false``). No levels, no winner: its splits are episodes of other seeds and its
reports read returns (the team's, summed over its agents, and each agent's).

Everything the kind needs is here: :class:`ParallelVectorEnv` plays ``num_envs`` copies of the env as one batch
whose columns are the agents, which is what MAPPO's trainer and the evaluation harness step; the task builds it for
training, suites, videos and exports. Episode k of game i is reset with a seed drawn from ``(seed, i, k)``, so runs
repeat; a resumed run restarts the episodes that were in progress from their first step (an outside env's state is
not saved: checkpoints hold no pickled objects).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mazearena.checks import UserError
from mazearena.training.tasks.base import Task, TaskKind, mlp_for_vectors

if TYPE_CHECKING:
    from mazearena.actor import Actor
    from mazearena.training.algorithms import Algorithm
    from mazearena.training.config import TrainConfig

HELD_OUT_SEEDS = 10**6
"""How far the held-out suite's seeds are from the training suite's."""
SUITES = {"train": "training seeds", "test": "held-out seeds (episodes never trained on)"}
_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
FRAME_SIDE = 256
"""Video frames are shrunk to about this many pixels a side."""


@functools.cache
def env_factory(env_id: str):
    """The callable an import path ``package.module:function`` names, or ``None`` where the path is not one (a
    Gymnasium id, a module that does not import, a name it does not hold)."""
    if not _PATH.fullmatch(env_id):
        return None
    module, _, name = env_id.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return factory if callable(factory) else None


@functools.cache
def check_parallel_env(env_id: str) -> dict[str, Any]:
    """What the env an import path makes looks like (``agents``, ``observation``, ``action`` and ``state`` spaces),
    or an error naming what does not fit: a parallel env whose agents share one Box observation space and one
    Discrete action space. Made once per path."""
    import gymnasium as gym

    factory = env_factory(env_id)
    if factory is None:
        raise UserError(f"env_id {env_id!r} is not a PettingZoo parallel env factory ('package.module:function')")
    env = factory()
    try:
        if not hasattr(env, "possible_agents") or not hasattr(env, "observation_space") or hasattr(env, "agent_iter"):
            raise UserError(f"env_id {env_id!r} makes {type(env).__name__}, not a PettingZoo parallel env")
        env.reset(seed=0)
        names = list(env.possible_agents)
        obs_space, act_space = env.observation_space(names[0]), env.action_space(names[0])
        if any(env.observation_space(n) != obs_space or env.action_space(n) != act_space for n in names):
            raise UserError(f"env_id {env_id!r}: the agents must share one observation and one action space")
        if not isinstance(act_space, gym.spaces.Discrete) or not isinstance(obs_space, gym.spaces.Box):
            raise UserError(
                f"env_id {env_id!r}: MAPPO trains on Discrete actions and Box observations, got {act_space} and "
                f"{obs_space} (MPE envs: continuous_actions=False, their default)"
            )
        try:  # a state of its own for the centralised critic, else every agent's observation side by side
            state = np.asarray(env.state(), dtype=np.float32)
        except (AttributeError, NotImplementedError):
            state = np.zeros(len(names) * int(np.prod(obs_space.shape)), dtype=np.float32)
        state_space = gym.spaces.Box(-np.inf, np.inf, state.shape, np.float32)
    finally:
        env.close()
    return {"agents": names, "observation": obs_space, "action": act_space, "state": state_space}


class ParallelVectorEnv:
    """``num_envs`` copies of a PettingZoo parallel env played as one batch, agents as columns (CPU tensors), the
    interface of :class:`~mazearena.envs.arena.ArenaVectorEnv` that MAPPO and the harness step.

    ``step(actions [num_envs, num_agents])`` returns ``(obs, rewards, terminated, truncated, info)`` with a leading
    ``[num_envs, num_agents]``; ``info["active"]`` marks the agents that acted, ``info["alive"]`` those in the game
    after the step (an agent the env removed reads zeros). Ended games (no agent left, or ``max_steps`` reached)
    restart in the same step: their last observations and states are ``info["final_obs"]`` and
    ``info["final_state"]`` (games where ``info["_final_obs"]``).
    """

    def __init__(
        self, env_id: str, num_envs: int, seed: int, max_steps: int = 0, render_mode: str | None = None
    ) -> None:
        spec = check_parallel_env(env_id)
        factory = env_factory(env_id)
        self.envs = [factory(render_mode=render_mode) if render_mode else factory() for _ in range(num_envs)]
        self.env_id, self.num_envs, self.max_steps, self.seed = env_id, num_envs, max_steps, seed
        self.possible_agents = spec["agents"]
        self.num_agents = len(self.possible_agents)
        self.single_observation_space, self.single_action_space = spec["observation"], spec["action"]
        self.state_space = spec["state"]
        self.device = torch.device("cpu")
        self.teams = [0] * self.num_agents  # one team: every agent learns
        self.tally = {"winners": False}  # no winner and no score: returns and lengths
        self.engine = _EpisodeSeeds(self)  # what a checkpoint keeps of the games
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._obs = np.zeros((num_envs, self.num_agents, *self.single_observation_space.shape), np.float32)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start every game afresh (``seed`` replaces the env's); game i's episodes draw their seeds from it."""
        if seed is not None:
            self.seed = int(seed)
        self.engine.episodes.zero_()
        for i in range(self.num_envs):
            self._start(i)
        return torch.from_numpy(self._obs.copy()), {"alive": self._alive()}

    def _start(self, i: int) -> None:
        obs, _ = self.envs[i].reset(seed=self.engine.seed_of(self.seed, i))
        self._t[i] = 0
        self._obs[i] = self._row(obs)

    def _row(self, obs: dict) -> np.ndarray:
        """``[num_agents, ...]`` observations of one game (zeros for agents out of it)."""
        row = np.zeros(self._obs.shape[1:], np.float32)
        for j, name in enumerate(self.possible_agents):
            if name in obs:
                row[j] = obs[name]
        return row

    def _alive(self) -> torch.Tensor:
        return torch.tensor([[n in env.agents for n in self.possible_agents] for env in self.envs])

    def _state(self, i: int, obs: np.ndarray | None = None) -> np.ndarray:
        """Game i's state: the env's own, or its agents' observations (``obs``, default the current ones)."""
        try:
            return np.asarray(self.envs[i].state(), dtype=np.float32)
        except (AttributeError, NotImplementedError):
            return (self._obs[i] if obs is None else obs).reshape(-1)

    def step(self, actions):
        actions = torch.as_tensor(actions).cpu().numpy()
        if actions.shape != (self.num_envs, self.num_agents):
            raise ValueError(f"actions must have shape {(self.num_envs, self.num_agents)}, got {actions.shape}")
        b, a = self.num_envs, self.num_agents
        reward = np.zeros((b, a), np.float32)
        terminated, truncated, active = (np.zeros((b, a), bool) for _ in range(3))
        ended, length = np.zeros(b, bool), np.zeros(b, np.int64)
        final_obs, final_state = self._obs.copy(), np.zeros((b, *self.state_space.shape), np.float32)
        n_actions = self.single_action_space.n
        for i, env in enumerate(self.envs):
            names = [n for n in self.possible_agents if n in env.agents]
            cols = [self.possible_agents.index(n) for n in names]
            pairs = list(zip(names, cols, strict=True))
            bad = [(n, int(actions[i, j])) for n, j in pairs if not 0 <= actions[i, j] < n_actions]
            if bad:
                raise ValueError(f"action {bad[0][1]} of agent {bad[0][0]} in env {i} is not in [0, {n_actions})")
            obs, rew, term, trunc, _ = env.step({n: int(actions[i, j]) for n, j in pairs})
            self._t[i] += 1
            timeout = self.max_steps > 0 and self._t[i] >= self.max_steps
            for n, j in pairs:
                active[i, j] = True
                reward[i, j] = rew.get(n, 0.0)
                terminated[i, j] = bool(term.get(n, False))
                truncated[i, j] = bool(trunc.get(n, False)) or timeout
            last = self._row(obs)  # every agent that acted: the last observation of those that left
            self._obs[i] = self._row({n: o for n, o in obs.items() if n in env.agents})
            length[i] = self._t[i]
            if timeout or not env.agents:
                ended[i] = True
                final_obs[i], final_state[i] = last, self._state(i, last)
                self.engine.episodes[i] += 1
                self._start(i)
        info = {
            "active": torch.from_numpy(active),
            "alive": self._alive(),
            "_final_obs": torch.from_numpy(ended),
            "final_obs": torch.from_numpy(final_obs),
            "final_state": torch.from_numpy(final_state),
            "episode_length": torch.from_numpy(length),
        }
        obs = torch.from_numpy(self._obs.copy())
        return obs, torch.from_numpy(reward), torch.from_numpy(terminated), torch.from_numpy(truncated), info

    def state(self) -> torch.Tensor:
        """``[num_envs, ...]``: each game's state (the env's own, or its agents' observations side by side)."""
        return torch.from_numpy(np.stack([self._state(i) for i in range(self.num_envs)]))

    def frame(self, i: int = 0) -> np.ndarray:
        """Game i as the env renders it (made with ``render_mode="rgb_array"``), shrunk to about
        :data:`FRAME_SIDE` pixels a side."""
        frame = np.asarray(self.envs[i].render())
        step = max(1, max(frame.shape[:2]) // FRAME_SIDE)
        return np.ascontiguousarray(frame[::step, ::step, :3])

    def close(self) -> None:
        for env in self.envs:
            env.close()


class _EpisodeSeeds:
    """How many episodes each game of ``envs`` has started: with the run's seed, the seed of every episode to come.
    What a checkpoint keeps of the games (``state_dict``); loading it restarts the episodes that were in progress
    from their first step (their first transition pairs the trainer's saved observation with the restarted game,
    as a resumed Gymnasium env's does)."""

    def __init__(self, envs: ParallelVectorEnv) -> None:
        self.envs = envs
        self.episodes = torch.zeros(envs.num_envs, dtype=torch.long)

    def seed_of(self, seed: int, game: int) -> int:
        from mazearena.rng import hash_ints

        return int(hash_ints(seed, game, int(self.episodes[game]))) & (2**31 - 1)

    def state_dict(self) -> dict:
        return {"episodes": self.episodes.clone(), "seed": torch.tensor(self.envs.seed)}

    def load_state_dict(self, state: dict) -> None:
        self.episodes.copy_(state["episodes"])
        self.envs.seed = int(state["seed"])
        for i in range(self.envs.num_envs):
            self.envs._start(i)


class PettingZooTask(Task):
    kind = TaskKind.PETTINGZOO
    section = "env"
    team = True
    levels = "seeds"
    has_success = False
    perturbable = False
    suites = SUITES

    # ---------------------------------------------------------------- the config
    def claims(self, cfg: TrainConfig) -> bool:
        """An env id that is the import path of a callable (the registry asks this task first)."""
        return env_factory(cfg.env.env_id) is not None

    def check(self, cfg: TrainConfig) -> None:
        env_id = cfg.env.env_id
        if env_factory(env_id) is None:
            raise UserError(f"kind 'pettingzoo' needs env_id = the import path of a parallel env, got {env_id!r}")
        if cfg.league.self_play or cfg.adversary_of is not None:
            raise UserError("league.self_play and adversary_of play mazearena's arenas, not outside envs")
        mlp_for_vectors(cfg, check_parallel_env(env_id)["observation"])

    def backbones(self, alg: Algorithm) -> tuple[str, ...]:
        return ("cnn", "mlp")

    def env_name(self, cfg: TrainConfig) -> str:
        return cfg.env.env_id

    def run_name(self, cfg: TrainConfig) -> str:
        module, _, name = cfg.env.env_id.partition(":")
        return f"{cfg.algo}-{cfg.model}-{module.rpartition('.')[2]}-seed{cfg.seed}"

    def key(self, cfg: TrainConfig) -> str:
        return json.dumps(["pettingzoo", cfg.env.env_id, cfg.env.max_episode_steps])

    # ---------------------------------------------------------------- envs and actors
    def make_envs(self, cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        """The env's games, game i's episodes seeded from ``seed`` (``test``: seeds far from the training ones)."""
        return ParallelVectorEnv(
            cfg.env.env_id, num_envs, seed + (HELD_OUT_SEEDS if test else 0), cfg.env.max_episode_steps
        )

    def actor(self, cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None):
        from mazearena.actor import PolicyActor

        return PolicyActor(policy, deterministic)

    def play(self, cfg: TrainConfig, envs, actor: Actor, episodes: int, advance=None) -> dict:
        return play_team_episodes(envs, actor, episodes, advance)

    def annotate(self, row: dict, envs) -> dict:
        row["per_capita_return"] = row["return"] / envs.num_agents
        return row

    def _suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str):
        return self.make_envs(cfg, num_envs, test=suite != "train", seed=seed)

    # ---------------------------------------------------------------- videos, reports, export
    def record(self, cfg: TrainConfig, policy: torch.nn.Module, path: Path) -> Path:
        from mazearena.training.video import write_video

        env = ParallelVectorEnv(
            cfg.env.env_id, 1, cfg.seed + 4 + HELD_OUT_SEEDS, cfg.env.max_episode_steps, render_mode="rgb_array"
        )
        actor, frames = self.actor(cfg, policy), []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + 4)
            obs, info = env.reset()
            for _ in range(cfg.video_episodes):
                state, ended = actor.initial_state(1, cfg.device), False
                frames.append(env.frame())
                while not ended:
                    actions, state = actor.act(obs.to(cfg.device), state, info["alive"].to(cfg.device))
                    obs, _, _, _, info = env.step(actions.cpu())
                    ended = bool(info["_final_obs"][0])
                    if not ended:
                        frames.append(env.frame())
                frames += [frames[-1]] * 3
        env.close()
        return write_video(frames, path, fps=8)

    def describe(self, cfg: TrainConfig, step: int) -> str:
        critic = "a centralised critic (MAPPO)" if cfg.mappo.centralized_critic else "local critics (IPPO)"
        return (
            f"{cfg.algo} + {cfg.model} with {critic} on the PettingZoo env {cfg.env.env_id}, {step:,} steps. The env "
            "has no levels and no winner: both rows are fresh episodes (other seeds); read the returns, summed over "
            "the team's agents."
        )

    def curve(self) -> dict[str, Any]:
        return {"arena": False, "returns": True}

    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        spec = check_parallel_env(cfg.env.env_id)
        obs = spec["observation"]
        observation = {
            "kind": "pettingzoo team",
            "agents": spec["agents"],
            "shape": list(obs.shape),
            "dtype": str(obs.dtype),
            "actions": [str(a) for a in range(int(spec["action"].n))],
            "summary": f"Observations: {cfg.env.env_id}'s, one row per agent ({', '.join(spec['agents'])}), each "
            f"of shape {list(obs.shape)} ({obs.dtype}).",
        }
        options = {"max_episode_steps": cfg.env.max_episode_steps}
        return {"observation": observation, "env": {"kind": "pettingzoo", "id": cfg.env.env_id, "options": options}}

    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        steps = env_spec["options"]["max_episode_steps"]
        return ParallelVectorEnv(env_spec["id"], num_envs, seed + HELD_OUT_SEEDS, steps)

    def play_exported(self, env_spec: dict[str, Any], actor, episodes: int, num_envs: int, seed: int) -> dict:
        from mazearena.agents.episodes import summarise_episodes

        return summarise_episodes(play_team_episodes(self.exported_envs(env_spec, num_envs, seed), actor, episodes))


def play_team_episodes(envs: ParallelVectorEnv, actor, episodes: int, advance=None) -> dict:
    """Play ``episodes`` episodes of a team on ``envs``: each one's ``return`` (summed over the agents), each
    agent's (``return/<agent>``), its ``length``; ``success`` is always False (the env has none)."""
    from mazearena.agents.episodes import EPISODE_FIELDS, play_batches

    names = envs.possible_agents
    per_agent = torch.zeros(envs.num_envs, envs.num_agents, dtype=torch.float64)

    def outcome(reward, terminated, truncated, info):
        reward = reward * info["active"]
        per_agent.add_(reward.double())
        ended = info["_final_obs"]
        done_per_agent = per_agent.clone()
        per_agent[ended] = 0.0

        def columns():
            return {
                "success": torch.zeros(envs.num_envs, dtype=torch.bool),
                "terminated": (terminated & info["active"]).any(1),
                "truncated": ~(terminated & info["active"]).any(1),
                **{f"return/{n}": done_per_agent[:, j] for j, n in enumerate(names)},
            }

        return reward.sum(1), ended, columns

    fields = (*EPISODE_FIELDS, *(f"return/{n}" for n in names))
    return play_batches(envs, actor, episodes, fields, outcome, advance)
