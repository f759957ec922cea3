"""Warm starts: a release's server (or test run) forked from an interpreter that imported its libraries once.

A champion model is a pickled scikit-learn pipeline, so every server start used to spend most of
its time importing scikit-learn and pandas (about 1.5 s of CPU of a 1.7 s start on a quiet 2-core
machine, more when the other core is busy). A fork server (what a forkserver or a preloading
application server does) does those imports once per play; a deploy hands it the server's
command line, and it forks a child that runs the artifact exactly as `python -P artifact.pyz ...`
would: a new process in its own session and process group, the release's own code read from the
artifact, its own environment, log and working directory. Only third-party libraries were
imported ahead of time, and the fork server itself never runs anything, so every child starts
from the same state. A play used to pay the imports once per server and once per test run (a
spare interpreter imported for each start): some 25 s of CPU in full-story, on a 2-core machine.

The same holds for the test step: `python -P -m pytest ...` runs in a child of a fork server
that has imported pytest, with the run's own environment, PYTHONPATH (the artifact) included.

The fork server is the child's parent, so it reports the child's exit code (`ForkedProcess`). It
exits as soon as its starter is gone or done (its stdin closes); a server it started watches it
(OPSLAB_PARENT_PID names the fork server) and stops with it, so a starter killed outright still
leaves no server behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .service import PARENT_PID_ENV, Process, server_env
from .testing import suite_env

__all__ = ["PRELOAD", "PYTEST_PRELOAD", "ForkedProcess", "WarmStarter", "prestart", "prestart_for_play"]

# What unpickling a champion (pipelines.mlops.training.build_model) and predicting with it import.
PRELOAD = ("pandas", "sklearn.pipeline", "sklearn.compose", "sklearn.preprocessing", "sklearn.ensemble")
PYTEST_PRELOAD = ("pytest",)
# Set by the preloaded libraries themselves as they import (scikit-learn's `os.environ.setdefault`):
# a fork server started before its starter imported them differs from one started after only in
# these, and every child gets its order's environment anyway.
SET_ON_IMPORT = frozenset({"KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"})
# The exit code of a child whose fork server died before it could say (only a killed one does).
LOST_EXIT_CODE = 255

# The fork server: import, then fork a child per order line on stdin and report "started PID"
# and "exited PID CODE" on stdout; exit when stdin closes. A child becomes the process its
# order's command line would have started. Runs with -P like a cold start; PYTHONPATH goes first
# on sys.path, as at start-up. Orders are read with os.read (no Python buffer for a child to
# inherit), and the fork server never starts a thread, so forking it is safe.
_FORK_SERVER = """
import json, os, select, signal, sys
for name in {preload!r}:
    __import__(name)


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        os.write(1, ("exited %d %d\\n" % (pid, os.waitstatus_to_exitcode(status))).encode())


def take_orders():
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    pending = b""
    while True:
        readable = select.select([0, wake_r], [], [])[0]
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        reap()
        if 0 not in readable:
            continue
        data = os.read(0, 65536)
        if not data:
            os._exit(0)  # the starter is gone or done; the servers watching us stop by themselves
        pending += data
        while b"\\n" in pending:
            line, pending = pending.split(b"\\n", 1)
            order = json.loads(line)
            order["parent"] = os.getpid()
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                os.setsid()  # its own session and process group, as start_new_session=True gives
                return order
            os.write(1, ("started %d\\n" % pid).encode())


order = take_orders()
os.environ.clear()
os.environ.update(order["env"])
if {parent_env!r} in os.environ:  # the server watches its parent: the fork server
    os.environ[{parent_env!r}] = str(order["parent"])
