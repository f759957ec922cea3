"""`opslab import mlflow TRACKING_URI`: an MLflow tracking server's runs, model versions and aliases."""

from __future__ import annotations

import argparse
import os

from pipelines.cli.support import add_import_workspace, print_summary
from pipelines.errors import OpsLabError
from pipelines.store import Store

__all__ = ["register"]


def _import(args: argparse.Namespace, store: Store) -> int:
    from pipelines.importers.mlflow import import_mlflow

    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        raise OpsLabError(
            "Say where MLflow keeps its runs: opslab import mlflow TRACKING_URI (e.g. sqlite:///mlflow.db or "
            "http://localhost:5000), or set MLFLOW_TRACKING_URI."
        )
    summary = import_mlflow(
        store,
        args.workspace,
        tracking_uri,
        model=args.model,
        experiments=args.experiment,
        production_alias=args.production_alias,
        registry_uri=args.registry_uri,
        full=args.full,
    )
    print_summary(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from pipelines.importers.mlflow import (
        DEFAULT_PRODUCTION_ALIAS,
    )  # light: MLflow itself loads in the handler

    parser = sub.add_parser(
        "mlflow",
        help="runs, registered model versions and aliases from an MLflow tracking server",
        description="Import an MLflow tracking server's runs (params, metrics, git commit, dataset inputs), "
        "one registered model's versions and where its aliases point. MLflow keeps no alias history: each "
        "import records the moves since the last one, so import regularly.",
    )
    parser.add_argument(
        "tracking_uri", nargs="?", metavar="TRACKING_URI",
        help="sqlite:///mlflow.db, http://host:5000, databricks, ... (default: $MLFLOW_TRACKING_URI)",
    )  # fmt: skip
    parser.add_argument("--model", help="the registered model the workspace follows (default: the only one)")
    parser.add_argument(
        "--experiment",
        action="append",
        metavar="NAME",
        help="import only this experiment's runs (repeatable)",
    )
    parser.add_argument(
        "--production-alias", default=DEFAULT_PRODUCTION_ALIAS,
        help=f"the alias production serves: its moves are model deployments (default: {DEFAULT_PRODUCTION_ALIAS})",
    )  # fmt: skip
    parser.add_argument("--registry-uri", help="the model registry, when not at the tracking URI")
    parser.add_argument(
        "--full", action="store_true",
        help="read every run again, not only those started since the last import (catches tags or metrics "
        "added to finished runs)",
    )  # fmt: skip
    add_import_workspace(parser)
    parser.set_defaults(handler=_import)
