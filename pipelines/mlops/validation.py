"""The data's unit tests, run by the `validate` step before anything is trained on a window.

Each check looks at one property of one column and says, when it fails, which column and how many
rows: schema (expected columns present), types (numeric columns numeric, the time column dates),
the target (present, no gaps, two classes for a classifier), missing values, ranges, categories and
duplicate timestamps.

Where the expectations come from:
- named sources ("simulated", "bike-sharing") have a schema in the catalogue: physical ranges
  (temp in [0, 1], hr in 0..23), the codes of each categorical column, no missing values, one row an
  hour. A temperature that arrives in Fahrenheit ((C x 9/5 + 32) / 41, e.g. 1.68 for 20.5 C) fails
  the range check: the "silent data bug" is loud here.
- any other data is compared with a reference frame (the window the current model was trained on),
  when there is one: numeric values may leave the reference's range by at most `range_tolerance` of
  its width (except counters, columns that only grow in the reference), a column may have at most `missing_tolerance` more missing values than the reference,
  timestamps must stay unique when they were unique. Categories the reference never saw are a warning,
  not a failure: they happen in healthy data and the model's encoder ignores them. Without a
  reference, only what can be judged alone is checked (a column entirely empty fails).
The target is never range-checked against a reference: its level moving is prior drift, a fact
about the world that monitoring reports, not a data bug.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.mlops.sources import Dataset, DataSourceError, catalogue_entry

__all__ = ["Check", "ColumnSpec", "Schema", "ValidationReport", "validate_frame"]

RANGE_TOLERANCE = 0.5
MISSING_TOLERANCE = 0.05
# Past a range learnt from a reference, up to this share of rows is a warning, more an error.
OUTLIER_SHARE = 0.05


@dataclass(frozen=True)
class ColumnSpec:
    """What one column must look like. Bounds and codes are None when the source does not fix them."""

    name: str
    kind: str  # "numeric" | "categorical"
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Schema:
    """The expectations for a dataset's frame; `catalogued` ones carry ranges and codes."""

    name: str
    time_column: str
    target: str
    task: str
    features: tuple[ColumnSpec, ...]
    target_spec: ColumnSpec
    unique_time: bool | None = None  # None: unique when the reference's timestamps are
    catalogued: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time_column, *(spec.name for spec in self.features), self.target)

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Schema:
        if dataset.catalogued:
            entry = catalogue_entry(dataset.name)
            by_name = {column["name"]: column for column in entry["schema"]["columns"]}

            def spec(name: str, kind: str) -> ColumnSpec:
                column = by_name.get(name, {})
                allowed = column.get("allowed")
                return ColumnSpec(
                    name=name,
                    kind=kind,
                    minimum=column.get("min"),
                    maximum=column.get("max"),
                    allowed=tuple(allowed) if allowed is not None else None,
                )

            return cls(
                name=dataset.name,
                time_column=dataset.time_column,
                target=dataset.target,
                task=dataset.task,
                features=tuple(
                    [spec(n, "numeric") for n in dataset.numeric]
                    + [spec(n, "categorical") for n in dataset.categorical]
                ),
                target_spec=spec(
                    dataset.target, "numeric" if dataset.task == "regression" else "categorical"
                ),
                unique_time=bool(entry["schema"].get("unique_time", False)),
                catalogued=True,
            )
        return cls(
            name=dataset.name,
            time_column=dataset.time_column,
            target=dataset.target,
            task=dataset.task,
            features=tuple(
                [ColumnSpec(n, "numeric") for n in dataset.numeric]
                + [ColumnSpec(n, "categorical") for n in dataset.categorical]
            ),
            target_spec=ColumnSpec(
                dataset.target, "numeric" if dataset.task == "regression" else "categorical"
            ),
            unique_time=None,
            catalogued=False,
        )


@dataclass(frozen=True)
class Check:
    """One test on the data. `failing_rows` counts the rows that break it (0 when it passed)."""

    name: str  # rows | columns | types | target | missing | range | categories | duplicate_timestamps
    column: str | None
    passed: bool
    failing_rows: int
    message: str
    severity: str = "error"  # "error" fails the report, "warning" is only shown


