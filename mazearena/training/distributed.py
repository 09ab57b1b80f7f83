"""One run on many processes, GPUs or machines: ``torchrun ... -m mazearena train ...``.

``torchrun`` starts one process per GPU (or per CPU share) with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in
its environment; :func:`start` joins them in a ``torch.distributed`` group (NCCL on GPUs, gloo on CPUs). The
run's ``num_envs`` is split between the processes: process ``r`` steps games ``r * n ... r * n + n - 1`` of the
one-process run (seeded alike), so ``--ppo.num-envs 64`` is the same experiment on one process or on four.
Gradients are averaged by ``DistributedDataParallel`` (:mod:`mazearena.agents.parallel`). Process 0 is the
only one that writes: the run folder, the metrics (every process's averaged), W&B, evaluations, videos, the
report and the checkpoints, which hold every process's envs, RNG and rollout carry-over, so that ``--resume``
under the same number of processes continues exactly.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mazearena.agents import batches
from mazearena.checks import UserError


@dataclass(frozen=True)
class World:
    """This process's place in the group: ``rank`` of ``size`` (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes (rank 0)."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


def writes() -> bool:
    """Whether this process is the one that writes and reports (process 0 under ``torchrun``; the only one
    otherwise)."""
    return int(os.environ.get("RANK", "0")) == 0


def requested() -> bool:
    """Whether this process was started as one of several (``WORLD_SIZE`` > 1, as ``torchrun`` sets it)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: str) -> World:
    """Join the group ``torchrun`` started, over NCCL when the run's ``device`` is a GPU, gloo otherwise (one
    process: nothing to join)."""
    if not requested():
        return World()
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    gpu = torch.device(device).type == "cuda"
    if gpu:
        torch.cuda.set_device(torch.device("cuda", local))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if gpu else "gloo", rank=rank, world_size=size)
    return World(rank, size, local)


def on_device(cfg, world: World):
    """``cfg`` with this process's device: ``cuda`` becomes ``cuda:<LOCAL_RANK>``."""
    if world.parallel and torch.device(cfg.device).type == "cuda":
        return dataclasses.replace(cfg, device=f"cuda:{world.local_rank}")
    return cfg


def check(cfg, size: int) -> None:
    """What a data-parallel run of ``size`` processes needs of ``cfg``, refused by name otherwise."""
    from mazearena.training.algorithms import algorithm

    alg = algorithm(cfg.algo)
    if cfg.algo not in ("ppo", "mappo"):
        raise UserError(f"torchrun trains ppo and mappo data-parallel; algo {cfg.algo} runs in one process")
    if cfg.league.self_play:
        raise UserError("self-play runs in one process (its league is one process's); leave torchrun out")
    if cfg.compile:
        raise UserError("compile is not available under torchrun (data-parallel runs train eagerly)")
    section = getattr(cfg, alg.section)
    if section.num_envs % size:
        raise UserError(
            f"{alg.section}.num_envs ({section.num_envs}) must be divisible by the number of processes ({size}): "
            "each steps an equal share of the envs"
        )
    share = section.num_envs // size
    if cfg.core != "none" and share % section.num_minibatches:
        raise UserError(
            f"with a recurrent core each process's envs ({share} of {alg.section}.num_envs {section.num_envs}) must "
            f"be divisible by {alg.section}.num_minibatches ({section.num_minibatches})"
        )


def local_config(cfg, world: World):
    """The config this process builds its envs and trainer from: its share of ``num_envs``, seeded so that its
    games are games ``rank * share ...`` of the one-process run."""
    if not world.parallel:
        return cfg
    from mazearena.training.algorithms import algorithm

    section = algorithm(cfg.algo).section
    share = getattr(cfg, section).num_envs // world.size
    part = dataclasses.replace(getattr(cfg, section), num_envs=share)
    return dataclasses.replace(cfg, **{section: part}, seed=cfg.seed + world.rank * share)


