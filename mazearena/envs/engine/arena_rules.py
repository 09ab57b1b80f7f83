"""The arena game's rules, each written twice side by side: in torch ops over the whole batch (any device) and as
a numba loop game by game (:func:`~mazearena.envs.engine.common.twin`, the CPU).

:func:`torch_step` and its compiled twin :func:`_step` play one step of every game: :func:`moves` /
:func:`_moves`, then the mode's rule, :func:`tag` / :func:`_tag`, :func:`ctf` / :func:`_ctf` (with
:func:`respawn` / :func:`_ctf_tags` and the shaping's :func:`steps_to_goal` / :func:`_steps_to_goal`),
:func:`combat` / :func:`_combat`. The loops do float32 arithmetic in torch's order, so rewards match bit for bit;
``tests/envs/test_arena.py`` and ``test_golden.py`` require identical results. The functions take the engine
(``e``, an :class:`~mazearena.envs.engine.arena.ArenaEngine`) and change its state in place; the engine chooses
the twin by its backend. What the rules say in words is the docstring of :mod:`~mazearena.envs.engine.arena`.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch
from numba import njit, prange

from mazearena.envs.engine.common import UNREACHABLE, twin

TEAMS = ("red", "blue")
STAY, ATTACK = 0, 5
# (dy, dx) of actions 0..5: stay, the four compass moves, attack (no move).
ACTION_DELTAS = torch.tensor([[0, 0], [-1, 0], [0, 1], [1, 0], [0, -1], [0, 0]], dtype=torch.long)


class Mode(str, Enum):
    TAG = "tag"
    CTF = "ctf"
    COMBAT = "combat"


MODES = tuple(Mode)


# ---------------------------------------------------------------------------------------------- torch
def occupancy(e) -> torch.Tensor:
    """``[B, S*S + 1]``: the index of the agent in each cell, -1 where none (last column: a dump)."""
    b, a, s = e.num_envs, e.config.num_agents, e.config.size
    flat = e.pos[..., 0] * s + e.pos[..., 1]
    occ = torch.full((b, s * s + 1), -1, dtype=torch.long, device=e.device)
    occ.scatter_(1, torch.where(e.alive, flat, s * s), e._agent_idx.expand(b, a).clone())
    occ[:, -1] = -1
    return occ


def adjacent_enemies(e) -> torch.Tensor:
    """``[B, A, A]``: alive enemies within one step (4-neighbourhood) of each other."""
    d = (e.pos[:, :, None, :] - e.pos[:, None, :, :]).abs().sum(-1)
    both = e.alive[:, :, None] & e.alive[:, None, :]
    return (d <= 1) & both & e._enemy


def moves(e, acts: torch.Tensor) -> None:
    """Moves: into floor that nobody occupied at the start of the step, the lowest index first; a move sets the
    heading."""
    b, a, s = e.num_envs, e.config.num_agents, e.config.size
    moving = (acts >= 1) & (acts <= 4)
    e.heading.copy_(torch.where(moving, acts - 1, e.heading))
    target = e.pos + e._deltas[acts]
    flat = target[..., 0] * s + target[..., 1]
    occupied = occupancy(e)
    free = ~e.walls.view(b, -1).gather(1, flat) & (occupied.gather(1, flat) < 0)
    candidate = moving & free
    claim = torch.full((b, s * s + 1), a, dtype=torch.long, device=e.device)
    claim.scatter_reduce_(1, torch.where(candidate, flat, s * s), e._agent_idx.expand(b, a), "amin")
    moved = candidate & (claim.gather(1, flat) == e._agent_idx)
    e.pos.copy_(torch.where(moved[..., None], target, e.pos))


def torch_step(e, actions: torch.Tensor):
    """One step of every game in torch ops: ``(active, reward, terminated, truncated, decided)``."""
    cfg = e.config
    b, a, s = e.num_envs, cfg.num_agents, cfg.size
    active = e.alive.clone()
    acts = torch.where(active, actions, STAY)
    reward = torch.zeros(b, a, device=e.device)

    if cfg.mode is Mode.CTF and cfg.flag_shaping:
        steps_before = steps_to_goal(e)
    moves(e, acts)

    left = torch.zeros(b, a, dtype=torch.bool, device=e.device)  # agents leaving the game now
    if cfg.mode is Mode.TAG:
        decided = tag(e, active, reward, left)
    elif cfg.mode is Mode.CTF:
        decided = ctf(e, active, reward)
        if cfg.flag_shaping:
            gained = (steps_before - steps_to_goal(e)).float() / s
            reward += torch.tensor(cfg.flag_shaping, dtype=torch.float32, device=e.device) * gained
    else:
        decided = combat(e, acts, active, reward, left)

    e.alive &= ~left
    decided |= ~(e.alive & e.focal).any(1)
    e.t += 1
    truncated = (e.t >= cfg.max_cycles)[:, None] & e.alive
    terminated = left | (decided[:, None] & e.alive)
    return active, reward, terminated, truncated, decided


def leader(e) -> torch.Tensor:
    """``[B]``: the team that wins if the game ends now (0 red, 1 blue, -1 a draw). ``tag``: the runners while any
    is in the game, else the chasers; ``ctf``: the higher score; ``combat``: the team with more agents standing."""
    standing = torch.stack([(e.alive & (e.team == k)).sum(1) for k in range(2)], 1)  # [B, 2]
    if e.config.mode is Mode.TAG:
        runners = 1 - e.chaser_team
        return torch.where(standing[:, runners] > 0, runners, e.chaser_team)
    points = e.score if e.config.mode is Mode.CTF else standing
    return torch.where(points[:, 0] > points[:, 1], 0, torch.where(points[:, 1] > points[:, 0], 1, -1))


def tag(e, active, reward, left) -> torch.Tensor:
    """``tag``'s catches and rewards; the games decided (no runner left)."""
    cfg = e.config
    runner = e.team != e.chaser_team
    near = adjacent_enemies(e)
    caught = (near & ~runner[None, None, :]).any(2) & runner & e.alive
    left |= caught
    reward += torch.where(caught, -1.0, 0.0)
    catches = caught.sum(1, keepdim=True).float()
    reward += torch.where(~runner & active, catches, 0.0)
    reward += torch.where(runner & e.alive & ~caught, 1.0 / cfg.max_cycles, 0.0)
    return ~(runner & e.alive & ~caught).any(1)


