"""Reading an offline W&B run back, for tests: the records of its ``.wandb`` files (W&B's record log: a 7-byte
header, then 32 KiB blocks of chunks, each with a checksum, a length, a type and a piece of a protobuf
``Record``)."""

from __future__ import annotations

import json
from pathlib import Path


def records(path: Path, wait: float = 30.0):
    """Every ``Record`` of one ``.wandb`` file, in order. W&B's service may still be writing the file after
    ``finish()`` returns, so this waits (up to ``wait`` seconds) for the run's exit record."""
    import time

    deadline = time.monotonic() + wait
    while True:
        found = list(_scan(path))
        if any(r.WhichOneof("record_type") == "exit" for r in found) or time.monotonic() > deadline:
            return iter(found)
        time.sleep(0.2)


def _scan(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, pending = Path(path).read_bytes(), 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if kind == 0:
            break
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def sessions(run_dir: Path) -> list[Path]:
    """The ``.wandb`` files of a run folder's offline W&B sessions, oldest first."""
    return sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))


def history(path: Path, wait: float = 30.0) -> list[dict]:
    """The history rows of one session: ``{"_step": n, key: value, ...}`` (``wait``: see :func:`records`; 0 for
    a session whose process was killed, which never writes its exit record)."""
    rows = []
    for r in records(path, wait):
        if r.WhichOneof("record_type") == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
            rows.append(row | {"_step": r.history.step.num})
    return rows


def config(path: Path) -> dict:
    """The config the session logged (top-level keys and their values)."""
    out = {}
    for r in records(path):
        kind = r.WhichOneof("record_type")
        items = r.run.config.update if kind == "run" else r.config.update if kind == "config" else []
        for item in items:
            out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out


def metrics_defined(path: Path) -> dict[str, str]:
    """``define_metric`` records: metric (or glob) -> its step metric."""
    out = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "metric":
            out[r.metric.name or r.metric.glob_name] = r.metric.step_metric
    return out
