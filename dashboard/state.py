"""Session state, initialised once per browser session: which run history and workspace to show.

Deep links: `?workspace=NAME` picks the workspace and `?run=ID` opens a run on the DevOps or
MLOps page. Each browser session can pick its own workspace, except in a workshop room:

- **facilitator mode** (`OPSLAB_FACILITATOR=1`, `opslab dashboard --facilitator`): every workspace, the
  Facilitator page, and `?watch=1` to look at a seat's workspace read-only;
- **room mode** (the history has a `room.json` and this is not the facilitator's app): a session is a
  seat, named by the secret `?seat=TOKEN` of its link, and only ever shows, lists, plays into and
  resets the workspaces the seat owns (its own, and names starting with "<seat>-");
- otherwise (one person's `make run`): every workspace, as always.
"""

from __future__ import annotations

import os

import streamlit as st

from dashboard import data_room
from pipelines.errors import OpsLabError
from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name, resolve_db_path
from pipelines.workshop import Room

__all__ = [
    "FACILITATOR_ENV",
    "db_path",
    "facilitator_mode",
    "init",
    "owns",
    "read_only",
    "seat",
    "set_workspace",
    "stop_watching",
    "watching",
    "workspace",
]

FACILITATOR_ENV = "OPSLAB_FACILITATOR"


def facilitator_mode() -> bool:
    return os.environ.get(FACILITATOR_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def init() -> None:
    if "db_path" not in st.session_state:
        st.session_state.db_path = str(resolve_db_path(os.environ.get("OPSLAB_DB")))
    try:
        room = None if facilitator_mode() else data_room.room(st.session_state.db_path)
    except OpsLabError as exc:  # a broken room file keeps the room closed rather than open to all
        st.error(str(exc), icon="⚠️")
        st.stop()
    previous_seat = st.session_state.get("seat")
    st.session_state.seat = _seat_of_session(room) if room is not None else None
    own = st.session_state.seat or DEFAULT_WORKSPACE
    current = st.session_state.get("workspace")
    if current is None or st.session_state.seat != previous_seat or not owns(current):
        st.session_state.workspace = own  # a new session, a new seat, or a room made meanwhile

    wanted = st.query_params.get("workspace")
    refused = invalid = None
    if wanted and wanted != st.session_state.workspace:
        try:
            name = check_workspace_name(wanted)
        except ValueError as exc:  # a wrong link says what was wrong, and which workspace shows instead
            name, invalid = st.session_state.workspace, str(exc)
        if owns(name):
            st.session_state.workspace = name
        else:
            refused = name
    if facilitator_mode() and wanted and st.query_params.get("watch") == "1":
        st.session_state.watching = st.session_state.workspace
    st.query_params["workspace"] = st.session_state.workspace
    if st.session_state.seat is not None:
        st.query_params["seat"] = st.session_state.seat_token
    if watching():
        st.query_params["watch"] = "1"
    elif "watch" in st.query_params:
        del st.query_params["watch"]
    if invalid:
        st.warning(f"The link's workspace cannot be opened. {invalid} Showing {st.session_state.workspace}.",
                   icon="🔎")  # fmt: skip
    if refused:
        st.warning(f"Workspace {refused} belongs to another seat, so this page stays on your own, "
                   f"{st.session_state.workspace}.", icon="🔒")  # fmt: skip


def _seat_of_session(room: Room) -> str:
    """The seat this session's link names (kept across pages), or one page saying to use that link."""
    token = st.query_params.get("seat") or st.session_state.get("seat_token")
    seat = room.seat_of(token) if token else None
    if seat is None:
        st.session_state.pop("seat_token", None)
        st.title("OpsLab workshop")
        st.info(
            "This OpsLab serves a workshop room: open the link the facilitator gave you "
            "(it ends in `?seat=` and your seat's code).",
            icon="🔑",
        )
        st.stop()
    st.session_state.seat_token = token
    return seat.workspace


def db_path() -> str:
    return st.session_state.db_path


def workspace() -> str:
    return st.session_state.workspace


def seat() -> str | None:
    """The seat's workspace in room mode, None otherwise."""
    return st.session_state.get("seat")


def owns(name: str) -> bool:
    """May this session show, play into and reset workspace `name`?"""
    own = seat()
    return own is None or data_room.seat_owns(own, name)


def watching() -> str | None:
    """The seat workspace the facilitator is looking at read-only (`?watch=1`), if any."""
    name = st.session_state.get("watching")
    return name if facilitator_mode() and name == st.session_state.get("workspace") else None


def read_only() -> bool:
    """True when the buttons that write (play, run, reset, Start) must stay disabled."""
    return watching() is not None


def stop_watching() -> None:
    st.session_state.pop("watching", None)
    if "watch" in st.query_params:
        del st.query_params["watch"]


def set_workspace(name: str) -> None:
    name = check_workspace_name(name)
    if not owns(name):
        own = seat()
        raise ValueError(
            f"In this room you can use {own} and workspaces named {own}-something (such as {own}-retrain), "
            f"not {name}."
        )
    stop_watching()
    st.session_state.workspace = name
    st.query_params["workspace"] = name
