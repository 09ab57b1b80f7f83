"""Adversarial policies (``mazearena train --adversary-of VICTIM_RUN``): the other team of a trained arena run
learns by MAPPO to beat it, the victim frozen.

The adversary trains on the victim's training arenas (its scenario's mode, teams, size and levels) with every
agent in play: its own team learning, the victim's team acted by the victim's network (sampling, as it was
trained). In tag the adversary is the runner (or the chasers, if the victim ran); in ctf and combat the other
team. Every env of an adversary run plays against the victim (:func:`against_victim`): training, its held-out
evaluations (success = the adversary's win), ``mazearena eval``'s suites. :func:`victim_table` is the question
the run answers: the victim's win rate against the adversary next to its win rates against the opponents it
knows (its scenario's held-out NPCs; in self-play, the league snapshots it kept), on held-out arenas.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from mazearena.agents.actor import Actor
from mazearena.checks import UserError
from mazearena.stats.metrics import wilson_interval


def victim_config(path: Path):
    """The config of the run folder ``path`` (an arena run), or an error naming it."""
    from mazearena.training.algorithms import algorithm
    from mazearena.training.config import load_config

    path = Path(path)
    if not (path / "config.yaml").exists():
        raise UserError(f"adversary_of: {str(path)!r} is not a run folder (no config.yaml)")
    cfg = load_config(path / "config.yaml")
    if not algorithm(cfg.algo).arena:
        raise UserError(f"adversary_of: {str(path)!r} is a {cfg.algo} run on mazes; adversaries play arena teams")
    return cfg


def _victim(path: Path, device: str):
    """The victim run's config, network (frozen) and step; loaded once per process while its last checkpoint
    stays the same (any run: adversaries joining a league are loaded the same way)."""
    return _load_victim(str(Path(path).resolve()), device, _version(Path(path)))


def _version(run: Path) -> int:
    """When the run's last checkpoint was written (0: none), so that a newer one is loaded afresh."""
    last = run / "checkpoints" / "last.pt"
    return last.stat().st_mtime_ns if last.exists() else 0


@lru_cache(maxsize=4)
def _load_victim(path: str, device: str, version: int):
    from mazearena.training.runs import load_trained

    with torch.random.fork_rng(devices=[]):  # building its network draws nothing from the caller's stream
        cfg, _, policy, step = load_trained(Path(path), "last", device)
    return cfg, policy.requires_grad_(False), step


def victim_actor(cfg, deterministic: bool = False) -> Actor:
    """The victim of adversary run ``cfg`` as the actor of its scenario team (its network loaded once per
    process and device, frozen)."""
    from mazearena.training.runs import make_actor

    victim_cfg, policy, _ = _victim(cfg.adversary_of, str(cfg.device))
    return make_actor(victim_cfg, policy, deterministic, team=1 - cfg.trained_team)


def adversary_actor(path: Path, cfg) -> Actor:
    """The adversary run ``path`` as an opponent in the self-play league of ``cfg``: the team the learner does not
    play, the adversary's network loaded frozen (an error names a run that is no adversary of this arena)."""
    from mazearena.training.runs import make_actor

    adversary, policy, _ = _load_victim(str(Path(path).resolve()), str(cfg.device), _version(Path(path)))
    if adversary.adversary_of is None:
        raise UserError(f"league.adversaries: {str(path)!r} is no adversary run (train one with --adversary-of)")
    if adversary.arena.scenario_name != cfg.arena.scenario_name or adversary.arena.size != cfg.arena.size:
        raise UserError(
            f"league.adversaries: {str(path)!r} plays scenario {adversary.arena.scenario_name} on "
            f"{adversary.arena.size}x{adversary.arena.size} arenas, this run {cfg.arena.scenario_name} on "
            f"{cfg.arena.size}x{cfg.arena.size}"
        )
    return make_actor(adversary, policy, team=1 - cfg.trained_team)


def against_victim(cfg, envs):
    """An all-agent arena vector env ``envs`` seen from the adversary's team, the victim acting the other."""
    from mazearena.agents.league import FixedOpponentVectorEnv

    return FixedOpponentVectorEnv(envs, cfg.trained_team, victim_actor(cfg))


