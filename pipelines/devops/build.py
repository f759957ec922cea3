"""Build step: the service's ``bikeservice`` package as a runnable, reproducible zipapp.

Reproducible means the same tree and version give the same bytes, so the artifact's sha256
identifies the code and a cached build is provably the build it replaces. Hence zip entries
written by hand: sorted names, fixed timestamps (1980-01-01, the zip epoch), fixed
permissions, fixed compression, no bytecode.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError

PACKAGE = "bikeservice"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# The zipapp's entry point: running the archive runs the package's CLI.
MAIN_SOURCE = "from bikeservice.__main__ import main\n\nraise SystemExit(main())\n"

__all__ = ["BuildResult", "build_artifact", "sha256_file"]


@dataclass(frozen=True)
class BuildResult:
    path: Path
    sha256: str
    size: int
    version: str


def build_artifact(src_dir: Path, out_dir: Path, version: str) -> BuildResult:
    """Compile-check the tree, then write ``bikeservice-<version>.pyz`` into ``out_dir``.

    The version is stamped into the artifact as ``bikeservice/_release.py`` so the running
    server reports which release answered.
    """
    if not _VERSION_PATTERN.match(version):
        raise BuildError(f"version {version!r} is not usable in a file name (letters, digits, . _ + - only)")
    package_dir = Path(src_dir) / PACKAGE
    if not (package_dir / "__init__.py").is_file():
        raise BuildError(f"no {PACKAGE}/__init__.py in {src_dir}: is this a checkout of the service?")
    entries = _collect_sources(package_dir)
    entries[f"{PACKAGE}/_release.py"] = f'RELEASE = "{version}"\n'.encode()
    entries["__main__.py"] = MAIN_SOURCE.encode()
    _check_syntax(entries)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACKAGE}-{version}.pyz"
    tmp = target.with_name(target.name + ".tmp")
    _write_zip(tmp, entries)
    os.replace(tmp, target)  # never a half-written artifact under the final name
    return BuildResult(path=target, sha256=sha256_file(target), size=target.stat().st_size, version=version)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _collect_sources(package_dir: Path) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for path in sorted(package_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        arcname = f"{PACKAGE}/{path.relative_to(package_dir).as_posix()}"
        entries[arcname] = path.read_bytes()
    return entries


def _check_syntax(entries: dict[str, bytes]) -> None:
    """Compile every module first: a broken tree fails here, naming file and line."""
    for arcname, data in entries.items():
        if not arcname.endswith(".py"):
            continue
        try:
            with warnings.catch_warnings():
                # A warning (say, an invalid escape) is the service's business, not a build failure.
                warnings.simplefilter("ignore")
                compile(data, arcname, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise BuildError(f"{arcname}, line {exc.lineno}: {exc.msg}") from exc
        except ValueError as exc:  # e.g. null bytes in the source
            raise BuildError(f"{arcname}: {exc}") from exc


def _write_zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr means the same everywhere
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, entries[arcname], compresslevel=9)
