"""AppTests of the Facilitator page (seats x exercises, live, never waiting on a seat; the seats'
links) and of watching a seat read-only from it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.exercises import EXERCISES, start_exercise
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import PRESETS
from pipelines.store import RunHistory, Store
from pipelines.workshop import load_room, prepare_room
from tests.conftest import APP

SHORT = dataclasses.replace(PRESETS["workshop-drift"], weeks=2)


def _short_play(store: Store, workspace: str) -> None:
    run_scenario(store, workspace, SHORT, replace=True)


@pytest.fixture(scope="module")
def room_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A room of three seats copied from one two-week play; seat-02 has started the first exercise."""
    history = RunHistory(tmp_path_factory.mktemp("room") / "room")
    prepare_room(history, 3, play=_short_play)
    start_exercise(history.store("seat-02"), "seat-02", EXERCISES[0].id)
    return history.path


@pytest.fixture
def facilitator(room_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import streamlit as st

    monkeypatch.setenv("OPSLAB_DB", str(room_folder))
    monkeypatch.setenv("OPSLAB_FACILITATOR", "1")
    st.cache_data.clear()
    st.cache_resource.clear()
    return room_folder


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # AppTest lands on some pages (the Control room) only from a page already run
    at.switch_page(page).run()
    assert not at.exception
    return at


def frame_of(at: AppTest, key: str):
    """The grid (it has a Timeline column) or the seats' links (a link column)."""
    column = {"fac_grid": "timeline", "fac_links": "link"}[key]
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_grid_shows_every_seat_its_exercises_and_a_link_to_watch_it(facilitator: Path) -> None:
    at = open_page("views/facilitator.py")
    assert not at.error
    grid = frame_of(at, "fac_grid")
    assert grid["seat"].tolist() == ["seat-01", "seat-02", "seat-03"]
    assert grid["state"].tolist() == ["ready"] * 3
    assert grid["timeline"].tolist() == [f"/timeline?workspace=seat-0{i}&watch=1" for i in (1, 2, 3)]
    first = f"1. {EXERCISES[0].title}"
    assert grid.loc[1, first].startswith("started ") and grid.loc[0, first] == "—"
    assert all(run.startswith("mlops") or run.startswith("devops") for run in grid["latest run"])
    assert any("**3** ready" in m.value for m in at.markdown)


def test_the_seats_links_carry_each_seats_token_on_the_rooms_address(facilitator: Path) -> None:
    at = open_page("views/facilitator.py")
    at.text_input(key="fac_base_url").set_value("http://10.0.0.5:8501").run()
    links = frame_of(at, "fac_links")
    room = load_room(RunHistory(facilitator))
    assert room is not None
    assert links["link"].tolist() == [f"http://10.0.0.5:8501/?seat={s.token}" for s in room.seats]


def test_a_seat_being_written_keeps_its_last_cells_and_the_page_does_not_wait(facilitator: Path) -> None:
    at = open_page("views/facilitator.py")
    before = frame_of(at, "fac_grid")
    file = RunHistory(facilitator).workspace_file("seat-02")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(file)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        file.touch()  # a new version: the page must look again, and find the file held
        at.run(timeout=10)
        assert not at.exception and not at.error
        during = frame_of(at, "fac_grid")
        assert during.loc[1, "state"] == "busy"
        exercise_columns = [c for c in before.columns if c[0].isdigit()]
        assert during.loc[1, exercise_columns].tolist() == before.loc[1, exercise_columns].tolist()
        assert during.loc[0, "state"] == "ready"
    finally:
        holder.kill()
        holder.communicate()


def test_without_a_room_the_page_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    folder = tmp_path / "history"
    folder.mkdir()
    monkeypatch.setenv("OPSLAB_DB", str(folder))
    monkeypatch.setenv("OPSLAB_FACILITATOR", "1")
    st.cache_data.clear()
    at = open_page("views/facilitator.py")
    assert "workshop prepare --seats N" in at.info[0].value
    assert not at.dataframe


def test_the_page_is_only_in_facilitator_mode(room_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSLAB_DB", str(room_folder))
    monkeypatch.delenv("OPSLAB_FACILITATOR", raising=False)
    room = load_room(RunHistory(room_folder))
    assert room is not None
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["seat"] = room.seats[0].token
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match=r"navigation page for .*facilitator\.py"):
        at.switch_page("views/facilitator.py")  # a seat's app does not have the page at all


WRITE_BUTTONS = ("cr_run_scenario", "cr_devops_head", "cr_mlops_run", "cr_reset")


def test_a_watched_seat_is_read_only_until_the_facilitator_stops_watching(facilitator: Path) -> None:
    at = open_page("views/timeline.py", workspace="seat-02", watch="1")
    assert not at.error and at.session_state.workspace == "seat-02"
    assert any("Watching seat-02 read-only" in c.value for c in at.caption)
    at.switch_page("views/control_room.py").run()
    assert not at.exception and at.session_state.workspace == "seat-02"
    assert all(at.button(key=key).disabled for key in WRITE_BUTTONS)
    at.switch_page("views/learn.py").run()
    starts = [b for b in at.button if b.key and b.key.startswith("learn_start_")]
    assert starts and all(b.disabled for b in starts)
    at.button(key="stop_watching").click().run()
    assert not any("read-only" in c.value for c in at.caption)
    assert not any(b.disabled for b in at.button if b.key and b.key.startswith("learn_start_"))
    at.switch_page("views/control_room.py").run()
    assert not at.button(key="cr_run_scenario").disabled and not at.button(key="cr_mlops_run").disabled


def test_watch_means_nothing_outside_facilitator_mode(
    room_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSLAB_DB", str(room_folder))
    monkeypatch.delenv("OPSLAB_FACILITATOR", raising=False)
    room = load_room(RunHistory(room_folder))
    assert room is not None
    at = open_page("views/control_room.py", seat=room.seats[1].token, workspace="seat-02", watch="1")
    assert at.session_state.workspace == "seat-02"
    assert not at.button(key="cr_run_scenario").disabled
    assert "watch" not in at.query_params


def test_the_grid_cells_are_short_enough_for_a_laptop() -> None:
    from datetime import datetime

    from dashboard.data_room import status_table
    from pipelines.workshop import ExerciseCell, SeatStatus

    begun = datetime(2026, 12, 1, 14, 2)
    found = [
        SeatStatus("seat-01", "playing", {"scenario": "workshop-drift", "week": 5, "weeks": 12, "pid": 1},
                   exercises={EXERCISES[0].id: ExerciseCell("passed", begun, "ok")}),
        SeatStatus("seat-02", "ready", exercises={EXERCISES[0].id: ExerciseCell("started", begun)}),
    ]  # fmt: skip
    table = status_table(found)
    first = f"1. {EXERCISES[0].title}"
    assert table["state"].tolist() == ["playing week 5 of 12", "ready"]
    assert table[first].tolist() == ["passed ✓", "started 14:02"]
    assert table[f"2. {EXERCISES[1].title}"].tolist() == ["—", "—"]
    assert table["timeline"].tolist() == [
        "/timeline?workspace=seat-01&watch=1",
        "/timeline?workspace=seat-02&watch=1",
    ]


def test_watching_a_seat_that_is_writing_never_waits_on_it_nor_asks_it_to_yield(facilitator: Path) -> None:
    """A process holds seat-03's file (its play writing): the watched Timeline says so at once,
    without waiting on the lock or touching the seat's wait file, and shows the seat once free."""
    from pipelines.store.connection import wait_file

    seat = RunHistory(facilitator).workspace_file("seat-03")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.readline()", str(seat)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        at = open_page("views/timeline.py", workspace="seat-03", watch="1")
        assert time.monotonic() - began < 6.0  # the page's own run, not the 8 s lock wait
        assert any("seat-03 is writing its history right now" in i.value for i in at.info)
        assert not at.error
        assert not wait_file(seat).exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.communicate(timeout=10)
    at.run()
    assert not at.exception and not at.error
    assert not any("is writing its history" in i.value for i in at.info)
    assert at.get("plotly_chart")  # the seat's Timeline, drawn
