"""Loading the production model file and predicting with it.

The MLOps pipeline deploys a new champion by atomically replacing the model file, so the
handle notices a changed file (mtime, size, inode) and re-loads it: no restart needed.
Two formats: a JSON baseline (a lookup table, stdlib only) and a pickled scikit-learn
estimator (``.pkl``); pandas is imported only when such a model is used, so the service
starts in milliseconds with a baseline.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from .features import ValidationError

# Columns a scikit-learn model gets when it does not record the names it was fitted on.
DEFAULT_COLUMNS: tuple[str, ...] = (
    "season", "yr", "mnth", "hr", "holiday", "weekday", "workingday",
    "weathersit", "temp", "atemp", "hum", "windspeed",
)


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not a model this service can use."""


class LoadedModel:
    """A model read from one version of the file, with what /health reports about it."""

    def __init__(self, kind: str, version: str, sha256: str, predictor: Any) -> None:
        self.kind = kind
        self.version = version
        self.sha256 = sha256
        self._predictor = predictor

    def info(self) -> dict[str, str]:
        return {"kind": self.kind, "version": self.version, "sha256": self.sha256}

    def predict(self, features: list[dict[str, Any]]) -> list[float]:
        return self._predictor(features)


def load_model(path: Path) -> LoadedModel:
    """Read the model file at ``path``; the format follows the file's suffix."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    if path.suffix == ".json":
        model = _load_baseline(data, sha256)
    elif path.suffix in (".pkl", ".pickle"):
        model = _load_pickle(data, sha256)
    else:
        raise ModelError(f"unknown model format {path.suffix!r} (expected .json or .pkl)")
    _warm_up(model)
    return model


class ModelHandle:
    """The model file the server serves from, re-loaded whenever the file changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._model: LoadedModel | None = None

    def get(self) -> LoadedModel:
        """The current model; a stat call per request is cheap, a re-load only on change."""
        with self._lock:
            stamp = self._file_stamp()
            if self._model is None or stamp != self._stamp:
                self._model = load_model(self.path)
                self._stamp = stamp
            return self._model

    def _file_stamp(self) -> tuple[int, int, int]:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise ModelError(f"cannot read model file {self.path}: {exc.strerror or exc}") from exc
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def reference_grid() -> list[dict[str, Any]]:
    """Rows covering every season, hour, day type and weather: the warm-up batch."""
    rows = []
    for season in range(1, 5):
        for workingday in (0, 1):
            for weathersit in range(1, 5):
                for hr in range(24):
                    for temp in (0.1, 0.3, 0.5, 0.7, 0.9):
                        rows.append({
                            "season": season, "yr": 0, "mnth": season * 3 - 1, "hr": hr,
                            "holiday": 0, "weekday": 3 if workingday else 6,
                            "workingday": workingday, "weathersit": weathersit,
                            "temp": temp, "atemp": temp, "hum": 0.6, "windspeed": 0.2,
                            "rush_hour": int(workingday == 1 and hr in (7, 8, 17, 18)),
                        })
    return rows


def _warm_up(model: LoadedModel) -> None:
    """Predict the reference grid once after loading.

    The first request after a deploy should not pay for lazy imports and first-call set-up,
    and a model that cannot predict (or predicts nonsense) is refused before it serves.
    """
    try:
        predictions = model.predict(reference_grid())
    except ValidationError:
        return  # the model needs fields the grid lacks; real requests will name them
    except Exception as exc:
        raise ModelError(f"model {model.version} failed its warm-up prediction: {exc}") from exc
    if any(p != p for p in predictions):  # NaN is the only value not equal to itself
        raise ModelError(f"model {model.version} predicts NaN on the reference grid")


def _load_baseline(data: bytes, sha256: str) -> LoadedModel:
    try:
        spec = json.loads(data)
    except ValueError as exc:
        raise ModelError(f"baseline model is not valid JSON: {exc}") from exc
    table_ok = isinstance(spec, dict) and isinstance(spec.get("table"), dict)
    if not table_ok or spec.get("kind") != "baseline":
        raise ModelError("JSON model must be an object with kind 'baseline' and a 'table'")
    table = {str(key): float(value) for key, value in spec["table"].items()}
    default = float(spec.get("default", sum(table.values()) / max(len(table), 1)))

    def predict(features: list[dict[str, Any]]) -> list[float]:
        return [table.get(f"{row['workingday']}-{row['hr']}", default) for row in features]

    return LoadedModel("baseline", str(spec.get("version", sha256[:12])), sha256, predict)


def _load_pickle(data: bytes, sha256: str) -> LoadedModel:
    # Only model files the pipeline itself wrote are loaded: pickle runs code by design.
    try:
        obj = pickle.loads(data)
    except Exception as exc:
        raise ModelError(f"cannot unpickle model: {exc}") from exc
    version = getattr(obj, "opslab_version", None)
    if isinstance(obj, dict):  # {"model": estimator, "version": "..."} wrapper
        version = obj.get("version")
        obj = obj.get("model", obj.get("estimator"))
    if not hasattr(obj, "predict"):
        raise ModelError(f"pickled object {type(obj).__name__} has no predict()")
    estimator = obj
    columns = [str(c) for c in getattr(estimator, "feature_names_in_", DEFAULT_COLUMNS)]

    def predict(features: list[dict[str, Any]]) -> list[float]:
        import pandas as pd  # lazy: only sklearn models pay for pandas

        for index, row in enumerate(features):
            missing = [column for column in columns if column not in row]
            if missing:
                raise ValidationError(missing[0], f"missing in rows[{index}], the deployed model needs it")
        frame = pd.DataFrame.from_records(features, columns=columns)
        return [float(value) for value in estimator.predict(frame)]

    return LoadedModel("sklearn", str(version or sha256[:12]), sha256, predict)
