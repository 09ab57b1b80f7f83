"""The arena task: a team learns a game mode (tag, ctf, combat) against a scenario's NPCs, a self-play league of
its own snapshots, or a frozen victim run (an adversary); tested against the held-out NPC population on unseen
arenas, success = a game won by the learning team.

Suites: ``train`` — the training scenario on training arenas; ``test`` — the held-out NPC population on
held-out arenas; ``test_arenas`` — the training NPC population on held-out arenas; ``larger`` — the held-out
population on held-out arenas 6 cells wider. An adversary run plays its victim in every suite.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mazearena.checks import UserError
from mazearena.training.tasks.base import Task, TaskKind
from mazearena.training.tasks.maze import GROW

if TYPE_CHECKING:
    from mazearena.actor import Actor
    from mazearena.training.algorithms import Algorithm
    from mazearena.training.config import TrainConfig

DEFAULT_SCENARIOS = {"tag": "tag_2v1_vs_fleeing_npc", "ctf": "ctf_3v3_vs_guards", "combat": "combat_3v3_vs_chasers"}
ARENA_SUITES = {
    "train": "training scenario, training arenas",
    "test": "held-out NPC population, held-out arenas",
    "test_arenas": "training NPC population, held-out arenas",
    "larger": "held-out NPC population, held-out arenas 6 cells wider",
}
TEAMS = ("red", "blue")


class ArenaTask(Task):
    kind = TaskKind.ARENA
    section = "arena"
    extra_sections = ("league",)
    unit = "games"
    levels = "arenas"
    metric = "win rate"
    stop_field = "stop_at_win_rate"
    suites = ARENA_SUITES
    team = True
    cross_play = True
    perturbable = True

    # ---------------------------------------------------------------- the config
    def claims(self, cfg: TrainConfig) -> bool:
        """An algorithm that trains only teams (the arena is the default env of team training)."""
        from mazearena.training.algorithms import algorithm

        return not algorithm(cfg.algo).single

    def backbones(self, alg: Algorithm) -> tuple[str, ...]:
        """The backbones of the team network that read arena views (grid or entity tokens)."""
        return ("cnn", "transformer", "resnet")

    def learners(self, cfg: TrainConfig, envs) -> int:
        """The scenario's learning team (the envs of self-play hold both teams)."""
        return cfg.learners

    def model_sections(self, alg: Algorithm) -> tuple[str, ...]:
        return self.config_sections(alg)

    def check(self, cfg: TrainConfig) -> None:
        if cfg.league.self_play:
            _check_self_play(cfg)
        if cfg.adversary_of is not None:
            _check_adversary(cfg)

    def env_name(self, cfg: TrainConfig) -> str:
        return f"arena scenario {cfg.arena.scenario_name}"

    def run_name(self, cfg: TrainConfig) -> str:
        from mazearena.envs.scenarios import scenario

        if cfg.league.self_play:
            mode = scenario(cfg.arena.scenario_name).config["mode"]
            return f"{cfg.algo}-{cfg.model}-selfplay-{mode}-seed{cfg.seed}"
        return f"{cfg.algo}-{cfg.model}-{cfg.arena.scenario_name}-seed{cfg.seed}"

    def key(self, cfg: TrainConfig) -> str:
        a = cfg.arena
        return json.dumps(["arena", a.scenario_name, a.heldout_name, a.make_kwargs(), a.make_kwargs(True)])

    # ---------------------------------------------------------------- envs and actors
    def make_envs(self, cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
        """The held-out scenario on held-out arenas for ``test``; with ``both_teams`` the scenario's arena with no
        NPCs (self-play); an adversary run's arenas against its victim."""
        a = cfg.arena
        scenario = a.heldout_name if test else a.scenario_name
        return _arena_envs(cfg, a, num_envs, seed, cfg.device, scenario=scenario, test=test, all_agents=both_teams)

    def check_memory(self, cfg: TrainConfig) -> None:
        from mazearena.checks import check_memory
        from mazearena.envs.engine.common import arena_bytes_per_game
        from mazearena.envs.scenarios import scenario

        config = scenario(cfg.arena.scenario_name).arena_config(**cfg.arena.make_kwargs())
        try:
            check_memory("arena games", cfg.num_envs, arena_bytes_per_game(config), cfg.device)
        except ValueError as e:
            raise UserError(str(e)) from None

    def training_envs(self, cfg: TrainConfig, envs, policy: torch.nn.Module):
        """With ``league.self_play``: the all-agent envs against a league of the policy's snapshots, the
        scenario's scripted team and the league's adversary runs."""
        if not cfg.league.self_play:
            return envs
        from mazearena.agents.baselines import seat_team
        from mazearena.agents.league import League, SelfPlayVectorEnv
        from mazearena.envs.scenarios import scenario as find

        found = find(cfg.arena.scenario_name)
        config = found.arena_config()
        if cfg.league.scripted_team == "best":  # the scenario's best scripted team, seated on the other side
            if not found.scripted:
                raise UserError(f"league.scripted_team best: scenario {found.name!r} has no scripted team")
            scripted = seat_team(found.scripted, config, 1 - cfg.trained_team)
        else:
            scripted = found.npcs  # the scenario's NPC team
        npcs = [scripted[name] for name in sorted(scripted, key=config.index_in_team)]
        adversaries = [adversary_actor(path, cfg) for path in cfg.league.adversaries]
        league = League(cfg.league, seed=cfg.seed)
        return SelfPlayVectorEnv(envs, policy, league, cfg.trained_team, npcs, adversaries)

    def scripted_team(self, cfg: TrainConfig) -> dict | None:
        """The scenario's best scripted team; none for an adversary (its suites seat it against its victim)."""
        from mazearena.envs.scenarios import scenario

        found = scenario(cfg.arena.scenario_name)
        return dict(found.scripted) if found.scripted and cfg.adversary_of is None else None

    def actor(self, cfg: TrainConfig, policy: torch.nn.Module, deterministic: bool = False, team: int | None = None):
        """For ``team`` (default: the scenario's learning team), through the mirror when the network learned as
        the other team."""
        from mazearena.agents.league import TeamPolicy
        from mazearena.training.algorithms import algorithm

        if team is None:
            team = cfg.scenario_team
        alg = algorithm(cfg.algo)
        if alg.actor is not None:
            return alg.actor(cfg, policy, deterministic, team)
        return TeamPolicy(policy, cfg.trained_team, team, deterministic)

    def learner(self, cfg: TrainConfig, policy: torch.nn.Module) -> Actor:
        return self.actor(cfg, policy, team=cfg.trained_team)

    def play(self, cfg: TrainConfig, envs, actor: Actor, episodes: int, advance=None) -> dict:
        from mazearena.agents.episodes import play_games

        return play_games(envs, actor, episodes, cfg.scenario_team, advance)

    def annotate(self, row: dict, envs) -> dict:
        row["per_capita_return"] = row["return"] / envs.num_agents
        return row

    # ---------------------------------------------------------------- evaluation suites
    def _suite_env(self, cfg: TrainConfig, suite: str, num_envs: int, seed: int, device: str):
        a = cfg.arena
        if suite == "larger":
            a = dataclasses.replace(a, size=min(a.size + GROW, 63))
        scenario = a.scenario_name if suite in ("train", "test_arenas") else a.heldout_name
        return _arena_envs(cfg, a, num_envs, seed, device, scenario=scenario, test=suite != "train")

    # ---------------------------------------------------------------- videos, reports, export
    def record(self, cfg: TrainConfig, policy: torch.nn.Module, path: Path) -> Path:
        from mazearena.training.video import write_video

        frames: list[np.ndarray] = []
        for frame, result in arena_games(cfg, policy, cfg.video_episodes, cfg.seed + 4):
            frames += [frame] * (4 if result is not None else 1)
        return write_video(frames, path, fps=8)

    def describe(self, cfg: TrainConfig, step: int) -> str:
        a = cfg.arena
        side = TEAMS[cfg.trained_team]
        if cfg.adversary_of is not None:
            opponents = f"as {side}, the adversary of run {cfg.adversary_of.name}"
            held_out = "held out: the victim on unseen arenas"
        else:
            opponents = (
                f"by self-play as {side} against a league of its past snapshots"
                if cfg.league.self_play
                else f"in scenario {a.scenario_name}"
            )
            held_out = f"held out: scenario {a.heldout_name} on unseen arenas"
        return (
            f"{cfg.algo} + {cfg.model} trained {opponents} ({a.size}x{a.size} {a.layout} arenas), "
            f"{step:,} game steps, on {a.num_levels or 'unlimited'} arenas; {held_out}. Success = games won by "
            "the learning team."
        )

    def exported_envs(self, env_spec: dict[str, Any], num_envs: int, seed: int):
        from mazearena.envs import arena_v0

        return arena_v0.vector_env(num_envs, seed=seed, scenario=env_spec["heldout_scenario"], **env_spec["options"])

    def play_exported(self, env_spec: dict[str, Any], actor, episodes: int, num_envs: int, seed: int) -> dict:
        from mazearena.agents.episodes import run_games

        envs = self.exported_envs(env_spec, num_envs, seed)
        return run_games(envs, actor, episodes, TEAMS.index(env_spec["team"]))

    def curve(self) -> dict[str, Any]:
        return {"arena": True, "returns": False}

    def export_spec(self, cfg: TrainConfig) -> dict[str, Any]:
        from mazearena.envs.arena import ACTION_MEANINGS
        from mazearena.envs.engine.cells import ARENA_CHANNELS, TOKEN_FEATURES

        a = cfg.arena
        observation = {
            "kind": "arena team",
            "grid_planes": list(ARENA_CHANNELS),
            "grid_layout": "chw: planes, rows (north first), columns (west first); the agent at the centre",
            "token_features": list(TOKEN_FEATURES),
            "tokens": "one row per entity (agents, then the red and the blue flag), relative to the observer; "
            "mask 1 where a row holds an entity",
            "obs_mode": a.obs_mode,
            "view_size": a.view_size,
            "actions": list(ACTION_MEANINGS),
        }
        observation["summary"] = (
            f"Observation planes (`{observation['grid_layout']}`): {', '.join(observation['grid_planes'])}. "
            f"Token features: {', '.join(observation['token_features'])} ({observation['tokens']})."
        )
        env = {
            "kind": "arena",
            "scenario": a.scenario_name,
            "heldout_scenario": a.heldout_name,
            "options": a.make_kwargs(test=True),
            "team": TEAMS[cfg.trained_team],
        }
        if cfg.adversary_of is not None:  # the other team was a frozen run, not the scenario's NPCs
            env["opponent"] = f"run {Path(cfg.adversary_of).name} (adversary_of)"
        return {"observation": observation, "env": env}


def _arena_envs(
    cfg: TrainConfig, a, num_envs: int, seed: int, device: str, *, scenario: str, test: bool, all_agents: bool = False
):
    """Games of ``scenario`` on the arenas of section ``a`` (the held-out ones for ``test``); with ``all_agents``,
    or for an adversary run (which then plays its victim), every agent in play instead of the scenario's NPCs."""
    from mazearena.envs import arena_v0
    from mazearena.envs.scenarios import scenario as find

    kwargs = a.make_kwargs(test)
    if not (all_agents or cfg.adversary_of is not None):
        return arena_v0.vector_env(num_envs, device=device, seed=seed, scenario=scenario, **kwargs)
    envs = arena_v0.vector_env(num_envs, device=device, seed=seed, **find(a.scenario_name).config, **kwargs)
    if all_agents:
        return envs
    return against_victim(cfg if device == cfg.device else dataclasses.replace(cfg, device=device), envs)


# ---------------------------------------------------------------- config checks
def _check_self_play(cfg: TrainConfig) -> None:
    from mazearena.agents.league import check_symmetric
    from mazearena.envs.scenarios import scenario
    from mazearena.training.algorithms import algorithm

    found = scenario(cfg.arena.scenario_name)
    config = found.arena_config()
    check_symmetric(config)
    teams = {config.team_of(name) for name in found.focal(config)}
    if len(found.focal(config)) != config.red or len(teams) != 1:
        raise UserError(
            f"self-play replaces the NPC team of scenario {found.name!r}, whose learning agents must be one whole team"
        )
    if cfg.num_envs % cfg.league.opponent_groups:
        section = algorithm(cfg.algo).section
        raise UserError(
            f"league.opponent_groups ({cfg.league.opponent_groups}) must divide {section}.num_envs ({cfg.num_envs})"
        )
    from mazearena.training.loading import check_trusted

    for path in cfg.league.adversaries:  # before the run folder is made: the code they name is imported later
        if (Path(path) / "config.yaml").is_file():
            check_trusted(path, cfg.trust_code, "league.adversaries run")


def _check_adversary(cfg: TrainConfig) -> None:
    if cfg.algo != "mappo":
        raise UserError(f"adversary_of trains the other team with algo 'mappo', not {cfg.algo!r}")
    if cfg.league.self_play:
        raise UserError("adversary_of trains against one frozen victim, league.self_play against a league: pick one")
    victim = victim_config(cfg)
    if cfg.arena != type(cfg.arena)() and cfg.arena != victim.arena:
        raise UserError(
            "adversary_of trains on the victim's arenas (its scenario, size and levels): leave the arena options unset"
        )
    cfg.arena = victim.arena
    cfg._victim_team = victim.scenario_team
    if cfg.league.team and TEAMS.index(cfg.league.team) == cfg._victim_team:
        from mazearena.agents.league import check_symmetric
        from mazearena.envs.scenarios import scenario

        try:
            check_symmetric(scenario(cfg.arena.scenario_name).arena_config())
        except ValueError:
            raise UserError(
                f"league.team {cfg.league.team!r} is the victim's side: an adversary takes it only where both "
                "teams play alike (ctf, combat; the victim then plays the other side through the mirror)"
            ) from None


def victim_config(cfg: TrainConfig) -> TrainConfig:
    """The config of the victim run of ``cfg.adversary_of`` (an arena run), or an error naming it."""
    path = Path(cfg.adversary_of)
    if not (path / "config.yaml").exists():
        raise UserError(f"adversary_of: {str(path)!r} is not a run folder (no config.yaml)")
    from mazearena.training.loading import check_trusted

    check_trusted(path, cfg.trust_code, "adversary_of")  # its config imports what it names
    victim = type(cfg).load(path / "config.yaml")
    if not isinstance(victim.task, ArenaTask):
        raise UserError(f"adversary_of: {str(path)!r} is a {victim.algo} run on mazes; adversaries play arena teams")
    return victim


# ---------------------------------------------------------------- adversaries: a frozen run as the opponent
def load_victim(path: Path, device: str, config_type: type, trust_code: bool = False):
    """The victim run's config, network (frozen) and step; loaded once per process while its last checkpoint
    stays the same (any run: adversaries joining a league are loaded the same way). Code the run names is
    imported only with ``trust_code``."""
    return _load_victim(str(Path(path).resolve()), device, _version(Path(path)), config_type, trust_code)


def _version(run: Path) -> int:
    """When the run's last checkpoint was written (0: none), so that a newer one is loaded afresh."""
    last = run / "checkpoints" / "last.pt"
    return last.stat().st_mtime_ns if last.exists() else 0


@lru_cache(maxsize=4)
def _load_victim(path: str, device: str, version: int, config_type: type, trust_code: bool):
    from mazearena.training.loading import load_trained

    with torch.random.fork_rng(devices=[]):  # building its network draws nothing from the caller's stream
        cfg, _, policy, step = load_trained(Path(path), "last", device, config_type, trust_code)
    return cfg, policy.requires_grad_(False), step


def victim_actor(cfg: TrainConfig, deterministic: bool = False) -> Actor:
    """The victim of adversary run ``cfg`` as the actor of its scenario team (its network loaded once per
    process and device, frozen)."""
    victim_cfg, policy, _ = load_victim(cfg.adversary_of, str(cfg.device), type(cfg), cfg.trust_code)
    return victim_cfg.task.actor(victim_cfg, policy, deterministic, team=1 - cfg.trained_team)


def adversary_actor(path: Path, cfg: TrainConfig) -> Actor:
    """The adversary run ``path`` as an opponent in the self-play league of ``cfg``: the team the learner does not
    play, the adversary's network loaded frozen (an error names a run that is no adversary of this arena)."""
    adversary, policy, _ = load_victim(path, str(cfg.device), type(cfg), cfg.trust_code)
    if adversary.adversary_of is None:
        raise UserError(f"league.adversaries: {str(path)!r} is no adversary run (train one with --adversary-of)")
    if adversary.arena.scenario_name != cfg.arena.scenario_name or adversary.arena.size != cfg.arena.size:
        raise UserError(
            f"league.adversaries: {str(path)!r} plays scenario {adversary.arena.scenario_name} on "
            f"{adversary.arena.size}x{adversary.arena.size} arenas, this run {cfg.arena.scenario_name} on "
            f"{cfg.arena.size}x{cfg.arena.size}"
        )
    return adversary.task.actor(adversary, policy, team=1 - cfg.trained_team)


def against_victim(cfg: TrainConfig, envs):
    """An all-agent arena vector env ``envs`` seen from the adversary's team, the victim acting the other."""
    from mazearena.agents.league import FixedOpponentVectorEnv

    return FixedOpponentVectorEnv(envs, cfg.trained_team, victim_actor(cfg))


# ---------------------------------------------------------------- games one at a time (videos, watch)
def arena_games(
    cfg: TrainConfig,
    policy: torch.nn.Module,
    episodes: int,
    seed: int,
    *,
    test: bool = True,
    greedy: bool = False,
    explain=None,
    status: dict | None = None,
):
    """Play ``episodes`` games of the run's scenario (``test``: its held-out twin on unseen arenas), one
    at a time; yields ``(frame, result)`` per frame, ``result`` being ``None`` until a game ends, then
    ``{"return", "length", "success", "winner"}`` (success: the learning team won; return summed over it).
    ``explain(frame, env, obs, state, alive)``, if given, draws over each frame the team is about to act on.
    ``status``, if given, holds the game in play at each frame: ``step``, ``return`` (the learning team's so
    far), ``score`` (red, blue) and ``mode``."""
    from mazearena.envs import arena_v0

    a = cfg.arena
    task = cfg.task
    if cfg.adversary_of is not None:  # the adversary against its victim, every agent in play
        from mazearena.agents.league import Match
        from mazearena.envs.scenarios import scenario

        env = arena_v0.parallel_env(render_mode="rgb_array", **scenario(a.scenario_name).config, **a.make_kwargs(test))
        names, team = list(env.possible_agents), cfg.trained_team
        mine, victim = task.actor(cfg, policy, deterministic=greedy, team=team), victim_actor(cfg)
        teams = [env.config.team_of(n) for n in names]
        actor = Match(*((mine, victim) if team == 0 else (victim, mine)), teams, cfg.device)
    else:
        env = arena_v0.parallel_env(
            render_mode="rgb_array", scenario=a.heldout_name if test else a.scenario_name, **a.make_kwargs(test)
        )
        names = list(env.possible_agents)
        team = env.config.team_of(names[0])
        actor = task.actor(cfg, policy, deterministic=greedy, team=team)
    own = [env.config.team_of(n) == team for n in names]  # the learning team's agents: its return
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            ret, length, state = 0.0, 0, actor.initial_state(1, cfg.device)
            while env.agents:
                alive = torch.tensor([[n in obs for n in names]], device=cfg.device)
                stacked = _stack([obs.get(n) for n in names], cfg.device)
                frame = env.render()
                if status is not None:
                    score = env.engine.score[0].tolist()
                    status |= {"step": length, "return": ret, "score": score, "mode": env.config.mode.value}
                yield (frame if explain is None else explain(frame, env, stacked, state, alive)), None
                actions, state = actor.act(stacked, state, alive)
                actions = actions[0]
                obs, rewards, _, _, _ = env.step({n: int(actions[i]) for i, n in enumerate(names) if n in env.agents})
                ret += sum(r for n, r in rewards.items() if own[names.index(n)])
                length += 1
            winner = int(env.engine.leader()[0])
            yield env.render(), {"return": ret, "length": length, "success": winner == team, "winner": winner}
    finally:
        env.close()


def _stack(per_agent: list, device: str):
    """``[1, agents, ...]`` observations from a list of per-agent ones (``None`` for agents out of the game)."""
    like = next(o for o in per_agent if o is not None)
    if isinstance(like, dict):
        return {k: _stack([None if o is None else o[k] for o in per_agent], device) for k in like}
    rows = [np.zeros_like(like) if o is None else o for o in per_agent]
    return torch.as_tensor(np.stack(rows)[None], device=device)
