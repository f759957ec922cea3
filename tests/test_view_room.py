"""AppTests of a workshop room's isolation: a session is a seat named by its link's `?seat=TOKEN` and
only ever shows, lists and plays into the workspaces it owns; facilitator mode and a history without
a room list every workspace, as one person's `make run` always did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.store import RunHistory
from tests.conftest import APP

WORKSPACES = ("demo", "seat-01", "seat-01x", "seat-02", "seat-02-retrain")
TOKENS = {"seat-01": "tok-one-7f3a", "seat-02": "tok-two-91c2"}


def write_room(folder: Path) -> None:
    seats = [{"workspace": ws, "token": token} for ws, token in TOKENS.items()]
    room = {"preset": "workshop-drift", "created_at": "2026-12-01T13:00:00+00:00", "seats": seats}
    (folder / "room.json").write_text(json.dumps(room), encoding="utf-8")


@pytest.fixture
def room_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder history with a room of two seats: each workspace has one run labelled with its name."""
    import streamlit as st

    folder = tmp_path / "room"
    history = RunHistory(folder)
    for ws in WORKSPACES:
        store = history.store(ws)
        run = store.start_run(
            workspace=ws, kind="devops", trigger="manual", sim_time=None, label=f"run of {ws}"
        )
        store.finish_run(run, "succeeded")
    write_room(folder)
    monkeypatch.setenv("OPSLAB_DB", str(folder))
    monkeypatch.delenv("OPSLAB_FACILITATOR", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    return folder


def open_app(page: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception
    return at


def picker_options(at: AppTest) -> list[str]:
    return list(at.selectbox(key="workspace_picker").options)


def shown_text(at: AppTest) -> str:
    """Everything the page shows as text and tables, to look for another seat's rows."""
    parts = [str(e.value) for kind in ("markdown", "caption", "info", "warning", "error", "title")
             for e in at.get(kind)]  # fmt: skip
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(parts)


@pytest.mark.parametrize("params", [{}, {"seat": "not-a-token"}, {"workspace": "seat-02"}])
def test_a_session_without_its_seat_link_gets_one_page_and_no_data(room_db: Path, params: dict) -> None:
    at = open_app("views/history.py", **params)
    assert len(at.info) == 1 and "open the link the facilitator gave you" in at.info[0].value
    assert not at.error and not at.dataframe and not at.get("selectbox") and not at.get("text_area")
    assert "run of" not in shown_text(at)


def test_a_seat_lists_only_its_own_workspaces(room_db: Path) -> None:
    at = open_app(seat=TOKENS["seat-02"])
    assert at.session_state.workspace == "seat-02"
    assert picker_options(at) == ["seat-02", "seat-02-retrain"]
    assert at.query_params["seat"] == TOKENS["seat-02"]
    at = open_app(seat=TOKENS["seat-01"])
    assert picker_options(at) == ["seat-01"]  # seat-01x is not seat-01's: only "seat-01-…" is


def test_a_deep_link_to_another_seat_stays_on_the_seats_own_and_the_console_sees_only_its_rows(
    room_db: Path,
) -> None:
    at = open_app("views/history.py", seat=TOKENS["seat-01"], workspace="seat-02")
    assert at.session_state.workspace == "seat-01"
    assert len(at.warning) == 1 and "seat-02 belongs to another seat" in at.warning[0].value
    at.text_area(key="history_sql").set_value("SELECT DISTINCT workspace, label FROM runs")
    at.button(key="history_run").click().run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["label"].tolist() == ["run of seat-01"]
    for other in ("seat-02", "seat-02-retrain", "demo", "seat-01x"):
        assert f"run of {other}" not in shown_text(at)


def test_a_seat_may_open_its_own_prefixed_workspace(room_db: Path) -> None:
    at = open_app("views/history.py", seat=TOKENS["seat-02"], workspace="seat-02-retrain")
    assert at.session_state.workspace == "seat-02-retrain"
    assert not at.warning


def test_new_workspace_refuses_another_seats_name_in_one_sentence(room_db: Path) -> None:
    at = open_app(seat=TOKENS["seat-01"])
    for name in ("seat-02", "demo", "learn-drift"):
        at.text_input(key="new_workspace").input(name).run()
        assert not at.exception
        assert at.session_state.workspace == "seat-01"
        assert len(at.error) == 1 and "In this room you can use seat-01" in at.error[0].value
        assert at.error[0].value.count(". ") == 0
    at.text_input(key="new_workspace").input("seat-01-retrain").run()
    assert not at.error and at.session_state.workspace == "seat-01-retrain"
    assert at.selectbox(key="workspace_picker").value == "seat-01-retrain"


def test_a_seats_session_keeps_its_seat_when_the_link_loses_it(room_db: Path) -> None:
    at = open_app("views/history.py", seat=TOKENS["seat-02"])
    del at.query_params["seat"]  # as a page switch may drop the query
    at.run()
    assert not at.exception and at.session_state.workspace == "seat-02"
    assert at.query_params["seat"] == TOKENS["seat-02"]


def test_facilitator_mode_lists_every_workspace_without_a_seat(
    room_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSLAB_FACILITATOR", "1")
    at = open_app(workspace="seat-02")
    assert at.session_state.workspace == "seat-02"
    assert picker_options(at) == sorted(WORKSPACES)


def test_without_a_room_every_workspace_is_listed_as_before(room_db: Path) -> None:
    (room_db / "room.json").unlink()
    at = open_app(workspace="seat-02")
    assert at.session_state.workspace == "seat-02"
    assert picker_options(at) == sorted(WORKSPACES)
    assert not at.info or "facilitator" not in at.info[0].value


def test_a_broken_room_file_keeps_the_room_closed_with_one_sentence(room_db: Path) -> None:
    (room_db / "room.json").write_text("{ not json", encoding="utf-8")
    at = open_app("views/history.py", seat=TOKENS["seat-01"])
    assert len(at.error) == 1 and "workshop prepare" in at.error[0].value
    assert not at.dataframe and not at.get("selectbox")
    assert "run of" not in shown_text(at)


def test_a_room_file_deleted_while_the_room_is_served_keeps_every_seat_closed(room_db: Path) -> None:
    open_app(seat=TOKENS["seat-01"])  # this server now serves the room
    (room_db / "room.json").unlink()
    for params in ({}, {"seat": TOKENS["seat-01"], "workspace": "seat-02"}):
        at = open_app("views/history.py", **params)
        assert len(at.error) == 1 and "room file" in at.error[0].value and "is gone" in at.error[0].value
        assert not at.dataframe and not at.get("selectbox")
        assert "run of" not in shown_text(at)
