"""Validation shared by every config: integers in a range, enum values by name; errors name the field,
the bad value and what would be valid. :class:`UserError` is the kind of every such error."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import numbers
import os
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from types import ModuleType

import numpy as np


class UserError(ValueError):
    """Bad input from a user (a value, a file, a run folder), with a message that names it and what would be
    valid. The command line prints these in one line; any other exception is a bug and shows its traceback."""


def check_keywords(what: str, given, valid) -> None:
    """A ``TypeError`` in Python's own words (``... got an unexpected keyword argument 'x'``, which wrappers
    probe for) for the first of ``given`` not in ``valid``, followed by any others and the valid ones."""
    unknown = sorted(set(given) - set(valid))
    if unknown:
        others = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
        raise TypeError(
            f"{what} got an unexpected keyword argument {unknown[0]!r}{others}; valid options: {', '.join(valid)}"
        )


def check_int(name: str, value: object, lo: int, hi: int | None = None, odd: bool = False) -> None:
    """Raise :class:`UserError` unless ``value`` is an int (not a bool; numpy integers are ints) in ``[lo, hi]``
    (odd, if asked)."""
    integral = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    bad = not integral or value < lo or (hi is not None and value > hi)
    if bad or (odd and value % 2 == 0):
        kind = "an odd int" if odd else "an int"
        bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise UserError(f"{name} must be {kind} {bounds}, got {value!r}")


def check_real(name: str, value: object, lo: float | None = None, hi: float | None = None) -> None:
    """Raise :class:`UserError` unless ``value`` is a finite real number (not a bool) in ``[lo, hi]``."""
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not real or not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise UserError(f"{name} must be {bounds}, got {value!r}")


def plain_numbers(config: object) -> None:
    """Turn the numpy scalars a user passed into a frozen dataclass config into Python ints and floats (configs
    are compared, hashed and written to YAML and JSON, which numpy scalars would break)."""
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        if isinstance(value, np.integer):
            object.__setattr__(config, f.name, int(value))
        elif isinstance(value, np.floating):
            object.__setattr__(config, f.name, float(value))


def check_seed(seed: object, games: int = 1) -> None:
    """A seed for ``games`` games (``seed`` to ``seed + games - 1``): an int in ``[0, 2**63)``, or an error."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {seed!r}")
    if not 0 <= seed <= 2**63 - games:
        top = "2**63)" if games == 1 else f"2**63 - {games - 1}) for {games} games"
        raise ValueError(f"seed must be an int in [0, {top}, got {seed}")


def check_device(device: object, what: str = "device", available: bool = True):
    """``device`` as a ``torch.device`` mazearena can run on (``cpu``, ``cuda[:i]`` with a visible GPU, ``mps``
    where there is one), or a :class:`UserError` naming it. ``available=False`` checks only the name (a saved
    config may name a GPU that the machine reading it lacks)."""
    import torch

    try:
        dev = torch.device(device)  # type: ignore[arg-type]
    except (RuntimeError, TypeError):
        raise UserError(f"{what} must be a torch device such as 'cpu' or 'cuda', got {device!r}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"{what} must be 'cpu', 'cuda' or 'mps', got {device!r}")
    if not available:
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{what} {str(dev)!r} was asked for but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"{what} {str(dev)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"{what} 'mps' was asked for but MPS is not available on this machine")
    return dev


NAME_BYTES = 200
"""The longest run or trial name, in UTF-8 bytes: file systems take 255 for a folder name, and a run's files and a
trial's suffixes add to it."""


def check_name(name: str, what: str = "name") -> None:
    """A run or trial name is one path component: not empty, no ``/`` or ``\\``, not ``.`` or ``..``, no control
    characters, no space at either end (a folder ``runs/ /`` and a resume command ending in a space), at most
    :data:`NAME_BYTES` bytes."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise UserError(f"{what} must be a single folder name (no '/', not '.' or '..'), got {name!r}")
    if name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UserError(f"{what} must not start or end with a space or hold control characters, got {name!r}")
    if len(name.encode("utf-8")) > NAME_BYTES:
        raise UserError(f"{what} is {len(name.encode('utf-8'))} bytes long; at most {NAME_BYTES} (a folder name)")


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def check_fields(config: object, skip: tuple[str, ...] = ()) -> None:
    """Every field of a dataclass config holds a value of its declared type, or a :class:`UserError` names the
    field: ints are ints (not bools), floats finite numbers, flags bools, strings strings, choices one of the
    ``Literal``'s, sections their dataclass. What YAML files and keyword arguments hand in is checked here;
    the configs' own checks (ranges, relations) come after; fields in ``skip`` they check themselves."""
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        if f.name not in skip:
            _check_type(f.name, getattr(config, f.name), _hints(type(config))[f.name])


def _check_type(name: str, value: object, hint: object) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        if value not in args:
            raise UserError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
    elif hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{name} must be true or false, got {value!r}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{name} must be an int, got {value!r}")
        if not -(2**63) <= value < 2**63:  # counts and ids live in int64 tensors
            raise UserError(f"{name} must be an int within 64 bits, got {value!r}")
    elif hint is float:
        check_real(name, value)
    elif hint is str:
        if not isinstance(value, str):
            raise UserError(f"{name} must be a string, got {value!r}")
    elif hint is Path:
        if not isinstance(value, (str, Path)):
            raise UserError(f"{name} must be a path, got {value!r}")
    elif origin is tuple:
        if not isinstance(value, (tuple, list)) or not all(isinstance(v, args[0]) for v in value):
            raise UserError(f"{name} must be a list of {getattr(args[0], '__name__', args[0])}, got {value!r}")
    elif dataclasses.is_dataclass(hint) and not isinstance(value, hint):  # type: ignore[arg-type]
        raise UserError(f"{name} must be a section of {hint.__name__} fields, got {value!r}")  # type: ignore[union-attr]


def enum_value(enum_cls: type[Enum], value: object, field: str) -> Enum:
    """``value`` as a member of ``enum_cls`` (members or their values accepted)."""
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in enum_cls)  # type: ignore[attr-defined]
        raise UserError(f"{field} must be one of {valid}, got {value!r}") from None


