"""The direction of imports, read from the source (module-level imports; TYPE_CHECKING ones left out):
handlers -> logic -> ports <- adapters, the contract beneath everything, the SDK beside the service, and no
cycle anywhere among the repository's own modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

# Where first-party modules live, and which top-level packages each source root holds.
SOURCES = {
    ROOT / "layers" / "shared" / "python": ("shotwire_core", "shotwire_contract"),
    ROOT / "sdk" / "src": ("shotwire",),
    ROOT: ("devstack", "admin", "infra", "bench"),
}


def first_party_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for base, packages in SOURCES.items():
        for package in packages:
            for path in (base / package).rglob("*.py"):
                if "__pycache__" in path.parts:
                    continue
                parts = list(path.relative_to(base).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join(parts)] = path
    return modules


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def import_graph() -> dict[str, set[str]]:
    """module -> the first-party modules it imports when it is imported."""
    modules = first_party_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for statement in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue  # imported when called, not when the module is
            if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
                continue
            for node in ast.walk(statement):
                for imported in _imported_names(node):
                    while imported and imported not in modules:
                        imported = imported.rpartition(".")[0]
                    if imported and imported != name:
                        graph[name].add(imported)
    return graph


GRAPH = import_graph()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_graph_is_read_from_the_source() -> None:
    assert len(GRAPH) > 100
    assert "shotwire_contract.requests" in GRAPH["shotwire_core.models"]
    assert "shotwire_core.adapters.dynamo" in GRAPH["shotwire_core.services"]


def test_no_module_imports_itself_back() -> None:
    assert cycles(GRAPH) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check can fail


@pytest.mark.parametrize(
    ("package", "may_not_import"),
    [
        ("shotwire_contract", ("shotwire_core", "shotwire", "devstack", "admin", "infra", "bench")),
        ("shotwire", ("shotwire_core", "devstack", "admin", "infra", "bench")),
        ("shotwire_core", ("shotwire", "devstack", "admin", "infra", "bench")),
    ],
)
def test_each_layer_imports_only_what_is_beneath_it(package: str, may_not_import: tuple[str, ...]) -> None:
    crossing = {
        (module, imported)
        for module, imports in GRAPH.items()
        if module.split(".")[0] == package
        for imported in imports
        if imported.split(".")[0] in may_not_import
    }
    assert not crossing


def test_logic_reaches_adapters_only_through_the_composition_root() -> None:
    """Logic is written against ports (Protocols, shotwire_core.sending and .rendering); services.py wires the
    adapters that implement them."""
    crossing = {
        (module, imported)
        for module, imports in GRAPH.items()
        if module.startswith("shotwire_core.")
        and not module.startswith("shotwire_core.adapters")
        and module != "shotwire_core.services"
        for imported in imports
        if imported.startswith("shotwire_core.adapters")
    }
    assert not crossing
