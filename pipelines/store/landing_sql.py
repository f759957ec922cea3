"""Landing an import: the source's raw records, then the store's SQL that turns them into history.

An importer reads a source (a git repository, saved `gh api` pages, a GitLab export, an MLflow tracking
server) into `LandedRecord`s and hands them here with the transform statements of its source
(`pipelines/store/import_<source>_sql.py`). `land_and_transform` does everything in ONE transaction:

1. an `imports` row (who, from where, with which options);
2. the records into `landing`, keyed by (workspace, source, kind, source_id): a record seen before is
   replaced only when its payload changed, so a re-import adds only what is new and never duplicates;
3. the source's transform statements, each `INSERT ... SELECT ... FROM landing` (or an UPDATE) written to
   be idempotent: it derives its rows' ids from source ids and skips (or replaces) rows already there;
4. the `imports` row finished with the counts.

Anything failing rolls the whole import back: nothing half-written. The transforms get the parameters
they name out of `$workspace`, `$source`, `$import_id` and the importer's own options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.store.core import Store, from_json, new_id, now_utc, to_json

__all__ = ["ImportSummary", "LandedRecord", "imports_log", "land_and_transform", "landed", "watermark"]

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class LandedRecord:
    """One record of a source, as the source gave it."""

    kind: str  # the source's record type: commit, tag, workflow_run, job, deployment, run, ...
    source_id: str  # the source's own id: unique per (source, kind)
    payload: Mapping[str, Any]
    updated_at: datetime | None = None  # the source's last change of the record, if it says


@dataclass(frozen=True)
class ImportSummary:
    import_id: str
    workspace: str
    source: str
    records: int  # read from the source
    new_records: int  # new or changed since the last import
    note: str | None


_UPSERT_SQL = """
INSERT INTO landing AS l (workspace, source, kind, source_id, payload, updated_at, landed_at, import_id)
SELECT $workspace, $source, kind, source_id, payload, updated_at, $now, $import_id FROM _opslab_landing
ON CONFLICT (workspace, source, kind, source_id) DO UPDATE
SET payload = excluded.payload, updated_at = excluded.updated_at, landed_at = excluded.landed_at,
    import_id = excluded.import_id
WHERE CAST(l.payload AS VARCHAR) <> CAST(excluded.payload AS VARCHAR)
"""

_CHANGED_SQL = "SELECT count(*) FROM landing WHERE workspace = $workspace AND import_id = $import_id"


def _bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses unused ones); a missing one is a bug."""
    used = set(_PARAM.findall(sql))
    missing = used - set(params)
    if missing:
        raise ValueError(f"transform parameters not given: {', '.join(sorted(missing))}")
    return {k: params[k] for k in used}


def land_and_transform(
    store: Store,
    workspace: str,
    source: str,
    records: Iterable[LandedRecord],
    transforms: Sequence[str],
    *,
    location: str | None = None,
    options: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> ImportSummary:
    """Land `records` and run `transforms`, all or nothing (see the module's docstring)."""
    rows = [
        (r.kind, r.source_id, to_json(dict(r.payload)), r.updated_at)
        for r in records  # consumed before the transaction: a parse error writes nothing
    ]
    frame = pd.DataFrame(rows, columns=["kind", "source_id", "payload", "updated_at"])
    frame = frame.drop_duplicates(subset=["kind", "source_id"], keep="last")
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True).dt.tz_localize(None)
    import_id = new_id()
    params: dict[str, Any] = {
        **(options or {}),
        "workspace": workspace,
        "source": source,
        "import_id": import_id,
        "now": now_utc(),
    }
    store.ensure_workspace(workspace)
    with store._write() as con:
        # DuckDB draws a progress bar on stdout for statements over 2 s (a 100k-commit import's), which
        # would corrupt `opslab import ... --json` as the Control room reads it
        con.execute("SET enable_progress_bar = false")
        con.execute("BEGIN TRANSACTION")
        try:
            _refuse_shared_ids(con, store, workspace, source)
            con.execute(
                "INSERT INTO imports (import_id, workspace, source, location, options, started_at, status, "
                "note) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                [import_id, workspace, source, location, to_json(dict(options or {})), params["now"], note],
            )
            con.register("_opslab_landing", frame)
            try:
                con.execute(_UPSERT_SQL, _bind(_UPSERT_SQL, params))
            finally:
                con.unregister("_opslab_landing")
            changed = con.execute(_CHANGED_SQL, _bind(_CHANGED_SQL, params)).fetchone()
            new_records = int(changed[0]) if changed else 0
            for statement in transforms:
                con.execute(statement, _bind(statement, params))
            con.execute(
                "UPDATE imports SET status = 'succeeded', finished_at = ?, records = ?, new_records = ? "
                "WHERE import_id = ?",
                [now_utc(), len(frame), new_records, import_id],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return ImportSummary(import_id, workspace, source, len(frame), new_records, note)


def _refuse_shared_ids(con: Any, store: Store, workspace: str, source: str) -> None:
    """Imported rows take their ids from the source's (`git:tag:v1.2.0`, `github:run:123`): in a one-file
    history two workspaces importing from one source would share them, and the second import would
    rewrite the first one's rows. A history folder (the default) keeps a file per workspace."""
    other = con.execute(
        "SELECT workspace FROM imports WHERE source = ? AND workspace <> ? LIMIT 1", [source, workspace]
    ).fetchone()
    if other:
        raise OpsLabError(
            f"workspace {other[0]!r} of {store.path} imported from {source} already, and imported rows are "
            f"named by the source's ids: import into {workspace!r} in a history folder (--db a folder, one "
            "file per workspace), or into that workspace. Nothing was imported."
        )


def watermark(store: Store, workspace: str, source: str, kind: str) -> datetime | None:
    """The latest `updated_at` landed for a kind of record: an incremental import asks the source
    only for what changed after it (None: nothing landed yet)."""
    if not store.exists():
        return None
    frame = store._frame(
        "SELECT max(updated_at) AS last FROM landing WHERE workspace = ? AND source = ? AND kind = ?",
        [workspace, source, kind],
    )
    value = frame["last"].iloc[0] if not frame.empty else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def landed(store: Store, workspace: str, source: str, kind: str) -> list[dict[str, Any]]:
    """The landed payloads of one kind of record, oldest landing first."""
    if not store.exists():
        return []
    frame = store._frame(
        "SELECT payload FROM landing WHERE workspace = ? AND source = ? AND kind = ? ORDER BY landed_at, "
        "source_id",
        [workspace, source, kind],
    )
    return [from_json(p) for p in frame["payload"]]


def imports_log(store: Store, workspace: str) -> pd.DataFrame:
    """Every import into the workspace, newest first (the pages show what each source could not tell)."""
    if not store.exists():
        return pd.DataFrame()
    return store._frame(
        "SELECT import_id, source, location, started_at, finished_at, status, records, new_records, note, "
        "error FROM imports WHERE workspace = ? ORDER BY started_at DESC",
        [workspace],
    )