def ctf(e, active, reward) -> torch.Tensor:
    """``ctf``'s tags, pick-ups, captures and rewards; the games decided."""
    cfg = e.config
    mid = cfg.size // 2
    x = e.pos[..., 1]
    own_half = torch.where(e.team == 0, x < mid, x > mid)
    enemy_half = torch.where(e.team == 0, x > mid, x < mid)
    near = adjacent_enemies(e)
    tagged = (near & own_half[:, None, :]).any(2) & enemy_half & e.alive
    if e.sync_free or bool(tagged.any()):
        e.carrying &= ~tagged
        respawn(e, tagged)
    # Pick-ups: the lowest-index agent standing on the enemy flag while that flag is home.
    enemy_base = e.bases[:, 1 - e.team]  # [B, A, 2]
    on_flag = (e.pos == enemy_base).all(-1) & e.alive
    flag_home = ~team_carrying(e)  # [B, 2]: flag of team k is home
    can_take = on_flag & flag_home[:, 1 - e.team]
    take = torch.zeros_like(can_take)
    for team in range(2):
        mask = can_take & (e.team == team)
        take |= mask & (mask.cumsum(1) == 1)
    e.carrying |= take
    # Captures: a carrier on its own base.
    own_base = e.bases[:, e.team]
    capture = e.carrying & (e.pos == own_base).all(-1)
    e.carrying &= ~capture
    gained = torch.stack([(capture & (e.team == k)).sum(1) for k in range(2)], 1)  # [B, 2]
    e.score += gained
    gain = gained.float()
    reward += gain[:, e.team] - gain[:, 1 - e.team]
    if cfg.pickup_reward:
        took = torch.stack([(take & (e.team == k)).any(1) for k in range(2)], 1).float()  # [B, 2]
        bonus = torch.tensor(cfg.pickup_reward, dtype=torch.float32, device=e.device)
        reward += bonus * (took[:, e.team] - took[:, 1 - e.team])
    return (e.score >= cfg.captures_to_win).any(1)


