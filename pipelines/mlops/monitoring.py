"""Monitoring a batch against the model that serves it: feature drift, prediction drift, quality.

Monitoring compares many small batches with one reference, so each model version's reference
(the data it learnt from, and its predictions on that data) is profiled once, pickled beside the
model file, and reused for every batch: a weekly batch then costs a few milliseconds.

Two methods (`ScenarioSettings.drift_method`). `calibrated` (the default) learns each column's
threshold from the weeks of the model's training window (`pipelines.drift`), and the batch shows
dataset drift when at least `share` of the counted features drift or when the model's predictions
drift: the prediction weighs every input by what the model makes of it, so one important feature
that moves (temperature) is dataset drift even though it is not half of the features. When the
batch's labels arrive, their drift against the training labels is recorded too (feature `target`)
and counts as that week's dataset drift: prior drift (demand up by half) moves no input and no
prediction, only the labels show it. `evidently` is Evidently's fixed rule, share only, as it was.
"""

from __future__ import annotations

import concurrent.futures
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.drift import CALIBRATION_K, ReferenceProfile, drift_verdict, result_table
from pipelines.mlops.estimation import QualityEstimator, fit_estimator, predict_and_estimate
from pipelines.mlops.sources import Dataset, DataSourceError
from pipelines.mlops.training import PRIMARY_METRIC, evaluate_model, load_model, predict, split_holdout
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = [
    "PREDICTION",
    "TARGET",
    "BatchReport",
    "ModelCache",
    "ModelHandle",
    "drift_rows",
    "monitor_batch",
    "monitor_labels",
    "realized_quality",
    "what_users_got",
]

PREDICTION = "prediction"  # the drift row of the model's output (prediction drift)
TARGET = "target"  # the drift row of the labels, once they arrive (prior drift)


@dataclass
class ModelHandle:
    version: int
    path: Path
    model: Any
    features: ReferenceProfile
    predictions: ReferenceProfile
    target: ReferenceProfile | None  # the labels' distribution, for drift of the target (prior drift)
    baseline: float | None  # holdout value of the primary metric when it was trained
    window_end: pd.Timestamp | None
    estimator: QualityEstimator | None = None  # its quality on unlabelled batches (None: too little data)


@dataclass
class BatchReport:
    drift: pd.DataFrame  # one row per feature, then the prediction row
    drift_share: float
    dataset_drift: bool
    predictions: np.ndarray
    prediction_drift: bool = False
    quality_estimated: float | None = None  # the primary metric expected before labels arrive


