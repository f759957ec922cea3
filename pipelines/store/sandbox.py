"""SQL for people: the History console and `opslab sql`, sandboxed by construction.

The user's SQL never runs on the run-history file. The file is opened read-only just long enough to
copy the chosen workspace's rows of every table into a fresh in-memory DuckDB, and closed before the
query starts, so the query can neither see another workspace (by any name: catalog, schema,
`duckdb_tables()`, `information_schema`, ATTACH) nor hold the file's lock and block a writer.

The in-memory connection cannot touch files, load extensions or scan Python objects, and cannot
change those settings (`enable_external_access = false`, `python_enable_replacements = false`,
`lock_configuration = true`); it has one thread and a memory limit, with no temporary directory to
spill into. Only one read statement runs (DuckDB's own parser decides), wrapped in
`SELECT * FROM (...) LIMIT max_rows + 1` so a huge result never materialises; the rows are read in
Arrow batches up to a byte budget, and a watchdog interrupts the query at the time limit or on
`cancel()`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipelines.paths import check_workspace_name
from pipelines.store.connection import StoreError, open_connection
from pipelines.store.core import READ_ONLY_CONFIG
from pipelines.store.liveness import dead_runners, presented_sql
from pipelines.store.schema import TABLES

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "EXAMPLE_QUERIES",
    "MAX_ROWS",
    "MEMORY_LIMIT_MB",
    "RESULT_BUDGET_MB",
    "ConsoleQuery",
    "QueryError",
    "QueryResult",
    "console_timeout_s",
    "copy_workspace",
    "run_query",
]

EXAMPLE_QUERIES = {
    "Runs by kind and status": "SELECT kind, status, count(*) AS runs\nFROM runs\nGROUP BY ALL\nORDER BY kind, status",
    "Slowest pipeline steps": (
        "SELECT name, count(*) AS runs, round(median(duration_ms)) AS median_ms, round(max(duration_ms)) AS max_ms\n"
        "FROM steps\nGROUP BY name\nORDER BY median_ms DESC"
    ),
    "Deployments with their incidents": (
        "SELECT d.sim_time, d.kind, d.ref, d.unplanned, d.rolled_back, i.summary AS incident\n"
        "FROM deployments d LEFT JOIN incidents i ON i.cause_deployment_id = d.deployment_id\n"
        "ORDER BY d.sim_time"
    ),
    "Model registry with holdout MAE": (
        "SELECT version, sim_time, window_start, window_end, metrics->>'mae' AS mae, left(sha256, 12) AS sha\n"
        "FROM model_versions\nORDER BY version"
    ),
    "Weeks where production beat the never-retrained model": (
        "SELECT week, sim_time, quality, quality_never_retrained,\n"
        "       quality_never_retrained - quality AS gain\nFROM weekly\n"
        "WHERE quality IS NOT NULL\nORDER BY gain DESC\nLIMIT 20"
    ),
    "Most drifted features": (
        "SELECT feature, test, count(*) FILTER (WHERE drifted) AS weeks_drifted, round(avg(statistic), 3) AS mean_stat\n"
        "FROM drift\nGROUP BY ALL\nORDER BY weeks_drifted DESC"
    ),
    "Imports: where the history came from, what it cannot tell": (
        "SELECT source, location, finished_at, records, new_records, note\nFROM imports\nORDER BY started_at"
    ),
}

DEFAULT_TIMEOUT_S = 10.0
MAX_ROWS = 10_000
MEMORY_LIMIT_MB = 256
RESULT_BUDGET_MB = 64  # Arrow bytes read before the console stops: pandas then needs a few times that
_BATCH_ROWS = 2048
_WATCH_EVERY_S = 0.05

CONSOLE_CONFIG: dict[str, str | int | float | list[str]] = {
    "enable_external_access": False,
    "python_enable_replacements": False,
    "memory_limit": f"{MEMORY_LIMIT_MB}MB",
    "temp_directory": "",  # nothing to spill into: the memory limit is a limit
    "threads": 1,
}
_COLUMNS_SQL = """
    SELECT table_name, column_name, data_type
    FROM duckdb_columns()
    WHERE database_name = current_database() AND schema_name = 'main'
    ORDER BY table_name, column_index
"""
_READ_KINDS = "SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE"


class QueryError(StoreError):
    """The console refused or stopped the query; one sentence, or DuckDB's own message."""


