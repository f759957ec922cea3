"""AppTest of presenter mode over the suite's short played history (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.scenario.steps import read_story_steps
from pipelines.store import Store
from tests.conftest import APP


def _page(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # AppTest lands on some pages only from a page already run
    at.switch_page("views/presenter.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _shown(at: AppTest) -> str:
    return "\n".join(m.value.replace("\\", "") for m in at.markdown)


def test_next_and_previous_walk_the_steps_and_the_url_keeps_the_place(app_env: Path) -> None:
    steps = read_story_steps(Store(app_env), "demo")
    assert len(steps) >= 3
    at = _page()
    assert at.title[0].value == steps[0].title and steps[0].annotation in _shown(at)
    assert at.button(key="presenter_prev").disabled and at.get("plotly_chart")
    at.button(key="presenter_next").click().run()
    assert at.query_params["step"] == "2"
    assert at.title[0].value == steps[1].title and steps[1].annotation in _shown(at)
    at.button(key="presenter_prev").click().run()
    assert at.title[0].value == steps[0].title


def test_a_step_in_the_link_opens_that_step_and_an_impossible_one_the_last(app_env: Path) -> None:
    steps = read_story_steps(Store(app_env), "demo")
    assert _page(step="2").title[0].value == steps[1].title
    at = _page(step="99")
    assert at.title[0].value == steps[-1].title and at.button(key="presenter_next").disabled


def test_a_workspace_with_nothing_played_gets_a_sentence(app_env: Path) -> None:
    at = _page(workspace="empty")
    assert any("no played week yet" in str(i.value) for i in at.info)
    assert not at.get("plotly_chart")


@pytest.fixture
def room(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A room whose only seat has played nothing, beside the played workspace `demo`."""
    folder = tmp_path / "room"
    folder.mkdir()
    shutil.copy(app_env, folder / "demo.duckdb")
    seats = [{"workspace": "seat-01", "token": "tok-one-7f3a"}]
    (folder / "room.json").write_text(
        json.dumps({"preset": "workshop-drift", "created_at": "2026-12-01T13:00:00+00:00", "seats": seats}),
        encoding="utf-8",
    )
    monkeypatch.setenv("OPSLAB_DB", str(folder))
    return folder


def test_in_a_room_a_seat_presents_only_its_own_workspace(room: Path) -> None:
    at = _page(seat="tok-one-7f3a", workspace="demo")
    assert at.session_state.workspace == "seat-01"
    assert any("no played week yet" in str(i.value) for i in at.info)  # not demo's story
    assert not at.get("plotly_chart")
