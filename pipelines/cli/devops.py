"""`opslab devops ...`: the scripted changes and a pipeline run on the workspace repository.

The pipeline's modules load scipy; they are imported inside the handler so `--help` stays quick.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pandas as pd

from pipelines.cli.support import ProgressPrinter, print_json, print_table, run_summary, step_progress
from pipelines.devops.changes import get_change, list_changes
from pipelines.devops.repo import applied_changes, head
from pipelines.devops.workflow import commit_change, ensure_repo
from pipelines.errors import OpsLabError
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = ["register"]

# On the scenario clock a pipeline run takes this long after its commit (queue, review, merge).
CLI_PIPELINE_DELAY = timedelta(hours=1)


def _changes(args: argparse.Namespace, store: Store) -> int:
    rows = [
        {"id": c.id, "kind": c.kind, "message": c.message, "requires": list(c.requires)}
        for c in list_changes()
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(pd.DataFrame(rows))
    return 0


def _now(store: Store, workspace: str) -> datetime:
    latest = rec.latest_sim_time(store, workspace) if store.exists() else None
    if latest is not None:
        return latest + timedelta(hours=1)
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"the port must be a number from 0 (a free one) to 65535, not {text!r}"
        )
    return value


def _run(args: argparse.Namespace, store: Store) -> int:
    from pipelines.devops.pipeline import DevOpsSettings, run_devops_pipeline
    from pipelines.devops.production import Production

    settings = DevOpsSettings(test_timeout_s=args.test_timeout)
    change = get_change(args.change) if args.change else None  # a bad name writes nothing
    args.history.check_writable(args.workspace)
    when = _now(store, args.workspace)
    store.ensure_workspace(args.workspace)
    repo = ensure_repo(store, args.workspace, when)
    label = "HEAD"
    if change is not None:
        missing = [c for c in change.requires if c not in applied_changes(repo)]
        if missing:
            raise OpsLabError(
                f"change {change.id!r} needs {', '.join(map(repr, missing))} committed first: "
                f"run `opslab devops run --change {missing[0]}`."
            )
        if change.id in applied_changes(repo):
            raise OpsLabError(f"change {change.id!r} is already committed in this workspace.")
        commit_change(store, args.workspace, repo, change, when)
        label = f"{change.kind}: {change.message}"
    production = Production(
        store,
        args.workspace,
        error_rate_alarm=settings.error_rate_alarm,
        latency_p95_alarm_ms=settings.latency_p95_alarm_ms,
    )
    bar = ProgressPrinter()
    try:
        result = run_devops_pipeline(
            store,
            args.workspace,
            production,
            repo=repo,
            commit=head(repo),
            sim_time=when + CLI_PIPELINE_DELAY,
            settings=settings,
            trigger="commit" if args.change else "manual",
            label=label,
            progress=step_progress(bar),
            extra_params={"port": args.port},
            changes=[change.id] if change is not None else [],
        )
    finally:
        bar.close()
        production.close()  # a CLI run does not leave a server behind; the release is recorded
    if args.json:
        print_json(run_summary(result))
    else:
        print(f"run {result.run_id}: {result.status} ({label})")
        print_table(
            pd.DataFrame(
                [
                    {
                        "step": s.name,
                        "status": s.status,
                        "ms": round(s.duration_ms or 0),
                        "note": s.error or "",
                    }
                    for s in result.steps
                ]
            )
        )
    return 0 if result.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devops", help="the service's changes and its checkout → build → test → deploy pipeline"
    )
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    changes = dsub.add_parser("changes", help="the scripted changes to the service")
    changes.add_argument("--json", action="store_true")
    changes.set_defaults(handler=_changes)
    run = dsub.add_parser("run", help="run the pipeline on HEAD, or commit a scripted change first")
    run.add_argument("--change", help="id of a scripted change to commit first (see `opslab devops changes`)")
    run.add_argument(
        "--port", type=_port, default=0, help="port for the deployed server (default: a free one)"
    )
    run.add_argument("--test-timeout", type=float, default=60, help="time limit of the test step in seconds")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)