def steps_to_goal(e) -> torch.Tensor:
    """``[B, A]`` ``ctf`` path steps each agent has left: to its base while carrying the enemy flag, else
    to the enemy base and from there home (the potential of ``flag_shaping``)."""
    s = e.config.size
    dist = e.base_dist.view(e.num_envs, 2, -1)
    own, enemy = dist.index_select(1, e.team), dist.index_select(1, 1 - e.team)  # [B, A, S*S]
    here = (e.pos[..., 0] * s + e.pos[..., 1])[..., None]
    enemy_base = e.bases.index_select(1, 1 - e.team)  # [B, A, 2]
    trip = own.gather(2, (enemy_base[..., 0] * s + enemy_base[..., 1])[..., None])
    own_d, enemy_d = own.gather(2, here), enemy.gather(2, here)
    return torch.where(e.carrying[..., None], own_d, enemy_d + trip).squeeze(-1)


def team_carrying(e) -> torch.Tensor:
    """``[B, 2]``: whether the flag of team k is being carried (by the other team)."""
    return torch.stack([(e.carrying & (e.team == 1 - k)).any(1) for k in range(2)], 1)


def respawn(e, who: torch.Tensor) -> None:
    """Move the agents ``who [B, A]`` to the free cells nearest their base, nearest first."""
    b, a, s = e.num_envs, e.config.num_agents, e.config.size
    occupied = occupancy(e)[:, :-1] >= 0  # [B, S*S]
    for k in range(a):  # one agent at a time, so two respawns never pick the same cell
        need = who[:, k]
        if not e.sync_free and not bool(need.any()):
            continue
        team = e._team_of[k]
        occupied.scatter_(1, (e.pos[:, k, 0] * s + e.pos[:, k, 1])[:, None], False)
        cost = e.base_dist[:, team].view(b, -1) + occupied.long() * UNREACHABLE
        cell = cost.argmin(1)
        new = torch.stack([cell // s, cell % s], 1)
        e.pos[:, k] = torch.where(need[:, None], new, e.pos[:, k])
        occupied.scatter_(1, (e.pos[:, k, 0] * s + e.pos[:, k, 1])[:, None], True)


def first_in_line(e) -> torch.Tensor:
    """``[B, A]``: the agent each agent would hit attacking now (-1: none), walls and agents block the shot."""
    cfg = e.config
    b, a, s = e.num_envs, cfg.num_agents, cfg.size
    r = torch.arange(1, cfg.attack_range + 1, device=e.device)
    d = e._deltas[e.heading + 1]  # [B, A, 2]
    ray = e.pos[:, :, None, :] + d[:, :, None, :] * r[None, None, :, None]  # [B, A, R, 2]
    inside = ((ray >= 0) & (ray < s)).all(-1)
    flat = (ray[..., 0].clamp(0, s - 1) * s + ray[..., 1].clamp(0, s - 1)).view(b, -1)
    wall = e.walls.view(b, -1).gather(1, flat).view(b, a, -1) | ~inside
    who = occupancy(e).gather(1, flat).view(b, a, -1)
    stop = wall | (who >= 0)
    first = stop & (stop.cumsum(2) == 1)  # the first wall or agent along the ray
    return torch.where(first & ~wall, who, -1).max(2).values


def combat(e, acts, active, reward, left) -> torch.Tensor:
    """``combat``'s attacks, kills and rewards; the games decided (a team with nobody standing)."""
    b, a = e.num_envs, e.config.num_agents
    attacking = (acts == ATTACK) & active
    victim = first_in_line(e)
    is_enemy = (victim >= 0) & (e.team[victim.clamp(min=0)] != e.team)
    hit = attacking & is_enemy
    damage = torch.zeros(b, a + 1, dtype=torch.long, device=e.device)
    damage.scatter_add_(1, torch.where(hit, victim, a), hit.long())
    before = e.health.clone()
    e.health -= damage[:, :a]
    died = (before > 0) & (e.health <= 0) & e.alive
    e.health.clamp_(min=0)  # two hits on the last point: 0, not -1
    left |= died
    # Kill credit: every attacker whose hit landed on a victim that died this step.
    kills = hit & died.gather(1, victim.clamp(min=0))
    reward += 0.1 * hit.float() + kills.float() - died.float()
    standing = torch.stack([(e.alive & ~died & (e.team == k)).any(1) for k in range(2)], 1)
    decided = ~standing.all(1)
    winners = decided[:, None] & standing[:, e.team] & e.alive & ~died
    reward += winners.float()
    return decided


# ---------------------------------------------------------------------------------------------- the compiled twin
_TAG, _CTF, _COMBAT = 0, 1, 2  # Mode as the kernel takes it: its index in MODES
_ADY = np.array([0, -1, 0, 1, 0, 0], dtype=np.int64)  # actions: stay, N, E, S, W, attack
_ADX = np.array([0, 0, 1, 0, -1, 0], dtype=np.int64)


@njit(cache=True, nogil=True)
def _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s):
    """:func:`steps_to_goal` of agent i of game b."""
    own, enemy = team[i], 1 - team[i]
    here = pos[b, i, 0] * s + pos[b, i, 1]
    if carrying[b, i]:
        return base_dist[b, own, here]
    return base_dist[b, enemy, here] + base_dist[b, own, bases[b, enemy, 0] * s + bases[b, enemy, 1]]


@njit(cache=True, nogil=True)
def _moves(b, actions, walls, pos, heading, alive, s):
    """:func:`moves` of game b: into cells free at the start of the step, the lowest index first."""
    occ = np.full(walls.shape[1], -1, dtype=np.int64)
    claimed = np.zeros(walls.shape[1], dtype=np.bool_)
    for i in range(pos.shape[1]):
        if alive[b, i]:
            occ[pos[b, i, 0] * s + pos[b, i, 1]] = i
    for i in range(pos.shape[1]):
        act = actions[b, i] if alive[b, i] else 0
        if act < 1 or act > 4:
            continue
        heading[b, i] = act - 1
        ty, tx = pos[b, i, 0] + _ADY[act], pos[b, i, 1] + _ADX[act]
        cell = ty * s + tx
        if walls[b, cell] or occ[cell] >= 0 or claimed[cell]:
            continue
        claimed[cell] = True
        pos[b, i, 0], pos[b, i, 1] = ty, tx


@njit(cache=True, nogil=True)
def _tag(b, pos, alive, active, team, chaser_team, max_cycles, reward, left):
    """:func:`tag` of game b: whether it is decided."""
    a_n = pos.shape[1]
    catches = 0
    for i in range(a_n):
        if team[i] == chaser_team or not alive[b, i]:
            continue
        for j in range(a_n):
            if (
                team[j] == chaser_team
                and alive[b, j]
                and (abs(pos[b, i, 0] - pos[b, j, 0]) + abs(pos[b, i, 1] - pos[b, j, 1]) <= 1)
            ):
                left[i] = True
        if left[i]:
            catches += 1
    runners_left = False
    for i in range(a_n):
        if team[i] != chaser_team:
            if left[i]:
                reward[b, i] = np.float32(-1.0)
            elif alive[b, i]:
                reward[b, i] = np.float32(1.0 / max_cycles)
                runners_left = True
        elif active[b, i]:
            reward[b, i] = np.float32(catches)
    return not runners_left


@njit(cache=True, nogil=True)
def _ctf_tags(b, pos, alive, carrying, base_dist, team, s, unreachable):
    """:func:`ctf`'s tags in game b: a tagged agent drops the flag it carries and respawns on the free cell
    nearest its base (:func:`respawn`: one agent at a time in index order, ties to the lowest cell)."""
    a_n, n, mid = pos.shape[1], s * s, s // 2
    tagged = np.zeros(a_n, dtype=np.bool_)
    for i in range(a_n):
        if not alive[b, i]:
            continue
        xi = pos[b, i, 1]
        if not ((team[i] == 0 and xi > mid) or (team[i] == 1 and xi < mid)):
            continue  # only agents in the enemy half can be tagged
        for j in range(a_n):
            if team[j] == team[i] or not alive[b, j]:
                continue
            xj = pos[b, j, 1]
            home = (team[j] == 0 and xj < mid) or (team[j] == 1 and xj > mid)
            if home and abs(pos[b, i, 0] - pos[b, j, 0]) + abs(xi - xj) <= 1:
                tagged[i] = True
    if not tagged.any():
        return
    occupied = np.zeros(n, dtype=np.bool_)
    for j in range(a_n):
        carrying[b, j] = carrying[b, j] and not tagged[j]
        if alive[b, j]:
            occupied[pos[b, j, 0] * s + pos[b, j, 1]] = True
    for k in range(a_n):
        if not tagged[k]:
            continue
        occupied[pos[b, k, 0] * s + pos[b, k, 1]] = False
        best, best_cost = 0, 2**62
        for c in range(n):
            cost = base_dist[b, team[k], c] + (unreachable if occupied[c] else 0)
            if cost < best_cost:
                best, best_cost = c, cost
        pos[b, k, 0], pos[b, k, 1] = best // s, best % s
        occupied[best] = True


@njit(cache=True, nogil=True)
def _ctf(b, st, s, captures_to_win, pickup_reward, flag_shaping, unreachable, steps_before, reward):
    """:func:`ctf` of game b (tags, pick-ups, captures, rewards and the shaping): whether it is decided."""
    _, pos, _, alive, _, carrying, score, bases, base_dist, team, _, _ = st
    a_n = pos.shape[1]
    _ctf_tags(b, pos, alive, carrying, base_dist, team, s, unreachable)
    flag_home = np.ones(2, dtype=np.bool_)
    for i in range(a_n):
        if carrying[b, i]:
            flag_home[1 - team[i]] = False
    taken = np.zeros(2, dtype=np.bool_)  # per taking team: the lowest index takes
    for i in range(a_n):
        e = 1 - team[i]
        if (
            alive[b, i]
            and flag_home[e]
            and not taken[team[i]]
            and pos[b, i, 0] == bases[b, e, 0]
            and pos[b, i, 1] == bases[b, e, 1]
        ):
            carrying[b, i] = True
            taken[team[i]] = True
    gained = np.zeros(2, dtype=np.int64)
    for i in range(a_n):
        own = team[i]
        if carrying[b, i] and pos[b, i, 0] == bases[b, own, 0] and pos[b, i, 1] == bases[b, own, 1]:
            carrying[b, i] = False
            gained[own] += 1
    score[b, 0] += gained[0]
    score[b, 1] += gained[1]
    for i in range(a_n):
        reward[b, i] = np.float32(gained[team[i]]) - np.float32(gained[1 - team[i]])
        if pickup_reward != 0.0:
            took = np.float32(taken[team[i]]) - np.float32(taken[1 - team[i]])
            reward[b, i] += np.float32(pickup_reward) * took
        if flag_shaping != 0.0:
            steps = _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s)
            reward[b, i] += np.float32(flag_shaping) * (np.float32(steps_before[i] - steps) / np.float32(s))
    return score[b, 0] >= captures_to_win or score[b, 1] >= captures_to_win


