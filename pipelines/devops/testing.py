"""Test step: the service's own pytest suite, run in a subprocess against the built artifact.

The suite imports ``bikeservice`` from the artifact (PYTHONPATH is the .pyz, ``-P`` keeps the
working directory off sys.path), so what is tested is what gets deployed. Results come from
JUnit XML, not from parsing pytest's console output. OpsLab's own pytest settings (warnings as
errors, plugins) must not leak in: ``-c /dev/null`` and no plugin autoloading.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TestRunError
from .service import Process

LOG_TAIL_LINES = 40
SLOWEST = 5

__all__ = ["TestReport", "run_service_tests", "suite_env"]


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest test class, despite the name

    passed: int
    failed: int
    skipped: int
    errors: int
    duration_s: float
    slowest: list[tuple[str, float]]
    failing: list[str]
    junit_path: Path | None
    log_tail: str
    returncode: int | None
    reason: str | None = None  # why the run counts as failed, in one sentence
    timed_out: bool = field(default=False)

    @property
    def ok(self) -> bool:
        return self.reason is None


def run_service_tests(
    src_dir: Path,
    artifact: Path,
    out_dir: Path,
    timeout_s: float = 60,
    *,
    launcher: Callable[..., Process] | None = None,
) -> TestReport:
    """Run ``src_dir/tests`` against ``artifact``; write JUnit XML and the log into ``out_dir``.

    A hung suite is killed (its whole process group) after ``timeout_s`` and reported as failed.
    `launcher` starts the command instead of `subprocess.Popen` (e.g. `pipelines.devops.warm`).
    """
    tests_dir = Path(src_dir).resolve() / "tests"
    artifact = Path(artifact).resolve()
    if not tests_dir.is_dir():
        raise TestRunError(f"no tests/ directory in {src_dir}: the service must ship its test suite.")
    if not artifact.is_file():
        raise TestRunError(f"artifact {artifact} does not exist: build before testing.")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    junit = out_dir / "junit.xml"
    junit.unlink(missing_ok=True)
    log_path = out_dir / "pytest.log"

    command = [
        sys.executable,
        "-P",
        "-m",
        "pytest",
        str(tests_dir),
        f"--junitxml={junit}",
        "-c",
        os.devnull,
        f"--rootdir={tests_dir.parent}",
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "junit_family=xunit2",
    ]
    started = time.perf_counter()
    process: Process
    if launcher is not None:
        process = launcher(command, env=suite_env(artifact), cwd=out_dir, log_path=log_path)
    else:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=out_dir,
                env=suite_env(artifact),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: killable as a whole
            )
    try:
        returncode: int | None = process.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        returncode, timed_out = None, True
    duration = time.perf_counter() - started
    tail = _tail(log_path)

    if timed_out:
        return _summary(
            junit, duration, tail, returncode, f"test run exceeded {timeout_s:g} s", timed_out=True
        )
    if not junit.is_file():
        return _summary(
            junit, duration, tail, returncode, f"pytest exited with code {returncode} without a report"
        )
    report = _summary(junit, duration, tail, returncode, None)
    if report.failed or report.errors:
        reason = f"{report.failed} test(s) failed, {report.errors} error(s): {', '.join(report.failing[:3])}"
    elif returncode != 0:
        reason = f"pytest exited with code {returncode}" + (
            " (no tests collected)" if returncode == 5 else ""
        )
    else:
        return report
    return _summary(junit, duration, tail, returncode, reason)


def _summary(
    junit: Path,
    duration: float,
    tail: str,
    returncode: int | None,
    reason: str | None,
    *,
    timed_out: bool = False,
) -> TestReport:
    passed = failed = skipped = errors = 0
    timings: list[tuple[str, float]] = []
    failing: list[str] = []
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
            timings.append((name, float(case.get("time") or 0.0)))
            if case.find("failure") is not None:
                failed += 1
                failing.append(name)
            elif case.find("error") is not None:
                errors += 1
                failing.append(name)
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    slowest = sorted(timings, key=lambda item: (-item[1], item[0]))[:SLOWEST]
    return TestReport(
        passed,
        failed,
        skipped,
        errors,
        round(duration, 3),
        slowest,
        failing,
        junit if junit.is_file() else None,
        tail,
        returncode,
        reason,
        timed_out,
    )


def suite_env(artifact: Path | None) -> dict[str, str]:
    """The environment the suite runs in; without an artifact, what it has before one is chosen."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "PYTHON", "COV_CORE_"))
    }
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # no playwright, no pytest-timeout: a fast, bare run
    )
    if artifact is not None:
        env["PYTHONPATH"] = str(artifact)
    return env


def _kill_group(process: Process) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])