@dataclass(frozen=True)
class ValidationReport:
    checks: tuple[Check, ...]
    rows: int

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed and c.severity == "error")

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed and c.severity != "error")

    def summary(self) -> str:
        """Readable text: a headline, then one line per failed check and per warning."""
        if self.ok:
            head = f"validation passed: {len(self.checks)} checks on {self.rows:,} rows"
        else:
            head = (
                f"validation failed: {len(self.failures)} of {len(self.checks)} checks failed "
                f"on {self.rows:,} rows"
            )
        lines = [head]
        lines += [f"  FAIL {c.name}: {c.message}" for c in self.failures]
        lines += [f"  WARN {c.name}: {c.message}" for c in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics for the validate step."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "checks": len(self.checks),
            "passed": sum(c.passed for c in self.checks),
            "failed": [asdict(c) for c in self.failures],
            "warnings": [asdict(c) for c in self.warnings],
        }


def validate_frame(
    frame: pd.DataFrame,
    *,
    dataset_or_schema: Dataset | Schema | str,
    reference: pd.DataFrame | None = None,
    range_tolerance: float = RANGE_TOLERANCE,
    missing_tolerance: float = MISSING_TOLERANCE,
) -> ValidationReport:
    """Run the data's unit tests on `frame`; `reference` is the data the current model learnt from."""
    schema = _as_schema(dataset_or_schema)
    rows = len(frame)
    checks: list[Check] = []
    if rows == 0:
        checks.append(Check("rows", None, False, 0, "the data has no rows"))
        return ValidationReport(tuple(checks), 0)
    checks.append(Check("rows", None, True, 0, f"{rows:,} rows"))

    present = [c for c in schema.columns if c in frame.columns]
    missing_columns = [c for c in schema.columns if c not in frame.columns]
    for column in missing_columns:
        checks.append(
            Check(
                "columns",
                column,
                False,
                rows,
                f"{column}: expected column is missing (columns are: {', '.join(map(str, frame.columns))})",
            )
        )
    if not missing_columns:
        checks.append(Check("columns", None, True, 0, f"all {len(schema.columns)} expected columns present"))
    usable = set(present)

    checks += _check_types(frame, schema, usable)
    numeric_ok = {c.column for c in checks if c.name == "types" and c.passed}

    if schema.target in usable:
        checks.append(_check_target(frame, schema))
    for spec in schema.features:
        if spec.name in usable:
            checks.append(_check_missing(frame, spec.name, schema, reference, missing_tolerance))
    if schema.time_column in usable:
        checks.append(_check_missing(frame, schema.time_column, schema, reference, missing_tolerance))

    for spec in (*schema.features, schema.target_spec):
        if spec.name not in usable:
            continue
        if spec.kind == "numeric" and spec.name in numeric_ok:
            check = _check_range(frame, spec, schema, reference, range_tolerance)
            if check is not None:
                checks.append(check)
        elif spec.kind == "categorical" and spec.name != schema.target:
            check = _check_categories(frame, spec, schema, reference)
            if check is not None:
                checks.append(check)

    if schema.time_column in usable:
        check = _check_duplicate_times(frame, schema, reference)
        if check is not None:
            checks.append(check)
    return ValidationReport(tuple(checks), rows)


