"""`opslab sql "QUERY"`: the History console, headless, in the same sandbox and with the same limits."""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.cli.support import print_json, print_table
from pipelines.errors import OpsLabError
from pipelines.store import Store, StoreError

__all__ = ["register"]

CLI_MAX_ROWS = 1000


def _sql(args: argparse.Namespace, store: Store) -> int:
    from pipelines.store.sandbox import QueryError, run_query

    if not args.history.exists():
        raise StoreError(
            f"There is no run history at {args.history.path} yet: run `opslab scenario run full-story` first."
        )
    if store.workspace_info(args.workspace) is None:
        raise OpsLabError(
            f"Workspace {args.workspace!r} does not exist in {args.history.path}; `opslab workspace list` shows "
            "the ones that do."
        )
    try:
        result = run_query(
            store.path, args.workspace, args.query, timeout_s=args.timeout, max_rows=args.max_rows
        )
    except QueryError as exc:  # DuckDB's parser adds the line and a caret below: the page shows them
        raise QueryError(str(exc).strip().splitlines()[0]) from None
    if args.json:
        rows = json.loads(result.frame.to_json(orient="records", date_format="iso"))
        print_json(
            {"rows": rows, "truncated": result.truncated, "max_rows": result.max_rows, "note": result.note}
        )
        return 0
    print_table(result.frame, empty="(no rows)")
    print(f"{result.note} · {result.elapsed_s:.2f} s · workspace {args.workspace}", file=sys.stderr)
    return 0


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _rows(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """`opslab sql QUERY`."""
    p = sub.add_parser(
        "sql",
        help="one read-only SQL query over the workspace's history (the History console)",
        description="Run one read query over a copy of the workspace's rows only: no other workspace, "
        "no files, no writes, stopped at the time limit, at most --max-rows rows.",
    )
    p.add_argument("query", help='one read statement, e.g. "FROM runs LIMIT 5" (quote it for the shell)')
    p.add_argument("--json", action="store_true", help="one JSON object: rows, truncated, max_rows")
    # SUPPRESS: when absent, the global `opslab --workspace` (or its default) stays.
    p.add_argument("--workspace", default=argparse.SUPPRESS, help="the workspace to read (default: demo)")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        help="seconds before the query is stopped (default: $OPSLAB_CONSOLE_TIMEOUT, else 10)",
    )
    p.add_argument(
        "--max-rows", type=_rows, default=CLI_MAX_ROWS, help=f"rows shown at most (default {CLI_MAX_ROWS})"
    )
    p.set_defaults(handler=_sql)
