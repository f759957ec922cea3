"""`opslab history` (a workspace's whole record) and `opslab workspace ...` (list, reset, delete)."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from pipelines.cli.support import print_json, print_table
from pipelines.errors import OpsLabError
from pipelines.paths import check_workspace_name
from pipelines.store import Store, StoreError, jsonable
from pipelines.store.history import history_section, stream_history_json

__all__ = ["register"]


# -- history ------------------------------------------------------------------------------
def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"give a number of rows, 0 or more, not {text!r}")
    return value


def _history(args: argparse.Namespace, store: Store) -> int:
    if not args.history.exists():
        raise StoreError(
            f"There is no run history at {args.history.path} yet: run `opslab scenario run full-story` first."
        )
    info = store.workspace_info(args.workspace)
    if info is None:
        raise OpsLabError(
            f"Workspace {args.workspace!r} does not exist in {args.history.path}; `opslab workspace list` shows "
            "the ones that do."
        )
    if args.at is not None:
        return _at(args, store)
    if args.json:  # streamed: a history of 100k runs and 1M steps is never held in memory at once
        for piece in stream_history_json(store, args.workspace):
            sys.stdout.write(piece)
        return 0
    print(f"workspace {args.workspace} in {args.history.path}")
    if info.get("scenario"):
        print(f"scenario {info['scenario']} (seed {jsonable(info.get('seed'))})")
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
        rows = history_section(store, args.workspace, name)
        print(f"\n{name} ({len(rows)})")
        if name == "runs" and not rows.empty:
            rows["duration_ms"] = rows["duration_ms"].round(0)
        if name == "model_versions" and not rows.empty:
            rows["sha256"] = rows["sha256"].str[:12]
        print_table(rows.tail(args.limit) if args.limit else rows, columns)
    return 0


def _moment(text: str) -> pd.Timestamp:
    try:
        moment = pd.Timestamp(text)
    except (ValueError, TypeError):
        moment = pd.NaT
    if moment is pd.NaT:
        raise argparse.ArgumentTypeError(
            f"give a scenario time such as 2011-06-01 or '2011-06-01 14:00', not {text!r}"
        )
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment


def _at(args: argparse.Namespace, store: Store) -> int:
    """What served production at scenario time `--at`."""
    from pipelines.store.queries import in_production_at

    serving = in_production_at(store, args.workspace, args.at)
    records = json.loads(serving.to_json(orient="records", date_format="iso"))  # NaN -> null, times -> ISO
    rows = {row["kind"]: row for row in records}
    if args.json:
        print_json({"workspace": args.workspace, "at": args.at.isoformat(), "release": rows.get("release"),
                    "model": rows.get("model")})  # fmt: skip
        return 0
    print(f"in production in workspace {args.workspace} at {args.at}:")
    for kind, what in (("release", "release"), ("model", "model version")):
        row = rows.get(kind)
        if row is None:
            print(f"  {what}: none deployed yet")
            continue
        how = "rollback" if row["unplanned"] else (row["reason"] or "a planned release")
        print(f"  {what}: {row['ref']} (since {pd.Timestamp(row['sim_time']):%Y-%m-%d %H:%M}, {how})")
    return 0


def _add_history(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="print the workspace's whole history")
    p.add_argument("--json", action="store_true", help="one JSON object with every record")
    p.add_argument("--limit", type=_count, default=0, help="show only the last N rows of each table (0: all)")
    p.add_argument(
        "--at", type=_moment, help="only what served production at this scenario time (release, model)"
    )
    p.set_defaults(handler=_history)


# -- workspace ----------------------------------------------------------------------------
def _workspace_list(args: argparse.Namespace, store: Store) -> int:
    frame = args.history.list_workspaces()
    if args.json:
        print_json(json.loads(frame.to_json(orient="records", date_format="iso")))
    else:
        print_table(frame, empty=f"no workspaces yet in {args.history.path}")
    return 0


def _workspace_reset(args: argparse.Namespace, store: Store) -> int:
    name = check_workspace_name(args.name)
    store = args.history.store(name)
    if store.workspace_info(name) is None:
        raise OpsLabError(f"Workspace {name!r} does not exist in {args.history.path}; nothing to reset.")
    args.history.check_writable(name)
    store.reset_workspace(name)
    print(f"workspace {name} is now empty")
    return 0


def _workspace_delete(args: argparse.Namespace, store: Store) -> int:
    name = check_workspace_name(args.name)
    if args.history.store(name).workspace_info(name) is None:
        raise OpsLabError(f"Workspace {name!r} does not exist in {args.history.path}; nothing to delete.")
    args.history.check_writable(name)
    args.history.delete_workspace(name)
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


def register(sub: argparse._SubParsersAction) -> None:
    """`opslab history`, then `opslab workspace ...`."""
    _add_history(sub)
    _add_workspace(sub)
