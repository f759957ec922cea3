"""The History console's sandbox: one workspace's rows, one read query, bounded in time, rows and memory.

Each escape below got around the old "scoped to workspace" views; each runaway query below either held
the database file (blocking every writer) or filled the server's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.store import Store
from pipelines.store.sandbox import ConsoleQuery, QueryError, run_query

REPO = Path(__file__).resolve().parents[1]
OWN, OTHER = "seat-01", "seat-02"
OWN_RUNS = 2


@pytest.fixture
def room(tmp_path: Path) -> Path:
    """One file, two seats: seat-01 with 2 runs, seat-02 with 3."""
    store = Store(tmp_path / "room.duckdb")
    for seat, runs in ((OWN, OWN_RUNS), (OTHER, 3)):
        store.ensure_workspace(seat)
        for week in range(runs):
            store.start_run(
                workspace=seat,
                kind="devops",
                trigger="commit",
                sim_time=datetime(2011, 1, 3) + timedelta(weeks=week),
                label=f"{seat} week {week}",
            )
    return store.path


def visible(db: Path, sql: str) -> pd.DataFrame | None:
    """What seat-01 sees for `sql`, or None when the console refuses it."""
    try:
        return run_query(db, OWN, sql, timeout_s=10).frame
    except QueryError:
        return None


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT workspace FROM "room".main.runs',  # the file's catalog, fully qualified
        "SELECT workspace FROM room.runs",
        "SELECT workspace FROM main.runs",  # the schema the old temp views did not shadow
        "SELECT workspace FROM memory.main.runs",
        "SELECT workspace FROM temp.main.runs",
        "SELECT workspace FROM runs",
        "SELECT name AS workspace FROM workspaces",
        'SELECT name AS workspace FROM "room".main.workspaces',
    ],
)
def test_no_name_reaches_another_seats_rows(room: Path, sql: str) -> None:
    frame = visible(room, sql)
    assert frame is None or set(frame["workspace"]) <= {OWN}, frame


def test_the_catalog_functions_count_only_this_workspace(room: Path) -> None:
    tables = visible(room, "SELECT database_name, table_name, estimated_size FROM duckdb_tables()")
    assert tables is not None
    runs = tables[tables["table_name"] == "runs"]
    assert runs["estimated_size"].sum() == OWN_RUNS, runs  # 5 rows in the file, 2 of them seat-01's
    # Every base table information_schema lists, read by its full name, holds only this seat's rows.
    listed = visible(
        room,
        "SELECT table_catalog, table_schema FROM information_schema.tables "
        "WHERE table_name = 'runs' AND table_type = 'BASE TABLE'",
    )
    assert listed is not None and len(listed) >= 1
    for catalog, schema in listed.itertuples(index=False):
        frame = visible(room, f'SELECT workspace FROM "{catalog}"."{schema}".runs')
        assert frame is not None and frame["workspace"].tolist() == [OWN] * OWN_RUNS


def test_the_database_file_is_not_attached_and_cannot_be(room: Path) -> None:
    databases = visible(room, "SELECT database_name, path FROM duckdb_databases()")
    assert databases is not None
    assert str(room) not in set(databases["path"].dropna()), databases
    for sql in (
        f"ATTACH '{room}' AS other (READ_ONLY)",
        f"SELECT * FROM read_duckdb('{room}', table_name => 'runs')",
        f"SELECT * FROM read_csv('{room}')",
    ):
        with pytest.raises(QueryError):
            run_query(room, OWN, sql, timeout_s=10)


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("CREATE TABLE sneaky AS SELECT 1 AS x", "read-only"),
        ("SET enable_external_access = true", "read-only"),
        ("INSTALL httpfs", "read-only"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELEKT 1", "syntax error"),
        ("  -- only a comment\n", "empty"),
    ],
)
def test_only_one_read_query_runs_and_refusals_are_one_sentence(room: Path, sql: str, said: str) -> None:
    with pytest.raises(QueryError, match=said) as info:
        run_query(room, OWN, sql)
    if said != "syntax error":  # DuckDB's own parser message keeps its caret lines
        assert "\n" not in str(info.value)


@pytest.mark.timeout(60)
def test_the_row_limit_is_pushed_into_the_query(room: Path) -> None:
    started = time.monotonic()
    result = run_query(room, OWN, "SELECT range AS n FROM range(10000000000)", max_rows=50, timeout_s=20)
    assert time.monotonic() - started < 10  # ten billion rows never materialise
    assert len(result.frame) == 50 and result.truncated
    assert result.frame["n"].tolist() == list(range(50))
    assert "first 50 rows" in result.note
    small = run_query(room, OWN, "SELECT * FROM (VALUES (2), (1)) v(x) ORDER BY x;", max_rows=50)
    assert small.frame["x"].tolist() == [1, 2] and not small.truncated and small.note == "2 rows"


@pytest.mark.timeout(60)
def test_a_huge_result_stops_at_the_byte_budget(room: Path) -> None:
    result = run_query(room, OWN, "SELECT repeat('x', 1000000) AS s FROM range(500)", max_rows=10_000)
    assert result.truncated and 0 < len(result.frame) < 500
    assert "MB" in result.note


@pytest.mark.timeout(60)
def test_the_memory_limit_is_a_sentence(room: Path) -> None:
    with pytest.raises(QueryError, match="256 MB") as info:
        run_query(room, OWN, "SELECT max(len(x)) FROM (SELECT list(i) AS x FROM range(100000000) t(i))")
    assert "\n" not in str(info.value)


WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from pipelines.store import Store

    store = Store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # go: the console query is running now
    started = time.time()
    done = []
    for week in range(5):
        store.start_run(workspace="seat-02", kind="mlops", trigger="schedule", sim_time=datetime(2011, 6, 1))
        done.append(time.time())
    print(started, done[0], flush=True)
    """
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "runaway",
    [
        "SELECT count(*) FROM range(1000000000000)",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r",
    ],
)
def test_a_runaway_query_stops_at_the_timeout_and_never_blocks_a_writer(room: Path, runaway: str) -> None:
    # The writer gives up on a held lock after 0.3 s, well inside the query's 1 s.
    env = {**os.environ, "OPSLAB_LOCK_TIMEOUT": "0.3", "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(room)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert writer.stdout is not None and writer.stdin is not None
    assert writer.stdout.readline().strip() == "ready"
    query_started = time.time()
    query = ConsoleQuery(room, OWN, runaway, timeout_s=1).start()
    assert query.wait_running(10)
    writer.stdin.write("go\n")
    writer.stdin.flush()
    out, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    writes_began, first_write_done = map(float, out.split())
    assert query.wait(10)
    with pytest.raises(QueryError, match=r"stopped after 1 s") as info:
        query.result()
    assert "\n" not in str(info.value)
    assert 0.9 <= query.elapsed_s < 5
    # The writer began after the query had the workspace, and its first write was done (a lock held
    # by the query would have failed it after 0.3 s) while the query was still running.
    assert query_started < writes_began < first_write_done < query_started + query.elapsed_s
    assert Store(room).list_workspaces().set_index("name").loc[OTHER, "runs"] == 3 + 5


@pytest.mark.timeout(60)
def test_cancel_stops_a_running_query(room: Path) -> None:
    query = ConsoleQuery(room, OWN, "SELECT count(*) FROM range(1000000000000)", timeout_s=30).start()
    assert query.wait_running(10)
    query.cancel()
    assert query.wait(5)
    with pytest.raises(QueryError, match="cancelled"):
        query.result()
    assert query.elapsed_s < 5


def test_opslab_sql_prints_a_table_and_json(room: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT label, kind FROM runs ORDER BY label"
    assert main(["--db", str(room), "sql", sql, "--workspace", OWN]) == 0
    out = capsys.readouterr().out
    assert "seat-01 week 0" in out and "seat-01 week 1" in out and "seat-02" not in out
    assert main(["--db", str(room), "--workspace", OTHER, "sql", sql, "--json", "--max-rows", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in printed["rows"]] == ["seat-02 week 0", "seat-02 week 1"]
    assert printed["truncated"] is True and printed["max_rows"] == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["sql", "DELETE FROM runs", "--workspace", OWN], "read-only"),
        (
            ["sql", "SELECT count(*) FROM range(1000000000000)", "--workspace", OWN, "--timeout", "1"],
            "stopped after 1 s",
        ),
        (["sql", "SELECT 1", "--workspace", "nobody"], "does not exist"),
    ],
)
def test_opslab_sql_errors_are_one_sentence(
    room: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert main(["--db", str(room), *argv]) != 0
    captured = capsys.readouterr()
    assert said in captured.err and captured.err.count("\n") == 1 and not captured.out
