"""``mazearena bench train``: training speed next to Stable-Baselines3. PPO and DQN, the same env, the same
CNN, the same hyperparameters; PPO with an LSTM next to sb3-contrib's RecurrentPPO on the memory maze.

Train-steps/s = env steps collected and learned from per second (rollout + update), median of ``repeats``
timed runs of ``iterations`` iterations each, after a warm-up. A PPO iteration is one rollout of
``num_envs * num_steps`` steps and its update; a DQN iteration is as many env steps, with one gradient step
of ``dqn_batch`` samples per vector step (both trainers: replay buffer full enough, same replay ratio).
SB3's DQN is single-Q with 1-step targets (two network passes per gradient step): ours is timed with the same
algorithm (``double_q=False, n_step=1``) for the ratio, and as it trains by default (double-Q, 3-step; three
passes) beside it. Writes
``out/train_speed.{json,md}``.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import mazearena
from mazearena.agents.policies import ActorCritic, QNetwork
from mazearena.apps.bench.common import check_positive, rates, write
from mazearena.apps.bench.profile import network_seconds
from mazearena.apps.bench.trainers import MEMORY_ID, dqn_ours, dqn_sb3, ppo_ours, ppo_sb3, recurrent_ppo_sb3


@dataclass
class TrainSpeedConfig:
    """PPO train-steps/s: mazearena vs Stable-Baselines3."""

    size: int = 9
    """Maze side."""
    backbone: str = "cnn"
    """Backbone used by both."""
    num_envs: int = 64
    """Envs per rollout."""
    num_steps: int = 64
    """Steps per env per rollout."""
    iterations: int = 4
    """PPO iterations per timed run."""
    repeats: int = 3
    """Timed runs; the median is reported."""
    dqn_envs: int = 16
    """DQN: envs feeding the replay buffer."""
    dqn_batch: int = 256
    """DQN: minibatch of each gradient step."""
    out: Path = Path("runs/bench")
    """Folder for train_speed.json and train_speed.md."""

    def __post_init__(self) -> None:
        check_positive(self, "size", "num_envs", "num_steps", "iterations", "repeats", "dqn_envs", "dqn_batch")


def ours(args: TrainSpeedConfig) -> list[float]:
    return ppo_ours(args.size, args.backbone, args.num_envs, args.num_steps, args.iterations, args.repeats)


def sb3(args: TrainSpeedConfig) -> list[float]:
    return ppo_sb3(args.size, args.backbone, args.num_envs, args.num_steps, args.iterations, args.repeats)


def ours_recurrent(args: TrainSpeedConfig, amp: bool = False) -> list[float]:
    return ppo_ours(
        args.size,
        args.backbone,
        args.num_envs,
        args.num_steps,
        args.iterations,
        args.repeats,
        amp=amp,
        core="lstm",
        env_id=MEMORY_ID,
    )


def sb3_recurrent(args: TrainSpeedConfig) -> list[float]:
    return recurrent_ppo_sb3(args.size, args.backbone, args.num_envs, args.num_steps, args.iterations, args.repeats)


def ours_dqn(args: TrainSpeedConfig, double_q: bool = False, amp: bool = False) -> list[float]:
    """Our DQN: SB3's algorithm (single-Q, 1-step targets), or with ``double_q`` our defaults (double-Q, 3-step)."""
    steps = args.num_envs * args.num_steps  # env steps per timed iteration, as for PPO
    algorithm = {"double_q": True, "n_step": 3} if double_q else {"double_q": False, "n_step": 1}
    dqn_args = (args.size, args.backbone, args.dqn_envs, steps, args.dqn_batch, args.iterations, args.repeats)
    return dqn_ours(*dqn_args, amp=amp, **algorithm)


def sb3_dqn(args: TrainSpeedConfig) -> list[float]:
    steps = args.num_envs * args.num_steps
    return dqn_sb3(args.size, args.backbone, args.dqn_envs, steps, args.dqn_batch, args.iterations, args.repeats)