class MissingExtra(ModuleNotFoundError):
    """An optional package is not installed; the message names the extra that brings it."""


EXTRAS_OF = {
    "tyro": "train",
    "rich": "train",
    "yaml": "train",
    "wandb": "train",
    "matplotlib": "train",
    "imageio": "train",
    "scipy": "eval",
    "openskill": "eval",
    "pygame": "render",
    "stable_baselines3": "sb3",
    "sb3_contrib": "sb3",
    "supersuit": "sb3",
    "ray": "sweep",
    "tensorboard": "tensorboard",
}
"""The extra (``pip install 'mazearena[EXTRA]'``) that brings each optional package."""


def require(*modules: str, extra: str | None = None) -> ModuleType:
    """Import ``modules`` (the last one is returned), or fail naming the extra that installs the missing one
    (``extra``, or the package's own in :data:`EXTRAS_OF`): the core install is what ``gymnasium.make`` and
    ``arena_v0`` need, the rest comes with extras."""
    module = None
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            top = (e.name or name).split(".")[0]
            if top not in EXTRAS_OF:
                raise
            needed = extra or EXTRAS_OF[top]
            message = f"{top} is not installed: it comes with mazearena's {needed!r} extra"
            raise MissingExtra(f"{message}, pip install 'mazearena[{needed}]'", name=top) from None
    return module


def check_screen(tile: int, fps: float, record, window: bool = False) -> None:
    """What ``play`` and ``watch`` draw with: ``tile`` pixels a cell (8 to 128), a frame rate above 0, for a
    recording a ``.gif`` or ``.mp4`` path and, where a ``window`` opens, a display to open it on (checked before
    anything is played: without one SDL fails, or waits for ever)."""
    if window and sys.platform.startswith("linux") and not _has_display():
        raise UserError(
            "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set): run it on a desktop or "
            "under xvfb-run, or record instead (--record FILE.gif)"
        )
    if isinstance(tile, bool) or not isinstance(tile, int) or not 8 <= tile <= 128:
        raise UserError(f"tile must be an int in [8, 128], got {tile!r}")
    if not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and 0 < fps < float("inf")):
        raise UserError(f"fps must be a number > 0, got {fps!r}")
    if record is not None and Path(record).suffix.lower() not in (".gif", ".mp4"):
        raise UserError(f"record must be a .gif or .mp4 path, got {str(record)!r}")


def check_readable(path: Path, what: str, limit: int) -> None:
    """Refuse, naming ``what``, a ``path`` that is no regular file (missing, a folder, a device such as
    ``/dev/zero``, a pipe that would block for ever) or holds more than ``limit`` bytes (read whole, and parsed)."""
    import stat

    try:
        info = os.stat(path)
    except OSError:
        raise UserError(f"{what} {str(path)!r} does not exist") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{what} {str(path)!r} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{what} {str(path)!r} is not a regular file (a device, a pipe or a socket)")
    if info.st_size > limit:
        raise UserError(f"{what} {str(path)!r} holds {info.st_size:,} bytes; at most {limit:,} are read")


def make_out_dir(path, what: str = "out", inside: Path | None = None) -> Path:
    """The output folder ``path``, made if missing; an existing file there, or a folder that cannot be made or
    written (read-only, no space, no permission), is a :class:`UserError` naming the option and the path. With
    ``inside`` (a run folder that holds the default output), a link that leads out of it is refused too."""
    path = Path(path)
    if inside is not None and Path(inside).resolve() not in path.resolve().parents:
        where = f"the run folder {str(inside)!r}"
        raise UserError(f"{str(path)!r} leads out of {where} (a link); remove it or give --{what}")
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {str(path)!r} is a file; give a folder (it is made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{what} {str(path)!r} cannot be made: {e.strerror or e}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{what} {str(path)!r} is not writable")
    return path


def free_memory(device) -> int | None:
    """Bytes free for new tensors on ``device``: CUDA's free memory, the host's available memory (Linux
    ``MemAvailable``; else the physical memory); ``None`` where it cannot be told."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]) if torch.cuda.is_available() else None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(what: str, games: int, bytes_per_game: int, device) -> None:
    """Refuse, before allocating, ``games`` games of about ``bytes_per_game`` each that would not fit in the free
    memory of ``device``: a ``ValueError`` naming the number, the estimate and what is free."""
    needed = games * bytes_per_game
    free = free_memory(device)
    if free is not None and needed > free:
        raise ValueError(
            f"num_envs={games:,} {what} needs about {needed / 2**30:,.1f} GiB ({bytes_per_game:,} bytes a game); "
            f"{free / 2**30:,.1f} GiB are free on {device}: use fewer games"
        )


def _has_display() -> bool:
    """Whether SDL can open a window here: a display server, or an SDL video driver that needs none."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen", "kmsdrm", "fbcon", "directfb"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
