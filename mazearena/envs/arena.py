"""Team arenas under the PettingZoo API: a ``ParallelEnv`` (and its AEC form) over one game of the engine,
and a batched multi-agent vector env over many. The rules live in :mod:`engine.arena`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec, wrappers

from mazearena.checks import check_keywords, check_seed
from mazearena.envs.engine.arena import ArenaConfig, ArenaEngine, ArenaObsMode, Mode
from mazearena.envs.engine.arena_rules import TEAMS
from mazearena.envs.engine.cells import ARENA_CHANNELS, ARENA_STATE_CHANNELS, TOKEN_FEATURES
from mazearena.envs.engine.grid import check_action_batch, layout_shape
from mazearena.envs.engine.levels import as_level_ids
from mazearena.envs.render import WindowRender
from mazearena.envs.vector import actions_tensor, check_device_and_seed, level_ids_option

ACTION_MEANINGS = ("stay", "north", "east", "south", "west", "attack")


def make_config(kwargs: dict[str, Any]) -> ArenaConfig:
    """An :class:`ArenaConfig` from keyword arguments, naming any unknown argument."""
    check_keywords("arena env", kwargs, ArenaConfig.field_names())
    return ArenaConfig(**kwargs)


class _Roster:
    """Who plays: the arena's config, the focal agents (exposed) and the NPCs (stepped inside)."""

    def __init__(self, scenario, kwargs: dict[str, Any]) -> None:
        if scenario is None:
            self.config, npcs = make_config(kwargs), {}
        else:
            from mazearena.envs.scenarios import Scenario
            from mazearena.envs.scenarios import scenario as find

            found = scenario if isinstance(scenario, Scenario) else find(scenario)
            make_config(kwargs)  # names unknown options before the scenario adds its own
            self.config, npcs = found.arena_config(**kwargs), found.npcs
        names = self.config.agent_names
        self.focal = [a for a in names if a not in npcs]
        self.focal_index = [names.index(a) for a in self.focal]
        self.npcs = {names.index(a): spec for a, spec in npcs.items()}
        self.all_focal = not self.npcs

    def engine(self, num_envs: int, device, autoreset: bool) -> tuple[ArenaEngine, Any]:
        engine = ArenaEngine(num_envs, self.config, device, autoreset=autoreset, focal=self.focal_index)
        controller = None
        if self.npcs:
            from mazearena.envs.npcs import NpcController

            controller = NpcController(engine, self.npcs)
        return engine, controller

    def full_actions(self, engine: ArenaEngine, controller, focal_actions: torch.Tensor) -> torch.Tensor:
        """``[B, A]`` actions: the focal agents' columns given, the NPCs' chosen by their controller."""
        if self.all_focal:
            return focal_actions
        full = torch.zeros(engine.num_envs, self.config.num_agents, dtype=torch.long, device=engine.device)
        full[:, self.focal_index] = focal_actions
        full[:, controller.index] = controller.act(None, None)[0]
        return full


def observation_space(config: ArenaConfig) -> gym.spaces.Space:
    """The observation space of one agent."""
    v, k = config.view_size, config.num_tokens
    shape = layout_shape((len(ARENA_CHANNELS), v, v), config.native_layout, config.obs_layout)
    grid = gym.spaces.Box(0, config.max_cell_value, shape, dtype=np.uint8)
    tokens = gym.spaces.Box(-np.inf, np.inf, (k, len(TOKEN_FEATURES)), dtype=np.float32)
    mask = gym.spaces.MultiBinary(k)
    if config.obs_mode is ArenaObsMode.GRID:
        return grid
    if config.obs_mode is ArenaObsMode.TOKENS:
        return gym.spaces.Dict({"tokens": tokens, "mask": mask})
    return gym.spaces.Dict({"grid": grid, "tokens": tokens, "mask": mask})


def state_space(config: ArenaConfig) -> gym.spaces.Box:
    s = config.size
    return gym.spaces.Box(0, config.max_cell_value, (len(ARENA_STATE_CHANNELS), s, s), dtype=np.uint8)


