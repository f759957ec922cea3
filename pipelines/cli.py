"""`opslab`: the headless entry point. The dashboard is another client of the same library.

Every subcommand group registers itself with `add_parser`; errors meant for people
(`OpsLabError`, bad arguments) reach stderr as one sentence with a non-zero exit, and a traceback
only with `--debug`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import pandas as pd

from pipelines.cli_support import print_json, print_table
from pipelines.errors import OpsLabError
from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name, resolve_db_path
from pipelines.store import Store, StoreError, workspace_history

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Store], int]


# -- history ------------------------------------------------------------------------------
def _history(args: argparse.Namespace, store: Store) -> int:
    if not store.exists():
        raise StoreError(
            f"There is no run history at {store.path} yet: run `opslab scenario run full-story` first."
        )
    history = workspace_history(store, args.workspace)
    if not history["exists"]:
        raise OpsLabError(
            f"Workspace {args.workspace!r} does not exist in {store.path}; `opslab workspace list` shows "
            "the ones that do."
        )
    if args.json:
        print_json(history)
        return 0
    print(f"workspace {args.workspace} in {store.path}")
    if history.get("scenario"):
        print(f"scenario {history['scenario']} (seed {history['seed']})")
    sections = [
        ("runs", ["sim_time", "kind", "trigger", "status", "label", "duration_ms"]),
        ("deployments", ["sim_time", "kind", "ref", "reason", "unplanned", "rolled_back"]),
        ("incidents", ["opened_sim_time", "resolved_sim_time", "kind", "cause", "detected_by", "summary"]),
        ("model_versions", ["version", "sim_time", "sha256", "window_start", "window_end"]),
        (
            "weekly",
            [
                "week",
                "sim_time",
                "release",
                "model_version",
                "requests",
                "error_rate",
                "latency_p95_ms",
                "quality",
                "quality_never_retrained",
                "drift_share",
            ],
        ),
    ]
    for name, columns in sections:
        rows = pd.DataFrame(history[name])
        print(f"\n{name} ({len(rows)})")
        if name == "runs" and not rows.empty:
            rows["duration_ms"] = rows["duration_ms"].round(0)
        if name == "model_versions" and not rows.empty:
            rows["sha256"] = rows["sha256"].str[:12]
        print_table(rows.tail(args.limit) if args.limit else rows, columns)
    return 0


def _add_history(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="print the workspace's whole history")
    p.add_argument("--json", action="store_true", help="one JSON object with every record")
    p.add_argument("--limit", type=int, default=0, help="show only the last N rows of each table")
    p.set_defaults(handler=_history)


# -- workspace ----------------------------------------------------------------------------
def _workspace_list(args: argparse.Namespace, store: Store) -> int:
    frame = store.list_workspaces()
    if args.json:
        print_json(json.loads(frame.to_json(orient="records", date_format="iso")))
    else:
        print_table(frame, empty=f"no workspaces yet in {store.path}")
    return 0


def _workspace_reset(args: argparse.Namespace, store: Store) -> int:
    name = check_workspace_name(args.name)
    if store.workspace_info(name) is None:
        raise OpsLabError(f"Workspace {name!r} does not exist in {store.path}; nothing to reset.")
    store.reset_workspace(name)
    print(f"workspace {name} is now empty")
    return 0


def _workspace_delete(args: argparse.Namespace, store: Store) -> int:
    name = check_workspace_name(args.name)
    if store.workspace_info(name) is None:
        raise OpsLabError(f"Workspace {name!r} does not exist in {store.path}; nothing to delete.")
    store.delete_workspace(name)
    print(f"workspace {name} deleted")
    return 0


def _add_workspace(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workspace", help="list, reset or delete workspaces")
    wsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = wsub.add_parser("list", help="the workspaces in the database with their run counts")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_workspace_list)
    for name, handler, text in (
        ("reset", _workspace_reset, "empty a workspace: every record and file it has"),
        ("delete", _workspace_delete, "remove a workspace altogether"),
    ):
        q = wsub.add_parser(name, help=text)
        q.add_argument("name", help="the workspace's name")
        q.set_defaults(handler=handler)


# -- the frame ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opslab",
        description="Run the DevOps and MLOps lifecycles of OpsLab and read their history.",
    )
    parser.add_argument("--db", help="run-history file (default: $OPSLAB_DB, else the per-user data dir)")
    parser.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="workspace name (default: demo)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from pipelines import commands  # the pipeline groups register here

    for register in (*commands.REGISTRARS, _add_history, _add_workspace):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_workspace_name(args.workspace)
        store = Store(resolve_db_path(args.db))
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


if __name__ == "__main__":
    sys.exit(main())
