"""Warm starts: a release's server runs in an interpreter that has already imported its libraries.

A champion model is a pickled scikit-learn pipeline, so every server start used to spend most of
its time importing scikit-learn and pandas (about 1.5 s of a 1.7 s start on a quiet 2-core
machine, more when the other core is busy). A spare interpreter does those imports while the
scenario serves traffic; a deploy hands it the server's command line, and it runs the artifact
exactly as `python -P artifact.pyz ...` would: a new process, the release's own code read from
the artifact, its own log, working directory and process group. Only third-party libraries were
imported ahead of time (what a forkserver or a preloading application server does).

A spare that finds its parent gone (stdin closes) exits without serving.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PRELOAD", "WarmStarter"]

# What unpickling a champion (pipelines.mlops.training.build_model) and predicting with it import.
PRELOAD = ("pandas", "sklearn.pipeline", "sklearn.compose", "sklearn.preprocessing", "sklearn.ensemble")

# The spare: import, wait for one order, become the server. Runs with -P like a cold start.
_SPARE = """
import json, os, sys
for name in {preload!r}:
    __import__(name)
line = sys.stdin.buffer.readline()
if not line:
    raise SystemExit(0)
order = json.loads(line)
log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(log, 1)
os.dup2(log, 2)
os.close(log)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.chdir(order["cwd"])
sys.argv = order["argv"]
import runpy
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class WarmStarter:
    """Starts server command lines in a spare, pre-imported interpreter; keeps one spare ready."""

    def __init__(self, preload: Sequence[str] = PRELOAD) -> None:
        self.preload = tuple(preload)
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_env: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def prepare(self, env: Mapping[str, str]) -> None:
        """Have a spare importing for servers started with `env` (so even the first start is warm)."""
        with self._lock:
            if self._spare is None and not self._closed:
                self._spare, self._spare_env = self._spawn(env), dict(env)

    def launch(
        self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path
    ) -> subprocess.Popen[bytes]:
        """Start `command` (``[python, -P, artifact, ...]``) in the spare, or cold if none is ready."""
        warm = len(command) > 2 and command[0] == sys.executable and command[1] == "-P"
        with self._lock:
            spare, self._spare = self._spare, None
            if spare is not None and (spare.poll() is not None or self._spare_env != dict(env)):
                _discard(spare)
                spare = None
            if warm and not self._closed:
                self._spare, self._spare_env = self._spawn(env), dict(env)  # ready for the next start
        if spare is not None and warm:
            order = {"argv": list(command[2:]), "cwd": str(cwd), "log": str(log_path)}
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
            env=dict(env),
            start_new_session=True,
        )

    def close(self) -> None:
        """Stop the spare; servers already started are their owners' to stop."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            _discard(spare)


def _discard(spare: subprocess.Popen[bytes]) -> None:
    if spare.stdin is not None and not spare.stdin.closed:
        spare.stdin.close()  # EOF: it exits after its imports
    if spare.poll() is None:
        spare.kill()
    spare.wait()
