"""Validation shared by every config: integers in a range, enum values by name; errors name the field,
the bad value and what would be valid. :class:`UserError` is the kind of every such error."""

from __future__ import annotations

import importlib
from enum import Enum
from types import ModuleType


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
    """Raise :class:`UserError` unless ``value`` is an int (not a bool) in ``[lo, hi]`` (odd, if asked)."""
    bad = isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi)
    if bad or (odd and value % 2 == 0):
        kind = "an odd int" if odd else "an int"
        bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise UserError(f"{name} must be {kind} {bounds}, got {value!r}")


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
