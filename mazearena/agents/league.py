"""Self-play against a league of the learner's past selves, on arenas where both teams play the same game.

* :class:`League` keeps frozen snapshots of the learning policy (one every ``snapshot_every`` iterations,
  starting with the untrained one) and samples opponents from them: the latest with probability
  ``latest_prob``, otherwise any snapshot uniformly, so the learner keeps beating its older selves too.
* :class:`SelfPlayVectorEnv` is an arena vector env whose learning agents are one team; the other team is
  acted by league opponents. The games are split into ``opponent_groups`` blocks, each playing one sampled
  opponent; the blocks draw new opponents whenever a snapshot joins the league. The first
  ``scripted_groups`` blocks play a scripted NPC team instead (the scenario's), mixed into the league.
* Either team can learn. Arenas are point-symmetric, so a policy trained as one team plays the other
  through :func:`mirror_obs` and :func:`mirror_actions` (the world turned 180 degrees: views rotated, token
  offsets negated, north and south swapped, east and west swapped) and sees exactly the game it knows.
* :func:`play_match` plays two policies against each other; :func:`win_rate_table` plays every league
  snapshot of a list against every other, the table that shows whether later snapshots got stronger.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from mazearena.actor import Actor, State, as_actor, choose, reset_where, state_to
from mazearena.agents import batches
from mazearena.agents.baselines import ScriptedPlayer
from mazearena.checks import UserError, check_fields, check_int

TEAMS = ("red", "blue")
# Action i of a mirrored policy is action MIRRORED_ACTIONS[i] in the real arena: stay, north->south,
# east->west, south->north, west->east, attack.
MIRRORED_ACTIONS = torch.tensor([0, 3, 4, 1, 2, 5])


@dataclass
class LeagueConfig:
    """Self-play: the other team is played by past snapshots of the learner instead of the scenario's NPCs."""

    self_play: bool = False
    """Train against the league (the scenario's NPC team is replaced; its held-out twin still tests)."""
    team: str = ""
    """Team that learns, ``red`` or ``blue`` (default: the scenario's learning team)."""
    snapshot_every: int = 10
    """Iterations between two snapshots joining the league."""
    max_snapshots: int = 64
    """Snapshots kept; beyond it the oldest but the first (the untrained policy) is dropped."""
    latest_prob: float = 0.5
    """Chance that an opponent is the latest snapshot rather than a uniformly drawn one."""
    opponent_groups: int = 4
    """Blocks of games, each against its own sampled opponent (a divisor of num_envs)."""
    scripted_groups: int = 0
    """Of those blocks, how many play a scripted team (``scripted_team``) instead of the league."""
    scripted_team: Literal["npcs", "best"] = "npcs"
    """The scripted team of those blocks: ``npcs``, the scenario's NPC team; ``best``, the scenario's best scripted
    team (its baseline) seated on the other side, where the scenario has one."""
    adversaries: tuple[Path, ...] = ()
    """Adversary runs (``mazearena train --adversary-of``, trained against a policy of this scenario) that join
    the league for the whole run, a block of games each after the scripted ones: the learner trains against
    opponents that found its (or a predecessor's) weaknesses, as well as against its past selves."""

    def __post_init__(self) -> None:
        if not isinstance(self.adversaries, (list, tuple)) or not all(
            isinstance(a, (str, Path)) and str(a) for a in self.adversaries
        ):
            raise UserError(f"league.adversaries must be a list of run folders, got {self.adversaries!r}")
        self.adversaries = tuple(Path(a) for a in self.adversaries)  # run folders given as strings (YAML)
        check_fields(self)
        if self.team not in ("", *TEAMS):
            raise ValueError(f"league team must be 'red', 'blue' or '' (the scenario's), got {self.team!r}")
        check_int("snapshot_every", self.snapshot_every, 1)
        check_int("max_snapshots", self.max_snapshots, 2)
        check_int("opponent_groups", self.opponent_groups, 1)
        check_int("scripted_groups", self.scripted_groups, 0, self.opponent_groups - 1)
        if self.scripted_groups + len(self.adversaries) > self.opponent_groups - 1:
            raise ValueError(
                f"opponent_groups ({self.opponent_groups}) must leave a block for the league after "
                f"{self.scripted_groups} scripted and {len(self.adversaries)} adversary blocks"
            )
        if not 0.0 <= self.latest_prob <= 1.0:
            raise ValueError(f"latest_prob must be in [0, 1], got {self.latest_prob}")


