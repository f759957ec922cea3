"""Monitoring a batch against the model that serves it: feature drift, prediction drift, quality.

Monitoring compares many small batches with one reference, so each model version's reference
(the data it learnt from, and its predictions on that data) is profiled once, pickled beside the
model file, and reused for every batch: a weekly batch then costs a few milliseconds.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.drift import ReferenceProfile, dataset_drift
from pipelines.mlops.sources import Dataset, DataSourceError
from pipelines.mlops.training import PRIMARY_METRIC, evaluate_model, load_model, predict
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = [
    "PREDICTION",
    "BatchReport",
    "ModelCache",
    "ModelHandle",
    "drift_rows",
    "monitor_batch",
    "realized_quality",
]

PREDICTION = "prediction"  # the drift row of the model's output (prediction drift)


@dataclass
class ModelHandle:
    version: int
    path: Path
    model: Any
    features: ReferenceProfile
    predictions: ReferenceProfile
    baseline: float | None  # holdout value of the primary metric when it was trained
    window_end: pd.Timestamp | None


@dataclass
class BatchReport:
    drift: pd.DataFrame  # one row per feature, then the prediction row
    drift_share: float
    dataset_drift: bool
    predictions: np.ndarray


class ModelCache:
    """Models and their reference profiles by version, loaded once per process."""

    def __init__(self, store: Store, workspace: str, dataset: Dataset) -> None:
        self.store, self.workspace, self.dataset = store, workspace, dataset
        self._handles: dict[int, ModelHandle] = {}

    def get(self, version: int) -> ModelHandle:
        if version not in self._handles:
            self._handles[version] = self._load(version)
        return self._handles[version]

    def _load(self, version: int) -> ModelHandle:
        row = rec.model_version(self.store, self.workspace, version)
        if row is None:
            raise DataSourceError(f"model version {version} is not in the registry of {self.workspace!r}")
        path = Path(row["path"])
        model = load_model(path)
        profile_path = path.with_suffix(".profile.pkl")
        if profile_path.exists():
            with open(profile_path, "rb") as handle:
                features, predictions = pickle.load(handle)
        else:
            ds = self.dataset
            times = ds.frame[ds.time_column]
            reference = ds.frame.loc[
                (times >= pd.Timestamp(row["window_start"])) & (times <= pd.Timestamp(row["window_end"]))
            ]
            features = ReferenceProfile.from_frame(
                reference, columns=list(ds.features), categorical=list(ds.categorical)
            )
            predictions = ReferenceProfile.from_frame(
                pd.DataFrame({PREDICTION: predict(model, reference)}), columns=[PREDICTION]
            )
            tmp = profile_path.with_suffix(".tmp")
            with open(tmp, "wb") as handle:
                pickle.dump((features, predictions), handle, protocol=5)
            tmp.replace(profile_path)
        metric = PRIMARY_METRIC[self.dataset.task]
        baseline = row["metrics"].get(metric)
        end = pd.Timestamp(row["window_end"]) if row["window_end"] is not None else None
        return ModelHandle(version, path, model, features, predictions, baseline, end)


def monitor_batch(
    handle: ModelHandle,
    dataset: Dataset,
    batch: pd.DataFrame,
    share: float = 0.5,
    *,
    share_columns: list[str] | None = None,
    distance_threshold: float | None = None,
) -> BatchReport:
    """Drift of `batch` against the model's reference; dataset drift when `share` of features drift.

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
    features = handle.features.compare(batch, threshold_overrides=overrides)
    counted = features.loc[features["feature"].isin(share_columns)] if share_columns else features
    drifted, drift_share = dataset_drift(counted, share)
    predictions = predict(handle.model, batch)
    prediction_row = handle.predictions.compare(pd.DataFrame({PREDICTION: predictions}))
    table = pd.concat([features, prediction_row], ignore_index=True)
    return BatchReport(table, drift_share, drifted, predictions)


def realized_quality(handle: ModelHandle, dataset: Dataset, labelled: pd.DataFrame) -> float | None:
    """The primary metric of the model on a batch whose labels have arrived."""
    labelled = labelled.loc[labelled[dataset.target].notna()]
    if labelled.empty:
        return None
    metrics = evaluate_model(handle.model, labelled, task=dataset.task, target=dataset.target)
    return metrics.get(PRIMARY_METRIC[dataset.task])


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
