"""``mazearena eval RUN_DIR...``: trained runs on named suites and perturbations, every episode recorded.

Runs whose configs differ only in seed (and bookkeeping) are one *method*; its seeds are its runs. Every run
plays the same games (the same levels and spawns, from the evaluation's own ``seed``) in every condition, a
fixed number of episodes per game slot chosen in advance. Evaluation runs under its own torch RNG state,
so it neither disturbs nor depends on any training RNG. Results go to ``eval/`` of the first run (or
``out``): ``episodes.csv``, ``summary.json``, ``report.md`` and PNG plots (see :mod:`.report`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import tyro

from mazearena.actor import Actor, State
from mazearena.agents.perturbations import OBS_ATTACKS, PERTURBATIONS, PerturbedVectorEnv
from mazearena.checks import UserError, make_out_dir
from mazearena.evaluation.summary import GREEDY
from mazearena.training.algorithms import ALGORITHMS, algorithm
from mazearena.training.loggers import read_metrics
from mazearena.training.runs import make_actor

Mode = Literal["deterministic", "stochastic"]


@dataclass
class EvalConfig:
    """Evaluate trained runs on suites of levels (or NPC populations) and perturbations; write eval/."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run folders (several seeds of one config count as one method; several configs are compared)."""
    suites: tuple[str, ...] = ()
    """Suites (default: every suite of the runs' kind). Mazes: train, test, larger, harder; arenas: train, test,
    test_arenas, larger."""
    perturbations: tuple[str, ...] = ("all",)
    """Perturbations played on ``perturb_suite`` at each of their severities: all (those that apply, but the
    attacks), none, or names from sticky_actions, random_actions, slippery, obs_noise, obs_dropout, frame_drop,
    npc_sharpness, attack_obs (an adversary changes at most k cells of each maze view) and flip_obs (k random
    cells, its control)."""
    perturb_suite: str = "test"
    """Suite the perturbations are played on."""
    episodes: int = 256
    """Episodes per run and condition (suite or perturbation severity), fixed in advance."""
    modes: tuple[Mode, ...] = ("stochastic",)
    """Policy modes: stochastic (actions sampled, as trained) and/or deterministic (the most likely action;
    DQN policies are greedy in both)."""
    checkpoint: Literal["last", "best"] = "last"
    """Which checkpoint of each run."""
    seed: int = 10_000
    """Seed of the evaluation games and of its own RNG."""
    num_envs: int = 1024
    """Games played at once (at most ``episodes``: every condition in one batch by default)."""
    cross_play_games: int = 64
    """Arenas, two or more runs: games per pair of runs in the cross-play matrix (0 = none)."""
    curve_episodes: int = 128
    """Held-out episodes per training snapshot for the sample-efficiency curve (0 = none)."""
    out: Path | None = None
    """Output folder (default: eval/ in the first run folder)."""
    device: str = "cpu"
    """Device of games and networks."""
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"
    """Log the evaluation as an eval job in the first run's W&B group."""
    progress: bool = True
    """Show progress bars."""
    labels: tuple[str, ...] = field(default_factory=tuple)
    """Method names, one per method in order of first appearance (default: from the configs)."""
    baselines: tuple[Literal["scripted", "none"], ...] = ("scripted",)
    """Arenas: reference teams played in every condition and in cross-play beside the runs, each a method of its
    own: ``scripted``, the scenario's best scripted team (playing from the whole game state), where it has one;
    ``none``: no baseline."""
    mazes: str = "named"
    """Maze runs: drawn mazes every run plays, each ``maze_episodes`` times, reported maze by maze: ``named`` (the
    named test set shipped with the package), a folder of ``.txt`` text maps (or one map file), or ``none``."""
    maze_episodes: int = 32
    """Episodes per drawn maze, run and mode."""
    trust_code: bool = False
    """Import the code a run's config names (a backbone, env id or wrappers as ``module:Name``): only for runs
    you trust, since importing runs it; without it such a run is refused, naming what it would import."""

    def __post_init__(self) -> None:
        from mazearena.evaluation.mazes import maze_source

        if not self.runs:
            raise UserError("give at least one run folder")
        maze_source(self.mazes)  # names a missing folder or a malformed map
        for name in ("episodes", "num_envs", "maze_episodes"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("cross_play_games", "curve_episodes"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.modes:
            raise UserError("modes must name at least one of deterministic, stochastic")
        bad = [p for p in self.perturbations if p not in (*PERTURBATIONS, "all", "none")]
        if bad:
            raise UserError(f"unknown perturbation(s) {bad}; valid: all, none, {', '.join(PERTURBATIONS)}")


@dataclass
class Run:
    """A trained run, loaded."""

    path: Path
    config: object
    policy: torch.nn.Module | None
    step: int
    method: str = ""
    scripted: dict | None = None
    """A baseline's scripted team (``NpcSpec`` by agent name), which plays instead of ``policy``."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def seed(self) -> int:
        return int(self.config.seed)

    @property
    def task(self):
        return self.config.task


_BOOKKEEPING = {
    "seed",
    "name",
    "runs_dir",
    "resume",
    "progress",
    "wandb_mode",
    "wandb_project",
    "wandb_group",
    "wandb_tags",
    "tensorboard",
    "device",
    "keep_snapshots",
    "eval_every",
    "eval_episodes",
    "video_episodes",
    "checkpoint_every",
    "init_from",
}


def method_key(cfg) -> str:
    """What makes two runs the same method: their config but for seed and bookkeeping."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in _BOOKKEEPING}
    used = cfg.sections
    for section in ("env", "arena", *sorted({a.section for a in ALGORITHMS.values()}), "league"):
        if section not in used:
            d.pop(section, None)
    return json.dumps(d, sort_keys=True, default=str)


def task_key(cfg) -> str:
    """What two runs must share to be compared: the env they were trained on and tested against (every option,
    both level sets)."""
    return cfg.task.key(cfg)


def name_methods(runs: list[Run], labels: tuple[str, ...] = ()) -> list[str]:
    """Label each run with its method: ``labels`` in order of first appearance, else ``algo-backbone[-core]``
    (the run name less its seed where that is ambiguous)."""
    keys = list(dict.fromkeys(method_key(r.config) for r in runs))
    if labels and len(labels) != len(keys):
        raise UserError(f"labels: {len(labels)} given for {len(keys)} methods")
    first = {k: next(r for r in runs if method_key(r.config) == k) for k in keys}
    names = list(labels) or [f"{first[k].config.algo}-{first[k].config.model}" for k in keys]
    if len(set(names)) < len(names):
        names = [re.sub(r"[-_]?s(eed)?\d+$", "", first[k].name) or first[k].name for k in keys]
    if len(set(names)) < len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    return [names[keys.index(method_key(r.config))] for r in runs]


def load_runs(cfg: EvalConfig) -> list[Run]:
    """Every run folder of ``cfg`` loaded, checked to be comparable, labelled with its method."""
    from mazearena.training.runs import load_trained

    runs = []
    for path in cfg.runs:
        config, run_dir, policy, step = load_trained(Path(path), cfg.checkpoint, cfg.device, cfg.trust_code)
        runs.append(Run(run_dir, config, policy, step))
    label_methods(runs, cfg.labels, "evaluate")
    return runs


def baseline_runs(cfg: EvalConfig, runs: list[Run]) -> list[Run]:
    """The baselines of ``cfg`` that apply to ``runs`` (all of one env), as runs of their own: ``scripted``, the
    scenario's best scripted team in the learning agents' seats, for arena runs whose scenario has one."""
    if "scripted" not in cfg.baselines or "none" in cfg.baselines:
        return []
    first = runs[0]
    team = first.task.scripted_team(first.config)
    return [] if team is None else [Run(Path("scripted"), first.config, None, 0, "scripted", team)]


def label_methods(runs: list, labels: tuple[str, ...], verb: str) -> None:
    """Check that ``runs`` (objects with ``path``, ``config``, ``name``) can be compared — each once, all
    trained on one env — and set each one's ``method``."""
    if len({r.path.resolve() for r in runs}) < len(runs):
        raise UserError("a run folder is given twice")
    tasks = {task_key(r.config): r for r in runs}
    if len(tasks) > 1:
        a, b = list(tasks.values())[:2]
        raise UserError(
            f"runs {a.name!r} and {b.name!r} were trained on different envs; {verb} runs of one env "
            "(maze, size and level split, or arena scenario) together"
        )
    for run, method in zip(runs, name_methods(runs, labels), strict=True):
        run.method = method


def perturbations_for(cfg: EvalConfig, run: Run) -> list[str]:
    """The perturbations to play for ``run``: those named, or every one that applies to it for ``all``."""
    names = cfg.perturbations
    if "none" in names:
        return []
    if not run.task.perturbable:
        if "all" in names:
            return []  # perturbations act on mazearena's engines
        raise UserError(f"perturbations act on mazearena's mazes and arenas, not on {run.task.env_name(run.config)}")
    env = run.task.suite_env(run.config, cfg.perturb_suite, 1, 0)
    applies = []
    every = [name for name in PERTURBATIONS if name not in OBS_ATTACKS]  # attacks search: named, not in "all"
    for name in every if "all" in names else names:
        try:
            PerturbedVectorEnv(env, name, 0.0)
            applies.append(name)
        except ValueError:
            if "all" not in names:
                raise
    return applies


def conditions(cfg: EvalConfig, run: Run) -> list[tuple[str, str, float]]:
    """``(suite, perturbation, severity)`` of every condition ``run`` plays; clean suites have perturbation
    ``none`` (they are severity 0 of every perturbation)."""
    task = run.task
    suites = list(cfg.suites) or task.default_suites(run.config)  # named suites must apply; defaults skip the rest
    task.check_suites(run.config, [*suites, cfg.perturb_suite])
    out = [(s, "none", 0.0) for s in suites]
    if cfg.perturb_suite not in suites and cfg.perturbations != ("none",):
        out.append((cfg.perturb_suite, "none", 0.0))
    for name in perturbations_for(cfg, run):
        out += [(cfg.perturb_suite, name, s) for s in PERTURBATIONS[name].severities if s > 0]
    return out


class Teammates(Actor):
    """Two actors sharing a team: ``first`` acts the team's first ``half`` agents, ``second`` the rest."""

    def __init__(self, first: Actor, second: Actor, half: int) -> None:
        self.first, self.second, self.half = first, second, half
        self.whole_batch = first.whole_batch or second.whole_batch

    def initial_state(self, games: int, device) -> State:
        return self.first.initial_state(games, device), self.second.initial_state(games, device)

    def act(self, obs, state: State, alive: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        a, first = self.first.act(obs, state[0], alive)
        b, second = self.second.act(obs, state[1], alive)
        return torch.cat([a[:, : self.half], b[:, self.half :]], 1), (first, second)


def run_actor(run: Run, env, deterministic: bool) -> Actor:
    """How ``run`` acts on ``env``: its policy, or a baseline's scripted team (which reads the engine, so
    observation perturbations do not reach it)."""
    if run.scripted is not None:
        from mazearena.agents.baselines import scripted_team

        return scripted_team(env, run.scripted)
    return make_actor(run.config, run.policy, deterministic)


def play_condition(
    cfg: EvalConfig, run: Run, suite: str, perturbation: str, severity: float, mode: str, episodes: int, advance=None
) -> list[dict]:
    """Every episode of ``run`` in one condition, as rows of the episode table."""
    task = run.task
    env = task.suite_env(run.config, suite, slots(cfg.num_envs, episodes), cfg.seed, cfg.device)
    if perturbation != "none":
        salt = list(PERTURBATIONS).index(perturbation) * 1000 + round(severity * 100)
        if perturbation not in OBS_ATTACKS:
            env = PerturbedVectorEnv(env, perturbation, severity, seed=cfg.seed + 7919 * (salt + 1))
    act = run_actor(run, env, mode != "stochastic")
    if perturbation in OBS_ATTACKS and severity > 0:  # the adversary reads the policy: it sits before the actor
        from mazearena.agents.attacks import AttackedActor, attack_target

        generator = torch.Generator(cfg.device).manual_seed(cfg.seed + 7919 * (salt + 1))
        act = AttackedActor(act, perturbation, int(severity), attack_target(env, perturbation), generator)
    with torch.no_grad():
        records = task.play(run.config, env, act, episodes, advance)
    rows = []
    for i in range(len(records["return"])):
        row = {
            "method": run.method,
            "run": run.name,
            "seed": run.seed,
            "step": run.step,
            "suite": suite,
            "perturbation": perturbation,
            "severity": severity,
            "mode": mode,
            "eval_seed": cfg.seed,
            **{k: v[i] for k, v in records.items()},
        }
        row["success"] = bool(row["success"])
        rows.append(task.annotate(row, env))
    return rows


def played_modes(cfg: EvalConfig, run: Run) -> tuple[str, ...]:
    """The modes ``run`` is played in: ``cfg.modes``, or ``greedy`` alone for an algorithm that always acts
    greedily (DQN), which sampling would not change."""
    return (GREEDY,) if algorithm(run.config.algo).greedy else cfg.modes


def slots(num_envs: int, episodes: int) -> int:
    """Games played at once for ``episodes`` episodes: at most ``num_envs``, each playing the same number of
    episodes, as few more than ``episodes`` in all as can be (none when ``num_envs`` divides it)."""
    per_game = -(-episodes // min(num_envs, episodes))
    return -(-episodes // per_game)


def sample_efficiency(cfg: EvalConfig, run: Run, advance=None) -> list[dict]:
    """Held-out success of each weights-only training snapshot of ``run`` (first of ``cfg.modes``); without
    snapshots, the held-out evaluations logged during training (``source`` says which)."""
    from mazearena.training.runs import load_trained

    files = sorted((run.path / "checkpoints" / "snapshots").glob("step-*.pt"))
    rows = []
    if files and cfg.curve_episodes:
        for file in files:
            _, _, policy, step = load_trained(file, device=cfg.device, trust_code=cfg.trust_code)
            snap = Run(run.path, run.config, policy, step, run.method)
            mode = played_modes(cfg, run)[0]
            summary = _rates(play_condition(cfg, snap, "test", "none", 0.0, mode, cfg.curve_episodes))
            rows.append(
                {"method": run.method, "run": run.name, "seed": run.seed, "step": step, "source": "snapshot", **summary}
            )
            if advance is not None:
                advance(1)
        return rows
    for row in read_metrics(run.path / "metrics.jsonl"):
        if "eval/success_rate" in row:
            rows.append(
                {
                    "method": run.method,
                    "run": run.name,
                    "seed": run.seed,
                    "step": row["step"],
                    "source": "training-time evaluation",
                    "success": row["eval/success_rate"],
                    "return": row.get("eval/return"),
                }
            )
    return rows


def _rates(rows: list[dict]) -> dict:
    n = len(rows)
    return {"success": sum(r["success"] for r in rows) / n, "return": sum(r["return"] for r in rows) / n}


def cross_play_table(cfg: EvalConfig, runs: list[Run], track=None) -> dict | None:
    """Arenas, every run (or baseline) with every other. Where the learning agents are one whole team of a game
    both teams play alike (ctf, combat with equal teams): head to head on held-out arenas, half the games on each side
    (``kind: head_to_head``), with openskill ratings from the same games. Where a team of two or more learns
    against NPCs: as teammates (``kind: teammates``), run i's policy acting the first half of the team and
    run j's the rest, against the held-out NPC population; the diagonal is each run with itself. One
    learning agent alone has no cross-play (None). ``track(description, total)`` as for :func:`evaluate`."""
    from mazearena.agents.baselines import ScriptedPlayer
    from mazearena.agents.episodes import play_games, summarise_episodes
    from mazearena.agents.league import check_symmetric, cross_play
    from mazearena.envs.scenarios import scenario
    from mazearena.stats.ratings import games_from_table, rate_games
    from mazearena.training.runs import make_envs

    first = runs[0].config
    found = scenario(first.arena.scenario_name)
    config = found.arena_config()
    focal = found.focal(config)
    players = [f"{r.method}/{r.name}" for r in runs]
    games = max(2, cfg.cross_play_games)
    try:
        check_symmetric(config)
        whole_team = len(focal) == config.red and len({config.team_of(n) for n in focal}) == 1
    except ValueError:
        whole_team = False
    k = len(runs)
    if whole_team:
        tick = track("cross-play", k * (k - 1) // 2) if track else None
        slots_ = min(cfg.num_envs, max(1, games // 2))
        table = cross_play(
            lambda: make_envs(first, slots_, test=True, seed=cfg.seed, both_teams=True),
            [r.policy if r.scripted is None else ScriptedPlayer(r.scripted) for r in runs],
            [r.config.trained_team for r in runs],
            games,
            (lambda: tick(1)) if tick else None,
        )
        table |= {
            "kind": "head_to_head",
            "players": players,
            "methods": [r.method for r in runs],
            "games_per_pair": games,
        }
        table["ratings"] = rate_games(players, games_from_table(table["win"], table["draw"], games), seed=cfg.seed)
        return table
    if len(focal) < 2:
        return None
    tick = track("cross-play (teammates)", k * k) if track else None
    deterministic = cfg.modes[0] == "deterministic"
    win: list[list[float]] = [[0.0] * k for _ in range(k)]
    draw: list[list[float]] = [[0.0] * k for _ in range(k)]
    half = (len(focal) + 1) // 2
    for i in range(k):
        for j in range(k):
            env = first.task.suite_env(first, "test", slots(cfg.num_envs, games), cfg.seed, cfg.device)
            act = Teammates(*(run_actor(r, env, deterministic) for r in (runs[i], runs[j])), half)
            with torch.no_grad():
                result = summarise_episodes(play_games(env, act, games, first.scenario_team))
            win[i][j], draw[i][j] = result["success_rate"], result["draw_rate"]
            if tick is not None:
                tick(1)
    return {
        "kind": "teammates",
        "win": win,
        "draw": draw,
        "players": players,
        "methods": [r.method for r in runs],
        "games_per_pair": games,
        "split": [focal[:half], focal[half:]],
    }


def evaluate(cfg: EvalConfig, track=None) -> Path:
    """Run the evaluation ``cfg`` describes and write its folder; returns the folder. ``track(description,
    total)`` returns a callable ``advance(k)`` (a progress bar)."""
    from mazearena.evaluation.mazes import check_request
    from mazearena.evaluation.report import write_eval

    with torch.random.fork_rng(devices=[]):  # networks are built and policies sample under an RNG of our own
        torch.manual_seed(cfg.seed)
        runs = load_runs(cfg)
        check_request(cfg.mazes, runs)
        players = runs + baseline_runs(cfg, runs)
        plan = [(run, mode, c) for run in players for c in conditions(cfg, run) for mode in played_modes(cfg, run)]
        out = Path(cfg.out) if cfg.out is not None else runs[0].path / "eval"
        make_out_dir(out, inside=runs[0].path if cfg.out is None else None)
        rows: list[dict] = []
        curves: list[dict] = []
        cross = None
        advance = track("episodes", sum(_played(cfg, cfg.episodes) for _ in plan)) if track else None
        for run, mode, (suite, perturbation, severity) in plan:
            rows += play_condition(cfg, run, suite, perturbation, severity, mode, cfg.episodes, advance)
        if cfg.curve_episodes:
            snapshots = sum(len(list((r.path / "checkpoints" / "snapshots").glob("step-*.pt"))) for r in runs)
            step = track("training snapshots", snapshots) if track and snapshots else None
            for run in runs:
                curves += sample_efficiency(cfg, run, step)
        if runs[0].task.cross_play and len(players) > 1 and cfg.cross_play_games:
            cross = cross_play_table(cfg, players, track)
        drawn = drawn_mazes(cfg, runs, track)
    write_eval(out, cfg, runs, rows, curves, cross, players[len(runs) :], drawn)
    return out


def drawn_mazes(cfg: EvalConfig, runs: list[Run], track=None) -> dict | None:
    """Every run that can (a maze run with an egocentric view) on every drawn maze of ``cfg.mazes``: the source,
    the episode rows, and the runs skipped with the reason."""
    from mazearena.evaluation.mazes import episodes_owed, maze_source, play_mazes, unavailable

    source = maze_source(cfg.mazes)
    if source is None:
        return None
    able = [r for r in runs if unavailable(r) is None]
    skipped = [{"run": r.name, "method": r.method, "reason": unavailable(r)} for r in runs if r not in able]
    if not able:
        return {"source": source, "rows": [], "skipped": skipped} if runs[0].task.kind == "maze" else None
    modes = sum(len(played_modes(cfg, r)) for r in able)
    advance = track("drawn mazes", episodes_owed(cfg, source) * modes) if track else None
    rows = [row for r in able for mode in played_modes(cfg, r) for row in play_mazes(cfg, r, mode, source, advance)]
    return {"source": source, "rows": rows, "skipped": skipped}


def _played(cfg: EvalConfig, episodes: int) -> int:
    """Episodes actually played for ``episodes`` asked (a multiple of the games played at once)."""
    n = slots(cfg.num_envs, episodes)
    return n * -(-episodes // n)
