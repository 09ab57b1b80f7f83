"""Policy backbones behind one contract: ``make_backbone(name, observation_space) -> module`` whose
``forward(obs)`` maps a batch of raw observations (uint8 planes, RGB pixels, entity tokens or flat vectors)
to ``[batch, features_dim]`` features. Every algorithm builds its heads on top of ``features_dim``.

* ``cnn`` — 3x3 convolutions at stride 1 (small views such as 7x7 keep their resolution), optionally
  residual, or ``downsample`` (stride 2 after the first layer, for whole-arena states), then a linear
  layer. For ``uint8`` plane observations ``[C, H, W]``.
* ``resnet`` — ``cnn`` with residual blocks.
* ``gcnn`` — ``cnn`` whose later convolutions also see each first-layer feature's maximum over the whole grid
  (:class:`GlobalContext`): relations between distant cells (a cue and the goal of its colour) become local.
* ``impala`` — the IMPALA network (conv, max-pool, two residual blocks per stage) for RGB pixels
  ``[H, W, 3]``.
* ``transformer`` — a token per grid cell (or per entity, for ``{"tokens", "mask"}`` observations), learned
  position embeddings, pre-layer-norm blocks, a CLS token as output.
* ``mlp`` — flat observations.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn


def _planes(space: gym.Space) -> tuple[int, int, int]:
    if not isinstance(space, (gym.spaces.Box, gym.spaces.MultiBinary)) or len(space.shape) != 3:
        raise ValueError(f"this backbone needs [C, H, W] plane observations, got {space}")
    return space.shape  # type: ignore[return-value]


def _scale(space: gym.Space) -> float:
    """Observations are divided by this (planes hold 0/1 or small counts, pixels go to 255)."""
    if not isinstance(space, gym.spaces.Box):
        return 1.0
    high = float(np.max(space.high))
    return high if np.isfinite(high) and high > 0 else 1.0


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class GlobalContext(nn.Module):
    """Each channel's maximum over the grid, broadcast to every cell beside the channel itself (``[B, 2C, H, W]``):
    what is anywhere in view (a cue's colour) becomes local to every cell, so that the next convolutions relate
    it to what lies there (the goal of that colour), however far apart the two are."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.amax((2, 3), keepdim=True).expand_as(x)], 1)


class GridCNN(nn.Module):
    """Convolutions that keep a small grid's resolution, then a linear layer to ``features_dim``."""

    def __init__(
        self,
        space: gym.Space,
        channels: int = 16,
        features_dim: int = 128,
        residual: bool = False,
        downsample: bool = False,
        global_context: bool = False,
    ):
        super().__init__()
        c, h, w = _planes(space)
        self.scale = _scale(space)
        layers: list[nn.Module] = [nn.Conv2d(c, channels, 3, padding=1), nn.ReLU()]
        if residual and (downsample or global_context):
            raise ValueError("cnn: residual blocks take neither downsample nor global_context")
        if residual:
            layers += [ResidualBlock(channels), ResidualBlock(channels), nn.ReLU()]
        else:  # downsample: the last two convolutions at stride 2 (a 15x15 arena state becomes 4x4)
            stride = 2 if downsample else 1
            width = channels
            if global_context:  # every cell also sees each feature's maximum over the whole grid
                layers.append(GlobalContext())
                width = 2 * channels
            layers += [
                nn.Conv2d(width, 2 * channels, 3, stride=stride, padding=1),
                nn.ReLU(),
                nn.Conv2d(2 * channels, 2 * channels, 3, stride=stride, padding=1),
                nn.ReLU(),
            ]
        self.conv = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():  # flatten size from a dry forward pass
            flat = self.conv(torch.zeros(1, c, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # channels-last input: oneDNN's convolutions on small grids run faster on the CPU
        x = (obs.float() / self.scale).contiguous(memory_format=torch.channels_last)
        return self.head(self.conv(x))


class Impala(nn.Module):
    """The IMPALA network for RGB pixels ``[H, W, 3]`` (uint8)."""

    def __init__(self, space: gym.Space, depths: tuple[int, ...] = (16, 32, 32), features_dim: int = 256):
        super().__init__()
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3 or space.shape[-1] != 3:
            raise ValueError(f"impala needs [H, W, 3] pixel observations, got {space}")
        h, w, c = space.shape
        layers: list[nn.Module] = []
        for depth in depths:
            layers += [
                nn.Conv2d(c, depth, 3, padding=1),
                nn.MaxPool2d(3, stride=2, padding=1),
                ResidualBlock(depth),
                ResidualBlock(depth),
            ]
            c = depth
        self.conv = nn.Sequential(*layers, nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 3, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())
        self.features_dim = features_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(obs.permute(0, 3, 1, 2).float() / 255.0))


class Transformer(nn.Module):
    """Pre-layer-norm transformer over tokens: one per grid cell, or one per entity (with a mask).

    Small by default (one block of width 32, cheap on a CPU) and stable under RL losses: pre-norm blocks,
    no dropout, small initial position embeddings and a final layer norm on the CLS output.
    """

    def __init__(
        self, space: gym.Space, width: int = 32, depth: int = 1, heads: int = 2, features_dim: int | None = None
    ) -> None:
        super().__init__()
        if isinstance(space, gym.spaces.Dict) and "tokens" in space.spaces:
            k, f = space["tokens"].shape
            self.entities, self.scale = True, 1.0
            self.embed = nn.Linear(f, width)
            self.position = None  # entity tokens carry their own relative position
        else:
            c, h, w = _planes(space)
            k, self.entities, self.scale = h * w, False, _scale(space)
            self.embed = nn.Linear(c, width)
            self.position = nn.Parameter(torch.randn(1, k, width) * 0.02)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        block = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Identity() if features_dim is None else nn.Linear(width, features_dim)
        self.features_dim = width if features_dim is None else features_dim

    def forward(self, obs) -> torch.Tensor:
        if self.entities:
            x = self.embed(obs["tokens"].float())
            pad = ~obs["mask"].bool()
        else:
            x = self.embed(obs.float().flatten(2).transpose(1, 2) / self.scale) + self.position
            pad = None
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        if pad is not None:
            pad = torch.cat([torch.zeros_like(pad[:, :1]), pad], 1)  # the CLS token is always there
        x = self.blocks(x, src_key_padding_mask=pad)
        return self.out(self.norm(x[:, 0]))


class MLP(nn.Module):
    def __init__(self, space: gym.Space, hidden: int = 256, features_dim: int = 256) -> None:
        super().__init__()
        if not isinstance(space, (gym.spaces.Box, gym.spaces.MultiBinary)):
            raise ValueError(f"mlp needs Box or MultiBinary observations, got {space}")
        self.scale = _scale(space)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(int(np.prod(space.shape)), hidden),
            nn.Tanh(),
            nn.Linear(hidden, features_dim),
            nn.Tanh(),
        )
        self.features_dim = features_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float() / self.scale)


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "cnn": GridCNN,
    "resnet": lambda space, **kw: GridCNN(space, residual=True, **kw),
    "gcnn": lambda space, **kw: GridCNN(space, global_context=True, **kw),
    "impala": Impala,
    "transformer": Transformer,
    "mlp": MLP,
}


