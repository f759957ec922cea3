"""The MLOps pipeline: ingest → validate → train → evaluate → register → deploy.

Each step is a small function of the run context; `mlops_steps` is the declarative wiring and
`run_mlops_pipeline` hands it to the runner, which records everything.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.mlops.registry import (
    ModelRegistry,
    NewVersion,
    StoreRegistry,
    install_production_model,
    production_model_path,
)
from pipelines.mlops.sources import Dataset, DataSourceError, fingerprint, window
from pipelines.mlops.training import (
    PRIMARY_METRIC,
    ModelSettings,
    evaluate_model,
    load_model,
    save_model,
    split_holdout,
    train_model,
)
from pipelines.mlops.validation import validate_frame
from pipelines.quality import metric_named
from pipelines.runner import (
    Artifact,
    ProgressCallback,
    RunResult,
    Step,
    StepContext,
    StepFailed,
    StepOutcome,
    StepSkipped,
    file_sha256,
    run_steps,
)
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = [
    "STEP_NAMES",
    "TRIGGERS",
    "MLOpsSettings",
    "check_mlops_run",
    "gate_decision",
    "install_production_model",
    "mlops_steps",
    "production_model_path",
    "run_mlops_pipeline",
    "settings_hash",
]

STEP_NAMES = ("ingest", "validate", "train", "evaluate", "register", "deploy")
# Why a run happens. `initial` is a workspace's first model: training, not retraining, so the
# retraining keys leave it out; the others are a person (`manual`) or the retraining policy.
TRIGGERS = ("initial", "manual", "schedule", "drift", "performance", "estimated")


@dataclass(frozen=True)
class MLOpsSettings:
    """Knobs of one training run; their hash is recorded with every model version."""

    window_weeks: float = 8
    holdout_fraction: float = 0.2
    # The challenger is promoted when it beats the champion's primary metric by this relative margin.
    gate_margin: float = 0.02
    min_rows: int = 100
    seed: int = 7
    model: ModelSettings = field(default_factory=ModelSettings)

    def __post_init__(self) -> None:
        if not (self.window_weeks > 0 and math.isfinite(self.window_weeks)):  # NaN is neither <= 0 nor > 0
            raise ValueError(f"window weeks must be positive, not {self.window_weeks}")
        if not 0 <= self.gate_margin < 1:
            raise ValueError(f"gate margin must be in [0, 1), not {self.gate_margin}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout fraction must be between 0 and 1, not {self.holdout_fraction}")
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be at least 1, not {self.min_rows}")


def settings_hash(settings: MLOpsSettings) -> str:
    return hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode()).hexdigest()[:16]


def gate_decision(
    metric: str, challenger: float | None, champion: float | None, margin: float
) -> tuple[bool, str]:
    """Promote the challenger only when it beats the champion by `margin` (relative) on `metric`."""
    if challenger is None:
        return False, f"the challenger has no {metric} on the holdout"
    if champion is None:
        return True, f"no champion yet: the first model becomes champion ({metric} {challenger:.4g})"
    judged = metric_named(metric)
    better = judged.beats(challenger, champion, margin)
    verdict = "promote" if better else "keep the champion"
    return better, (
        f"{verdict}: challenger {metric} {challenger:.4g} vs champion {champion:.4g} "
        f"(needs {judged.relation} {judged.target(champion, margin):.4g}, margin {margin:.0%})"
    )


# -- steps ----------------------------------------------------------------------------------------
def ingest_window(ctx: StepContext) -> StepOutcome:
    dataset: Dataset = ctx.params["dataset"]
    settings: MLOpsSettings = ctx.params["settings"]
    try:
        frame = window(dataset, ctx.params["as_of"], settings.window_weeks, min_rows=settings.min_rows)
    except DataSourceError as exc:
        raise StepFailed(str(exc)) from exc
    times = frame[dataset.time_column]
    digest = fingerprint(frame)
    metrics = {
        "rows": len(frame),
        "columns": len(frame.columns),
        "window_start": times.min().isoformat(),
        "window_end": times.max().isoformat(),
        "fingerprint": digest,
        "dataset": dataset.name,
    }
    return StepOutcome(
        metrics=metrics,
        outputs={"frame": frame, "fingerprint": digest, "start": times.min(), "end": times.max()},
    )


def validate_window(ctx: StepContext) -> StepOutcome:
    dataset: Dataset = ctx.params["dataset"]
    frame = ctx.output("ingest", "frame")
    reference = ctx.params.get("reference")
    report = validate_frame(frame, dataset_or_schema=dataset, reference=reference)
    metrics = report.to_dict()
    if not report.ok:
        raise StepFailed(
            f"the data is not fit to train on: {report.failures[0].message}"
            + (f" (and {len(report.failures) - 1} more problems)" if len(report.failures) > 1 else ""),
            metrics=metrics,
            log=report.summary(),
        )
    return StepOutcome(metrics=metrics, log=report.summary())


def train_challenger(ctx: StepContext) -> StepOutcome:
    dataset: Dataset = ctx.params["dataset"]
    settings: MLOpsSettings = ctx.params["settings"]
    train, holdout = split_holdout(
        ctx.output("ingest", "frame"), dataset.time_column, settings.holdout_fraction
    )
    if dataset.task == "classification" and train[dataset.target].nunique() < 2:
        raise StepFailed(f"the training part has a single class of {dataset.target}: nothing to learn")
    started = time.perf_counter()
    model = train_model(
        train,
        task=dataset.task,
        target=dataset.target,
        numeric=dataset.numeric,
        categorical=dataset.categorical,
        seed=settings.seed,
        settings=settings.model,
    )
    fit_s = time.perf_counter() - started
    train_metrics = evaluate_model(model, train, task=dataset.task, target=dataset.target)
    path = save_model(model, ctx.workdir / "challenger.pkl", {"dataset": dataset.name, "task": dataset.task})
    metrics = {
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "fit_seconds": round(fit_s, 4),
        **{f"train_{k}": v for k, v in train_metrics.items()},
    }
    return StepOutcome(metrics=metrics, outputs={"model": model, "path": path, "holdout": holdout})


def evaluate_challenger(ctx: StepContext) -> StepOutcome:
    dataset: Dataset = ctx.params["dataset"]
    settings: MLOpsSettings = ctx.params["settings"]
    registry: ModelRegistry = ctx.params["registry"]
    holdout: pd.DataFrame = ctx.output("train", "holdout")
    if holdout.empty:
        raise StepFailed("the holdout is empty: widen the window or lower the holdout fraction")
    metric = PRIMARY_METRIC[dataset.task]
    challenger = evaluate_model(
        ctx.output("train", "model"), holdout, task=dataset.task, target=dataset.target
    )
    current = registry.champion()
    champion_version = current[0] if current is not None else None
    champion: dict[str, float] = {}
    if current is not None and current[1].exists():
        champion = evaluate_model(load_model(current[1]), holdout, task=dataset.task, target=dataset.target)
    promote, reason = gate_decision(
        metric, challenger.get(metric), champion.get(metric), settings.gate_margin
    )
    metrics: dict[str, Any] = {
        **challenger,
        **{f"champion_{k}": v for k, v in champion.items()},
        "champion_version": champion_version,
        "gate_metric": metric,
        "gate_direction": metric_named(metric).direction,
        "gate_margin": settings.gate_margin,
        "gate_decision": "promote" if promote else "keep",
        "gate_reason": reason,
    }
    return StepOutcome(
        metrics=metrics, outputs={"promote": promote, "reason": reason, "metrics": challenger}, log=reason
    )


def register_version(ctx: StepContext) -> StepOutcome:
    dataset: Dataset = ctx.params["dataset"]
    settings: MLOpsSettings = ctx.params["settings"]
    registry: ModelRegistry = ctx.params["registry"]
    version = registry.next_version()
    target = registry.models_dir() / f"v{version}.pkl"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ctx.output("train", "path"), target)
    sha = file_sha256(target)
    model = NewVersion(
        run_id=ctx.run_id,
        path=target,
        sha256=sha,
        metrics=ctx.output("evaluate", "metrics"),
        dataset=dataset.name,
        task=dataset.task,
        window_start=ctx.output("ingest", "start").to_pydatetime(),
        window_end=ctx.output("ingest", "end").to_pydatetime(),
        data_fingerprint=ctx.output("ingest", "fingerprint"),
        settings_hash=settings_hash(settings),
        sim_time=ctx.sim_time,
    )
    promote = bool(ctx.output("evaluate", "promote"))
    registry.register(version, model, promote=promote, reason=ctx.output("evaluate", "reason"))
    return StepOutcome(
        metrics={"version": version, "sha256": sha, "champion": promote},
        outputs={"version": version, "path": target, "sha256": sha},
        artifacts=[Artifact("model", target)],
    )


def deploy_champion(ctx: StepContext) -> StepOutcome:
    registry: ModelRegistry = ctx.params["registry"]
    if not ctx.output("evaluate", "promote"):
        raise StepSkipped(f"not deployed: {ctx.output('evaluate', 'reason')}")
    version = ctx.output("register", "version")
    deployment_id, production = registry.deploy(
        version,
        path=Path(ctx.output("register", "path")),
        sha256=ctx.output("register", "sha256"),
        run_id=ctx.run_id,
        sim_time=ctx.sim_time,
        commit_time=ctx.params.get("data_arrived_at"),
        reason=f"trigger: {ctx.params['trigger']}",
    )
    return StepOutcome(metrics={"version": version, "deployment_id": deployment_id, "path": str(production)})


def mlops_steps() -> list[Step]:
    return [
        Step("ingest", ingest_window),
        Step("validate", validate_window),
        Step("train", train_challenger),
        Step("evaluate", evaluate_challenger),
        Step("register", register_version),
        Step("deploy", deploy_champion),
    ]


def champion_reference(store: Store, workspace: str, dataset: Dataset) -> pd.DataFrame | None:
    """The data the current champion learnt from: the reference for validation and drift."""
    version = rec.alias_version(store, workspace, "champion")
    row = rec.model_version(store, workspace, version) if version is not None else None
    if row is None or row["window_end"] is None:
        return None
    times = dataset.frame[dataset.time_column]
    mask = (times >= pd.Timestamp(row["window_start"])) & (times <= pd.Timestamp(row["window_end"]))
    return dataset.frame.loc[mask]


def check_mlops_run(
    store: Store, workspace: str, dataset: Dataset, *, as_of: object, settings: MLOpsSettings
) -> None:
    """Refuse, before anything is recorded, a run that cannot succeed for reasons its caller gave:
    a window outside the data or too small to train on, or data the workspace's champion cannot be
    scored on (other columns, another task), which would fail at evaluate after writing a run."""
    window(dataset, as_of, settings.window_weeks, min_rows=settings.min_rows)
    current = StoreRegistry(store, workspace).champion() if store.exists() else None
    if current is None:
        return
    version, path = current
    row = rec.model_version(store, workspace, version) or {}
    if row.get("task") and row["task"] != dataset.task:
        raise OpsLabError(
            f"workspace {workspace!r} has a {row['task']} champion (v{version}) but {dataset.name} is a "
            f"{dataset.task} task; use a new workspace for this data (--workspace NAME)."
        )
    names = getattr(load_model(path), "feature_names_in_", None) if path.exists() else None
    missing = [str(n) for n in (names if names is not None else ()) if n not in dataset.frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise OpsLabError(
            f"workspace {workspace!r} has a champion (v{version}) that reads {shown}, which {dataset.name} "
            "lacks, so it could not be compared; use a new workspace for this data (--workspace NAME)."
        )


def run_mlops_pipeline(
    store: Store,
    workspace: str,
    dataset: Dataset,
    *,
    as_of: datetime | pd.Timestamp,
    settings: MLOpsSettings = MLOpsSettings(),
    trigger: str = "manual",
    data_arrived_at: datetime | None = None,
    progress: ProgressCallback | None = None,
    extra_params: Mapping[str, Any] | None = None,
    sim_time: datetime | None = None,
    monitoring: Mapping[str, Any] | None = None,
) -> RunResult:
    """Train a challenger on the window ending at `as_of`, gate it, register it, maybe deploy it.

    `sim_time` is when the run happens on the scenario clock (default `as_of`); it is later than
    `as_of` when labels arrive with a delay: a model can only learn from labelled rows.
    `monitoring` is the drift and retraining settings the run was triggered under (a scenario's),
    recorded with the training settings and the data window as the run's parameters.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    as_of = pd.Timestamp(as_of)
    run_time = pd.Timestamp(sim_time) if sim_time is not None else as_of
    params = {
        "dataset": dataset,
        "settings": settings,
        "as_of": as_of,
        "registry": StoreRegistry(store, workspace),
        "trigger": trigger,
        "reference": champion_reference(store, workspace, dataset),
        "data_arrived_at": data_arrived_at,
        **dict(extra_params or {}),
    }
    result = run_steps(
        store,
        mlops_steps(),
        workspace=workspace,
        kind="mlops",
        trigger=trigger,
        sim_time=run_time.to_pydatetime(),
        params=params,
        config_hash=settings_hash(settings),
        label=f"{dataset.name} window {settings.window_weeks:g} weeks to {as_of.date()}",
        progress=progress,
        recorded_params={
            "dataset": dataset.name,
            "task": dataset.task,
            "as_of": as_of.to_pydatetime(),  # the data window is the `window_weeks` up to this
            "data_arrived_at": data_arrived_at,
            **asdict(settings),
            **dict(monitoring or {}),
        },
    )
    digest = result.outputs.get("ingest", {}).get("fingerprint")
    if digest:
        store.update_run(result.run_id, input_fingerprint=digest)
    return result