@njit(cache=True, nogil=True)
def _combat(b, actions, walls, pos, heading, alive, health, team, active, s, attack_range, reward, left):
    """:func:`combat` of game b: whether it is decided."""
    a_n = pos.shape[1]
    occ = np.full(s * s, -1, dtype=np.int64)
    for i in range(a_n):
        if alive[b, i]:
            occ[pos[b, i, 0] * s + pos[b, i, 1]] = i
    victim = np.full(a_n, -1, dtype=np.int64)
    for i in range(a_n):
        if not (active[b, i] and actions[b, i] == 5):
            continue
        dy, dx = _ADY[heading[b, i] + 1], _ADX[heading[b, i] + 1]
        for r in range(1, attack_range + 1):
            y, x = pos[b, i, 0] + dy * r, pos[b, i, 1] + dx * r
            if y < 0 or y >= s or x < 0 or x >= s or walls[b, y * s + x]:
                break
            j = occ[y * s + x]
            if j >= 0:
                if team[j] != team[i]:
                    victim[i] = j
                break
    before = health[b].copy()
    for i in range(a_n):
        if victim[i] >= 0:
            health[b, victim[i]] -= 1
    for i in range(a_n):
        left[i] = before[i] > 0 and health[b, i] <= 0 and alive[b, i]
        health[b, i] = max(health[b, i], 0)  # two hits on the last point: 0, not -1
    standing = np.zeros(2, dtype=np.bool_)
    for i in range(a_n):
        if alive[b, i] and not left[i]:
            standing[team[i]] = True
    done = not (standing[0] and standing[1])
    for i in range(a_n):
        hit = victim[i] >= 0
        kill = hit and left[victim[i]]
        r = np.float32(0.1) * np.float32(hit) + np.float32(kill) - np.float32(left[i])
        reward[b, i] += r
        if done and standing[team[i]] and alive[b, i] and not left[i]:
            reward[b, i] += np.float32(1.0)
    return done


