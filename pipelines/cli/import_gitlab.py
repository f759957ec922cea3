"""`opslab import gitlab LOCATION`: pipelines, jobs, deployments and incident issues from GitLab."""

from __future__ import annotations

import argparse

from pipelines.cli.support import add_cicd_import_options, print_summary
from pipelines.store import Store

__all__ = ["register"]


def _import(args: argparse.Namespace, store: Store) -> int:
    from pipelines.importers.gitlab import import_gitlab

    summary = import_gitlab(
        store,
        args.workspace,
        args.location,
        environment=args.environment,
        incident_label=args.incident_label,
        branch=args.branch,
        api_url=args.api_url,
        jobs_limit=args.jobs_limit,
    )
    print_summary(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gitlab",
        help="GitLab pipelines, jobs, deployments and incident issues (saved pages or live)",
        description="Import GitLab pipelines (with their jobs), deployments and incident issues: from a "
        "folder of saved REST API pages, or live from GROUP/PROJECT (or the project's URL) with a token in "
        "$GITLAB_TOKEN (read from the environment, never stored). Re-running adds only what is new.",
    )
    p.add_argument("location", help="a folder (or file) of saved API pages, or GROUP/PROJECT or its URL")
    add_cicd_import_options(p, runs="pipelines")
    p.add_argument(
        "--api-url", default=None, help="the instance (default: the project URL's, else gitlab.com)"
    )
    p.set_defaults(handler=_import)
