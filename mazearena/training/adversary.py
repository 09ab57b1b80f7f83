"""Adversarial policies (``mazearena train --adversary-of VICTIM_RUN``): the other team of a trained arena run
learns by MAPPO to beat it, the victim frozen.

The adversary trains on the victim's training arenas (its scenario's mode, teams, size and levels) with every
agent in play: its own team learning, the victim's team acted by the victim's network (sampling, as it was
trained). In tag the adversary is the runner (or the chasers, if the victim ran); in ctf and combat the other
team. Every env of an adversary run plays against the victim
(:func:`~mazearena.training.tasks.arena.against_victim`): training, its held-out evaluations (success = the
adversary's win), ``mazearena eval``'s suites. :func:`victim_table` is the question
the run answers: the victim's win rate against the adversary next to its win rates against the opponents it
knows (its scenario's held-out NPCs; in self-play, the league snapshots it kept), on held-out arenas.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mazearena.stats.metrics import wilson_interval


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
    from mazearena.training.tasks.arena import load_victim

    victim_cfg, victim, _ = load_victim(cfg.adversary_of, str(cfg.device), type(cfg), cfg.trust_code)
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
                _, _, past, _ = load_trained(file, device=cfg.device, trust_code=cfg.trust_code)
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