def _win_rate(wins: int, draws: int, games: int) -> dict:
    lo, hi = wilson_interval(wins, games)
    return {"win_rate": wins / games, "win_ci95": [lo, hi], "draw_rate": draws / games, "games": games}


def victim_table(cfg, policy, games: int, seed: int) -> list[dict]:
    """The victim's win rate (95% Wilson interval) on held-out arenas against: the adversary ``policy`` of run
    ``cfg``; its scenario's held-out NPCs; and, for a self-play victim, itself on the other side (what an
    adversary that starts as a copy of it starts from) and the league snapshots it kept (pooled)."""
    from mazearena.agents.episodes import run_games
    from mazearena.agents.league import play_match
    from mazearena.training.games import eval_games, evaluate_policy
    from mazearena.training.runs import load_trained, make_actor, make_envs

    victim_cfg, victim, _ = _victim(cfg.adversary_of, str(cfg.device))
    victim_team = 1 - cfg.trained_team
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        envs = make_envs(cfg, eval_games(games)[0], test=True, seed=seed)  # held-out arenas, against the victim
        result = run_games(envs, make_actor(cfg, policy), games, cfg.trained_team)
        n = result["episodes"]
        rows.append(
            {
                "opponent": "the adversary",
                **_win_rate(round(result["loss_rate"] * n), round(result["draw_rate"] * n), n),
            }
        )
        scripted = evaluate_policy(victim, victim_cfg, test=True, episodes=games, seed=seed)
        n = scripted["episodes"]
        rows.append(
            {
                "opponent": f"scripted NPCs ({victim_cfg.arena.heldout_name})",
                **_win_rate(round(scripted["success_rate"] * n), round(scripted["draw_rate"] * n), n),
            }
        )
        snapshots = sorted((Path(cfg.adversary_of) / "checkpoints" / "snapshots").glob("step-*.pt"))
        if victim_cfg.league.self_play:
            envs = make_envs(victim_cfg, eval_games(games)[0], test=True, seed=seed, both_teams=True)
            me = make_actor(victim_cfg, victim, team=victim_team)
            mirror = make_actor(victim_cfg, victim, team=1 - victim_team)  # itself on the other side
            match = play_match(envs, *((me, mirror) if victim_team == 0 else (mirror, me)), games)
            n = round(match["games"])
            win = match["red_win"] if victim_team == 0 else match["blue_win"]
            rows.append(
                {"opponent": "itself (the other side)", **_win_rate(round(win * n), round(match["draw"] * n), n)}
            )
        if victim_cfg.league.self_play and snapshots:
            wins = draws = played = 0
            per = max(2, games // len(snapshots))
            for file in snapshots:
                _, _, past, _ = load_trained(file, device=cfg.device)
                them = make_actor(victim_cfg, past, team=1 - victim_team)
                red, blue = (me, them) if victim_team == 0 else (them, me)
                match = play_match(envs, red, blue, per)
                n = round(match["games"])
                wins += round((match["red_win"] if victim_team == 0 else match["blue_win"]) * n)
                draws += round(match["draw"] * n)
                played += n
            rows.append(
                {"opponent": f"its self-play league ({len(snapshots)} snapshots)", **_win_rate(wins, draws, played)}
            )
    return rows


def victim_lines(cfg, rows: list[dict]) -> list[str]:
    """The victim table as Markdown."""
    victim = Path(cfg.adversary_of).name
    team = ("red", "blue")[1 - cfg.trained_team]
    lines = [
        "## The victim against its adversary",
        "",
        f"Victim: run {victim} ({team}), frozen. Its win rate on held-out arenas against each opponent:",
        "",
        "| opponent | games | victim's win rate (95% CI) | draws |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lo, hi = r["win_ci95"]
        lines.append(
            f"| {r['opponent']} | {r['games']} | {r['win_rate']:.3f} ({lo:.3f}–{hi:.3f}) | {r['draw_rate']:.3f} |"
        )
    return [*lines, ""]
