"""A workshop room: seats copied from one play, and a facilitator's view that never slows a seat."""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.exercises import EXERCISES, start_exercise
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import PRESETS
from pipelines.store import RunHistory, Store
from pipelines.store.connection import wait_file
from pipelines.workshop import (
    WorkshopError,
    load_room,
    prepare_room,
    room_status,
    seat_owns,
    seat_status,
    status_frame,
)

SHORT = dataclasses.replace(PRESETS["workshop-drift"], weeks=2)


def _short_play(store: Store, workspace: str) -> None:
    run_scenario(store, workspace, SHORT, replace=True)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> RunHistory:
    history = RunHistory(tmp_path_factory.mktemp("room") / "room")
    prepare_room(history, 3, play=_short_play)
    return history


def test_prepare_copies_one_play_to_every_seat(room: RunHistory) -> None:
    assert room.workspace_names() == ["seat-01", "seat-02", "seat-03"]
    first = room.store("seat-01").select("model_versions", "seat-01")
    for name in ("seat-02", "seat-03"):
        store = room.store(name)
        versions = store.select("model_versions", name)
        assert versions["sha256"].tolist() == first["sha256"].tolist()  # the same play, not a replay
        assert store.workspace_info(name)["scenario"] == "workshop-drift"
        for table in ("runs", "steps", "weekly", "deployments"):
            assert set(store.select(table, name)["workspace"]) == {name}
        paths = store.select("artifacts", name)["path"].tolist() + versions["path"].tolist()
        own = str(store.files_dir(name))
        assert paths and all(p.startswith(own) and Path(p).exists() for p in paths)
    assert not list(room.path.glob(".*copying*"))


def test_a_copied_seat_runs_its_own_pipelines(room: RunHistory) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "--db",
            str(room.path),
            "--workspace",
            "seat-03",
            "devops",
            "run",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-500:]
    assert json.loads(out.stdout)["status"] == "succeeded"
    assert len(room.store("seat-02").select("runs", "seat-02")) < len(
        room.store("seat-03").select("runs", "seat-03")
    )


def test_the_room_file_names_each_seat_with_a_private_token(room: RunHistory) -> None:
    loaded = load_room(room)
    assert loaded is not None and [s.workspace for s in loaded.seats] == ["seat-01", "seat-02", "seat-03"]
    tokens = [s.token for s in loaded.seats]
    assert len(set(tokens)) == 3 and all(len(t) >= 12 for t in tokens)
    assert loaded.seat_of(tokens[1]).workspace == "seat-02"  # type: ignore[union-attr]
    assert loaded.seat_of("seat-02") is None and loaded.seat_of("") is None
    assert stat.S_IMODE((room.path / "room.json").stat().st_mode) == 0o600
    assert seat_owns("seat-02", "seat-02-retrain") and not seat_owns("seat-02", "seat-03")
    assert not seat_owns("seat-1", "seat-10")


def test_prepare_refuses_to_overwrite_seats_or_use_one_file(room: RunHistory, tmp_path: Path) -> None:
    with pytest.raises(WorkshopError, match="already have a history"):
        prepare_room(room, 2, play=_short_play)
    with pytest.raises(WorkshopError, match="needs a history folder"):
        prepare_room(RunHistory(tmp_path / "one.duckdb"), 2, play=_short_play)
    with pytest.raises(WorkshopError, match="1 to 99 seats"):
        prepare_room(RunHistory(tmp_path / "r"), 0, play=_short_play)


def test_status_shows_exercises_not_started_started_and_the_latest_run(room: RunHistory) -> None:
    start_exercise(room.store("seat-02"), "seat-02", EXERCISES[0].id)
    statuses = {s.workspace: s for s in room_status(room, load_room(room))}  # type: ignore[arg-type]
    assert {s.state for s in statuses.values()} == {"ready"}
    assert statuses["seat-02"].exercises[EXERCISES[0].id].state == "started"
    assert statuses["seat-01"].exercises[EXERCISES[0].id].state == "not started"
    assert statuses["seat-01"].latest_run["status"] == "succeeded"  # type: ignore[index]
    frame = status_frame(list(statuses.values()))
    assert frame["seat"].tolist() == ["seat-01", "seat-02", "seat-03"]
    column = f"1. {EXERCISES[0].title}"
    assert frame.loc[1, column].startswith("started ") and frame.loc[0, column] == "—"


def test_a_seat_being_written_is_not_waited_for_nor_asked_to_yield(room: RunHistory) -> None:
    """A writer holds seat-01's file; the facilitator's look returns at once with the cells it had."""
    before = seat_status(room, "seat-01")
    assert before.state == "ready" and before.exercises
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(30)",
            str(room.workspace_file("seat-01")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        (
            room.workspace_file("seat-01").parent / "seat-01.duckdb"
        ).touch()  # a new version: it must try to read
        began = time.monotonic()
        during = seat_status(room, "seat-01", dataclasses.replace(before, file_version=(0, 0)))
        assert time.monotonic() - began < 1.0
        assert during.state == "busy" and during.exercises == before.exercises
        assert not wait_file(room.workspace_file("seat-01")).exists()
    finally:
        holder.kill()
        holder.communicate()


def test_a_play_notes_its_progress_for_onlookers_and_clears_it(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "room")
    store = history.store("seat-01")
    ident = store.start_scenario_run(
        workspace="seat-01", scenario="workshop-drift", seed=7, settings={}, weeks=12
    )
    store.progress_scenario_run(ident, 5)
    note = json.loads(store.play_file("seat-01").read_text())
    assert (note["scenario"], note["week"], note["weeks"]) == ("workshop-drift", 5, 12)
    status = seat_status(history, "seat-01")
    assert status.state == "playing" and status.playing["week"] == 5  # type: ignore[index]
    assert "playing workshop-drift week 5 of 12" in status_frame([status])["state"].iloc[0]
    store.finish_scenario_run(ident, "succeeded")
    assert not store.play_file("seat-01").exists()


def test_opslab_workshop_status_prints_the_grid(room: RunHistory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(room.path), "workshop", "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["seat"] for r in rows] == ["seat-01", "seat-02", "seat-03"]
    assert main(["--db", str(room.path.parent / "nothing"), "workshop", "status"]) == 2
    assert "no workshop room" in capsys.readouterr().err


def test_a_play_waiting_for_a_slot_reads_as_waiting_not_ready(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "room")
    store = history.store("seat-01")
    store.ensure_workspace("seat-01")
    store.note_waiting("seat-01", "workshop-drift", 12)
    status = seat_status(history, "seat-01")
    assert status.playing is not None and status.playing["waiting"]
    assert status_frame([status])["state"].iloc[0] == "waiting for a play slot (workshop-drift)"
    ident = store.start_scenario_run(
        workspace="seat-01", scenario="workshop-drift", seed=7, settings={}, weeks=12
    )
    assert not seat_status(history, "seat-01").playing.get("waiting")  # type: ignore[union-attr]
    store.finish_scenario_run(ident, "succeeded")
    assert seat_status(history, "seat-01").playing is None
