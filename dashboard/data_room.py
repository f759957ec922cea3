"""Cached loaders for a workshop room (same pattern as `dashboard.data`).

A room is the `room.json` that `opslab workshop prepare` writes into a folder history: its seats, each
a workspace and the secret token of its link. Reading it is cheap and it rarely changes, so the
answer is cached by the file's size and mtime; the seats' statuses are the lead's
`pipelines.workshop.room_status`, which never waits on a seat that is playing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

from pipelines.store import RunHistory

__all__ = ["Room", "Seat", "load_room", "room", "room_version", "seat_owns"]

ROOM_FILE = "room.json"


# A local reading of ROOM.md's `room.json` until `pipelines.workshop` lands on main.
@dataclass(frozen=True)
class Seat:
    workspace: str
    token: str


@dataclass(frozen=True)
class Room:
    preset: str
    seats: tuple[Seat, ...]

    def seat_of(self, token: str) -> Seat | None:
        return next((seat for seat in self.seats if token and seat.token == token), None)


def load_room(history: RunHistory) -> Room | None:
    if history.single_file:
        return None
    try:
        raw = json.loads((history.path / ROOM_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    seats = tuple(Seat(str(s["workspace"]), str(s["token"])) for s in raw.get("seats", []))
    return Room(str(raw.get("preset", "")), seats)


def seat_owns(seat_workspace: str, workspace: str) -> bool:
    return workspace == seat_workspace or workspace.startswith(f"{seat_workspace}-")


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
def _room(db: str, version: tuple[int, int]) -> Any:
    return load_room(RunHistory(db)) if version != (0, 0) else None


def room(db: str) -> Room | None:
    """The history's room, or None when it has none (one person's `make run`)."""
    return _room(db, room_version(db))
