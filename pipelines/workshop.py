"""A workshop room: seats made from one played workspace, and a facilitator's view of them.

A room is a history folder (one DuckDB file per workspace, see `pipelines.store.location`) with a
`room.json` that names its seats and gives each a secret token for its link. `prepare_room` plays
the preset once, into `seat-01`, and copies that seat to the others (a copy takes a fraction of a
second, a play several), so a room of twenty is ready in seconds.

`seat_status` is what the facilitator sees of a seat. It never waits on, nor slows, the seat: it
reads the seat's file only when nobody writes it (at once or not at all, without asking a writer
to yield), and while the seat plays it reads the play's progress from the small file the play
rewrites each week (`Store.play_file`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.exercises import EXERCISES, run_check, started
from pipelines.store import RunHistory, Store, StoreError, StoreLocked, from_json, now_utc
from pipelines.store.copying import copy_workspace_file
from pipelines.store.liveness import pid_alive
from pipelines.store.queries import runs_table

__all__ = [
    "DEFAULT_ROOM_PRESET",
    "MAX_SEATS",
    "ROOM_FILE",
    "ExerciseCell",
    "Room",
    "Seat",
    "SeatStatus",
    "copy_workspace",
    "lan_address",
    "load_room",
    "prepare_room",
    "room_status",
    "seat_link",
    "seat_name",
    "seat_owns",
    "seat_status",
    "status_frame",
]

ROOM_FILE = "room.json"
DEFAULT_ROOM_PRESET = "workshop-drift"
MAX_SEATS = 99


class WorkshopError(OpsLabError):
    """A room that cannot be made or read, phrased for a person."""


@dataclass(frozen=True)
class Seat:
    workspace: str
    token: str


@dataclass(frozen=True)
class Room:
    preset: str
    created_at: str
    seats: tuple[Seat, ...]

    def seat_of(self, token: str | None) -> Seat | None:
        """The seat whose link carries `token` (compared in constant time)."""
        if not token:
            return None
        for seat in self.seats:
            if secrets.compare_digest(seat.token, token):
                return seat
        return None


def seat_name(number: int) -> str:
    return f"seat-{number:02d}"


def seat_owns(seat: str, workspace: str) -> bool:
    """A seat works in its own workspace and in ones named after it (`seat-03-retrain`)."""
    return workspace == seat or workspace.startswith(f"{seat}-")


def _room_file(history: RunHistory) -> Path:
    return history.path / ROOM_FILE


def load_room(history: RunHistory) -> Room | None:
    """The room of a history folder, or None when it has none."""
    if history.single_file:
        return None
    path = _room_file(history)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Room(
            preset=str(data["preset"]),
            created_at=str(data["created_at"]),
            seats=tuple(Seat(str(s["workspace"]), str(s["token"])) for s in data["seats"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkshopError(
            f"The room file {path} cannot be read ({exc}): run `opslab workshop prepare` again."
        ) from exc


def _write_room(history: RunHistory, room: Room) -> None:
    path = _room_file(history)
    payload = {"preset": room.preset, "created_at": room.created_at,
               "seats": [{"workspace": s.workspace, "token": s.token} for s in room.seats]}  # fmt: skip
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    os.chmod(temporary, 0o600)  # the tokens are the seats' keys
    temporary.replace(path)


def copy_workspace(history: RunHistory, source: str, target: str) -> None:
    """Make workspace `target` a copy of `source`: its file, its files, its name in every row."""
    if history.single_file:
        raise WorkshopError(
            "Copying a workspace needs a history folder (a file per workspace), not one file."
        )
    source_store, target_store = history.store(source), history.store(target)
    if not source_store.exists():
        raise WorkshopError(f"Workspace {source!r} has no history to copy.")
    for name, store in ((source, source_store), (target, target_store)):
        if store.exists() and (live := store.live_scenario_play(name)) is not None:
            raise WorkshopError(
                f"Workspace {name!r} is being played by process {live['pid']}: wait for it to finish."
            )
    source_files, target_files = source_store.files_dir(source), target_store.files_dir(target)
    partial = history.path / f".{target}.copying{history.workspace_file(target).suffix}"
    partial_files = history.path / f".{target}.files.copying"
    shutil.rmtree(partial_files, ignore_errors=True)
    try:
        copy_workspace_file(source_store.path, source, partial, target,
                            old_prefix=str(source_files), new_prefix=str(target_files))  # fmt: skip
        if source_files.exists():
            shutil.copytree(source_files, partial_files, symlinks=True,
                            ignore=shutil.ignore_patterns(source_store.play_file(source).name))  # fmt: skip
        if target_store.exists():
            history.delete_workspace(target)
        shutil.rmtree(target_files.parent, ignore_errors=True)
        if partial_files.exists():
            target_files.parent.mkdir(parents=True, exist_ok=True)
            partial_files.replace(target_files)
        partial.replace(target_store.path)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(partial_files, ignore_errors=True)


def prepare_room(
    history: RunHistory,
    seats: int,
    preset: str = DEFAULT_ROOM_PRESET,
    *,
    replace_seats: bool = False,
    progress: Callable[[str], None] | None = None,
    play: Callable[[Store, str], Any] | None = None,
) -> Room:
    """Play `preset` into seat-01 and copy it to seat-02..N; write the room file with new tokens.

    `play(store, workspace)` plays the preset (the CLI passes one that draws its progress)."""
    from pipelines.scenario.engine import run_scenario
    from pipelines.scenario.presets import PRESETS

    say = progress or (lambda text: None)
    if history.single_file:
        raise WorkshopError(
            f"A room needs a history folder, with a file per seat, not the single file {history.path}: "
            "pass --db with a folder."
        )
    if not 1 <= seats <= MAX_SEATS:
        raise WorkshopError(f"A room has 1 to {MAX_SEATS} seats, not {seats}.")
    if preset not in PRESETS:
        raise WorkshopError(f"There is no preset {preset!r}; `opslab scenario list` shows them.")
    names = [seat_name(i) for i in range(1, seats + 1)]
    taken = [n for n in names if history.store(n).exists() and not history.store(n).workspace_is_empty(n)]
    if taken and not replace_seats:
        raise WorkshopError(
            f"{len(taken)} of the seats already have a history ({', '.join(taken[:3])}{'…' if len(taken) > 3 else ''}): "
            "pass --replace to make them afresh (their work is lost), or use another --db folder."
        )
    history.path.mkdir(parents=True, exist_ok=True)
    first = names[0]
    say(f"playing {preset} into {first}")
    if play is not None:
        play(history.store(first), first)
    else:
        run_scenario(history.store(first), first, PRESETS[preset], replace=True)
    for name in names[1:]:
        say(f"copying {first} to {name}")
        copy_workspace(history, first, name)
    room = Room(preset, now_utc().isoformat(timespec="seconds"),
                tuple(Seat(n, secrets.token_urlsafe(9)) for n in names))  # fmt: skip
    _write_room(history, room)
    return room


def lan_address() -> str:
    """This machine's address on its network (no packet is sent), or 127.0.0.1 without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def seat_link(base_url: str, seat: Seat) -> str:
    return f"{base_url.rstrip('/')}/?seat={seat.token}"


