"""Runs started from the browser: the `opslab` CLI in a subprocess, one per workspace at a time.

A run never blocks the Streamlit script (other sessions, or this one's other pages, stay live):
the subprocess writes the database, its progress comes back as JSON lines on stderr, and a
fragment polls the job once a second. The registry is process-wide (`st.cache_resource`).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import OpsLabError

__all__ = ["Job", "JobManager"]


@dataclass
class Job:
    workspace: str
    label: str
    argv: list[str]
    proc: subprocess.Popen[str]
    started: float = field(default_factory=time.monotonic)
    done: float = 0.0
    total: float = 0.0
    step: str = "starting"
    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))
    stdout: str = ""
    finished: float | None = None
    stopped: bool = False

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def status(self) -> str:
        if self.running:
            return "running"
        if self.stopped:
            return "stopped"
        return "succeeded" if self.proc.returncode == 0 else "failed"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def error(self) -> str | None:
        """The CLI's one-sentence error (its last `opslab: ...` line), if it failed."""
        if self.status != "failed":
            return None
        for line in reversed(self.lines):
            if line.startswith("opslab: "):
                return line.removeprefix("opslab: ")
        code = self.proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        last = next((line.strip() for line in reversed(self.lines) if line.strip()), None)
        return f"the command {how}" + (f"; its last words: {last[:300]}" if last else ", saying nothing")

    def result(self) -> Any:
        try:
            return json.loads(self.stdout) if self.stdout.strip() else None
        except ValueError:
            return None

    def stop(self) -> None:
        """Ctrl-C for the run: it finishes the record it is writing and marks itself interrupted."""
        if self.running:
            self.stopped = True
            self.proc.send_signal(signal.SIGINT)

    def _pump(self) -> None:
        assert self.proc.stderr is not None and self.proc.stdout is not None
        reader = threading.Thread(target=self._read_stdout, daemon=True)
        reader.start()
        for raw in self.proc.stderr:
            line = raw.rstrip("\n")
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                    self.done, self.total, self.step = event["done"], event["total"], event["label"]
                    continue
                except (ValueError, KeyError):
                    pass
            if line.strip():
                self.lines.append(line)
        self.proc.wait()
        reader.join(timeout=5)
        self.proc.stderr.close()
        self.proc.stdout.close()
        self.finished = time.monotonic()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()


class JobManager:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, workspace: str) -> Job | None:
        return self._jobs.get(workspace)

    def start(self, workspace: str, db: str, args: list[str], label: str) -> Job:
        with self._lock:
            current = self._jobs.get(workspace)
            if current is not None and current.running:
                raise OpsLabError(
                    f"A run is already going in workspace {workspace!r} ({current.label}): wait for it or stop it."
                )
            argv = [sys.executable, "-m", "pipelines", "--db", db, "--workspace", workspace, *args]
            # A play started here runs at a lower CPU priority, so a room's pages stay quick while seats play.
            env = {
                **os.environ,
                "OPSLAB_PROGRESS": "jsonl",
                "PYTHONUNBUFFERED": "1",
                "OPSLAB_PLAY_NICE": "10",
            }
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    text=True, env=env)  # fmt: skip
            job = Job(workspace, label, argv, proc)
            threading.Thread(target=job._pump, name=f"opslab-job-{workspace}", daemon=True).start()
            self._jobs[workspace] = job
            return job

    def forget(self, workspace: str) -> None:
        with self._lock:
            job = self._jobs.get(workspace)
            if job is not None and not job.running:
                del self._jobs[workspace]