def mirror_obs(obs):
    """Observations as the other team would see them in the arena turned 180 degrees (teams of equal size)."""
    if isinstance(obs, dict):
        out = dict(obs)
        if "grid" in obs:
            out["grid"] = obs["grid"].flip(-2, -1)
        if "tokens" in obs:
            # entities are red agents, blue agents, red flag, blue flag: the other side lists them swapped
            k = obs["tokens"].shape[-2]
            half = (k - 2) // 2
            order = torch.cat([torch.arange(half, 2 * half), torch.arange(half), torch.tensor([k - 1, k - 2])])
            order = order.to(obs["tokens"].device)
            tokens = obs["tokens"].index_select(-2, order)
            tokens[..., :2] = -tokens[..., :2]  # dy, dx
            out["tokens"] = tokens
            if "mask" in obs:
                out["mask"] = obs["mask"].index_select(-1, order)
        return out
    return obs.flip(-2, -1)


def mirror_actions(actions: torch.Tensor) -> torch.Tensor:
    """Actions of a mirrored policy as actions in the real arena (the map is its own inverse)."""
    return MIRRORED_ACTIONS.to(actions.device)[actions]


def check_symmetric(config) -> None:
    """Self-play needs both teams to play the same game with as many agents."""
    if config.mode.value == "tag" or config.red != config.blue:
        raise ValueError(
            f"self-play needs a mode both teams play alike (ctf or combat) and equal teams, got "
            f"mode {config.mode.value!r} with red={config.red}, blue={config.blue}"
        )


class TeamPolicy(Actor):
    """A team network as the :class:`~mazearena.actor.Actor` of ``team``: ``act(obs, state, alive)`` on that
    team's columns, mirrored when the network was trained as the other team."""

    def __init__(self, policy, trained_team: int, team: int, deterministic: bool = False) -> None:
        self.policy, self.mirrored, self.deterministic = policy, trained_team != team, deterministic
        self.recurrent = getattr(policy, "recurrent", False)

    def initial_state(self, games: int, device) -> State:
        return self.policy.initial_state(games, device) if self.recurrent else None

    def logits(self, obs, state: State, alive: torch.Tensor) -> torch.Tensor:
        """The team's action scores ``[games, agents, actions]`` (a mirrored network's, over its mirrored
        actions)."""
        obs = mirror_obs(obs) if self.mirrored else obs
        with torch.no_grad():
            return self.policy.logits(obs, state, alive)[0]

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        with torch.no_grad():
            logits, state = self.policy.logits(mirror_obs(obs) if self.mirrored else obs, state, alive)
        actions = choose(logits, self.deterministic)
        return (mirror_actions(actions) if self.mirrored else actions), state


