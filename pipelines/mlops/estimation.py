"""Quality estimated before the labels arrive: the champion judged on unlabelled inputs.

Labels come a delay after the batch was served; until then a team flies blind. Two estimators, as
NannyML has them, each fitted once per model version on data the model did not learn from:

- **Direct loss estimation** (regression). A second model learns the champion's error (absolute
  for MAE, squared for RMSE) from the inputs and the champion's prediction; its mean over a batch
  estimates the batch's metric.
- **Confidence-based performance estimation** (classification). The champion's confidence in its
  predicted class, calibrated (isotonic) against whether it was right, is the probability the
  prediction is correct; its mean over a batch is the expected accuracy.

The reference is the model's **holdout**: the last `holdout_fraction` of its training window, the
rows the training pipeline kept out to gate it. Its errors are honest (the model never saw them,
unlike in-sample errors, which are too small) and it is the most recent data the model knows, so
closest to what it will serve. A split of the window would mean retraining the champion on part of
it, a second model per version for no fresher data.

Cheap by construction: the error model reads the champion's own encoded inputs (the matrix its
column transformer already made for its prediction) plus that prediction, so a weekly estimate is
one more small tree ensemble over a ready matrix (`predict_and_estimate`), in the same thread limit.

Both only see inputs: covariate drift (the inputs move) moves the estimate, but concept drift (the
same inputs now mean other demand) does not. The estimate then stays flat while realized quality
falls: the known failure the MLOps page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression

from pipelines.mlops.inference import prepared_model, tree_ensemble
from pipelines.mlops.training import _thread_limit

__all__ = ["ERROR_MODEL", "QualityEstimator", "encode_inputs", "fit_estimator", "predict_and_estimate"]

# The error model is small: a few hundred holdout rows, and it runs on every weekly batch.
ERROR_MODEL: dict[str, Any] = {
    "max_iter": 60,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
}
MIN_REFERENCE_ROWS = 30


def encode_inputs(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The matrix the model's estimator reads: its column transformer applied to its input columns
    (`inference.PreparedModel.encode`: the same matrix without the transformer's per-call checks)."""
    return prepared_model(model).encode(frame)


@dataclass
class QualityEstimator:
    """Estimates `metric` of one model version on an unlabelled batch."""

    task: str
    metric: str
    method: str  # dle | cbpe
    reference_rows: int
    error_model: HistGradientBoostingRegressor | None = None  # dle: the champion's per-row loss
    calibration: IsotonicRegression | None = None  # cbpe: confidence -> probability of being right

    def estimate(self, model: Any, encoded: np.ndarray, predictions: np.ndarray) -> float | None:
        """The metric expected on a batch (`encoded` by `encode_inputs`, `predictions` by `model`);
        None for an empty batch. Call it inside a thread limit (`predict_and_estimate` does)."""
        if len(encoded) == 0:
            return None
        if self.method == "dle":
            assert self.error_model is not None
            inputs = np.column_stack([encoded, np.asarray(predictions, dtype=np.float64)])
            # The error model's own trees, read once per model (`inference.tree_ensemble`).
            losses = tree_ensemble(self.error_model).predict(inputs)
            mean = float(np.clip(losses, 0.0, None).mean())
            return mean**0.5 if self.metric == "rmse" else mean
        assert self.calibration is not None
        confidence = prepared_model(model).predict_proba_encoded(encoded).max(axis=1)
        return float(self.calibration.predict(confidence).mean())


def predict_and_estimate(
    model: Any, estimator: QualityEstimator | None, batch: pd.DataFrame
) -> tuple[np.ndarray, float | None]:
    """The model's predictions on `batch` and its estimated quality on them: the inputs encoded
    once, both models in one single-thread block (the same predictions as `training.predict`)."""
    encoded = encode_inputs(model, batch)
    with _thread_limit(1):
        predictions = prepared_model(model).predict_encoded(encoded)
        estimated = estimator.estimate(model, encoded, predictions) if estimator is not None else None
    return predictions, estimated


def fit_estimator(
    model: Any,
    reference: pd.DataFrame,
    *,
    task: str,
    target: str,
    metric: str,
    seed: int,
) -> QualityEstimator | None:
    """Fit the estimator of `model`'s `metric` on labelled `reference` rows it did not train on
    (its holdout). None when the reference is too small or the metric cannot be estimated."""
    reference = reference.loc[reference[target].notna()]
    if len(reference) < MIN_REFERENCE_ROWS:
        return None
    numeric, categorical = model.opslab_features_
    encoded = encode_inputs(model, reference)
    with _thread_limit(1):  # one thread: reproducible, and no fight for the other core
        predictions = model.named_steps["model"].predict(encoded)
        if task == "regression":
            if metric not in ("mae", "rmse"):
                return None
            error = reference[target].to_numpy(dtype=np.float64) - predictions
            loss = np.abs(error) if metric == "mae" else error**2
            # The champion's inputs as it encodes them (categories last), then its prediction.
            is_categorical = [False] * len(numeric) + [True] * len(categorical) + [False]
            error_model = HistGradientBoostingRegressor(
                **ERROR_MODEL,
                categorical_features=is_categorical if categorical else None,
                early_stopping=False,
                random_state=seed,
            )
            error_model.fit(np.column_stack([encoded, predictions]), loss)
            return QualityEstimator(task, metric, "dle", len(reference), error_model=error_model)
        if metric != "accuracy" or not hasattr(model, "predict_proba"):
            return None
        right = (predictions == reference[target].to_numpy()).astype(np.float64)
        confidence = model.named_steps["model"].predict_proba(encoded).max(axis=1)
    calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    calibration.fit(confidence, right)
    return QualityEstimator(task, metric, "cbpe", len(reference), calibration=calibration)
