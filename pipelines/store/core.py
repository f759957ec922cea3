"""The run-history store: every write and read of OpsLab goes through a named method here.

A `Store` is cheap: it holds a path, not a connection. Each method opens a short connection and
closes it, so the CLI and the dashboard can take turns on one file. A caller doing many writes in
a row (a scenario week) wraps them in `with store.session():`, which keeps one connection for the
block; statements from several threads are serialised by a lock, never interleaved. A long writer
(a scenario's weeks) uses `store.batched_sessions(n)`: one connection for up to `n` units of work,
handed to a waiting reader between two units.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

from pipelines.paths import check_workspace_name, workspace_dir
from pipelines.store.connection import StoreError, open_connection, readers_waiting, yield_to_readers
from pipelines.store.liveness import (
    INTERRUPTED_ERROR,
    RUN_TABLES,
    dead_runners,
    present_dead_runners,
    runner_alive,
)
from pipelines.store.schema import LATEST_VERSION, TABLES, current_version, migrate, refuse_newer

__all__ = ["BatchedSessions", "Store", "from_json", "new_id", "now_utc", "to_json"]

READ_ONLY_CONFIG = {"enable_external_access": False, "lock_configuration": True}


def now_utc() -> datetime:
    """Wall-clock time, naive UTC (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def from_json(text: str | None) -> Any:
    return json.loads(text) if text else {}


@dataclass(frozen=True)
class StepRecord:
    position: int
    name: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    metrics: Mapping[str, Any]
    log_tail: str
    error: str | None
    cache_key: str | None


class BatchedSessions:
    """Batches a long writer's units of work (a scenario's weeks) into a few write sessions.

    Opening a connection costs ~15 ms, so one is kept for up to `units` units; but while it is held
    no other process can even read the file, so the connection is also let go after any unit during
    which a reader asked for the file (see `readers_waiting`), and the writer pauses for it.

        with store.batched_sessions(8) as sessions:
            for week in weeks:
                with sessions.unit():
                    ...  # the week's writes share one connection
    """

    def __init__(self, store: Store, units: int) -> None:
        if units < 1:
            raise ValueError(f"a session holds at least 1 unit of work, not {units}")
        self.store, self.units = store, units
        self._held: contextlib.ExitStack | None = None
        self._done = 0  # units finished on the connection held now

    def __enter__(self) -> BatchedSessions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """One unit of work; on the way out, the connection is let go when the batch is full or a
        reader waits. A unit that raises leaves the connection to `close` (or the `with` block)."""
        if self._held is None:
            self._held = contextlib.ExitStack()
            self._held.enter_context(self.store.session())
        yield
        self._done += 1
        if self._done >= self.units or readers_waiting(self.store.path):
            self.close()
            yield_to_readers(self.store.path)

    def close(self) -> None:
        """Let the connection go (the next unit opens a new one)."""
        if self._held is not None:
            self._held.close()
        self._held, self._done = None, 0


class _Siblings(Protocol):
    def stores(self) -> list[Store]: ...


class Store:
    """Named reads and writes of one DuckDB run-history file.

    In a folder history (`pipelines.store.location.RunHistory`) the file holds one workspace and
    `history` is the folder, so `siblings()` can reach the other workspaces' files."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        history: _Siblings | None = None,
        polite: bool = False,
        read_timeout_s: float | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.history = history
        # How long a read waits for a writer of the file (None: the lock timeout); a page's is short.
        self.read_timeout_s = read_timeout_s
        # A polite store only reads, and only a file nobody is writing: it never waits for the lock
        # nor asks a writer to yield (StoreLocked at once), and never upgrades an older file.
        self.polite = polite
        self._plays: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._prepared = False
        self._version_ok = False

    # -- connections -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists()

    def files_dir(self, workspace: str) -> Path:
        return workspace_dir(self.path, workspace)

    def siblings(self) -> list[Store]:
        """Every store of this store's history, this one included (itself alone without a history)."""
        return self.history.stores() if self.history is not None else [self]

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Keep one read-write connection for the block (re-entrant, shared across threads)."""
        if self.polite:
            raise StoreError(f"{self.path} is open to read only here.")
        with self._lock:
            if self._conn is None:
                con = open_connection(self.path)
                try:
                    self._prepare(con)
                except BaseException:
                    con.close()
                    raise
                self._conn = con
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._conn is not None:
                    self._conn.close()
                    self._conn = None

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Keep one read-only connection for the block, so many reads see one moment of the file
        (and a polite reader takes the file once, or not at all)."""
        with self._lock:
            if self._conn is not None:
                opened = None
            else:
                opened = self._open_read_only()
                self._conn = opened
        try:
            yield
        finally:
            if opened is not None:
                with self._lock:
                    self._conn = None
                opened.close()

    def _open_read_only(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection on which a run whose process died reads `interrupted` at once (see
        `present_dead_runners`); a writer's session recovers such runs when it opens. An older file
        is upgraded first (through a write session), except by a polite store."""
        if not self.path.exists():
            raise StoreError(f"There is no run history at {self.path} yet: run a scenario first.")
        wait: dict[str, Any] = {"timeout_s": 0, "ask_writer": False} if self.polite else {}
        if not self.polite and self.read_timeout_s is not None:
            wait["timeout_s"] = self.read_timeout_s
        con = open_connection(self.path, read_only=True, config=READ_ONLY_CONFIG, **wait)
        try:
            if (
                not (self._prepared or self._version_ok)
                and (version := current_version(con)) != LATEST_VERSION
            ):
                refuse_newer(version, self.path)
                con.close()
                if self.polite:
                    raise StoreError(
                        f"{self.path} was written by an older OpsLab; open it once to upgrade it."
                    )
                with self._write():  # an old file: upgrade it, then read
                    pass
                con = open_connection(self.path, read_only=True, config=READ_ONLY_CONFIG)
            self._version_ok = True
            present_dead_runners(con, dead_runners(con))
        except BaseException:
            con.close()
            raise
        return con

    def batched_sessions(self, units: int) -> BatchedSessions:
        """One write connection held across up to `units` units of work (see `BatchedSessions`)."""
        return BatchedSessions(self, units)

    @contextlib.contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.session(), self._lock:
            assert self._conn is not None
            yield self._conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read: through the connection this store holds (a session or `reading`), else read-only."""
        with self._lock:
            if self._conn is not None:
                yield self._conn
                return
        con = self._open_read_only()
        try:
            yield con
        finally:
            con.close()

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """First write connection of this Store: upgrade the schema, recover dead runs."""
        if self._prepared:
            return
        refuse_newer(current_version(con), self.path)
        migrate(con)
        self._recover_interrupted(con)
        self._prepared = True

    def _recover_interrupted(self, con: duckdb.DuckDBPyConnection) -> None:
        """Runs left `running` by a process that no longer exists are marked `interrupted`."""
        for table, dead in dead_runners(con).items():
            key = RUN_TABLES[table]
            for ident in dead:
                con.execute(
                    f"UPDATE {table} SET status = 'interrupted', finished_at = ?, "
                    f"error = coalesce(error, '{INTERRUPTED_ERROR}') WHERE {key} = ?",
                    [now_utc(), ident],
                )
            if table == "runs" and dead:
                con.execute(
                    "UPDATE steps SET status = 'skipped', error = coalesce(error, 'run interrupted') "
                    f"WHERE run_id IN ({','.join('?' * len(dead))}) AND status = 'running'",
                    dead,
                )

    def schema_version(self) -> int:
        with self._read() as con:
            return current_version(con)

    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._read() as con:
            return con.execute(sql, list(params)).df()

    # -- workspaces ------------------------------------------------------------------------
    def ensure_workspace(
        self,
        name: str,
        *,
        scenario: str | None = None,
        seed: int | None = None,
        settings: Mapping[str, Any] | None = None,
        settings_hash: str | None = None,
    ) -> None:
        check_workspace_name(name)
        with self._write() as con:
            con.execute(
                "INSERT INTO workspaces (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [name, now_utc()],
            )
            if scenario is not None:
                con.execute(
                    "UPDATE workspaces SET scenario = ?, seed = ?, settings = ?, settings_hash = ? "
                    "WHERE name = ?",
                    [scenario, seed, to_json(settings or {}), settings_hash, name],
                )

    def workspace_info(self, name: str) -> dict[str, Any] | None:
        if not self.exists():
            return None
        frame = self._frame("SELECT * FROM workspaces WHERE name = ?", [name])
        if frame.empty:
            return None
        row = frame.iloc[0].to_dict()
        row["settings"] = from_json(row.get("settings"))
        return row

    def list_workspaces(self) -> pd.DataFrame:
        if not self.exists():
            return pd.DataFrame(columns=["name", "created_at", "scenario", "runs", "weeks"])
        return self._frame(
            """SELECT w.name, w.created_at, w.scenario, w.seed,
                      (SELECT count(*) FROM runs r WHERE r.workspace = w.name) AS runs,
                      (SELECT count(*) FROM weekly k WHERE k.workspace = w.name) AS weeks
               FROM workspaces w ORDER BY w.name"""
        )

    def workspace_is_empty(self, name: str) -> bool:
        if not self.exists():
            return True
        with self._read() as con:
            for table in ("runs", "weekly", "deployments", "model_versions"):
                row = con.execute(f"SELECT count(*) FROM {table} WHERE workspace = ?", [name]).fetchone()
                if row and row[0]:
                    return False
        return True

    def reset_workspace(self, name: str) -> None:
        """Empty a workspace: its rows in every table and its files; the name stays."""
        check_workspace_name(name)
        with self._write() as con:
            con.execute("BEGIN TRANSACTION")
            for table in TABLES:
                if table != "workspaces":
                    con.execute(f"DELETE FROM {table} WHERE workspace = ?", [name])
            con.execute(
                "UPDATE workspaces SET scenario = NULL, seed = NULL, settings = NULL, "
                "settings_hash = NULL WHERE name = ?",
                [name],
            )
            con.execute("COMMIT")
        shutil.rmtree(self.files_dir(name), ignore_errors=True)

    def delete_workspace(self, name: str) -> None:
        self.reset_workspace(name)
        with self._write() as con:
            con.execute("DELETE FROM workspaces WHERE name = ?", [name])
            # A reset keeps the learner's exercise starts (most exercises replay the workspace);
            # deleting the workspace ends them too.
            con.execute("DELETE FROM exercise_starts WHERE workspace = ?", [name])

    # -- runs and steps --------------------------------------------------------------------
    def start_run(
        self,
        *,
        workspace: str,
        kind: str,
        trigger: str,
        sim_time: datetime | None,
        input_fingerprint: str | None = None,
        config_hash: str | None = None,
        label: str | None = None,
    ) -> str:
        run_id = new_id()
        with self._write() as con:
            con.execute(
                "INSERT INTO workspaces (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [workspace, now_utc()],
            )
            con.execute(
                """INSERT INTO runs (run_id, workspace, kind, trigger, status, sim_time, started_at,
                       input_fingerprint, config_hash, label, pid, host)
                   VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    workspace,
                    kind,
                    trigger,
                    sim_time,
                    now_utc(),
                    input_fingerprint,
                    config_hash,
                    label,
                    os.getpid(),
                    socket.gethostname(),
                ],
            )
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"input_fingerprint", "config_hash", "label"}
        if not fields.keys() <= allowed:
            raise ValueError(f"cannot update {sorted(fields.keys() - allowed)} on a run")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._write() as con:
            con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*fields.values(), run_id])

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        finished = now_utc()
        with self._write() as con:
            con.execute(
                """UPDATE runs SET status = ?, error = ?, finished_at = ?,
                       duration_ms = date_diff('microsecond', started_at, ?::TIMESTAMP) / 1000.0
                   WHERE run_id = ?""",
                [status, error, finished, finished, run_id],
            )

    def record_step(self, run_id: str, workspace: str, step: StepRecord) -> None:
        with self._write() as con:
            con.execute(
                """INSERT OR REPLACE INTO steps (run_id, workspace, position, name, status, started_at,
                       finished_at, duration_ms, metrics, log_tail, error, cache_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    workspace,
                    step.position,
                    step.name,
                    step.status,
                    step.started_at,
                    step.finished_at,
                    step.duration_ms,
                    to_json(dict(step.metrics)),
                    step.log_tail,
                    step.error,
                    step.cache_key,
                ],
            )

    def record_params(self, run_id: str, workspace: str, params: Mapping[str, str | None]) -> None:
        """A run's parameters as key/value rows (keys already flat, values already strings)."""
        if not params:
            return
        rows = ", ".join(["(?, ?, ?, ?)"] * len(params))  # one statement: one transaction, not one a row
        values = [item for key, value in params.items() for item in (workspace, run_id, key, value)]
        with self._write() as con:
            con.execute(
                f"INSERT OR REPLACE INTO run_params (workspace, run_id, key, value) VALUES {rows}", values
            )

    def record_artifact(
        self,
        *,
        workspace: str,
        run_id: str | None,
        step: str | None,
        kind: str,
        path: str,
        sha256: str,
        size_bytes: int | None = None,
    ) -> str:
        artifact_id = new_id()
        with self._write() as con:
            con.execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [artifact_id, workspace, run_id, step, kind, path, sha256, size_bytes, now_utc()],
            )
        return artifact_id

    def cached_step(self, workspace: str, step: str, cache_key: str) -> dict[str, Any] | None:
        with self._write() as con:
            row = con.execute(
                "SELECT outputs, metrics, run_id FROM step_cache "
                "WHERE workspace = ? AND step = ? AND cache_key = ?",
                [workspace, step, cache_key],
            ).fetchone()
        if row is None:
            return None
        return {"outputs": from_json(row[0]), "metrics": from_json(row[1]), "run_id": row[2]}

    def store_cached_step(
        self,
        workspace: str,
        step: str,
        cache_key: str,
        run_id: str,
        outputs: Mapping[str, Any],
        metrics: Mapping[str, Any],
    ) -> None:
        with self._write() as con:
            con.execute(
                "INSERT OR REPLACE INTO step_cache VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    workspace,
                    step,
                    cache_key,
                    run_id,
                    to_json(dict(outputs)),
                    to_json(dict(metrics)),
                    now_utc(),
                ],
            )

    def forget_cached_step(self, workspace: str, step: str, cache_key: str) -> None:
        with self._write() as con:
            con.execute(
                "DELETE FROM step_cache WHERE workspace = ? AND step = ? AND cache_key = ?",
                [workspace, step, cache_key],
            )

    def run(self, run_id: str) -> dict[str, Any] | None:
        frame = self._frame("SELECT * FROM runs WHERE run_id = ?", [run_id])
        return None if frame.empty else frame.iloc[0].to_dict()

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        frame = self._frame("SELECT * FROM steps WHERE run_id = ? ORDER BY position", [run_id])
        rows = frame.to_dict("records")
        for row in rows:
            row["metrics"] = from_json(row["metrics"])
        return rows

    # -- scenario runs ----------------------------------------------------------------------
    def start_scenario_run(
        self,
        *,
        workspace: str,
        scenario: str,
        seed: int,
        settings: Mapping[str, Any],
        weeks: int,
        data_played: str | None = None,
        data_note: str | None = None,
    ) -> str:
        ident = new_id()
        with self._write() as con:
            con.execute(
                """INSERT INTO scenario_runs (scenario_run_id, workspace, scenario, seed, settings, status,
                       weeks_planned, weeks_done, started_at, pid, host, data_played, data_note)
                   VALUES (?, ?, ?, ?, ?, 'running', ?, 0, ?, ?, ?, ?, ?)""",
                [
                    ident,
                    workspace,
                    scenario,
                    seed,
                    to_json(dict(settings)),
                    weeks,
                    now_utc(),
                    os.getpid(),
                    socket.gethostname(),
                    data_played,
                    data_note,
                ],
            )
        self._plays[ident] = {"workspace": workspace, "scenario": scenario, "weeks": weeks, "week": 0,
                              "pid": os.getpid(), "host": socket.gethostname(), "started_at": now_utc()}  # fmt: skip
        self._note_play(ident)
        return ident

    def play_file(self, workspace: str) -> Path:
        """A small JSON file a play rewrites each week (scenario, week, weeks, pid): who must not wait
        on the database (a facilitator's view) reads the play's progress here instead."""
        return self.files_dir(workspace) / "playing.json"

    def note_waiting(self, workspace: str, scenario: str, weeks: int) -> None:
        """A play waiting for a free play slot says so in the play file (its own record comes later)."""
        self._plays["waiting"] = {"workspace": workspace, "scenario": scenario, "weeks": weeks, "week": 0,
                                  "waiting": True, "pid": os.getpid(), "host": socket.gethostname()}  # fmt: skip
        self._note_play("waiting")
        del self._plays["waiting"]

    def _note_play(self, ident: str, *, done: bool = False) -> None:
        play = self._plays.pop(ident, None) if done else self._plays.get(ident)
        if play is None:
            return
        target = self.play_file(play["workspace"])
        if done:
            target.unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):  # progress for onlookers only: never fail a play on it
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}")
            temporary.write_text(to_json(play))
            temporary.replace(target)

    def progress_scenario_run(self, ident: str, weeks_done: int) -> None:
        with self._write() as con:
            con.execute(
                "UPDATE scenario_runs SET weeks_done = ? WHERE scenario_run_id = ?", [weeks_done, ident]
            )
        if ident in self._plays:
            self._plays[ident]["week"] = weeks_done
            self._note_play(ident)

    def finish_scenario_run(self, ident: str, status: str, error: str | None = None) -> None:
        with self._write() as con:
            con.execute(
                "UPDATE scenario_runs SET status = ?, error = ?, finished_at = ? WHERE scenario_run_id = ?",
                [status, error, now_utc(), ident],
            )
        self._note_play(ident, done=True)

    def interrupt_running(self, workspace: str, reason: str) -> None:
        """Mark this process's unfinished runs in a workspace as interrupted (Ctrl-C)."""
        with self._write() as con:
            for table in ("runs", "scenario_runs"):
                con.execute(
                    f"UPDATE {table} SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE workspace = ? AND status = 'running' AND pid = ?",
                    [now_utc(), reason, workspace, os.getpid()],
                )
        for ident in [i for i, play in self._plays.items() if play["workspace"] == workspace]:
            self._note_play(ident, done=True)

    def running_processes(self) -> list[tuple[int | None, str | None, datetime | None]]:
        """(pid, host, started_at) of every run and scenario run that reads `running`: the pages'
        cache asks whether these still live, since a runner dying changes nothing in the file."""
        with self._read() as con:
            rows = con.execute(
                "SELECT pid, host, started_at FROM runs WHERE status = 'running' UNION ALL "
                "SELECT pid, host, started_at FROM scenario_runs WHERE status = 'running'"
            ).fetchall()
        return [(pid, host, started_at) for pid, host, started_at in rows]

    def live_scenario_play(self, workspace: str) -> dict[str, Any] | None:
        """The scenario play still running in `workspace` in a live process, if there is one."""
        frame = self._frame(
            "SELECT scenario, pid, host, started_at, weeks_done, weeks_planned FROM scenario_runs "
            "WHERE workspace = ? AND status = 'running' ORDER BY started_at DESC",
            [workspace],
        )
        for row in frame.to_dict("records"):
            if runner_alive(row["pid"], row["host"], row["started_at"]):
                return row
        return None

    def scenario_runs(self, workspace: str) -> pd.DataFrame:
        return self._frame("SELECT * FROM scenario_runs WHERE workspace = ? ORDER BY started_at", [workspace])

    # -- generic insert for the pipelines' own records -------------------------------------
    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert dict rows into one of the schema's tables (columns named by the dicts)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        if not rows:
            return
        columns = list(rows[0].keys())
        values = [[to_json(r[c]) if isinstance(r[c], dict | list) else r[c] for c in columns] for r in rows]
        with self._write() as con:
            con.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                values,
            )

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Bulk-insert a DataFrame by column name (about 2 µs a row, vs ~1.5 ms for single rows)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        if frame.empty:
            return
        with self._write() as con:
            con.register("_opslab_frame", frame)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _opslab_frame")
            finally:
                con.unregister("_opslab_frame")

    def update_rows(self, table: str, where: Mapping[str, Any], **fields: Any) -> int:
        """Set `fields` on the rows of `table` matching every `where` column; returns the count."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        if any(v is None for v in where.values()):
            raise ValueError("update_rows matches by equality; a None filter would match nothing")
        sets = ", ".join(f"{k} = ?" for k in fields)
        cond = " AND ".join(f"{k} = ?" for k in where)
        with self._write() as con:
            before = con.execute(f"SELECT count(*) FROM {table} WHERE {cond}", list(where.values()))
            count = int(before.fetchone()[0])  # type: ignore[index]
            con.execute(f"UPDATE {table} SET {sets} WHERE {cond}", [*fields.values(), *where.values()])
        return count

    def select(
        self,
        table: str,
        workspace: str,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
    ) -> pd.DataFrame:
        """Rows of one table for a workspace, optionally filtered by equality and ordered."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        where = dict(where or {})
        cond = " AND ".join(["workspace = ?", *(f"{k} = ?" for k in where)])
        order = f" ORDER BY {order_by}" if order_by else ""
        if not self.exists():
            return pd.DataFrame()
        return self._frame(f"SELECT * FROM {table} WHERE {cond}{order}", [workspace, *where.values()])
