"""`pipelines/` is a library: it never imports Streamlit, so the CLI and tests stay headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_in_pipelines_imports_streamlit() -> None:
    offenders = [
        str(p.relative_to(PIPELINES.parent))
        for p in PIPELINES.rglob("*.py")
        if "streamlit" in _imported_modules(p)
    ]
    assert offenders == []


def test_importing_every_pipelines_module_loads_no_streamlit_nor_mlflow() -> None:
    """Nor MLflow (seconds to import): the MLflow importer loads it only when an import runs."""
    modules = sorted(
        ".".join(p.relative_to(PIPELINES.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in PIPELINES.rglob("*.py")
        if "service_template" not in p.parts and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('streamlit' in sys.modules, 'mlflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_no_sql_outside_the_store() -> None:
    """All SQL lives in pipelines/store (STYLE.md); other modules call named functions."""
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")
    offenders = []
    for path in [*PIPELINES.rglob("*.py"), *(PIPELINES.parent / "dashboard").rglob("*.py")]:
        if "store" in path.relative_to(PIPELINES.parent).parts[:2] or "service_template" in path.parts:
            continue
        text = path.read_text()
        if any(k in text for k in keywords):
            offenders.append(str(path.relative_to(PIPELINES.parent)))
    assert offenders == []


# -- no import cycles ------------------------------------------------------------------------
# The rule: module A depends on module B when A imports B anywhere in its file, at module level or
# inside a function. Function-level (lazy) imports count, so deferring an import cannot hide a cycle;
# a lazy import stays a fine tool for deferring a heavy *library* (scipy, scikit-learn), which is not
# part of this graph. Imports under `if TYPE_CHECKING:` are skipped: they never run. `from pipelines.x
# import y` is an edge to `pipelines.x` and, when `pipelines.x.y` is a module, to it as well. Importing
# `pipelines.x.y` is not counted as an edge to the package `pipelines.x` itself: Python runs the
# package's `__init__` first, but a submodule that a package re-exports is not a cycle.
def _module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        if "service_template" in path.parts:  # the sample service is its own package, copied to workspaces
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts).removesuffix(".__init__")] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import in `node`, at any depth, except those that only run for a type checker."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:
                found.extend(_import_nodes(ast.Module(body=[branch], type_ignores=[])))
        else:
            found.extend(_import_nodes(child))
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module name -> the modules of the same top-level package it imports (see the rule above)."""
    modules = _module_names(root)

    def known(name: str) -> str | None:  # `import a.b.c` where c is a name in a.b: the module a.b
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in modules else None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges.update(filter(None, (known(alias.name) for alias in node.names)))
                continue
            base = node.module or ""
            if node.level:  # relative: `from . import x`, `from ..y import z`
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if (target := known(base)) is not None:
                edges.add(target)
            edges.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Concrete cycles (first module repeated at the end) covering every module that is on one.

    Tarjan's algorithm finds the strongly connected components; inside each, a breadth-first search
    names a shortest cycle through each member no earlier cycle went through, which is what a person
    needs to see to break them all.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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

    cycles = []
    for component in sorted(components):
        uncovered = list(component)
        while uncovered:
            cycle = _shortest_cycle(graph, set(component), uncovered[0])
            cycles.append(cycle)
            uncovered = [m for m in uncovered if m not in cycle]
    return cycles


def _shortest_cycle(graph: dict[str, set[str]], members: set[str], start: str) -> list[str]:
    """A shortest cycle from `start` back to itself inside one strongly connected component."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while start not in came_from:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    path = [start, came_from[start]]
    while path[-1] != start:
        path.append(came_from[path[-1]])
    return path[::-1]


def test_the_cycle_finder_names_each_cycle_once() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},  # a -> b -> c -> a
        "d": {"e"},
        "e": {"d"},  # d <-> e, reachable from the first cycle but a separate one
        "f": {"a"},  # leads into a cycle without being on one
    }
    assert import_cycles(graph) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
    # Two cycles through one module: both are named.
    assert import_cycles({"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"], ["c", "a", "c"]]


def test_the_import_graph_counts_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.leaf import VALUE\n")
    (package / "sub" / "leaf.py").write_text("VALUE = 1\n")
    (package / "top.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from pkg import sub\n"
        "if TYPE_CHECKING:\n"
        "    from pkg import lazy\n"
        "else:\n"
        "    import pkg.sub.leaf.VALUE\n"
    )
    (package / "lazy.py").write_text("def f():\n    from .top import sub\n    return sub\n")
    graph = import_graph(package)
    assert graph == {
        "pkg": set(),
        "pkg.sub": {"pkg.sub.leaf"},
        "pkg.sub.leaf": set(),
        "pkg.top": {"pkg", "pkg.sub", "pkg.sub.leaf"},
        "pkg.lazy": {"pkg.top"},
    }
    assert import_cycles(graph) == []
    (package / "sub" / "leaf.py").write_text("def g():\n    import pkg.lazy\n")
    assert import_cycles(import_graph(package)) == [
        ["pkg.lazy", "pkg.top", "pkg.sub.leaf", "pkg.lazy"],
        ["pkg.sub", "pkg.sub.leaf", "pkg.lazy", "pkg.top", "pkg.sub"],
    ]


def test_no_import_cycles_inside_pipelines() -> None:
    cycles = import_cycles(import_graph(PIPELINES))
    assert not cycles, "import cycles in pipelines/ (lazy imports count):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_only_the_cli_package_parses_arguments() -> None:
    """The domain is a library: argparse and the CLI's helpers stay in pipelines/cli (and __main__)."""
    offenders = []
    for name, path in _module_names(PIPELINES).items():
        if name == "pipelines.__main__" or name == "pipelines.cli" or name.startswith("pipelines.cli."):
            continue
        imported: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            else:
                imported.add(node.module or "")
        if any(m == "argparse" or m == "pipelines.cli" or m.startswith("pipelines.cli.") for m in imported):
            offenders.append(name)
    assert offenders == []
