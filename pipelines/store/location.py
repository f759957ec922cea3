"""Where a run history lives: a folder with one DuckDB file per workspace, or one shared file.

DuckDB lets one process write a file at a time, and while it writes no other process may even read
that file. A room of seats each playing a scenario would take turns on one file, so a history is
kept as a **folder** by default: workspace `seat-03` is the file `<folder>/seat-03.duckdb`, its
pipelines' files are in `<folder>/seat-03.duckdb.files/seat-03/`, and the Control room's settings
and uploads in `<folder>/_settings/` and `<folder>/_uploads/`. Seats never contend: each writer
holds only its own file, and a page reads only the file of the workspace it shows.

A path ending in `.duckdb` (or an existing file) names a **single-file** history: every workspace
in that one file, as OpsLab kept it before. It is fine for one person; two plays into it at once
take turns on its lock (see `pipelines.store.connection`).

Either way a workspace's rows carry its name, so a `Store` reads and writes the same tables in
the same way; `RunHistory.store(workspace)` is the one place that picks the file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from pipelines.paths import check_workspace_name
from pipelines.store.connection import StoreError
from pipelines.store.core import Store

__all__ = ["DB_SUFFIX", "RunHistory"]

DB_SUFFIX = ".duckdb"
# A path with one of these suffixes is data, not a history: refused rather than made a folder.
_NOT_A_HISTORY = {".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl", ".txt", ".xlsx", ".db", ".sqlite",
                  ".sqlite3", ".pkl", ".zip", ".gz"}  # fmt: skip
_LISTING = ["name", "created_at", "scenario", "seed", "runs", "weeks"]


class RunHistory:
    """A run history by its path: `store(workspace)` gives the `Store` that holds that workspace."""

    def __init__(self, path: str | os.PathLike[str], *, read_timeout_s: float | None = None) -> None:
        """`read_timeout_s` bounds how long this history's reads wait for a writer (default: the
        lock timeout, `OPSLAB_LOCK_TIMEOUT` or 15 s); writes always wait the lock timeout."""
        self.path = Path(path).expanduser().resolve()
        self.read_timeout_s = read_timeout_s
        self.single_file = self.path.suffix == DB_SUFFIX or self.path.is_file()
        above = next((p for p in self.path.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise StoreError(
                f"{above} is a file, not a folder, so no run history can be kept at {self.path}; give --db "
                "another path."
            )
        if self.path.suffix.lower() in _NOT_A_HISTORY and not self.path.is_dir():
            raise StoreError(
                f"{self.path} looks like a data file, not a run history: give --db a folder (a file per "
                "workspace) or a .duckdb file; data files go to --data."
            )
        if self.single_file and self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, so it cannot be a run-history file.")
        if not self.single_file and self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file but not a run history: give a folder or a .duckdb file.")
        self._shared: Store | None = (
            Store(self.path, read_timeout_s=read_timeout_s) if self.single_file else None
        )

    def __repr__(self) -> str:
        return f"RunHistory({str(self.path)!r})"

    @property
    def layout(self) -> str:
        return "one file" if self.single_file else "a file per workspace"

    def exists(self) -> bool:
        return self.path.exists()

    def check_writable(self, workspace: str) -> None:
        """Refuse, before the first write, a history this process cannot write. DuckDB commits through
        a `.wal` file beside the database and the pipelines keep their files beside it too, so a
        read-only folder fails mid-run even when the file itself is writable; this probes both."""
        file = self.workspace_file(workspace)
        folder = next((p for p in (file.parent, *file.parent.parents) if p.exists()), file.parent)
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise StoreError(
                f"The folder {folder} is read-only here ({exc.strerror or exc}): DuckDB writes {file.name}.wal "
                "and the pipelines their files beside the history, so nothing was written; give --db a folder "
                "you can write."
            ) from None
        if file.exists():
            try:
                os.close(os.open(file, os.O_WRONLY))
            except OSError as exc:
                raise StoreError(
                    f"The run history {file} is read-only here ({exc.strerror or exc}), so nothing was written; "
                    "make it writable or give --db another file."
                ) from None

    def workspace_file(self, workspace: str) -> Path:
        """The DuckDB file that holds `workspace`."""
        if self._shared is not None:
            return self.path
        return self.path / f"{check_workspace_name(workspace)}{DB_SUFFIX}"

    def store(self, workspace: str, *, polite: bool = False) -> Store:
        """The store of `workspace` (the shared one of a single-file history). A `polite` store only
        reads, and only when nobody writes the file (see `Store`): an onlooker's."""
        if self._shared is not None:
            return Store(self._shared.path, polite=True) if polite else self._shared
        return Store(
            self.workspace_file(workspace), history=self, polite=polite, read_timeout_s=self.read_timeout_s
        )

    def files_dir(self, kind: str) -> Path:
        """Where the Control room keeps its `kind` files (settings, uploads) for every workspace:
        `_kind` can never be a workspace's own name (names start with a letter or digit)."""
        base = self.path.parent / f"{self.path.name}.files" if self.single_file else self.path
        return base / f"_{kind}"

    def workspace_names(self) -> list[str]:
        """The workspaces there are. A folder's are its files' names, read without opening any file,
        so listing them never waits on (or slows) a seat that is playing."""
        if self._shared is not None:
            if not self._shared.exists():
                return []
            return [str(name) for name in self._shared.list_workspaces()["name"]]
        if not self.path.is_dir():
            return []
        names = []
        for file in self.path.glob(f"*{DB_SUFFIX}"):
            try:
                names.append(check_workspace_name(file.name[: -len(DB_SUFFIX)]))
            except ValueError:
                continue  # not one of ours
        return sorted(names)

    def list_workspaces(self) -> pd.DataFrame:
        """Every workspace with its scenario and run and week counts (opens each workspace's file)."""
        if self._shared is not None:
            return self._shared.list_workspaces()
        frames = [self.store(name).list_workspaces() for name in self.workspace_names()]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=_LISTING)
        return pd.concat(frames, ignore_index=True).sort_values("name", ignore_index=True)

    def stores(self) -> list[Store]:
        """One store per file of the history (a single-file history has one)."""
        if self._shared is not None:
            return [self._shared] if self._shared.exists() else []
        return [self.store(name) for name in self.workspace_names()]

    def delete_workspace(self, workspace: str) -> None:
        """Remove a workspace altogether: its rows, or in a folder its file, and its files."""
        store = self.store(workspace)
        if self._shared is not None:
            store.delete_workspace(workspace)
            return
        with store.session():  # holds the lock: a play in progress makes this wait, then refuse
            pass
        shutil.rmtree(store.path.parent / f"{store.path.name}.files", ignore_errors=True)
        for suffix in (".wal", ".wait", ""):
            store.path.with_name(store.path.name + suffix).unlink(missing_ok=True)
