"""``mazearena.training.train(config)``: train, checkpoint, evaluate on held-out levels, report.

A run is a folder ``runs/<name>/``: ``config.yaml``, ``metrics.jsonl``/``metrics.csv``, ``checkpoints/``
(``last.pt`` every ``checkpoint_every`` steps, ``best.pt`` at the best held-out success), ``report.md``/
``report.json``, ``curve.png``, ``episodes.gif`` and the offline W&B run. ``resume=RUN_DIR`` continues a
run exactly where its last checkpoint left it, into the same W&B run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

import mazearena
from mazearena.agents.dqn import DQN, QNetwork
from mazearena.agents.episodes import run_episodes, run_games
from mazearena.agents.league import League, SelfPlayVectorEnv, TeamPolicy
from mazearena.agents.mappo import MAPPO, MultiAgentActorCritic
from mazearena.agents.ppo import PPO, ActorCritic
from mazearena.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mazearena.training.config import TrainConfig, load_config, save_config
from mazearena.training.loggers import Logger

EVAL_ENVS = 64


def make_envs(cfg: TrainConfig, num_envs: int, *, test: bool, seed: int, both_teams: bool = False):
    """A vector env over the training levels, or (``test``) over the held-out ones (for arenas: the held-out
    scenario on held-out arenas, or with ``both_teams`` the scenario's arena with no NPCs, for self-play)."""
    if cfg.algo == "mappo":
        from mazearena.envs import arena_v0
        from mazearena.envs.scenarios import scenario as find

        a = cfg.arena
        levels = {"num_levels": 0, "start_level": a.test_start_level} if test else {
            "num_levels": a.num_levels, "start_level": a.start_level}  # fmt: skip
        if both_teams:
            return arena_v0.vector_env(num_envs, device=cfg.device, seed=seed, **find(a.scenario_name).config,
                                       **levels, **a.make_kwargs())  # fmt: skip
        scenario = a.heldout_name if test else a.scenario_name
        return arena_v0.vector_env(num_envs, device=cfg.device, seed=seed, scenario=scenario, **levels,
                                   **a.make_kwargs())  # fmt: skip
    env = cfg.env
    levels = {"num_levels": 0, "start_level": env.test_start_level} if test else {
        "num_levels": env.num_levels, "start_level": env.start_level}  # fmt: skip
    # the trainer's own actions are valid by construction; checking them on a GPU would wait for it every step
    check = torch.device(cfg.device).type != "cuda"
    return mazearena.make_vec(env.env_id, num_envs, device=cfg.device, seed=seed, check_actions=check, **levels,
                              **env.make_kwargs())  # fmt: skip


def make_policy(cfg: TrainConfig, envs) -> ActorCritic | QNetwork | MultiAgentActorCritic:
    """The network the run trains: an actor-critic for PPO, a Q-network for DQN, a team's for MAPPO."""
    if cfg.algo == "mappo":
        from mazearena.envs.scenarios import scenario as find

        m, found = cfg.mappo, find(cfg.arena.scenario_name)
        learners = len(found.focal(found.arena_config()))
        return MultiAgentActorCritic(envs.single_observation_space, envs.state_space, learners,
                                     envs.single_action_space.n, cfg.backbone, share_params=m.share_params,
                                     centralized_critic=m.centralized_critic,
                                     death_masking=m.death_masking).to(cfg.device)  # fmt: skip
    net = ActorCritic if cfg.algo == "ppo" else QNetwork
    return net(envs.single_observation_space, envs.single_action_space.n, cfg.backbone).to(cfg.device)


def evaluate(policy: ActorCritic | QNetwork, cfg: TrainConfig, *, test: bool, episodes: int, seed: int) -> dict:
    """Success, return and length over ``episodes`` episodes on the training or the held-out levels."""
    envs = make_envs(cfg, EVAL_ENVS, test=test, seed=seed)
    device = torch.device(cfg.device)
    policy.eval()
    # the policy samples from an RNG of its own: evaluating does not shift the training's random stream
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        try:
            if cfg.algo == "mappo":  # a policy trained as the other team (self-play) plays through the mirror
                actor = TeamPolicy(policy, cfg.trained_team, cfg.scenario_team)
                return run_games(envs, actor.act, episodes, cfg.scenario_team)
            return run_episodes(envs, lambda obs: policy.act(obs), episodes)
        finally:
            policy.train()


def _resolve(cfg: TrainConfig) -> tuple[TrainConfig, Path, dict | None]:
    """The config to run, its folder and, when resuming, the last checkpoint."""
    if cfg.resume is None:
        run_dir = cfg.runs_dir / cfg.run_name
        if (run_dir / "checkpoints" / "last.pt").exists():
            raise ValueError(f"run folder {str(run_dir)!r} already holds a run: pass resume={str(run_dir)!r} to "
                             "continue it, or another name")
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        return cfg, run_dir, None
    run_dir = Path(cfg.resume)
    if not (run_dir / "config.yaml").exists():
        raise ValueError(f"resume: {str(run_dir)!r} is not a run folder (no config.yaml)")
    saved = load_config(run_dir / "config.yaml")
    if saved.algo == "sb3-ppo":
        raise ValueError("resume: runs of the Stable-Baselines3 trainer (algo sb3-ppo) cannot be resumed")
    saved.resume, saved.progress, saved.runs_dir = run_dir, cfg.progress, run_dir.parent
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt", map_location=saved.device)
    if not fits(checkpoint.get("config"), saved):
        raise CheckpointError(f"checkpoint in {str(run_dir)!r} was made with another model or env config")
    _drop_metrics_after(run_dir, int(checkpoint["algo"]["global_step"]))
    return saved, run_dir, checkpoint


def snapshot_path(run_dir: Path, step: int) -> Path:
    """Where the weights-only snapshot of a run at ``step`` env steps is kept."""
    return run_dir / "checkpoints" / "snapshots" / f"step-{step:012d}.pt"


def init_weights(policy: torch.nn.Module, source: Path, device: str) -> None:
    """Load the network weights of a run folder's last checkpoint (or a checkpoint file) into ``policy``."""
    source = Path(source)
    path = source / "checkpoints" / "last.pt" if source.is_dir() else source
    state = load_checkpoint(path, map_location=device)
    try:
        policy.load_state_dict(state["algo"]["policy"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"init_from: the network in {str(path)!r} does not fit this config's network ({e})") \
            from None  # fmt: skip


def load_trained(path: Path, checkpoint: str = "last", device: str = "cpu"):
    """``(config, run_dir, policy, step)`` of a run folder's ``checkpoint`` (``last``, ``best``, or a ``.pt``
    file inside the run: a checkpoint or a weights-only snapshot), the policy in eval mode on ``device``.
    Errors name a folder that is no run, a missing checkpoint, or one made for another config."""
    path = Path(path)
    run_dir = path.parent.parent if path.is_file() and path.parent.name == "checkpoints" else (
        path.parent.parent.parent if path.is_file() else path)  # fmt: skip
    if not (run_dir / "config.yaml").exists():
        raise ValueError(f"{str(path)!r} is not a run folder or a checkpoint inside one (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    if cfg.algo == "sb3-ppo":
        raise ValueError(f"{str(run_dir)!r} was trained with sb3-ppo; only runs of mazearena's own trainers (ppo, dqn, "
                         "mappo) can be loaded")
    if not path.is_file() and checkpoint not in ("last", "best"):
        raise ValueError(f"checkpoint must be 'last' or 'best', got {checkpoint!r}")
    file = path if path.is_file() else run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not file.exists():
        raise CheckpointError(f"run {str(run_dir)!r} has no checkpoint {file.name} (training saves last.pt every "
                              "checkpoint_every steps; best.pt needs eval_every > 0)")
    cfg.device = device
    state = load_checkpoint(file, map_location=device)
    if "config" in state and not fits(state["config"], cfg):
        raise CheckpointError(f"checkpoint {str(file)!r} was made with another model or env config than its run's "
                              "config.yaml")
    policy = make_policy(cfg, make_envs(cfg, 1, test=True, seed=0))
    weights = state["policy"] if "policy" in state else state.get("algo", {}).get("policy")
    try:
        policy.load_state_dict(weights)
    except (TypeError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {str(file)!r} does not fit the run's network: {e}") from None
    step = int(state["step"]) if "step" in state else int(state["algo"]["global_step"])
    return cfg, run_dir, policy.eval(), step


def _drop_metrics_after(run_dir: Path, step: int) -> None:
    """Forget metrics logged after the checkpoint a run resumes from: they will be logged again."""
    jsonl = run_dir / "metrics.jsonl"
    if jsonl.exists():
        kept = [line for line in jsonl.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        jsonl.write_text("".join(line + "\n" for line in kept))
    table = run_dir / "metrics.csv"
    if table.exists():
        lines = table.read_text().splitlines()
        kept = lines[:1] + [line for line in lines[1:] if int(float(line.split(",", 1)[0])) <= step]
        table.write_text("".join(line + "\n" for line in kept))


def fits(saved: str | None, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's recorded model fields (JSON) are those of ``cfg``. A field the checkpoint does not
    record (added to mazearena after it was written) fits when ``cfg`` leaves it at its default."""
    if saved is None:
        return False
    defaults = json.loads(json.dumps(_model_fields(TrainConfig(algo=cfg.algo)), sort_keys=True))

    def same(old, new, default) -> bool:
        if isinstance(old, dict) and isinstance(new, dict):
            return all(k in new for k in old) and all(
                same(old[k], new[k], (default or {}).get(k)) if k in old else new[k] == (default or {}).get(k)
                for k in new)  # fmt: skip
        return old == new

    return same(json.loads(saved), json.loads(json.dumps(_model_fields(cfg), sort_keys=True)), defaults)


def _model_fields(cfg: TrainConfig) -> dict:
    """What a checkpoint must match to be loaded: the network and what it sees."""
    d = cfg.to_dict()
    fields = {"algo": d["algo"], "backbone": d["backbone"], "env": d["env"], "num_envs": cfg.num_envs,
              "iteration_steps": cfg.iteration_steps}  # fmt: skip
    if cfg.algo == "mappo":
        fields |= {"arena": d["arena"], "mappo": d["mappo"], "league": d["league"]}
    return fields


def train(config: TrainConfig) -> Path:
    """Train as ``config`` says; returns the run folder."""
    cfg, run_dir, checkpoint = _resolve(config)
    torch.manual_seed(cfg.seed)
    iteration_steps = cfg.iteration_steps
    total_iterations = max(1, cfg.total_timesteps // iteration_steps)
    total_steps = total_iterations * iteration_steps
    device = torch.device(cfg.device)
    if cfg.algo == "sb3-ppo":
        from mazearena.agents.sb3 import SB3PPO

        levels = {"num_levels": cfg.env.num_levels, "start_level": cfg.env.start_level}
        algo = SB3PPO(cfg.ppo, cfg.env.env_id, {**levels, **cfg.env.make_kwargs()}, cfg.backbone, cfg.seed,
                      cfg.device, total_iterations)  # fmt: skip
        policy, step_once = algo.policy, algo.iteration
    else:
        self_play = cfg.algo == "mappo" and cfg.league.self_play
        envs = make_envs(cfg, cfg.num_envs, test=False, seed=cfg.seed, both_teams=self_play)
        policy = make_policy(cfg, envs)
        if cfg.init_from is not None and checkpoint is None:
            init_weights(policy, cfg.init_from, cfg.device)
        if self_play:
            from mazearena.envs.scenarios import scenario as find

            scripted = find(cfg.arena.scenario_name).npcs  # the scripted team, for scripted_groups
            npcs = [scripted[name] for name in sorted(scripted, key=lambda n: int(n.split("_")[1]))]
            envs = SelfPlayVectorEnv(envs, policy, League(cfg.league, seed=cfg.seed), cfg.trained_team, npcs)
    if cfg.algo == "ppo":
        algo = PPO(cfg.ppo, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp, compile=cfg.compile)
        step_once = algo.iteration
    elif cfg.algo == "dqn":
        algo = DQN(cfg.dqn, envs, policy, device, total_steps, seed=cfg.seed, amp=cfg.amp)
        step_once = lambda: algo.iteration(iteration_steps)  # noqa: E731
    elif cfg.algo == "mappo":
        algo = MAPPO(cfg.mappo, envs, policy, device, total_iterations, seed=cfg.seed, amp=cfg.amp,
                      compile=cfg.compile)
        step_once = algo.iteration
    best, elapsed = -1.0, 0.0  # elapsed: training wall-clock seconds, carried across resumes
    if checkpoint is not None:
        try:
            algo.load_state_dict(checkpoint["algo"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{cfg.resume}: the last checkpoint does not fit this trainer ({e}); it was "
                                  "written by another version or another configuration") from e
        best, elapsed = float(checkpoint.get("best", -1.0)), float(checkpoint.get("elapsed", 0.0))
    logger = Logger(run_dir, cfg.to_dict(), total_steps, console=cfg.progress, wandb_mode=cfg.wandb_mode,
                    wandb_project=cfg.wandb_project, wandb_group=cfg.wandb_group or run_dir.name,
                    wandb_tags=cfg.wandb_tags, tensorboard=cfg.tensorboard, start_step=algo.global_step)  # fmt: skip

    def save(name: str) -> Path:
        state = {"algo": algo.state_dict(), "best": best, "elapsed": elapsed,
                 "config": json.dumps(_model_fields(cfg), sort_keys=True)}
        return save_checkpoint(run_dir / "checkpoints" / f"{name}.pt", state)

    next_checkpoint = (algo.global_step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    next_eval = (algo.global_step // cfg.eval_every + 1) * cfg.eval_every if cfg.eval_every else None
    try:
        while algo.global_step < total_steps:
            start, steps_before = time.perf_counter(), algo.global_step
            metrics = step_once()
            metrics["sps"] = (algo.global_step - steps_before) / (time.perf_counter() - start)
            if next_eval is not None and algo.global_step >= next_eval:
                result = evaluate(policy, cfg, test=True, episodes=cfg.eval_episodes, seed=cfg.seed + 1)
                metrics |= {"eval/success_rate": result["success_rate"], "eval/return": result["mean_return"],
                            "eval/length": result["mean_length"]}  # fmt: skip
                next_eval += cfg.eval_every
                if result["success_rate"] > best:
                    best = result["success_rate"]
                    logger.log_checkpoint(save("best"), aliases=("best",))
            elapsed += time.perf_counter() - start  # wall-clock of training and its evaluations
            metrics["time"] = elapsed
            logger.log(metrics, algo.global_step)
            if algo.global_step >= next_checkpoint or algo.global_step >= total_steps:
                save("last")
                if cfg.keep_snapshots and cfg.algo != "sb3-ppo":  # eval loads our own trainers only
                    save_checkpoint(snapshot_path(run_dir, algo.global_step),
                                    {"policy": policy.state_dict(), "step": algo.global_step,
                                     "config": json.dumps(_model_fields(cfg), sort_keys=True)})  # fmt: skip
                next_checkpoint += cfg.checkpoint_every
        logger.log_checkpoint(run_dir / "checkpoints" / "last.pt")
        report = write_report(cfg, policy, run_dir, logger, algo.global_step,
                              league=envs.league if cfg.algo == "mappo" and cfg.league.self_play else None)
        logger.summary({f"final/{k}": v for k, v in report["summary"].items()})
    finally:
        logger.close()
    return run_dir


def write_report(cfg: TrainConfig, policy: ActorCritic | QNetwork, run_dir: Path, logger: Logger, step: int,
                 league: League | None = None) -> dict:  # fmt: skip
    """Final evaluation on training and held-out levels, the learning curve and a video, as report.md/json;
    for self-play, the win-rate table of the league's snapshots."""
    train_result = evaluate(policy, cfg, test=False, episodes=cfg.eval_episodes, seed=cfg.seed + 2)
    test_result = evaluate(policy, cfg, test=True, episodes=cfg.eval_episodes, seed=cfg.seed + 3)
    gap = train_result["success_rate"] - test_result["success_rate"]
    summary = {"train_success": train_result["success_rate"], "test_success": test_result["success_rate"],
               "generalisation_gap": gap, "steps": step} | first_reaching(run_dir, 0.95)  # fmt: skip
    report = {"run": run_dir.name, "config": cfg.to_dict(), "summary": summary,
              "train_levels": train_result, "test_levels": test_result}  # fmt: skip
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    curve = plot_curve(run_dir)
    record = record_games if cfg.algo == "mappo" else record_episodes
    video = record(cfg, policy, run_dir / "episodes.gif") if cfg.video_episodes else None
    if video is not None:
        logger.log_video(video, step)
    if cfg.algo == "mappo":
        a = cfg.arena
        opponents = (f"by self-play as {('red', 'blue')[cfg.trained_team]} against a league of its past snapshots"
                     if cfg.league.self_play else f"in scenario {a.scenario_name}")
        what = (f"{cfg.algo} + {cfg.backbone} trained {opponents} ({a.size}x{a.size} {a.layout} arenas), "
                f"{step:,} game steps, on {a.num_levels or 'unlimited'} arenas; held out: scenario "
                f"{a.heldout_name} on unseen arenas. Success = games won by the learning team.")
    else:
        what = (f"{cfg.algo} + {cfg.backbone} on {cfg.env.env_id} {cfg.env.size}x{cfg.env.size}, {step:,} steps, "
                f"trained on {cfg.env.num_levels or 'unlimited'} levels")
    lines = [f"# {run_dir.name}", "", what, "",
             "| levels | episodes | success (95% CI) | mean return | mean length |", "|---|---:|---:|---:|---:|"]
    for name, r in (("training", train_result), ("held-out", test_result)):
        lo, hi = r["success_ci95"]
        lines.append(f"| {name} | {r['episodes']} | {r['success_rate']:.3f} ({lo:.3f}–{hi:.3f}) | "
                     f"{r['mean_return']:.3f} | {r['mean_length']:.1f} |")
    lines += ["", f"Generalisation gap (training − held-out success): {gap:+.3f}", ""]
    if summary.get("steps_to_95") is not None:
        lines += [f"Held-out success first reached 95% at {summary['steps_to_95']:,} steps, after "
                  f"{summary['seconds_to_95']:.0f} s of training.", ""]
    if league is not None:
        table = league_table(cfg, policy, league, run_dir, track=logger.task)
        logger.log_image(run_dir / "league.png", step, "league/win_rates")
        report["league"] = table
        (run_dir / "report.json").write_text(json.dumps(report, indent=2))
        lines += league_lines(table)
    if curve is not None:
        lines += [f"![learning curve]({curve.name})", ""]
    if video is not None:
        lines += [f"![held-out episodes]({video.name})", ""]
    (run_dir / "report.md").write_text("\n".join(lines))
    return report


LEAGUE_TABLE_SNAPSHOTS = 6


def league_table(cfg: TrainConfig, policy: MultiAgentActorCritic, league: League, run_dir: Path,
                 games: int | None = None, track=None) -> dict:  # fmt: skip
    """Up to six league snapshots, evenly spread from the untrained one to the latest, play each other on
    held-out arenas (``games`` per pair, half on each side; default ``eval_episodes``); writes league.png.
    ``track(description, total)`` gives a callable advanced once per pair (a progress bar)."""
    from mazearena.agents.league import win_rate_table
    from mazearena.stats.ratings import games_from_table, rate_games

    k = len(league)
    picks = sorted({round(i * (k - 1) / (LEAGUE_TABLE_SNAPSHOTS - 1)) for i in range(LEAGUE_TABLE_SNAPSHOTS)})
    snapshots = [league.snapshots[i] for i in picks]
    iterations = [league.iterations[i] for i in picks]
    steps = [i * cfg.iteration_steps for i in iterations]
    per_pair = games or cfg.eval_episodes
    slots = min(EVAL_ENVS, max(1, per_pair // 2))  # every slot plays as many games; none wasted
    table = win_rate_table(lambda: make_envs(cfg, slots, test=True, seed=cfg.seed + 5, both_teams=True),
                           policy, snapshots, cfg.trained_team, per_pair,
                           track("league table", len(picks) * (len(picks) - 1) // 2) if track else None)
    table |= {"steps": steps, "games_per_pair": per_pair}
    table["ratings"] = rate_games([f"{s:,}" for s in steps], games_from_table(table["win"], table["draw"], per_pair),
                                  seed=cfg.seed)  # fmt: skip
    plot_league(table, run_dir / "league.png")
    return table


def league_lines(table: dict) -> list[str]:
    """The league table as Markdown: row snapshot's win rate against column snapshot."""
    steps = table["steps"]
    head = "| wins of ↓ against → | " + " | ".join(f"{s:,}" for s in steps) + " | rating (95%) |"
    lines = ["## Self-play league", "",
             f"Snapshots (by training steps) against each other on held-out arenas, {table['games_per_pair']} "
             "games per pair, half on each side; cell = share of games the row snapshot won (draws count for "
             "neither); rating: openskill (Plackett–Luce) mu with its 95% interval, from the same games.", "",
             head, "|---|" + "---:|" * (len(steps) + 1)]  # fmt: skip
    for i, s in enumerate(steps):
        cells = ["—" if i == j else f"{w:.2f}" for j, w in enumerate(table["win"][i])]
        r = table["ratings"][i]
        lines.append(f"| {s:,} | " + " | ".join(cells) + f" | {r['mu']:.1f} ({r['low']:.1f}–{r['high']:.1f}) |")
    return [*lines, "", "![league win rates](league.png)", ""]


def plot_league(table: dict, path: Path) -> Path:
    """A heatmap of the league table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    win = np.array(table["win"], dtype=float)
    np.fill_diagonal(win, np.nan)
    labels = [f"{s / 1000:.0f}k" for s in table["steps"]]
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    image = ax.imshow(win, cmap="RdBu", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if i != j:
                dark = abs(win[i, j] - 0.5) > 0.3
                ax.text(j, i, f"{win[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("opponent snapshot (training steps)")
    ax.set_ylabel("snapshot (training steps)")
    ax.set_title("win rate of row against column")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def first_reaching(run_dir: Path, target: float) -> dict:
    """Steps and training seconds at the first evaluation whose held-out success reached ``target``."""
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("eval/success_rate", -1) >= target:
            return {"steps_to_95": row["step"], "seconds_to_95": row.get("time")}
    return {"steps_to_95": None, "seconds_to_95": None}


def plot_curve(run_dir: Path) -> Path | None:
    """curve.png: training success and held-out success against env steps, from metrics.jsonl."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("episode/success", "training episodes"), ("episode/win_rate", "training games (won)"),
                       ("eval/success_rate", "held-out levels")):  # fmt: skip
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            x, y = zip(*points, strict=True)
            ax.plot(x, y, marker="o" if key.startswith("eval") else None, label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = run_dir / "curve.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def record_episodes(cfg: TrainConfig, policy: ActorCritic | QNetwork, path: Path) -> Path:
    """A GIF of the trained agent on held-out levels."""
    import gymnasium as gym

    from mazearena.training.video import write_video

    env = gym.make(cfg.env.env_id, render_mode="rgb_array", num_levels=0, start_level=cfg.env.test_start_level,
                   **cfg.env.make_kwargs())  # fmt: skip
    frames: list[np.ndarray] = []
    obs, _ = env.reset(seed=cfg.seed + 4)
    for _ in range(cfg.video_episodes):
        done = False
        frames.append(env.render())
        while not done:
            action = policy.act(torch.as_tensor(obs, device=cfg.device)[None])
            obs, _, terminated, truncated, _ = env.step(int(action[0]))
            frames.append(env.render())
            done = terminated or truncated
        frames += [frames[-1]] * 3
        obs, _ = env.reset()
    env.close()
    return write_video(frames, path, fps=8)


def record_games(cfg: TrainConfig, policy: MultiAgentActorCritic, path: Path) -> Path:
    """A GIF of the trained team playing the held-out scenario on held-out arenas."""
    from mazearena.training.video import write_video

    frames: list[np.ndarray] = []
    for frame, result in arena_games(cfg, policy, cfg.video_episodes, cfg.seed + 4):
        frames += [frame] * (4 if result is not None else 1)
    return write_video(frames, path, fps=8)


def arena_games(cfg: TrainConfig, policy: MultiAgentActorCritic, episodes: int, seed: int, *, test: bool = True,
                greedy: bool = False):  # fmt: skip
    """Play ``episodes`` games of the run's scenario (``test``: its held-out twin on unseen arenas), one
    at a time; yields ``(frame, result)`` per frame, ``result`` being ``None`` until a game ends, then
    ``{"return", "length", "success", "winner"}`` (success: the learning team won; return summed over it)."""
    from mazearena.envs import arena_v0

    a = cfg.arena
    levels = {"num_levels": 0, "start_level": a.test_start_level} if test else {
        "num_levels": a.num_levels, "start_level": a.start_level}  # fmt: skip
    env = arena_v0.parallel_env(render_mode="rgb_array", scenario=a.heldout_name if test else a.scenario_name,
                                **levels, **a.make_kwargs())  # fmt: skip
    names = list(env.possible_agents)
    team = 0 if names[0].startswith("red") else 1
    actor = TeamPolicy(policy, cfg.trained_team, team, deterministic=greedy)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            yield env.render(), None
            ret, length = 0.0, 0
            while env.agents:
                alive = torch.tensor([[n in obs for n in names]], device=cfg.device)
                actions = actor.act(_stack([obs.get(n) for n in names], cfg.device), alive)[0]
                obs, rewards, _, _, _ = env.step({n: int(actions[i]) for i, n in enumerate(names)
                                                      if n in env.agents})  # fmt: skip
                ret += sum(rewards.values())
                length += 1
                if not env.agents:
                    winner = int(env.engine.leader()[0])
                    yield env.render(), {"return": ret, "length": length, "success": winner == team, "winner": winner}
                else:
                    yield env.render(), None
    finally:
        env.close()


def _stack(per_agent: list, device: str):
    """``[1, agents, ...]`` observations from a list of per-agent ones (``None`` for agents out of the game)."""
    like = next(o for o in per_agent if o is not None)
    if isinstance(like, dict):
        return {k: _stack([None if o is None else o[k] for o in per_agent], device) for k in like}
    rows = [np.zeros_like(like) if o is None else o for o in per_agent]
    return torch.as_tensor(np.stack(rows)[None], device=device)
