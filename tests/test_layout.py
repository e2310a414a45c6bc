"""The package's layout rules: layers, sizes, no import cycles, a test module per module.

These read the source (with ``ast``), so a rule broken anywhere in the package fails
here with the module's name, whatever the tests of that module do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gridppo"
TESTS = Path(__file__).resolve().parent
MAX_LINES = 400  # a module a reader takes in at once

# The core, bottom to top; nothing in it may import the layers on top of it.
CORE = ("config", "grid", "env", "baselines", "evaluation", "agents", "training")
ON_TOP = ("viz", "notebook", "course", "cli", "sweep")


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``gridppo.grid.network``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path) -> list[tuple[str, bool]]:
    """The gridppo modules ``path`` imports, each with whether the import sits inside a
    function (outside ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for stmt in branch.body
        for node in ast.walk(stmt)
    }
    nested = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gridppo"):
            found.append((node.module, id(node) in nested))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, id(node) in nested) for a in node.names if a.name.startswith("gridppo")
            ]
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_short(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_core_never_imports_figures_widgets_or_coursework() -> None:
    bad = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if layer(name) in CORE
        for target, _ in imports(path)
        if layer(target) in ON_TOP
    ]
    assert not bad, bad


def test_no_function_level_imports_of_the_package() -> None:
    bad = [
        f"{name} imports {target} inside a function"
        for name, path in modules().items()
        for target, nested in imports(path)
        if nested
    ]
    assert not bad, bad


def test_no_import_cycles() -> None:
    graph = {}
    names = modules()
    for name, path in names.items():
        targets = {t for t, _ in imports(path) if t in names and t != name}
        if path.name == "__init__.py":  # re-exports of a folder's own modules
            targets = {t for t in targets if not t.startswith(name + ".")}
        graph[name] = targets
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_the_config_fields_are_a_leaf() -> None:
    assert imports(PACKAGE / "config" / "fields.py") == []


@pytest.mark.parametrize(
    "name",
    sorted(n for n, p in modules().items() if p.name not in ("__init__.py", "__main__.py")),
)
def test_every_module_has_its_own_test_module(name: str) -> None:
    parts = name.split(".")[1:]
    expected = TESTS / ("test_" + "_".join(parts) + ".py")
    assert expected.is_file(), f"{name}: no {expected.name}"
