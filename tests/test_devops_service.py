"""Test and deploy steps for real: the service's suite in a subprocess, servers on loopback ports."""

from __future__ import annotations

import http.client
import json
import os
import pickle
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipelines.devops import service as service_module
from pipelines.devops.baseline import build_baseline_model
from pipelines.devops.build import BuildResult, build_artifact
from pipelines.devops.changes import get_change, render_edits
from pipelines.devops.errors import DeployError, TestRunError
from pipelines.devops.service import (
    ServiceProcess,
    running_services,
    serve_batch,
    smoke_test,
    stop_all_services,
)
from pipelines.devops.testing import run_service_tests

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "devops" / "service_template"


def make_tree(root: Path, change_ids: list[str] = ()) -> Path:
    """The template with scripted changes applied (no git needed for these tests)."""
    tree = Path(shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__")))
    for change_id in change_ids:
        for relpath, text in render_edits(tree, get_change(change_id)).items():
            (tree / relpath).parent.mkdir(parents=True, exist_ok=True)
            (tree / relpath).write_text(text)
    return tree


def week_rows(calm_every: int | None = 8) -> list[dict[str, Any]]:
    """168 hourly rows shaped like the UCI data; every ``calm_every``-th hour has no wind."""
    rows = []
    for i in range(168):
        day, hr = divmod(i, 24)
        weekday = (day + 1) % 7
        rows.append(
            {
                "season": 1,
                "yr": 0,
                "mnth": 1,
                "hr": hr,
                "weekday": weekday,
                "holiday": 0,
                "workingday": int(weekday not in (0, 6)),
                "weathersit": 1 + (i % 3 == 0),
                "temp": 0.2 + 0.01 * (i % 10),
                "atemp": 0.21,
                "hum": 0.5 + 0.01 * (i % 7),
                "windspeed": 0.0 if calm_every and i % calm_every == 0 else 0.1 + 0.02 * (i % 5),
            }
        )
    return rows


def get_json(url: str, path: str) -> dict[str, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def processes_running(marker: str) -> list[int]:
    """Pids whose command line mentions ``marker``: proof that nothing was orphaned."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def fake_artifact(path: Path, main_source: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__main__.py", main_source)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devops")


@pytest.fixture(scope="module")
def model_path(workdir: Path) -> Path:
    return build_baseline_model(workdir / "models" / "production.json").path


@pytest.fixture(scope="module")
def template_build(workdir: Path) -> BuildResult:
    return build_artifact(make_tree(workdir / "template"), workdir / "artifacts", "1.0.0")


@pytest.fixture(autouse=True)
def no_server_left_behind() -> Iterator[None]:
    yield
    leftover = running_services()
    stop_all_services()
    assert not leftover, f"servers left running: {leftover}"


def test_template_suite_passes_against_the_artifact(workdir, template_build):
    tree = workdir / "template"
    hidden = workdir / "template-package-hidden"
    shutil.move(tree / "bikeservice", hidden)  # the suite must import the artifact, not the tree
    try:
        report = run_service_tests(tree, template_build.path, workdir / "test-template")
    finally:
        shutil.move(hidden, tree / "bikeservice")
    assert report.ok, report.log_tail
    assert (report.failed, report.errors, report.returncode) == (0, 0, 0)
    assert report.passed >= 12
    assert report.junit_path is not None and report.junit_path.is_file()
    assert len(report.slowest) == 5 and all(seconds >= 0 for _, seconds in report.slowest)


def test_bug_caught_fails_the_suite_with_the_failing_names(workdir):
    tree = make_tree(workdir / "bug-caught", ["hour-24-midnight"])
    artifact = build_artifact(tree, workdir / "artifacts", "1.1.0").path
    report = run_service_tests(tree, artifact, workdir / "test-bug-caught")
    assert not report.ok and report.returncode == 1
    assert report.failed >= 2
    assert "tests.test_hour_24::test_hour_24_is_midnight" in report.failing
    assert "tests.test_features::test_late_evening_hour_is_kept" in report.failing
    assert "test_hour_24_is_midnight" in report.reason

    fixed = make_tree(workdir / "bug-caught-fixed", ["hour-24-midnight", "fix-hour-24"])
    fixed_artifact = build_artifact(fixed, workdir / "artifacts", "1.1.1").path
    assert run_service_tests(fixed, fixed_artifact, workdir / "test-bug-fixed").ok


def test_bug_escaped_passes_its_suite_but_fails_real_traffic(workdir, model_path):
    tree = make_tree(workdir / "bug-escaped", ["windchill-feature"])
    artifact = build_artifact(tree, workdir / "artifacts", "1.2.0").path
    assert run_service_tests(tree, artifact, workdir / "test-bug-escaped").ok

    with ServiceProcess.start(artifact, model_path, log_path=workdir / "logs" / "escaped.log") as server:
        assert smoke_test(server.url, n_requests=10).errors == 0  # canned smoke rows have wind
        week = serve_batch(server.url, week_rows(calm_every=8))
        windy = serve_batch(server.url, week_rows(calm_every=None))
    assert week.requests == 7 and week.errors >= 6 and week.error_rate > 0.8
    assert None in week.predictions and len(week.predictions) == 168
    assert "500" in week.error_samples[0] and "ZeroDivisionError" in week.error_samples[0]
    assert windy.errors == 0

    fixed = make_tree(workdir / "bug-escaped-fixed", ["windchill-feature", "fix-windchill"])
    fixed_artifact = build_artifact(fixed, workdir / "artifacts", "1.2.1").path
    with ServiceProcess.start(fixed_artifact, model_path, log_path=workdir / "logs" / "fixed.log") as server:
        assert serve_batch(server.url, week_rows(calm_every=8)).errors == 0


def test_perf_regression_is_measurably_slower(workdir, template_build, model_path):
    tree = make_tree(workdir / "perf", ["reload-model-every-request"])
    slow_artifact = build_artifact(tree, workdir / "artifacts", "1.3.0").path
    row = week_rows()[9]
    logs = workdir / "logs"
    with (
        ServiceProcess.start(template_build.path, model_path, log_path=logs / "fast.log") as fast,
        ServiceProcess.start(slow_artifact, model_path, log_path=logs / "slow.log") as slow,
    ):
        fast_ms, slow_ms = [], []
        for _ in range(5):  # interleaved, so a busy moment on the machine hits both alike
            fast_ms.append(serve_batch(fast.url, [row] * 8, rows_per_request=1).latency_p50_ms)
            slow_ms.append(serve_batch(slow.url, [row] * 8, rows_per_request=1).latency_p50_ms)
    ratio = statistics.median(slow_ms) / statistics.median(fast_ms)
    assert ratio > 2, f"only {ratio:.1f}x slower: {slow_ms} vs {fast_ms}"


def test_serve_batch_answers_every_row(template_build, model_path, workdir):
    with ServiceProcess.start(
        template_build.path, model_path, log_path=workdir / "logs" / "week.log"
    ) as server:
        report = serve_batch(server.url, week_rows())
        health = get_json(server.url, "/health")
    assert (report.requests, report.rows, report.errors, report.error_rate) == (7, 168, 0, 0.0)
    assert all(isinstance(p, float) and p > 0 for p in report.predictions)
    assert 0 < report.latency_p50_ms <= report.latency_p95_ms
    assert health["release"] == "1.0.0" and health["model"]["kind"] == "baseline"


def test_a_new_model_file_is_served_without_restart(template_build, workdir):
    path = workdir / "models" / "swap.json"
    first = build_baseline_model(path)
    with ServiceProcess.start(template_build.path, path, log_path=workdir / "logs" / "swap.log") as server:
        assert get_json(server.url, "/health")["model"]["version"] == first.version
        rows = [{**week_rows()[8], "cnt": 42}]
        second = build_baseline_model(path, [{"workingday": 1, "hr": 8, "cnt": 42}], version="baseline-2")
        assert get_json(server.url, "/health")["model"] == {
            "kind": "baseline",
            "version": "baseline-2",
            "sha256": second.sha256,
        }
        assert serve_batch(server.url, rows).predictions == [42.0]


def test_a_pickled_scikit_learn_pipeline_is_served(template_build, workdir):
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = week_rows()
    frame = pd.DataFrame(rows)[["hr", "workingday", "temp", "windspeed"]]
    target = 10 * frame["hr"] + 50 * frame["workingday"] + 100 * frame["temp"]
    estimator = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(frame, target)
    path = workdir / "models" / "champion.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)  # alone, no other test made the folder
    path.write_bytes(pickle.dumps({"model": estimator, "version": "v7"}))
    with ServiceProcess.start(template_build.path, path, log_path=workdir / "logs" / "sk.log") as server:
        report = serve_batch(server.url, rows)
        health = get_json(server.url, "/health")
    assert report.errors == 0
    assert report.predictions == pytest.approx(list(estimator.predict(frame)))
    assert health["model"]["kind"] == "sklearn" and health["model"]["version"] == "v7"


def test_server_that_never_gets_healthy_is_stopped(workdir, model_path):
    artifact = fake_artifact(
        workdir / "never-healthy.pyz",
        (
            "import socket, sys, time\n"
            "args = sys.argv[1:]\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"  # accepts, never answers
            "open(args[args.index('--port-file') + 1], 'w').write(str(s.getsockname()[1]))\n"
            "time.sleep(60)\n"
        ),
    )
    started = time.monotonic()
    with pytest.raises(DeployError, match=r"never became healthy|did not start listening"):
        ServiceProcess.start(
            artifact, model_path, health_timeout_s=1.5, log_path=workdir / "logs" / "never.log"
        )
    assert time.monotonic() - started < 10
    assert running_services() == []
    assert processes_running("never-healthy.pyz") == []


def test_server_that_crashes_reports_its_log(template_build, workdir):
    with pytest.raises(DeployError, match=r"exited with code 4(.|\n)*cannot read model file"):
        ServiceProcess.start(
            template_build.path, workdir / "absent.json", log_path=workdir / "logs" / "crash.log"
        )
    assert running_services() == []


def test_port_in_use_is_one_sentence(template_build, model_path, workdir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=rf"^port {port} on 127\.0\.0\.1 is already in use\.$"):
            ServiceProcess.start(
                template_build.path, model_path, port=port, log_path=workdir / "logs" / "port.log"
            )
    assert running_services() == []


def test_sigterm_stops_the_server_cleanly(template_build, model_path, workdir):
    server = ServiceProcess.start(template_build.path, model_path, log_path=workdir / "logs" / "term.log")
    assert server in running_services() and server.is_running()
    assert server.stop() == 0
    assert "bikeservice stopped" in server.log_tail()
    assert server not in running_services()


def test_stop_kills_a_server_that_ignores_sigterm(model_path, workdir):
    artifact = fake_artifact(
        workdir / "stubborn.pyz",
        (
            "import signal, sys\n"
            "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "class H(BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
            "        self.wfile.write(b'{}')\n"
            "    def log_message(self, *a): pass\n"
            "s = HTTPServer(('127.0.0.1', 0), H)\n"
            "args = sys.argv[1:]\n"
            "open(args[args.index('--port-file') + 1], 'w').write(str(s.server_address[1]))\n"
            "s.serve_forever()\n"
        ),
    )
    server = ServiceProcess.start(artifact, model_path, log_path=workdir / "logs" / "stubborn.log")
    assert server.stop(timeout_s=0.3) == -9
    assert processes_running("stubborn.pyz") == []


def test_stop_all_services_leaves_nothing_running(template_build, model_path, workdir):
    servers = [
        ServiceProcess.start(template_build.path, model_path, log_path=workdir / "logs" / f"all{i}.log")
        for i in range(2)
    ]
    urls = {s.url for s in servers}
    assert len(urls) == 2 and urls == {s.url for s in running_services()}
    stop_all_services()
    assert running_services() == [] and not any(s.is_running() for s in servers)


def test_hung_test_run_is_killed_at_the_time_limit(workdir, template_build):
    tree = workdir / "hung"
    (tree / "tests").mkdir(parents=True)
    pid_file = workdir / "hung.pid"
    (tree / "tests" / "test_sleep.py").write_text(
        "import os, time\n\n"
        "def test_sleeps():\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
    )
    started = time.monotonic()
    report = run_service_tests(tree, template_build.path, workdir / "test-hung", timeout_s=3)
    assert time.monotonic() - started < 10
    assert not report.ok and report.timed_out and report.reason == "test run exceeded 3 s"
    assert report.returncode is None
    if pid_file.exists():  # on a very busy machine pytest may not even have reached the test
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)


def test_a_tree_without_tests_cannot_be_tested(workdir, template_build):
    with pytest.raises(TestRunError, match="no tests/ directory"):
        run_service_tests(workdir / "nowhere", template_build.path, workdir / "test-nowhere")


def test_smoke_report_counts_health_and_predictions(template_build, model_path, workdir):
    with ServiceProcess.start(
        template_build.path, model_path, log_path=workdir / "logs" / "smoke.log"
    ) as server:
        report = smoke_test(server.url, n_requests=12)
    assert (report.requests, report.errors, report.error_samples) == (13, 0, [])
    assert report.latency_p95_ms >= report.latency_p50_ms > 0


def test_baseline_model_is_deterministic(tmp_path):
    first = build_baseline_model(tmp_path / "a.json")
    second = build_baseline_model(tmp_path / "b.json")
    assert (first.sha256, first.version) == (second.sha256, second.version)
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["kind"] == "baseline" and len(data["table"]) == 48
    assert data["table"]["1-8"] > data["table"]["1-3"] and data["table"]["0-14"] > data["table"]["0-8"]
    means = build_baseline_model(
        tmp_path / "c.json", [{"workingday": 1, "hr": 8, "cnt": c} for c in (10, 20)]
    )
    assert json.loads(means.path.read_text())["table"] == {"1-8": 15.0}
    assert service_module.SMOKE_ROWS  # canned rows exist for smoke tests


def test_server_exits_when_the_pipeline_process_is_killed(template_build, model_path, workdir):
    """A pipeline killed outright (no atexit) still leaves no server: it watches its parent."""
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from pipelines.devops.service import ServiceProcess\n"
        "s = ServiceProcess.start(Path(sys.argv[1]), Path(sys.argv[2]), log_path=Path(sys.argv[3]))\n"
        "print(s.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    log = workdir / "logs" / "orphan.log"
    out = subprocess.run(
        [sys.executable, "-c", script, str(template_build.path), str(model_path), str(log)],
        cwd=TEMPLATE.parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.1)
    assert not process_alive(pid), "the server outlived the process that started it"
    assert "bikeservice stopped" in log.read_text()


def process_alive(pid: int) -> bool:
    """Alive and not a zombie (an orphan's parent may be slow to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# Starts a release through the pipelines API and then hangs, saying when the server's process exists
# ("spawned") and when it listens, so a test can kill it with -9 at either moment.
_START_AND_HANG = (
    "import subprocess, sys, time\n"
    "from pathlib import Path\n"
    "from pipelines.devops import service\n"
    "class Spy(subprocess.Popen):\n"
    "    def __init__(self, *args, **kwargs):\n"
    "        super().__init__(*args, **kwargs)\n"
    "        print('spawned', self.pid, flush=True)\n"
    "subprocess.Popen = Spy\n"
    "s = service.ServiceProcess.start(Path(sys.argv[1]), Path(sys.argv[2]), log_path=Path(sys.argv[3]))\n"
    "print('listening', s.port, flush=True)\n"
    "time.sleep(60)\n"
)


def _kill_pipeline_at(build: BuildResult, model_path: Path, log: Path, moment: str, delay_s: float) -> int:
    """Start a release in a pipeline process, SIGKILL the pipeline `delay_s` after `moment`
    ("spawned" or "listening"); returns the server's pid."""
    with subprocess.Popen(
        [sys.executable, "-c", _START_AND_HANG, str(build.path), str(model_path), str(log)],
        cwd=TEMPLATE.parents[2],
        stdout=subprocess.PIPE,
        text=True,
    ) as pipeline:
        try:
            assert pipeline.stdout is not None
            server_pid = int(pipeline.stdout.readline().split()[1])
            if moment == "listening":
                assert pipeline.stdout.readline().startswith("listening")
            time.sleep(delay_s)
        finally:
            pipeline.kill()
    return server_pid


def _no_server_within(pid: int, log: Path, seconds: float) -> bool:
    """The server process is gone and its port, if it got one, accepts no connection."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.05)
    gone = not process_alive(pid)
    if not gone:
        os.kill(pid, 9)  # leave nothing behind for the next test
    port_file = log.with_name(log.name + ".port")  # written once the server listened
    if port_file.is_file() and port_file.read_text().strip().isdigit():
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", int(port_file.read_text()))) == 0:
                return False
    return gone


def test_a_pipeline_killed_after_its_server_listens_leaves_no_server(template_build, model_path, workdir):
    log = workdir / "logs" / "kill-listening.log"
    pid = _kill_pipeline_at(template_build, model_path, log, "listening", 0.0)
    assert _no_server_within(pid, log, 3.0), "a server outlived its killed pipeline by 3 s"


def test_a_pipeline_killed_while_its_server_starts_leaves_no_server(template_build, model_path, workdir):
    """The race: the pipeline dies before the server knows who started it (5 of 12 trials leaked)."""
    rng = random.Random(9)
    left = []
    for trial in range(6):
        log = workdir / "logs" / f"kill-starting-{trial}.log"
        delay = 0.0 if trial == 0 else rng.uniform(0.0, 0.25)
        pid = _kill_pipeline_at(template_build, model_path, log, "spawned", delay)
        if not _no_server_within(pid, log, 3.0):
            left.append(f"trial {trial} (killed {delay * 1000:.0f} ms after the server spawned)")
    assert not left, f"servers outlived their killed pipeline: {left}"


def test_a_server_started_on_a_worker_thread_outlives_the_thread(template_build, model_path, workdir):
    """The scenario ships each week on a thread that then ends; its release keeps serving.
    (PR_SET_PDEATHSIG fires when the forking *thread* ends, so servers are forked elsewhere.)"""
    started: list[ServiceProcess] = []
    worker = threading.Thread(
        target=lambda: started.append(
            ServiceProcess.start(template_build.path, model_path, log_path=workdir / "logs" / "thread.log")
        )
    )
    worker.start()
    worker.join()
    with started[0] as server:
        time.sleep(1.0)  # the parent watch looks every 0.5 s
        assert server.is_running() and get_json(server.url, "/health")["status"] == "ok"