sys.path[0:0] = [p for p in order["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(log, 1)
os.dup2(log, 2)
os.close(log)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.chdir(order["cwd"])
del take_orders, reap, order["parent"]
args = order["argv"]
import runpy
if args[0] == "-m":
    sys.argv = args[1:]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
"""


class ForkedProcess:
    """A child of a fork server: the parts of `subprocess.Popen` the pipelines use.

    Its exit code comes from the fork server, its parent; should the fork server die first (it
    was killed), the child's end is read from /proc and its exit code is `LOST_EXIT_CODE`.
    """

    def __init__(self, pid: int, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self._changed = threading.Event()
        self._orphaned = False

    def poll(self) -> int | None:
        if self.returncode is None and self._orphaned and _gone(self.pid):
            self.returncode = LOST_EXIT_CODE
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._changed.wait(min(left or 0.05, 0.05) if self._orphaned else left)
        return code

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._changed.set()

    def _orphan(self) -> None:
        self._orphaned = True
        self._changed.set()

    def __repr__(self) -> str:
        return f"ForkedProcess(pid={self.pid}, returncode={self.returncode})"


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for its new parent counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except (OSError, IndexError):  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return state in ("Z", "X")


class _ForkServer:
    """One fork server process and the children it started."""

    def __init__(self, preload: Sequence[str], env: Mapping[str, str]) -> None:
        self.env = dict(env)
        script = _FORK_SERVER.format(preload=tuple(preload), parent_env=PARENT_PID_ENV)
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        self._children: dict[int, ForkedProcess] = {}
        self._started: queue.Queue[ForkedProcess | None] = queue.Queue()
        self._order_lock = threading.Lock()  # one order at a time: each waits for its child's pid
        self._table_lock = threading.Lock()
        self._argv: Sequence[str] = ()
        self._reader = threading.Thread(target=self._read, name="opslab-fork-server", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            if len(words) == 2 and words[0] == b"started":
                child = ForkedProcess(int(words[1]), self._argv)
                with self._table_lock:
                    self._children[child.pid] = child
                self._started.put(child)
            elif len(words) == 3 and words[0] == b"exited":
                with self._table_lock:
                    done = self._children.pop(int(words[1]), None)
                if done is not None:
                    done._exited(int(words[2]))
        self.process.stdout.close()
        # The fork server is gone: its children's ends are read from /proc from now on.
        with self._table_lock:
            orphans, self._children = list(self._children.values()), {}
        for child in orphans:
            child._orphan()
        self._started.put(None)

    def start(
        self, command: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path
    ) -> ForkedProcess | None:
        """Fork a child for `command` (waits for the imports the first time); None if it cannot."""
        order = {"argv": list(command[2:]), "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
        with self._order_lock:
            if self.process.poll() is not None or self.process.stdin is None:
                return None
            self._argv = list(command)
            try:
                self.process.stdin.write(json.dumps(order).encode() + b"\n")
                self.process.stdin.flush()
            except OSError:
                return None
            return self._started.get()

    def close(self) -> None:
        """Close its stdin: it exits at once (servers it started stop with it)."""
        with self._order_lock:
            if self.process.stdin is not None and not self.process.stdin.closed:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # still importing: it would exit after, but why wait
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)


class WarmStarter:
    """Starts `python -P ...` command lines as children of a pre-imported fork server."""

    def __init__(self, preload: Sequence[str] = PRELOAD) -> None:
        self.preload = tuple(preload)
        self._server: _ForkServer | None = None
        self._retired: list[_ForkServer] = []  # fork servers for another environment, still parents
        self._lock = threading.Lock()
        self._closed = False

    def prepare(self, env: Mapping[str, str]) -> None:
        """Have a fork server importing for commands started with `env` (so even the first one is warm)."""
        with self._lock:
            if self._server is None and not self._closed:
                self._server = _adopt(self.preload, env) or _ForkServer(self.preload, _start_env(env))

    def launch(self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> Process:
        """Start `command` (``[python, -P, script, ...]`` or ``[python, -P, -m, module, ...]``) in a
        child of the fork server, or cold if there is none for its environment."""
        warm = len(command) > 2 and command[0] == sys.executable and command[1] == "-P"
        server: _ForkServer | None = None
        with self._lock:
            if warm and not self._closed:
                current = self._server
                if current is not None and (
                    current.process.poll() is not None or not _same_start(current.env, env)
                ):
                    self._retired.append(current)  # this start goes cold; the next is warm again
                    self._server = _ForkServer(self.preload, _start_env(env))
                else:
                    server = current
        child = server.start(command, env, cwd, log_path) if server is not None else None
        if child is not None:
            return child
        with open(log_path, "wb") as log:
            return subprocess.Popen(
                list(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
            )

    def close(self) -> None:
        """Stop the fork servers; a server started through them stops with them (stop it first)."""
        with self._lock:
            self._closed = True
            servers = [*self._retired, *([self._server] if self._server is not None else [])]
            self._server, self._retired = None, []
        for server in servers:
            server.close()


def _start_env(env: Mapping[str, str]) -> dict[str, str]:
    """What an interpreter needs from `env` at start-up; PYTHONPATH is the order's, not the fork server's."""
    return {key: value for key, value in env.items() if key != "PYTHONPATH"}


def _same_start(started: Mapping[str, str], env: Mapping[str, str]) -> bool:
    """Would an interpreter started with `env` start as one started with `started` did?"""
    return _start_key(started) == _start_key(env)


def _start_key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in _start_env(env).items() if k not in SET_ON_IMPORT))


# Fork servers started ahead (`prestart`) until a WarmStarter adopts them, by preload and start env.
_AHEAD: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], _ForkServer] = {}
_AHEAD_LOCK = threading.Lock()


def prestart(preload: Sequence[str], env: Mapping[str, str]) -> None:
    """Start now the fork server that a later `WarmStarter(preload).prepare(env)` would start.

    A play calls this before its own imports: the fork server imports pandas and scikit-learn (or
    pytest) on the other core meanwhile, instead of after them, while the first release waits. One
    that nothing adopts exits with this process (its stdin closes).
    """
    key = (tuple(preload), _start_key(env))
    with _AHEAD_LOCK:
        if key not in _AHEAD:
            _AHEAD[key] = _ForkServer(tuple(preload), _start_env(env))


def prestart_for_play() -> None:
    """`prestart` the fork servers of a play with the sample service: its servers' and its test runs'."""
    prestart(PRELOAD, server_env())
    prestart(PYTEST_PRELOAD, suite_env(None))


def _adopt(preload: Sequence[str], env: Mapping[str, str]) -> _ForkServer | None:
    """The fork server `prestart` started for `preload` and `env`, if it is still there and alive."""
    with _AHEAD_LOCK:
        server = _AHEAD.pop((tuple(preload), _start_key(env)), None)
    if server is not None and server.process.poll() is not None:
        return None
    return server
