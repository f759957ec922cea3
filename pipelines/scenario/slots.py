"""Plays take turns for the machine's cores: at most N at once per history, the others wait in line.

Twenty seats pressing Play together on a 2-core machine would run twenty plays at once: each takes
twenty times longer, together they need gigabytes, the pages go unanswered and a service server
that cannot start in its health timeout fails a deploy that would have passed on a quiet machine
(so the history would depend on the load). With slots, N plays run (`OPSLAB_MAX_PLAYS`, default the
number of cores) and the others wait, saying so; each play then runs at full speed and the first
seats are done in seconds.

A slot is an exclusive `flock` on `<history>/_plays/slot-<i>.lock`: the kernel lets go of it when
the process ends, however it ends, so a killed play never keeps a slot.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["max_plays", "play_slot"]

try:
    import fcntl
except ImportError:  # Windows: no flock; plays are not limited there
    fcntl = None  # type: ignore[assignment]


def max_plays() -> int:
    """How many plays may run at once: `OPSLAB_MAX_PLAYS`, else the number of cores."""
    raw = os.environ.get("OPSLAB_MAX_PLAYS", "")
    try:
        return max(1, int(raw)) if raw else max(1, os.cpu_count() or 1)
    except ValueError:
        raise ValueError(f"OPSLAB_MAX_PLAYS must be a whole number of plays, not {raw!r}") from None


def slot_free(folder: Path, limit: int | None = None) -> bool:
    """Is one of `limit` play slots in `folder` free right now? (A hint: another play may take it next.)"""
    if fcntl is None or not folder.is_dir():
        return True
    for number in range(max_plays() if limit is None else limit):
        with open(folder / f"slot-{number}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return True
    return False


@contextlib.contextmanager
def play_slot(
    folder: Path,
    limit: int | None = None,
    *,
    on_wait: Callable[[float], None] | None = None,
    poll_s: float = 0.25,
) -> Iterator[int | None]:
    """Hold one of `limit` play slots in `folder` for the block (the slot's number); `on_wait(seconds)`
    is called while every slot is taken."""
    if fcntl is None:
        yield None
        return
    limit = max_plays() if limit is None else limit
    folder.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    while True:
        for number in range(limit):
            handle = open(folder / f"slot-{number}.lock", "a+")  # noqa: SIM115 - held for the block
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            try:
                yield number
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if on_wait is not None:
            on_wait(time.monotonic() - began)
        time.sleep(poll_s)
