"""Scripted NPC behaviours for the arenas, computed for every game of a batch at once.

Each behaviour scores the five moves (stay and the four compass moves) by a path-distance field and takes
the best, ties broken at random; in ``combat`` every behaviour but ``random`` and ``flee`` attacks when an
enemy stands in its line of fire. ``epsilon`` is the difficulty knob: the chance of a uniformly random
action each step (0 = sharpest). Randomness is counter-based (seed, episode, step, agent), so NPC games
replay exactly.

Behaviours:

* ``random`` — a uniformly random action.
* ``chase`` — toward the nearest enemy (shortest path).
* ``flee`` — away from the nearest enemy.
* ``guard`` — chase enemies within ``guard_radius`` steps of its base, otherwise go back to the base.
* ``flag_runner`` — (``ctf``) to the enemy flag, then home with it; chases enemies when its team already
  holds the flag. Outside ``ctf`` it chases.
* ``patrol`` — walks between its base and the arena centre, changing direction every ``patrol_period``
  steps; chases enemies that come within ``guard_radius`` steps.

A capture-the-flag team script (``ctf`` only; the scenarios' scripted baselines). Each plays around the enemy
*guard*, the enemy nearest its own base, whose reach it takes to be ``guard_radius``; none steps where the guard
could tag it next, and each brings the flag home when it holds it:

* ``ctf_defender`` — waits next to its own flag (the enemy runner that takes it is tagged there), and steps
  out of the way of a teammate bringing the enemy flag home.
* ``ctf_lurer`` — goes to the enemy guard and, once the guard chases it, keeps it chasing (3 to
  ``guard_radius`` steps away) while walking away from the enemy base: the guard leaves its flag.
* ``ctf_raider`` — waits just beyond the guard's reach from the enemy flag, and runs for the flag as soon as
  the guard is drawn :data:`LURED` steps from its base.

Team mates block each other in corridors (a move into an occupied cell fails): a team behaviour that cannot
take the move it wants for two steps takes a random one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch

from mazearena.actor import Actor, State
from mazearena.checks import check_int, enum_value
from mazearena.envs.engine.arena import ArenaEngine
from mazearena.envs.engine.arena_rules import ATTACK, Mode
from mazearena.envs.engine.common import UNREACHABLE, shortest_steps
from mazearena.rng import STREAM_NPC, uniform


class Behaviour(str, Enum):
    RANDOM = "random"
    CHASE = "chase"
    FLEE = "flee"
    GUARD = "guard"
    FLAG_RUNNER = "flag_runner"
    PATROL = "patrol"
    CTF_DEFENDER = "ctf_defender"
    CTF_LURER = "ctf_lurer"
    CTF_RAIDER = "ctf_raider"


_CODES = {b: i for i, b in enumerate(Behaviour)}
_TEAM_SCRIPT = tuple(_CODES[b] for b in Behaviour if b.value.startswith("ctf_"))

LURED = 2
"""Path steps the enemy guard must be from its base before a raider runs for the flag."""
_KEEP = 3
"""The lurer's least distance to the guard it draws away (adjacent means tagged)."""


