"""``mazearena bench`` (``bench peers``): speed of our engines next to the installed peers, in one run.

Two tables: mazes in env-steps/s against MiniGrid, and arenas in agent-steps/s (one agent acting for one
step) against MAgent2's battle and MPE2's simple_tag. Each figure is the median of ``repeats`` timed runs
after a warm-up, with random actions drawn ahead of time. Peers that are not installed are reported as
missing (MiniGrid pulls in pygame-ce, so the peers live in their own environment: ``make bench``).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import mazearena
from mazearena.apps.bench.common import check_positive, machine, rates
from mazearena.apps.bench.peers_report import markdown, plot_scaling
from mazearena.checks import UserError
from mazearena.envs.engine.maze import MazeConfig


@dataclass
class BenchConfig:
    """Speed next to the peers: env-steps/s (MiniGrid), agent-steps/s (MAgent2, MPE2) and train-steps/s (SB3,
    SuperSuit + SB3) in one report; ``mazearena bench --help`` lists the other benchmarks."""

    size: int = 11
    """Maze side for every env measured (MiniGrid's peer is SimpleCrossing of the same size)."""
    view_size: int = 7
    """Egocentric view side (MiniGrid's is 7)."""
    num_envs: tuple[int, ...] = (1, 64, 1024, 4096)
    """Batch sizes of the vector env."""
    num_levels: int = 0
    """Level set of the vector env (0 = unlimited: levels are generated as episodes end)."""
    device: str = "cpu"
    """Device of the vector envs."""
    arena_envs: tuple[int, ...] = (10, 256, 1024)
    """Batch sizes of the arena vector env (8v8 games: 16 agents each; 10 games ~ MAgent2 battle's 162)."""
    arena_modes: tuple[str, ...] = ("combat", "ctf", "tag")
    """Arena modes measured at every batch size."""
    repeats: int = 5
    """Timed runs per figure; the median is reported."""
    seconds: float = 1.0
    """Approximate length of one timed run."""
    peers: bool = True
    """Also measure the peers that are installed."""
    trainers: bool = True
    """Also time our trainers next to theirs: PPO and DQN vs Stable-Baselines3, multi-agent PPO vs SuperSuit + SB3."""
    train_envs: tuple[int, ...] = (16, 64)
    """PPO batch sizes timed (the train-steps/s scaling curve); the last one is used for the peers and MAPPO."""
    train_steps: int = 64
    """Rollout steps per env of a PPO / MAPPO iteration."""
    train_size: int = 9
    """Maze side of the trainer benchmarks."""
    train_repeats: int = 3
    """Timed runs per trainer figure (one iteration each); the median is reported."""
    out: Path = Path("runs/bench")
    """Folder for bench.json and bench.md."""

    def __post_init__(self) -> None:
        MazeConfig(size=self.size, view_size=self.view_size, num_levels=self.num_levels)
        if not self.num_envs or any(n < 1 for n in self.num_envs):
            raise UserError(f"num_envs must be a non-empty list of ints >= 1, got {self.num_envs}")
        if any(n < 1 for n in self.arena_envs):
            raise UserError(f"arena_envs must be ints >= 1, got {self.arena_envs}")
        bad = [m for m in self.arena_modes if m not in ("tag", "ctf", "combat")]
        if bad:
            raise UserError(f"arena_modes must be among tag, ctf, combat; got {bad}")
        check_positive(self, "repeats", "train_steps", "train_repeats")
        if not self.seconds > 0:
            raise UserError(f"seconds must be > 0, got {self.seconds}")
        if self.trainers and (not self.train_envs or any(n < 1 for n in self.train_envs)):
            raise UserError(f"train_envs must be a non-empty list of ints >= 1, got {self.train_envs}")


@dataclass
class Row:
    name: str
    env_steps_per_s: float | None
    """Steps per second: env-steps for mazes, agent-steps for arenas."""
    runs: list[float] = field(default_factory=list)
    note: str = ""
    agents: int | None = None
    """Arena rows: agents simulated per step (peers are matched on it)."""
    num_envs: int | None = None
    """Games (or PPO envs) in the batch, for the scaling curves."""
    bytes_per_env: float | None = None
    """Engine state held per game (tensors of the engine and its level cache)."""


def state_bytes(obj, seen: set | None = None) -> int:
    """Bytes of the tensors an object holds (in attributes, dicts and lists, one level of objects deep),
    each storage counted once."""
    seen = set() if seen is None else seen
    total = 0
    values = vars(obj).values() if hasattr(obj, "__dict__") else obj.values() if isinstance(obj, dict) else obj
    for v in values:
        if isinstance(v, torch.Tensor):
            key = v.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                total += v.untyped_storage().nbytes()
        elif isinstance(v, (dict, list, tuple)) or (
            hasattr(v, "__dict__") and type(v).__module__.startswith("mazearena")
        ):
            total += state_bytes(v, seen) if v is not obj else 0
    return total


def _timed(run_steps, steps: int, repeats: int) -> list[float]:
    run_steps(max(1, steps // 10))  # warm-up
    return rates(lambda: run_steps(steps), repeats)


def _calibrate(run_steps, seconds: float, start: int) -> int:
    steps = start
    while True:
        t0 = time.perf_counter()
        run_steps(steps)
        dt = time.perf_counter() - t0
        if dt >= seconds / 4 or steps > 10**7:
            return max(1, int(steps * seconds / max(dt, 1e-9)))
        steps *= 4


def _gym_runner(env: gym.Env, seed: int):
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    n = env.action_space.n

    def run(steps: int) -> int:
        actions = rng.integers(0, n, size=steps)
        for a in actions:
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        return steps

    return run


def bench_single(cfg: BenchConfig) -> Row:
    env = gym.make("mazearena/Maze-v0", size=cfg.size, view_size=cfg.view_size)
    run = _gym_runner(env, 0)
    runs = _timed(run, _calibrate(run, cfg.seconds, 100), cfg.repeats)
    return Row(f"mazearena Maze-v0 single env ({cfg.size}x{cfg.size})", statistics.median(runs), runs)


def bench_minigrid(cfg: BenchConfig) -> Row:
    name = f"MiniGrid SimpleCrossingS{cfg.size}N5 single env"
    try:
        import minigrid  # noqa: F401
    except ImportError:
        return Row(name, None, note="missing: pip install minigrid (in its own environment: make bench)")
    env_id = f"MiniGrid-SimpleCrossingS{cfg.size}N5-v0"
    if env_id not in gym.registry:
        env_id = "MiniGrid-SimpleCrossingS11N5-v0"
    env = gym.make(env_id)
    run = _gym_runner(env, 0)
    runs = _timed(run, _calibrate(run, cfg.seconds, 100), cfg.repeats)
    return Row(name, statistics.median(runs), runs)


def bench_vector(cfg: BenchConfig, num_envs: int) -> Row:
    env = mazearena.make_vec(
        "mazearena/Maze-v0",
        num_envs,
        device=cfg.device,
        seed=0,
        size=cfg.size,
        view_size=cfg.view_size,
        num_levels=cfg.num_levels,
    )
    env.reset()
    gen = torch.Generator(device=cfg.device).manual_seed(0)
    pool = torch.randint(0, 4, (64, num_envs), device=cfg.device, generator=gen)
    sync = torch.cuda.synchronize if env.unwrapped.device.type == "cuda" else (lambda: None)

    def run(steps: int) -> int:
        calls = max(1, steps // num_envs)
        for i in range(calls):
            env.step(pool[i % 64])
        sync()
        return calls * num_envs

    runs = _timed(run, _calibrate(run, cfg.seconds, 16 * num_envs), cfg.repeats)
    memory = state_bytes(env.unwrapped.engine) / num_envs
    return Row(
        f"mazearena vector env, {num_envs} envs ({cfg.device})",
        statistics.median(runs),
        runs,
        num_envs=num_envs,
        bytes_per_env=memory,
    )


ARENA_SIZE = 15


def bench_arena_vector(cfg: BenchConfig, mode: str, num_envs: int) -> Row:
    from mazearena.envs import arena_v0

    env = arena_v0.vector_env(
        num_envs=num_envs, device=cfg.device, seed=0, mode=mode, red=8, blue=8, size=ARENA_SIZE, check_actions=False
    )
    env.reset()
    gen = torch.Generator(device=cfg.device).manual_seed(0)
    pool = torch.randint(0, env.single_action_space.n, (16, num_envs, env.num_agents), device=cfg.device, generator=gen)

    def run(steps: int) -> int:
        done, i = 0, 0
        while done < steps:
            _, _, _, _, info = env.step(pool[i % 16])
            done += int(info["active"].sum())  # agents that acted: agents out of the game cost nothing here
            i += 1
        return done

    runs = _timed(run, _calibrate(run, cfg.seconds, 16 * num_envs * 16), cfg.repeats)
    name = f"mazearena arena {mode} 8v8, {num_envs} games = {16 * num_envs} agents ({cfg.device})"
    return Row(
        name,
        statistics.median(runs),
        runs,
        agents=16 * num_envs,
        num_envs=num_envs,
        bytes_per_env=state_bytes(env.engine) / num_envs,
    )


def _parallel_runner(env, seed: int):
    """Agent-steps of a PettingZoo ParallelEnv under random actions drawn ahead of time."""
    env.reset(seed=seed)
    names = list(env.possible_agents)
    n = env.action_space(names[0]).n
    pool = np.random.default_rng(seed).integers(0, n, (64, len(names)))

    def run(steps: int) -> int:
        done, i = 0, 0
        while done < steps:
            if not env.agents:
                env.reset()
            live = set(env.agents)
            actions = {a: int(pool[i % 64, k]) for k, a in enumerate(names) if a in live}
            env.step(actions)
            done += len(actions)
            i += 1
        return done

    return run


def bench_arena_parallel(cfg: BenchConfig) -> Row:
    from mazearena.envs import arena_v0

    env = arena_v0.parallel_env(mode="tag", red=3, blue=1, size=ARENA_SIZE, max_cycles=25)
    run = _parallel_runner(env, 0)
    runs = _timed(run, _calibrate(run, cfg.seconds, 200), cfg.repeats)
    return Row("mazearena arena tag 3v1, PettingZoo parallel_env (one game)", statistics.median(runs), runs)


def bench_mpe2(cfg: BenchConfig) -> Row:
    name = "MPE2 simple_tag 3v1, PettingZoo parallel_env"
    try:
        from mpe2 import simple_tag_v3
    except ImportError:
        return Row(name, None, note="missing: pip install mpe2 (make bench)")
    run = _parallel_runner(simple_tag_v3.parallel_env(max_cycles=25), 0)
    runs = _timed(run, _calibrate(run, cfg.seconds, 200), cfg.repeats)
    return Row(name, statistics.median(runs), runs)


def bench_magent2(cfg: BenchConfig, map_size: int) -> Row:
    name = f"MAgent2 battle_v4 (map {map_size}), PettingZoo parallel_env"
    try:
        from magent2.environments import battle_v4
    except ImportError:
        return Row(name, None, note="missing: pip install magent2 (make bench)")
    env = battle_v4.parallel_env(map_size=map_size, max_cycles=1000)
    run = _parallel_runner(env, 0)
    agents = len(env.possible_agents)
    runs = _timed(run, _calibrate(run, cfg.seconds, 2 * agents), cfg.repeats)
    return Row(name.replace("),", f": {agents} agents),"), statistics.median(runs), runs, agents=agents)


def _trainer_row(name: str, measure, num_envs: int | None = None, missing: str = "") -> Row:
    """A trainer figure, or the peer reported missing when its package is not installed."""
    try:
        runs = measure()
    except ImportError as e:
        return Row(name, None, note=f"missing: {missing or e.name} ({e})")
    return Row(name, statistics.median(runs), runs, num_envs=num_envs)


def trainer_tasks(cfg: BenchConfig) -> list[tuple[str, object]]:
    """(key, measure) of every trainer row: our PPO at each batch size and SB3's at the largest, double DQN
    and SB3's DQN, our IPPO and MAPPO and the SuperSuit + SB3 recipe."""
    from mazearena.apps.bench import trainers as bt

    size, steps, reps, dev = cfg.train_size, cfg.train_steps, cfg.train_repeats, cfg.device
    n = cfg.train_envs[-1]
    tasks = [
        (
            f"ppo-{k}",
            lambda k=k: _trainer_row(
                f"mazearena PPO, {k} envs x {steps} steps ({dev})",
                lambda: bt.ppo_ours(size, "cnn", k, steps, 1, reps, dev),
                k,
            ),
        )
        for k in cfg.train_envs
    ]
    dqn_steps = n * steps // 4
    if cfg.peers:
        tasks.append(
            (
                f"sb3-ppo-{n}",
                lambda: _trainer_row(
                    f"Stable-Baselines3 PPO, {n} envs x {steps} steps",
                    lambda: bt.ppo_sb3(size, "cnn", n, steps, 1, reps),
                    n,
                ),
            )
        )
    tasks.append(
        (
            "dqn",
            lambda: _trainer_row(
                f"mazearena DQN (single-Q, 1-step: SB3's algorithm), 16 envs, {dqn_steps} steps ({dev})",
                lambda: bt.dqn_ours(size, "cnn", 16, dqn_steps, 256, 1, reps, dev, double_q=False, n_step=1),
            ),
        )
    )
    if cfg.peers:
        tasks.append(
            (
                "sb3-dqn",
                lambda: _trainer_row(
                    f"Stable-Baselines3 DQN, 16 envs, {dqn_steps} steps",
                    lambda: bt.dqn_sb3(size, "cnn", 16, dqn_steps, 256, 1, reps),
                ),
            )
        )
    scenario = "tag_2v1_vs_fleeing_npc"
    for key, central, what in (("ippo", False, "IPPO"), ("mappo", True, "MAPPO, centralised critic")):
        tasks.append(
            (
                key,
                lambda c=central, w=what: _trainer_row(
                    f"mazearena {w}, tag 2v1, {n} games x {steps} steps, agent-steps ({dev})",
                    lambda: bt.mappo_ours(scenario, n, steps, 1, reps, c, dev),
                    n,
                ),
            )
        )
    if cfg.peers:
        tasks.append(
            (
                "supersuit-sb3",
                lambda: _trainer_row(
                    f"PettingZoo -> SuperSuit -> SB3 PPO, tag 2v1, {n} games x {steps} steps, agent-steps",
                    lambda: bt.mappo_sb3(scenario, n, steps, 1, reps),
                    n,
                    missing="supersuit",
                ),
            )
        )
    return tasks


# MAgent2 battle maps measured: 162 agents (its default) and about 4,000 (to match large arena batches).
MAGENT2_MAPS = (45, 226)


def _peer_of(key: str, row: Row, rows: dict[str, Row]) -> str | None:
    """The peer a row is compared with: MiniGrid for mazes, MPE2 for the PettingZoo view, and for arena
    batches the MAgent2 row with the nearest number of agents."""
    if key in ("single",) or key.startswith("vector"):
        return "minigrid"
    if key == "arena-pz":
        return "mpe2"
    if key.startswith("ppo-"):
        return next((k for k in rows if k.startswith("sb3-ppo-")), None)
    if key == "dqn":
        return "sb3-dqn"
    if key in ("ippo", "mappo"):
        return "supersuit-sb3"
    if key.startswith("arena-vector"):
        peers = [k for k, r in rows.items() if k.startswith("magent2") and r.agents]
        if peers:
            return min(peers, key=lambda k: abs(math.log(rows[k].agents / row.agents)))
    return None


def run_bench(cfg: BenchConfig, progress=None) -> dict:
    """Run every measurement; returns the report (also written to ``cfg.out``)."""
    tasks = [("single", lambda: bench_single(cfg))]
    if cfg.peers:
        tasks.append(("minigrid", lambda: bench_minigrid(cfg)))
    for n in cfg.num_envs:
        tasks.append((f"vector-{n}", lambda n=n: bench_vector(cfg, n)))
    if cfg.arena_envs:
        if cfg.peers:
            for m in MAGENT2_MAPS:
                tasks.append((f"magent2-{m}", lambda m=m: bench_magent2(cfg, m)))
        for mode in cfg.arena_modes:
            for n in cfg.arena_envs:
                tasks.append((f"arena-vector-{mode}-{n}", lambda m=mode, n=n: bench_arena_vector(cfg, m, n)))
        if cfg.peers:
            tasks.append(("mpe2", lambda: bench_mpe2(cfg)))
        tasks.append(("arena-pz", lambda: bench_arena_parallel(cfg)))
    if cfg.trainers:
        tasks += trainer_tasks(cfg)
    rows: dict[str, Row] = {}
    for key, task in tasks:
        if progress is not None:
            progress(key)
        rows[key] = task()
    report = {
        "machine": machine(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "rows": [],
    }
    for key, row in rows.items():
        peer_key = _peer_of(key, row, rows)
        peer = rows.get(peer_key) if peer_key else None
        ratio = (
            row.env_steps_per_s / peer.env_steps_per_s
            if peer and peer.env_steps_per_s and row.env_steps_per_s
            else None
        )
        table = "arena" if key.startswith(("arena", "magent2", "mpe2")) else "maze"
        if key.startswith(("ppo", "sb3", "dqn", "ippo", "mappo", "supersuit")):
            table = "trainer"
        report["rows"].append({"key": key, "table": table, **asdict(row), "peer": peer_key, "ratio": ratio})
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "bench.json").write_text(json.dumps(report, indent=2))
    scaling = plot_scaling(report, cfg.out / "scaling.png")
    (cfg.out / "bench.md").write_text(markdown(report) + (f"\n![scaling curves]({scaling.name})\n" if scaling else ""))
    return report
