"""Where the rules live: each game's torch rules and their compiled twins side by side in one module, nothing
compiled anywhere else; the golden tests (test_golden.py) hold each pair to the same results."""

import importlib
import inspect
import pkgutil

import pytest
from numba.core.registry import CPUDispatcher

import mazearena.envs.engine as engine_pkg
from mazearena.envs.engine.common import Twin

RULE_MODULES = ("common", "maze_rules", "arena_rules", "arena_observe")


def _compiled(module) -> set[str]:
    """Names of the compiled kernels defined in ``module`` (twins and single njit helpers)."""
    out = set()
    for name, obj in vars(module).items():
        if isinstance(obj, Twin) and obj.serial.py_func.__module__ == module.__name__:
            out.add(name)
        elif isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__ and name == obj.__name__:
            out.add(name)
    return out


@pytest.mark.parametrize("name", RULE_MODULES)
def test_every_compiled_kernel_is_the_twin_of_a_torch_function_in_the_same_module(name):
    module = importlib.import_module(f"mazearena.envs.engine.{name}")
    listed = {kernel.__name__ for kernels in module.TWINS.values() for kernel in kernels}
    helpers = {"mix64", "hash2", "below", "step_observe"}  # hashing and the fused step of a lone game
    assert _compiled(module) - helpers == listed
    for torch_fn in module.TWINS:
        assert inspect.isfunction(torch_fn) and torch_fn.__module__ == module.__name__
        assert "numba" not in inspect.getsource(torch_fn)


def test_no_module_outside_the_rule_modules_compiles_a_kernel():
    for info in pkgutil.iter_modules(engine_pkg.__path__):
        if info.name in RULE_MODULES:
            continue
        module = importlib.import_module(f"mazearena.envs.engine.{info.name}")
        assert not _compiled(module), info.name
        assert "from numba" not in inspect.getsource(module), info.name
