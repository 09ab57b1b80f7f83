"""Config files: a config dataclass from the plain mapping a YAML file holds (:func:`from_dict`), the YAML files
themselves (:func:`read_config_data`) and the examples shipped with the package (:func:`find_config`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from mazearena.checks import UserError, check_readable


def from_dict(cls, data: dict[str, Any]):
    """A config dataclass from a plain dict (a YAML file), naming unknown fields, sections that are not
    mappings and values of the wrong type."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        raise UserError(f"unknown {cls.__name__} field(s) {unknown}; valid: {', '.join(names)}")
    sections = {  # the fields that hold a config of their own (a mapping in YAML)
        f.name: f.default_factory for f in names.values() if dataclasses.is_dataclass(f.default_factory)
    }
    kwargs = {}
    for key, value in data.items():
        nested = sections.get(key)
        if nested is not None:
            if not isinstance(value, dict):
                raise UserError(f"section {key!r} must be a mapping of {nested.__name__} fields, got {value!r}")
            try:
                value = from_dict(nested, value)
            except (ValueError, TypeError) as e:
                raise UserError(f"{key}: {e}") from None
        elif key in ("runs_dir", "resume", "init_from") and isinstance(value, str):
            value = Path(value)
        elif key == "wandb_tags" and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The example configs shipped with the package."""


def example_configs() -> list[str]:
    """The names of the shipped example configs (``ppo_maze9``, ...)."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))


def find_config(name_or_path: str | Path) -> Path:
    """A config file: a path that exists, else a shipped example by name (``ppo_maze9`` or ``ppo_maze9.yaml``),
    else an error naming the file and the examples."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = CONFIGS_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if path.parent == Path(".") or path.parent.name == "configs":  # a bare name, or the repository's old path
        if shipped.is_file():
            return shipped
    raise UserError(
        f"config file {str(path)!r} does not exist (nor is it a shipped example: {', '.join(example_configs())})"
    )


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line)
                except TypeError:  # an unhashable key: the base class names it
                    continue
                if first != key_node.start_mark.line:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is given twice (first at line {first + 1})", key_node.start_mark
                    )
        return super().construct_mapping(node, deep)


CONFIG_BYTES = 8 * 2**20
"""The largest config file read: configs are a few KB (a run's holds its maps: 16 KB for one of 127×127); YAML
parses about a MB a second, so a larger file would hold a command for minutes."""


def read_config_data(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (not yet checked field by field), or a
    :class:`~mazearena.checks.UserError` naming the file and what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"config file {str(path)!r} is a folder, not a YAML file")
    check_readable(path, "config file", CONFIG_BYTES)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (a safe loader)
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to be a config file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a YAML file (binary content)") from None
    except OSError as e:
        raise UserError(f"{path}: cannot be read ({e.strerror})") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{line}: {problem}") from None
    if data is None:
        raise UserError(f"{path}: the file is empty (a config file holds a mapping of fields)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config file holds a mapping of fields, got {type(data).__name__}")
    return data