class Match(Actor):
    """Two team actors in one arena: ``red`` acts red's columns, ``blue`` blue's (``teams``: each column's team,
    0 red, 1 blue, as the env's ``teams`` says); the state is the pair of theirs."""

    def __init__(self, red: Actor, blue: Actor, teams: list[int], device) -> None:
        self.red, self.blue, self.num_agents = red, blue, len(teams)
        self.whole_batch = red.whole_batch or blue.whole_batch  # a scripted team acts for every game
        self.red_cols = torch.tensor([i for i, t in enumerate(teams) if t == 0], device=device)
        self.blue_cols = torch.tensor([i for i, t in enumerate(teams) if t == 1], device=device)

    def initial_state(self, games: int, device) -> State:
        return self.red.initial_state(games, device), self.blue.initial_state(games, device)

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        columns = SelfPlayVectorEnv._columns
        actions = torch.zeros(alive.shape[0], self.num_agents, dtype=torch.long, device=alive.device)
        actions[:, self.red_cols], red = self.red.act(
            columns(obs, self.red_cols), state[0], alive.index_select(1, self.red_cols)
        )
        actions[:, self.blue_cols], blue = self.blue.act(
            columns(obs, self.blue_cols), state[1], alive.index_select(1, self.blue_cols)
        )
        return actions, (red, blue)


