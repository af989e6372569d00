"""Import layers, checked on the source (ast), imports inside functions included.

    bot/  →  handlers/  →  services/  →  storage/
                 ↘ intents/ ↗ (intents may use storage's pure modules, e.g. storage.numbers)

- storage/ imports nothing from intents/, handlers/, bot/, services/;
- intents/ imports nothing from handlers/, bot/, services/;
- services/ imports nothing from handlers/, bot/, nor chat or HTTP libraries (fastapi,
  starlette, wechatpy): every door (chat, console, Open311, CLI) calls the same actions;
- no import cycle between the project's modules.

Imports under ``if TYPE_CHECKING:`` are not run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "intents", "services", "storage")
FORBIDDEN = {
    "storage": {"intents", "handlers", "bot", "services"},
    "intents": {"handlers", "bot", "services"},
    "services": {"handlers", "bot", "fastapi", "starlette", "wechatpy"},
}

ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    # Known violations, to be emptied (a fixed one must be removed from here: the test says so).
}
ALLOWED_CYCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:  # alembic scripts, run by alembic only
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> dict[str, int]:
    """Imported module → first line. ``from pkg import sub`` counts as ``pkg.sub`` when that
    is one of the project's modules."""
    out: dict[str, int] = {}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.setdefault(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.setdefault(full if full in MODULES else node.module, node.lineno)
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _upward() -> dict[tuple[str, str], str]:
    found = {}
    for module, imported in GRAPH.items():
        banned = FORBIDDEN.get(module.split(".")[0], set())
        for target, line in imported.items():
            if target.split(".")[0] in banned:
                found[(module, target)] = f"{MODULES[module].relative_to(ROOT)}:{line}"
    return found


def _cycles() -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(t for t in GRAPH[m] if t in MODULES and t != m) for m in GRAPH}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def test_the_walk_sees_the_project():
    assert {"bot.app", "handlers.dispatch", "intents.slots", "storage.models",
            "services.messages"} <= set(MODULES)
    assert "storage.models" in GRAPH["storage.tickets"]


def test_no_import_runs_up_the_layers():
    found = _upward()
    new = {pair: where for pair, where in found.items() if pair not in ALLOWED_UPWARD}
    assert new == {}, "imports against the layers (module, imported): where"
    fixed = set(ALLOWED_UPWARD) - set(found)
    assert not fixed, f"fixed: remove from ALLOWED_UPWARD: {sorted(fixed)}"


def test_no_import_cycle():
    cycles = _cycles()
    new = [sorted(c) for c in cycles if c not in ALLOWED_CYCLES]
    assert new == [], "import cycles"
    fixed = [sorted(c) for c in ALLOWED_CYCLES if c not in cycles]
    assert not fixed, f"fixed: remove from ALLOWED_CYCLES: {fixed}"


def test_the_cycle_finder_finds_a_cycle():
    saved = dict(GRAPH)
    try:
        GRAPH["storage.times"] = {**GRAPH["storage.times"], "storage.tickets": 1}
        assert any({"storage.times", "storage.tickets"} <= c for c in _cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