class ModelCache:
    """Models and their reference profiles by version, loaded once per process."""

    def __init__(
        self,
        store: Store,
        workspace: str,
        dataset: Dataset,
        *,
        method: str = "calibrated",
        k: float = CALIBRATION_K,
        batch_weeks: float = 1.0,
        holdout_fraction: float = 0.2,
        seed: int = 7,
    ) -> None:
        self.store, self.workspace, self.dataset = store, workspace, dataset
        self.method, self.k = method, k
        # The training pipeline's holdout (the estimator's reference) and the seed of its error model.
        self.holdout_fraction, self.seed = holdout_fraction, seed
        self.batch_weeks = batch_weeks  # calibrated: the reference's chunks are the monitored batches' length
        self._handles: dict[int, ModelHandle] = {}
        self._loading: dict[int, concurrent.futures.Future[ModelHandle]] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def get(self, version: int) -> ModelHandle:
        if version not in self._handles:
            loading = self._loading.pop(version, None)
            self._handles[version] = loading.result() if loading is not None else self._load(version)
        return self._handles[version]

    def prefetch(self, version: int) -> None:
        """Start loading `version` (its profiles and quality estimator, fitted on first use) on a
        thread of its own, so that `get` finds it ready: a new champion's is needed the week after it
        is installed, and the scenario has waiting to do before that. The same work as `get`'s."""
        if version in self._handles or version in self._loading:
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="opslab-model-load")
        self._loading[version] = self._pool.submit(self._load, version)

    def _load(self, version: int) -> ModelHandle:
        row = rec.model_version(self.store, self.workspace, version)
        if row is None:
            raise DataSourceError(f"model version {version} is not in the registry of {self.workspace!r}")
        path = Path(row["path"])
        model = load_model(path)
        # One profile file per method and k: the same model monitored another way is profiled anew.
        kind = "evidently" if self.method == "evidently" else f"calibrated-k{self.k:g}"
        if self.method != "evidently" and self.batch_weeks != 1:
            kind += f"-w{self.batch_weeks:g}"
        profile_path = path.with_suffix(f".profile-{kind}.pkl")
        if profile_path.exists():
            with open(profile_path, "rb") as handle:
                features, predictions, target = pickle.load(handle)
        else:
            features, predictions, target = self._profile(model, row)
            tmp = profile_path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                pickle.dump((features, predictions, target), handle, protocol=5)
            tmp.replace(profile_path)
        metric = PRIMARY_METRIC[self.dataset.task]
        baseline = row["metrics"].get(metric)
        end = pd.Timestamp(row["window_end"]) if row["window_end"] is not None else None
        estimator = self._estimator(model, row, path)
        return ModelHandle(version, path, model, features, predictions, target, baseline, end, estimator)

    def _estimator(self, model: Any, row: dict[str, Any], path: Path) -> QualityEstimator | None:
        """The model's quality estimator, fitted once on its holdout and pickled beside it."""
        estimator_path = path.with_suffix(f".estimator-h{self.holdout_fraction:g}-s{self.seed}.pkl")
        if estimator_path.exists():
            with open(estimator_path, "rb") as handle:
                return pickle.load(handle)
        ds = self.dataset
        times = ds.frame[ds.time_column]
        window = ds.frame.loc[
            (times >= pd.Timestamp(row["window_start"])) & (times <= pd.Timestamp(row["window_end"]))
        ]
        labelled = window.loc[window[ds.target].notna()]
        estimator = None
        if len(labelled) > 1:
            _, holdout = split_holdout(labelled, ds.time_column, self.holdout_fraction)
            estimator = fit_estimator(
                model, holdout, task=ds.task, target=ds.target, metric=PRIMARY_METRIC[ds.task], seed=self.seed
            )
        tmp = estimator_path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            pickle.dump(estimator, handle, protocol=5)
        tmp.replace(estimator_path)
        return estimator

    def _profile(
        self, model: Any, row: dict[str, Any]
    ) -> tuple[ReferenceProfile, ReferenceProfile, ReferenceProfile | None]:
        """Profiles of the model's training window: its features, its predictions and its labels.
        Calibrated thresholds learn from chunks of the window the size of a monitored batch (a week)."""
        ds = self.dataset
        start = pd.Timestamp(row["window_start"])
        times = ds.frame[ds.time_column]
        reference = ds.frame.loc[(times >= start) & (times <= pd.Timestamp(row["window_end"]))]
        chunks = None
        if self.method != "evidently":
            chunks = ((reference[ds.time_column] - start) // pd.Timedelta(weeks=self.batch_weeks)).to_numpy()
        options: dict[str, Any] = {"chunks": chunks, "k": self.k}
        features = ReferenceProfile.from_frame(
            reference, columns=list(ds.features), categorical=list(ds.categorical), **options
        )
        predictions = ReferenceProfile.from_frame(
            pd.DataFrame({PREDICTION: predict(model, reference)}), columns=[PREDICTION], **options
        )
        labels = reference[[ds.target]]
        target = None
        if labels[ds.target].notna().any():
            categorical = [ds.target] if ds.task == "classification" else None
            target = ReferenceProfile.from_frame(labels, categorical=categorical, **options)
        return features, predictions, target


def monitor_batch(
    handle: ModelHandle,
    dataset: Dataset,
    batch: pd.DataFrame,
    share: float = 0.5,
    *,
    share_columns: list[str] | None = None,
    distance_threshold: float | None = None,
) -> BatchReport:
    """Drift of `batch` against the model's reference; dataset drift when `share` of features drift;
    and the model's quality on it estimated from the inputs (`BatchReport.quality_estimated`).

    `share_columns` are the features the dataset-drift share counts (all by default; the scenario
    leaves out calendar columns, which drift against any fixed window by construction).
    `distance_threshold` replaces the rule's 0.1 for the distance tests (a what-if knob).
    """
    overrides = None
    if distance_threshold is not None:
        overrides = {
            name: distance_threshold
            for name, column in handle.features.columns.items()
            if column.test in ("wasserstein", "jensenshannon")
        }
    # Rows, not tables, until the end: one table for the features and the prediction is cheaper
    # than a table each and their concatenation (a weekly batch costs a few milliseconds in all).
    features = handle.features.compare_rows(batch, threshold_overrides=overrides)
    counted = [row for row in features if row["feature"] in share_columns] if share_columns else features
    drifted, drift_share = drift_verdict([row["drifted"] for row in counted], share)
    predictions, estimated = predict_and_estimate(handle.model, handle.estimator, batch)
    prediction_row = handle.predictions.compare_rows(
        pd.DataFrame({PREDICTION: predictions}),
        threshold_overrides={PREDICTION: distance_threshold} if distance_threshold is not None else None,
    )
    prediction_drift = bool(prediction_row[0]["drifted"])
    # Calibrated: the model's output weighs every input by what the model makes of it, so one
    # important feature that moves (temperature) is dataset drift even when it is not half of them.
    if handle.features.method == "calibrated" and prediction_drift:
        drifted = True
    table = result_table(features + prediction_row)
    return BatchReport(table, drift_share, drifted, predictions, prediction_drift, estimated)


def monitor_labels(handle: ModelHandle, dataset: Dataset, labelled: pd.DataFrame) -> pd.DataFrame | None:
    """Drift of a batch's labels against the labels the model learnt from: one row, feature
    ``target``. Prior drift (demand up by half) moves no input and no prediction: only the labels,
    a label delay after the batch was served, show it. None when nothing is labelled."""
    labels = labelled[dataset.target]
    if handle.target is None or labels.notna().sum() == 0:
        return None
    table = handle.target.compare(labelled[[dataset.target]])
    return table.assign(feature=TARGET)


def realized_quality(handle: ModelHandle, dataset: Dataset, labelled: pd.DataFrame) -> float | None:
    """The primary metric of the model on a batch whose labels have arrived."""
    labelled = labelled.loc[labelled[dataset.target].notna()]
    if labelled.empty:
        return None
    metrics = evaluate_model(handle.model, labelled, task=dataset.task, target=dataset.target)
    return metrics.get(PRIMARY_METRIC[dataset.task])


NO_ANSWER = "no answer"  # a classification request the service failed: a class no label equals


def what_users_got(task: str, predictions: np.ndarray, failed: np.ndarray | None) -> np.ndarray:
    """The model's `predictions` as the users got them: rows whose request the service failed
    (`failed`, per row) count as failures, not as missing.

    Classification: the user got no class, so the row is wrong. Regression: the user got no
    forecast, which is a forecast of 0 (no bikes planned for): its error is the whole demand. A week
    with service errors so scores worse than the same week without, by how much the users lost.
    """
    if failed is None or not np.any(failed):
        return predictions
    if len(failed) != len(predictions):
        raise ValueError(f"{len(failed)} failure flags for {len(predictions)} predictions")
    mask = np.asarray(failed, dtype=bool)
    if task == "regression":
        got = np.asarray(predictions, dtype=np.float64).copy()
        got[mask] = 0.0
        return got
    got = np.asarray(predictions, dtype=object).copy()
    got[mask] = NO_ANSWER
    return got


def drift_rows(
    report: BatchReport,
    *,
    workspace: str,
    week: int | None,
    sim_time: pd.Timestamp,
    version: int,
    run_id: str | None = None,
) -> pd.DataFrame:
    """The drift table in the store's shape."""
    table = report.drift
    return pd.DataFrame(
        {
            "workspace": workspace,
            "week": week,
            "sim_time": pd.Timestamp(sim_time),
            "run_id": run_id,
            "model_version": version,
            "feature": table["feature"].astype(str),
            "test": table["test"],
            "statistic": table["statistic"],
            "threshold": table["threshold"],
            "drifted": table["drifted"],
            "p_value": table["p_value"],
            "psi": table["psi"],
            "reason": table["reason"],
            "n_reference": table["n_reference"],
            "n_current": table["n_current"],
        }
    )
