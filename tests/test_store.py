"""The run-history store: migrations, workspaces, recovery, and two processes on one file."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.store import LATEST_VERSION, Store, StoreError, StoreLocked, migrate
from pipelines.store.connection import locked_message, open_connection
from pipelines.store.schema import MIGRATIONS, TABLES, current_version


def _columns(path: Path, table: str) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_new_file_gets_the_latest_schema(store: Store) -> None:
    store.ensure_workspace("demo")
    assert store.schema_version() == LATEST_VERSION
    with duckdb.connect(str(store.path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(TABLES) <= tables


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with duckdb.connect(str(path)) as con:
        assert migrate(con) == LATEST_VERSION
        assert migrate(con) == LATEST_VERSION
        rows = con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == sorted(MIGRATIONS)


def test_opening_an_older_file_upgrades_it_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con, target=1)
        con.execute("INSERT INTO workspaces (name, created_at) VALUES ('old', now()::TIMESTAMP)")
        con.execute(
            "INSERT INTO weekly (workspace, week, sim_time, requests) VALUES ('old', 1, '2011-01-08', 168)"
        )
        assert current_version(con) == 1
    assert "retrain_decision" not in _columns(path, "weekly")
    store = Store(path)
    assert store.schema_version() == LATEST_VERSION  # a read upgrades an old file first
    assert "retrain_decision" in _columns(path, "weekly")
    weekly = store.select("weekly", "old")
    assert weekly["requests"].tolist() == [168]


def test_reset_empties_one_workspace_and_leaves_the_others(store: Store) -> None:
    for ws in ("a", "b"):
        run = store.start_run(workspace=ws, kind="devops", trigger="manual", sim_time=None)
        store.finish_run(run, "succeeded")
        store.files_dir(ws).mkdir(parents=True, exist_ok=True)
        (store.files_dir(ws) / "f.txt").write_text("x")
    store.reset_workspace("a")
    assert store.workspace_is_empty("a") and not store.files_dir("a").exists()
    assert not store.workspace_is_empty("b") and store.files_dir("b").exists()
    store.delete_workspace("a")
    assert store.workspace_info("a") is None
    assert store.list_workspaces()["name"].tolist() == ["b"]


def test_workspace_names_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="not valid"):
        store.ensure_workspace("../etc")


_HOLD = textwrap.dedent(
    """
    import sys, time
    from pipelines.store import Store
    store = Store(sys.argv[1])
    with store.session():
        store.ensure_workspace("holder")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


