"""Crashed work is visible: a play killed outright reads as interrupted on every page at once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.store import Store

REPO = Path(__file__).resolve().parents[1]


def _raw_running(path: Path) -> tuple[set[str], set[str]]:
    """Runs and scenario runs the file itself says are running (read past the Store)."""
    with duckdb.connect(str(path), read_only=True) as con:
        runs = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()}
        plays = con.execute("SELECT scenario_run_id FROM scenario_runs WHERE status = 'running'").fetchall()
    return runs, {r[0] for r in plays}


def _processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line or working directory names `marker`: a cold-started server
    names its artifact; a warm-started one (a spare interpreter that became the server) runs in its
    log's directory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                cwd = os.readlink(entry / "cwd")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if (marker.encode() in cmdline or cwd.startswith(marker)) and state != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.mark.slow
def test_a_scenario_killed_mid_play_reads_as_interrupted_without_a_write(tmp_path: Path) -> None:
    from dashboard import data

    db = tmp_path / "history.duckdb"
    command = [sys.executable, "-m", "pipelines", "--db", str(db), "--workspace", "crash"]
    play = subprocess.Popen(
        [*command, "scenario", "run", "calm-seas", "--weeks", "12"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert play.stderr is not None
        for line in play.stderr:  # a week's DevOps run has started: kill the play in the middle of it
            if re.search(r"preparing a release: week [1-9]", line):
                break
        time.sleep(0.3)
        assert _processes_mentioning(str(tmp_path)), "the check must see the play's live servers"
        play.send_signal(signal.SIGKILL)
        play.wait(timeout=10)
        running_runs, running_plays = _raw_running(db)
        assert running_plays and running_runs, "the kill did not land mid-play"

        out = subprocess.run(
            [*command, "history", "--json"], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        history = json.loads(out.stdout)
        status = {r["run_id"]: r["status"] for r in history["runs"]}
        assert {status[r] for r in running_runs} == {"interrupted"}
        assert "running" not in status.values()
        assert [p["status"] for p in history["scenario_runs"]] == ["interrupted"]

        version = data.db_version(str(db), "crash")
        pages = data.runs(str(db), "crash", version)
        assert set(pages.loc[pages["run_id"].isin(running_runs), "status"]) == {"interrupted"}
        assert "running" not in set(pages["status"])
        assert data.table(str(db), "crash", "scenario_runs", version)["status"].tolist() == ["interrupted"]
        detail = data.run_detail(str(db), "crash", next(iter(running_runs)), version)
        assert detail is not None and detail["run"]["status"] == "interrupted"

        assert _raw_running(db) == (running_runs, running_plays)  # shown so, never written
    finally:
        if play.poll() is None:
            play.kill()
            play.wait()
        if play.stderr is not None:
            play.stderr.close()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _processes_mentioning(str(tmp_path)):
            time.sleep(0.1)
        left = _processes_mentioning(str(tmp_path))
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, "a server of the killed play outlived it by more than 3 s"


def test_the_pages_cache_token_changes_when_a_runner_dies(tmp_path: Path) -> None:
    """The loaders are cached by the file's size and time; a runner dying changes neither."""
    from dashboard import data

    store = Store(tmp_path / "history.duckdb")
    run = store.start_run(workspace="demo", kind="devops", trigger="manual", sim_time=None)
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)
        store.update_rows("runs", {"run_id": run}, pid=runner.pid)
        db = str(store.path)
        alive = data.db_version(db, "demo")
        assert data.runs(db, "demo", alive)["status"].tolist() == ["running"]
        assert data.db_version(db, "demo") == alive  # stable while nothing changes
    finally:
        runner.kill()
        runner.wait()
    dead = data.db_version(db, "demo")
    assert dead != alive and dead[:2] == alive[:2]
    assert data.runs(db, "demo", dead)["status"].tolist() == ["interrupted"]
