"""What arena agents see, each view written twice where the CPU runs it compiled: in torch ops over the whole batch
and as a numba loop game by game (:func:`~mazearena.envs.engine.common.twin`).

:func:`observe` gives per-agent observations by the config's ``obs_mode``: the ``grid`` (:func:`torch_grid`
and its compiled twin :func:`_grid`), the ``tokens`` (:func:`tokens`), both, with ``occlusion`` blanking what
:func:`in_sight` does not reach. :func:`state_planes` is the whole arena for centralised critics. The functions take the
engine (``e``, an :class:`~mazearena.envs.engine.arena.ArenaEngine`) and read its state; what the views hold is
described in the docstring of :mod:`~mazearena.envs.engine.arena`.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from numba import prange

from mazearena.envs.engine.arena_rules import Mode, occupancy, team_carrying
from mazearena.envs.engine.cells import ARENA_CHANNELS, ARENA_STATE_CHANNELS, TOKEN_FEATURES
from mazearena.envs.engine.common import twin
from mazearena.envs.engine.grid import to_layout


class ArenaObsMode(str, Enum):
    GRID = "grid"
    TOKENS = "tokens"
    BOTH = "both"


# Planes and token features by name.
_STATE = {name: i for i, name in enumerate(ARENA_STATE_CHANNELS)}
_FEATURE = {name: i for i, name in enumerate(TOKEN_FEATURES)}
# Arena grid planes by name (compile-time constants of the kernel).
_C_WALL, _C_SELF, _C_ALLY, _C_ENEMY, _C_HEALTH, _C_OWN_FLAG, _C_ENEMY_FLAG, _C_CARRIER, _C_CHASER = (
    ARENA_CHANNELS.index(name)
    for name in ("wall", "self", "ally", "enemy", "health", "own_flag", "enemy_flag", "carrier", "chaser")
)


def observe(e, idx: torch.Tensor | None = None):
    """Per-agent observations of all games (or the games ``idx``): a tensor or a dict, by ``obs_mode``."""
    cfg = e.config
    out = {}
    sight = in_sight(e, idx) if cfg.occlusion else None  # [b, A, V*V]: cells in sight
    if cfg.obs_mode in (ArenaObsMode.GRID, ArenaObsMode.BOTH):
        grid = (kernel_grid if e.backend == "numba" else torch_grid)(e, idx)
        if sight is not None:  # every plane but the walls blank where the line of sight is blocked
            b, a, c, v, _ = grid.shape
            keep = torch.ones(c, dtype=torch.bool, device=grid.device)
            keep[ARENA_CHANNELS.index("wall")] = False
            hidden = keep.view(1, 1, c, 1) & ~sight.view(b, a, 1, v * v)
            grid = grid.masked_fill(hidden.view(b, a, c, v, v), 0)
        out["grid"] = to_layout(grid, cfg.native_layout, cfg.obs_layout)
    if cfg.obs_mode in (ArenaObsMode.TOKENS, ArenaObsMode.BOTH):
        out["tokens"], out["mask"] = tokens(e, idx, sight)
    return out["grid"] if cfg.obs_mode is ArenaObsMode.GRID else out


def state_planes(e) -> torch.Tensor:
    """``[B, len(ARENA_STATE_CHANNELS), S, S]`` uint8: the whole arena, for centralised critics."""
    cfg = e.config
    b, s = e.num_envs, cfg.size
    occ, flags = occupancy(e)[:, :-1], flag_cells(e)
    has = occ >= 0
    idx = occ.clamp(min=0)
    rows = torch.arange(b, device=e.device)[:, None]
    team = e.team[idx]
    planes = torch.zeros(b, len(ARENA_STATE_CHANNELS), s * s, dtype=torch.uint8, device=e.device)
    planes[:, _STATE["wall"]] = e.walls.view(b, -1)
    planes[:, _STATE["red"]] = has & (team == 0)
    planes[:, _STATE["blue"]] = has & (team == 1)
    planes[:, _STATE["health"]] = torch.where(has, health_value(e)[rows, idx], 0)
    if cfg.mode is Mode.CTF:
        for k, flag in enumerate(("red_flag", "blue_flag")):
            planes[rows[:, 0], _STATE[flag], flags[:, k, 0] * s + flags[:, k, 1]] = 1
    planes[:, _STATE["carrier"]] = has & e.carrying[rows, idx]
    if cfg.mode is Mode.TAG:
        planes[:, _STATE["chaser"]] = has & (team == e.chaser_team)
    return planes.view(b, len(ARENA_STATE_CHANNELS), s, s)


def flag_cells(e) -> torch.Tensor:
    """``[B, 2, 2]``: where each team's flag is (its base, or its carrier's cell in ``ctf``)."""
    if e.config.mode is not Mode.CTF:
        return e.bases
    carried = team_carrying(e)  # [B, 2]
    flags = e.bases.clone()
    for k in range(2):
        holder = (e.carrying & (e.team == 1 - k)).float().argmax(1)
        at = e.pos[torch.arange(e.num_envs, device=e.device), holder]
        flags[:, k] = torch.where(carried[:, k, None], at, flags[:, k])
    return flags


def health_value(e) -> torch.Tensor:
    """``[B, A]``: the health plane's value of each agent (its health in ``combat``, else 1)."""
    return e.health if e.config.mode is Mode.COMBAT else torch.ones_like(e.health)