class League:
    """Frozen snapshots of a policy (state dicts on the policy's device) and the sampling of opponents."""

    def __init__(self, cfg: LeagueConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.snapshots: list[dict[str, torch.Tensor]] = []
        self.iterations: list[int] = []  # training iteration of each snapshot
        self.rng = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.snapshots)

    def add(self, policy: torch.nn.Module, iteration: int) -> None:
        self.snapshots.append({k: v.detach().clone() for k, v in policy.state_dict().items()})
        self.iterations.append(iteration)
        if len(self.snapshots) > self.cfg.max_snapshots:
            del self.snapshots[1], self.iterations[1]

    def sample(self) -> int:
        """Index of an opponent: the latest with probability ``latest_prob``, else uniform."""
        if not self.snapshots:
            raise RuntimeError("the league is empty: add a snapshot first")
        if float(torch.rand((), generator=self.rng)) < self.cfg.latest_prob:
            return len(self.snapshots) - 1
        return int(torch.randint(len(self.snapshots), (), generator=self.rng))

    def state_dict(self) -> dict[str, Any]:
        return {"snapshots": self.snapshots, "iterations": list(self.iterations), "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.snapshots = list(state["snapshots"])
        self.iterations = [int(i) for i in state["iterations"]]
        self.rng.set_state(state["rng"])


class OpponentVectorEnv:
    """An all-focal :class:`~mazearena.envs.arena.ArenaVectorEnv` seen from ``team``: its agents are the columns
    the trainer acts for; subclasses act the other team (:meth:`_opponent_actions`)."""

    def __init__(self, envs, team: int) -> None:
        names = list(envs.possible_agents)
        if len(names) != envs.config.num_agents:
            raise ValueError("an arena played against opponents needs every agent in play (scenario=None)")
        self.envs, self.team = envs, team
        self.config, self.engine, self.num_envs, self.device = envs.config, envs.engine, envs.num_envs, envs.device
        team_of = [envs.config.team_of(n) for n in names]
        self._mine = torch.tensor([i for i, t in enumerate(team_of) if t == team], device=self.device)
        self._theirs = torch.tensor([i for i, t in enumerate(team_of) if t != team], device=self.device)
        self.possible_agents = [names[i] for i in self._mine.tolist()]
        self.num_agents = len(self.possible_agents)
        self.teams, self.tally = [team] * self.num_agents, envs.tally
        self.single_observation_space = envs.single_observation_space
        self.single_action_space, self.state_space = envs.single_action_space, envs.state_space
        self._obs = self._alive = None

    def _opponent_actions(self) -> torch.Tensor:
        """The other team's actions ``[num_envs, their agents]`` on the last full observation."""
        raise NotImplementedError

    def _games_ended(self, ended: torch.Tensor) -> None:
        """The games ``ended`` (``[num_envs]`` bool) start afresh: opponents forget them."""

    @staticmethod
    def _columns(x, cols: torch.Tensor):
        if isinstance(x, dict):
            return {k: v.index_select(1, cols) for k, v in x.items()}
        return x.index_select(1, cols)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.envs.reset(seed=seed, options=options)
        self._obs, self._alive = obs, info["alive"]
        self._games_ended(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self._columns(obs, self._mine), {**info, "alive": self._columns(info["alive"], self._mine)}

    def step(self, actions: torch.Tensor):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        actions = torch.as_tensor(actions, device=self.device)
        if actions.shape != (self.num_envs, self.num_agents):
            raise ValueError(f"actions must have shape {(self.num_envs, self.num_agents)}, got {tuple(actions.shape)}")
        full = torch.zeros(self.num_envs, self.config.num_agents, dtype=torch.long, device=self.device)
        full[:, self._mine] = actions.long()
        full[:, self._theirs] = self._opponent_actions()
        obs, reward, terminated, truncated, info = self.envs.step(full)
        self._obs, self._alive = obs, info["alive"]
        self._games_ended(info["_final_obs"])
        for key in ("active", "alive", "final_obs"):
            if key in info:
                info[key] = self._columns(info[key], self._mine)
        mine = self._mine
        return (
            self._columns(obs, mine),
            self._columns(reward, mine),
            self._columns(terminated, mine),
            self._columns(truncated, mine),
            info,
        )

    def state(self) -> torch.Tensor:
        return self.envs.state()

    def close(self) -> None:
        self.envs.close()


class FixedOpponentVectorEnv(OpponentVectorEnv):
    """An all-focal arena vector env seen from ``team``, the other team acted in every game by ``opponent`` (an
    :class:`~mazearena.actor.Actor` for that team, e.g. a frozen :class:`TeamPolicy`): what an adversary
    trains against."""

    def __init__(self, envs, team: int, opponent: Actor) -> None:
        super().__init__(envs, team)
        self.opponent = opponent
        self._state = opponent.initial_state(self.num_envs, self.device)

    def _opponent_actions(self) -> torch.Tensor:
        obs, alive = self._columns(self._obs, self._theirs), self._alive.index_select(1, self._theirs)
        with torch.no_grad():
            actions, self._state = self.opponent.act(obs, self._state, alive)
        return actions

    def _games_ended(self, ended: torch.Tensor) -> None:
        if self._state is not None:
            self._state = reset_where(self._state, ended, self.opponent.initial_state(self.num_envs, self.device))

    def state_dict(self) -> dict[str, Any]:
        """The opponent's per-game state and the last full observation."""
        return {"opponent_state": self._state, "full_obs": self._obs, "full_alive": self._alive}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._state = state_to(state["opponent_state"], self.device)
        self._obs = batches.to_device(state["full_obs"], self.device)
        self._alive = state["full_alive"].to(self.device)


class SelfPlayVectorEnv(OpponentVectorEnv):
    """An all-focal :class:`~mazearena.envs.arena.ArenaVectorEnv` seen from ``team``: its agents are the
    columns the trainer acts for, the other team is acted by league opponents (see the module docstring).

    ``policy`` is the learner (snapshots of it become opponents); it learns as ``team``.
    """

    def __init__(
        self,
        envs,
        policy: torch.nn.Module,
        league: League,
        team: int,
        npcs: list | None = None,
        adversaries: list[Actor] = (),
    ) -> None:
        check_symmetric(envs.config)
        groups, scripted = league.cfg.opponent_groups, league.cfg.scripted_groups
        if envs.num_envs % groups:
            raise ValueError(f"opponent_groups ({groups}) must divide num_envs ({envs.num_envs})")
        if len(envs.possible_agents) != envs.config.num_agents:
            raise ValueError("self-play needs an arena without NPCs (scenario=None)")
        super().__init__(envs, team)
        self.policy, self.league = policy, league
        size = self.num_envs // groups  # contiguous blocks of games, indexed by slices (no gathers per step)
        self._scripted_rows = slice(0, scripted * size)
        fixed = scripted + len(adversaries)  # then a block for each adversary, then the league's
        self._adversaries = list(adversaries)
        self._adversary_rows = [slice(k * size, (k + 1) * size) for k in range(scripted, fixed)]
        self._adversary_states = [a.initial_state(size, self.device) for a in self._adversaries]
        self._rows = [slice(k * size, (k + 1) * size) for k in range(fixed, groups)]
        self.npcs = None
        if scripted:
            from mazearena.envs.npcs import NpcController

            if npcs is None or len(npcs) != len(self._theirs):
                raise ValueError(
                    f"scripted_groups needs one NPC spec per agent of the other team "
                    f"({len(self._theirs)}), got {0 if npcs is None else len(npcs)}"
                )
            self.npcs = NpcController(self.engine, dict(zip(self._theirs.tolist(), npcs, strict=True)))
        self.opponents = [copy.deepcopy(policy).eval().requires_grad_(False) for _ in range(len(self._rows))]
        self._actors = [TeamPolicy(net, team, 1 - team) for net in self.opponents]
        self._block_size = size
        self._states = [a.initial_state(size, self.device) for a in self._actors]  # each block's, per game
        self.assigned = [-1] * len(self._rows)  # league index each block plays

    # ------------------------------------------------------------ opponents
    def resample(self) -> None:
        """Each block of games draws an opponent from the league."""
        self.assigned = [self.league.sample() for _ in self.opponents]
        self._load()

    def _load(self) -> None:
        for k, (net, index) in enumerate(zip(self.opponents, self.assigned, strict=True)):
            if index >= 0:
                net.load_state_dict(self.league.snapshots[index])
                self._states[k] = self._actors[k].initial_state(self._block_size, self.device)

    def _opponent_actions(self) -> torch.Tensor:
        obs, alive = self._columns(self._obs, self._theirs), self._alive.index_select(1, self._theirs)
        out = torch.zeros(alive.shape, dtype=torch.long, device=self.device)
        for k, (actor, rows) in enumerate(zip(self._actors, self._rows, strict=True)):
            out[rows], self._states[k] = actor.act(batches.index(obs, rows), self._states[k], alive[rows])
        for k, (actor, rows) in enumerate(zip(self._adversaries, self._adversary_rows, strict=True)):
            with torch.no_grad():
                out[rows], self._adversary_states[k] = actor.act(
                    batches.index(obs, rows), self._adversary_states[k], alive[rows]
                )
        if self.npcs is not None:
            out[self._scripted_rows] = self.npcs.act(None, None)[0][self._scripted_rows]
        return out

    def _games_ended(self, ended: torch.Tensor) -> None:
        for states, actors, blocks in (
            (self._states, self._actors, self._rows),
            (self._adversary_states, self._adversaries, self._adversary_rows),
        ):
            for k, (actor, rows) in enumerate(zip(actors, blocks, strict=True)):
                if states[k] is not None:  # opponents start every game afresh
                    fresh = actor.initial_state(self._block_size, self.device)
                    states[k] = reset_where(states[k], ended[rows], fresh)

    def after_iteration(self, iteration: int) -> dict[str, float]:
        """Called by the trainer after each iteration: every ``snapshot_every`` iterations the learner joins
        the league and the blocks draw new opponents. Returns league metrics."""
        if iteration % self.league.cfg.snapshot_every == 0:
            self.league.add(self.policy, iteration)
            self.resample()
        ages = [iteration - self.league.iterations[i] for i in self.assigned]
        return {"league/size": float(len(self.league)), "league/opponent_age": sum(ages) / len(ages)}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if not self.league.snapshots:
            self.league.add(self.policy, 0)
        if -1 in self.assigned:
            self.resample()
        return super().reset(seed=seed, options=options)

    def state_dict(self) -> dict[str, Any]:
        """The league, the opponents in play with their per-game actor states, and the last full observation."""
        return {
            "league": self.league.state_dict(),
            "assigned": torch.tensor(self.assigned),
            "opponent_states": list(self._states),
            "adversary_states": list(self._adversary_states),
            "full_obs": self._obs,
            "full_alive": self._alive,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.league.load_state_dict(state["league"])
        self.assigned = [int(i) for i in state["assigned"]]
        self._load()
        if "opponent_states" in state:  # checkpoints written before the actors carried states have none
            self._states = [state_to(s, self.device) for s in state["opponent_states"]]
        if "adversary_states" in state:
            self._adversary_states = [state_to(s, self.device) for s in state["adversary_states"]]
        self._obs = batches.to_device(state["full_obs"], self.device)
        self._alive = state["full_alive"].to(self.device)


def play_match(envs, red, blue, games: int) -> dict[str, float]:
    """``games`` games between two team actors (``red`` acting red's columns, ``blue`` blue's: a
    :class:`TeamPolicy` or any :class:`~mazearena.actor.Actor`) on an all-focal arena vector env, played by
    :func:`~mazearena.agents.episodes.run_games`. Returns red's win rate, the draw rate, blue's win rate and the
    number of games."""
    from mazearena.agents.episodes import run_games

    match = Match(as_actor(red), as_actor(blue), envs.teams, envs.device)
    result = run_games(envs, match, games, team=0)
    return {
        "red_win": result["success_rate"],
        "draw": result["draw_rate"],
        "blue_win": result["loss_rate"],
        "games": result["episodes"],
    }


def win_rate_table(
    make_envs, policy: torch.nn.Module, snapshots: list[dict], trained_team: int, games: int, progress=None
) -> dict[str, list]:
    """:func:`cross_play` of snapshots (state dicts) of ``policy``'s architecture, all trained as ``trained_team``."""
    nets = []
    for snapshot in snapshots:
        net = copy.deepcopy(policy).eval()
        net.load_state_dict(snapshot)
        nets.append(net)
    return cross_play(make_envs, nets, [trained_team] * len(nets), games, progress)


def cross_play(
    make_envs, nets: list[torch.nn.Module], trained_teams: list[int], games: int, progress=None
) -> dict[str, list]:
    """Every team policy (or :class:`ScriptedPlayer`) against every other: ``win[i][j]`` is the share of games
    ``nets[i]`` wins against ``nets[j]`` (half of them with ``i`` as red, half as blue, so neither side's small
    advantages count; a net trained as the other team plays through the mirror), ``draw`` the share drawn
    (``None`` on the diagonal). ``make_envs()`` builds a fresh all-focal arena vector env (same seed for every
    pair, so every pair plays the same arenas). ``progress()`` is called after each pair."""
    with torch.no_grad():
        return _cross_play(make_envs, nets, trained_teams, games, progress)


def _side(player, trained_team: int, envs, team: int) -> Actor:
    """The actor of a cross-play player (a team network or a :class:`ScriptedPlayer`) as ``team``."""
    if isinstance(player, ScriptedPlayer):
        return player.actor(envs, team)
    return TeamPolicy(player, trained_team, team)


def _cross_play(make_envs, nets, trained_teams, games, progress) -> dict[str, list]:
    k = len(nets)
    win: list[list[float | None]] = [[None] * k for _ in range(k)]  # a policy does not play itself
    draw: list[list[float | None]] = [[None] * k for _ in range(k)]

    def match(red: int, blue: int) -> dict[str, float]:
        envs = make_envs()
        red_side = _side(nets[red], trained_teams[red], envs, 0)
        return play_match(envs, red_side, _side(nets[blue], trained_teams[blue], envs, 1), games // 2)

    for i in range(k):
        for j in range(i + 1, k):
            a, b = match(i, j), match(j, i)
            n = a["games"] + b["games"]
            win[i][j] = (a["red_win"] * a["games"] + b["blue_win"] * b["games"]) / n
            win[j][i] = (a["blue_win"] * a["games"] + b["red_win"] * b["games"]) / n
            draw[i][j] = draw[j][i] = (a["draw"] * a["games"] + b["draw"] * b["games"]) / n
            if progress is not None:
                progress()
    return {"win": win, "draw": draw}