@twin
def _step(actions, st, rules, out):
    """One step of every arena game, rule for rule as :func:`torch_step` (same order of float32 operations, so
    rewards match bit for bit). State arrays are updated in place; ``rules`` are the config's numbers
    (:func:`kernel_step`), ``out`` the arrays the results go to."""
    walls, pos, heading, alive, health, carrying, score, bases, base_dist, team, focal, t = st
    mode, max_cycles, chaser_team, captures_to_win, attack_range, pickup_reward, flag_shaping, unreachable = rules
    reward, terminated, truncated, active, decided = out
    b_n, a_n = pos.shape[0], pos.shape[1]
    s = int(np.sqrt(walls.shape[1]))
    for b in prange(b_n):
        left = np.zeros(a_n, dtype=np.bool_)
        steps_before = np.zeros(a_n, dtype=np.int64)
        for i in range(a_n):
            active[b, i] = alive[b, i]
            reward[b, i] = np.float32(0.0)
            if mode == _CTF and flag_shaping != 0.0:
                steps_before[i] = _steps_to_goal(b, i, pos, carrying, bases, base_dist, team, s)
        _moves(b, actions, walls, pos, heading, alive, s)
        if mode == _TAG:
            done = _tag(b, pos, alive, active, team, chaser_team, max_cycles, reward, left)
        elif mode == _CTF:
            done = _ctf(b, st, s, captures_to_win, pickup_reward, flag_shaping, unreachable, steps_before, reward)
        else:
            done = _combat(b, actions, walls, pos, heading, alive, health, team, active, s, attack_range, reward, left)
        any_focal = False
        for i in range(a_n):
            if left[i]:
                alive[b, i] = False
            if alive[b, i] and focal[i]:
                any_focal = True
        done = done or not any_focal
        t[b] += 1
        decided[b] = done
        for i in range(a_n):
            truncated[b, i] = t[b] >= max_cycles and alive[b, i]
            terminated[b, i] = left[i] or (done and alive[b, i])