def in_sight(e, idx: torch.Tensor | None) -> torch.Tensor:
    """``[b, A, V*V]``: the cells of each agent's view that the straight line from it reaches without
    crossing a wall (outside the arena counts as wall)."""
    cfg = e.config
    s, v, p = cfg.size, cfg.view_size, cfg.view_size // 2
    walls, pos = (e.walls, e.pos) if idx is None else (e.walls[idx], e.pos[idx])
    b, a = pos.shape[:2]
    side = s + 2 * p
    padded = F.pad(walls, (p, p, p, p), value=True).view(b, -1)
    between = _sight_lines(v, str(e.device))  # [V*V, L, 2]: cells strictly between, as view offsets
    at = (pos[..., None, None, 0] + between[..., 0] + p) * side + pos[..., None, None, 1] + between[..., 1] + p
    blocked = padded.gather(1, at.view(b, -1)).view(b, a, v * v, -1).any(-1)
    return ~blocked


@lru_cache(maxsize=8)
def _sight_lines(view_size: int, device: str) -> torch.Tensor:
    """``[V*V, L, 2]``: for each cell of a view (row-major, the agent at the centre), the cells strictly between
    the agent and it that a straight line through their centres passes (padded with the agent's own cell,
    never a wall)."""
    p = view_size // 2
    lines = []
    for dy in range(-p, p + 1):
        for dx in range(-p, p + 1):
            steps = 4 * max(abs(dy), abs(dx))
            cells = {(round(dy * t / steps), round(dx * t / steps)) for t in range(1, steps)} if steps else set()
            lines.append(sorted(cells - {(0, 0), (dy, dx)}))
    longest = max(1, max(len(line) for line in lines))
    table = [line + [(0, 0)] * (longest - len(line)) for line in lines]
    return torch.tensor(table, dtype=torch.long, device=device)