def console_timeout_s() -> float:
    """The console's time limit: `OPSLAB_CONSOLE_TIMEOUT` seconds, else 10 s."""
    raw = os.environ.get("OPSLAB_CONSOLE_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        return max(0.1, float(raw))
    except ValueError:
        raise StoreError(f"OPSLAB_CONSOLE_TIMEOUT must be a number of seconds, not {raw!r}.") from None


@dataclass(frozen=True)
class QueryResult:
    """The rows a console query returned, and whether there were more than it kept."""

    frame: pd.DataFrame
    truncated: bool
    max_rows: int
    elapsed_s: float
    copy_s: float  # of elapsed_s, the time spent copying the workspace out of the file
    over_budget: bool = False

    @property
    def note(self) -> str:
        rows = len(self.frame)
        if self.over_budget:
            return f"first {rows:,} rows shown: the console stops reading at {RESULT_BUDGET_MB} MB"
        if self.truncated:
            return f"first {rows:,} rows shown: the query has more"
        return f"{rows:,} row{'' if rows == 1 else 's'}"


def single_read_statement(sql: str) -> str:
    """The one read statement in `sql`, without its semicolon; anything else is a `QueryError`."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip()) from None
    if not statements:
        raise QueryError("The query is empty: write a SELECT, or pick an example.")
    if len(statements) > 1:
        raise QueryError(
            f"The console runs one statement at a time and this has {len(statements)}: run them one by one."
        )
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.replace("_", " ")
        raise QueryError(
            f"The console is read-only and runs one query ({_READ_KINDS}), and this is a {kind} statement."
        )
    return statement.query.strip().rstrip(";").rstrip()


def tables_named(sql: str) -> set[str] | None:
    """The workspace tables a query reads, when DuckDB's parser can tell and it reads only those;
    None when it reads something else too (information_schema, duckdb_tables(), nothing at all)."""
    try:
        named = {name.lower() for name in duckdb.get_table_names(sql)}
    except duckdb.Error:
        return None
    return named if named and named <= set(TABLES) else None


def copy_workspace(path: Path, workspace: str, tables: set[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A sandboxed in-memory DuckDB holding `workspace`'s rows of every table (or of `tables` only: a
    query over `runs` need not wait for a million steps to be copied); the file is closed."""
    name = check_workspace_name(workspace)
    if not Path(path).exists():
        raise QueryError(f"There is no run history at {path} yet.")
    source = open_connection(Path(path), read_only=True, config=READ_ONLY_CONFIG)
    try:
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in source.execute(_COLUMNS_SQL).fetchall():
            columns.setdefault(table, []).append((column, kind))
        rows: dict[str, pa.Table] = {}
        dead = dead_runners(source)  # a run whose process died reads as interrupted here too
        for table in (t for t in TABLES if t in columns and (tables is None or t in tables)):
            key = "name" if table == "workspaces" else "workspace"
            table_sql = (
                presented_sql(table, f"main.{table}", dead[table])
                if table in dead
                else f"SELECT * FROM main.{table}"
            )
            rows[table] = source.sql(
                f"SELECT * FROM ({table_sql}) WHERE {key} = $name", params={"name": name}
            ).to_arrow_table()
    finally:
        source.close()  # before any user SQL: a reader holding the file would block every writer
    sandbox = duckdb.connect(":memory:", config=CONSOLE_CONFIG)
    try:
        for table, data in rows.items():
            # The file's own column types (JSON, structs, lists), which an Arrow round trip would lose.
            body = ", ".join(f'"{column}" {kind}' for column, kind in columns[table])
            sandbox.execute(f"CREATE TABLE {table} ({body})")
            sandbox.register("copied_rows", data)
            sandbox.execute(f"INSERT INTO {table} SELECT * FROM copied_rows")
            sandbox.unregister("copied_rows")
        sandbox.execute("SET lock_configuration = true")
    except BaseException:
        sandbox.close()
        raise
    return sandbox


def _decimals_as_floats(table: pa.Table) -> pa.Table:
    """`sum()` of integers is HUGEINT, an Arrow decimal: show it as a number, as DuckDB's `.df()` does."""
    fields = [pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


class ConsoleQuery:
    """One console query over one workspace: `run()` here, or `start()` in a worker; `cancel()` stops it.

    A watchdog thread interrupts DuckDB at the time limit or on cancel, and keeps interrupting until
    the query ends (an interrupt that lands just before DuckDB starts executing would be forgotten).
    """

    def __init__(
        self,
        path: Path | str,
        workspace: str,
        sql: str,
        *,
        timeout_s: float | None = None,
        max_rows: int = MAX_ROWS,
    ) -> None:
        if max_rows < 1:
            raise QueryError(f"The row limit must be at least 1, not {max_rows}.")
        self.path = Path(path)
        self.workspace = check_workspace_name(workspace)
        self.sql = sql
        self.timeout_s = console_timeout_s() if timeout_s is None else float(timeout_s)
        self.max_rows = max_rows
        self._started = time.monotonic()
        self._ended: float | None = None
        self._stop_reason: str | None = None
        self._reason_lock = threading.Lock()
        self._running = threading.Event()  # the user's SQL is executing (the file is closed)
        self._query_done = threading.Event()
        self._finished = threading.Event()
        self._outcome: QueryResult | Exception | None = None

    # -- control -------------------------------------------------------------------------------
    def start(self) -> ConsoleQuery:
        threading.Thread(target=self._settle, name="opslab-console-query", daemon=True).start()
        return self

    def run(self) -> QueryResult:
        self._settle()
        return self.result()

    def cancel(self) -> None:
        self._stop("cancelled")

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        return self._finished.wait(timeout_s)

    def wait_running(self, timeout_s: float | None = None) -> bool:
        """Wait until the user's SQL executes (the workspace is copied and the file closed)."""
        return self._running.wait(timeout_s)

    @property
    def elapsed_s(self) -> float:
        return (self._ended or time.monotonic()) - self._started

    def result(self) -> QueryResult:
        """The rows; raises the `QueryError` (or any other error) that ended the query."""
        if not self._finished.is_set():
            raise RuntimeError("the console query is still running: wait() for it first")
        if isinstance(self._outcome, Exception):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    # -- work ------------------------------------------------------------------------------------
    def _stop(self, reason: str) -> None:
        with self._reason_lock:
            self._stop_reason = self._stop_reason or reason

    def _stopped_error(self) -> QueryError:
        if self._stop_reason == "timeout":
            return QueryError(
                f"The query was stopped after {self.timeout_s:g} s, the console's time limit: "
                "filter, aggregate or add a LIMIT so that it answers sooner."
            )
        return QueryError("The query was cancelled.")

    def _settle(self) -> None:
        try:
            self._outcome = self._execute()
        except Exception as exc:  # carried to result(), in whichever thread asks
            self._outcome = exc
        finally:
            self._ended = time.monotonic()
            self._finished.set()

    def _watch(self, con: duckdb.DuckDBPyConnection) -> None:
        deadline = self._started + self.timeout_s
        while not self._query_done.wait(_WATCH_EVERY_S):
            if time.monotonic() >= deadline:
                self._stop("timeout")
            if self._stop_reason is not None:
                con.interrupt()

    def _execute(self) -> QueryResult:
        body = single_read_statement(self.sql)
        if self._stop_reason is not None:
            raise self._stopped_error()
        sandbox = copy_workspace(self.path, self.workspace, tables_named(body))
        copy_s = time.monotonic() - self._started
        watchdog = threading.Thread(
            target=self._watch, args=(sandbox,), name="opslab-console-watch", daemon=True
        )
        try:
            watchdog.start()
            self._running.set()
            # A newline before `)` so that a trailing `-- comment` cannot swallow it; the user's
            # line numbers stay the same in DuckDB's messages.
            wrapped = f"SELECT * FROM ({body}\n) LIMIT {self.max_rows + 1}"
            return self._fetch(sandbox, wrapped, copy_s)
        except (duckdb.Error, OSError) as exc:  # past the first batch, DuckDB's errors arrive as OSError
            raise self._error_for(exc) from None
        finally:
            self._query_done.set()
            watchdog.join()
            sandbox.close()

    def _error_for(self, exc: Exception) -> QueryError:
        text = str(exc).strip()
        if isinstance(exc, duckdb.InterruptException) or text.startswith("INTERRUPT Error"):
            self._stop("cancelled")  # nothing but the watchdog interrupts this connection
            return self._stopped_error()
        if isinstance(exc, duckdb.OutOfMemoryException) or text.startswith("Out of Memory Error"):
            return QueryError(
                f"The query needed more than {MEMORY_LIMIT_MB} MB of memory, the console's limit: "
                "filter or aggregate before the heavy part, or add a LIMIT."
            )
        return QueryError(text)

    def _fetch(self, con: duckdb.DuckDBPyConnection, sql: str, copy_s: float) -> QueryResult:
        reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
        budget = RESULT_BUDGET_MB * 2**20
        batches: list[pa.RecordBatch] = []
        rows = size = 0
        over_budget = False
        for batch in reader:
            if size + batch.nbytes > budget:  # keep the rows that fit, as if they were alike in size
                fits = int(batch.num_rows * (budget - size) / batch.nbytes)
                batch, over_budget = batch.slice(0, fits), True
            batches.append(batch)
            rows, size = rows + batch.num_rows, size + batch.nbytes
            if over_budget or rows > self.max_rows:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, self.max_rows)
        return QueryResult(
            frame=_decimals_as_floats(table).to_pandas(),
            truncated=rows > self.max_rows or over_budget,
            max_rows=self.max_rows,
            elapsed_s=time.monotonic() - self._started,
            copy_s=copy_s,
            over_budget=over_budget,
        )


def run_query(
    path: Path | str,
    workspace: str,
    sql: str,
    *,
    timeout_s: float | None = None,
    max_rows: int = MAX_ROWS,
) -> QueryResult:
    """Run one read query over one workspace's rows, in this thread, within the console's limits."""
    return ConsoleQuery(path, workspace, sql, timeout_s=timeout_s, max_rows=max_rows).run()
