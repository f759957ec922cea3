"""`opslab report -o FILE.html [--pdf FILE.pdf]`: the workspace's story as a file to leave behind.

The report is built by `dashboard/report.py` from the dashboard's figure builders (plain plotly, no
Streamlit), imported inside the handler so the rest of the CLI never loads plotly for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.errors import OpsLabError
from pipelines.store import Store

__all__ = ["register"]


def _report(args: argparse.Namespace, store: Store) -> int:
    from dashboard.report import build_report, print_pdf

    if not args.history.exists() or store.workspace_info(args.workspace) is None:
        raise OpsLabError(
            f"Workspace {args.workspace!r} has no history in {args.history.path}: play a scenario first "
            f"(`opslab --workspace {args.workspace} scenario run full-story`)."
        )
    out = Path(args.output)
    if out.is_dir():
        raise OpsLabError(f"{out} is a folder: give -o a file name, e.g. {out / 'story.html'}.")
    if out.parent and not out.parent.exists():
        raise OpsLabError(f"The folder {out.parent} does not exist: create it or pick another -o path.")
    text = build_report(store, args.workspace)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, self-contained: opens offline)", file=sys.stderr)
    if args.pdf:
        print_pdf(out, Path(args.pdf))
        print(f"wrote {args.pdf}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """`opslab report -o FILE.html [--pdf FILE.pdf]`."""
    p = sub.add_parser(
        "report",
        help="write the workspace's story as one self-contained HTML file (and optionally a PDF)",
        description="One HTML file that opens offline: the story in words, the Timeline, DORA's keys beside "
        "their ML mirrors, what retraining bought, incidents and rollbacks, and the drift summary.",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE.html", help="where to write the HTML report"
    )
    p.add_argument(
        "--pdf",
        metavar="FILE.pdf",
        help="also print it to PDF through headless Chromium (needs Playwright: `pip install playwright`)",
    )
    p.set_defaults(handler=_report)
