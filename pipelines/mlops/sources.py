"""Data sources of the MLOps pipeline: the catalogue, the loaders and the UCI download.

Three kinds of source give the same `Dataset`:
- "simulated": the built-in bike-demand world (`pipelines.mlops.simulator`), offline and seeded;
- "bike-sharing": the UCI Bike Sharing hourly file, fetched by `fetch_dataset`, verified by sha256;
- a path to a CSV or Parquet file with a time column and a target.

The catalogue below is the source of truth; `datasets/catalogue.json` is its rendering for people and
other tools (`catalogue_json()` writes it, a test keeps the two equal). It lives in code so that an
installed package, which has no `datasets/` folder, still knows its sources.

Every failure a user can cause (a missing file, a misspelt column, a target with gaps, a wrong hash)
raises `DataSourceError` with one sentence that says what is wrong and what to do.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import io
import json
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.mlops.simulator import SimulatorSettings, simulate

__all__ = [
    "CATALOGUE",
    "DATA_DIR_ENV",
    "DataSourceError",
    "Dataset",
    "catalogue_entry",
    "catalogue_json",
    "fetch_dataset",
    "fingerprint",
    "infer_feature_kind",
    "infer_task",
    "list_datasets",
    "load_dataset",
    "preview_table",
    "window",
]

DATA_DIR_ENV = "OPSLAB_DATA_DIR"
# A numeric column with at most this many distinct whole values is a code (season, weekday), and a
# target with at most this many distinct values is a class label.
FEW_VALUES = 10
DEFAULT_SIMULATOR = SimulatorSettings()
FETCH_TIMEOUT_SECONDS = 60


class DataSourceError(OpsLabError):
    """A data source cannot be used; the message is one sentence for the person who asked."""


# Columns shared by the simulator and the prepared UCI file; ranges are what the data's unit tests
# check (`pipelines.mlops.validation`). `allowed` lists a categorical column's codes.
_BIKE_COLUMNS: list[dict[str, Any]] = [
    {"name": "timestamp", "role": "time", "kind": "time", "description": "start of the hour (dteday + hr)"},
    {"name": "season", "role": "feature", "kind": "categorical", "allowed": [1, 2, 3, 4],
     "description": "1 winter, 2 spring, 3 summer, 4 autumn (astronomical: from 21 Dec, 21 Mar, 21 Jun, 23 Sep)"},
    {"name": "yr", "role": "context", "kind": "numeric", "min": 0,
     "description": "years since the first year (0 = 2011 in UCI); kept in the frame, not a feature: "
                    "a deployed model would meet a value it never saw each new year"},
    {"name": "mnth", "role": "feature", "kind": "numeric", "min": 1, "max": 12, "description": "month 1-12"},
    {"name": "hr", "role": "feature", "kind": "numeric", "min": 0, "max": 23, "description": "hour of day 0-23"},
    {"name": "holiday", "role": "feature", "kind": "categorical", "allowed": [0, 1],
     "description": "1 on US federal holidays and DC Emancipation Day"},
    {"name": "weekday", "role": "feature", "kind": "numeric", "min": 0, "max": 6,
     "description": "day of week, 0 Sunday to 6 Saturday"},
    {"name": "workingday", "role": "feature", "kind": "categorical", "allowed": [0, 1],
     "description": "1 when neither weekend nor holiday"},
    {"name": "weathersit", "role": "feature", "kind": "categorical", "allowed": [1, 2, 3, 4],
     "description": "1 clear, 2 mist or cloudy, 3 light rain or snow, 4 heavy rain, ice or snow"},
    {"name": "temp", "role": "feature", "kind": "numeric", "min": 0.0, "max": 1.0,
     "description": "temperature, degrees C / 41"},
    {"name": "atemp", "role": "feature", "kind": "numeric", "min": 0.0, "max": 1.0,
     "description": "felt temperature, degrees C / 50"},
    {"name": "hum", "role": "feature", "kind": "numeric", "min": 0.0, "max": 1.0,
     "description": "relative humidity, % / 100"},
    {"name": "windspeed", "role": "feature", "kind": "numeric", "min": 0.0, "max": 1.0,
     "description": "wind speed, km/h / 67; 0 means calm (below 6 km/h), about 12 % of hours"},
    {"name": "cnt", "role": "target", "kind": "numeric", "min": 0,
     "description": "bike rentals in the hour"},
]  # fmt: skip

CATALOGUE: dict[str, Any] = {
    "version": 1,
    "datasets": [
        {
            "name": "simulated",
            "description": "OpsLab's simulated bike-demand world: two years of hourly rentals in the UCI "
            "schema, seeded, with drift injections (built in, works offline).",
            "files": [],
            "sha256": None,
            "url": None,
            "archive": None,
            "licence": "MIT, part of OpsLab",
            "citation": None,
            "time_column": "timestamp",
            "target": "cnt",
            "task": "regression",
            "schema": {"unique_time": True, "columns": _BIKE_COLUMNS},
            "dropped": {},
        },
        {
            "name": "bike-sharing",
            "description": "UCI Bike Sharing, hourly rentals of Capital Bikeshare in Washington D.C., "
            "2011-2012, with weather and holidays.",
            "files": ["bike_sharing_hour.csv", "hour.csv"],
            "sha256": "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f",
            "bytes": 1156736,
            "url": "https://archive.ics.uci.edu/dataset/275/bike+sharing+dataset",
            "doi": "10.24432/C5W894",
            "archive": {
                "url": "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip",
                "sha256": "b70182d0d0508e9abbb79306ce5c0cec34869000f8220175ac83d11dbe845401",
                "member": "hour.csv",
            },
            "licence": "CC BY 4.0",
            "citation": "Fanaee-T, H. and Gama, J. (2013). Event labeling combining ensemble detectors "
            "and background knowledge. Progress in Artificial Intelligence 2, 113-127. "
            "doi:10.1007/s13748-013-0040-3",
            "time_column": "timestamp",
            "target": "cnt",
            "task": "regression",
            "schema": {"unique_time": True, "columns": _BIKE_COLUMNS},
            "dropped": {
                "instant": "row number, carries no information about demand",
                "dteday": "folded into timestamp together with hr",
                "casual": "target leakage: cnt = casual + registered, both known only after the hour",
                "registered": "target leakage: cnt = casual + registered, both known only after the hour",
            },
        },
    ],
}

_BIKE_CATEGORICAL = ("season", "holiday", "workingday", "weathersit")
_BIKE_NUMERIC = ("mnth", "hr", "weekday", "temp", "atemp", "hum", "windspeed")


@dataclass(frozen=True)
class Dataset:
    """A time-ordered table ready for the pipeline: features, a target and where it came from."""

    name: str
    frame: pd.DataFrame
    time_column: str
    target: str
    task: str  # "regression" | "classification"
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    description: str
    credit: str | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def catalogued(self) -> bool:
        """True for a named source whose schema (ranges, codes) is in the catalogue."""
        return any(entry["name"] == self.name for entry in CATALOGUE["datasets"])


def catalogue_entry(name: str) -> dict[str, Any]:
    """A copy of the catalogue entry of a named source."""
    for entry in CATALOGUE["datasets"]:
        if entry["name"] == name:
            return copy.deepcopy(entry)
    raise DataSourceError(
        f"unknown dataset {name!r}; known datasets are {_known_names()}, or give a path to a .csv or .parquet file."
    )


def catalogue_json() -> str:
    """The catalogue as `datasets/catalogue.json` holds it."""
    return json.dumps(CATALOGUE, indent=2, ensure_ascii=False) + "\n"


def _known_names() -> str:
    return ", ".join(entry["name"] for entry in CATALOGUE["datasets"])


# --------------------------------------------------------------------------------------------------
# Loading


def load_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    time_column: str | None = None,
    target: str | None = None,
    task: str | None = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    simulator: SimulatorSettings = DEFAULT_SIMULATOR,
) -> Dataset:
    """Load a named source ("simulated", "bike-sharing") or a CSV/Parquet file by path."""
    if task is not None and task not in ("regression", "classification"):
        raise DataSourceError(f"task must be regression or classification, not {task!r}.")
    text = os.fspath(name_or_path)
    if text == "simulated":
        return _load_simulated(simulator)
    if text == "bike-sharing":
        return _load_bike_sharing(data_dir)
    path = Path(text).expanduser()
    if path.suffix.lower() in (".csv", ".parquet", ".pq"):
        return _load_file(
            path, time_column=time_column, target=target, task=task, categorical=categorical, numeric=numeric
        )
    if path.suffix or path.exists():
        what = (
            f"a {path.suffix} file"
            if path.suffix
            else "a folder"
            if path.is_dir()
            else "a file without an extension"
        )
        raise DataSourceError(
            f"data file {path} is {what}, but only .csv and .parquet files can be read; save it as CSV or Parquet."
        )
    raise DataSourceError(
        f"unknown dataset {text!r}; known datasets are {_known_names()}, or give a path to a .csv or .parquet file."
    )


def _load_simulated(settings: SimulatorSettings) -> Dataset:
    entry = catalogue_entry("simulated")
    frame = simulate(settings)
    drift = ", ".join(f"{d.type} {d.pattern} from week {d.onset_week}" for d in settings.injections)
    bugs = ", ".join(f"{u.kind} {u.column} from week {u.onset_week}" for u in settings.upstream_changes)
    details = f"{settings.weeks} weeks from {settings.start}, seed {settings.seed}"
    if drift:
        details += f"; drift: {drift}"
    if bugs:
        details += f"; upstream changes: {bugs}"
    return Dataset(
        name="simulated",
        frame=frame,
        time_column="timestamp",
        target="cnt",
        task="regression",
        numeric=_BIKE_NUMERIC,
        categorical=_BIKE_CATEGORICAL,
        description=f"{entry['description']} ({details})",
        credit=None,
    )


def _data_dirs(data_dir: str | os.PathLike[str] | None) -> list[tuple[str, Path]]:
    """Where named files are looked for, in order, each with how to name it in a message."""
    places: list[tuple[str, Path]] = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        places.append((f"${DATA_DIR_ENV} ({env})", Path(env).expanduser()))
    if data_dir is not None:
        places.append((str(data_dir), Path(data_dir).expanduser()))
    return places


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_file(entry: Mapping[str, Any], data_dir: str | os.PathLike[str] | None) -> Path | None:
    for _, folder in _data_dirs(data_dir):
        for file_name in entry["files"]:
            candidate = folder / file_name
            if candidate.is_file():
                return candidate
    return None


def _missing_file_message(entry: Mapping[str, Any], data_dir: str | os.PathLike[str] | None) -> str:
    places = [label for label, _ in _data_dirs(data_dir)]
    if places:
        where = f"in {' or '.join(places)}"
    else:
        where = f"(no data directory was given and ${DATA_DIR_ENV} is not set)"
    names = " or ".join(entry["files"])
    return (
        f"{entry['name']} data ({names}) not found {where}; run `opslab datasets fetch {entry['name']}` "
        f"or set {DATA_DIR_ENV} to a folder holding {entry['archive']['member']}."
    )


def _verified_file(entry: Mapping[str, Any], data_dir: str | os.PathLike[str] | None) -> Path:
    path = _find_file(entry, data_dir)
    if path is None:
        raise DataSourceError(_missing_file_message(entry, data_dir))
    actual = _sha256_file(path)
    if actual != entry["sha256"]:
        raise DataSourceError(
            f"{path} has sha256 {actual} but the UCI file has {entry['sha256']}; it was edited or re-saved, "
            f"so delete it and run `opslab datasets fetch {entry['name']}`."
        )
    return path


def _load_bike_sharing(data_dir: str | os.PathLike[str] | None) -> Dataset:
    entry = catalogue_entry("bike-sharing")
    path = _verified_file(entry, data_dir)
    raw = pd.read_csv(path)
    timestamp = pd.to_datetime(raw["dteday"], format="%Y-%m-%d") + pd.to_timedelta(raw["hr"], unit="h")
    frame = raw.drop(columns=list(entry["dropped"]))
    frame.insert(0, "timestamp", timestamp)
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return Dataset(
        name="bike-sharing",
        frame=frame,
        time_column="timestamp",
        target="cnt",
        task="regression",
        numeric=_BIKE_NUMERIC,
        categorical=_BIKE_CATEGORICAL,
        description=entry["description"],
        credit=f"{entry['citation']} Licence: {entry['licence']} (UCI Machine Learning Repository, doi:{entry['doi']}).",
    )


# The whole table is held in memory several times over (parsed, copied, windowed): a file past this
# size is refused by its size alone, before a byte of it is read.
MAX_FILE_BYTES = 100 * 2**20
# Every feature is tested for drift each week and kept in the drift table: past this many columns a
# play would record more drift rows than a person can read, and the model more inputs than rows.
MAX_COLUMNS = 500
# A single row is no timeline: every later check (task, constant target, one time) would name a
# symptom of it instead. Too few rows for a training window are refused by the run (its min_rows).
MIN_ROWS = 2
_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def _refuse_unreadable(path: Path) -> None:
    """Refuse what is not a readable file of a sane size, before reading any of it."""
    if path.is_dir():
        raise DataSourceError(
            f"data file {path} is a folder, not a file; give the path of a .csv or .parquet file."
        )
    if not path.is_file():
        raise DataSourceError(f"data file {path} does not exist.")
    size = path.stat().st_size
    if size == 0:
        raise DataSourceError(f"data file {path} is empty.")
    if size > MAX_FILE_BYTES:
        raise DataSourceError(
            f"data file {path} is {size / 2**20:,.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB OpsLab "
            "reads (it holds the whole table in memory); keep fewer rows or columns and save it again."
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        raise DataSourceError(
            f"data file {path} cannot be opened ({exc.strerror or exc}); check its permissions."
        ) from exc
    if path.suffix.lower() == ".csv" and b"\0" in head:
        raise DataSourceError(
            f"data file {path} is binary, not CSV text; export it as CSV (comma-separated, UTF-8)."
        )


def _refuse_nested(frame: pd.DataFrame, path: Path) -> None:
    """A Parquet column of structs, lists or maps is not one value per row: name it, do not crash on it."""
    for name in frame.columns:
        values = frame[name]
        if not pd.api.types.is_object_dtype(values.dtype):
            continue
        sample = values.dropna().head(50)
        if any(isinstance(v, dict | list | tuple | np.ndarray) for v in sample):
            raise DataSourceError(
                f"column {str(name)!r} in {path.name} holds nested values (lists or records), not one value "
                "per row; flatten it into plain columns or drop it, and save the file again."
            )


def preview_table(path: str | os.PathLike[str], rows: int = 50) -> pd.DataFrame:
    """The first `rows` rows of a CSV or Parquet file, with the loader's refusals (size, binary,
    delimiter, nested columns, encoding) as `DataSourceError` sentences: what an upload shows first."""
    return _read_table(Path(path), nrows=rows)


def _read_table(path: Path, nrows: int | None = None) -> pd.DataFrame:
    _refuse_unreadable(path)
    csv = path.suffix.lower() == ".csv"
    try:
        if csv:
            columns = pd.read_csv(path, nrows=0).columns
            if len(columns) > MAX_COLUMNS:
                raise DataSourceError(
                    f"data file {path} has {len(columns):,} columns; OpsLab learns from at most {MAX_COLUMNS} "
                    "(each is tested for drift every week), so keep the columns that matter."
                )
            frame = pd.read_csv(path, nrows=nrows)
        else:
            import pyarrow.parquet as pq

            count = len(pq.read_schema(path).names)
            if count > MAX_COLUMNS:
                raise DataSourceError(
                    f"data file {path} has {count:,} columns; OpsLab learns from at most {MAX_COLUMNS} "
                    "(each is tested for drift every week), so keep the columns that matter."
                )
            frame = pd.read_parquet(path)
            frame = frame if nrows is None else frame.head(nrows)
    except pd.errors.EmptyDataError as exc:
        raise DataSourceError(f"data file {path} is empty.") from exc
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"data file {path} is not UTF-8 text; save it as UTF-8 CSV.") from exc
    except PermissionError as exc:
        raise DataSourceError(f"data file {path} cannot be read: permission denied.") from exc
    except (pd.errors.ParserError, ValueError, OSError, ImportError) as exc:
        kind = "CSV" if csv else "Parquet"
        raise DataSourceError(f"data file {path} could not be read as {kind}: {_first_line(exc)}.") from exc
    if csv and len(frame.columns) == 1:
        header = str(frame.columns[0])
        for mark, said in _DELIMITERS.items():
            if mark in header:
                raise DataSourceError(
                    f"data file {path} has one column {_short(header)}: it seems separated by {said}, but OpsLab "
                    "reads comma-separated CSV; save it with commas."
                )
    _refuse_nested(frame, path)
    return frame


def _require_column(name: str | None, what: str, columns: Sequence[str], path: Path, flag: str) -> str:
    listed = ", ".join(map(str, columns))
    if name is None:
        raise DataSourceError(f"{path.name} needs a {what} ({flag}); columns are: {listed}.")
    if name in columns:
        return name
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.6)
    if not close:
        close = [str(c) for c in columns if str(c).lower() == name.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    raise DataSourceError(f"column {name!r} not found in {path.name}{hint} Columns are: {listed}.")


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_time(values: pd.Series, column: str, path: Path) -> pd.Series:
    missing = values.isna()
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0])
        raise DataSourceError(
            f"time column {column!r} in {path.name} is empty in {int(missing.sum()):,} of {len(values):,} rows "
            f"(first at row {first + 2} of the file); fill or drop those rows."
        )
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise DataSourceError(
            f"time column {column!r} in {path.name} holds numbers (e.g. {_short(values.iloc[0])}), not dates; "
            f"give dates such as 2011-01-01 13:00."
        )
    else:
        text = values.astype(str)
        parsed = None
        for fmt in ("ISO8601", "mixed"):
            try:
                parsed = pd.to_datetime(text, format=fmt)
                break
            except (ValueError, TypeError, OverflowError):
                continue
        if parsed is None:
            coerced = pd.to_datetime(text, format="mixed", errors="coerce")
            bad = coerced.isna().to_numpy()
            position = int(np.flatnonzero(bad)[0]) if bad.any() else 0
            raise DataSourceError(
                f"time column {column!r} in {path.name} could not be read as dates: row {position + 2} of the "
                f"file has {_short(text.iloc[position])}."
            )
    if getattr(parsed.dt, "tz", None) is not None:
        # Keep one clock: times with an offset are converted to UTC and stored without a zone.
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _is_categorical_dtype(series: pd.Series) -> bool:
    return bool(
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(series.dtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
    )


def _few_whole_values(series: pd.Series) -> bool:
    values = series.dropna().unique()
    if len(values) == 0 or len(values) > FEW_VALUES:
        return False
    numbers = np.asarray(values, dtype=float)
    return bool(np.all(numbers == np.round(numbers)))


def infer_task(target: pd.Series) -> str:
    """classification when the target is not numeric, is boolean, or has at most 10 distinct values."""
    if _is_categorical_dtype(target) or not pd.api.types.is_numeric_dtype(target.dtype):
        return "classification"
    return "classification" if target.dropna().nunique() <= FEW_VALUES else "regression"


def infer_feature_kind(series: pd.Series) -> str | None:
    """categorical, numeric, or None for a column that is not a usable feature.

    Text, boolean and category columns are categorical, and so are numeric columns with at most 10
    distinct whole values (codes such as weekday or season); other numeric columns are numeric. Left
    out: dates, text columns whose every value is different (identifiers) and, with the series in time
    order, whole numbers that go up by exactly 1 from row to row (a row number like UCI's `instant`).
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
        return None
    if _is_categorical_dtype(series):
        non_null = series.dropna()
        if (
            not pd.api.types.is_bool_dtype(series.dtype)
            and len(non_null) > FEW_VALUES
            and non_null.nunique() == len(non_null)
        ):
            return None
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        if _is_row_number(series):
            return None
        return "categorical" if _few_whole_values(series) else "numeric"
    return None


def _is_row_number(series: pd.Series) -> bool:
    if not pd.api.types.is_integer_dtype(series.dtype) or len(series) <= FEW_VALUES:
        return False
    return bool(np.all(np.diff(series.to_numpy()) == 1))


# Values past this are overflow or a placeholder, never a measurement: squaring one overflows.
LARGEST_VALUE = 1e100


def _refuse_non_finite(values: pd.Series, what: str, path: Path) -> None:
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = ~np.isfinite(numbers) & values.notna() | (numbers.abs() > LARGEST_VALUE)
    if bad.any():
        count = int(bad.sum())
        raise DataSourceError(
            f"{what} in {path.name} holds values too large or infinite to learn from (e.g. "
            f"{_short(values[bad].iloc[0])}) in {count:,} row{'s' if count > 1 else ''}; fix or drop them."
        )


def _refuse_numbers_with_text(values: pd.Series, name: str, path: Path) -> None:
    """A text column that is mostly numbers is a numeric column with bad cells, not a category."""
    if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)):
        return
    present = values.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    text = numbers.isna()
    if len(present) and text.sum() > 0 and (~text).mean() >= 0.5 and present[~text].nunique() > FEW_VALUES:
        raise DataSourceError(
            f"column {name!r} holds numbers but {_short(present[text].iloc[0])} in {int(text.sum()):,} of "
            f"{len(values):,} rows; clean those cells, or pass --categorical {name} to treat it as categories."
        )


