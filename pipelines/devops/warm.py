"""Warm starts: a release's server (or test run) in an interpreter that already imported its libraries.

A champion model is a pickled scikit-learn pipeline, so every server start used to spend most of
its time importing scikit-learn and pandas (about 1.5 s of a 1.7 s start on a quiet 2-core
machine, more when the other core is busy). A spare interpreter does those imports while the
scenario serves traffic; a deploy hands it the server's command line, and it runs the artifact
exactly as `python -P artifact.pyz ...` would: a new process, the release's own code read from
the artifact, its own log, working directory and process group. Only third-party libraries were
imported ahead of time (what a forkserver or a preloading application server does).

The same holds for the test step: `python -P -m pytest ...` runs in a spare that has imported
pytest (about a third of a test run), with the run's own environment, PYTHONPATH (the artifact)
included.

A spare that finds its parent gone (stdin closes) exits without serving.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PRELOAD", "PYTEST_PRELOAD", "WarmStarter"]

# What unpickling a champion (pipelines.mlops.training.build_model) and predicting with it import.
PRELOAD = ("pandas", "sklearn.pipeline", "sklearn.compose", "sklearn.preprocessing", "sklearn.ensemble")
PYTEST_PRELOAD = ("pytest",)

# The spare: import, wait for one order, become the process the order's command line would have
# started. Runs with -P like a cold start; PYTHONPATH goes first on sys.path, as at start-up.
_SPARE = """
import json, os, sys
for name in {preload!r}:
    __import__(name)
line = sys.stdin.buffer.readline()
if not line:
    raise SystemExit(0)
order = json.loads(line)
os.environ.clear()
os.environ.update(order["env"])
sys.path[0:0] = [p for p in order["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(log, 1)
os.dup2(log, 2)
os.close(log)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.chdir(order["cwd"])
args = order["argv"]
import runpy
if args[0] == "-m":
    sys.argv = args[1:]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
"""


class WarmStarter:
    """Starts server command lines in a spare, pre-imported interpreter; keeps one spare ready."""

    def __init__(self, preload: Sequence[str] = PRELOAD) -> None:
        self.preload = tuple(preload)
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_env: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._closed = False
        # Whether a start leaves a new spare behind; off before the last start a caller expects,
        # so no interpreter imports for nothing while the rest of the work needs the cores.
        self.keep = True

    def prepare(self, env: Mapping[str, str]) -> None:
        """Have a spare importing for commands started with `env` (so even the first one is warm)."""
        with self._lock:
            if self._spare is None and not self._closed:
                self._spare, self._spare_env = self._spawn(env), _start_env(env)

    def launch(
        self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path
    ) -> subprocess.Popen[bytes]:
        """Start `command` (``[python, -P, script, ...]`` or ``[python, -P, -m, module, ...]``) in the
        spare, or cold if none is ready."""
        warm = len(command) > 2 and command[0] == sys.executable and command[1] == "-P"
        with self._lock:
            spare, self._spare = self._spare, None
            if spare is not None and (spare.poll() is not None or self._spare_env != _start_env(env)):
                _discard(spare)
                spare = None
            if warm and self.keep and not self._closed:  # ready for the next start
                self._spare, self._spare_env = self._spawn(env), _start_env(env)
        if spare is not None and warm:
            order = {"argv": list(command[2:]), "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
            assert spare.stdin is not None
            try:
                spare.stdin.write(json.dumps(order).encode() + b"\n")
                spare.stdin.close()
                return spare
            except OSError:  # the spare died meanwhile: start cold
                _discard(spare)
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

    def _spawn(self, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-P", "-c", _SPARE.format(preload=self.preload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_start_env(env),
            start_new_session=True,
        )

    def close(self) -> None:
        """Stop the spare; servers already started are their owners' to stop."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            _discard(spare)


def _start_env(env: Mapping[str, str]) -> dict[str, str]:
    """What an interpreter needs from `env` at start-up; PYTHONPATH is the order's, not the spare's."""
    return {key: value for key, value in env.items() if key != "PYTHONPATH"}


def _discard(spare: subprocess.Popen[bytes]) -> None:
    if spare.stdin is not None and not spare.stdin.closed:
        spare.stdin.close()  # EOF: it exits after its imports
    if spare.poll() is None:
        spare.kill()
    spare.wait()
