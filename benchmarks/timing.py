"""What the benchmark scripts share: writing the result files (timed repeats: ``mazearena.apps.bench_train.rates``)."""

from __future__ import annotations

import json
from pathlib import Path


def write(out: Path, name: str, report: dict, md: str) -> None:
    """``out/name.json`` and ``out/name.md``; the Markdown is printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (out / f"{name}.md").write_text(md)
    print(md)
