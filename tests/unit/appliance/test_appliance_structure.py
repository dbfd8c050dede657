"""The simulator's modules import one way: no cycles, plain types at the bottom."""

from __future__ import annotations

import ast
from pathlib import Path

from appliance_helpers import APPLIANCE

PACKAGE = "acme_appliance"
SOURCES = APPLIANCE / PACKAGE


def imports_of(path: Path) -> set[str]:
    """Package modules `path` imports anywhere in it (functions included, importlib too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found |= {f"{PACKAGE}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}."):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(f"{PACKAGE}.")}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith(f"{PACKAGE}.") \
                and node.value[len(PACKAGE) + 1:].isidentifier():
            found.add(node.value)
    modules = {f"{PACKAGE}.{p.stem}" for p in SOURCES.glob("*.py")}
    return {name for name in found if name in modules} - {f"{PACKAGE}.{path.stem}"}


def import_graph() -> dict[str, set[str]]:
    return {f"{PACKAGE}.{path.stem}": imports_of(path) for path in SOURCES.glob("*.py")
            if path.stem not in ("__init__", "__main__")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (iterative depth-first search)."""
    state: dict[str, str] = {}
    for start in sorted(graph):
        if start in state:
            continue
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 20
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_plain_types_depend_on_nothing_and_the_store_not_on_exports() -> None:
    graph = import_graph()
    assert graph[f"{PACKAGE}.records"] == set()
    assert f"{PACKAGE}.exports" not in graph[f"{PACKAGE}.store"]
    assert f"{PACKAGE}.exports" not in graph[f"{PACKAGE}.ganesha"]
