"""The fast inference path gives scikit-learn's own numbers, bit for bit: the encoder equals the
fitted ColumnTransformer, the trees equal HistGradientBoosting's predict and predict_proba, and a
weekly monitoring report equals the one scikit-learn's calls and pandas' concatenation made."""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.drift import dataset_drift
from pipelines.mlops import monitoring
from pipelines.mlops.inference import model_inputs, prepared_model, tree_ensemble
from pipelines.mlops.pipeline import run_mlops_pipeline
from pipelines.mlops.sources import load_dataset, window
from pipelines.mlops.training import (
    ModelSettings,
    _thread_limit,
    evaluate_model,
    predict,
    save_model,
    train_model,
)
from pipelines.scenario.settings import CALENDAR_COLUMNS
from pipelines.store import Store
from pipelines.store import records as rec

SMALL = ModelSettings(max_iter=30)


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Numbers (int and float, some missing), a text category (some missing), a number-coded one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.uniform(size=n) < 0.05, np.nan, x),
            "count": rng.integers(0, 50, n),
            "colour": rng.choice(np.array(["red", "green", "blue", None], dtype=object), n),
            "level": rng.choice([1, 2, 3], n),
        }
    )
    frame["y"] = 2 * x + frame["level"] + (frame["colour"] == "red") + rng.normal(0, 0.3, n)
    frame["label"] = np.where(frame["y"] > 1, "high", np.where(frame["y"] > -1, "mid", "low"))
    return frame


def _odd_batch(seed: int) -> pd.DataFrame:
    """What the training data never had: unknown categories, missing values everywhere, infinities."""
    batch = _frame(300, seed)
    batch.loc[::7, "colour"] = "purple"
    batch.loc[3::11, "colour"] = np.nan
    batch.loc[::5, "level"] = 9
    batch["level"] = batch["level"].astype(np.float64)
    batch.loc[1::13, "level"] = np.nan
    batch.loc[2::17, "x"] = np.inf
    return batch


@functools.cache
def _model(task: str, categorical: tuple[str, ...]):
    """One model per task and columns for the whole module (prepared objects are cached per model)."""
    return _train(task, _frame(600, 1), list(categorical))


def _train(task: str, frame: pd.DataFrame, categorical: list[str]):
    target = "y" if task == "regression" else "label"
    return train_model(
        frame,
        task=task,
        target=target,
        numeric=["x", "count"],
        categorical=categorical,
        seed=3,
        settings=SMALL,
    )


def _slow_encode(model, frame: pd.DataFrame) -> np.ndarray:
    numeric, categorical = model.opslab_features_
    return model.named_steps["columns"].transform(model_inputs(frame, numeric, categorical))


BATCHES = {
    "like training": lambda: _frame(200, 11),
    "unknown and missing": lambda: _odd_batch(12),
    "text as pandas strings": lambda: _odd_batch(13).astype({"colour": "str"}),
    "text as a category dtype": lambda: _odd_batch(14).astype({"colour": "category"}),
    "numbers as int32 and float32": lambda: _frame(150, 15).astype({"count": np.int32, "level": np.float32}),
    "one row": lambda: _odd_batch(16).iloc[[0]],
}


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("categorical", [["colour", "level"], []], ids=["categories", "numbers only"])
@pytest.mark.parametrize("batch", list(BATCHES), ids=list(BATCHES))
def test_the_fast_path_equals_scikit_learn(task: str, categorical: list[str], batch: str) -> None:
    model = _model(task, tuple(categorical))
    frame = BATCHES[batch]()
    prepared = prepared_model(model)
    assert prepared._encode(frame) is not None  # the fast path itself, not its fallback
    fast, slow = prepared.encode(frame), _slow_encode(model, frame)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert np.array_equal(fast, slow, equal_nan=True)
    if categorical:  # unknown and missing categories are -1
        unknown = frame["level"].isna().to_numpy() | (frame["level"] == 9).to_numpy()
        assert (fast[unknown, 3] == -1).all() and (fast[~unknown, 3] >= 0).all()
        assert (fast[frame["colour"].isna().to_numpy(), 2] == -1).all()
    estimator = model.named_steps["model"]
    assert np.array_equal(
        prepared.predict(frame), model.predict(model_inputs(frame, ["x", "count"], categorical))
    )
    assert np.array_equal(predict(model, frame), estimator.predict(slow))
    trees = tree_ensemble(estimator)
    assert np.array_equal(trees.raw_predict(fast), estimator._raw_predict(slow))
    if task == "classification":
        assert np.array_equal(prepared.predict_proba_encoded(fast), estimator.predict_proba(slow))


def test_the_fast_path_equals_scikit_learn_on_a_binary_classifier() -> None:
    frame = _frame(600, 2).assign(label=lambda f: np.where(f["y"] > 0, "yes", "no"))
    model = _train("classification", frame, ["colour", "level"])
    batch = _odd_batch(3)
    encoded = prepared_model(model).encode(batch)
    assert np.array_equal(
        prepared_model(model).predict_encoded(encoded), model.named_steps["model"].predict(encoded)
    )
    assert np.array_equal(
        prepared_model(model).predict_proba_encoded(encoded),
        model.named_steps["model"].predict_proba(encoded),
    )
    metrics = evaluate_model(model, batch.assign(label="yes"), task="classification", target="label")
    assert metrics["accuracy"] == float(
        np.mean(model.predict(model_inputs(batch, ["x", "count"], ["colour", "level"])) == "yes")
    )


