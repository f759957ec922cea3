"""`opslab mlops ...` and `opslab datasets ...`."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from pipelines.cli_support import ProgressPrinter, print_json, print_table, step_progress
from pipelines.errors import OpsLabError
from pipelines.mlops.pipeline import TRIGGERS, MLOpsSettings, run_mlops_pipeline
from pipelines.mlops.sources import Dataset, DataSourceError, fetch_dataset, list_datasets, load_dataset
from pipelines.paths import data_dir
from pipelines.runner import RunResult
from pipelines.store import Store

__all__ = ["add_data_options", "add_datasets", "add_mlops", "dataset_from_args", "run_summary"]


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        default="simulated",
        help="a named source (simulated, bike-sharing) or a .csv/.parquet path (default: simulated)",
    )
    group.add_argument("--time-column", help="time column of a CSV/Parquet file")
    group.add_argument("--target", help="target column of a CSV/Parquet file")
    group.add_argument(
        "--task",
        choices=("regression", "classification"),
        help="inferred when not given: a non-numeric or few-valued target is classification",
    )
    group.add_argument("--categorical", help="comma-separated columns to treat as categorical")
    group.add_argument("--numeric", help="comma-separated columns to treat as numeric")
    group.add_argument("--seed", type=int, default=7, help="seed of the simulator and the model (default 7)")


def _columns(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def dataset_from_args(args: argparse.Namespace, store: Store | None = None) -> Dataset:
    from pipelines.mlops.simulator import SimulatorSettings

    if args.data == "workspace":  # the data the workspace's scenario played
        from pipelines.scenario.engine import load_scenario_data
        from pipelines.scenario.settings import from_dict

        info = store.workspace_info(args.workspace) if store is not None and store.exists() else None
        if not info or not info.get("settings"):
            raise OpsLabError(
                f"Workspace {args.workspace!r} has no scenario, so --data workspace has nothing to use."
            )
        return load_scenario_data(from_dict(info["settings"]))[0]
    return load_dataset(
        args.data,
        time_column=args.time_column,
        target=args.target,
        task=args.task,
        categorical=_columns(args.categorical),
        numeric=_columns(args.numeric),
        data_dir=data_dir(),
        simulator=SimulatorSettings(seed=args.seed),
    )


def run_summary(result: RunResult) -> dict[str, Any]:
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


def _print_run(result: RunResult) -> None:
    frame = pd.DataFrame(
        [
            {"step": s.name, "status": s.status, "ms": round(s.duration_ms or 0), "note": s.error or ""}
            for s in result.steps
        ]
    )
    print(f"run {result.run_id}: {result.status}")
    print_table(frame)


def _mlops_run(args: argparse.Namespace, store: Store) -> int:
    dataset = dataset_from_args(args, store)
    times = dataset.frame[dataset.time_column]
    as_of = pd.Timestamp(args.as_of) if args.as_of else times.max()
    settings = MLOpsSettings(window_weeks=args.window_weeks, gate_margin=args.gate_margin, seed=args.seed)
    bar = ProgressPrinter()
    try:
        result = run_mlops_pipeline(
            store,
            args.workspace,
            dataset,
            as_of=as_of,
            settings=settings,
            trigger=args.trigger,
            progress=step_progress(bar),
        )
    finally:
        bar.close()
    if args.json:
        print_json(run_summary(result))
    else:
        _print_run(result)
        evaluate = next((s for s in result.steps if s.name == "evaluate" and s.status == "succeeded"), None)
        if evaluate is not None:
            print(f"gate: {evaluate.metrics.get('gate_reason')}")
    return 0 if result.ok else 1


def _parse_as_of(text: str) -> str:
    try:
        pd.Timestamp(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use e.g. 2012-06-01)") from None
    return text


def add_mlops(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mlops", help="train, evaluate, register and deploy models; monitor drift")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = msub.add_parser(
        "run", help="run the MLOps pipeline once: ingest → validate → train → evaluate → register → deploy"
    )
    add_data_options(run)
    run.add_argument(
        "--as-of", type=_parse_as_of, help="end of the training window (default: the data's last time)"
    )
    run.add_argument("--window-weeks", type=float, default=8, help="training window length (default 8)")
    run.add_argument(
        "--gate-margin",
        type=float,
        default=0.02,
        help="relative improvement the challenger needs over the champion (default 0.02)",
    )
    run.add_argument("--trigger", choices=TRIGGERS, default="manual", help="why this run happens (recorded)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_mlops_run)
    from pipelines.mlops.monitoring import add_monitor_command

    add_monitor_command(msub)


# -- datasets --------------------------------------------------------------------------------
def _datasets_list(args: argparse.Namespace, store: Store) -> int:
    rows = list_datasets(data_dir())
    if args.json:
        print_json(rows)
    else:
        print_table(pd.DataFrame(rows))
    return 0


def _datasets_fetch(args: argparse.Namespace, store: Store) -> int:
    target = data_dir()
    print(f"downloading {args.name} into {target} ...")
    try:
        path = fetch_dataset(args.name, target)
    except DataSourceError as exc:
        raise OpsLabError(str(exc)) from exc
    print(f"saved {path} (sha256 verified)")
    return 0


def add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the data sources, fetch public datasets")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = dsub.add_parser("list", help="named sources and whether each is available here")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_datasets_list)
    fetch = dsub.add_parser("fetch", help="download a public dataset (needs internet) and verify its sha256")
    fetch.add_argument("name", help="dataset name, e.g. bike-sharing")
    fetch.set_defaults(handler=_datasets_fetch)