@contextlib.contextmanager
def _hold_lock(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the file read-write for `seconds` (killed at the block's end)."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
            yield proc
        finally:
            proc.kill()


def test_a_second_process_waits_for_the_lock_and_then_writes(store: Store) -> None:
    store.ensure_workspace("demo")
    with _hold_lock(store.path, 1.0):
        started = time.monotonic()
        store.ensure_workspace("waiter")  # default bound is 15 s
        waited = time.monotonic() - started
    assert waited > 0.3
    assert set(store.list_workspaces()["name"]) == {"demo", "holder", "waiter"}


def test_a_lock_held_past_the_bound_fails_with_one_sentence(store: Store, monkeypatch) -> None:
    store.ensure_workspace("demo")
    monkeypatch.setenv("OPSLAB_LOCK_TIMEOUT", "0.5")
    with _hold_lock(store.path, 5.0) as holder, pytest.raises(StoreLocked) as info:
        store.ensure_workspace("waiter")
    message = str(info.value)
    assert str(store.path) in message and f"process {holder.pid}" in message
    assert message.count(". ") == 0 and message.endswith("try again.")


def test_the_lock_message_says_who_holds_the_file(store: Store, monkeypatch) -> None:
    """The holder is named by what it is (a page reading, an opslab command), not assumed a writer."""
    from pipelines.store.connection import holder_of

    store.ensure_workspace("demo")
    monkeypatch.setenv("OPSLAB_LOCK_TIMEOUT", "0.2")
    with _hold_lock(store.path, 5.0) as holder, pytest.raises(StoreLocked) as info:
        store.ensure_workspace("waiter")
    assert f"held by process {holder.pid} (python" in str(info.value)
    assert "writing" not in str(info.value)
    assert holder_of(os.getpid()).startswith("this process itself")
    page = subprocess.Popen([sys.executable, "-c", "print('up', flush=True); input()", "streamlit", "run", "app.py"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert page.stdout is not None and page.stdout.readline().strip() == "up"
        assert holder_of(page.pid) == f"process {page.pid} (the OpsLab dashboard, reading it for a page)"
    finally:
        page.kill()
        page.communicate()


def test_the_lock_message_names_the_opslab_command_that_holds_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPSLAB_LOCK_TIMEOUT", "0.2")
    path = tmp_path / "h.duckdb"
    play = subprocess.Popen([sys.executable, "-m", "pipelines", "--db", str(path), "scenario", "run", "calm-seas"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    message = ""
    try:
        deadline = time.monotonic() + 60
        while "opslab" not in message and time.monotonic() < deadline:
            try:  # not asking the play to yield, so it keeps the file while it writes a week
                open_connection(path, timeout_s=0.2, ask_writer=False).close()
            except StoreLocked as exc:
                message = str(exc)
            except StoreError:
                pass
            time.sleep(0.05)
    finally:
        play.kill()
        play.communicate()
    assert f"held by process {play.pid} (`opslab scenario run calm-seas`)" in message


def test_readers_wait_too(store: Store, monkeypatch) -> None:
    store.ensure_workspace("demo")
    monkeypatch.setenv("OPSLAB_LOCK_TIMEOUT", "0.3")
    with _hold_lock(store.path, 5.0), pytest.raises(StoreLocked):
        store.list_workspaces()
    assert "demo" in set(store.list_workspaces()["name"])


def test_open_connection_backs_off_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    sleeps: list[float] = []
    with _hold_lock(path, 5.0), pytest.raises(StoreLocked):
        open_connection(path, timeout_s=1.0, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    assert sleeps[0] == pytest.approx(0.02) and sleeps == sorted(sleeps) and max(sleeps) <= 0.5


def test_locked_message_without_a_pid_is_still_a_sentence(tmp_path: Path) -> None:
    assert locked_message(tmp_path / "f.duckdb", None, 2).startswith(f"The run history {tmp_path}")


_DIE = textwrap.dedent(
    """
    import os, sys
    from pipelines.store import Store
    store = Store(sys.argv[1])
    run = store.start_run(workspace="demo", kind="mlops", trigger="manual", sim_time=None)
    sid = store.start_scenario_run(workspace="demo", scenario="x", seed=1, settings={}, weeks=3)
    print(run, flush=True)
    os._exit(9)  # dies without finishing the run
    """
)


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(store: Store) -> None:
    done = store.start_run(workspace="demo", kind="devops", trigger="manual", sim_time=None)
    store.finish_run(done, "succeeded")
    out = subprocess.run([sys.executable, "-c", _DIE, str(store.path)], capture_output=True, text=True)
    dead_run = out.stdout.strip()
    assert out.returncode == 9 and dead_run
    fresh = Store(store.path)  # the next writer recovers
    fresh.ensure_workspace("demo")
    assert fresh.run(dead_run)["status"] == "interrupted"
    assert "stopped before it finished" in fresh.run(dead_run)["error"]
    assert fresh.run(done)["status"] == "succeeded"  # nothing else changed
    assert fresh.scenario_runs("demo")["status"].tolist() == ["interrupted"]


def test_a_live_run_of_this_process_is_not_touched(store: Store) -> None:
    run = store.start_run(workspace="demo", kind="devops", trigger="manual", sim_time=None)
    Store(store.path).ensure_workspace("demo")
    assert store.run(run)["status"] == "running"
    assert store.run(run)["pid"] == os.getpid()


def test_read_only_connections_cannot_write(store: Store) -> None:
    store.ensure_workspace("demo")
    from pipelines.store.core import READ_ONLY_CONFIG

    con = open_connection(store.path, read_only=True, config=READ_ONLY_CONFIG)
    try:
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM workspaces")
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_deleting_a_workspace_ends_its_exercise_starts_and_a_reset_keeps_them(store: Store) -> None:
    from pipelines.store.exercise_sql import exercise_start, record_exercise_start

    store.ensure_workspace("seat-01")
    record_exercise_start(store, "seat-01", "escaped-bug")
    store.reset_workspace("seat-01")
    assert exercise_start(store, "seat-01", "escaped-bug") is not None
    store.delete_workspace("seat-01")
    assert exercise_start(store, "seat-01", "escaped-bug") is None


def _raw_statuses(path: Path) -> dict[str, str]:
    """What the file itself says, read past the Store (proof that a read wrote nothing)."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT run_id, status FROM runs UNION ALL SELECT scenario_run_id, status FROM scenario_runs"
        ).fetchall()
    return dict(rows)


def test_a_dead_process_reads_as_interrupted_before_any_write(store: Store) -> None:
    from pipelines.store.history import workspace_history
    from pipelines.store.queries import runs_table, scenario_history

    done = store.start_run(workspace="demo", kind="devops", trigger="manual", sim_time=None)
    store.finish_run(done, "succeeded")
    out = subprocess.run([sys.executable, "-c", _DIE, str(store.path)], capture_output=True, text=True)
    dead_run = out.stdout.strip()
    assert out.returncode == 9 and dead_run
    reader = Store(store.path)  # reads only: nothing may persist the change yet
    assert reader.run(dead_run)["status"] == "interrupted"
    assert "stopped before it finished" in reader.run(dead_run)["error"]
    assert reader.run(done)["status"] == "succeeded"
    assert reader.scenario_runs("demo")["status"].tolist() == ["interrupted"]
    assert reader.select("runs", "demo", where={"status": "interrupted"})["run_id"].tolist() == [dead_run]
    assert dict(runs_table(reader, "demo")[["run_id", "status"]].values) == {
        dead_run: "interrupted",
        done: "succeeded",
    }
    assert "running" not in set(scenario_history(reader, "demo")["runs"]["status"])
    history = workspace_history(reader, "demo")
    assert {r["run_id"]: r["status"] for r in history["runs"]}[dead_run] == "interrupted"
    assert [s["status"] for s in history["scenario_runs"]] == ["interrupted"]
    from pipelines.store.sandbox import run_query

    console = run_query(store.path, "demo", "SELECT run_id, status FROM runs").frame
    assert dict(console[["run_id", "status"]].values)[dead_run] == "interrupted"  # the console too
    assert set(_raw_statuses(store.path).values()) == {"running", "succeeded"}  # not written
    Store(store.path).ensure_workspace("demo")  # the next write persists it, as before
    assert set(_raw_statuses(store.path).values()) == {"interrupted", "succeeded"}


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_reused_pid_or_an_unreaped_child_is_not_a_live_runner(store: Store) -> None:
    """The pid of a dead runner may belong to a newer process, or to a zombie nobody reaped."""
    from datetime import timedelta

    from pipelines.store.core import now_utc

    runs = {name: store.start_run(workspace="demo", kind="mlops", trigger="manual", sim_time=None)
            for name in ("alive", "reused", "zombie", "elsewhere")}  # fmt: skip
    alive, zombie = _sleeper(), _sleeper()
    try:
        time.sleep(0.3)
        started = now_utc()  # after both processes started
        store.update_rows("runs", {"run_id": runs["alive"]}, pid=alive.pid, started_at=started)
        store.update_rows(
            "runs", {"run_id": runs["reused"]}, pid=alive.pid, started_at=started - timedelta(hours=1)
        )
        store.update_rows("runs", {"run_id": runs["zombie"]}, pid=zombie.pid, started_at=started)
        store.update_rows("runs", {"run_id": runs["elsewhere"]}, host="another-machine")
        zombie.kill()
        time.sleep(0.3)  # killed, never waited for: a zombie that still answers os.kill(pid, 0)
        statuses = dict(Store(store.path).select("runs", "demo")[["run_id", "status"]].values)
        assert statuses == {
            runs["alive"]: "running",
            runs["reused"]: "interrupted",
            runs["zombie"]: "interrupted",
            runs["elsewhere"]: "interrupted",  # as the writer's recovery decides: no way to ask
        }
    finally:
        for proc in (alive, zombie):
            proc.kill()
            proc.wait()


def test_liveness_asks_this_host_only() -> None:
    import socket

    from pipelines.store.core import now_utc
    from pipelines.store.liveness import pid_alive, process_started_at, runner_alive

    here = socket.gethostname()
    began = process_started_at(os.getpid())
    assert began is None or began <= now_utc()  # None where there is no /proc
    assert runner_alive(os.getpid(), here, now_utc())
    assert not runner_alive(os.getpid(), "another-machine", now_utc())
    assert not runner_alive(None, here, now_utc()) and not pid_alive(0)


def test_a_short_write_gets_in_between_a_long_writers_units(tmp_path: Path) -> None:
    """A Learn Start (one short write) while the seat's own play holds the file: the play lets go at
    its next week instead of at the end of its batch, so the Start does not time out."""
    store = Store(tmp_path / "seat.duckdb")
    store.ensure_workspace("seat")
    script = textwrap.dedent(
        """
        import sys, time
        from pipelines.store import Store
        began = time.monotonic()
        Store(sys.argv[1]).ensure_workspace("seat-learn")
        print(round(time.monotonic() - began, 2))
        """
    )
    env = {**os.environ, "OPSLAB_LOCK_TIMEOUT": "4"}
    with store.batched_sessions(1000) as sessions:
        with sessions.unit():
            starter = subprocess.Popen([sys.executable, "-c", script, str(store.path)], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        for _ in range(60):  # 60 units of 0.2 s: 12 s, longer than the starter waits
            if starter.poll() is not None:
                break
            with sessions.unit():
                time.sleep(0.2)
        _out, err = starter.communicate(timeout=30)
    assert starter.returncode == 0, err[-400:]
    assert "seat-learn" in store.list_workspaces()["name"].tolist()


def test_a_history_from_a_newer_opslab_is_refused_by_reads_and_writes(tmp_path: Path) -> None:
    """A file at a schema version this code does not know: one sentence naming both, nothing written."""
    store = Store(tmp_path / "newer.duckdb")
    store.ensure_workspace("demo")
    newer = LATEST_VERSION + 1
    with duckdb.connect(str(store.path)) as con:
        con.execute("ALTER TABLE runs ADD COLUMN from_the_future VARCHAR NOT NULL DEFAULT 'x'")
        con.execute("INSERT INTO schema_version VALUES (?, now())", [newer])
    before = store.path.read_bytes()
    for attempt in (
        lambda s: s.list_workspaces(),
        lambda s: s.start_run(workspace="demo", kind="devops", trigger="manual", sim_time=None),
    ):
        with pytest.raises(
            StoreError,
            match=rf"newer OpsLab \(schema version {newer}; this one knows up to {LATEST_VERSION}\)",
        ):
            attempt(Store(store.path))
    assert store.path.read_bytes() == before
