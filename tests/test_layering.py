"""The packages' layering, read from their source with :mod:`ast` (imports inside functions count too).

No import circle among the packages' modules; loading configuration never imports the HTTP layer; the
backend's command line imports the emulator only when it mounts it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("brdocs", "deeplinks", "emulator", "server")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations" not in path.parts
}


def _resolve(name: str) -> str | None:
    """The package module ``name`` refers to (``a.b.c`` may be a module or a name inside ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, *, top_level_only: bool = False) -> Iterator[str]:
    """Every module name ``module`` imports (or, for a name outside the packages, its module's name)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from a import b`` imports module ``a.b`` when there is one, else a name from ``a``.
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = {_resolve(name) for name in _imports(module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_packages() -> None:
    graph = _graph()
    assert "server.config" in graph
    assert "server.errors" in graph["server.api"]


def test_no_import_circle_among_the_packages_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_loading_configuration_never_imports_the_http_layer() -> None:
    graph = _graph()
    reached = _reachable("server.config", graph)
    assert "server.api" not in reached
    external = {name.split(".")[0] for module in reached for name in _imports(module)}
    assert "flask_smorest" not in external


@pytest.mark.parametrize("module", ["server.cli"])
def test_the_command_line_imports_no_emulator_module_at_import_time(module: str) -> None:
    top_level = {m: {_resolve(n) for n in _imports(m, top_level_only=True)} - {None} for m in MODULES}
    reached = _reachable(module, {m: {t for t in ts if t is not None} for m, ts in top_level.items()})
    assert not [name for name in reached if name.split(".")[0] == "emulator"]
