"""Warm starts: a spare interpreter runs the artifact (or the test suite) exactly as a cold start would."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.devops.baseline import build_baseline_model
from pipelines.devops.build import build_artifact
from pipelines.devops.changes import get_change, render_edits
from pipelines.devops.errors import DeployError
from pipelines.devops.service import ServiceProcess, running_services, server_env, smoke_test
from pipelines.devops.testing import run_service_tests, suite_env
from pipelines.devops.warm import PYTEST_PRELOAD, SET_ON_IMPORT, WarmStarter, prestart

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "devops" / "service_template"


def _tree(root: Path, changes: tuple[str, ...] = ()) -> Path:
    tree = Path(shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__")))
    for change_id in changes:
        for relpath, text in render_edits(tree, get_change(change_id)).items():
            (tree / relpath).write_text(text)
    return tree


@pytest.mark.slow
def test_a_warm_server_runs_the_artifacts_own_code_with_its_own_log(tmp_path: Path) -> None:
    artifact = build_artifact(_tree(tmp_path / "src"), tmp_path / "artifacts", "2.0.0").path
    model = build_baseline_model(tmp_path / "model.json").path
    starter = WarmStarter()
    starter.prepare(server_env())
    try:
        logs = tmp_path / "logs"
        with ServiceProcess.start(
            artifact, model, log_path=logs / "a.log", launcher=starter.launch, health_timeout_s=30
        ) as server:
            assert server.process is not None and smoke_test(server.url, n_requests=4).errors == 0
            taken = server.port
        assert "bikeservice 2.0.0 listening" in (logs / "a.log").read_text()
        # A second start takes the spare the first one left; a failure still reads as a cold one's.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            taken = busy.getsockname()[1]
            with pytest.raises(DeployError, match=f"port {taken} on 127.0.0.1 is already in use"):
                ServiceProcess.start(
                    artifact, model, port=taken, log_path=logs / "b.log", launcher=starter.launch
                )
    finally:
        starter.close()
    assert running_services() == []


@pytest.mark.slow
def test_a_warm_test_run_reports_what_a_cold_one_does(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "bug", ("hour-24-midnight",))
    artifact = build_artifact(tree, tmp_path / "artifacts", "2.1.0").path
    cold = run_service_tests(tree, artifact, tmp_path / "cold")
    starter = WarmStarter(PYTEST_PRELOAD)
    starter.prepare(suite_env(None))
    try:
        warm = run_service_tests(tree, artifact, tmp_path / "warm", launcher=starter.launch)
    finally:
        starter.close()
    assert not cold.ok and cold.failed >= 2  # the caught bug: the suite really ran the artifact
    assert (warm.passed, warm.failed, warm.failing, warm.returncode) == (
        cold.passed,
        cold.failed,
        cold.failing,
        cold.returncode,
    )


def test_a_command_that_is_not_python_dash_p_starts_cold(tmp_path: Path) -> None:
    starter = WarmStarter(preload=())
    try:
        process = starter.launch(
            [sys.executable, "-c", "print('cold')"],
            env=server_env(),
            cwd=tmp_path,
            log_path=tmp_path / "c.log",
        )
        assert process.wait(timeout=30) == 0
        assert (tmp_path / "c.log").read_text().strip() == "cold"
    finally:
        starter.close()


def test_a_forked_child_reports_its_exit_code_and_wait_times_out_like_popen(tmp_path: Path) -> None:
    """Children of the fork server are not this process's: their exit comes from the fork server."""
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, time\ntime.sleep(float(sys.argv[1]))\nprint('bye', flush=True)\nsys.exit(7)\n"
    )
    starter = WarmStarter(preload=())
    starter.prepare(server_env())
    try:
        slow = starter.launch(
            [sys.executable, "-P", str(script), "30"],
            env=server_env(),
            cwd=tmp_path,
            log_path=tmp_path / "s.log",
        )
        with pytest.raises(subprocess.TimeoutExpired):
            slow.wait(timeout=0.2)
        assert slow.poll() is None and not isinstance(slow, subprocess.Popen)  # a forked child
        os.killpg(slow.pid, signal.SIGKILL)  # its own process group, as a cold start's
        assert slow.wait(timeout=30) == -signal.SIGKILL
        quick = starter.launch(
            [sys.executable, "-P", str(script), "0"],
            env=server_env(),
            cwd=tmp_path,
            log_path=tmp_path / "q.log",
        )
        assert quick.wait(timeout=30) == 7 and quick.returncode == 7
        assert (tmp_path / "q.log").read_text().strip() == "bye"
    finally:
        starter.close()


def test_a_fork_server_started_ahead_is_the_one_a_play_uses(tmp_path: Path) -> None:
    """`prestart` (a play, before its own imports) starts the fork server its WarmStarter then adopts:
    the same process, not a second one, even though importing scikit-learn set KMP_* since."""
    env = {k: v for k, v in server_env().items() if k not in SET_ON_IMPORT}
    prestart((), env)
    starter = WarmStarter(preload=())
    starter.prepare({**env, "KMP_DUPLICATE_LIB_OK": "True", "KMP_INIT_AT_FORK": "FALSE"})
    other = WarmStarter(preload=())  # nothing left ahead for a second starter: it starts its own
    other.prepare(env)
    try:
        assert starter._server is not None and other._server is not None
        ahead = starter._server.process.pid
        assert other._server.process.pid != ahead
        (tmp_path / "hi.py").write_text("print('hi')\n")
        child = starter.launch([sys.executable, "-P", str(tmp_path / "hi.py")], env=env, cwd=tmp_path,
                               log_path=tmp_path / "child.log")  # fmt: skip
        assert child.wait(timeout=30) == 0 and (tmp_path / "child.log").read_text() == "hi\n"
        assert starter._server.process.pid == ahead  # the adopted one started it: no cold start
    finally:
        starter.close()
        other.close()
