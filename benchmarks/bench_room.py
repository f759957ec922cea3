"""A workshop room under load: N seats play a workshop preset at once while browsers read pages.

Everything is real and on loopback: a temporary history folder, the dashboard served by
`opslab dashboard` (the command that passes the safe flags), N `opslab scenario run --json`
processes started together (one per seat, the workshop presets in turn unless `--preset` names
one) and a bounded number of Chromium contexts (default 4, for a 2-core machine). One context
reads an observer seat that does not play (a seat reading its pages while the others play); the
others cycle over the playing seats' pages. Each visit is timed from navigation to ready
(BROWSER.md's signal: connected, script finished, every plotly chart drawn), its text is scanned
for a lock error and its exception and error boxes are counted. Afterwards each seat's file is
read: its play recorded as succeeded and complete, no run left `running`.

When the checkout has `opslab workshop prepare`, the room is prepared by it first (timed, the
observer is one more seat), the pages are opened through each seat's link and the plays replay
the seats. When it has the facilitator page, a facilitator server on its own port serves
/facilitator and one more context times it while the seats play.

Target (issue 9): 20 seats each playing a workshop preset at once on a 2-core machine, every run
recorded, none failed, no lock error on any page. The figures are printed with the load average;
nothing here asserts a time. It stops by itself: a global deadline, then every child process
(each in its own process group) and server is ended and the temporary folder removed.

`python -m benchmarks.bench_room [--seats N (1-20, default 20)] [--contexts M (2-8, default 4)]
[--preset NAME] [--deadline S (default 600)] [--quick]` (`--quick`: 4 seats, 2 contexts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_dashboard import DRAWN, FLAGS, READY
from pipelines.scenario.presets import PRESETS, WORKSHOP_PRESETS

REPO = Path(__file__).resolve().parents[1]
SEATS_MAX = 20
DEFAULT_CONTEXTS = 4
DEADLINE_S = 600.0
PAGE_TIMEOUT_S = 60.0
SEAT_PAGES = ["/", "/timeline", "/devops", "/mlops", "/drift", "/history"]
LOCK_TEXTS = ("is locked", "locked by process")
EXCEPTION_BOX = '[data-testid="stException"]'
ERROR_BOX = '[data-testid="stAlert"]:has([data-testid="stAlertContentError"])'
ROOM_PRESET = "workshop-drift"  # what `workshop prepare` plays unless --preset names one
# Memory a seat's play holds at its peak (measured here: 4.2 GB for 6 plays at once, the largest
# 1.1 GB) and what the browser, its driver and the servers hold: a room larger than the memory
# available is cut down, saying so, rather than pushing a shared machine into swap.
PLAY_MEMORY_GB = 0.8
FIXED_MEMORY_GB = 4.0
# Records each change of the app's script state ("running", "notRunning") with its time: a live
# page's fragment reruns show as running spells (how long a refresh took, how often one came).
OBSERVE_RUNS = """() => {
  window.__opslabRuns = [];
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => window.__opslabRuns.push([performance.now() / 1000, app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
VIEWPORT = {"width": 1400, "height": 900}


@dataclass
class Seat:
    workspace: str
    preset: str
    token: str | None = None  # the seat's link token when the history holds a room


@dataclass
class Play:
    seat: Seat
    started: float = math.nan
    finished: float = math.nan
    returncode: int | None = None
    report: dict[str, Any] | None = None  # what the play printed with --json
    stderr_tail: str = ""

    @property
    def running(self) -> bool:
        return not math.isnan(self.started) and math.isnan(self.finished)

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and self.report is not None and self.report.get("status") == "succeeded"


@dataclass
class Visit:
    page: str
    phase: str  # before (no play started), during (a play running), after
    role: str  # observer, playing (its play running), played (its play over), waiting, facilitator
    seconds: float | None  # None: not ready within PAGE_TIMEOUT_S
    locked: bool = False
    exceptions: int = 0
    error_boxes: int = 0
    first: bool = False  # the context's first visit (the server's imports, a cold cache)
    messages: list[str] = field(default_factory=list)


@dataclass
class Room:
    folder: Path
    logs: Path
    seats: list[Seat]  # the seats that play
    observer: Seat  # a seat that only reads its pages
    plays: list[Play] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    prepare_seconds: float | None = None
    quiet_play: Play | None = None
    load_average_start: tuple[float, float, float] | None = None
    load_average_end: tuple[float, float, float] | None = None
    server_logs: str = ""
    refreshes: list[tuple[str, list[tuple[float, str]]]] = field(default_factory=list)  # (phase, states)

    def phase(self) -> str:
        if all(math.isnan(p.started) for p in self.plays):
            return "before"
        return "during" if any(p.running for p in self.plays) else "after"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _opslab(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", "--db", str(folder), *args]


def has_workshop_command() -> bool:
    return (REPO / "pipelines" / "workshop.py").exists() and (
        REPO / "pipelines" / "cli" / "workshop.py"
    ).exists()


def has_facilitator_page() -> bool:
    return (REPO / "dashboard" / "views" / "facilitator.py").exists()


async def _spawn(room: Room, name: str, argv: list[str]) -> asyncio.subprocess.Process:
    """Start a child in its own session (its process group id is its pid), output to files."""
    with open(room.logs / f"{name}.out", "wb") as out, open(room.logs / f"{name}.err", "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
    room.children[name] = proc
    return proc


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).read() == b"ok"
    except OSError:
        return False


async def _serve(room: Room, name: str, *extra: str) -> str:
    """`opslab dashboard` on a free loopback port; its base URL once healthy."""
    port = _free_port()
    proc = await _spawn(room, name, _opslab(room.folder, "dashboard", "--port", str(port), *extra))
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.returncode is not None:
            raise RuntimeError(f"the {name} server exited: {(room.logs / f'{name}.err').read_text()[-500:]}")
        if await asyncio.to_thread(_healthy, base + "/_stcore/health"):
            return base
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the {name} server never became healthy on {base}")


async def _prepare(room: Room, preset: str) -> None:
    """`opslab workshop prepare`: every seat (the observer too) already played, timed."""
    seats = len(room.seats) + 1
    started = time.perf_counter()
    argv = _opslab(room.folder, "workshop", "prepare", "--seats", str(seats), "--preset", preset)
    if await (await _spawn(room, "prepare", argv)).wait() != 0:
        raise RuntimeError(f"workshop prepare failed: {(room.logs / 'prepare.err').read_text()[-800:]}")
    room.prepare_seconds = time.perf_counter() - started
    from pipelines.store import RunHistory
    from pipelines.workshop import load_room

    prepared = load_room(RunHistory(room.folder))
    if prepared is None:
        raise RuntimeError(f"workshop prepare left no room in {room.folder}")
    tokens = {seat.workspace: seat.token for seat in prepared.seats}
    for seat in [*room.seats, room.observer]:
        seat.token = tokens[seat.workspace]


async def _play(room: Room, play: Play, name: str) -> None:
    """One `opslab scenario run --json` process into the seat's workspace, timed start to exit."""
    seat = play.seat
    argv = _opslab(
        room.folder, "--workspace", seat.workspace, "scenario", "run", seat.preset, "--json", "--replace"
    )
    play.started = time.perf_counter()
    proc = await _spawn(room, name, argv)
    play.returncode = await proc.wait()
    play.finished = time.perf_counter()
    out = (room.logs / f"{name}.out").read_text()
    with contextlib.suppress(ValueError):
        play.report = json.loads(out[out.index("{") :])
    play.stderr_tail = (room.logs / f"{name}.err").read_text(errors="replace")[-400:]


def _seat_url(base: str, seat: Seat, path: str) -> str:
    """The seat's page: by its link's token in a room (and its workspace, for an app without rooms)."""
    return f"{base}{path}?workspace={seat.workspace}" + (f"&seat={seat.token}" if seat.token else "")


async def _visit(page: Any, url: str) -> tuple[float | None, bool, int, int, list[str]]:
    """Seconds from navigation to ready (None when not ready in time), and what the page shows:
    a lock error in its text, its exception boxes, its error boxes and their messages."""
    from playwright.async_api import Error as PlaywrightError

    started = time.perf_counter()
    seconds: float | None = None
    try:
        await page.goto(url, timeout=PAGE_TIMEOUT_S * 1000)
        await page.wait_for_selector(READY, timeout=PAGE_TIMEOUT_S * 1000)
        await page.wait_for_function(DRAWN, timeout=PAGE_TIMEOUT_S * 1000)
        seconds = time.perf_counter() - started
    except PlaywrightError:
        pass
    try:
        text = await page.inner_text("body", timeout=15_000)
        exceptions = await page.locator(EXCEPTION_BOX).all_inner_texts()
        errors = await page.locator(ERROR_BOX).all_inner_texts()
        if "Page not found" in text:  # Streamlit's dialog for a path the app does not have
            errors.append(f"Page not found: {url}")
    except PlaywrightError as exc:
        return seconds, False, 0, 0, [f"could not read the page: {str(exc).splitlines()[0]}"[:160]]
    messages = [" ".join(m.replace("⚠️", "").split())[:200] for m in [*errors, *exceptions]]
    return seconds, any(n in text for n in LOCK_TEXTS), len(exceptions), len(errors), messages


async def _browse(
    room: Room, context: Any, base: str, seats: list[Seat], offset: int, stop: asyncio.Event, limit: int
) -> None:
    """One browser context cycling over `seats` and the seat pages until `stop` or `limit` visits."""
    page = await context.new_page()
    plays = {p.seat.workspace: p for p in room.plays}
    visit = 0
    while not stop.is_set() and visit < limit:
        seat = seats[visit % len(seats)]
        path = SEAT_PAGES[(visit + offset) % len(SEAT_PAGES)]
        phase, play = room.phase(), plays.get(seat.workspace)
        role = "observer" if play is None else "playing" if play.running else "played" if play.returncode is not None else "waiting"  # fmt: skip
        seconds, locked, exceptions, errors, messages = await _visit(page, _seat_url(base, seat, path))
        phase = "during" if "during" in (phase, room.phase()) else phase
        first = visit == 0 and phase == "before"
        room.visits.append(Visit(path, phase, role, seconds, locked, exceptions, errors, first, messages))
        visit += 1
    await page.close()


async def _browse_facilitator(
    room: Room, context: Any, base: str, stop: asyncio.Event, limit: int, watch_s: float
) -> None:
    """The facilitator's context: load /facilitator, stay `watch_s` seconds recording its live
    refreshes (the grid's fragment reruns), then open a seat's Timeline read-only as its "watch"
    link does; again until `stop` or `limit` rounds."""
    page = await context.new_page()
    visit = 0
    while not stop.is_set() and visit < limit:
        phase = room.phase()
        seconds, locked, exceptions, errors, messages = await _visit(page, f"{base}/facilitator")
        with contextlib.suppress(Exception):  # a page that never loaded has nothing to observe
            await page.evaluate(OBSERVE_RUNS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), watch_s)
        with contextlib.suppress(Exception):
            room.refreshes.append((phase, await page.evaluate("() => window.__opslabRuns || []")))
        phase = "during" if "during" in (phase, room.phase()) else phase
        first = visit == 0 and phase == "before"
        room.visits.append(Visit("/facilitator", phase, "facilitator", seconds, locked, exceptions, errors,
                                 first, messages))  # fmt: skip
        seat = room.seats[visit % len(room.seats)]
        phase = room.phase()
        url = f"{base}/timeline?workspace={seat.workspace}&watch=1"
        seconds, locked, exceptions, errors, messages = await _visit(page, url)
        phase = "during" if "during" in (phase, room.phase()) else phase
        room.visits.append(
            Visit("/timeline", phase, "watch", seconds, locked, exceptions, errors, False, messages)
        )
        visit += 1
    await page.close()


async def _overview_once(room: Room, context: Any, base: str, seats: list[Seat]) -> None:
    page = await context.new_page()
    for seat in seats:
        seconds, locked, exceptions, errors, messages = await _visit(page, _seat_url(base, seat, "/"))
        room.visits.append(
            Visit("/", "after", "played", seconds, locked, exceptions, errors, False, messages)
        )
    await page.close()


def _rss_by_tree(roots: dict[int, str]) -> dict[str, int]:
    """Resident bytes of each root's process tree; the rest of this process's children are the
    browser and its driver."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    me, page_size = os.getpid(), os.sysconf("SC_PAGE_SIZE")
    totals: dict[str, int] = {}
    for pid in parents:
        group, walker = None, pid
        while walker in parents and walker not in (me, 0, 1):
            group = roots.get(walker, group)
            walker = parents[walker]
        if walker != me or pid == me:
            continue  # not one of ours
        with contextlib.suppress(OSError, ValueError, IndexError):
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page_size
            totals[group or "browser"] = totals.get(group or "browser", 0) + rss
    return totals


async def _sample_memory(room: Room, stop: asyncio.Event) -> None:
    while not stop.is_set():
        roots = {p.pid: name for name, p in room.children.items() if p.returncode is None}
        totals = await asyncio.to_thread(_rss_by_tree, roots)
        plays = [v for k, v in totals.items() if k.startswith("play-")]
        figures = {
            "server": totals.get("server", 0),
            "facilitator": totals.get("facilitator", 0),
            "browser": totals.get("browser", 0),
            "plays at once": sum(plays),
            "largest play": max(plays, default=0),
        }
        for key, value in figures.items():
            room.peaks[key] = max(room.peaks.get(key, 0), value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def check_recorded(folder: Path, workspaces: list[str]) -> dict[str, list[str]]:
    """What is wrong with each seat's file once the plays are over (empty when all is well): its
    last play recorded as succeeded and complete, pipeline runs recorded, no run left `running`."""
    from pipelines.store import RunHistory
    from pipelines.store.queries import runs_table

    history = RunHistory(folder)
    problems: dict[str, list[str]] = {}
    for workspace in workspaces:
        store, found = history.store(workspace), []
        if not store.exists():
            problems[workspace] = ["no file"]
            continue
        plays = store.scenario_runs(workspace)
        if plays.empty:
            found.append("no scenario play recorded")
        else:
            last = plays.iloc[-1]
            if last["status"] != "succeeded" or last["weeks_done"] != last["weeks_planned"]:
                found.append(
                    f"last play {last['status']} at week {last['weeks_done']} of {last['weeks_planned']}"
                )
        if runs_table(store, workspace).empty:
            found.append("no pipeline run recorded")
        if running := store.running_processes():
            found.append(f"{len(running)} run(s) still read running")
        if found:
            problems[workspace] = found
    return problems


async def _stop_children(room: Room) -> None:
    """SIGTERM to each child's process group (a play's service servers too), SIGKILL after 10 s."""
    for proc in room.children.values():
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in room.children.values():
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def _load(room: Room, contexts: int) -> None:
    from playwright.async_api import async_playwright

    if has_workshop_command():
        await _prepare(room, room.observer.preset)
    else:  # the observer seat's history, and one play's time on a quiet room to compare with
        room.quiet_play = Play(room.observer)
        await _play(room, room.quiet_play, "quiet-play")
    room.plays = [Play(seat) for seat in room.seats]
    base = await _serve(room, "server")
    facilitator = await _serve(room, "facilitator", "--facilitator") if has_facilitator_page() else None
    shares = [room.seats[i :: contexts - 1] for i in range(contexts - 1)]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
        try:
            ctxs = [await browser.new_context(viewport=VIEWPORT) for _ in range(contexts + bool(facilitator))]
            sampling = asyncio.Event()
            sampler = asyncio.create_task(_sample_memory(room, sampling))

            def browsing(
                stop: asyncio.Event, observer: int, seat: int, desk: int, watch_s: float = 15.0
            ) -> list[asyncio.Task[None]]:
                """Every context reading its pages, each for at most the visits given."""
                tasks = [
                    asyncio.create_task(_browse(room, ctxs[0], base, [room.observer], 0, stop, observer))
                ]
                tasks += [asyncio.create_task(_browse(room, c, base, s, i, stop, seat)) for i, (c, s) in enumerate(zip(ctxs[1:contexts], shares, strict=True))]  # fmt: skip
                if facilitator:
                    tasks.append(
                        asyncio.create_task(
                            _browse_facilitator(room, ctxs[-1], facilitator, stop, desk, watch_s)
                        )
                    )
                return tasks

            # Before the plays: the first visit of each context warms the server; then the observer's
            # every page and a few facilitator refreshes on a quiet room.
            await asyncio.gather(*browsing(asyncio.Event(), len(SEAT_PAGES) + 1, 2, 2, watch_s=10.0))
            # The load: every seat's play at once, the contexts reading pages meanwhile.
            room.load_average_start = os.getloadavg()
            stop = asyncio.Event()
            plays = [asyncio.create_task(_play(room, p, f"play-{p.seat.workspace}")) for p in room.plays]
            tasks = browsing(stop, sys.maxsize, sys.maxsize, sys.maxsize)
            await asyncio.gather(*plays)
            room.load_average_end = os.getloadavg()
            stop.set()
            await asyncio.gather(*tasks)
            # After: every playing seat's Overview once.
            await asyncio.gather(
                *[_overview_once(room, c, base, s) for c, s in zip(ctxs[1:contexts], shares, strict=True)]
            )
            sampling.set()
            await sampler
        finally:
            await browser.close()


async def _run(room: Room, contexts: int, deadline_s: float) -> str | None:
    """The load within the deadline; every child ended whatever happens. Why it stopped early, if it did."""
    try:
        await asyncio.wait_for(_load(room, contexts), deadline_s)
        return None
    except TimeoutError:
        return f"the deadline of {deadline_s:.0f} s passed; the figures cover what finished"
    finally:  # the servers' logs as they were at the end of the load, not what stopping them prints
        room.server_logs = "".join(
            (room.logs / f"{name}.err").read_text(errors="replace") for name in ("server", "facilitator")
            if name in room.children
        )  # fmt: skip
        await _stop_children(room)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n=0"
    p50, p95 = np.percentile(values, [50, 95])
    return f"n={len(values):<3} p50 {p50:5.1f} s  p95 {p95:5.1f} s  max {max(values):5.1f} s"


def refresh_spells(recordings: list[list[tuple[float, str]]]) -> tuple[list[float], list[float]]:
    """From recorded script states (seconds, state) of open pages: how long each rerun ran (from
    "running" to "notRunning"), and the time from one rerun's start to the next's."""
    spells, gaps = [], []
    for states in recordings:
        began: float | None = None
        last_start: float | None = None
        for at, state in states:
            if state == "running" and began is None:
                began = at
                if last_start is not None:
                    gaps.append(at - last_start)
                last_start = at
            elif state != "running" and began is not None:
                spells.append(at - began)
                began = None
    return spells, gaps


def _figures_line(label: str, values: list[float]) -> str:
    return f"  {label:<48} {_percentiles(values)}"


def _page_line(label: str, visits: list[Visit]) -> str:
    ready = [v.seconds for v in visits if v.seconds is not None]
    late = len(visits) - len(ready)
    return f"  {label:<48} {_percentiles(ready)}" + (
        f"  ({late} not ready in {PAGE_TIMEOUT_S:.0f} s)" if late else ""
    )


def _report_plays(room: Room, problems: dict[str, list[str]]) -> None:
    started = [p for p in room.plays if not math.isnan(p.started)]
    finished = [p for p in started if p.returncode is not None]
    succeeded = [p for p in finished if p.succeeded]
    print(f"plays: {len(started)} started, {len(succeeded)} succeeded, {len(finished) - len(succeeded)} failed, "
          f"{len(started) - len(finished)} unfinished")  # fmt: skip
    for play in finished:
        if not play.succeeded:
            tail = " ".join(play.stderr_tail.split())[-300:]
            print(f"  {play.seat.workspace} ({play.seat.preset}) exit {play.returncode}: {tail}")
    if room.quiet_play is not None and room.quiet_play.returncode is not None:
        q = room.quiet_play
        print(f"  one play alone before the load ({q.seat.preset}): {q.finished - q.started:.1f} s wall")
    if finished:
        print(f"  play wall, process start to exit                 {_percentiles([p.finished - p.started for p in finished])}")  # fmt: skip
        engine = [p.report["seconds"] for p in succeeded if p.report and "seconds" in p.report]
        print(f"  engine seconds, as each play reports             {_percentiles(engine)}")
        by_preset: dict[str, list[float]] = {}
        for play in finished:
            by_preset.setdefault(play.seat.preset, []).append(play.finished - play.started)
        for name, values in sorted(by_preset.items()):
            print(f"    {name:<22} ({PRESETS[name].weeks} weeks)         {_percentiles(values)}")
        first, last = min(p.started for p in started), max(p.finished for p in finished)
        print(f"  all plays: {last - first:.1f} s from the first start to the last exit")
    print(f"recorded: {len(started) - len(problems)} of the {len(started)} seats that played hold a complete, "
          "succeeded play and no run left running")  # fmt: skip
    for workspace, found in sorted(problems.items()):
        print(f"  {workspace}: {'; '.join(found)}")


def _report_pages(room: Room, contexts: int) -> None:
    n = len(room.seats)
    print(f"page ready, navigation to ready in Chromium ({', '.join(SEAT_PAGES)}; {contexts} contexts: one on "
          f"an observer seat that does not play, {contexts - 1} cycling over the {n} playing seats):")  # fmt: skip
    seats = [v for v in room.visits if v.role not in ("facilitator", "watch")]
    before = [v for v in seats if v.phase == "before"]
    during = [v for v in seats if v.phase == "during"]
    print(_page_line("first visit of each context (cold server)", [v for v in before if v.first]))
    print(
        _page_line(
            "observer seat, nobody playing", [v for v in before if v.role == "observer" and not v.first]
        )
    )
    print(_page_line(f"observer seat while {n} seats play", [v for v in during if v.role == "observer"]))
    print(_page_line("a seat before its play", [v for v in before if v.role != "observer" and not v.first]))
    print(_page_line("a seat whose own play is running", [v for v in during if v.role == "playing"]))
    print(_page_line("a seat whose play is over, others playing", [v for v in during if v.role == "played"]))
    print(_page_line("every seat's Overview after the plays", [v for v in seats if v.phase == "after"]))
    facilitator = [v for v in room.visits if v.role == "facilitator"]
    if facilitator:
        print("facilitator page refresh (/facilitator on a facilitator server of its own, one more context):")
        print(_page_line("first visit (cold server)", [v for v in facilitator if v.first]))
        print(_page_line("nobody playing", [v for v in facilitator if v.phase == "before" and not v.first]))
        print(_page_line(f"while {n} seats play", [v for v in facilitator if v.phase == "during"]))
        for phase, label in (("before", "nobody playing"), ("during", f"while {n} seats play")):
            spells, gaps = refresh_spells([states for p, states in room.refreshes if p == phase])
            print(_figures_line(f"a live refresh of the open page, {label}", spells))
            print(_figures_line("  from one refresh's start to the next", gaps))
        watched = [v for v in room.visits if v.role == "watch"]
        print(
            _page_line(
                "a seat's Timeline opened read-only (watch)", [v for v in watched if v.phase == "before"]
            )
        )
        print(_page_line(f"  the same while {n} seats play", [v for v in watched if v.phase == "during"]))
    elif not has_facilitator_page():
        print("facilitator page: not in this checkout yet (dashboard/views/facilitator.py), not measured")
    if room.prepare_seconds is not None:
        print(f"workshop prepare --seats {n + 1} (the observer too): {room.prepare_seconds:.1f} s")
    elif not has_workshop_command():
        print("workshop prepare: not in this checkout yet (pipelines/workshop.py); seats start empty")
    locked = sum(v.locked for v in room.visits)
    exceptions = sum(v.exceptions for v in room.visits)
    errors = sum(v.error_boxes for v in room.visits)
    print(f"pages read: {len(room.visits)}; pages with a lock error: {locked} (target 0); "
          f"exception boxes: {exceptions}; error boxes: {errors}")  # fmt: skip
    shown: set[str] = set()
    for visit in room.visits:
        for message in visit.messages:
            if message[:60] not in shown and len(shown) < 4:
                shown.add(message[:60])
                print(f"  {visit.page} ({visit.role}): {message}")


def _report_machine(room: Room) -> None:
    logs = room.server_logs
    print(
        f"server logs: {logs.count('Traceback')} tracebacks, {sum(logs.count(n) for n in LOCK_TEXTS)} lock messages"
    )
    for line in sorted(
        {m.group(0)[:200] for m in re.finditer(r"^\w+(Error|Exception|Interrupt)\b.*$", logs, re.M)}
    )[:3]:
        print(f"  {line}")
    if room.peaks:
        mb = {k: v / 2**20 for k, v in room.peaks.items()}
        print(f"peak RSS: server {mb['server']:.0f} MB, plays at once {mb['plays at once']:.0f} MB (largest play "
              f"{mb['largest play']:.0f} MB), browser and driver {mb['browser']:.0f} MB"
              + (f", facilitator server {mb['facilitator']:.0f} MB" if mb["facilitator"] else ""))  # fmt: skip
    if room.load_average_start is not None:
        end = room.load_average_end or os.getloadavg()
        print(f"load average (1 min) at the plays' start {room.load_average_start[0]:.2f}, at their end "
              f"{end[0]:.2f} ({os.cpu_count()} cores)")  # fmt: skip
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


def seats_that_fit(wanted: int) -> tuple[int, float]:
    """How many of `wanted` seats the available memory holds, and that memory in GB."""
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    available = int(meminfo.get("MemAvailable", "0 kB").split()[0]) / 2**20
    if not available:
        return wanted, math.nan
    return max(1, min(wanted, int((available - FIXED_MEMORY_GB) / PLAY_MEMORY_GB))), available


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_room", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seats", type=int, help=f"seats playing at once (1-{SEATS_MAX}, default {SEATS_MAX})"
    )
    parser.add_argument("--contexts", type=int, help=f"browser contexts (2-8, default {DEFAULT_CONTEXTS})")
    parser.add_argument("--preset", default="rotate", choices=["rotate", *WORKSHOP_PRESETS],
                        help="the preset every seat plays (default rotate: the workshop presets in turn)")  # fmt: skip
    parser.add_argument("--deadline", type=float, default=DEADLINE_S, help="stop after this many seconds")
    parser.add_argument("--quick", action="store_true", help="4 seats and 2 contexts")
    args = parser.parse_args(argv)
    args.seats = max(1, min(SEATS_MAX, args.seats or (4 if args.quick else SEATS_MAX)))
    args.contexts = max(2, min(8, args.seats + 1, args.contexts or (2 if args.quick else DEFAULT_CONTEXTS)))
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(sys.argv[1:] if argv is None else argv)
    if not Path("/usr/bin/chromium").exists():
        print("room: /usr/bin/chromium is missing, no room figures")
        return
    fit, available = seats_that_fit(args.seats)
    if fit < args.seats:
        print(f"room: {args.seats} seats do not fit in the {available:.1f} GB of memory available (about "
              f"{PLAY_MEMORY_GB} GB a play, {FIXED_MEMORY_GB} GB for the browser and servers): {fit} seats play")  # fmt: skip
        args.seats = fit
        args.contexts = min(args.contexts, fit + 1)
    presets = [args.preset if args.preset != "rotate" else WORKSHOP_PRESETS[i % len(WORKSHOP_PRESETS)]
               for i in range(args.seats)]  # fmt: skip
    seats = [Seat(f"seat-{i + 1:02d}", presets[i]) for i in range(args.seats)]
    # The observer reads its pages and never plays: the room's preset (prepared) or one quiet play.
    room_preset = ROOM_PRESET if args.preset == "rotate" else args.preset
    seats.append(Seat(f"seat-{args.seats + 1:02d}" if has_workshop_command() else "observer", room_preset))
    work = Path(tempfile.mkdtemp(prefix="opslab-room-bench-"))
    room = Room(work / "room", work / "logs", seats[:-1], seats[-1])
    room.folder.mkdir()
    room.logs.mkdir()
    told = "the workshop presets in turn" if args.preset == "rotate" else args.preset
    print(f"room: {args.seats} seats playing at once ({told}), {args.contexts} Chromium contexts, deadline "
          f"{args.deadline:.0f} s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    started = time.perf_counter()
    try:
        stopped_early = asyncio.run(_run(room, args.contexts, args.deadline))
        played = [p.seat.workspace for p in room.plays if not math.isnan(p.started)]
        problems = check_recorded(room.folder, played)
        _report_plays(room, problems)
        _report_pages(room, args.contexts)
        _report_machine(room)
        print(f"whole benchmark: {time.perf_counter() - started:.0f} s" + (f"; stopped early: {stopped_early}" if stopped_early else ""))  # fmt: skip
    finally:
        for proc in room.children.values():  # _run ended them all; a last guard, by process group
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
