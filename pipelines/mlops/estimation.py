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

Both only see inputs: covariate drift (the inputs move) moves the estimate, but concept drift (the
same inputs now mean other demand) does not. The estimate then stays flat while realized quality
falls: the known failure the MLOps page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from pipelines.mlops.training import ModelSettings, _features, predict, train_model

__all__ = ["ERROR_MODEL", "QualityEstimator", "fit_estimator"]

PREDICTION_INPUT = "opslab_prediction"  # the champion's prediction, an input of the error model
ERROR = "opslab_error"
# The error model is small: a few hundred holdout rows, and it predicts every week in ~1 ms.
ERROR_MODEL = ModelSettings(max_iter=60, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20)
MIN_REFERENCE_ROWS = 30


@dataclass
class QualityEstimator:
    """Estimates `metric` of one model version on an unlabelled batch."""

    task: str
    metric: str
    method: str  # dle | cbpe
    reference_rows: int
    error_model: Any = None  # dle: predicts the champion's per-row loss
    calibration: IsotonicRegression | None = None  # cbpe: confidence -> probability of being right

    def estimate(self, model: Any, batch: pd.DataFrame, predictions: np.ndarray) -> float | None:
        """The metric expected on `batch`, whose `predictions` by `model` are known; None if empty."""
        if len(batch) == 0:
            return None
        if self.method == "dle":
            inputs = batch.assign(**{PREDICTION_INPUT: np.asarray(predictions, dtype=np.float64)})
            loss = np.clip(predict(self.error_model, inputs), 0.0, None)
            mean = float(loss.mean())
            return mean**0.5 if self.metric == "rmse" else mean
        confidence = _confidence(model, batch)
        assert self.calibration is not None
        return float(self.calibration.predict(confidence).mean())


def _confidence(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's probability for the class it predicts, per row."""
    numeric, categorical = model.opslab_features_
    return model.predict_proba(_features(frame, numeric, categorical)).max(axis=1)


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
    if task == "regression":
        if metric not in ("mae", "rmse"):
            return None
        predictions = predict(model, reference)
        error = reference[target].to_numpy(dtype=np.float64) - predictions
        loss = np.abs(error) if metric == "mae" else error**2
        frame = reference.assign(**{PREDICTION_INPUT: predictions, ERROR: loss})
        error_model = train_model(
            frame,
            task="regression",
            target=ERROR,
            numeric=[*numeric, PREDICTION_INPUT],
            categorical=categorical,
            seed=seed,
            settings=ERROR_MODEL,
        )
        return QualityEstimator(task, metric, "dle", len(reference), error_model=error_model)
    if metric != "accuracy" or not hasattr(model, "predict_proba"):
        return None
    right = (predict(model, reference) == reference[target].to_numpy()).astype(np.float64)
    calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    calibration.fit(_confidence(model, reference), right)
    return QualityEstimator(task, metric, "cbpe", len(reference), calibration=calibration)
