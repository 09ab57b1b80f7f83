"""The package's layers, enforced on its import graph (deferred imports inside functions included; imports
for type checkers only, under ``if TYPE_CHECKING:``, never run and are left out).

Each layer imports only from itself and the layers before it; the modules import each other without cycles.
``docs/architecture.md`` draws the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mazearena

PACKAGE = Path(mazearena.__file__).parent

# (layer, module prefixes), lowest first. The package root only registers ids (its entry points are strings).
LAYERS = (
    ("base", ("mazearena", "mazearena.checks", "mazearena.rng", "mazearena.stats")),
    ("engine", ("mazearena.envs.engine", "mazearena.assets", "mazearena.mazes")),
    ("envs", ("mazearena.envs",)),
    ("agents", ("mazearena.agents",)),
    ("training", ("mazearena.training",)),
    ("evaluation", ("mazearena.evaluation",)),
    ("apps", ("mazearena.apps", "mazearena.cli", "mazearena.__main__")),
)


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest prefix that names ``module`` or a package holding it."""
    best, depth = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and p.count(".") > depth:
                best, depth = i, p.count(".")
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = ("mazearena", *f.relative_to(PACKAGE).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The mazearena modules ``path`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    # imports for type checkers only never run: they are no edge of the graph
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and _type_checking(block.test)
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from the module's package
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in found if m == "mazearena" or m.startswith("mazearena.")}


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) - {name} for name, path in known.items()}


def test_no_module_imports_from_a_higher_layer():
    bad = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
        for m, deps in graph().items()
        for d in sorted(deps)
        if layer_of(d) > layer_of(m)
    ]
    assert not bad, "\n".join(bad)


def test_modules_import_each_other_without_cycles():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d) :] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (cycle := visit(m)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_the_checker_sees_deferred_imports_and_names_the_offender(tmp_path):
    # The checker itself must be able to fail: a deferred import of the training layer from the engine.
    f = tmp_path / "maze.py"
    f.write_text("def f():\n    from mazearena.training.train import train\n")
    deps = imports(f, "mazearena.envs.engine.maze", {"mazearena.training.train": f})
    assert deps == {"mazearena.training.train"}
    assert layer_of("mazearena.training.train") > layer_of("mazearena.envs.engine.maze")
    assert layer_of("mazearena.envs.render") > layer_of("mazearena.envs.engine.sprites")
