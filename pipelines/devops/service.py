"""Deploy and production: the artifact as a real server process, and real HTTP traffic to it.

Every server this process starts is registered and stopped at exit, so no run, failed or not,
leaves one behind. Each server runs in its own process group, so stopping it stops anything
it started.

A pipeline killed outright (`kill -9`) has no exit to stop its servers from, so each server also
stops by itself when its starter dies, even while it is still starting: on Linux the kernel sends
it SIGTERM (`PR_SET_PDEATHSIG`, set between fork and exec, with a check that closes the race of a
parent dying before that), and everywhere the server watches the pid it is given in
`OPSLAB_PARENT_PID`. The kernel's signal fires when the *thread* that forked the server ends, and
the scenario ships each week on a worker thread, so servers are always forked from one long-lived
launcher thread.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import DeployError

EXIT_PORT_IN_USE = 3  # the service's own exit code for EADDRINUSE
PARENT_PID_ENV = "OPSLAB_PARENT_PID"  # the service stops once this process is gone
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LOG_TAIL_LINES = 20
REQUEST_TIMEOUT_S = 30.0

__all__ = [
    "SMOKE_ROWS",
    "Launcher",
    "Process",
    "ServiceProcess",
    "ServingReport",
    "SmokeReport",
    "running_services",
    "serve_batch",
    "server_env",
    "smoke_test",
    "stop_all_services",
]

# Canned smoke requests: typical hours of each kind, as a smoke test sends known-good input.
# They answer "does this release serve at all?"; real traffic is what serve_batch sends.
SMOKE_ROWS: tuple[dict[str, Any], ...] = (
    {
        "season": 3,
        "hr": 8,
        "weekday": 2,
        "workingday": 1,
        "holiday": 0,
        "weathersit": 1,
        "temp": 0.66,
        "atemp": 0.61,
        "hum": 0.54,
        "windspeed": 0.19,
        "mnth": 7,
        "yr": 1,
    },
    {
        "season": 1,
        "hr": 17,
        "weekday": 4,
        "workingday": 1,
        "holiday": 0,
        "weathersit": 2,
        "temp": 0.24,
        "atemp": 0.23,
        "hum": 0.70,
        "windspeed": 0.28,
        "mnth": 2,
        "yr": 0,
    },
    {
        "season": 2,
        "hr": 14,
        "weekday": 6,
        "workingday": 0,
        "holiday": 0,
        "weathersit": 1,
        "temp": 0.56,
        "atemp": 0.53,
        "hum": 0.45,
        "windspeed": 0.22,
        "mnth": 5,
        "yr": 1,
    },
    {
        "season": 4,
        "hr": 3,
        "weekday": 0,
        "workingday": 0,
        "holiday": 0,
        "weathersit": 3,
        "temp": 0.36,
        "atemp": 0.33,
        "hum": 0.87,
        "windspeed": 0.13,
        "mnth": 11,
        "yr": 0,
    },
)


class Process(Protocol):
    """What the pipelines use of a started process: a `subprocess.Popen`, or a child of a fork
    server (`pipelines.devops.warm.ForkedProcess`)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


# Starts a server's command line with its environment, working directory and log (one log per
# start: its tail explains this start) in its own process group; `subprocess.Popen` by default.
Launcher = Callable[..., Process]

_registry: dict[int, ServiceProcess] = {}
_registry_lock = threading.Lock()
# Servers are forked from this one thread, which lives as long as the process (see the docstring).
_launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opslab-service-launcher")


@dataclass(frozen=True)
class SmokeReport:
    requests: int
    errors: int
    latency_p50_ms: float
    latency_p95_ms: float
    error_samples: list[str]


@dataclass(frozen=True)
class ServingReport:
    requests: int
    rows: int
    errors: int
    error_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    predictions: list[float | None]
    error_samples: list[str]