def _agent_obs(obs: torch.Tensor | dict, i: int):
    """Agent ``i``'s observation of game 0, as numpy."""
    if isinstance(obs, dict):
        return {k: v[0, i].numpy().astype(np.int8) if k == "mask" else v[0, i].numpy() for k, v in obs.items()}
    return obs[0, i].numpy()


class _AgentSpaces:
    """Every agent of an arena shares one observation space and one action space."""

    possible_agents: list[str]
    single_observation_space: gym.spaces.Space
    single_action_space: gym.spaces.Space

    def observation_space(self, agent: str) -> gym.spaces.Space:
        self._check_agent(agent)
        return self.single_observation_space

    def action_space(self, agent: str) -> gym.spaces.Space:
        self._check_agent(agent)
        return self.single_action_space

    def _check_agent(self, agent: str) -> None:
        if agent not in self.possible_agents:
            raise KeyError(f"unknown agent {agent!r}; agents of this arena: {', '.join(self.possible_agents)}")


class ArenaParallelEnv(_AgentSpaces, WindowRender, ParallelEnv):
    """One arena game. Keyword arguments are the fields of :class:`ArenaConfig`.

    ``reset(options={"level_id": n})`` plays arena ``n``. Agents that are caught or die leave ``agents``
    after the step that removed them (their last reward and ``terminations[agent] = True`` come with it);
    actions sent for them later are ignored (still checked). Infos hold numbers only: ``level_id`` and
    ``team`` (0 red, 1 blue).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "name": "arena_v0", "is_parallelizable": True, "render_fps": 8}
    window_title = "mazearena arena"
    # ``scenario="ctf_3v3_vs_guards"`` (see :mod:`scenarios`) exposes only the focal agents; NPCs act inside.

    def __init__(self, render_mode: str | None = None, scenario: str | None = None, **kwargs: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.roster = _Roster(scenario, kwargs)
        self.config = self.roster.config
        self.render_mode = render_mode
        self.engine, self.npcs = self.roster.engine(1, "cpu", autoreset=False)
        self.possible_agents = list(self.roster.focal)
        self.agents: list[str] = []
        self._index = dict(zip(self.roster.focal, self.roster.focal_index, strict=True))
        self._team = {a: self.config.team_of(a) for a in self.possible_agents}  # infos hold numbers only
        self.single_observation_space = observation_space(self.config)
        self.single_action_space = gym.spaces.Discrete(self.config.num_actions)
        self.state_space = state_space(self.config)
        self._rng = np.random.default_rng()
        self._started = False

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        level_id = None
        if options:
            unknown = set(options) - {"level_id"}
            if unknown:  # a warning, not an error: PettingZoo's api_test passes an arbitrary option
                gym.logger.warn(f"ignoring unknown reset option(s) {sorted(unknown)}; valid: ['level_id']")
            if "level_id" in options:
                level_id = as_level_ids(options["level_id"], "level_id")
        if seed is not None:
            check_seed(seed)
            self._rng = np.random.default_rng(seed)
        if seed is not None or not self._started:
            game_seed = int(seed) if seed is not None else int(self._rng.integers(2**62))
            self.engine.seeds[0] = game_seed
            self.engine.episodes[0] = 0
            self.engine._start(torch.tensor([0]), level_id)
        else:
            self.engine.episodes[0] += 1
            self.engine._start(torch.tensor([0]), level_id)
        self._started = True
        self.agents = list(self.possible_agents)
        obs = self.engine.observe()
        if self.render_mode == "human":
            self.render()
        return {a: _agent_obs(obs, self._index[a]) for a in self.agents}, {a: self._info(a) for a in self.agents}

    def _info(self, agent: str) -> dict[str, Any]:
        return {"level_id": int(self.engine.level_ids[0]), "team": self._team[agent]}

    def step(self, actions: dict[str, Any]):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if not isinstance(actions, dict):
            raise TypeError(f"actions must be a dict of agent name -> action, got {type(actions).__name__}")
        if not self.agents:  # the game has ended: nothing moves (wrappers step once more before resetting)
            return {}, {}, {}, {}, {}
        batch = torch.zeros(1, len(self.possible_agents), dtype=torch.long)
        column = {a: j for j, a in enumerate(self.possible_agents)}
        for agent, action in actions.items():
            if agent not in self._index:
                raise KeyError(f"action for unknown agent {agent!r}; agents: {', '.join(self.possible_agents)}")
            action = _check_action(agent, action, self.config.num_actions)
            if agent in self.agents:  # an agent that left the game: its action is ignored, as PettingZoo's do
                batch[0, column[agent]] = action
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for live agent(s) {missing}")
        full = self.roster.full_actions(self.engine, self.npcs, batch)
        obs, reward, terminated, truncated, _ = self.engine.step(full)
        live = self.agents
        out = (
            {a: _agent_obs(obs, self._index[a]) for a in live},
            {a: float(reward[0, self._index[a]]) for a in live},
            {a: bool(terminated[0, self._index[a]]) for a in live},
            {a: bool(truncated[0, self._index[a]]) for a in live},
            {a: self._info(a) for a in live},
        )
        self.agents = [a for a in live if not (out[2][a] or out[3][a])]
        if self.render_mode == "human":
            self.render()
        return out

    def state(self) -> np.ndarray:
        return self.engine.state()[0].numpy()

    def frame(self) -> np.ndarray:
        from mazearena.envs.render import render_arena

        return render_arena(self.engine, 0)


def _check_action(agent: str, action: Any, num_actions: int) -> int:
    if isinstance(action, (np.ndarray, torch.Tensor)):
        if action.ndim != 0 and tuple(action.shape) != (1,):
            raise ValueError(f"action of {agent} must be a scalar, got shape {tuple(action.shape)}")
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise TypeError(f"action of {agent} must be an int in 0..{num_actions - 1}, got {action!r}")
    if not 0 <= int(action) < num_actions:
        raise ValueError(f"action {int(action)} of {agent} is out of range: valid actions are 0..{num_actions - 1}")
    return int(action)


class ArenaVectorEnv(_AgentSpaces):
    """``num_envs`` arena games stepped together; agents are batch columns, tensors stay on ``device``.

    ``step(actions)`` takes integers ``[num_envs, num_agents]`` (actions of agents out of the game are
    ignored) and returns ``(obs, rewards, terminated, truncated, info)``, each with a leading
    ``[num_envs, num_agents]``. ``info["active"]`` marks the agents that acted in this step; ``info["alive"]``
    those in the game after it. Ended games restart in the same step; their last observations are in
    ``info["final_obs"]`` (games where ``info["_final_obs"]``). Game i is seeded with ``seed + i``, so it
    replays exactly what :class:`ArenaParallelEnv` does with that seed.
    """

    def __init__(
        self,
        num_envs: int,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        check_actions: bool = True,
        scenario: str | None = None,
        **kwargs: Any,
    ) -> None:
        device = check_device_and_seed(device, seed, num_envs)
        self.roster = _Roster(scenario, kwargs)
        self.config = self.roster.config
        self.engine, self.npcs = self.roster.engine(num_envs, device, autoreset=True)
        self.num_envs, self.device, self.check_actions = num_envs, device, check_actions
        self.possible_agents = list(self.roster.focal)
        self.teams = [self.config.team_of(name) for name in self.possible_agents]  # each agent's team (0 red)
        # what a game's episode statistics count (agents.batches.TeamEpisodes): the mode, the chasing team in tag
        self.tally = {"mode": self.config.mode.value, "chasers": TEAMS.index(self.config.chasers)}
        self._focal = torch.tensor(self.roster.focal_index, device=device)
        self.num_agents = len(self.possible_agents)
        self.single_observation_space = observation_space(self.config)
        self.single_action_space = gym.spaces.Discrete(self.config.num_actions)
        self.state_space = state_space(self.config)
        self._seed = seed
        self._rng = np.random.default_rng(seed)  # seeds of later resets without one: a stream the seed fixes
        self._started = False

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset every game; ``seed`` seeds game i with ``seed + i``. ``options={"level_ids": [...]}``. A reset
        without a seed draws one from the stream of the last seed given (to the env or to a reset), as a
        Gymnasium env continues its ``np_random``."""
        if seed is not None:
            check_seed(seed, self.num_envs)
            self._rng = np.random.default_rng(int(seed))
        if seed is None:
            seed = self._seed if self._seed is not None else int(self._rng.integers(2**62))
        level_ids = level_ids_option(options, self.num_envs)
        self._seed = None  # later resets without a seed draw fresh seeds from the stream
        obs = self.engine.reset(int(seed) + torch.arange(self.num_envs), level_ids=level_ids)
        self._started = True
        info = {"alive": self._select(self.engine.alive.clone()), "level_id": self.engine.level_ids.clone()}
        return self._observe(obs), info

    def _select(self, x):
        """The focal agents' columns of a per-agent tensor (or dict of them)."""
        if self.roster.all_focal:
            return x
        if isinstance(x, dict):
            return {k: v.index_select(1, self._focal) for k, v in x.items()}
        return x.index_select(1, self._focal)

    def _observe(self, obs):
        """The focal agents' observations in the dtypes their space declares: the engine's bool token mask viewed
        as int8 (``MultiBinary``), without a copy."""
        obs = self._select(obs)
        if isinstance(obs, dict) and "mask" in obs:
            obs = {**obs, "mask": obs["mask"].view(torch.int8)}
        return obs

    def step(self, actions: torch.Tensor | np.ndarray):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = actions_tensor(actions)
        if self.check_actions:
            actions = self._validate(actions)
        else:
            actions = actions.to(self.device, torch.long)
        full = self.roster.full_actions(self.engine, self.npcs, actions)
        obs, reward, terminated, truncated, info = self.engine.step(full)
        info["alive"] = self.engine.alive.clone()
        for key in ("active", "alive"):
            if key in info:
                info[key] = self._select(info[key])
        if "final_obs" in info:
            info["final_obs"] = self._observe(info["final_obs"])
        return self._observe(obs), self._select(reward), self._select(terminated), self._select(truncated), info

    def _validate(self, actions) -> torch.Tensor:
        """Shape, dtype and range of ``[num_envs, num_agents]`` focal actions, errors naming the agent."""
        names = self.possible_agents
        return check_action_batch(
            actions,
            (self.num_envs, len(names)),
            self.config.num_actions,
            self.device,
            live=self._select(self.engine.alive),
            describe=lambda index: f"of agent {names[index[1]]} in env {index[0]}",
        )

    def close(self) -> None:
        """Nothing to release (the games are tensors); here so that code closing any vector env can close this."""

    def state(self) -> torch.Tensor:
        """``[num_envs, C, S, S]`` global state of every game."""
        return self.engine.state()


