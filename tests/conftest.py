"""Shared fixtures. Tests that need ../shared skip on a user's clone and run in CI."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip (a failure in CI, where ../shared must be present)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is not here: tests that need ../shared run in CI, which has it"
        if os.environ.get("OPSLAB_REQUIRE_SHARED"):
            pytest.fail(reason + " (OPSLAB_REQUIRE_SHARED is set)")
        pytest.skip(reason)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "history.duckdb")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real data directory."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("OPSLAB_DB", raising=False)
    monkeypatch.delenv("OPSLAB_DATA_DIR", raising=False)


def scenario_settings():
    """The settings `scenario_db` plays: bad-friday-deploy in 7 weeks with just the Friday windchill
    release and its fix, retraining on a schedule (so a test can play them again and compare)."""
    import dataclasses

    from pipelines.scenario.presets import get_preset

    settings = get_preset("bad-friday-deploy").with_weeks(7)
    return dataclasses.replace(
        settings,
        changes=tuple(c for c in settings.changes if c.change in ("windchill-feature", "fix-windchill")),
        policy=dataclasses.replace(settings.policy, kind="schedule", every_weeks=2, cooldown_weeks=0),
    )


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this pytest run that every xdist worker sees: the controller's base temp (a
    worker's own is `popen-gwN` inside it), or the session's own without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def played_once(tmp_path_factory: pytest.TempPathFactory, name: str, play: Callable[[Path], object]) -> Path:
    """The history file `play(path)` writes, played once per pytest run however many xdist workers
    ask: the first takes an exclusive lock (`fcntl.flock`) and plays, the others wait on the lock and
    find it done. Only read the file it returns; `copy_played` gives a test its own copy."""
    import fcntl

    folder = run_folder(tmp_path_factory) / f"played-{name}"
    folder.mkdir(exist_ok=True)
    path, done = folder / "opslab.duckdb", folder / "done"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        try:
            if not done.exists():
                if path.exists():  # a play that failed half-way in another worker: start over
                    path.unlink()
                    shutil.rmtree(path.with_name(path.name + ".files"), ignore_errors=True)
                play(path)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def copy_played(source: Path, target_dir: Path, workspace: str = "demo") -> Path:
    """A private copy of a played history file and its workspace's files (paths in its rows moved
    to the copy's), made with the store's own copy helper."""
    from pipelines.paths import workspace_dir
    from pipelines.store.copying import copy_workspace_file

    target = target_dir / source.name
    source_files, target_files = workspace_dir(source, workspace), workspace_dir(target, workspace)
    copy_workspace_file(source, workspace, target, workspace,
                        old_prefix=str(source_files), new_prefix=str(target_files))  # fmt: skip
    if source_files.exists():
        shutil.copytree(source_files, target_files, symlinks=True)
    return target


@pytest.fixture(scope="session")
def scenario_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, short history shared by the suite's slow set-ups: `scenario_settings()` played once
    per pytest run (~15 s, whatever the number of xdist workers) into workspace `demo`; each worker
    reads its own copy. Tests only read it; a test that writes (pressing Start, playing a scenario)
    works on a copy."""
    from pipelines.scenario.engine import run_scenario

    def play(path: Path) -> None:
        run_scenario(Store(path), "demo", scenario_settings())

    played = played_once(tmp_path_factory, "scenario", play)
    return copy_played(played, tmp_path_factory.mktemp("scenario"))


@pytest.fixture
def app_env(scenario_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dashboard at the scenario history and start each AppTest with empty caches."""
    import streamlit as st

    monkeypatch.setenv("OPSLAB_DB", str(scenario_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    return scenario_db


APP = REPO / "dashboard" / "app.py"


# -- real servers on 127.0.0.1 --------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STREAMLIT_ARGV = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
                  "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip


@contextlib.contextmanager
def serving(argv: list[str], cwd: Path, env: dict[str, str], log: Path, port: int) -> Iterator[str]:
    """Run a server (`argv`, output to `log`) until its /_stcore/health answers ok; yield its base URL;
    stop it after. A server that exits or stays unhealthy for 60 s fails with its log's tail."""
    import subprocess
    import time
    import urllib.request

    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become healthy:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_dashboard(history: Path, log: Path, **env: str) -> Iterator[str]:
    """The dashboard on `history` (extra environment `env`) for a module's browser tests: yields its
    base URL, and fails the module if the server logged a traceback meanwhile."""
    port = free_port()
    with serving([*STREAMLIT_ARGV, "--server.port", str(port)], REPO, {"OPSLAB_DB": str(history), **env}, log,
                 port) as base:  # fmt: skip
        yield base
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


# -- Chromium (Debian's, driven by Playwright) ----------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
READY = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's browser is Debian's Chromium with the flags BROWSER.md gives."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": FLAGS}


# -- the order xdist hands files out in -----------------------------------------------------------
# `make test` runs `--dist loadfile --no-loadscope-reorder`: a worker takes the next file in this order
# when it is nearly done with its own, so the suite's wall time is at least the longest file's, and a
# long file handed out last runs alone while the other worker idles. The longest files (most CPU and
# wall seconds, measured on 2 workers) go first, longest first; the rest keep pytest's order.
LONG_FILES_FIRST = (
    "test_browser.py",
    "test_scenario.py",
    "test_bad_input.py",
    "test_launcher.py",
    "test_scenario_play.py",
    "test_browser_runs.py",
    "test_browser_room.py",
    "test_devops_pipeline.py",
    "test_location.py",
    "test_sandbox.py",
    "test_inference.py",
    "test_slots.py",
    "test_mlops_pipeline.py",
    "test_monitoring_golden.py",
    "test_crashed_runs.py",
    "test_model_production.py",
    "test_exercises.py",
    "test_receipts.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests stay together
