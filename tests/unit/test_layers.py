"""The layers, read from the code: which package may import which, and no import cycles.

The rules are the table in docs/architecture.md ("What each group may import"). Imports are read
with `ast`, including those inside functions (an import inside a function that closes a cycle is
still a cycle) and excluding those under `if TYPE_CHECKING:` (they do not run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("agent", "connectors", "policies")

# The pure records every layer shares: they import nothing of ours.
PURE_MODULES = ("connectors.records", "connectors.errors")

# The one wiring module, and the entry points that alone may import it.
WIRING = "agent.bootstrap"
ENTRY_POINTS = (
    "agent.__main__",
    "agent.api",
    "agent.cli",
    "agent.commands",
    "agent.commands.*",
    "agent.runtime.service",
    "agent.runtime.jobs",  # the scheduler's entry points: each run assembles from the config it reads
    "agent.runtime.celery_app",
    "agent.backtesting.*",
)

# (importer pattern, imported pattern, why): an import matching both is forbidden.
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("connectors*", "agent*", "connectors talk to platforms; they know nothing of the agent"),
    ("connectors*", "policies*", "connectors sit below the policies"),
    ("agent.storage*", "agent.decisions*", "storage sits below the decision core"),
    ("agent.storage*", "agent.execution*", "storage sits below execution"),
    ("agent.storage*", "agent.runtime*", "storage sits below the runtime"),
    ("agent.decisions*", "agent.execution*", "the gate decides; execution comes after it"),
    ("agent.decisions*", "agent.runtime*", "the decision core knows nothing of processes"),
    ("agent.execution*", "agent.runtime*", "execution knows nothing of processes"),
    ("agent.cycle*", "agent.runtime*", "the runtime runs the cycle, not the other way round"),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs, at module level or in a function."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, root: Path, known: set[str]) -> list[Import]:
    """The imports of our own modules that `path` makes, resolved to module names."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.append(candidate if candidate in known else base)
        for target in targets:
            if target.split(".")[0] in OUR_PACKAGES:
                found.append(Import(name, target, node.lineno))
    return found


def read_tree(root: Path, packages: Iterable[str] = OUR_PACKAGES) -> list[Import]:
    files = [p for package in packages for p in sorted((root / package).rglob("*.py"))]
    known = {module_name(p, root) for p in files}
    return [imp for p in files for imp in imports_of(p, root, known)]


def _matches(module: str, pattern: str) -> bool:
    return fnmatch(module, pattern)


def layer_violations(imports: Iterable[Import]) -> list[str]:
    problems: list[str] = []
    for imp in imports:
        where = f"{imp.importer} (line {imp.line}) imports {imp.imported}"
        top = imp.importer.split(".")[0]
        if top == "policies" and not (
            imp.imported.startswith("policies") or imp.imported in PURE_MODULES
        ):
            problems.append(f"{where}: policies import only policies.* and {', '.join(PURE_MODULES)}")
        if imp.importer in PURE_MODULES:
            problems.append(f"{where}: {imp.importer} is pure and imports nothing of ours")
        wiring = imp.imported == WIRING or imp.imported.startswith(WIRING + ".")
        if wiring and not any(_matches(imp.importer, p) for p in ENTRY_POINTS):
            problems.append(f"{where}: only entry points import the wiring module {WIRING}")
        for importer, imported, why in FORBIDDEN:
            if _matches(imp.importer, importer) and _matches(imp.imported, imported):
                problems.append(f"{where}: {why}")
    return problems


def import_cycles(imports: Iterable[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.importer != imp.imported and not imp.importer.startswith(imp.imported + "."):
            # A module importing its own package (`from agent.x import y` inside agent/x/z.py
            # reads agent/x/__init__.py) is how Python packages work, not a cycle to report.
            graph.setdefault(imp.importer, set()).add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_crosses_a_layer() -> None:
    assert layer_violations(read_tree(ROOT)) == []


def test_no_import_cycle() -> None:
    assert import_cycles(read_tree(ROOT)) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checks_catch_a_forbidden_import_and_a_cycle(tmp_path: Path) -> None:
    """The checker itself can fail: a policy importing the edge, a connector importing the agent,
    a module below importing the wiring, and a cycle hidden in a function are all reported."""
    _write(tmp_path, {
        "policies/__init__.py": "",
        "policies/pause.py": "from connectors.base import Connector\nfrom connectors.records import Entity\n",
        "connectors/__init__.py": "",
        "connectors/base.py": "",
        "connectors/records.py": "",
        "connectors/meta.py": "from agent.storage.store import upsert\n",
        "agent/__init__.py": "",
        "agent/bootstrap.py": "",
        "agent/storage/__init__.py": "",
        "agent/storage/store.py": "from agent.bootstrap import build\n",
        "agent/a.py": "import agent.b\n",
        "agent/b.py": "def late():\n    from agent import a\n",
        "agent/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import agent.c\n",
        "agent/c.py": "import agent.typed\n",
    })
    imports = read_tree(tmp_path)
    problems = layer_violations(imports)
    assert any("policies.pause" in p and "connectors.base" in p for p in problems)
    assert not any("imports connectors.records" in p for p in problems)
    assert any("connectors.meta" in p and "know nothing of the agent" in p for p in problems)
    assert any("agent.storage.store" in p and "wiring" in p for p in problems)
    assert import_cycles(imports) == [["agent.a", "agent.b"]]
