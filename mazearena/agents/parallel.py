"""Data parallelism as the PPO trainers see it: the processes of one ``torch.distributed`` group each step
their own envs and average their gradients with ``DistributedDataParallel``.

The trainers read the group from ``torch.distributed`` itself (set up by :mod:`mazearena.training.distributed`
under ``torchrun``); with no group, every function here is the single-process identity and nothing changes.
What must agree across the processes is made to: advantage normalisation uses the moments of the whole
minibatch (every process's share), running value statistics are updated with every process's targets, and the
``target_kl`` early stop reads the mean KL, so every process runs the same number of gradient steps.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    """Processes in the ``torch.distributed`` group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_sum(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over the processes (in place; ``x`` itself without a group)."""
    if world_size() > 1:
        dist.all_reduce(x)
    return x


def all_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of ``x`` over the processes (a new tensor; ``x`` itself without a group)."""
    n = world_size()
    return all_sum(x.detach().clone()) / n if n > 1 else x


def data_parallel(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` wrapped in ``DistributedDataParallel`` (its gradients averaged over the processes in its
    backward passes), or ``module`` itself without a group. Buffers are not broadcast: the ones the trainers
    keep (running value statistics) are updated from every process's data alike."""
    if world_size() == 1:
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device] if torch.device(device).type == "cuda" else None
    # the buffers are alike at the start; newer torch names the option that stops syncing them at every forward
    options = inspect.signature(DistributedDataParallel).parameters
    sync = "forward_sync_buffers" if "forward_sync_buffers" in options else "broadcast_buffers"
    return DistributedDataParallel(module, device_ids=ids, **{sync: False})


def network(policy: nn.Module, compile: bool, device: torch.device) -> nn.Module:
    """What a trainer's forward passes call: ``policy`` compiled or not, or data-parallel in a group (where
    ``compile`` is refused before)."""
    from mazearena.agents import batches

    return data_parallel(policy, device) if world_size() > 1 else batches.compiled(policy, compile, device)


class Replay(nn.Module):
    """A recurrent policy's ``sequence`` (the update's replay) as a module's forward, so that
    ``DistributedDataParallel`` can wrap it."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, *args):
        return self.policy.sequence(*args)


def replay(policy: nn.Module, device: torch.device):
    """What the update calls to replay sequences: ``policy.sequence``, through ``DistributedDataParallel`` in a
    group."""
    return policy.sequence if world_size() == 1 else data_parallel(Replay(policy), device)


def moments(x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Count, mean and (population) variance of ``x`` (where ``mask`` is 1) over every process's rows."""
    x64 = x.detach().double()  # one pass in float64: E[x^2] - mean^2 loses nothing that float32 would keep
    mask = torch.ones_like(x64) if mask is None else mask.detach().double()
    stats = torch.stack([mask.sum(), (x64 * mask).sum(), (x64 * x64 * mask).sum()])
    count, total, squares = all_sum(stats)
    mean = total / count.clamp(min=1.0)
    var = (squares / count.clamp(min=1.0) - mean**2).clamp(min=0.0)
    return count, mean.to(x.dtype), var.to(x.dtype)