def parallel_env(render_mode: str | None = None, scenario: str | None = None, **kwargs: Any) -> ArenaParallelEnv:
    return ArenaParallelEnv(render_mode=render_mode, scenario=scenario, **kwargs)


def raw_env(render_mode: str | None = None, scenario: str | None = None, **kwargs: Any):
    """The AEC form of the arena (agents act one after another; the step resolves after the last)."""
    return parallel_to_aec(parallel_env(render_mode=render_mode, scenario=scenario, **kwargs))


def env(render_mode: str | None = None, scenario: str | None = None, **kwargs: Any):
    """The AEC env with PettingZoo's standard checks (action bounds, call order)."""
    aec = raw_env(render_mode=render_mode, scenario=scenario, **kwargs)
    aec = wrappers.AssertOutOfBoundsWrapper(aec)
    return wrappers.OrderEnforcingWrapper(aec)


def vector_env(
    num_envs: int,
    device: str | torch.device = "cpu",
    seed: int | None = None,
    scenario: str | None = None,
    **kwargs: Any,
) -> ArenaVectorEnv:
    return ArenaVectorEnv(num_envs, device=device, seed=seed, scenario=scenario, **kwargs)


__all__ = ["ArenaParallelEnv", "ArenaVectorEnv", "Mode", "env", "parallel_env", "raw_env", "vector_env"]
