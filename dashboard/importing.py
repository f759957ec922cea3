"""The Control room's import form: one function per source, found by name, run in the background.

Every importer is `pipelines.importers.<source>.import_<source>(store, workspace, location, **options)
-> ImportSummary`, so the form needs no code of its own per source: a source whose module is not in
this OpsLab yet is listed as not available, and one that arrives plugs in by that name. A token is
never asked for here: a live import reads it from the server's environment (`$GITHUB_TOKEN`, ...).

An import runs in a thread of the server (`ImportJobs`, one per target workspace at a time), so the
page shows its progress and stays usable while a big history lands; its writes take the workspace's
file only while they land (the pages' reads wait for them, as for a play).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.errors import OpsLabError
from pipelines.paths import check_workspace_name
from pipelines.store import RunHistory
from pipelines.store.landing_sql import ImportSummary

__all__ = [
    "SOURCES",
    "ImportJob",
    "ImportJobs",
    "Source",
    "available",
    "default_workspace",
    "importer",
    "run_import",
    "save_uploads",
]

log = logging.getLogger("opslab.dashboard")


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    location: str  # what the form asks for
    placeholder: str
    uploads: bool = False  # JSON files may be uploaded instead of a folder path
    token: str | None = None  # the environment variable a live import reads


SOURCES: dict[str, Source] = {
    "git": Source("git", "git: a local repository", "Repository folder", "/path/to/a/clone"),
    "github": Source(
        "github",
        "GitHub: workflow runs, jobs, deployments, incident issues",
        "Folder of JSON files saved with `gh api --paginate`",
        "/path/to/gh-api-pages",
        uploads=True,
        token="GITHUB_TOKEN",
    ),
    "gitlab": Source(
        "gitlab",
        "GitLab: pipelines, jobs, deployments",
        "Folder of JSON files saved from the API",
        "/path/to/gitlab-pages",
        uploads=True,
        token="GITLAB_TOKEN",
    ),
    "mlflow": Source(
        "mlflow",
        "MLflow: runs, registered versions, aliases",
        "Tracking URI",
        "sqlite:///mlflow.db or http://127.0.0.1:5000",
    ),
}


def available(source: str) -> bool:
    """Whether this OpsLab has the source's importer (found without importing it: MLflow's is slow to load)."""
    return importlib.util.find_spec(f"pipelines.importers.{source}") is not None


def importer(source: str) -> Callable[..., ImportSummary] | None:
    """`import_<source>` of `pipelines.importers.<source>`, or None while this OpsLab has no such importer."""
    module_name = f"pipelines.importers.{source}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise  # the importer is there but needs a package that is not installed: say which
    found = getattr(module, f"import_{source}", None)
    return found if callable(found) else None


def default_workspace(source: str, seat: str | None) -> str:
    """A workspace of the import's own (a played one is refused), a seat's own in room mode."""
    return f"{seat}-{source}" if seat else f"imported-{source}"


def run_import(
    db: str, workspace: str, source: str, location: str, options: Mapping[str, Any] | None = None
) -> ImportSummary:
    """Import `location` into `workspace` through the source's importer; bad input is one sentence."""
    if source not in SOURCES:
        raise OpsLabError(f"There is no importer for {source!r}; the sources are {', '.join(SOURCES)}.")
    if not location.strip():
        raise OpsLabError(f"Give the {SOURCES[source].location.lower()} to import from.")
    name = check_workspace_name(workspace.strip())
    run = importer(source)
    if run is None:
        raise OpsLabError(
            f"The {source} importer is not in this OpsLab yet: update it (git pull) to import {source}."
        )
    return run(RunHistory(db).store(name), name, location.strip(), **dict(options or {}))


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def save_uploads(directory: Path, files: Sequence[tuple[str, bytes]]) -> Path:
    """Keep uploaded JSON pages in one folder named by their content (the same upload, the same folder),
    which the importer then reads like a folder of saved pages."""
    digest = hashlib.sha256()
    for name, content in sorted(files):
        if not name.lower().endswith(".json"):
            raise OpsLabError(f"{name} is not a .json file: upload the JSON pages the API returned.")
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    folder = directory / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files:
        target = folder / _SAFE.sub("_", Path(name).name)
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(content)
            tmp.replace(target)
    return folder


@dataclass
class ImportJob:
    """One import started from the browser: running, then its summary or its one-sentence error."""

    source: str
    workspace: str
    location: str
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    summary: ImportSummary | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def run(self, db: str, options: Mapping[str, Any]) -> None:
        try:
            self.summary = run_import(db, self.workspace, self.source, self.location, options)
        except (OpsLabError, ValueError, OSError) as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: one sentence on the page, the traceback in the server's log
            log.exception("import of %s into %s failed", self.source, self.workspace)
            self.error = (
                f"The import stopped on an unexpected {type(exc).__name__} (a bug in OpsLab; the server's log "
                "has the details). Nothing was imported."
            )
        finally:
            self.finished = time.monotonic()


class ImportJobs:
    """The server's imports, one at a time per target workspace (a second would wait on the first's lock)."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], ImportJob] = {}
        self._lock = threading.Lock()

    def get(self, db: str, workspace: str) -> ImportJob | None:
        return self._jobs.get((db, workspace))

    def start(
        self, db: str, workspace: str, source: str, location: str, options: Mapping[str, Any] | None = None
    ) -> ImportJob:
        with self._lock:
            current = self._jobs.get((db, workspace))
            if current is not None and current.running:
                raise OpsLabError(
                    f"An import into {workspace!r} is already running ({current.source}, {current.elapsed:.0f} s): "
                    "wait for it to finish."
                )
            job = ImportJob(source, workspace, location)
            self._jobs[(db, workspace)] = job
        thread = threading.Thread(target=job.run, args=(db, dict(options or {})), daemon=True,
                                  name=f"opslab-import-{workspace}")  # fmt: skip
        thread.start()
        return job
