"""Modules with one job: no module over 500 lines and no function over 80 lines in the package (there are no
data-table exceptions)."""

import ast
from pathlib import Path

import mazearena

PACKAGE = Path(mazearena.__file__).parent
MAX_MODULE, MAX_FUNCTION = 500, 80


def sizes() -> tuple[list[str], list[str]]:
    """``path: lines`` of the modules over :data:`MAX_MODULE` lines and of the functions over :data:`MAX_FUNCTION`."""
    modules, functions = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        name = path.relative_to(PACKAGE)
        if text.count("\n") > MAX_MODULE:
            modules.append(f"{name}: {text.count(chr(10))}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION:
                    functions.append(f"{name}:{node.lineno} {node.name}: {length}")
    return modules, functions


def test_no_module_over_500_lines_and_no_function_over_80():
    modules, functions = sizes()
    assert not modules, modules
    assert not functions, functions