def kernel_step(e, actions: torch.Tensor):
    """:func:`torch_step` compiled (:func:`_step`), on the engine's numpy views."""
    cfg = e.config
    b, a = e.num_envs, cfg.num_agents
    reward = torch.empty(b, a, dtype=torch.float32)
    terminated, truncated, active = (torch.empty(b, a, dtype=torch.bool) for _ in range(3))
    decided = torch.empty(b, dtype=torch.bool)
    chaser, shaping = e.chaser_team if cfg.mode is Mode.TAG else -1, (float(cfg.pickup_reward), float(cfg.flag_shaping))
    rules = (
        MODES.index(cfg.mode),
        cfg.max_cycles,
        chaser,
        cfg.captures_to_win,
        cfg.attack_range,
        *shaping,
        UNREACHABLE,
    )
    out = (reward.numpy(), terminated.numpy(), truncated.numpy(), active.numpy(), decided.numpy())
    _step.for_batch(b)(actions.contiguous().numpy(), e._np_state, rules, out)
    return active, reward, terminated, truncated, decided


TWINS = {torch_step: (_step,), moves: (_moves,), tag: (_tag,), ctf: (_ctf,), combat: (_combat,)}
TWINS |= {respawn: (_ctf_tags,), steps_to_goal: (_steps_to_goal,)}
"""Each rule in torch and its compiled twins (``tests/envs/test_rules.py`` checks the list)."""