WIDTHS: dict[str, Callable[[int], dict]] = {
    "cnn": lambda w: {"channels": w},
    "resnet": lambda w: {"channels": w},
    "gcnn": lambda w: {"channels": w},
    "transformer": lambda w: {"width": w},
    "mlp": lambda w: {"hidden": w, "features_dim": w},
}
"""The backbones that take a width (``--backbone-width``), and what it sets: the first layer's channels (the
CNNs double them after it), the token width, or both MLP layers' units."""


def width_kwargs(name: str, width: int) -> dict:
    """The constructor arguments that give backbone ``name`` the width ``width`` (0: its default, none)."""
    if not width:
        return {}
    if name not in WIDTHS:
        raise ValueError(f"backbone_width applies to the backbones {', '.join(WIDTHS)}, not {name!r}")
    return WIDTHS[name](width)


def backbone_class(name: str) -> Callable[..., nn.Module]:
    """The backbone called ``name``: one of :data:`BACKBONES`, or your own as ``"package.module:Class"`` (an
    ``nn.Module`` built as ``Class(observation_space, **kwargs)`` with a ``features_dim`` attribute and
    ``forward(obs) -> [batch, features_dim]``), imported here. Errors name what is wrong."""
    if not isinstance(name, str):
        raise ValueError(f"backbone must be a name, got {name!r}")
    if name in BACKBONES:
        return BACKBONES[name]
    module_name, colon, class_name = name.partition(":")
    if not colon or not module_name or not class_name:
        raise ValueError(
            f"backbone must be one of {', '.join(BACKBONES)} or your own as 'package.module:Class', got {name!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"backbone {name!r}: cannot import {module_name!r} ({e}); is it on the Python path?") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"backbone {name!r}: {module_name} has no nn.Module class {class_name!r}")
    return cls


def make_backbone(name: str, observation_space: gym.Space, **kwargs) -> nn.Module:
    """The backbone ``name`` (see :func:`backbone_class`) for ``observation_space``; ``kwargs`` go to its
    constructor."""
    net = backbone_class(name)(observation_space, **kwargs)
    if not isinstance(getattr(net, "features_dim", None), int):
        raise ValueError(f"backbone {name!r} must set an int features_dim (the size of its output features)")
    return net