def torch_grid(e, idx: torch.Tensor | None) -> torch.Tensor:
    """``[b, A, C, V, V]`` grid views of all games (or the games ``idx``), cut from :func:`state_planes`."""
    cfg = e.config
    s, v, a = cfg.size, cfg.view_size, cfg.num_agents
    p = v // 2
    state = state_planes(e)  # [B, C, S, S]
    pos, alive = e.pos, e.alive
    if idx is not None:
        state, pos, alive = state[idx], pos[idx], alive[idx]
    b = state.shape[0]
    side = s + 2 * p
    padded = F.pad(state, (p, p, p, p))
    wall = _STATE["wall"]
    padded[:, wall] = F.pad(state[:, wall], (p, p, p, p), value=1)  # outside the arena reads as wall
    r = torch.arange(v, device=e.device)
    offsets = (r[:, None] * side + r[None, :]).view(-1)  # view cell -> padded flat offset
    corner = pos[..., 0] * side + pos[..., 1]  # [b, A]: top-left of each view in the padded grid
    gather_at = (corner[..., None] + offsets).view(b, 1, -1).expand(b, len(ARENA_STATE_CHANNELS), -1)
    views = padded.view(b, len(ARENA_STATE_CHANNELS), -1).gather(2, gather_at).view(b, -1, a, v * v)
    team = e.team.view(1, a, 1)
    plane = {name: views[:, i] for i, name in enumerate(ARENA_STATE_CHANNELS)}
    red, blue, red_flag, blue_flag = plane["red"], plane["blue"], plane["red_flag"], plane["blue_flag"]
    ally = torch.where(team == 0, red, blue)
    enemy = torch.where(team == 0, blue, red)
    own_flag = torch.where(team == 0, red_flag, blue_flag)
    enemy_flag = torch.where(team == 0, blue_flag, red_flag)
    me = torch.zeros(v * v, dtype=torch.uint8, device=e.device)
    me[(v * v) // 2] = 1
    ally = ally * (1 - me)
    seen = {
        "wall": plane["wall"],
        "self": me.expand(b, a, -1),
        "ally": ally,
        "enemy": enemy,
        "health": plane["health"],
        "own_flag": own_flag,
        "enemy_flag": enemy_flag,
        "carrier": plane["carrier"],
        "chaser": plane["chaser"],
    }
    obs = torch.stack([seen[name] for name in ARENA_CHANNELS], 2)  # [b, A, C, V*V]
    obs = obs * alive.view(b, a, 1, 1).to(torch.uint8)  # agents out of the game see nothing
    return obs.view(b, a, len(ARENA_CHANNELS), v, v)


@twin
def _grid(rows, st, show_flags, combat, chaser_team, v, out):
    """Grid views ``out[m, A, 9, V*V]`` of the arena games ``rows`` (channels of ``cells.ARENA_CHANNELS``), as
    :func:`torch_grid` draws them: agents out of the game see nothing. A flag is on its
    base unless an enemy carries it."""
    walls, pos, _, alive, health, carrying, _, bases, _, team, _, _ = st
    a_n = pos.shape[1]
    s = int(np.sqrt(walls.shape[1]))
    p = v // 2
    for g in prange(rows.shape[0]):
        b = rows[g]
        occ = np.full(s * s, -1, dtype=np.int64)
        flags = bases[b].copy()
        for j in range(a_n):
            if alive[b, j]:
                occ[pos[b, j, 0] * s + pos[b, j, 1]] = j
            if carrying[b, j]:
                flags[1 - team[j], 0], flags[1 - team[j], 1] = pos[b, j, 0], pos[b, j, 1]
        for i in range(a_n):
            o = out[g, i]
            if not alive[b, i]:
                o[:, :] = 0
                continue
            me = team[i]
            own_y, own_x = flags[me, 0], flags[me, 1]
            foe_y, foe_x = flags[1 - me, 0], flags[1 - me, 1]
            for r in range(v):
                wy = pos[b, i, 0] + r - p
                for c in range(v):
                    wx = pos[b, i, 1] + c - p
                    k = r * v + c
                    wall, slf, ally, enemy, hp, own, foe, carrier, chaser = 1, 0, 0, 0, 0, 0, 0, 0, 0
                    if 0 <= wy < s and 0 <= wx < s:
                        cell = wy * s + wx
                        wall = 1 if walls[b, cell] else 0
                        j = occ[cell]
                        if j >= 0:
                            if j == i:
                                slf = 1
                            elif team[j] == me:
                                ally = 1
                            else:
                                enemy = 1
                            hp = health[b, j] if combat else 1
                            carrier = 1 if carrying[b, j] else 0
                            chaser = 1 if team[j] == chaser_team else 0
                        if show_flags:
                            own = 1 if (own_y == wy and own_x == wx) else 0
                            foe = 1 if (foe_y == wy and foe_x == wx) else 0
                    o[_C_WALL, k], o[_C_SELF, k], o[_C_ALLY, k], o[_C_ENEMY, k] = wall, slf, ally, enemy
                    o[_C_HEALTH, k], o[_C_OWN_FLAG, k], o[_C_ENEMY_FLAG, k] = hp, own, foe
                    o[_C_CARRIER, k], o[_C_CHASER, k] = carrier, chaser


def kernel_grid(e, idx: torch.Tensor | None) -> torch.Tensor:
    """:func:`torch_grid` compiled (:func:`_grid`)."""
    cfg = e.config
    v, a = cfg.view_size, cfg.num_agents
    rows = e._np_rows if idx is None else idx.contiguous().numpy()
    b = len(rows)
    out = torch.empty(b, a, len(ARENA_CHANNELS), v * v, dtype=torch.uint8)
    chaser = e.chaser_team if cfg.mode is Mode.TAG else -1
    _grid.for_batch(b)(rows, e._np_state, cfg.mode is Mode.CTF, cfg.mode is Mode.COMBAT, chaser, v, out.numpy())
    return out.view(b, a, len(ARENA_CHANNELS), v, v)


def tokens(e, idx: torch.Tensor | None, sight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token features ``[b, A, K, F]`` of every entity (agents, then the two flags) and the mask of those seen."""
    cfg = e.config
    a, p = cfg.num_agents, cfg.view_size // 2
    pos, alive, health, carrying = e.pos, e.alive, health_value(e), e.carrying
    flags = flag_cells(e)
    if idx is not None:
        pos, alive, health, carrying, flags = pos[idx], alive[idx], health[idx], carrying[idx], flags[idx]
    b = pos.shape[0]
    ent_pos = torch.cat([pos, flags], 1)  # [b, K, 2]
    k = a + 2
    rel = ent_pos[:, None, :, :] - pos[:, :, None, :]  # [b, A, K, 2]
    team = e.team
    ent_team = torch.cat([team, torch.tensor([0, 1], device=e.device)])  # flag k belongs to team k
    is_agent = torch.arange(k, device=e.device) < a
    same = ent_team[None, :] == team[:, None]  # [A, K]
    eye = torch.zeros(a, k, dtype=torch.bool, device=e.device)
    eye[:, :a] = torch.eye(a, dtype=torch.bool, device=e.device)
    ent_alive = torch.cat([alive, torch.full((b, 2), cfg.mode is Mode.CTF, device=e.device)], 1)
    ent_health = torch.cat([health, torch.zeros(b, 2, dtype=health.dtype, device=e.device)], 1)
    ent_carry = torch.cat([carrying, torch.zeros(b, 2, dtype=torch.bool, device=e.device)], 1)
    chaser = (ent_team == e.chaser_team) & is_agent & (cfg.mode is Mode.TAG)
    feats = torch.zeros(b, a, k, len(TOKEN_FEATURES), device=e.device)
    f = _FEATURE
    feats[..., f["dy"]] = rel[..., 0].float() / max(p, 1)
    feats[..., f["dx"]] = rel[..., 1].float() / max(p, 1)
    feats[..., f["self"]] = eye.float()
    feats[..., f["ally"]] = (same & is_agent & ~eye).float()
    feats[..., f["enemy"]] = (~same & is_agent).float()
    feats[..., f["health"]] = ent_health[:, None, :].float() / cfg.max_cell_value
    feats[..., f["carrier"]] = ent_carry[:, None, :].float()
    feats[..., f["own_flag"]] = (same & ~is_agent).float()
    feats[..., f["enemy_flag"]] = (~same & ~is_agent).float()
    feats[..., f["chaser"]] = chaser.float()
    visible = (rel.abs() <= p).all(-1) & ent_alive[:, None, :] & alive[:, :, None]
    if sight is not None:  # and in sight: the view cell each entity is at
        v = cfg.view_size
        cell = ((rel[..., 0] + p).clamp(0, v - 1) * v + (rel[..., 1] + p).clamp(0, v - 1)).view(b, a, k)
        visible = visible & sight.gather(2, cell)
    return feats * visible[..., None], visible


TWINS = {torch_grid: (_grid,)}
"""Each view in torch and its compiled twin (``tests/envs/test_rules.py`` checks the list); the tokens, the
sight lines and the state planes are torch on every backend."""