def network_floor(args: TrainSpeedConfig) -> dict[str, float]:
    """Train-steps/s if a trainer did nothing but its network work: the same forward passes, backward passes
    and Adam steps on random observations, no env, no bookkeeping. No trainer with this network and these
    settings can beat it on this machine."""
    torch.manual_seed(0)
    envs = mazearena.make_vec("mazearena/Maze-v0", 1, seed=0, size=args.size)
    space, n = envs.single_observation_space, envs.single_action_space.n

    def obs(batch: int) -> torch.Tensor:
        return torch.randint(0, 2, (batch, *space.shape), dtype=torch.uint8)

    policy = ActorCritic(space, n, args.backbone)
    rollout, mb = obs(args.num_envs), obs(args.num_envs * args.num_steps // 4)  # 4 epochs x 4 minibatches
    ppo = 1.0 / network_seconds(policy, rollout, mb, 4, 4, args.num_steps, args.repeats)

    q, target = QNetwork(space, n, args.backbone), QNetwork(space, n, args.backbone)
    q_opt = torch.optim.Adam(q.parameters())
    act, batch = obs(args.dqn_envs), obs(args.dqn_batch)
    vector_steps = 64

    def dqn_steps() -> int:
        for _ in range(vector_steps):
            with torch.no_grad():
                q(act)
                q(batch), target(batch)  # double DQN: online and target nets on the next observations
            q_opt.zero_grad()
            q(batch).mean().backward()
            q_opt.step()
        return vector_steps * args.dqn_envs

    dqn_steps()  # warm-up
    return {"ppo": ppo, "dqn": statistics.median(rates(dqn_steps, args.repeats))}


def run(args: TrainSpeedConfig) -> Path:
    """Time both trainers; returns the Markdown table (written with its JSON to ``args.out``)."""
    results = {
        "mazearena_ppo": ours(args),
        "sb3_ppo": sb3(args),
        "mazearena_dqn": ours_dqn(args),
        "mazearena_double_dqn": ours_dqn(args, double_q=True),
        "sb3_dqn": sb3_dqn(args),
        "mazearena_recurrent_ppo": ours_recurrent(args),
        "mazearena_recurrent_ppo_amp": ours_recurrent(args, amp=True),
        "mazearena_dqn_amp": ours_dqn(args, amp=True),
        "sb3_contrib_recurrent_ppo": sb3_recurrent(args),
    }
    med = {k: statistics.median(v) for k, v in results.items()}
    floor = network_floor(args)
    report = {
        "args": {k: str(v) for k, v in asdict(args).items()},
        **results,
        "network_floor": floor,
        "ppo_ratio": med["mazearena_ppo"] / med["sb3_ppo"],
        "dqn_ratio": med["mazearena_dqn"] / med["sb3_dqn"],
        "recurrent_ppo_ratio": med["mazearena_recurrent_ppo"] / med["sb3_contrib_recurrent_ppo"],
    }
    md = (
        f"{args.backbone}, Maze-v0 {args.size}x{args.size}, CPU, "
        f"medians of {args.repeats} runs\n\n"
        "| trainer | setting | train-steps/s | mazearena / SB3 |\n|---|---|---:|---:|\n"
        f"| mazearena PPO | {args.num_envs} envs x {args.num_steps} steps, 4 epochs x 4 minibatches | "
        f"{med['mazearena_ppo']:,.0f} | **{report['ppo_ratio']:.1f}x** |\n"
        f"| Stable-Baselines3 PPO | same | {med['sb3_ppo']:,.0f} | |\n"
        f"| mazearena DQN, single-Q and 1-step targets (SB3's algorithm) | {args.dqn_envs} envs, batch "
        f"{args.dqn_batch} per vector step | {med['mazearena_dqn']:,.0f} | **{report['dqn_ratio']:.1f}x** |\n"
        f"| Stable-Baselines3 DQN | same | {med['sb3_dqn']:,.0f} | |\n"
        f"| mazearena DQN as it trains by default (double-Q, 3-step) | same | {med['mazearena_double_dqn']:,.0f} | "
        f"{med['mazearena_double_dqn'] / med['sb3_dqn']:.1f}x |\n"
        f"| mazearena PPO + LSTM (`--core lstm`), MazeMemory-v0 | as PPO, minibatches of whole env sequences | "
        f"{med['mazearena_recurrent_ppo']:,.0f} | **{report['recurrent_ppo_ratio']:.1f}x** |\n"
        f"| sb3-contrib RecurrentPPO, the same CNN and one shared LSTM of 128 | same | "
        f"{med['sb3_contrib_recurrent_ppo']:,.0f} | |\n"
        f"| mazearena PPO + LSTM with `--amp` (the CNN in bfloat16, the LSTM in float32) | same | "
        f"{med['mazearena_recurrent_ppo_amp']:,.0f} | "
        f"{med['mazearena_recurrent_ppo_amp'] / med['sb3_contrib_recurrent_ppo']:.1f}x |\n"
        f"| mazearena DQN (SB3's algorithm) with `--amp` | as DQN | {med['mazearena_dqn_amp']:,.0f} | "
        f"{med['mazearena_dqn_amp'] / med['sb3_dqn']:.1f}x |\n\n"
        f"Network work alone (the same forward/backward passes and Adam steps on random observations, no env, "
        f"no bookkeeping): PPO {floor['ppo']:,.0f}, double-Q DQN {floor['dqn']:,.0f} train-steps/s. A trainer "
        "running near these figures spends its time in the network; the framework around it can then "
        "change little.\n"
    )
    return write(args.out, "train_speed", report, md)