class ServiceProcess:
    """A running service: its process, URL and log. Use ``start``; stop it or use ``with``."""

    def __init__(self, process: Process, url: str, log_path: Path, artifact: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.artifact = artifact

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @classmethod
    def start(
        cls,
        artifact: Path,
        model_path: Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        health_timeout_s: float = 10,
        log_path: Path,
        launcher: Launcher | None = None,
    ) -> ServiceProcess:
        """Start ``python artifact.pyz`` and return once /health answers 200.

        Raises DeployError (and leaves no process) when the port is taken, the server exits,
        or it is not healthy within ``health_timeout_s``.
        """
        artifact = Path(artifact).resolve()
        log_path = Path(log_path).resolve()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        port_file = log_path.with_name(log_path.name + ".port")
        port_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-P",
            str(artifact),
            "--host",
            host,
            "--port",
            str(port),
            "--model",
            str(Path(model_path).resolve()),
            "--port-file",
            str(port_file),
            "--exit-with-parent",  # a killed pipeline leaves no server behind
        ]
        env = server_env()
        if launcher is not None:  # e.g. a pre-imported interpreter (pipelines.devops.warm)
            # The server watches OPSLAB_PARENT_PID from its first line, so it stops with this
            # process even though no parent-death signal can be set for it here.
            process = launcher(command, env=env, cwd=log_path.parent, log_path=log_path)
            service = cls(process, "", log_path, artifact)
            _register(service)
        else:
            service = _launcher.submit(cls._spawn, command, env, log_path, artifact).result()
        process = service.process
        try:
            bound = _wait_for_port_file(process, port_file, time.monotonic() + health_timeout_s)
            service.url = f"http://{host}:{bound}"
            _wait_for_health(process, service.url, time.monotonic() + health_timeout_s)
        except DeployError as exc:
            exited_with = process.poll()  # before stop(), which sets a code of its own
            service.stop()
            raise DeployError(_deploy_failure(exc, exited_with, port, host, log_path)) from None
        except BaseException:
            service.stop()
            raise
        finally:
            port_file.unlink(missing_ok=True)
        return service

    @classmethod
    def _spawn(
        cls, command: list[str], env: dict[str, str], log_path: Path, artifact: Path
    ) -> ServiceProcess:
        """Fork the server (on the launcher thread) and register it at once, so that a caller
        interrupted while waiting still has it stopped at exit."""
        with open(log_path, "wb") as log:  # one log per start: its tail explains this start
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=log_path.parent,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()),
            )
        service = cls(process, "", log_path, artifact)
        _register(service)
        return service

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 5) -> int | None:
        """SIGTERM the server's process group, SIGKILL it if it lingers; returns the exit code."""
        try:
            if self.process.poll() is None:
                _signal_group(self.process, signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait()
        finally:
            _unregister(self)
        return self.process.returncode

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServiceProcess(pid={self.pid}, url={self.url!r}, artifact={self.artifact.name!r})"


def server_env() -> dict[str, str]:
    """The environment a server starts with."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[PARENT_PID_ENV] = str(os.getpid())  # the server stops once this process is gone
    # A request predicts a few rows: OpenMP spinning up threads for that cost 20 ms a request
    # against 6 ms with one thread (measured with a HistGradientBoosting champion).
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def running_services() -> list[ServiceProcess]:
    """Servers started by this process and not yet stopped."""
    with _registry_lock:
        return list(_registry.values())


def stop_all_services() -> None:
    """Stop every server this process started (also run at interpreter exit)."""
    for service in running_services():
        service.stop()


atexit.register(stop_all_services)


def smoke_test(
    url: str, rows: Sequence[Mapping[str, Any]] = SMOKE_ROWS, *, n_requests: int = 20
) -> SmokeReport:
    """``n_requests`` one-row predictions plus a /health check: does the release answer at all?

    Defaults to the canned ``SMOKE_ROWS``, so a bug only real traffic triggers gets past it,
    as it would in a real deploy.
    """
    if not rows:
        raise ValueError("smoke_test needs at least one row")
    latencies: list[float] = []
    samples: list[str] = []
    errors = 0
    with HttpClient(url) as client:
        status, body, _ = client.request("GET", "/health")
        if status != 200:
            errors += 1
            samples.append(f"GET /health -> {status}: {_short(body)}")
        for i in range(n_requests):
            status, body, elapsed = client.request("POST", "/predict", {"rows": [dict(rows[i % len(rows)])]})
            latencies.append(elapsed)
            if status != 200:
                errors += 1
                if len(samples) < 5:
                    samples.append(f"POST /predict -> {status}: {_short(body)}")
    return SmokeReport(
        requests=n_requests + 1,
        errors=errors,
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        error_samples=samples,
    )


def serve_batch(
    url: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    rows_per_request: int = 24,
    client: HttpClient | None = None,
) -> ServingReport:
    """Send the week's real rows through the service over one keep-alive connection (`client`'s,
    kept open for the next batch, or one of its own).

    A request answered 4xx or 5xx (or not at all) is an error and its rows get ``None``.
    """
    if rows_per_request < 1:
        raise ValueError("rows_per_request must be at least 1")
    latencies: list[float] = []
    predictions: list[float | None] = []
    samples: list[str] = []
    errors = requests = 0
    with contextlib.nullcontext(client) if client is not None else HttpClient(url) as client:
        for start in range(0, len(rows), rows_per_request):
            chunk = [dict(row) for row in rows[start : start + rows_per_request]]
            status, body, elapsed = client.request("POST", "/predict", {"rows": chunk})
            requests += 1
            latencies.append(elapsed)
            values = body.get("predictions") if isinstance(body, dict) else None
            if status == 200 and isinstance(values, list) and len(values) == len(chunk):
                predictions.extend(float(v) for v in values)
            else:
                errors += 1
                predictions.extend([None] * len(chunk))
                if len(samples) < 5:
                    samples.append(f"POST /predict -> {status}: {_short(body)}")
    return ServingReport(
        requests=requests,
        rows=len(rows),
        errors=errors,
        error_rate=errors / requests if requests else 0.0,
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        predictions=predictions,
        error_samples=samples,
    )


class HttpClient:
    """One keep-alive HTTP connection that reconnects after a failure; status 0 means no answer.

    A connection that served a request before and is found closed when the next one is sent (the
    server's idle timeout) is opened again and the request sent once more, as HTTP clients do: that
    is no answer of the server's. A server that is gone stays gone: status 0."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn: http.client.HTTPConnection | None = None
        self.answered = 0  # requests answered on the open connection

    def request(self, method: str, path: str, payload: Any = None) -> tuple[int, Any, float]:
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        reused = self.conn is not None and self.answered > 0
        started = time.perf_counter()
        try:
            try:
                raw, status = self._send(method, path, data, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                self.close()  # closed while idle: once more on a new connection
                started = time.perf_counter()
                raw, status = self._send(method, path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return 0, {"error": f"{type(exc).__name__}: {exc}"}, (time.perf_counter() - started) * 1000
        elapsed = (time.perf_counter() - started) * 1000
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"error": raw[:200].decode(errors="replace")}
        return status, body, elapsed

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[bytes, int]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            self.answered = 0
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        self.answered += 1
        if response.will_close:
            self.close()
        return raw, response.status

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_for_port_file(process: Process, port_file: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        if port_file.is_file():
            text = port_file.read_text().strip()
            if text.isdigit():
                return int(text)
        if process.poll() is not None:
            raise DeployError("exited")
        time.sleep(0.005)
    raise DeployError("no port")


def _wait_for_health(process: Process, url: str, deadline: float) -> None:
    parts = urlsplit(url)
    delay = 0.005
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DeployError("exited")
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=1)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                return
            last = f"/health answered {response.status}: {_short(body)}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise DeployError(f"not healthy ({last})")


def _deploy_failure(exc: DeployError, returncode: int | None, port: int, host: str, log_path: Path) -> str:
    """One sentence for the step's error text, with the server's last log lines."""
    if returncode == EXIT_PORT_IN_USE:
        return f"port {port} on {host} is already in use."
    tail = _tail(log_path, LOG_TAIL_LINES).strip()
    tail_text = f" Last log lines:\n{tail}" if tail else ""
    if returncode is not None:
        return f"the server exited with code {returncode} before it was healthy.{tail_text}"
    if str(exc) == "no port":
        return f"the server did not start listening in time.{tail_text}"
    return f"the server never became healthy: {exc}.{tail_text}"


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, looked up once in the parent (a forked child should only call it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with(parent: int) -> Callable[[], None]:
    """Runs in the forked server before exec: SIGTERM it when the forking thread ends, and exit at
    once if the parent died before that was set (no signal would ever come)."""
    prctl = _prctl()
    signum = int(signal.SIGTERM)

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _register(service: ServiceProcess) -> None:
    with _registry_lock:
        _registry[service.pid] = service


def _unregister(service: ServiceProcess) -> None:
    with _registry_lock:
        _registry.pop(service.pid, None)


def _signal_group(process: Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, sig)


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile in ms, rounded; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return round(ordered[rank - 1], 3)


def _short(body: Any) -> str:
    text = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text)[:200]


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
