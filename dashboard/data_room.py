"""Loaders for a workshop room (same pattern as `dashboard.data`); the room's reads are
`pipelines.workshop`'s.

A room is the `room.json` that `opslab workshop prepare` writes into a folder history: its seats,
each a workspace and the secret token of its link. Every page reads it for every session, so the
answer is cached by the file's size and mtime. The seats' statuses are never cached here:
`room_status` opens a seat's file only when nobody writes it and keeps a busy seat's last cells
from the previous answer, which the Facilitator page holds in its session.
"""

from __future__ import annotations

import os
import urllib.parse

import pandas as pd
import streamlit as st

from pipelines.store import RunHistory
from pipelines.workshop import (
    ROOM_FILE,
    Room,
    SeatStatus,
    WorkshopError,
    load_room,
    room_status,
    seat_link,
    seat_owns,
    seat_status,
    status_frame,
)

__all__ = [
    "room",
    "room_version",
    "seat_activity",
    "seat_links",
    "seat_owns",
    "status_table",
    "statuses",
    "timeline_link",
]


def room_version(db: str) -> tuple[int, int]:
    """Changes when `room.json` is written or removed (a new `workshop prepare --replace`); a
    single-file history has no room."""
    history = RunHistory(db)
    if history.single_file:
        return (0, 0)
    try:
        stat = os.stat(history.path / ROOM_FILE)
    except OSError:
        return (0, 0)
    return (stat.st_size, stat.st_mtime_ns)


@st.cache_data(show_spinner=False, max_entries=8)
def _room(db: str, version: tuple[int, int]) -> Room | None:
    return load_room(RunHistory(db)) if version != (0, 0) else None


@st.cache_resource(show_spinner=False)
def _rooms_served() -> set[str]:
    """The histories this server process has served as a room (one set per process)."""
    return set()


def room(db: str) -> Room | None:
    """The history's room, or None when it has none (one person's `make run`). A room file that
    cannot be read raises `WorkshopError`: a room must not open up because its file broke, nor
    because it was deleted while this server serves the room."""
    found = _room(db, room_version(db))
    served = _rooms_served()
    if found is not None:
        served.add(db)
    elif db in served:
        raise WorkshopError(
            f"This app serves a workshop room, but its room file {RunHistory(db).path / ROOM_FILE} is gone, "
            "so every seat stays closed. Run `opslab workshop prepare` again, or restart the app to use "
            "the history without a room."
        )
    return found


def statuses(db: str, current: Room, previous: dict[str, SeatStatus] | None) -> list[SeatStatus]:
    """Every seat's status now, without ever making a seat wait (see `pipelines.workshop`)."""
    return room_status(RunHistory(db), current, previous)


def seat_activity(db: str, workspace: str) -> str:
    """What a seat is doing now in a few words ("playing week 4 of 12"), read without waiting on it."""
    status = seat_status(RunHistory(db), workspace)
    return _short_state(status) if status.playing else "a run or a reset"


def timeline_link(workspace: str) -> str:
    """The facilitator's read-only look at a seat: its Timeline, watched (`?watch=1`)."""
    return "/timeline?" + urllib.parse.urlencode({"workspace": workspace, "watch": "1"})


def status_table(found: list[SeatStatus]) -> pd.DataFrame:
    """`status_frame`'s seats x exercises grid, with a link to each seat's Timeline, its cells
    shortened so that ten columns fit a laptop's screen (a passed exercise's start time, and the
    room's own preset name while a seat plays, are what a glance can do without)."""
    frame = status_frame(found)
    frame.insert(1, "timeline", [timeline_link(status.workspace) for status in found])
    frame["state"] = [_short_state(status) for status in found]
    exercises = [column for column in frame.columns if column[:1].isdigit()]
    frame[exercises] = frame[exercises].map(lambda text: "passed ✓" if text.startswith("passed") else text)
    return frame


def _short_state(status: SeatStatus) -> str:
    if status.playing and status.playing.get("waiting"):
        return "waiting for a play slot"
    if status.playing:
        return f"playing week {status.playing['week']} of {status.playing['weeks']}"
    return status.state


def seat_links(current: Room, base_url: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "seat": [s.workspace for s in current.seats],
            "link": [seat_link(base_url, s) for s in current.seats],
        }
    )
