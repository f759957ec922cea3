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


def test_importing_every_pipelines_module_loads_no_streamlit() -> None:
    modules = sorted(
        ".".join(p.relative_to(PIPELINES.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in PIPELINES.rglob("*.py")
        if "service_template" not in p.parts and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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