# -- the facilitator's view ----------------------------------------------------------------------
@dataclass(frozen=True)
class ExerciseCell:
    state: str  # "not started" | "started" | "passed"
    started_at: datetime | None = None
    evidence: str = ""


@dataclass(frozen=True)
class SeatStatus:
    workspace: str
    state: str  # "empty" | "ready" | "playing" | "busy"
    playing: dict[str, Any] | None = None
    latest_run: dict[str, Any] | None = None
    exercises: dict[str, ExerciseCell] = field(default_factory=dict)
    read_at: datetime | None = None
    file_version: tuple[int, int] | None = None


def _file_version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    wal = path.with_name(path.name + ".wal")
    extra = wal.stat().st_mtime_ns if wal.exists() else 0
    return stat.st_size, max(stat.st_mtime_ns, extra)


def _progress(store: Store, workspace: str) -> dict[str, Any] | None:
    """The play's own note of its progress, when the process that wrote it still lives."""
    try:
        note = from_json(store.play_file(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(note, dict)
        or note.get("host") != socket.gethostname()
        or not pid_alive(int(note.get("pid", 0)))
    ):
        return None
    return {k: note.get(k) for k in ("scenario", "week", "weeks", "pid", "waiting")}


def _read_seat(store: Store, workspace: str) -> tuple[dict[str, Any] | None, dict[str, ExerciseCell], bool]:
    with store.reading():
        if store.workspace_info(workspace) is None:
            return None, {}, False
        runs = runs_table(store, workspace, None, limit=1)
        latest = None
        if not runs.empty:
            row = runs.iloc[0]
            latest = {
                k: row.get(k)
                for k in ("run_id", "kind", "trigger", "status", "label", "started_at", "finished_at")
            }
        cells = {}
        for exercise in EXERCISES:
            begun = started(store, workspace, exercise.id)
            if begun is None:
                cells[exercise.id] = ExerciseCell("not started")
                continue
            verdict = run_check(store, workspace, exercise.id)
            cells[exercise.id] = ExerciseCell(
                "passed" if verdict.passed else "started", begun.started_at, verdict.evidence
            )
        return latest, cells, store.live_scenario_play(workspace) is not None


def seat_status(history: RunHistory, workspace: str, previous: SeatStatus | None = None) -> SeatStatus:
    """What a facilitator sees of one seat, read without ever making the seat wait."""
    store = Store(history.workspace_file(workspace), polite=True)
    playing = _progress(store, workspace)
    version = _file_version(store.path)
    if version is None:
        return SeatStatus(workspace, "empty", playing, read_at=now_utc())
    if (
        previous is not None
        and previous.file_version == version
        and playing is None
        and previous.state == "ready"
    ):
        return previous  # nothing changed since the last look: the file is not even opened
    try:
        latest, cells, live = _read_seat(store, workspace)
    except StoreLocked:  # the seat is writing: show its progress and the cells last read
        kept = previous or SeatStatus(workspace, "busy")
        return replace(kept, state="playing" if playing else "busy", playing=playing)
    except StoreError:
        return SeatStatus(workspace, "empty", playing, read_at=now_utc())
    state = "playing" if (live or playing) else "ready"
    return SeatStatus(workspace, state, playing, latest, cells, now_utc(), version)


def room_status(
    history: RunHistory, room: Room, previous: dict[str, SeatStatus] | None = None
) -> list[SeatStatus]:
    """Every seat's status; `previous` (the last answer, by workspace) keeps a busy seat's cells."""
    previous = previous or {}
    return [seat_status(history, s.workspace, previous.get(s.workspace)) for s in room.seats]


def _clock(value: Any) -> str:
    return pd.Timestamp(value).strftime("%H:%M") if value is not None and not pd.isna(value) else ""


def _cell_text(cell: ExerciseCell | None) -> str:
    if cell is None or cell.state == "not started":
        return "—"
    when = _clock(cell.started_at)
    return f"passed ✓ (started {when})" if cell.state == "passed" else f"started {when}"


def _state_text(status: SeatStatus) -> str:
    if status.playing and status.playing.get("waiting"):
        return f"waiting for a play slot ({status.playing['scenario']})"
    if status.playing:
        play = status.playing
        return f"playing {play['scenario']} week {play['week']} of {play['weeks']}"
    return status.state


def _run_text(run: dict[str, Any] | None) -> str:
    if not run:
        return ""
    label = f" {run['label']}" if run.get("label") else ""
    return f"{run['kind']}{label}: {run['status']} {_clock(run.get('finished_at') or run.get('started_at'))}".strip()


def status_frame(statuses: Sequence[SeatStatus]) -> pd.DataFrame:
    """One row per seat: its state, its latest run, and one column per exercise."""
    rows = []
    for status in statuses:
        row = {
            "seat": status.workspace,
            "state": _state_text(status),
            "latest run": _run_text(status.latest_run),
        }
        for number, exercise in enumerate(EXERCISES, start=1):
            row[f"{number}. {exercise.title}"] = _cell_text(status.exercises.get(exercise.id))
        row["read at"] = _clock(status.read_at)
        rows.append(row)
    columns = [
        "seat",
        "state",
        "latest run",
        *(f"{n}. {e.title}" for n, e in enumerate(EXERCISES, start=1)),
        "read at",
    ]
    return pd.DataFrame(rows, columns=columns)
