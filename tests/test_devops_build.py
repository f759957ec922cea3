"""Build step: a reproducible zipapp of the service, refused with file and line when broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.devops.build import build_artifact, sha256_file
from pipelines.devops.errors import BuildError, DevOpsError

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "devops" / "service_template"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TEMPLATE, tmp_path / "tree", ignore=shutil.ignore_patterns("__pycache__")))


def test_same_tree_builds_the_same_bytes(tree, tmp_path):
    first = build_artifact(tree, tmp_path / "a", "1.2.0")
    (tree / "bikeservice" / "__pycache__").mkdir(exist_ok=True)
    (tree / "bikeservice" / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"junk")
    second = build_artifact(tree, tmp_path / "b", "1.2.0")
    assert first.sha256 == second.sha256 == sha256_file(second.path)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert (first.path.name, first.size, first.version) == ("bikeservice-1.2.0.pyz", second.size, "1.2.0")


def test_a_different_tree_or_version_builds_different_bytes(tree, tmp_path):
    before = build_artifact(tree, tmp_path / "a", "1.2.0")
    assert build_artifact(tree, tmp_path / "v", "1.3.0").sha256 != before.sha256
    features = tree / "bikeservice" / "features.py"
    features.write_text(
        features.read_text().replace(
            "RUSH_HOURS = frozenset({7, 8, 17, 18})", "RUSH_HOURS = frozenset({7, 8, 9, 17, 18})"
        )
    )
    assert build_artifact(tree, tmp_path / "b", "1.2.0").sha256 != before.sha256


def test_artifact_entries_are_sorted_dated_1980_and_free_of_bytecode(tree, tmp_path):
    result = build_artifact(tree, tmp_path / "out", "2.0.0")
    with zipfile.ZipFile(result.path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert {"__main__.py", "bikeservice/__init__.py", "bikeservice/_release.py"} <= set(names)
        assert not any(name.endswith(".pyc") or name.startswith("tests/") for name in names)
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}
        assert archive.read("bikeservice/_release.py") == b'RELEASE = "2.0.0"\n'


def test_artifact_runs_and_reports_its_release(tree, tmp_path):
    result = build_artifact(tree, tmp_path / "out", "2.0.1")
    code = "import bikeservice; print(bikeservice.__version__)"
    out = subprocess.run(
        [sys.executable, "-P", "-c", code],
        env={"PYTHONPATH": str(result.path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "2.0.1"
    helped = subprocess.run(
        [sys.executable, "-P", str(result.path), "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and "--port-file" in helped.stdout


def test_syntax_error_names_file_and_line(tree, tmp_path):
    server = tree / "bikeservice" / "server.py"
    lines = server.read_text().splitlines()
    lines[29] = "def broken(:"
    server.write_text("\n".join(lines) + "\n")
    with pytest.raises(BuildError, match=r"bikeservice/server\.py, line 30: "):
        build_artifact(tree, tmp_path / "out", "1.0.0")
    assert not (tmp_path / "out").exists()  # nothing half-built


def test_tree_without_the_package_is_refused(tmp_path):
    with pytest.raises(BuildError, match=r"no bikeservice/__init__\.py"):
        build_artifact(tmp_path, tmp_path / "out", "1.0.0")


@pytest.mark.parametrize("version", ["", "../evil", "1.0 beta"])
def test_version_must_fit_a_file_name(tree, tmp_path, version):
    with pytest.raises(DevOpsError, match="not usable in a file name"):
        build_artifact(tree, tmp_path / "out", version)
