"""Play a fixed number of episodes with an actor on a batched maze or arena env and summarise them.

Every game slot of the batch plays the same number of episodes, chosen in advance, so short episodes are
not over-represented (ending early does not earn a slot more episodes). Actors act through the
:mod:`~mazearena.actor` contract: each game's state starts afresh with each episode.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from mazearena.actor import Actor, as_actor, index_state, put_state, reset_where
from mazearena.agents import batches
from mazearena.stats.metrics import wilson_interval

EPISODE_FIELDS = ("env_index", "level_id", "return", "length", "success", "terminated", "truncated")
GAME_FIELDS = ("env_index", "level_id", "return", "length", "success", "winner", "terminated", "truncated")


def _act_where_needed(actor: Actor, obs, state, need: torch.Tensor, device, alive=None):
    """``actor`` on the games that still owe episodes only (the others get action 0 and keep their state; their
    play is not recorded), so a game that is done costs no forward pass. Returns ``(actions, state)``."""
    if bool(need.all()):
        return actor.act(obs, state, alive)
    idx = need.nonzero().squeeze(1).to(device)
    chosen, rows = actor.act(batches.index(obs, idx), index_state(state, idx), None if alive is None else alive[idx])
    actions = torch.zeros((need.shape[0], *chosen.shape[1:]), dtype=chosen.dtype, device=chosen.device)
    actions[idx] = chosen
    return actions, put_state(state, idx, rows)


def _restart(actor: Actor, state, done: torch.Tensor, device):
    """The games that ended (``done``) start their next episode with a fresh state."""
    if state is None or not bool(done.any()):
        return state
    return reset_where(state, done, actor.initial_state(len(done), device))


def play_batches(
    env, act, episodes: int, fields: tuple[str, ...], outcome, advance=None, subset: bool = True, before=None
) -> dict:
    """The loop every kind of game shares (mazes, arenas, teams of other envs): every game slot plays
    ``ceil(episodes / num_envs)`` episodes, the actor acting (with its per-game state, restarted with each
    episode) for the slots that still owe some.
    ``outcome(reward, terminated, truncated, info)`` gives each game's share of the step's return, which games
    ended, and a function of the columns only finished episodes record (called only when some did);
    ``before()``, if given, is called before every step."""
    n_envs = env.num_envs
    per_env = math.ceil(episodes / n_envs)
    counts = torch.zeros(n_envs, dtype=torch.long)
    out: dict[str, list] = {k: [] for k in fields}
    returns_now = torch.zeros(n_envs, dtype=torch.float64)
    lengths_now = torch.zeros(n_envs, dtype=torch.long)  # for envs whose infos do not count steps
    slots = torch.arange(n_envs)
    actor = as_actor(act)
    subset = subset and not actor.whole_batch
    device = getattr(env, "device", None) or torch.device("cpu")  # other Gymnasium envs: numpy on the CPU
    state = actor.initial_state(n_envs, device)
    obs, info = env.reset()
    obs = batches.to_device(obs, device)
    while bool((counts < per_env).any()):
        need = counts < per_env if subset else torch.ones(n_envs, dtype=torch.bool)
        actions, state = _act_where_needed(actor, obs, state, need, device, info.get("alive"))
        if before is not None:
            before()
        obs, reward, terminated, truncated, info = batches.step(env, actions, device)
        lengths_now += 1
        gain, done, columns = outcome(reward, terminated, truncated, info)
        returns_now += gain
        state = _restart(actor, state, done, device)
        take = done & (counts < per_env)
        if bool(take.any()):
            common = {
                "env_index": slots,
                "level_id": info["level_id"] if "level_id" in info else torch.full((n_envs,), -1),
                "return": returns_now,
                "length": info["episode_length"] if "episode_length" in info else lengths_now,
            }
            for key, values in {**common, **columns()}.items():
                out[key] += values.cpu()[take].tolist()
            if advance is not None:
                advance(int(take.sum()))
        counts += done.long()
        returns_now[done] = 0.0
        lengths_now[done] = 0
    return out


def play_episodes(
    env, act: Actor | Callable[[torch.Tensor], torch.Tensor], episodes: int, advance=None, subset: bool = True
) -> dict:
    """Play ``episodes`` episodes (rounded up to a multiple of ``env.num_envs``) on a mazearena vector env;
    ``act`` (an :class:`~mazearena.actor.Actor`, or a function ``act(obs)``) returns a batch of
    actions, for the rows of ``obs`` it is given: the games that still owe episodes (``subset=False``: always
    every game, for policies that read the engine rather than ``obs``).
    Returns one list per field of :data:`EPISODE_FIELDS`, in the order the episodes ended. ``advance(k)`` is
    called as ``k`` more episodes end (a progress bar)."""

    def outcome(reward, terminated, truncated, info):
        terminated, truncated = terminated.cpu(), truncated.cpu()
        success = batches.success_of(info)
        success = torch.zeros_like(terminated) if success is None else torch.as_tensor(success).cpu()  # None: none
        columns = {"success": torch.as_tensor(success), "terminated": terminated, "truncated": truncated}
        return reward.cpu(), terminated | truncated, lambda: columns

    return play_batches(env, act, episodes, EPISODE_FIELDS, outcome, advance, subset)


def play_games(
    env,
    act: Actor | Callable[[object, torch.Tensor], torch.Tensor],
    episodes: int,
    team: int,
    advance=None,
    subset: bool = True,
) -> dict:
    """Play ``episodes`` arena games on an :class:`~mazearena.envs.arena.ArenaVectorEnv` (rounded up to a
    multiple of ``env.num_envs``) whose learning agents are ``team`` (0 red, 1 blue); ``act`` (an
    :class:`~mazearena.actor.Actor`, or a function ``act(obs, alive)``) returns actions
    ``[num_envs, num_agents]``. Returns one list per field of :data:`GAME_FIELDS`: ``return``
    is summed over the learning agents, ``success`` is a win of ``team``, ``winner`` 0, 1 or -1 (draw);
    ``truncated`` marks games that ran to ``max_cycles``; capture the flag adds :class:`CtfRoles`' columns.
    ``subset=False``: ``act`` acts for every game every step (an actor that reads the engine, as scripted teams
    do)."""

    roles = CtfRoles(env) if getattr(env.config, "mode", None) == "ctf" and hasattr(env, "engine") else None

    def outcome(reward, terminated, truncated, info):
        ended = info["_final_obs"].cpu()
        tallies = None if roles is None else roles.after(info, ended)

        def columns():
            winner = info["winner"].cpu()
            timed_out = info["episode_length"].cpu() >= env.config.max_cycles
            out = {"success": winner == team, "winner": winner, "terminated": ~timed_out, "truncated": timed_out}
            return out if tallies is None else out | tallies

        return (reward * info["active"]).sum(1).cpu(), ended, columns

    fields = GAME_FIELDS if roles is None else GAME_FIELDS + roles.fields
    before = None if roles is None else roles.before
    return play_batches(env, act, episodes, fields, outcome, advance, subset, before)


class CtfRoles:
    """What each learning agent of a capture-the-flag game did, per game: ``pickups/NAME`` (enemy flags taken),
    ``captures/NAME`` (brought home), ``tagged/NAME`` (sent back to its base), ``home/NAME`` (share of the
    game's steps within 2 path steps of its own flag), and the final ``score/red``, ``score/blue``. Read from
    the engine around every step (:meth:`before`, :meth:`after`)."""

    def __init__(self, env) -> None:
        self.engine = e = env.engine
        names = list(env.possible_agents)
        self.index = torch.tensor([env.config.agent_names.index(a) for a in names], device=e.device)
        self.team = e.team.index_select(0, self.index)
        kinds = ("pickups", "captures", "tagged", "home")
        self.fields = tuple(f"{k}/{a}" for k in kinds for a in names) + ("score/red", "score/blue")
        self.counts = torch.zeros(e.num_envs, len(kinds), len(names), device=e.device)
        self.steps = torch.zeros(e.num_envs, device=e.device)

    def before(self) -> None:
        e, s = self.engine, self.engine.config.size
        self.carrying = e.carrying.index_select(1, self.index).clone()
        self.pos = e.pos.index_select(1, self.index).clone()
        self.score = e.score.clone()
        cells = self.pos[..., 0] * s + self.pos[..., 1]
        own = e.base_dist.view(e.num_envs, 2, -1).index_select(1, self.team)  # [B, k, S*S]
        self.home = own.gather(2, cells[..., None])[..., 0] <= 2

    def after(self, info: dict, ended: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """Counts the step; at the games that ended, returns their tallies (``None`` when none did)."""
        e = self.engine
        ended = ended.to(e.device)
        going = ~ended[:, None]  # the games that go on: the engine state after the step is still theirs
        scored = info["score"].to(e.device).gather(1, self.team.expand(e.num_envs, -1)) > self.score.gather(
            1, self.team.expand(e.num_envs, -1)
        )
        carrying, pos = e.carrying.index_select(1, self.index), e.pos.index_select(1, self.index)
        self.counts[:, 0] += (~self.carrying & carrying & going).float()
        self.counts[:, 1] += (self.carrying & scored).float()
        self.counts[:, 2] += (((pos - self.pos).abs().sum(-1) > 1) & going).float()
        self.counts[:, 3] += self.home.float()
        self.steps += 1
        if not bool(ended.any()):
            return None
        counts = self.counts.clone()
        counts[:, 3] /= self.steps.clamp(min=1)[:, None]
        flat = counts.flatten(1).cpu()  # kinds major, agents minor: the order of the fields
        out = {name: flat[:, k] for k, name in enumerate(self.fields[:-2])}
        out["score/red"], out["score/blue"] = info["score"][:, 0].cpu(), info["score"][:, 1].cpu()
        self.counts[ended] = 0
        self.steps[ended] = 0
        return out


def summarise_episodes(records: dict) -> dict:
    """``episodes``, ``success_rate`` with its 95% Wilson interval ``success_ci95``, ``mean_return`` and
    ``mean_length`` of the episodes :func:`play_episodes` or :func:`play_games` recorded; for games also
    ``draw_rate`` and ``loss_rate``."""
    n = len(records["return"])
    if n == 0:
        raise ValueError("no episodes to summarise")
    wins = int(sum(records["success"]))
    lo, hi = wilson_interval(wins, n)
    out = {
        "episodes": n,
        "success_rate": wins / n,
        "success_ci95": [lo, hi],
        "mean_return": float(np.mean(records["return"])),
        "mean_length": float(np.mean(records["length"])),
    }
    if "winner" in records:
        out["draw_rate"] = sum(w == -1 for w in records["winner"]) / n
        out["loss_rate"] = 1.0 - out["success_rate"] - out["draw_rate"]
    return out


def run_episodes(
    env, act: Callable[[torch.Tensor], torch.Tensor], episodes: int, advance=None, subset: bool = True
) -> dict:
    """:func:`summarise_episodes` of :func:`play_episodes`."""
    return summarise_episodes(play_episodes(env, act, episodes, advance, subset))


def run_games(env, act: Callable[[object, torch.Tensor], torch.Tensor], episodes: int, team: int, advance=None) -> dict:
    """:func:`summarise_episodes` of :func:`play_games`: the win rate of ``team`` is ``success_rate``."""
    return summarise_episodes(play_games(env, act, episodes, team, advance))