def test_what_the_fast_path_was_not_written_for_goes_through_scikit_learn() -> None:
    """A number column the model knows as text, and a nullable integer: the transformer decides."""
    model = _train("regression", _frame(400, 4), ["colour", "level"])
    prepared = prepared_model(model)
    numbers_for_text = _frame(50, 5).assign(colour=np.arange(50, dtype=np.float64))
    assert prepared._encode(numbers_for_text) is None
    nullable = _frame(50, 6).astype({"count": "Int64"})
    assert prepared._encode(nullable) is None
    fast, slow = prepared.encode(nullable), _slow_encode(model, nullable)
    assert fast.dtype == slow.dtype and pd.DataFrame(fast).equals(pd.DataFrame(slow))
    with pytest.raises(KeyError):
        prepared.encode(_frame(10, 7).drop(columns=["x"]))


def test_predicting_leaves_the_model_file_unchanged(tmp_path: Path) -> None:
    """The prepared objects live beside the model, not on it: its pickle (and sha256) stays the same."""
    model = _train("regression", _frame(300, 8), ["colour", "level"])
    before = hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest()
    predict(model, _odd_batch(9))
    evaluate_model(model, _frame(100, 10), task="regression", target="y")
    assert hashlib.sha256(pickle.dumps(model, protocol=5)).hexdigest() == before
    path = save_model(model, tmp_path / "model.pkl", {"version": 1})
    assert (
        predict(pickle.loads(path.read_bytes()), _odd_batch(9)).tolist()
        == predict(model, _odd_batch(9)).tolist()
    )


# -- weekly monitoring on the simulated world, against the slow path it replaced -------------------


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory):
    dataset = load_dataset("simulated")
    as_of = pd.Timestamp("2011-03-01")
    store = Store(tmp_path_factory.mktemp("inference") / "speed.duckdb")
    run_mlops_pipeline(store, "speed", dataset, as_of=as_of)
    version = rec.alias_version(store, "speed", "champion")
    handle = monitoring.ModelCache(store, "speed", dataset).get(version)
    # 40 weeks from late winter into autumn: seasons the model never saw are unknown categories.
    batches = [window(dataset, as_of + pd.Timedelta(weeks=w), 1) for w in range(1, 41)]
    odd = batches[0].copy()
    odd.loc[odd.index[::9], "weathersit"] = 7  # a weather code the model never saw
    odd.loc[odd.index[::10], "temp"] = np.nan
    odd.loc[odd.index[::12], "season"] = np.nan
    return dataset, handle, [*batches, odd]


def _slow_monitor_batch(handle, batch, share=0.5, share_columns=None, distance_threshold=None):
    """monitor_batch as it was: scikit-learn's transform and predict, one table per profile, concat."""
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
    model = handle.model
    encoded = _slow_encode(model, batch)
    with _thread_limit(1):
        predictions = model.named_steps["model"].predict(encoded)
        losses = handle.estimator.error_model.predict(np.column_stack([encoded, predictions]))
    estimated = float(np.clip(losses, 0.0, None).mean())
    prediction_row = handle.predictions.compare(
        pd.DataFrame({monitoring.PREDICTION: predictions}),
        threshold_overrides={monitoring.PREDICTION: distance_threshold}
        if distance_threshold is not None
        else None,
    )
    prediction_drift = bool(prediction_row["drifted"].iloc[0])
    if handle.features.method == "calibrated" and prediction_drift:
        drifted = True
    table = pd.concat([features, prediction_row], ignore_index=True)
    return monitoring.BatchReport(table, drift_share, drifted, predictions, prediction_drift, estimated)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"share_columns": [c for c in ("temp", "atemp", "hum", "windspeed", "weathersit")]},
        {"distance_threshold": 0.5},
    ],
    ids=["default", "share of weather columns", "what-if threshold"],
)
def test_monitor_batch_reports_what_the_slow_path_reported(champion, options) -> None:
    dataset, handle, batches = champion
    assert handle.estimator is not None and handle.estimator.method == "dle"
    flagged = 0
    for batch in batches:
        fast = monitoring.monitor_batch(handle, dataset, batch, **options)
        slow = _slow_monitor_batch(handle, batch, **options)
        pd.testing.assert_frame_equal(fast.drift, slow.drift, check_exact=True)
        assert fast.drift.dtypes.equals(slow.drift.dtypes)
        assert np.array_equal(fast.predictions, slow.predictions)
        assert (fast.drift_share, fast.dataset_drift, fast.prediction_drift) == (
            slow.drift_share,
            slow.dataset_drift,
            slow.prediction_drift,
        )
        assert fast.quality_estimated == slow.quality_estimated
        flagged += fast.dataset_drift
    assert 0 < flagged < len(batches)  # both verdicts were compared, not only one


def test_the_weather_share_excludes_the_calendar(champion) -> None:
    """The scenario's share leaves the calendar columns out; the share is over the others only."""
    dataset, handle, batches = champion
    columns = [name for name in handle.features.columns if name not in CALENDAR_COLUMNS]
    report = monitoring.monitor_batch(handle, dataset, batches[20], share_columns=columns)
    counted = report.drift.loc[report.drift["feature"].isin(columns)]
    assert report.drift_share == counted["drifted"].mean()
    with pytest.raises(ValueError, match="at least one feature"):
        monitoring.monitor_batch(handle, dataset, batches[20], share_columns=["no such column"])
