"""Episode videos: frames (``[h, w, 3]`` uint8 arrays) to GIF or MP4 with imageio."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np

VIDEO_SUFFIXES = (".gif", ".mp4")


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 8.0) -> Path:
    """Write ``frames`` to ``path`` (.gif or .mp4), creating its folder; returns the path."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"video path must end in {' or '.join(VIDEO_SUFFIXES)}, got {str(path)!r}")
    if len(frames) == 0:
        raise ValueError("no frames to write")
    stack = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    if stack.ndim != 4 or stack.shape[-1] != 3:
        raise ValueError(f"frames must be [h, w, 3] uint8 images, got shape {stack.shape[1:]}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix.lower() == ".gif":
        iio.imwrite(tmp, stack, duration=1000.0 / fps, loop=0)
    else:
        iio.imwrite(tmp, stack, fps=fps, plugin="FFMPEG", macro_block_size=1)
    tmp.replace(path)  # atomic: a crash never leaves a half-written video under the real name
    return path
