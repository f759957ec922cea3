"""Helpers shared by the `opslab` command groups: progress bar, JSON, tables, lazily built actions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import pandas as pd

from pipelines.runner import Progress, RunResult
from pipelines.store.landing_sql import ImportSummary

__all__ = [
    "LazyActions",
    "ProgressPrinter",
    "SentenceParser",
    "print_json",
    "print_summary",
    "print_table",
    "run_summary",
    "step_progress",
]


class SentenceParser(argparse.ArgumentParser):
    """argparse whose refusals are one line on stderr, like every other error of the CLI.

    argparse prints the whole usage before its message, which buries the sentence in a screen of
    options; the line names the command and where its options are listed instead. Subcommands'
    parsers are of the same class (argparse makes them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`.\n")


class LazyActions(argparse._SubParsersAction):
    """Subcommands whose arguments are added only when the subcommand is chosen.

    An action's options can need the pipelines' own values (the preset names, the retrain triggers),
    and importing those loads scipy and scikit-learn. Built on demand, `opslab GROUP --help` lists
    the actions at once and only `opslab GROUP ACTION` pays for the imports.
    `sub.add_parser(name, help=..., build=fill)` calls `fill(parser)` before parsing that action.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._builders: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        build = kwargs.pop("build", None)
        parser = super().add_parser(name, **kwargs)
        if build is not None:
            self._builders[name] = build
        return parser

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        build = self._builders.pop(values[0], None)  # values: the action's name, then its arguments
        if build is not None:
            build(self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


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


def run_summary(result: RunResult) -> dict[str, Any]:
    """A pipeline run as JSON: status, and each step's status, duration and metrics."""
    return {
        "run_id": result.run_id,
        "status": result.status,
        "error": result.error,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "duration_ms": round(s.duration_ms or 0, 1),
                "metrics": dict(s.metrics),
                "error": s.error,
            }
            for s in result.steps
        ],
    }


def print_summary(summary: ImportSummary) -> None:
    """One line for what an import did, and what its source could not tell (`opslab import SOURCE`).

    Here rather than in `importing`, which lists the source modules: a source printing through it
    would import its own importer back (a cycle)."""
    print(
        f"Imported {summary.source} into workspace {summary.workspace!r}: {summary.records} records read, "
        f"{summary.new_records} new or changed (import {summary.import_id})."
    )
    if summary.note:
        print(f"Note: {summary.note}")


def add_import_workspace(parser: argparse.ArgumentParser) -> None:
    """`opslab import SOURCE ... --workspace W`, as the issue writes it, beside the global `--workspace`
    (SUPPRESS: when absent, the global one, or its default, stays)."""
    parser.add_argument("--workspace", default=argparse.SUPPRESS, help="the workspace to import into")


def add_cicd_import_options(parser: argparse.ArgumentParser, *, runs: str) -> None:
    """The options GitHub's and GitLab's imports share; `runs` names what the source calls its runs."""
    add_import_workspace(parser)
    parser.add_argument("--environment", default="production", help="the deployments' production environment")
    parser.add_argument(
        "--incident-label", default="incident", help="the label of incident issues (any case)"
    )
    parser.add_argument("--branch", default="main", help="the branch whose pushed commits are changes")
    parser.add_argument(
        "--jobs-limit", type=non_negative_int, default=500, help=f"live: read the jobs of at most N {runs}"
    )


def non_negative_int(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"give a number, 0 or more, not {text!r}")
    return value
