"""`opslab import github LOCATION`: workflow runs, deployments and incident issues from GitHub."""

from __future__ import annotations

import argparse
from datetime import datetime

from pipelines.cli.support import add_cicd_import_options, print_summary
from pipelines.store import Store

__all__ = ["register"]


def _since(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give a date like 2026-01-31, not {text!r}") from None


def _import(args: argparse.Namespace, store: Store) -> int:
    from pipelines.importers.github import import_github

    summary = import_github(
        store,
        args.workspace,
        args.location,
        environment=args.environment,
        incident_label=args.incident_label,
        branch=args.branch,
        api_url=args.api_url,
        since=args.since,
        jobs_limit=args.jobs_limit,
    )
    print_summary(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "github",
        help="GitHub Actions runs, deployments and incident issues (saved pages or live)",
        description="Import GitHub workflow runs (with jobs and steps), deployments (with statuses) and "
        "issues labelled as incidents: from a folder of pages saved with `gh api --paginate`, or live from "
        "OWNER/REPO with a token in $GITHUB_TOKEN (read from the environment, never stored). Re-running "
        "adds only what is new.",
    )
    p.add_argument("location", help="a folder (or file) of saved `gh api` pages, or OWNER/REPO to read live")
    add_cicd_import_options(p, runs="runs")
    p.add_argument("--api-url", default="https://api.github.com", help="the API (GitHub Enterprise: its URL)")
    p.add_argument(
        "--since", type=_since, default=None, help="a first live import starts here (default: all)"
    )
    p.set_defaults(handler=_import)
