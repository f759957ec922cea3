"""Landing an import: all or nothing, and a re-import adds only what is new (issue #12)."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.importers import ImportFormatError, check_importable
from pipelines.store import Store
from pipelines.store.landing_sql import LandedRecord, imports_log, land_and_transform, landed, watermark

# A transform in the shape every importer's are: runs derived from landed rows, ids from source ids,
# never inserted twice.
RUNS_FROM_LANDING = """
INSERT INTO runs (run_id, workspace, kind, trigger, status, sim_time, started_at, finished_at)
SELECT 'test:run:' || l.source_id, l.workspace, 'devops', 'commit', l.payload ->> 'status',
       CAST(l.payload ->> 'at' AS TIMESTAMP), CAST(l.payload ->> 'at' AS TIMESTAMP),
       CAST(l.payload ->> 'at' AS TIMESTAMP)
FROM landing l
WHERE l.workspace = $workspace AND l.source = $source AND l.kind = 'run'
ON CONFLICT (run_id) DO UPDATE SET status = excluded.status
"""


def _runs(n: int, status: str = "succeeded") -> list[LandedRecord]:
    return [
        LandedRecord("run", str(i), {"status": status, "at": f"2026-01-{i + 1:02d}T10:00:00"},
                     datetime(2026, 1, i + 1, 10))
        for i in range(n)
    ]  # fmt: skip


def _count(store: Store, table: str) -> int:
    return int(store._frame(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


def test_a_reimport_adds_only_what_is_new(store: Store) -> None:
    first = land_and_transform(store, "mine", "test", _runs(3), [RUNS_FROM_LANDING], location="here")
    assert (first.records, first.new_records) == (3, 3)
    again = land_and_transform(store, "mine", "test", _runs(5), [RUNS_FROM_LANDING])
    assert (again.records, again.new_records) == (5, 2)
    assert _count(store, "landing") == 5
    assert _count(store, "runs") == 5
    assert watermark(store, "mine", "test", "run") == datetime(2026, 1, 5, 10)
    log = imports_log(store, "mine")
    assert list(log["status"]) == ["succeeded", "succeeded"]
    assert sorted(log["new_records"]) == [2, 3]


def test_a_changed_record_is_landed_again_and_transformed(store: Store) -> None:
    land_and_transform(store, "mine", "test", _runs(2, "running"), [RUNS_FROM_LANDING])
    summary = land_and_transform(store, "mine", "test", _runs(2, "failed"), [RUNS_FROM_LANDING])
    assert summary.new_records == 2
    assert set(store.select("runs", "mine")["status"]) == {"failed"}
    assert [p["status"] for p in landed(store, "mine", "test", "run")] == ["failed", "failed"]


def test_a_failing_transform_leaves_nothing_half_written(store: Store) -> None:
    land_and_transform(store, "mine", "test", _runs(1), [RUNS_FROM_LANDING])
    broken = "INSERT INTO runs (run_id, workspace) SELECT source_id, workspace FROM landing WHERE workspace = $workspace"
    with pytest.raises(Exception, match="NOT NULL"):
        land_and_transform(store, "mine", "test", _runs(4), [RUNS_FROM_LANDING, broken])
    assert _count(store, "landing") == 1
    assert _count(store, "runs") == 1
    assert list(imports_log(store, "mine")["status"]) == ["succeeded"]


def test_a_parse_error_writes_nothing(store: Store) -> None:
    def records():
        yield from _runs(2)
        raise ImportFormatError("runs.json", "workflow_runs[2].id", "is missing")

    with pytest.raises(ImportFormatError, match=r"runs.json: workflow_runs\[2\].id is missing; nothing"):
        land_and_transform(store, "mine", "test", records(), [RUNS_FROM_LANDING])
    assert not store.exists() or _count(store, "landing") == 0


def test_an_import_refuses_a_played_workspace(store: Store) -> None:
    store.ensure_workspace("demo", scenario="full-story", seed=7)
    with pytest.raises(Exception, match="holds a played scenario"):
        check_importable(store, "demo")
    check_importable(store, "fresh")


def test_one_file_refuses_a_second_workspace_importing_the_same_source(store: Store) -> None:
    # Imported ids come from the source's (a tag, a run id): two workspaces of one file would share them,
    # and the second import would rewrite the first one's rows. A history folder keeps a file each.
    land_and_transform(store, "ours", "test", _runs(2), [RUNS_FROM_LANDING])
    with pytest.raises(Exception, match=r"workspace 'ours' of .* imported from test already"):
        land_and_transform(store, "theirs", "test", _runs(3), [RUNS_FROM_LANDING])
    assert set(store.select("runs", "ours")["run_id"]) == {"test:run:0", "test:run:1"}
    assert store.select("runs", "theirs").empty
    land_and_transform(store, "theirs", "other", _runs(1), [])  # another source is fine