def _load_file(
    path: Path,
    *,
    time_column: str | None,
    target: str | None,
    task: str | None,
    categorical: Sequence[str] | None,
    numeric: Sequence[str] | None,
) -> Dataset:
    raw = _read_table(path)
    columns = [str(c) for c in raw.columns]
    raw.columns = columns
    if raw.empty:
        raise DataSourceError(f"data file {path} has no rows, only the header ({', '.join(columns)}).")
    if len(raw) < MIN_ROWS:
        count = len(raw)
        raise DataSourceError(
            f"data file {path} has only {count} row{'s' if count > 1 else ''}; a timeline needs rows at "
            "different times (and a training window at least 100)."
        )
    time_column = _require_column(time_column, "time column", columns, path, "--time-column")
    target = _require_column(target, "target column", columns, path, "--target")
    if time_column == target:
        raise DataSourceError(
            f"the time column and the target are both {target!r}; choose two different columns."
        )
    forced_categorical = [
        _require_column(c, "column", columns, path, "--categorical") for c in categorical or ()
    ]
    forced_numeric = [_require_column(c, "column", columns, path, "--numeric") for c in numeric or ()]
    both = sorted(set(forced_categorical) & set(forced_numeric))
    if both:
        raise DataSourceError(f"column {both[0]!r} is listed as both categorical and numeric; choose one.")
    for name in (*forced_categorical, *forced_numeric):
        if name in (time_column, target):
            raise DataSourceError(
                f"column {name!r} is the time column or the target, so it cannot also be a feature."
            )

    y = raw[target]
    rows = len(raw)
    empty = int(y.isna().sum())
    if empty == rows:
        raise DataSourceError(f"target {target!r} in {path.name} has no values: all {rows:,} rows are empty.")
    if empty:
        raise DataSourceError(
            f"target {target!r} in {path.name} is empty in {empty:,} of {rows:,} rows; drop or fill those rows first."
        )
    # A constant number is not a class label: say so before the task is guessed from few values.
    if y.nunique() < 2 and pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype):
        raise DataSourceError(
            f"target {target!r} in {path.name} has the same value ({_short(y.iloc[0])}) in all {rows:,} rows; "
            f"there is nothing to predict."
        )
    task = task or infer_task(y)
    if task == "classification":
        classes = y.unique()
        if len(classes) < 2:
            raise DataSourceError(
                f"target {target!r} in {path.name} has a single class ({_short(classes[0])}) in all {rows:,} rows; "
                f"a classifier needs at least two."
            )
    else:
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            example = y.iloc[0]
            raise DataSourceError(
                f"target {target!r} in {path.name} is not numeric (e.g. {_short(example)}) but the task is "
                f"regression; use --task classification or another target."
            )
        if y.nunique() < 2:
            raise DataSourceError(
                f"target {target!r} in {path.name} has the same value ({_short(y.iloc[0])}) in all {rows:,} rows; "
                f"there is nothing to predict."
            )

    if task == "regression":
        _refuse_non_finite(y, f"target {target!r}", path)
    frame = raw.copy()
    frame[time_column] = _parse_time(raw[time_column], time_column, path)
    if frame[time_column].nunique() == 1:
        raise DataSourceError(
            f"{path.name} has the same time ({frame[time_column].iloc[0]}) in all {rows:,} rows; a timeline "
            "needs rows at different times."
        )
    repeated = int(raw.duplicated(keep="first").sum())
    if repeated * 2 >= rows:
        raise DataSourceError(
            f"{repeated:,} of its {rows:,} rows repeat another row exactly, so {path.name} looks pasted after "
            "itself; drop the repeats (e.g. pandas drop_duplicates) and load it again."
        )
    frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    for name in forced_numeric:
        converted = pd.to_numeric(frame[name], errors="coerce")
        bad = converted.isna() & frame[name].notna()
        if bad.any():
            example = frame.loc[bad, name].iloc[0]
            raise DataSourceError(
                f"column {name!r} was given as numeric but holds {_short(example)} in {int(bad.sum()):,} rows."
            )
        frame[name] = converted

    numeric_features: list[str] = []
    categorical_features: list[str] = []
    for name in columns:
        if name in (time_column, target):
            continue
        if name in forced_categorical:
            kind: str | None = "categorical"
        elif name in forced_numeric:
            kind = "numeric"
        else:
            kind = infer_feature_kind(frame[name])
        if kind == "categorical" and name not in forced_categorical:
            _refuse_numbers_with_text(frame[name], name, path)
        if kind == "numeric":
            _refuse_non_finite(frame[name], f"column {name!r}", path)
            numeric_features.append(name)
        elif kind == "categorical":
            categorical_features.append(name)
    if not numeric_features and not categorical_features:
        raise DataSourceError(
            f"{path.name} has no usable feature besides {time_column!r} and {target!r}; add columns to learn from."
        )
    kept = [time_column, *numeric_features, *categorical_features, target]
    frame = frame[kept]
    return Dataset(
        name=str(path),
        frame=frame,
        time_column=time_column,
        target=target,
        task=task,
        numeric=tuple(numeric_features),
        categorical=tuple(categorical_features),
        description=f"{path.name}: {rows:,} rows, target {target!r} ({task}), time {time_column!r}",
        credit=None,
    )


