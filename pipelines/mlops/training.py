"""Training and evaluation: one scikit-learn Pipeline per task, seeded, threads limited.

HistGradientBoosting handles missing values and categorical features natively and fits 10k rows
in under half a second (DESIGN.md: RandomForest(100) takes 10x longer for no gain on this data).
Its OpenMP threads are limited with threadpoolctl: with the other core busy, 2 threads were 3x
slower than 1, and one thread also keeps the fitted model, and so its sha256, reproducible.
"""

from __future__ import annotations

import functools
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:  # scikit-learn (and the scipy it loads) takes seconds to import: only when training
    from sklearn.pipeline import Pipeline

from pipelines.mlops.inference import model_inputs as _features
from pipelines.mlops.inference import prepared_model
from pipelines.quality import TASK_METRICS

__all__ = [
    "PRIMARY_METRIC",
    "ModelSettings",
    "build_model",
    "evaluate_model",
    "evaluate_predictions",
    "load_model",
    "predict",
    "save_model",
    "split_holdout",
    "train_model",
]

# The name of the metric the promotion gate and the quality lines use, per task; the metric itself
# (label, which way is better, format) is `pipelines.quality.metric_for_task(task)`.
PRIMARY_METRIC = {task: metric.name for task, metric in TASK_METRICS.items()}


@dataclass(frozen=True)
class ModelSettings:
    """Knobs of the model; a run records the hash of these with the seed."""

    max_iter: int = 150
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    threads: int = 1

    def __post_init__(self) -> None:
        if self.max_iter < 1 or not 0 < self.learning_rate <= 1 or self.threads < 1:
            raise ValueError(f"invalid model settings: {asdict(self)}")


def build_model(
    task: str, numeric: Sequence[str], categorical: Sequence[str], *, seed: int, settings: ModelSettings
) -> Pipeline:
    """ColumnTransformer (numeric as is, categories ordinal-encoded) + HistGradientBoosting."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1, dtype=np.float64
    )
    columns = ColumnTransformer(
        [("numeric", "passthrough", list(numeric)), ("categorical", encoder, list(categorical))],
        verbose_feature_names_out=False,
    )
    # After the transformer the categorical columns come last; negative codes count as missing.
    is_categorical = [False] * len(numeric) + [True] * len(categorical)
    common: dict[str, Any] = {
        "max_iter": settings.max_iter,
        "learning_rate": settings.learning_rate,
        "max_leaf_nodes": settings.max_leaf_nodes,
        "min_samples_leaf": settings.min_samples_leaf,
        "categorical_features": is_categorical if categorical else None,
        "early_stopping": False,
        "random_state": seed,
    }
    if task == "regression":
        estimator: Any = HistGradientBoostingRegressor(**common)
    elif task == "classification":
        estimator = HistGradientBoostingClassifier(**common)
    else:
        raise ValueError(f"task must be 'regression' or 'classification', not {task!r}")
    return Pipeline([("columns", columns), ("model", estimator)])


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The native thread pools of this process (OpenMP, BLAS), looked up once: the libraries are
    loaded by the imports above. `threadpool_limits` looks them up again on every call, ~2 ms of
    CPU, as much as predicting a week's batch."""
    return ThreadpoolController()


def _thread_limit(threads: int) -> Any:
    """Limit every native thread pool to `threads` for a `with` block (threadpool_limits' effect)."""
    return _threadpools().limit(limits=threads)


def train_model(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int,
    settings: ModelSettings = ModelSettings(),
) -> Pipeline:
    model = build_model(task, numeric, categorical, seed=seed, settings=settings)
    y = frame[target]
    with _thread_limit(settings.threads):
        model.fit(_features(frame, numeric, categorical), y)
    model.opslab_features_ = (tuple(numeric), tuple(categorical))
    return model


def predict(model: Pipeline, frame: pd.DataFrame, threads: int = 1) -> np.ndarray:
    """`model.predict` on `frame`'s input columns, bit for bit, without scikit-learn's per-call
    input checks (`pipelines.mlops.inference`): a weekly batch in a fraction of the time."""
    with _thread_limit(threads):
        return prepared_model(model).predict(frame, threads)


def evaluate_predictions(
    task: str,
    y_true: pd.Series,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """mae, rmse, r2 for regression; accuracy, f1 and (where defined) roc_auc for classification."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        roc_auc_score,
    )

    if len(y_true) == 0:
        return {}
    if task == "regression":
        truth = y_true.to_numpy(dtype=np.float64)
        out = {
            "mae": float(mean_absolute_error(truth, y_pred)),
            "rmse": float(math.sqrt(mean_squared_error(truth, y_pred))),
        }
        if len(truth) > 1 and np.var(truth) > 0:
            out["r2"] = float(r2_score(truth, y_pred))
        return out
    truth = y_true.to_numpy()
    labels = sorted(set(truth) | set(y_pred), key=str)
    out = {
        "accuracy": float(accuracy_score(truth, y_pred)),
        "f1": float(
            f1_score(
                truth,
                y_pred,
                average="binary" if len(labels) == 2 else "macro",
                pos_label=labels[-1] if len(labels) == 2 else 1,
                zero_division=0,
            )
        ),
    }
    if proba is not None and classes is not None and len(set(truth)) > 1:
        try:
            if len(classes) == 2:
                out["roc_auc"] = float(roc_auc_score(truth == classes[1], proba[:, 1]))
            elif set(truth) <= set(classes):
                out["roc_auc"] = float(roc_auc_score(truth, proba, multi_class="ovr", labels=list(classes)))
        except ValueError:
            pass  # undefined for this holdout (e.g. a class absent); reported as missing
    return out


def evaluate_model(
    model: Pipeline, frame: pd.DataFrame, *, task: str, target: str, threads: int = 1
) -> dict[str, float]:
    prepared = prepared_model(model)
    encoded = prepared.encode(frame)
    with _thread_limit(threads):
        y_pred = prepared.predict_encoded(encoded, threads)
        proba = classes = None
        if task == "classification" and hasattr(model, "predict_proba"):
            proba = prepared.predict_proba_encoded(encoded, threads)
            classes = list(model.classes_)
    return evaluate_predictions(task, frame[target], y_pred, proba, classes)


def split_holdout(
    frame: pd.DataFrame, time_column: str, fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-ordered split: the last `fraction` of the window is the holdout (no shuffling)."""
    if not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be between 0 and 1, not {fraction}")
    ordered = frame.sort_values(time_column, kind="stable")
    cut = round(len(ordered) * (1 - fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def save_model(model: Pipeline, path: Path, metadata: Mapping[str, Any]) -> Path:
    """Pickle the model with its metadata, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.opslab_metadata_ = dict(metadata)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(model, handle, protocol=5)
    tmp.replace(path)
    return path


def load_model(path: str | Path) -> Pipeline:
    with open(path, "rb") as handle:
        return pickle.load(handle)
