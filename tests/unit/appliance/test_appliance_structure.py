"""The simulator's modules import one way: no cycles, plain types at the bottom."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from appliance_helpers import APPLIANCE

PACKAGE = "acme_appliance"
SOURCES = APPLIANCE / PACKAGE


def _called(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def imports_of(path: Path) -> set[str]:
    """Package modules `path` imports anywhere in it (in functions too, and by importlib)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE:
            found |= {f"{PACKAGE}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(f"{PACKAGE}."):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(f"{PACKAGE}.")}
        elif isinstance(node, ast.Call) and _called(node) in ("import_module", "__import__"):
            found |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)
                      and isinstance(arg.value, str)}
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


def test_the_launcher_command_line_needs_only_the_standard_library() -> None:
    """`appliance/run start|stop|status` runs on a bare python3; only `serve` needs the rest."""
    code = ("import sys; import acme_appliance.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'pydantic', "
            "'starlette', 'uvicorn', 'cryptography', 'pydantic_settings'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(APPLIANCE)}, check=True)
    assert result.stdout.strip() == "[]"


def test_routes_go_through_the_services_not_the_store() -> None:
    for path in sorted(SOURCES.glob("routes_*.py")):
        source = path.read_text()
        assert ".store." not in source, path.name
        assert f"{PACKAGE}.store" not in imports_of(path), path.name
