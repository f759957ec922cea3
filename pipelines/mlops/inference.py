"""The fitted model's predictions on a weekly batch, without scikit-learn's per-call overhead.

Weekly monitoring predicts 168 rows a few hundred times per play. scikit-learn spends most of
such a call checking its inputs, not computing: the ColumnTransformer validates the frame and
runs the OrdinalEncoder (about 4 ms for 11 columns), and HistGradientBoosting re-encodes its own
categorical columns with a second ColumnTransformer (about 2 ms) before it walks its trees. Here
the fitted objects are read once per model and reused:

- ``encode(frame)`` is ``model.named_steps["columns"].transform(model_inputs(frame, ...))``:
  numeric columns copied into a float matrix, categories looked up in the fitted encoder's
  ``categories_`` (unknown and missing values -> -1, as the encoder is built to do).
- ``TreeEnsemble`` is a fitted HistGradientBoosting model: its internal encoder's ``categories_``
  applied the same way (unknown and missing -> NaN), then each of its fitted ``TreePredictor``\\ s
  called with the known-category bitsets made once, added up in scikit-learn's order, and its own
  loss's link applied: the very arrays ``predict`` and ``predict_proba`` return, bit for bit
  (tests/test_inference.py compares them on varied frames).

No tree walking is re-implemented: the trees are scikit-learn's compiled predictors. Anything
these fast paths were not written for (another pipeline shape, an extension dtype, a text column
the model knows as numbers) goes through scikit-learn's own ``transform`` and ``predict``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PreparedModel", "TreeEnsemble", "model_inputs", "prepared_model", "tree_ensemble"]

_CACHE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
"""Prepared objects by the fitted model they were read from; they go when the model goes. Kept
off the model itself: an attribute would end up in the pickled model file and change its sha256."""


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _OrdinalColumn:
    """One column of a fitted OrdinalEncoder whose unknown and missing values share one code."""

    def __init__(self, categories: np.ndarray, code: float) -> None:
        self.code = code
        self.numeric = categories.dtype.kind == "f"
        if self.numeric:
            # categories_ of numbers are sorted (np.unique), NaN last when training had missing values.
            self.known = categories[~np.isnan(categories)]
            self.lookup: dict[Any, int] = {}
        else:
            self.known = categories
            self.lookup = {value: i for i, value in enumerate(categories.tolist()) if not _is_missing(value)}

    def codes(self, values: np.ndarray) -> np.ndarray | None:
        """The encoder's codes of `values` as float64; None when their kind is not the categories'."""
        if self.numeric:
            if values.dtype != np.float64:
                return None
            if self.known.size == 0:
                return np.full(values.shape, self.code)
            position = np.searchsorted(self.known, values)
            np.minimum(position, self.known.size - 1, out=position)
            return np.where(self.known[position] == values, position.astype(np.float64), self.code)
        if values.dtype != object:
            return None
        code, lookup = self.code, self.lookup
        # A dict with the encoder's own hashing and equality (scikit-learn maps objects the same way).
        return np.fromiter((lookup.get(value, code) for value in values.tolist()), np.float64, values.size)


def _encoder_columns(encoder: Any, code: float) -> list[_OrdinalColumn] | None:
    """The columns of a fitted OrdinalEncoder that gives unknown and missing values `code`."""
    same = (lambda a: isinstance(a, float) and math.isnan(a)) if math.isnan(code) else (lambda a: a == code)
    if (
        type(encoder).__name__ != "OrdinalEncoder"
        or encoder.handle_unknown != "use_encoded_value"
        or not same(encoder.unknown_value)
        or not same(encoder.encoded_missing_value)
        or encoder.max_categories is not None
        or encoder.min_frequency is not None
        or np.dtype(encoder.dtype) != np.float64
    ):
        return None
    columns = []
    for categories in encoder.categories_:
        if categories.dtype.kind == "f" and np.any(np.diff(categories[~np.isnan(categories)]) <= 0):
            return None  # categories given by hand, unsorted: the encoder's own path
        if categories.dtype.kind not in "fO":
            return None
        columns.append(_OrdinalColumn(categories, code))
    return columns


class TreeEnsemble:
    """A fitted HistGradientBoosting model's predictions without its per-call input checks.

    Built once per model (``tree_ensemble``); ``raw_predict(X)`` equals the model's
    ``_raw_predict(X)`` for the matrix it was fitted on (any matrix its own ``predict`` takes).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n_features = int(model.n_features_in_)
        self.encoder_columns: list[_OrdinalColumn] | None = None
        self.categorical: np.ndarray | None = None
        try:
            self._read(model)
            self.fast = True
        except AttributeError:  # a scikit-learn whose fitted model is laid out otherwise
            self.fast = self.supported = False

    def _read(self, model: Any) -> None:
        preprocessor = model._preprocessor
        self.supported = True
        if preprocessor is not None:
            indices = preprocessor.output_indices_
            self.categorical = np.flatnonzero(model.is_categorical_)
            self.numerical = np.flatnonzero(~np.asarray(model.is_categorical_, dtype=bool))
            self.encoder_columns = _encoder_columns(preprocessor.named_transformers_["encoder"], math.nan)
            self.supported = (
                self.encoder_columns is not None
                and len(self.encoder_columns) == self.categorical.size
                and indices["encoder"] == slice(0, self.categorical.size)
                and indices["numerical"] == slice(self.categorical.size, self.n_features)
            )
        # The bitsets scikit-learn rebuilds on every call, made once.
        self.known_cat_bitsets, self.f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        self.predictors = model._predictors
        self.baseline = model._baseline_prediction

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """The matrix the trees read: the model's internal encoding of `X` (categories first)."""
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.n_features or X.shape[0] == 0:
            return self._checked(X)
        if self.encoder_columns is None or self.categorical is None:
            return X if X.dtype == np.float64 else self._checked(X)
        if not self.supported or X.dtype != np.float64:
            return self._checked(X)
        assert self.categorical is not None
        out = np.empty(X.shape, dtype=np.float64)
        for i, (column, encoder) in enumerate(zip(self.categorical, self.encoder_columns, strict=True)):
            out[:, i] = encoder.codes(X[:, column])
        out[:, self.categorical.size :] = X[:, self.numerical]
        return out

    def _checked(self, X: Any) -> np.ndarray:
        return self.model._preprocess_X(X, reset=False)

    def raw_predict(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """The sum of the trees' leaf values per row and class, as the model's ``_raw_predict``:
        the same predictors in the same order, added to the baseline the same way."""
        if not self.fast:
            return self.model._raw_predict(X)
        inputs = self.inputs(X)
        raw = np.zeros(
            (inputs.shape[0], self.model.n_trees_per_iteration_), dtype=self.baseline.dtype, order="F"
        )
        raw += self.baseline
        columns = [raw[:, k] for k in range(raw.shape[1])]  # views: each class's column added in place
        bitsets, f_idx_map = self.known_cat_bitsets, self.f_idx_map
        for predictors_of_iteration in self.predictors:
            for column, predictor in zip(columns, predictors_of_iteration, strict=True):
                column += predictor.predict(inputs, bitsets, f_idx_map, threads)
        return raw

    def predict(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """The model's ``predict(X)``: values for a regressor, classes for a classifier."""
        if not self.fast:
            return self.model.predict(X)
        raw = self.raw_predict(X, threads)
        if not hasattr(self.model, "classes_"):
            return self.model._loss.link.inverse(raw.ravel())
        if raw.shape[1] == 1:
            return self.model.classes_[(raw.ravel() > 0).astype(int)]
        return self.model.classes_[np.argmax(raw, axis=1)]

    def predict_proba(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """The classifier's ``predict_proba(X)``."""
        if not self.fast:
            return self.model.predict_proba(X)
        return self.model._loss.predict_proba(self.raw_predict(X, threads))


class PreparedModel:
    """A fitted OpsLab pipeline (``training.build_model``: ColumnTransformer + HistGradientBoosting)
    read once: ``encode`` is its column transformer, ``trees`` its estimator."""

    def __init__(self, model: Any) -> None:
        self.model = model
        numeric, categorical = model.opslab_features_
        self.numeric, self.categorical = list(numeric), list(categorical)
        estimator = model.named_steps["model"]
        # Only HistGradientBoosting's fitted trees are read; any other estimator predicts itself.
        is_hgb = hasattr(estimator, "_predictors") and hasattr(estimator, "_bin_mapper")
        self.trees = tree_ensemble(estimator) if is_hgb else None
        columns = model.named_steps["columns"]
        numeric_step = columns.transformers_[0][1] if columns.transformers_ else None
        encoder = columns.named_transformers_["categorical"] if self.categorical else None
        self.encoder_columns = [] if encoder is None else _encoder_columns(encoder, -1.0)
        indices = columns.output_indices_
        self.supported = (
            self.encoder_columns is not None
            and len(self.encoder_columns) == len(self.categorical)
            and [name for name, *_ in columns.transformers_] == ["numeric", "categorical"]
            and (numeric_step == "passthrough" or getattr(numeric_step, "func", "") is None)
            and indices["numeric"] == slice(0, len(self.numeric))
            and indices["categorical"]
            == (
                slice(len(self.numeric), len(self.numeric) + len(self.categorical))
                if self.categorical
                else slice(0, 0)
            )
        )

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """``model.named_steps["columns"].transform(model_inputs(frame, numeric, categorical))``."""
        fast = self._encode(frame) if self.supported and len(frame) else None
        if fast is not None:
            return fast
        return self.model.named_steps["columns"].transform(
            model_inputs(frame, self.numeric, self.categorical)
        )

    def _encode(self, frame: pd.DataFrame) -> np.ndarray | None:
        numeric = [frame[name] for name in self.numeric]
        categorical = [frame[name] for name in self.categorical]
        if not all(isinstance(column, pd.Series) for column in numeric + categorical):
            return None  # a repeated column name: the transformer says what is wrong
        dtypes = [column.dtype for column in numeric]
        # The transformer stacks the numeric columns beside float64 codes: numpy's common type.
        if not all(isinstance(dtype, np.dtype) and dtype.kind in "iuf" for dtype in dtypes):
            return None
        dtype = np.result_type(*dtypes, *([np.float64] if categorical else []))
        out = np.empty((len(frame), len(numeric) + len(categorical)), dtype=dtype)
        for i, column in enumerate(numeric):
            out[:, i] = column.to_numpy()
        assert self.encoder_columns is not None  # supported
        for i, (column, encoder) in enumerate(zip(categorical, self.encoder_columns, strict=True)):
            codes = encoder.codes(_category_values(column))
            if codes is None:
                return None
            out[:, len(numeric) + i] = codes
        return out

    def predict_encoded(self, encoded: np.ndarray, threads: int = 1) -> np.ndarray:
        """The estimator's ``predict`` on a matrix from ``encode``."""
        if self.trees is None:
            return self.model.named_steps["model"].predict(encoded)
        return self.trees.predict(encoded, threads)

    def predict_proba_encoded(self, encoded: np.ndarray, threads: int = 1) -> np.ndarray:
        """The estimator's ``predict_proba`` on a matrix from ``encode``."""
        if self.trees is None:
            return self.model.named_steps["model"].predict_proba(encoded)
        return self.trees.predict_proba(encoded, threads)

    def predict(self, frame: pd.DataFrame, threads: int = 1) -> np.ndarray:
        """``model.predict(model_inputs(frame, ...))``."""
        return self.predict_encoded(self.encode(frame), threads)


def model_inputs(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The model's input columns. The fitted Pipeline needs nothing more, so the service can call
    `model.predict` on a frame built from JSON rows with the same column names."""
    out = frame[list(numeric) + list(categorical)].copy()
    for column in categorical:
        # Number-coded categories (season 1-4) stay numbers, so rows from JSON match them;
        # text categories become plain Python objects (pandas 3's string dtype is not accepted).
        is_number = pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column])
        out[column] = out[column].astype(np.float64 if is_number else object)
    return out


def _category_values(column: pd.Series) -> np.ndarray:
    """The values `model_inputs` gives the encoder (one column as it converts it): number-coded categories as float64,
    anything else as Python objects."""
    dtype = column.dtype
    is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if is_number and isinstance(dtype, np.dtype):
        return column.to_numpy().astype(np.float64, copy=False)
    return column.astype(np.float64 if is_number else object).to_numpy()


def tree_ensemble(model: Any) -> TreeEnsemble:
    """The fitted HistGradientBoosting `model` prepared for fast prediction, once per model."""
    prepared = _CACHE.get(model)
    if prepared is None:
        prepared = _CACHE[model] = TreeEnsemble(model)
    return prepared


def prepared_model(model: Any) -> PreparedModel:
    """The fitted OpsLab pipeline `model` prepared for fast encoding and prediction, once per model."""
    prepared = _CACHE.get(model)
    if prepared is None:
        prepared = _CACHE[model] = PreparedModel(model)
    return prepared