# --------------------------------------------------------------------------------------------------
# Listing and fetching


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The named sources with whether each can be loaded now, where from, and its licence."""
    rows: list[dict[str, Any]] = []
    for entry in CATALOGUE["datasets"]:
        row = {
            "name": entry["name"],
            "description": entry["description"],
            "available": True,
            "where": "built in",
            "status": "ok",
            "licence": entry["licence"],
        }
        if entry["files"]:
            path = _find_file(entry, data_dir)
            if path is None:
                row.update(
                    available=False,
                    where=None,
                    status="missing: run `opslab datasets fetch " + entry["name"] + "`",
                )
            elif _sha256_file(path) != entry["sha256"]:
                row.update(available=False, where=str(path), status="sha256 differs from the UCI file")
            else:
                row.update(where=str(path))
        rows.append(row)
    return rows


Opener = Callable[..., Any]


def fetch_dataset(
    name: str,
    data_dir: str | os.PathLike[str],
    *,
    opener: Opener = urllib.request.urlopen,
) -> Path:
    """Download a named source into `data_dir` and return the verified file's path.

    `opener(url, timeout=...)` returns a readable response (a context manager), as urlopen does; tests
    pass one that serves a local archive. The archive's sha256 is checked, but UCI may re-pack it
    (its hash then changes while hour.csv does not), so the decisive check is the extracted file's
    sha256. The file is written to a temporary name and renamed only once verified.
    """
    entry = catalogue_entry(name)
    if not entry["files"]:
        raise DataSourceError(f"{name} is built in; there is nothing to fetch.")
    if data_dir is None:
        raise DataSourceError(f"fetching {name} needs a data directory to write to.")
    folder = Path(data_dir).expanduser()
    target = folder / entry["files"][0]
    if target.is_file() and _sha256_file(target) == entry["sha256"]:
        return target
    archive = entry["archive"]
    try:
        with opener(archive["url"], timeout=FETCH_TIMEOUT_SECONDS) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataSourceError(
            f"could not download {name} from {archive['url']} ({reason}); check the internet connection, or "
            f"download the archive by hand and put {archive['member']} in {folder}."
        ) from exc
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as bundle:
            members = [m for m in bundle.namelist() if Path(m).name == archive["member"]]
            if not members:
                raise DataSourceError(
                    f"the downloaded {name} archive has no {archive['member']}; it is not the UCI archive."
                )
            content = bundle.read(members[0])
    except zipfile.BadZipFile as exc:
        raise DataSourceError(
            f"the download from {archive['url']} is not a zip archive (sha256 {hashlib.sha256(payload).hexdigest()}); "
            f"try again later or download it by hand."
        ) from exc
    actual = hashlib.sha256(content).hexdigest()
    if actual != entry["sha256"]:
        raise DataSourceError(
            f"the downloaded {archive['member']} has sha256 {actual} but the UCI file has {entry['sha256']}; "
            f"nothing was written, try again later or download it by hand."
        )
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------------------------------
# Windows and fingerprints


def window(dataset: Dataset, as_of: object, weeks: float, *, min_rows: int = 1) -> pd.DataFrame:
    """The rows with as_of - weeks < time <= as_of, as a new frame; too few rows is an error."""
    if not weeks > 0:
        raise DataSourceError(f"a window needs a positive number of weeks, got {weeks}.")
    try:
        end = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise DataSourceError(f"as-of time {as_of!r} is not a date (use e.g. 2012-06-01).") from exc
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    begin = end - pd.Timedelta(weeks=weeks)
    times = dataset.frame[dataset.time_column]
    selected = dataset.frame.loc[(times > begin) & (times <= end)].reset_index(drop=True)
    if len(selected) < min_rows:
        first, last = times.min(), times.max()
        raise DataSourceError(
            f"the {weeks:g}-week window ending {end} holds {len(selected):,} rows but needs at least {min_rows:,} "
            f"({dataset.name} has {len(times):,} rows from {first} to {last})."
        )
    return selected


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the rows, columns and dtypes: equal frames give equal hashes in every run and process."""
    digest = hashlib.sha256()
    header = [[str(c), str(t)] for c, t in zip(frame.columns, frame.dtypes, strict=True)]
    digest.update(json.dumps(header).encode())
    digest.update(len(frame).to_bytes(8, "little"))
    if len(frame.columns):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
