"""Short DuckDB connections with bounded retry on the single-writer lock.

DuckDB lets one process hold a file read-write at a time, and while it does, no other process
may open it even read-only. OpsLab's CLI and dashboard share one file, so every unit of work
opens a connection, does its work and closes it; a caller that finds the file locked retries
with exponential backoff for a bounded time and then gives up with one sentence that says which
file is locked, by whom, and what to do.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from pipelines.errors import OpsLabError

__all__ = ["StoreError", "StoreLocked", "lock_timeout_s", "open_connection", "query_interrupted"]

DEFAULT_LOCK_TIMEOUT_S = 15.0
_PID = re.compile(r"\(PID (\d+)\)")


class StoreError(OpsLabError):
    """A problem with the run-history database, phrased for a person."""


class StoreLocked(StoreError):
    """The database file stayed locked by another process for longer than the bound."""


def query_interrupted(exc: BaseException) -> bool:
    """Was `exc` a query's interruption? Ctrl-C that lands while DuckDB runs a query on the main
    thread is taken by DuckDB, which raises InterruptException, or RuntimeError("Query interrupted")
    while fetching into pandas, instead of KeyboardInterrupt."""
    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )


def lock_timeout_s() -> float:
    """How long to wait for a lock: `OPSLAB_LOCK_TIMEOUT` seconds, else 15 s."""
    raw = os.environ.get("OPSLAB_LOCK_TIMEOUT")
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise StoreError(f"OPSLAB_LOCK_TIMEOUT must be a number of seconds, not {raw!r}.") from None


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "different configuration" in text


def holder_of(pid: int) -> str:
    """Who process `pid` is, in a few words, from its command line (Linux `/proc`; else its number)."""
    if pid == os.getpid():
        return "this process itself (another connection it opened)"
    try:
        argv = [
            a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a
        ]
    except OSError:
        return f"process {pid}"
    if not argv:
        return f"process {pid}"
    words = " ".join(argv)
    if "streamlit" in words or "opslab dashboard" in words or argv[1:3] == ["-m", "dashboard"]:
        return f"process {pid} (the OpsLab dashboard, reading it for a page)"
    if argv[1:3] == ["-m", "pipelines"] or Path(argv[0]).name == "opslab":
        rest = argv[3:] if argv[1:3] == ["-m", "pipelines"] else argv[1:]
        shown = " ".join(a for i, a in enumerate(rest) if a != "--db" and (i == 0 or rest[i - 1] != "--db"))
        return f"process {pid} (`opslab {shown[:80]}`)"
    return f"process {pid} ({Path(argv[0]).name if argv else 'unknown'})"


def locked_message(path: Path, exc: Exception | None, waited_s: float) -> str:
    holder = "by another process"
    if exc is not None and (m := _PID.search(str(exc))):
        holder = f"by {holder_of(int(m.group(1)))}"
    return (
        f"The run history {path} is held {holder} (waited {waited_s:.0f} s): wait for that to finish "
        "or stop it, then try again."
    )


def wait_file(path: Path) -> Path:
    """Whoever finds the file locked touches this; a long writer yields when it is fresh."""
    return path.with_name(path.name + ".wait")


def _ask_writer_to_yield(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only directory: the reader just waits longer
        wait_file(path).touch()


def readers_waiting(path: Path, fresh_s: float = 3.0) -> bool:
    """Whether a reader asked for the file in the last `fresh_s` seconds (one stat)."""
    try:
        return time.time() - wait_file(path).stat().st_mtime < fresh_s
    except OSError:
        return False


def yield_to_readers(path: Path, pause_s: float = 0.15, fresh_s: float = 3.0) -> bool:
    """Called by a long writer between units of work with no connection open: if a reader asked
    in the last `fresh_s` seconds, pause so it can get in. Costs one stat otherwise."""
    marker = wait_file(path)
    asked = readers_waiting(path, fresh_s)
    if asked:
        marker.unlink(missing_ok=True)
        time.sleep(pause_s)
    return asked


def open_connection(
    path: Path,
    *,
    read_only: bool = False,
    config: Mapping[str, str | int | float | list[str]] | None = None,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    ask_writer: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open `path`, retrying while another process holds the lock.

    An opener that finds the file held asks the writer to yield (`wait_file`), unless `ask_writer`
    is False: a facilitator's glance at a seat must never slow the seat's play.

    Backoff starts at 20 ms and grows by 1.6x to at most 0.5 s, so a short writer (a step being
    recorded) is waited out in a few tens of milliseconds and a long one is not hammered.
    """
    timeout = lock_timeout_s() if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    delay = 0.02
    last: Exception | None = None
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=dict(config or {}))
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_conflict(exc):
                raise StoreError(f"Cannot open the run history {path}: {exc}") from exc
            last = exc
            if ask_writer:  # a reader, or a short write (a Learn Start) while a play holds the file
                _ask_writer_to_yield(path)
        if time.monotonic() + delay > deadline:
            raise StoreLocked(locked_message(path, last, time.monotonic() - start)) from last
        sleep(delay)
        delay = min(delay * 1.6, 0.5)
