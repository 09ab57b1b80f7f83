"""Data-parallel training on the CPU (gloo, 2 processes): one update of 2 processes x n envs is the update of
one process whose 2n envs are their union, and a 2-process run extended from its checkpoint continues
exactly as one that ran straight through, under torchrun as users start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import mazearena
from mazearena.checks import UserError
from mazearena.rng import uniform
from mazearena.training import TrainConfig, distributed, train
from mazearena.training.algorithms.ppo import PPOConfig
from mazearena.training.checkpoint import load_checkpoint
from mazearena.training.distributed import check

GAMES = 8  # the one-process run's envs; each of 2 processes steps half


def per_game_sampling(offset: int):
    """Categorical sampling by Gumbel-max with noise that depends only on the game's index in the one-process
    run and the step, not on which process steps the game: the union's rollouts then equal the parts'. (Torch's
    own sampling draws a batch's numbers together, so a batch split in two draws others.)"""
    calls = [0]

    def sample(self, sample_shape=()):
        logits = self.logits
        games, per_game = logits.shape[0], logits[0, ..., 0].numel()
        ids = (offset + torch.arange(games))[:, None] * per_game + torch.arange(per_game)[None]
        ids = ids.reshape(*logits.shape[:-1], 1) * logits.shape[-1] + torch.arange(logits.shape[-1])
        u = uniform(ids, 99, calls[0]).clamp(1e-12, 1 - 1e-12)
        calls[0] += 1
        return (logits - (-u.log()).log()).argmax(-1)

    return sample


def one_update(kind: str, games: int, offset: int) -> dict[str, torch.Tensor]:
    """One iteration (rollout and update) of ``kind`` with ``games`` envs, the first being game ``offset`` of the
    one-process run; the weights after it."""
    real = torch.distributions.Categorical.sample
    torch.distributions.Categorical.sample = per_game_sampling(offset)
    try:
        return _one_update(kind, games, offset)
    finally:
        torch.distributions.Categorical.sample = real


def _one_update(kind: str, games: int, offset: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)  # the network: alike everywhere
    core = "gru" if kind.endswith("-gru") else "none"
    if kind.startswith("ppo"):
        from mazearena.agents.policies import ActorCritic
        from mazearena.training.algorithms.ppo import PPO, PPOConfig

        envs = mazearena.make_vec("mazearena/Maze-v0", games, seed=offset, size=7, num_levels=20, max_episode_steps=9)
        policy = ActorCritic(envs.single_observation_space, envs.single_action_space.n, "cnn", core=core, core_size=16)
        cfg = PPOConfig(num_envs=games, num_steps=16, num_minibatches=1, update_epochs=2, anneal_lr=False)
        algo = PPO(cfg, envs, policy, torch.device("cpu"), 1, seed=offset)
    else:
        from mazearena.agents.policies import MultiAgentActorCritic
        from mazearena.envs import arena_v0
        from mazearena.training.algorithms.mappo import MAPPO, MAPPOConfig

        envs = arena_v0.vector_env(games, seed=offset, scenario="tag_2v1_vs_fleeing_npc", size=9, max_cycles=10)
        space, actions = envs.single_observation_space, envs.single_action_space.n
        policy = MultiAgentActorCritic(space, envs.state_space, envs.num_agents, actions, core=core, core_size=16)
        cfg = MAPPOConfig(num_envs=games, num_steps=16, num_minibatches=1, update_epochs=2, anneal_lr=False)
        algo = MAPPO(cfg, envs, policy, torch.device("cpu"), 1, seed=offset)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    metrics = algo.iteration()
    assert algo.global_step == GAMES * 16  # every process counts the steps of all
    assert any(not torch.equal(before[k], v) for k, v in policy.state_dict().items())  # the update moved them
    state = {k: v.clone() for k, v in policy.state_dict().items()}
    return state | {"_kl": torch.tensor(metrics["loss/approx_kl"])}


def _process(rank: int, world: int, init: str, kind: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        weights = one_update(kind, GAMES // world, rank * GAMES // world)
        if rank == 0:
            torch.save(weights, out)
    finally:
        distributed.drain()  # as training does: gloo's threads let go of the tensors before the process exits
        dist.destroy_process_group()


@pytest.mark.parametrize("kind", ["ppo", "ppo-gru", "mappo", "mappo-gru"])
def test_one_update_of_two_processes_is_the_update_of_their_union(kind, tmp_path):
    out = tmp_path / "parts.pt"
    mp.spawn(_process, args=(2, str(tmp_path / "init"), kind, str(out)), nprocs=2, join=True)
    parts = torch.load(out, weights_only=True)
    union = one_update(kind, GAMES, 0)
    assert parts.keys() == union.keys()
    for k, w in union.items():
        # float32 sums in another order (each process's half, then the average): equal up to rounding
        assert torch.allclose(parts[k], w, rtol=1e-5, atol=1e-6), k


TINY_RUN = [
    "train",
    "--env.size", "7",
    "--env.num-levels", "50",
    "--ppo.num-envs", "8",
    "--ppo.num-steps", "16",
    "--ppo.num-minibatches", "2",
    "--ppo.no-anneal-lr",
    "--total-timesteps", "1536",
    "--checkpoint-every", "256",
    "--eval-every", "512",
    "--eval-episodes", "8",
    "--video-episodes", "0",
    "--wandb-mode", "disabled",
    "--no-progress",
    "--train-perturbations", "attack_obs:1:0.5", "obs_noise:0.1:0.25",  # each process's draws resume too
]  # fmt: skip


def torchrun(runs: Path, *args: str, wait: bool = True):
    """``mazearena-torchrun --nproc_per_node 2 train ...`` as a user starts it (from a checkout, not installed)."""
    command = [sys.executable, "-m", "mazearena.apps.torchrun", "--nproc_per_node", "2"]
    path = os.pathsep.join(filter(None, [str(Path(mazearena.__file__).parents[1]), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    proc = subprocess.Popen(
        [*command, *args, "--runs-dir", str(runs)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if wait:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        return out
    return proc


def rows(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in ("sps", "time")} for line in lines]


def test_a_two_process_run_killed_and_resumed_continues_exactly(tmp_path):
    out = torchrun(tmp_path, *TINY_RUN, "--name", "straight")
    assert out.count("success: training levels") == 1  # process 0 reports, once
    straight = tmp_path / "straight"
    assert [r["step"] for r in rows(straight)] == list(range(128, 1537, 128))  # every process's steps, logged once
    proc = torchrun(tmp_path, *TINY_RUN, "--name", "killed", wait=False)
    killed = tmp_path / "killed"
    metrics = killed / "metrics.jsonl"
    while proc.poll() is None and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it to both processes: they stop together, saving
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in out, out  # as one process exits
    assert out.count("finishing the iteration") == 1 and "on 2 processes" in out, out  # process 0 speaks
    step = load_checkpoint(killed / "checkpoints" / "last.pt")["algo"]["global_step"]
    assert 512 <= step < 1536, out
    torchrun(tmp_path, "train", "--resume", str(killed), "--no-progress")
    assert rows(killed) == rows(straight)
    a = load_checkpoint(killed / "checkpoints" / "last.pt")["algo"]
    b = load_checkpoint(straight / "checkpoints" / "last.pt")["algo"]
    assert len(a["ranks"]) == 1  # process 1's envs, RNG and rollout carry-over, written by process 0
    assert all(torch.equal(a["policy"][k], b["policy"][k]) for k in b["policy"])
    with pytest.raises(UserError, match="written by 2 processes; resume it with as many"):
        train(TrainConfig(resume=killed, total_timesteps=2048, progress=False))


def test_what_cannot_train_data_parallel_is_named():
    cfg = TrainConfig(algo="dqn")
    with pytest.raises(UserError, match="torchrun trains ppo and mappo data-parallel; algo dqn runs in one process"):
        check(cfg, 2)
    with pytest.raises(UserError, match=r"ppo.num_envs \(16\) must be divisible by the number of processes \(3\)"):
        check(TrainConfig(ppo=PPOConfig(num_envs=16)), 3)
    with pytest.raises(UserError, match="compile is not available under torchrun"):
        check(TrainConfig(compile=True), 2)
    with pytest.raises(UserError, match="each process's envs \\(4 of ppo.num_envs 8\\) must be divisible"):
        check(TrainConfig(core="gru", ppo=PPOConfig(num_envs=8, num_minibatches=8)), 2)
