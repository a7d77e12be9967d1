"""The package's layering, measured on its own imports, and kept so.

Every ``import`` statement of every module counts, those inside functions too. A package's ``__init__`` importing
its own modules (to re-export their names) and the root's lazy names (PEP 562 ``__getattr__``) are not edges.
Dependencies point one way, in the order of :data:`ORDER`; one edge may point back, on purpose, and it is named in
:data:`DELIBERATE`.

Run as a script to print the four figures of the layout::

    .venv/bin/python tests/test_layering.py
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layerlens"

#: The packages (and top-level modules) of ``layerlens`` from the bottom of the data flow to its top: a module may
#: import from its own package and from those before it, never from those after it.
ORDER = (
    "exceptions",
    "_util",
    "options",
    "datasets",
    "model",
    "layers",
    "paths",
    "scores",
    "findings",
    "explanations",
    "figures",
    "engines",
    "run",
    "site",
    "app",
    "__main__",
)

#: The one kind of cycle kept on purpose: conveniences on the result type that reach, inside the method, a module
#: that takes an ``Analysis`` (as pandas' ``DataFrame.plot`` reaches plotting): ``Analysis.save`` the store (which
#: builds an ``Analysis`` when it loads a run), ``Analysis._repr_html_`` the notebook view and
#: ``Analysis.save_figures`` the report. Named in ``docs/design.md`` too.
DELIBERATE: frozenset[tuple[str, str]] = frozenset(
    {
        ("layerlens.run._analysis", "layerlens.run._store"),
        ("layerlens.run._analysis", "layerlens.run._notebook"),
        ("layerlens.run._analysis", "layerlens.run._report"),
    }
)

MAX_TOP_LEVEL_MODULES = 8
MAX_LINES = 600


@dataclass(frozen=True)
class Edge:
    """One import statement: ``source`` imports ``target`` (dotted module names), at ``line``."""

    source: str
    target: str
    line: int
    lazy: bool


def module_name(path: Path) -> str:
    """``layerlens/run/_store.py`` → ``layerlens.run._store``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(name: str, known: dict[str, Path]) -> Iterator[str]:
    """The package module ``name`` stands for: itself, else its longest known prefix (``a.b.NAME`` → ``a.b``)."""
    while name:
        if name in known:
            yield name
            return
        name = name.rpartition(".")[0]


def _lazy_names(tree: ast.Module) -> set[int]:
    """Lines of imports inside a module-level ``__getattr__`` (PEP 562 lazy names)."""
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            lines.update(n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return lines


def edges() -> list[Edge]:
    """Every import of one package module by another, inside functions too."""
    known = modules()
    found: list[Edge] = []
    for source, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        skip = _lazy_names(tree) if is_package else set()
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(source, is_package, node)
                names = [f"{base}.{a.name}" for a in node.names]
            lazy = id(node) not in top_level and not _inside_type_checking(tree, node)
            for name in names:
                for target in _targets(name, known):
                    if target == source:
                        continue
                    if is_package and target.startswith(source + "."):
                        continue  # a package re-exporting its own modules
                    found.append(Edge(source, target, node.lineno, lazy))
    return found


def _inside_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for top in tree.body:
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
            if any(n is node for n in ast.walk(top)):
                return True
    return False


def cycles(found: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a sorted list of names."""
    graph: dict[str, set[str]] = {}
    for e in found:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def stage(module: str) -> str:
    """The entry of :data:`ORDER` a module belongs to (``layerlens.run._store`` → ``run``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def backward_edges(found: list[Edge]) -> list[Edge]:
    """Imports from a later stage of :data:`ORDER`, the deliberate ones excepted."""
    rank = {name: i for i, name in enumerate(ORDER)}
    back = []
    for e in found:
        s, t = stage(e.source), stage(e.target)
        if s in rank and t in rank and rank[t] > rank[s] and (e.source, e.target) not in DELIBERATE:
            back.append(e)
    return back


def private_imports(found: list[Edge]) -> list[Edge]:
    """Imports of another package's private module (a ``_name`` below a package that is not the importer's)."""
    bad = []
    for e in found:
        parts = e.target.split(".")
        for depth in range(2, len(parts)):
            if parts[depth].startswith("_") and not parts[depth].startswith("__"):
                owner = ".".join(parts[:depth])
                if not (e.source == owner or e.source.startswith(owner + ".")):
                    bad.append(e)
                break
    return bad


def top_level_modules() -> list[str]:
    """The ``.py`` files directly in ``layerlens/`` (``__init__`` and ``_version`` included)."""
    return sorted(p.name for p in PACKAGE.glob("*.py"))


def long_modules() -> list[tuple[str, int]]:
    """Modules of more than :data:`MAX_LINES` lines."""
    found = []
    for name, path in modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            found.append((name, n))
    return found


@pytest.fixture(scope="module")
def import_edges() -> list[Edge]:
    return edges()


def test_no_import_cycle_but_the_deliberate_one(import_edges: list[Edge]) -> None:
    found = cycles([e for e in import_edges if (e.source, e.target) not in DELIBERATE])
    assert found == [], f"import cycles: {found}"


def test_dependencies_point_one_way(import_edges: list[Edge]) -> None:
    back = backward_edges(import_edges)
    assert back == [], "imports against the order of the data flow:\n" + "\n".join(
        f"  {e.source}:{e.line} imports {e.target}" for e in back
    )


def test_no_module_imports_another_packages_private_module(import_edges: list[Edge]) -> None:
    bad = private_imports(import_edges)
    assert bad == [], "\n".join(f"  {e.source}:{e.line} imports {e.target}" for e in bad)


def test_few_top_level_modules() -> None:
    assert len(top_level_modules()) <= MAX_TOP_LEVEL_MODULES, top_level_modules()


def test_no_module_over_the_line_limit() -> None:
    assert long_modules() == []


def test_every_module_belongs_to_a_stage() -> None:
    stray = [m for m in modules() if m != "layerlens" and stage(m) not in ORDER + ("_version",)]
    assert stray == []


def main() -> None:
    found = edges()
    all_cycles = cycles(found)
    deliberate = sum(any((a, b) in DELIBERATE for a in c for b in c) for c in all_cycles)
    print(f"import cycles (every import, inside functions too): {len(all_cycles)}, of which deliberate: {deliberate}")
    for c in all_cycles:
        print("   ", " ↔ ".join(c))
    print(f"top-level .py modules in layerlens/: {len(top_level_modules())} ({', '.join(top_level_modules())})")
    long = long_modules()
    longest = max(((n, name) for name, path in modules().items()
                   for n in [len(path.read_text(encoding='utf-8').splitlines())]))
    print(f"modules over {MAX_LINES} lines: {len(long)} (longest: {longest[1]}, {longest[0]} lines)")
    for name, n in long:
        print(f"    {name}: {n}")
    bad = private_imports(found)
    print(f"imports of another package's private module: {len(bad)}")
    for e in bad:
        print(f"    {e.source}:{e.line} → {e.target}")
    back = backward_edges(found)
    print(f"imports against the order of the data flow: {len(back)}")
    for e in back:
        print(f"    {e.source}:{e.line} → {e.target}")


if __name__ == "__main__":
    main()
