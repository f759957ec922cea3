"""A run history as a folder (a DuckDB file per workspace) or as one file; seats that never contend."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.paths import default_db_path
from pipelines.store import RunHistory
from pipelines.store.sandbox import QueryError, run_query

REPO = Path(__file__).resolve().parents[1]


def _opslab(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", *args]


def test_a_folder_gives_each_workspace_its_own_file(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "room")
    assert not history.single_file and history.workspace_names() == []
    for name in ("seat-01", "seat-02"):
        store = history.store(name)
        store.ensure_workspace(name, scenario="calm-seas", seed=1, settings={})
        store.start_run(workspace=name, kind="devops", trigger="manual", sim_time=None)
    assert history.store("seat-01").path == tmp_path / "room" / "seat-01.duckdb"
    assert history.workspace_names() == ["seat-01", "seat-02"]
    with duckdb.connect(str(tmp_path / "room" / "seat-01.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT workspace FROM runs").fetchall() == [("seat-01",)]
    listing = history.list_workspaces()
    assert listing["name"].tolist() == ["seat-01", "seat-02"] and listing["runs"].tolist() == [1, 1]
    assert history.files_dir("settings") == tmp_path / "room" / "_settings"

    history.store("seat-02").files_dir("seat-02").mkdir(parents=True)
    history.delete_workspace("seat-02")
    assert history.workspace_names() == ["seat-01"]
    assert sorted(p.name for p in (tmp_path / "room").iterdir()) == ["seat-01.duckdb"]


def test_a_duckdb_path_is_one_file_for_every_workspace(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.duckdb")
    assert history.single_file and history.store("a") is history.store("b")
    for name in ("a", "b"):
        history.store(name).ensure_workspace(name)
    assert history.workspace_names() == ["a", "b"] and history.workspace_file("b") == tmp_path / "h.duckdb"
    assert history.files_dir("uploads") == tmp_path / "h.duckdb.files" / "_uploads"


def test_the_default_is_a_folder_unless_an_older_single_file_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "opslab" / "history"
    (tmp_path / "opslab").mkdir()
    (tmp_path / "opslab" / "opslab.duckdb").write_bytes(b"")
    assert default_db_path() == tmp_path / "opslab" / "opslab.duckdb"  # an older user's history stays
    (tmp_path / "opslab" / "history").mkdir()
    assert default_db_path() == tmp_path / "opslab" / "history"


def test_a_path_that_is_neither_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    out = subprocess.run(
        _opslab("--db", str(tmp_path / "notes.txt"), "workspace", "list"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_exercise_comparison_reads_the_other_workspaces_files(tmp_path: Path) -> None:
    from pipelines.store.exercise_sql import retraining_comparison

    history = RunHistory(tmp_path / "room")
    for name, policy in (("seat-01", "never"), ("seat-01-retrain", "drift")):
        store = history.store(name)
        store.ensure_workspace(name, scenario="seasons-change", seed=1, settings={"policy": {"kind": policy}})
        store.insert_rows("weekly", [{"workspace": name, "week": 0, "sim_time": datetime(2012, 1, 2), "quality": 50.0, "quality_never_retrained": 60.0,
                                      "quality_metric": "mae"}])  # fmt: skip
    found = retraining_comparison(history.store("seat-01"), "seat-01", "seasons-change")
    assert found["workspace"].tolist() == ["seat-01-retrain"] and found["policy"].tolist() == ["drift"]


def test_the_console_of_one_seat_cannot_reach_another_seats_file(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "room")
    for name in ("seat-01", "seat-02"):
        history.store(name).ensure_workspace(name, scenario="secret-" + name, seed=1, settings={})
    mine = history.workspace_file("seat-01")
    assert run_query(mine, "seat-01", "SELECT scenario FROM workspaces").frame["scenario"].tolist() == [
        "secret-seat-01"
    ]
    other = history.workspace_file("seat-02")
    for sql in (
        f"ATTACH '{other}' AS o (READ_ONLY)",
        f"SELECT * FROM '{other}'",
        f"SELECT * FROM read_text('{other}')",
        f"SELECT * FROM glob('{tmp_path}/room/*')",
    ):
        with pytest.raises(QueryError):
            run_query(mine, "seat-01", sql)


@pytest.mark.parametrize(("seats", "weeks"), [(2, 1), (6, 1)])
def test_seats_playing_at_once_all_succeed_with_complete_histories(
    tmp_path: Path, seats: int, weeks: int
) -> None:
    """The workshop's room: every seat plays at the same moment into one history folder."""
    room = tmp_path / "room"
    plays = [
        subprocess.Popen(
            _opslab(
                "--db",
                str(room),
                "--workspace",
                f"seat-{i:02d}",
                "scenario",
                "run",
                "workshop-drift",
                "--weeks",
                str(weeks),
                "--json",
            ),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(1, seats + 1)
    ]
    outputs = [play.communicate(timeout=300) for play in plays]
    for play, (out, err) in zip(plays, outputs, strict=True):
        assert play.returncode == 0, err[-800:]
        assert json.loads(out)["status"] == "succeeded"
    history = RunHistory(room)
    assert history.workspace_names() == [f"seat-{i:02d}" for i in range(1, seats + 1)]
    for name in history.workspace_names():
        store = history.store(name)
        play = store.scenario_runs(name).iloc[-1]
        assert (play["status"], play["weeks_done"], play["weeks_planned"]) == ("succeeded", weeks, weeks)
        assert len(store.select("weekly", name)) == weeks
        runs = store.select("runs", name)
        assert set(runs["status"]) <= {"succeeded", "failed"} and not runs.empty


def test_a_second_play_into_a_playing_workspace_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """A live process recorded as playing the workspace (a sleeper standing in for it): the second
    play is refused before it writes anything, and the first one's record is untouched."""
    store = RunHistory(tmp_path / "room").store("seat-01")
    player = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        ident = store.start_scenario_run(
            workspace="seat-01", scenario="workshop-drift", seed=7, settings={}, weeks=12
        )
        store.update_rows("scenario_runs", {"scenario_run_id": ident}, pid=player.pid, weeks_done=4)
        out = subprocess.run(
            _opslab(
                "--db",
                str(tmp_path / "room"),
                "--workspace",
                "seat-01",
                "scenario",
                "run",
                "workshop-drift",
                "--weeks",
                "2",
                "--replace",
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        player.kill()
        player.wait()
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"is being played by process {player.pid} (workshop-drift, week 4 of 12)" in out.stderr
    plays = store.scenario_runs("seat-01")
    assert len(plays) == 1 and store.select("runs", "seat-01").empty