def seed_sampling(cfg, world: World) -> None:
    """After the network is built (alike everywhere from ``cfg.seed``): each process samples its actions from
    a stream of its own; process 0 keeps the one-process run's."""
    if world.rank:
        torch.manual_seed(cfg.seed + 1_000_003 * world.rank)


def broadcast(obj, world: World):
    """``obj`` of process 0, on every process."""
    if not world.parallel:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj, world: World) -> list | None:
    """Every process's ``obj``, in rank order, on process 0 (``None`` elsewhere)."""
    if not world.parallel:
        return [obj]
    out = [None] * world.size if world.main else None
    dist.gather_object(obj, out, dst=0)
    return out


def any_of(flag: bool, world: World, device) -> bool:
    """Whether ``flag`` is set on any process (all agree on the answer)."""
    if not world.parallel:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_metrics(metrics: dict, world: World) -> dict:
    """The metrics averaged over the processes (counts summed; a metric only some processes have, such as the
    returns of episodes that ended on them, averaged over those; one that is not finite somewhere stays so),
    as process 0 logs them."""
    if not world.parallel:
        return metrics
    every = [None] * world.size
    dist.all_gather_object(every, metrics)
    out = {}
    for k in sorted(set().union(*every)):
        values = [m[k] for m in every if m.get(k) is not None]
        if not values or not all(isinstance(v, (int, float)) for v in values):
            out[k] = values[0] if values else None
        elif not all(math.isfinite(v) for v in values):  # a loss gone non-finite anywhere is seen as such
            out[k] = next(v for v in values if not math.isfinite(v))
        else:
            out[k] = sum(values) if k.endswith("count") else sum(values) / len(values)
    return out


DRAIN_SECONDS = 0.25
"""How long a process leaving the group sleeps (the GIL released) first. gloo's worker threads release the
tensors of the last collectives after those return, and take the GIL to do so; a process that exited while one
still held a tensor aborted ("terminate called without an active exception": the thread met the interpreter
shutting down), which happened to process 1 of a two-process run now and then, right after its last
collective."""


def drain() -> None:
    """Sleep :data:`DRAIN_SECONDS`, the GIL released: gloo's threads finish letting go of the last collectives'
    tensors (call it before a process leaves its group)."""
    time.sleep(DRAIN_SECONDS)


def leave(world: World) -> None:
    """Every process, once training is done: wait for the others, let gloo's threads let go of the last
    collectives' tensors, then leave the group."""
    if world.parallel and dist.is_initialized():
        dist.barrier()
        drain()
        dist.destroy_process_group()


def stop(world: World) -> None:
    """Leave the group if this process still belongs to it (a run that ended on an exception or a signal)."""
    if world.parallel and dist.is_initialized():
        drain()
        dist.destroy_process_group()


SHARED = ("policy", "optimizer", "iteration", "global_step")
"""What the processes of a data-parallel run hold alike (process 0's goes in the checkpoint once)."""


def gather_state(state: dict, world: World) -> dict | None:
    """Process 0's trainer state with every other process's own part under ``"ranks"`` (on process 0; ``None``
    elsewhere). Collective: every process calls it."""
    if not world.parallel:
        return state
    own = None if world.main else batches.to_cpu({k: v for k, v in state.items() if k not in SHARED})
    parts = gather(own, world)
    if not world.main:
        return None
    return state | {"ranks": parts[1:]}


def state_of(state: dict, world: World) -> dict:
    """This process's trainer state out of a checkpoint's (:func:`gather_state`)."""
    ranks = state.get("ranks")
    saved = 1 + len(ranks) if ranks is not None else 1
    if saved != world.size:
        raise UserError(
            f"the checkpoint was written by {saved} process{'es' if saved > 1 else ''}; resume it with as many "
            f"(torchrun --nproc_per_node {saved}) to continue exactly, or start a new run from its weights "
            "with --init-from"
        )
    base = {k: v for k, v in state.items() if k != "ranks"}
    return base if world.rank == 0 else base | ranks[world.rank - 1]
