"""The sidebar's workspace picker follows the workspace the session is in."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import APP


def test_a_new_workspace_shows_in_the_picker(app_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert at.selectbox(key="workspace_picker").value == "demo"
    at.text_input(key="new_workspace").input("seat-07").run()
    assert not at.exception
    assert at.session_state.workspace == "seat-07"
    assert at.selectbox(key="workspace_picker").value == "seat-07"
    at.selectbox(key="workspace_picker").select("demo").run()
    assert at.session_state.workspace == "demo"
