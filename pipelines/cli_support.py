"""Output helpers shared by the `opslab` command groups: progress bar, JSON, tables."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import pandas as pd

from pipelines.runner import Progress

__all__ = ["ProgressPrinter", "print_json", "print_table", "step_progress"]


class ProgressPrinter:
    """A one-line progress bar on a terminal; plain lines when stderr is a file or a pipe."""

    def __init__(self, stream: TextIO | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # The dashboard runs the CLI as a subprocess and reads its progress as JSON lines.
        self.jsonl = os.environ.get("OPSLAB_PROGRESS") == "jsonl"
        self._last_plain = ""

    def update(self, done: float, total: float, label: str) -> None:
        fraction = 0.0 if total <= 0 else min(1.0, done / total)
        if self.jsonl:
            self.stream.write(json.dumps({"done": done, "total": total, "label": label}) + "\n")
            self.stream.flush()
        elif self.tty:
            filled = round(fraction * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%} {label[:70]:<70}")
            self.stream.flush()
        elif label != self._last_plain and not label.endswith(": running"):
            self.stream.write(f"{fraction:4.0%} {label}\n")
            self._last_plain = label

    def close(self) -> None:
        if self.tty and not self.jsonl:
            self.stream.write("\n")
            self.stream.flush()


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, empty: str = "(none)") -> None:
    if frame is None or frame.empty:
        print(empty)
        return
    view = frame[[c for c in (columns or frame.columns) if c in frame.columns]]
    view = view.astype(object).where(view.notna(), "")  # a person reads a blank, not NaN
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 48):
        print(view.to_string(index=False))


def step_progress(bar: ProgressPrinter) -> Callable[[Progress], None]:
    """A runner progress callback drawing one pipeline's steps on `bar`."""

    def report(event: Progress) -> None:
        done = event.index + (0 if event.status == "running" else 1)
        bar.update(done, event.total, f"{event.kind} {event.step}: {event.status}")

    return report
