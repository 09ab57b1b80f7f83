"""The compiled kernels' on-disk cache: the serial and the parallel build of a kernel are different machine code
and must never be loaded for one another (numba keys its cache by function and argument types only)."""

import json
import os
import subprocess
import sys
from pathlib import Path

PROCESS = """
import json, sys
import numpy as np
from mazearena.envs.engine.maze_rules import _episode_draws
kernel = _episode_draws.parallel if sys.argv[1] == "parallel" else _episode_draws.serial
x = np.zeros(4, dtype=np.int64)
kernel(x, x.copy(), np.arange(4), True, 0, 10, np.empty(4, np.int64), np.empty(4, np.int64))
print(json.dumps(sum(kernel.stats.cache_hits.values())))
"""


def _run(kind: str, cache: Path) -> int:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", PROCESS, kind], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]  # a serial kernel running parallel code could crash here
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_serial_kernel_never_loads_the_parallel_build_from_the_cache(tmp_path):
    assert _run("parallel", tmp_path) == 0  # compiled and written to the empty cache
    assert _run("serial", tmp_path) == 0  # its own build, not the parallel one loaded by the same key
    assert _run("serial", tmp_path) == 1  # then loads its own
