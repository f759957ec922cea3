"""`opslab`: the headless entry point. The dashboard is another client of the same library.

Each command group is a module of this package with a `register(sub)` that adds its subcommands;
`build_parser` lists them. The groups import their pipelines inside their handlers, so `--help` and
the light commands never load scipy or scikit-learn. Errors meant for people (`OpsLabError`, bad
arguments) reach stderr as one sentence with a non-zero exit, and a traceback only with `--debug`.
The domain packages never import this one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pipelines.cli import (
    dashboard,
    datasets,
    devops,
    importing,
    mlops,
    report,
    scenario,
    sql,
    workshop,
    workspace,
)
from pipelines.cli.support import SentenceParser
from pipelines.errors import OpsLabError
from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name, resolve_db_path
from pipelines.store import RunHistory, Store, query_interrupted

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Store], int]


def build_parser() -> argparse.ArgumentParser:
    parser = SentenceParser(
        prog="opslab",
        description="Run the DevOps and MLOps lifecycles of OpsLab and read their history.",
    )
    parser.add_argument(
        "--db",
        help="run history: a folder (a file per workspace) or a .duckdb file "
        "(default: $OPSLAB_DB, else history/ in the per-user data dir)",
    )
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="workspace name (default: demo)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (devops, mlops, scenario, datasets, workspace, workshop, sql, report, dashboard, importing):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_workspace_name(args.workspace)
        # Handlers get the workspace's store; those that reach other workspaces use `args.history`.
        args.history = RunHistory(resolve_db_path(args.db))
        store = args.history.store(args.workspace)
        return int(args.handler(args, store) or 0)
    except KeyboardInterrupt:
        print("opslab: stopped (Ctrl-C); unfinished runs are marked interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `opslab history | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OpsLabError, ValueError) as exc:
        if args.debug:
            raise
        print(f"opslab: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine said no (permissions, a full disk): its words, on one line
        if args.debug:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"opslab: {exc.strerror or exc}{where}; nothing more was done.", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one sentence, and --debug shows where
        if query_interrupted(exc):  # Ctrl-C taken by DuckDB during a query: a Ctrl-C all the same
            print("opslab: stopped (Ctrl-C); unfinished runs are marked interrupted.", file=sys.stderr)
            return 130
        if args.debug:
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"opslab: unexpected {type(exc).__name__}{': ' + text if text else ''} (a bug in OpsLab: "
            "run again with --debug for the traceback and report it).",
            file=sys.stderr,
        )
        return 1
