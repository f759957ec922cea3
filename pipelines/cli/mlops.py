"""`opslab mlops ...`: one pipeline run, and monitoring a batch against the champion.

The MLOps modules load scipy and scikit-learn; they are imported inside the handlers and the
actions' builders, so `opslab mlops --help` stays quick.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.cli.support import (
    LazyActions,
    ProgressPrinter,
    print_json,
    print_table,
    run_summary,
    step_progress,
)
from pipelines.errors import OpsLabError
from pipelines.paths import data_dir
from pipelines.runner import RunResult
from pipelines.store import Store
from pipelines.store import records as rec

if TYPE_CHECKING:
    from pipelines.mlops.sources import Dataset

__all__ = ["add_data_options", "dataset_from_args", "register"]


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
    from pipelines.mlops.sources import load_dataset

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
    from pipelines.mlops.pipeline import MLOpsSettings, check_mlops_run, run_mlops_pipeline

    settings = MLOpsSettings(window_weeks=args.window_weeks, gate_margin=args.gate_margin, seed=args.seed)
    dataset = dataset_from_args(args, store)
    times = dataset.frame[dataset.time_column]
    as_of = pd.Timestamp(args.as_of) if args.as_of else times.max()
    args.history.check_writable(args.workspace)
    check_mlops_run(store, args.workspace, dataset, as_of=as_of, settings=settings)  # before any write
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


def _add_run(run: argparse.ArgumentParser) -> None:
    from pipelines.mlops.pipeline import TRIGGERS

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


# -- `opslab mlops monitor` ------------------------------------------------------------------
def _monitor(args: argparse.Namespace, store: Store) -> int:
    from pipelines.mlops.monitoring import ModelCache, drift_rows, monitor_batch, realized_quality
    from pipelines.mlops.sources import DataSourceError, window
    from pipelines.mlops.training import PRIMARY_METRIC

    dataset = dataset_from_args(args, store)
    version = rec.alias_version(store, args.workspace, "champion") if store.exists() else None
    if version is None:
        raise OpsLabError(
            f"Workspace {args.workspace!r} has no champion model to monitor yet: run `opslab mlops run` first."
        )
    try:
        batch = window(dataset, args.as_of, args.batch_weeks, min_rows=1)
    except DataSourceError as exc:
        raise OpsLabError(str(exc)) from exc
    args.history.check_writable(args.workspace)  # it records the batch's drift
    cache = ModelCache(store, args.workspace, dataset, batch_weeks=float(args.batch_weeks))
    handle = cache.get(version)
    report = monitor_batch(handle, dataset, batch)
    quality = realized_quality(handle, dataset, batch)
    first = cache.get(1) if version != 1 else handle
    never = realized_quality(first, dataset, batch)
    sim_time = pd.Timestamp(args.as_of)
    rec.record_drift(
        store, drift_rows(report, workspace=args.workspace, week=None, sim_time=sim_time, version=version)
    )
    metric = PRIMARY_METRIC[dataset.task]
    summary = {
        "as_of": sim_time.isoformat(),
        "rows": len(batch),
        "model_version": version,
        "dataset_drift": report.dataset_drift,
        "drift_share": report.drift_share,
        f"quality_{metric}": quality,
        f"estimated_{metric}": report.quality_estimated,  # from the inputs alone, as before labels
        f"never_retrained_{metric}": never,
        "drift": report.drift.drop(
            columns=[c for c in report.drift.columns if c.startswith("n_missing")]
        ).to_dict("records"),
    }
    if args.json:
        print_json(summary)
        return 0
    print(
        f"batch of {len(batch)} rows to {sim_time.date()} against champion v{version}: "
        f"{'DATASET DRIFT' if report.dataset_drift else 'no dataset drift'} "
        f"({report.drift_share:.0%} of features drifted)"
    )
    if report.quality_estimated is not None:
        print(f"{metric} estimated from the inputs alone: {report.quality_estimated:.4g}")
    if quality is not None:
        print(f"{metric}: champion {quality:.4g}, never-retrained v1 {never:.4g}")
    print_table(report.drift, ["feature", "test", "statistic", "threshold", "drifted", "psi", "psi_band"])
    return 0


def _add_monitor(mon: argparse.ArgumentParser) -> None:
    add_data_options(mon)
    mon.add_argument("--as-of", type=_parse_as_of, required=True, help="end of the batch (e.g. 2012-06-01)")
    mon.add_argument("--batch-weeks", type=float, default=1, help="batch length in weeks (default 1)")
    mon.add_argument("--json", action="store_true")
    mon.set_defaults(handler=_monitor)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mlops", help="train, evaluate, register and deploy models; monitor drift")
    msub = p.add_subparsers(dest="action", required=True, metavar="ACTION", action=LazyActions)
    msub.add_parser(
        "run",
        help="run the MLOps pipeline once: ingest → validate → train → evaluate → register → deploy",
        build=_add_run,
    )
    msub.add_parser(
        "monitor", help="drift and quality of a batch against the champion model", build=_add_monitor
    )