def _as_schema(dataset_or_schema: Dataset | Schema | str) -> Schema:
    if isinstance(dataset_or_schema, Schema):
        return dataset_or_schema
    if isinstance(dataset_or_schema, Dataset):
        return Schema.from_dataset(dataset_or_schema)
    if isinstance(dataset_or_schema, str):
        entry = catalogue_entry(dataset_or_schema)
        specs = {c["name"]: c for c in entry["schema"]["columns"]}
        numeric = tuple(n for n, c in specs.items() if c["role"] == "feature" and c["kind"] == "numeric")
        categorical = tuple(
            n for n, c in specs.items() if c["role"] == "feature" and c["kind"] == "categorical"
        )
        stub = Dataset(
            name=entry["name"],
            frame=pd.DataFrame(),
            time_column=entry["time_column"],
            target=entry["target"],
            task=entry["task"],
            numeric=numeric,
            categorical=categorical,
            description=entry["description"],
        )
        return Schema.from_dataset(stub)
    raise DataSourceError(
        f"cannot validate against {dataset_or_schema!r}: give a Dataset, a Schema or a dataset name."
    )


def _show(value: object) -> str:
    """A value as people write it: 'text' quoted, numbers plain (no np.int64(...))."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def _check_types(frame: pd.DataFrame, schema: Schema, usable: set[str]) -> list[Check]:
    checks: list[Check] = []
    rows = len(frame)
    time_column = schema.time_column
    if time_column in usable:
        if pd.api.types.is_datetime64_any_dtype(frame[time_column].dtype):
            checks.append(Check("types", time_column, True, 0, f"{time_column}: dates"))
        else:
            checks.append(
                Check(
                    "types",
                    time_column,
                    False,
                    rows,
                    f"{time_column}: expected dates, found {frame[time_column].dtype} values",
                )
            )
    for spec in (*schema.features, schema.target_spec):
        if spec.kind != "numeric" or spec.name not in usable:
            continue
        series = frame[spec.name]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            checks.append(Check("types", spec.name, True, 0, f"{spec.name}: numeric"))
            continue
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna()
        count = int(bad.sum()) if bad.any() else rows
        example = f" (e.g. {_show(series[bad].iloc[0])})" if bad.any() else ""
        checks.append(
            Check(
                "types",
                spec.name,
                False,
                count,
                f"{spec.name}: {count:,} of {rows:,} rows are not numeric{example}; found {series.dtype} values",
            )
        )
    return checks


def _check_target(frame: pd.DataFrame, schema: Schema) -> Check:
    target = frame[schema.target]
    rows = len(frame)
    empty = int(target.isna().sum())
    if empty:
        return Check(
            "target",
            schema.target,
            False,
            empty,
            f"{schema.target}: target is empty in {empty:,} of {rows:,} rows",
        )
    if schema.task == "classification" and target.nunique() < 2:
        return Check(
            "target",
            schema.target,
            False,
            rows,
            f"{schema.target}: a single class ({_show(target.iloc[0])}) in all {rows:,} rows; "
            f"a classifier needs at least two",
        )
    return Check("target", schema.target, True, 0, f"{schema.target}: present in every row")


def _check_missing(
    frame: pd.DataFrame, column: str, schema: Schema, reference: pd.DataFrame | None, tolerance: float
) -> Check:
    rows = len(frame)
    empty = int(frame[column].isna().sum())
    share = empty / rows
    if schema.catalogued or column == schema.time_column:
        allowed, basis = 0.0, "none expected"
    elif reference is not None and column in reference.columns and len(reference):
        reference_share = float(reference[column].isna().mean())
        allowed = reference_share + tolerance
        basis = f"reference {reference_share:.0%} + {tolerance:.0%}"
    else:
        allowed, basis = 1.0 - 1e-12, "only an empty column fails without a reference"
    if share > allowed:
        return Check(
            "missing", column, False, empty, f"{column}: {empty:,} of {rows:,} rows missing ({basis})"
        )
    return Check("missing", column, True, 0, f"{column}: {empty:,} of {rows:,} rows missing")


def _bounds(
    spec: ColumnSpec, schema: Schema, reference: pd.DataFrame | None, tolerance: float
) -> tuple[float | None, float | None, str]:
    if schema.catalogued:
        return spec.minimum, spec.maximum, ""
    if spec.name == schema.target or reference is None or spec.name not in reference.columns:
        return None, None, ""
    values = pd.to_numeric(reference[spec.name], errors="coerce").dropna()
    if values.empty:
        return None, None, ""
    if len(values) > 10 and values.is_monotonic_increasing and values.is_unique:
        return None, None, ""  # a counter: growing past the reference is what it does
    low, high = float(values.min()), float(values.max())
    margin = tolerance * (high - low) if high > low else tolerance * max(abs(high), 1.0)
    return (
        low - margin,
        high + margin,
        f" (reference [{_number(low)}, {_number(high)}] widened by {tolerance:.0%})",
    )


def _check_range(
    frame: pd.DataFrame, spec: ColumnSpec, schema: Schema, reference: pd.DataFrame | None, tolerance: float
) -> Check | None:
    low, high, basis = _bounds(spec, schema, reference, tolerance)
    if low is None and high is None:
        return None
    values = frame[spec.name].to_numpy(dtype=float, na_value=np.nan)
    below = values < low if low is not None else np.zeros(len(values), dtype=bool)
    above = values > high if high is not None else np.zeros(len(values), dtype=bool)
    if low is not None and high is not None:
        interval = f"[{_number(low)}, {_number(high)}]"
    elif low is not None:
        interval = f">= {_number(low)}"
    else:
        interval = f"<= {_number(high)}"  # type: ignore[arg-type]
    failing = int(below.sum() + above.sum())
    rows = len(frame)
    if failing:
        extremes = []
        if below.any():
            extremes.append(f"min {_number(float(np.nanmin(values)))}")
        if above.any():
            extremes.append(f"max {_number(float(np.nanmax(values)))}")
        # A catalogued range is a fact about the data (temp is °C/41, never above 1): any row past it
        # is a bug. A range learnt from a reference window only says what was seen: a few rows past
        # it are the world (a price spike), a large share is a unit or scale change.
        severity = "error" if schema.catalogued or failing / rows > OUTLIER_SHARE else "warning"
        return Check(
            "range",
            spec.name,
            False,
            failing,
            f"{spec.name}: {failing:,} of {rows:,} rows out of range {interval}{basis} ({', '.join(extremes)})",
            severity,
        )
    return Check("range", spec.name, True, 0, f"{spec.name}: all values in {interval}{basis}")


def _check_categories(
    frame: pd.DataFrame, spec: ColumnSpec, schema: Schema, reference: pd.DataFrame | None
) -> Check | None:
    series = frame[spec.name]
    if schema.catalogued and spec.allowed is not None:
        known: pd.Series | list[Any] = list(spec.allowed)
        basis, severity = f"allowed: {', '.join(map(str, spec.allowed))}", "error"
    elif reference is not None and spec.name in reference.columns:
        known = reference[spec.name].dropna().unique().tolist()
        basis, severity = "not in the reference data", "warning"
    else:
        return None
    unseen = series.notna() & ~series.isin(known)
    failing = int(unseen.sum())
    if failing:
        values = pd.unique(series[unseen])
        shown = ", ".join(_show(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        return Check(
            "categories",
            spec.name,
            False,
            failing,
            f"{spec.name}: {failing:,} of {len(frame):,} rows have unseen categories {shown} ({basis})",
            severity,
        )
    return Check("categories", spec.name, True, 0, f"{spec.name}: no unseen categories", severity)


def _check_duplicate_times(
    frame: pd.DataFrame, schema: Schema, reference: pd.DataFrame | None
) -> Check | None:
    column = schema.time_column
    unique = schema.unique_time
    if unique is None:
        if reference is None or column not in reference.columns:
            return None
        unique = bool(reference[column].is_unique)
    if not unique:
        return None
    times = frame[column]
    duplicated = times.duplicated(keep=False) & times.notna()
    failing = int(duplicated.sum())
    if failing:
        distinct = times[duplicated].nunique()
        first = times[duplicated].min()
        return Check(
            "duplicate_timestamps",
            column,
            False,
            failing,
            f"{column}: {failing:,} rows share {distinct:,} timestamps (first {first})",
        )
    return Check("duplicate_timestamps", column, True, 0, f"{column}: every timestamp once")
