"""Is the process that recorded a run still running it? Asked of this host's process table.

A run (and a scenario run) records the pid and host of the process running it. When that process
dies without finishing (`kill -9`, a power cut) the row stays `running` in the file until the next
writer recovers it. Readers cannot write, so they *present* such a row as `interrupted` instead:
`dead_runners` finds them and `presented_sql` is the table as a reader should see it.

Liveness is `os.kill(pid, 0)` plus, where /proc exists (Linux), two checks it cannot make alone: a
zombie (killed, not yet reaped by its parent) is dead, and a pid whose process started after the
run did belongs to a newer process (pids are reused: 32768 of them by default). Without /proc
(macOS) a reused pid reads as alive until its process ends. A run recorded on another host cannot
be asked about and reads as interrupted, as the writer's recovery has always decided.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

__all__ = [
    "INTERRUPTED_ERROR",
    "RUN_TABLES",
    "dead_runners",
    "pid_alive",
    "present_dead_runners",
    "presented_sql",
    "process_started_at",
    "runner_alive",
]

INTERRUPTED_ERROR = "the process running it stopped before it finished"
RUN_TABLES = {"runs": "run_id", "scenario_runs": "scenario_run_id"}  # table -> key

# A process starts before the runs it records. Read from /proc, its start time is the boot time
# (whole seconds, moved by any step of the wall clock since) plus clock ticks, so it can read late;
# the slack keeps a live runner live across such a step. A pid reused within the slack after its
# run started is missed, which needs the whole pid space to wrap in that time.
START_SLACK = timedelta(seconds=60)
_DEAD_STATES = {"Z", "X", "x"}  # zombie, dead


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the process name (which may hold spaces and parentheses)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


@functools.cache
def _has_proc() -> bool:
    return Path(f"/proc/{os.getpid()}/stat").exists()


@functools.cache
def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_started_at(pid: int) -> datetime | None:
    """When a process started (naive UTC, like the store's times), or None where /proc cannot say."""
    fields, boot = _proc_stat(pid), _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return None
    seconds = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def pid_alive(pid: int | None) -> bool:
    """A process with this pid exists on this host and is not a zombie."""
    if not pid or pid < 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if not _has_proc():
        return True
    fields = _proc_stat(pid)
    return fields is not None and fields[0] not in _DEAD_STATES  # gone from /proc: died just now


def runner_alive(pid: Any, host: Any, started_at: Any, *, this_host: str | None = None) -> bool:
    """Whether the process recorded as running a run (pid, host, the run's start) still runs it."""
    if host != (this_host or socket.gethostname()) or pid is None or pid != pid:  # NULL or NaN
        return False
    pid = int(pid)
    if pid == os.getpid():
        return True
    if not pid_alive(pid):
        return False
    began = process_started_at(pid)
    if began is None or started_at is None or started_at != started_at:  # NaT
        return True
    return bool(began <= started_at + START_SLACK)


def dead_runners(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Per run table, the keys of rows still `running` whose process is gone.

    A row without a pid or host was not recorded by an OpsLab process: an imported run (a CI run still
    going at its source) is running for as long as its source says so.
    """
    rows = con.execute(
        " UNION ALL ".join(
            f"SELECT '{table}', {key}, pid, host, started_at FROM {table} "
            "WHERE status = 'running' AND (pid IS NOT NULL OR host IS NOT NULL)"
            for table, key in RUN_TABLES.items()
        )
    ).fetchall()
    host = socket.gethostname()
    dead: dict[str, list[str]] = {table: [] for table in RUN_TABLES}
    for table, key, pid, run_host, started_at in rows:
        if not runner_alive(pid, run_host, started_at, this_host=host):
            dead[table].append(key)
    return dead


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def presented_sql(table: str, source: str, dead: Sequence[str]) -> str:
    """`SELECT` over `source` (a run table) in which the rows keyed in `dead` read `interrupted`,
    with the error the writer's recovery will record."""
    key = RUN_TABLES[table]
    if not dead:
        return f"SELECT * FROM {source}"
    gone = f"status = 'running' AND {key} IN ({', '.join(_literal(k) for k in dead)})"
    return (
        f"SELECT * REPLACE (CASE WHEN {gone} THEN 'interrupted' ELSE status END AS status, "
        f"CASE WHEN {gone} THEN coalesce(error, {_literal(INTERRUPTED_ERROR)}) ELSE error END AS error) "
        f"FROM {source}"
    )


def present_dead_runners(con: duckdb.DuckDBPyConnection, dead: Mapping[str, Sequence[str]]) -> None:
    """On a read-only connection: shadow each run table with a temporary view that presents its
    dead runners as interrupted, so every query of the connection sees what the next write records."""
    if not any(dead.values()):
        return
    row = con.execute("SELECT current_database()").fetchone()
    catalog = str(row[0] if row else "memory").replace('"', '""')
    for table, keys in dead.items():
        if keys:
            source = f'"{catalog}".main.{table}'
            con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {presented_sql(table, source, keys)}")
