"""Real-browser checks of a workshop room: the Facilitator page at a laptop's and a projector's size,
live; watching a seat read-only; a seat's link and a browser without one (server pattern of
tests/test_browser.py)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import PRESETS
from pipelines.store import RunHistory, Store
from pipelines.workshop import Room, load_room, prepare_room
from tests.conftest import CHROMIUM, READY, serve_dashboard

SHORT = dataclasses.replace(PRESETS["workshop-drift"], weeks=2)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    reason = "/usr/bin/chromium is missing: install Debian's chromium package (`make test` does it as root)"
    if os.environ.get("OPSLAB_REQUIRE_BROWSER"):
        raise RuntimeError(reason + " (OPSLAB_REQUIRE_BROWSER is set)")
    pytest.skip(reason, allow_module_level=True)


def _short_play(store: Store, workspace: str) -> None:
    run_scenario(store, workspace, SHORT, replace=True)


@pytest.fixture(scope="module")
def room_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    history = RunHistory(tmp_path_factory.mktemp("browser-room") / "room")
    prepare_room(history, 3, play=_short_play)
    return history.path


@pytest.fixture(scope="module")
def room(room_folder: Path) -> Room:
    loaded = load_room(RunHistory(room_folder))
    assert loaded is not None
    return loaded


def _serve(folder: Path, log: Path, *, facilitator: bool) -> Iterator[str]:
    yield from serve_dashboard(folder, log, OPSLAB_FACILITATOR="1" if facilitator else "")


@pytest.fixture(scope="module")
def facilitator_server(room_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(room_folder, tmp_path_factory.mktemp("fac") / "streamlit.log", facilitator=True)


@pytest.fixture(scope="module")
def room_server(room_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(room_folder, tmp_path_factory.mktemp("seats") / "streamlit.log", facilitator=False)


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)


def _no_error_boxes(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlert"]:has([data-testid="stAlertContentError"])')
    assert errors.count() == 0, errors.all_inner_texts()


@pytest.mark.parametrize("size", [(1400, 900), (1024, 768)], ids=["1400x900", "1024x768"])
def test_the_facilitator_page_fits_and_refreshes_by_itself(page, facilitator_server: str, size) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    _open(page, facilitator_server + "/facilitator")
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible(timeout=30_000)
    _no_error_boxes(page)
    expect(page.get_by_text("3 ready")).to_be_visible()
    box = grid.bounding_box()
    assert box is not None and box["x"] + box["width"] <= size[0]  # the grid scrolls inside itself
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    refreshed = page.get_by_text(re.compile(r"^Refreshed \d\d:\d\d:\d\d UTC"))
    first = refreshed.inner_text()
    expect(refreshed).not_to_have_text(first, timeout=15_000)  # the fragment reran on its own
    _no_error_boxes(page)


def test_watching_a_seat_opens_its_timeline_read_only(page, facilitator_server: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    _open(page, facilitator_server + "/timeline?workspace=seat-02&watch=1")
    expect(page.get_by_text("Watching seat-02 read-only")).to_be_visible(timeout=30_000)
    _no_error_boxes(page)
    page.get_by_role("link", name="Control room").click()
    page.wait_for_selector(READY, timeout=60_000)
    expect(page.get_by_text("Watching seat-02 read-only")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Play it")).to_be_disabled()


def test_a_seat_link_opens_that_seat_and_no_link_opens_nothing(page, room_server: str, room: Room) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    _open(page, room_server + "/history")
    expect(page.get_by_text("open the link the facilitator gave you")).to_be_visible(timeout=30_000)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    _open(page, f"{room_server}/history?seat={room.seats[2].token}&workspace=seat-01")
    expect(page.get_by_text("belongs to another seat")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("combobox", name="Workspace")).to_have_value("seat-03")
    _no_error_boxes(page)