@dataclass(frozen=True)
class NpcSpec:
    """One NPC: what it does and how sloppily."""

    behaviour: Behaviour = Behaviour.CHASE
    """``random``, ``chase``, ``flee``, ``guard``, ``flag_runner`` or ``patrol``."""
    epsilon: float = 0.1
    """Chance of a uniformly random action each step, in [0, 1] (0 = sharpest)."""
    guard_radius: int = 4
    """``guard``/``patrol``: path distance at which an enemy is engaged."""
    patrol_period: int = 12
    """``patrol``: steps between turns."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "behaviour", enum_value(Behaviour, self.behaviour, "behaviour"))
        if isinstance(self.epsilon, bool) or not isinstance(self.epsilon, (int, float)) or not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon must be a number in [0, 1], got {self.epsilon!r}")
        for name in ("guard_radius", "patrol_period"):
            check_int(name, getattr(self, name), 1)


def team_distances(engine: ArenaEngine) -> torch.Tensor:
    """``[B, 2, S*S]`` path steps from every cell to the nearest agent of each team still in the game."""
    b, s = engine.num_envs, engine.config.size
    flat = engine.pos[..., 0] * s + engine.pos[..., 1]
    sources = torch.zeros(b, 2, s * s + 1, dtype=torch.bool, device=engine.device)
    for k in range(2):
        mine = engine.alive & (engine.team == k)
        sources[:, k].scatter_(1, torch.where(mine, flat, s * s), True)
    sources = sources[..., : s * s].reshape(2 * b, s, s)
    passable = (~engine.walls)[:, None].expand(b, 2, s, s).reshape(2 * b, s, s)
    return shortest_steps(sources, passable).view(b, 2, s * s)


def centre_distance(engine: ArenaEngine) -> torch.Tensor:
    """``[B, S*S]`` path steps to the floor cell nearest the arena centre."""
    return centre_distance_of(engine.walls)


def centre_distance_of(walls: torch.Tensor) -> torch.Tensor:
    """``[N, S*S]`` path steps to the floor cell nearest the centre of each of ``walls [N, S, S]``."""
    b, s = walls.shape[0], walls.shape[1]
    c = s // 2
    yy, xx = torch.meshgrid(torch.arange(s, device=walls.device), torch.arange(s, device=walls.device), indexing="ij")
    manhattan = ((yy - c).abs() + (xx - c).abs()).view(1, -1)
    cost = torch.where(walls.view(b, -1), UNREACHABLE, manhattan)
    sources = torch.zeros(b, s * s, dtype=torch.bool, device=walls.device)
    sources[torch.arange(b, device=walls.device), cost.argmin(1)] = True
    return shortest_steps(sources.view(b, s, s), ~walls).view(b, -1)


class NpcController(Actor):
    """Chooses the actions of the NPC agents of an engine, every step, for all its games: an
    :class:`~mazearena.actor.Actor` that sees the whole game, the engine it is built on, rather than
    observations (it reads no ``obs``), and carries no :class:`~mazearena.actor.Actor` state. The ctf team
    behaviours remember a little of each game inside it (who the enemy guard is, who is stuck), cleared where an
    episode starts: call :meth:`act` once per engine step."""

    whole_batch = True

    def __init__(self, engine: ArenaEngine, npcs: dict[int, NpcSpec]) -> None:
        self.engine = engine
        dev = engine.device
        self.index = torch.tensor(sorted(npcs), dtype=torch.long, device=dev)
        specs = [npcs[i] for i in sorted(npcs)]
        self.code = torch.tensor([_CODES[p.behaviour] for p in specs], dtype=torch.long, device=dev)
        self.epsilon = torch.tensor([p.epsilon for p in specs], dtype=torch.float32, device=dev)
        self.base_epsilon = self.epsilon.clone()  # as specified; ``epsilon`` may be shifted for evaluation
        self.radius = torch.tensor([p.guard_radius for p in specs], dtype=torch.long, device=dev)
        self.period = torch.tensor([p.patrol_period for p in specs], dtype=torch.long, device=dev)
        self._centre: torch.Tensor | None = None
        self._centre_levels: torch.Tensor | None = None
        self._per_level: torch.Tensor | None = None
        self.scripted = torch.isin(self.code, torch.tensor(_TEAM_SCRIPT, device=dev))  # [n]: a ctf team behaviour
        self.team_script = bool(self.scripted.any())
        if self.team_script:
            if engine.config.mode is not Mode.CTF:
                raise ValueError("the ctf_* behaviours play capture the flag only (mode='ctf')")
            b, n = engine.num_envs, len(specs)
            self._prev = torch.full((b, n, 2), -1, dtype=torch.long, device=dev)
            self._stuck = torch.zeros(b, n, dtype=torch.long, device=dev)
            self._stays = torch.zeros(b, engine.config.num_agents, device=dev)

    def _centre_distance(self) -> torch.Tensor:
        e = self.engine
        if getattr(e, "sync_free", False):  # arenas cached on the device: a field per arena, gathered by id
            if self._per_level is None:
                walls = e.levels.store[0]
                self._per_level = centre_distance_of(walls)
            return self._per_level.index_select(0, e.level_ids - e.levels.lo)
        if self._centre is None or not torch.equal(self._centre_levels, e.level_ids):
            self._centre, self._centre_levels = centre_distance(e), e.level_ids.clone()
        return self._centre

    def act(self, obs=None, state: State = None, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """``[B, len(npcs)]`` actions of the NPCs, in the order of their agent index (read from the engine: the
        NPCs out of the game are its ``alive``), and ``state`` as it was."""
        return self._actions(), state

    def _actions(self) -> torch.Tensor:
        e, cfg = self.engine, self.engine.config
        b, s = e.num_envs, cfg.size
        dev = e.device
        idx = self.index
        n = len(idx)
        team = e.team[idx]  # [n]
        pos = e.pos.index_select(1, idx)  # [B, n, 2]  (index_select: far faster than [:, idx] on CPU)
        moves = e._deltas[:5]  # stay, N, E, S, W
        cand = pos[:, :, None, :] + moves[None, None]  # [B, n, 5, 2]; the border is wall, so never outside
        flat = cand[..., 0] * s + cand[..., 1]  # [B, n, 5]
        blocked = e.walls.view(b, -1).gather(1, flat.view(b, -1)).view(b, n, 5)

        def at(field: torch.Tensor) -> torch.Tensor:  # field [B, n, S*S] -> values at the candidates
            return field.gather(2, flat)

        teams = team_distances(e)
        enemy_d = at(teams.index_select(1, 1 - team))  # [B, n, 5]
        home_d = at(e.base_dist.view(b, 2, -1).index_select(1, team))
        flag_d = at(e.base_dist.view(b, 2, -1).index_select(1, 1 - team))
        here_enemy = enemy_d[..., 0]  # distance from where each NPC stands
        near = here_enemy <= self.radius
        score = enemy_d.clone()  # chase: minimise distance to the nearest enemy
        code = self.code.view(1, n)
        score = torch.where((code == _CODES[Behaviour.FLEE])[..., None], -enemy_d, score)
        guard_home = (code == _CODES[Behaviour.GUARD]) & ~near
        score = torch.where(guard_home[..., None], home_d, score)
        if cfg.mode is Mode.CTF:
            carrying = e.carrying.index_select(1, idx)
            team_has = e.team_carrying().index_select(1, 1 - team)  # [B, n]: its team holds the enemy flag
            runner = code == _CODES[Behaviour.FLAG_RUNNER]
            score = torch.where((runner & carrying)[..., None], home_d, score)
            score = torch.where((runner & ~carrying & ~team_has)[..., None], flag_d, score)
        if self.team_script:
            script, occupied = self._team_scores(flat, home_d, flag_d)
            score = torch.where(script.isfinite(), script, score.float())
        outward = ((e.t[:, None] // self.period[None, :]) % 2) == 0
        centre_d = self._centre_distance()[:, None, :].expand(b, n, -1).gather(2, flat)
        walk = (code == _CODES[Behaviour.PATROL]) & ~near
        score = torch.where((walk & outward)[..., None], centre_d, score)
        score = torch.where((walk & ~outward)[..., None], home_d, score)

        step_key = (e.seeds[:, None], e.episodes[:, None], e.t[:, None], idx[None, :])
        noise = uniform(*[k[..., None] for k in step_key], STREAM_NPC, torch.arange(5, device=dev))  # [B, n, 5]
        value = score.float() + 0.5 * noise  # distances are integers: the noise only breaks ties
        value = torch.where(blocked, float("inf"), value)
        action = value.argmin(2)
        if self.team_script:
            action = self._unstick(action, value, occupied, pos, step_key)

        if cfg.mode is Mode.COMBAT:
            victim = e.first_in_line().index_select(1, idx)
            enemy_in_line = (victim >= 0) & (e.team[victim.clamp(min=0)] != team)
            fights = (code != _CODES[Behaviour.RANDOM]) & (code != _CODES[Behaviour.FLEE])
            action = torch.where(enemy_in_line & fights, ATTACK, action)
        explore = (code == _CODES[Behaviour.RANDOM]) | (uniform(*step_key, STREAM_NPC, 5) < self.epsilon)
        random_action = (uniform(*step_key, STREAM_NPC, 6) * cfg.num_actions).long().clamp(max=cfg.num_actions - 1)
        return torch.where(explore, random_action, action)

    def _team_scores(self, flat: torch.Tensor, home_d: torch.Tensor, flag_d: torch.Tensor):
        """``[B, n, 5]`` scores of the ctf team behaviours' moves (``inf`` for the other NPCs) and ``[B, n, 5]``
        whether a teammate stands on each candidate cell (the move would fail)."""
        e, s = self.engine, self.engine.config.size
        b, n = flat.shape[:2]
        dev = e.device
        idx, code = self.index, self.code.view(1, n)
        team = e.team[idx]
        cells = e.pos[..., 0] * s + e.pos[..., 1]  # [B, A]
        # the enemy guard of each NPC: the enemy in the game that keeps nearest its own base (a running mean of
        # its distance, so that a runner respawned at its base is not taken for the guard)
        enemy = e.team[None, :] != team[:, None]  # [n, A]: the other team's agents
        own_base_dist = e.base_dist.view(b, 2, -1).gather(2, cells[:, None, :].expand(b, 2, -1))  # [B, 2, A]
        to_own_base = own_base_dist.gather(1, e.team.view(1, 1, -1).expand(b, 1, -1))[:, 0].float()  # [B, A]
        starts = e.t.view(b, 1) == 0
        self._stays = torch.where(starts, to_own_base, 0.9 * self._stays + 0.1 * to_own_base)
        far = torch.where(e.alive, to_own_base, UNREACHABLE)
        stays = torch.where(e.alive, self._stays, float(UNREACHABLE))
        guard = torch.where(enemy[None], stays[:, None, :], float(UNREACHABLE + 1)).argmin(2)  # [B, n] agent index
        guard_cell = cells.gather(1, guard)
        guard_home = torch.where(  # its distance from its base (UNREACHABLE: no enemy left)
            (enemy[None] & e.alive[:, None, :]).any(2), far.gather(1, guard), UNREACHABLE
        )
        guard_d = self._fields_from(guard_cell).gather(2, flat)  # [B, n, 5] path steps from the guard
        guard_here = guard_d[..., 0]
        own_flag = e.base_dist.view(b, 2, -1).index_select(1, team)  # [B, n, S*S]
        # a teammate carrying the enemy flag, and how far it is from home
        mate = (e.team[None, :] == team[:, None])[None] & e.carrying[:, None, :]  # [B, n, A]
        carrier = mate.float().argmax(2)
        carrier_home = torch.where(mate.any(2), own_flag.gather(2, cells.gather(1, carrier)[..., None])[..., 0], 99)
        carrier_d = self._fields_from(cells.gather(1, carrier)).gather(2, flat)
        reach = self.radius.view(1, n, 1)
        danger = (guard_d <= 1) * 100.0 + (guard_d == 2) * 5.0
        defend = torch.where(
            (carrier_home <= 6)[..., None],
            -carrier_d.clamp(max=3).float() + (home_d > 3) * 100.0,
            (home_d - 1).abs().float(),
        )
        engaged = (guard_here <= self.radius.view(1, n) + 1)[..., None]
        lure = (guard_d < _KEEP) * 100.0 + (guard_d > reach) * 10.0 - 0.5 * flag_d
        lure = torch.where(engaged, lure, flag_d + (guard_d < _KEEP) * 100.0)
        lured = (guard_home >= LURED)[..., None]
        raid = torch.where(lured, flag_d + danger, (flag_d - (reach + 2)).abs() + (guard_d <= reach) * 50.0)
        script = torch.full((b, n, 5), float("inf"), device=dev)
        for behaviour, moves in (
            (Behaviour.CTF_DEFENDER, defend),
            (Behaviour.CTF_LURER, lure),
            (Behaviour.CTF_RAIDER, raid),
        ):
            script = torch.where((code == _CODES[behaviour])[..., None], moves.float(), script)
        holding = e.carrying.index_select(1, idx) & self.scripted
        script = torch.where(holding[..., None], home_d + danger, script)
        mates = torch.zeros(b, 2, s * s + 1, dtype=torch.bool, device=dev)  # the cells each team stands on
        for k in range(2):
            mates[:, k].scatter_(1, torch.where(e.alive & (e.team == k), cells, s * s), True)
        occupied = mates.index_select(1, team)[..., : s * s].gather(2, flat)  # [B, n, 5]
        occupied[..., 0] = False  # its own cell
        return torch.where(occupied, script + 2.0, script), occupied

    def _fields_from(self, cells: torch.Tensor) -> torch.Tensor:
        """``[B, n, S*S]`` path steps from each of ``cells [B, n]`` (flat cell indices)."""
        e, s = self.engine, self.engine.config.size
        b, n = cells.shape
        sources = torch.zeros(b * n, s * s, dtype=torch.bool, device=e.device)
        sources[torch.arange(b * n, device=e.device), cells.reshape(-1)] = True
        passable = (~e.walls)[:, None].expand(b, n, s, s).reshape(b * n, s, s)
        return shortest_steps(sources.view(b * n, s, s), passable).view(b, n, s * s)

    def _unstick(self, action, value, occupied, pos, step_key) -> torch.Tensor:
        """Team behaviours: a random move for an NPC whose wanted move went nowhere (a teammate in the way)
        for two steps."""
        wanted = (value - torch.where(occupied, 2.0, 0.0)).argmin(2)
        into_mate = occupied.gather(2, wanted[..., None])[..., 0]
        still = ((pos == self._prev).all(-1) & (action != 0)) | into_mate
        self._stuck = torch.where(still & self.scripted & (self.engine.t[:, None] > 0), self._stuck + 1, 0)
        self._prev = pos.clone()
        random_move = 1 + (uniform(*step_key, STREAM_NPC, 7) * 4).long().clamp(max=3)
        return torch.where(self._stuck >= 2, random_move, action)
