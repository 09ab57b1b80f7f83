"""Which implementation of the rules steps a batch: compiled CPU kernels or torch ops."""

from __future__ import annotations

import torch

BACKENDS = ("auto", "torch", "numba")


def choose_backend(backend: str, device: torch.device) -> str:
    """``auto`` picks the compiled CPU kernels on the CPU and torch elsewhere."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "numba" if device.type == "cpu" else "torch"
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on the CPU only, but the device is {str(device)!r}")
    return backend
