"""Data sources: the catalogue, each loader, the bad-input sentences, the download, windows and hashes."""

from __future__ import annotations

import io
import json
import shutil
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_path

from pipelines.mlops.simulator import DriftInjection, SimulatorSettings
from pipelines.mlops.sources import (
    CATALOGUE,
    Dataset,
    DataSourceError,
    catalogue_entry,
    catalogue_json,
    fetch_dataset,
    fingerprint,
    infer_feature_kind,
    infer_task,
    list_datasets,
    load_dataset,
    window,
)
from pipelines.mlops.validation import validate_frame

UCI_SHA256 = "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f"


def sample_frame(rows: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    times = pd.date_range("2024-03-01", periods=rows, freq="h")
    return pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "temp": rng.normal(15, 5, rows).round(2),
            "weekday": times.day_of_week,
            "city": rng.choice(["Oslo", "Porto", "Lyon"], rows),
            "order_id": [f"A{i:04d}" for i in range(rows)],
            "demand": rng.gamma(3, 20, rows).round(1),
        }
    )


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# --- catalogue -----------------------------------------------------------------------------------


def test_catalogue_json_is_the_rendering_of_the_code() -> None:
    on_disk = (REPO / "datasets" / "catalogue.json").read_text(encoding="utf-8")
    assert on_disk == catalogue_json(), (
        "run: python -c 'from pipelines.mlops.sources import catalogue_json; ...'"
    )
    parsed = json.loads(on_disk)
    bike = next(d for d in parsed["datasets"] if d["name"] == "bike-sharing")
    assert bike["sha256"] == UCI_SHA256
    assert bike["archive"]["sha256"] == "b70182d0d0508e9abbb79306ce5c0cec34869000f8220175ac83d11dbe845401"
    assert bike["licence"] == "CC BY 4.0" and "Fanaee-T" in bike["citation"]
    assert {"instant", "casual", "registered"} <= set(bike["dropped"])


def test_catalogue_entry_is_a_copy_and_unknown_names_are_listed() -> None:
    entry = catalogue_entry("simulated")
    entry["name"] = "changed"
    assert CATALOGUE["datasets"][0]["name"] == "simulated"
    with pytest.raises(
        DataSourceError, match=r"unknown dataset 'bikes'; known datasets are simulated, bike-sharing"
    ):
        load_dataset("bikes")


# --- simulated -----------------------------------------------------------------------------------


def test_simulated_source_uses_the_given_settings() -> None:
    settings = SimulatorSettings(weeks=3, seed=9, injections=(DriftInjection(type="prior", onset_week=1),))
    dataset = load_dataset("simulated", simulator=settings)
    assert isinstance(dataset, Dataset)
    assert len(dataset.frame) == 3 * 168
    assert dataset.frame["timestamp"].is_monotonic_increasing
    assert (dataset.time_column, dataset.target, dataset.task) == ("timestamp", "cnt", "regression")
    assert dataset.categorical == ("season", "holiday", "workingday", "weathersit")
    assert dataset.numeric == ("mnth", "hr", "weekday", "temp", "atemp", "hum", "windspeed")
    assert dataset.features == dataset.numeric + dataset.categorical
    assert "yr" not in dataset.features
    assert dataset.credit is None and dataset.catalogued
    assert "prior sudden from week 1" in dataset.description


# --- files by path -------------------------------------------------------------------------------


def test_csv_by_path_infers_task_and_types_and_sorts_by_time(tmp_path: Path) -> None:
    frame = sample_frame()
    path = write_csv(tmp_path, frame.sample(frac=1.0, random_state=1))
    dataset = load_dataset(path, time_column="when", target="demand")
    assert dataset.task == "regression"
    assert dataset.numeric == ("temp",)
    assert dataset.categorical == ("weekday", "city")  # few whole values -> a code
    assert "order_id" not in dataset.frame.columns  # every value different: an identifier
    assert pd.api.types.is_datetime64_any_dtype(dataset.frame["when"])
    assert dataset.frame["when"].is_monotonic_increasing
    assert dataset.name == str(path) and not dataset.catalogued
    assert validate_frame(dataset.frame, dataset_or_schema=dataset).ok


def test_parquet_by_path_with_a_text_target_is_classification(tmp_path: Path) -> None:
    frame = sample_frame()
    frame["when"] = pd.to_datetime(frame["when"], format="%Y-%m-%d %H:%M")
    frame["busy"] = np.where(frame["demand"] > 60, "yes", "no")
    frame["raining"] = frame["temp"] < 12
    path = tmp_path / "data.parquet"
    frame.drop(columns="demand").to_parquet(path)
    dataset = load_dataset(path, time_column="when", target="busy")
    assert dataset.task == "classification"
    assert "raining" in dataset.categorical
    assert len(dataset.frame) == len(frame)


def test_overrides_of_task_and_feature_types(tmp_path: Path) -> None:
    frame = sample_frame()
    frame["stars"] = np.arange(len(frame)) % 5 + 1
    path = write_csv(tmp_path, frame)
    inferred = load_dataset(path, time_column="when", target="stars")
    assert inferred.task == "classification"  # five distinct values
    forced = load_dataset(path, time_column="when", target="stars", task="regression",
                          categorical=["temp"], numeric=["weekday"])  # fmt: skip
    assert forced.task == "regression"
    assert "temp" in forced.categorical and "weekday" in forced.numeric
    with pytest.raises(DataSourceError, match="both categorical and numeric"):
        load_dataset(path, time_column="when", target="stars", categorical=["temp"], numeric=["temp"])
    with pytest.raises(
        DataSourceError, match=r"column 'city' was given as numeric but holds 'Oslo' in \d+ rows"
    ):
        load_dataset(path, time_column="when", target="stars", numeric=["city"])


def test_a_row_number_is_not_a_feature(tmp_path: Path) -> None:
    frame = sample_frame()
    frame.insert(0, "instant", np.arange(1, len(frame) + 1))
    path = write_csv(
        tmp_path, frame.sample(frac=1.0, random_state=3)
    )  # shuffled: still a row number in time order
    dataset = load_dataset(path, time_column="when", target="demand")
    assert "instant" not in dataset.features
    assert "instant" in load_dataset(path, time_column="when", target="demand", numeric=["instant"]).numeric


def test_inference_rules() -> None:
    assert infer_task(pd.Series([0.5, 1.5, 2.5] * 5)) == "classification"
    assert infer_task(pd.Series(np.arange(50, dtype=float))) == "regression"
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"
    assert infer_feature_kind(pd.Series(np.arange(30) % 7)) == "categorical"
    assert infer_feature_kind(pd.Series((np.arange(30) % 7) + 0.5)) == "numeric"
    assert infer_feature_kind(pd.Series(np.arange(30) * 2)) == "numeric"
    assert infer_feature_kind(pd.Series(np.arange(30))) is None  # a row number
    assert infer_feature_kind(pd.Series(["x", "y"] * 10)) == "categorical"
    assert infer_feature_kind(pd.Series(pd.date_range("2024-01-01", periods=3))) is None


# --- bad input: one sentence each ----------------------------------------------------------------


def test_misspelt_columns_are_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write_csv(tmp_path, sample_frame())
    with pytest.raises(DataSourceError) as caught:
        load_dataset(path, time_column="when", target="demnd")
    assert str(caught.value) == (
        "column 'demnd' not found in data.csv; did you mean 'demand'? "
        "Columns are: when, temp, weekday, city, order_id, demand."
    )
    with pytest.raises(DataSourceError, match=r"column 'tmp' not found in data.csv; did you mean 'temp'"):
        load_dataset(path, time_column="when", target="demand", categorical=["tmp"])
    with pytest.raises(DataSourceError, match=r"column 'zzz' not found in data.csv; Columns are"):
        load_dataset(path, time_column="zzz", target="demand")
    with pytest.raises(
        DataSourceError, match=r"data.csv needs a time column \(--time-column\); columns are: when"
    ):
        load_dataset(path, target="demand")
    with pytest.raises(DataSourceError, match=r"needs a target column \(--target\)"):
        load_dataset(path, time_column="when")


def test_a_time_column_that_is_not_dates(tmp_path: Path) -> None:
    frame = sample_frame(12)
    frame.loc[5, "when"] = "next tuesday"
    path = write_csv(tmp_path, frame)
    with pytest.raises(DataSourceError) as caught:
        load_dataset(path, time_column="when", target="demand")
    assert str(caught.value) == (
        "time column 'when' in data.csv could not be read as dates: row 7 of the file has 'next tuesday'."
    )
    frame = sample_frame(12)
    frame["when"] = np.arange(12) / 12
    with pytest.raises(DataSourceError, match=r"time column 'when' in numbers.csv holds numbers"):
        load_dataset(write_csv(tmp_path, frame, "numbers.csv"), time_column="when", target="demand")
    frame = sample_frame(12)
    frame.loc[3, "when"] = None
    with pytest.raises(DataSourceError, match=r"time column 'when' in gaps.csv is empty in 1 of 12 rows"):
        load_dataset(write_csv(tmp_path, frame, "gaps.csv"), time_column="when", target="demand")


def test_time_column_formats_and_zones(tmp_path: Path) -> None:
    frame = sample_frame(6)
    frame["when"] = ["2024-03-01T00:00:00+01:00", "2024-03-01T01:00:00+01:00", "2024-03-01T02:00:00+01:00",
                     "2024-03-01T03:00:00+01:00", "2024-03-01T04:00:00+01:00", "2024-03-01T05:00:00+01:00"]  # fmt: skip
    dataset = load_dataset(write_csv(tmp_path, frame), time_column="when", target="demand")
    assert dataset.frame["when"].iloc[0] == pd.Timestamp("2024-02-29 23:00")  # UTC, no zone
    frame["when"] = [
        "1 March 2024",
        "2 March 2024",
        "3 March 2024",
        "4 March 2024",
        "5 March 2024",
        "6 March 2024",
    ]
    dataset = load_dataset(write_csv(tmp_path, frame, "words.csv"), time_column="when", target="demand")
    assert dataset.frame["when"].iloc[-1] == pd.Timestamp("2024-03-06")


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataSourceError, match=r"^data file .*empty.csv is empty\.$"):
        load_dataset(empty, time_column="when", target="demand")
    header = tmp_path / "header.csv"
    header.write_text("when,temp,demand\n")
    with pytest.raises(
        DataSourceError, match=r"header.csv has no rows, only the header \(when, temp, demand\)"
    ):
        load_dataset(header, time_column="when", target="demand")
    with pytest.raises(DataSourceError, match=r"missing.csv does not exist"):
        load_dataset(tmp_path / "missing.csv", time_column="when", target="demand")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataSourceError, match=r"broken.parquet could not be read as Parquet"):
        load_dataset(broken, time_column="when", target="demand")
    with pytest.raises(
        DataSourceError, match=r"sheet.xlsx is a .xlsx file, but only .csv and .parquet files can be read"
    ):
        load_dataset(tmp_path / "sheet.xlsx")


def test_bad_targets(tmp_path: Path) -> None:
    frame = sample_frame(20)
    frame.loc[[2, 7, 9], "demand"] = np.nan
    with pytest.raises(DataSourceError) as caught:
        load_dataset(write_csv(tmp_path, frame, "some.csv"), time_column="when", target="demand")
    assert str(caught.value) == (
        "target 'demand' in some.csv is empty in 3 of 20 rows; drop or fill those rows first."
    )
    frame["demand"] = np.nan
    with pytest.raises(
        DataSourceError, match=r"target 'demand' in all.csv has no values: all 20 rows are empty"
    ):
        load_dataset(write_csv(tmp_path, frame, "all.csv"), time_column="when", target="demand")
    frame["demand"] = "yes"
    with pytest.raises(
        DataSourceError, match=r"target 'demand' in one.csv has a single class \('yes'\) in all 20 rows"
    ):
        load_dataset(write_csv(tmp_path, frame, "one.csv"), time_column="when", target="demand")
    with pytest.raises(DataSourceError, match=r"is not numeric .* but the task is regression"):
        load_dataset(tmp_path / "one.csv", time_column="when", target="demand", task="regression")
    with pytest.raises(DataSourceError, match="task must be regression or classification"):
        load_dataset(tmp_path / "one.csv", time_column="when", target="demand", task="ranking")
    with pytest.raises(DataSourceError, match="are both 'when'"):
        load_dataset(tmp_path / "one.csv", time_column="when", target="when")


# --- bike-sharing --------------------------------------------------------------------------------


def test_bike_sharing_missing_says_where_it_looked_and_what_to_do(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataSourceError) as caught:
        load_dataset("bike-sharing")
    assert "not found (no data directory was given and $OPSLAB_DATA_DIR is not set)" in str(caught.value)
    monkeypatch.setenv("OPSLAB_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataSourceError) as caught:
        load_dataset("bike-sharing", data_dir=tmp_path / "app")
    assert str(caught.value) == (
        f"bike-sharing data (bike_sharing_hour.csv or hour.csv) not found in $OPSLAB_DATA_DIR "
        f"({tmp_path / 'env'}) or {tmp_path / 'app'}; run `opslab datasets fetch bike-sharing` "
        f"or set OPSLAB_DATA_DIR to a folder holding hour.csv."
    )
    listed = {row["name"]: row for row in list_datasets(tmp_path / "app")}
    assert listed["simulated"]["available"] and listed["simulated"]["where"] == "built in"
    assert not listed["bike-sharing"]["available"] and listed["bike-sharing"]["licence"] == "CC BY 4.0"


@pytest.mark.shared
def test_bike_sharing_real_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shutil.copyfile(shared_path("datasets", "bike_sharing_hour.csv"), tmp_path / "hour.csv")
    monkeypatch.setenv("OPSLAB_DATA_DIR", str(tmp_path))
    dataset = load_dataset("bike-sharing")
    frame = dataset.frame
    assert len(frame) == 17379
    assert not {"instant", "dteday", "casual", "registered"} & set(frame.columns)
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2011-01-01 00:00")
    assert frame["timestamp"].iloc[-1] == pd.Timestamp("2012-12-31 23:00")
    assert frame["timestamp"].is_monotonic_increasing
    assert (frame["timestamp"].dt.hour == frame["hr"]).all()
    assert dataset.features == load_dataset("simulated", simulator=SimulatorSettings(weeks=1)).features
    assert "Fanaee-T" in (dataset.credit or "") and "CC BY 4.0" in (dataset.credit or "")
    assert validate_frame(frame, dataset_or_schema=dataset).ok
    listed = {row["name"]: row for row in list_datasets()}
    assert listed["bike-sharing"]["available"] and listed["bike-sharing"]["where"] == str(
        tmp_path / "hour.csv"
    )


@pytest.mark.shared
def test_bike_sharing_from_the_data_dir_argument(tmp_path: Path) -> None:
    shutil.copyfile(shared_path("datasets", "bike_sharing_hour.csv"), tmp_path / "bike_sharing_hour.csv")
    assert len(load_dataset("bike-sharing", data_dir=tmp_path).frame) == 17379


@pytest.mark.shared
def test_bike_sharing_re_saved_copy_is_refused(tmp_path: Path) -> None:
    original = shared_path("datasets", "bike_sharing_hour.csv").read_bytes()
    (tmp_path / "hour.csv").write_bytes(original.replace(b"\r\n", b"\n"))  # a re-save with LF endings
    with pytest.raises(DataSourceError) as caught:
        load_dataset("bike-sharing", data_dir=tmp_path)
    message = str(caught.value)
    assert f"but the UCI file has {UCI_SHA256}; it was edited or re-saved" in message
    assert message.startswith(f"{tmp_path / 'hour.csv'} has sha256 ")
    listed = {row["name"]: row for row in list_datasets(tmp_path)}
    assert not listed["bike-sharing"]["available"] and "sha256" in listed["bike-sharing"]["status"]


# --- fetch ---------------------------------------------------------------------------------------


def zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


class Serve:
    """An opener that serves fixed bytes and records what was asked."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> io.BytesIO:
        self.calls.append((url, timeout))
        return io.BytesIO(self.payload)


@pytest.mark.shared
def test_fetch_extracts_verifies_and_is_idempotent(tmp_path: Path) -> None:
    real = shared_path("datasets", "bike_sharing_hour.csv").read_bytes()
    opener = Serve(zip_with({"Readme.txt": b"readme", "day.csv": b"x", "hour.csv": real}))
    data_dir = tmp_path / "data"
    path = fetch_dataset("bike-sharing", data_dir, opener=opener)
    assert path == data_dir / "bike_sharing_hour.csv"
    assert path.read_bytes() == real
    assert opener.calls[0][0] == "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip"
    assert len(load_dataset("bike-sharing", data_dir=data_dir).frame) == 17379
    assert fetch_dataset("bike-sharing", data_dir, opener=opener) == path
    assert len(opener.calls) == 1  # already there and verified: no second download
    assert sorted(p.name for p in data_dir.iterdir()) == ["bike_sharing_hour.csv"]


def test_fetch_refuses_a_wrong_file_and_writes_nothing(tmp_path: Path) -> None:
    opener = Serve(zip_with({"Bike-Sharing-Dataset/hour.csv": b"instant,cnt\r\n1,2\r\n"}))
    with pytest.raises(
        DataSourceError,
        match=rf"the downloaded hour.csv has sha256 .* but the UCI file has {UCI_SHA256}; nothing was written",
    ):
        fetch_dataset("bike-sharing", tmp_path, opener=opener)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataSourceError, match=r"archive has no hour.csv"):
        fetch_dataset("bike-sharing", tmp_path, opener=Serve(zip_with({"day.csv": b"x"})))
    with pytest.raises(DataSourceError, match="is not a zip archive"):
        fetch_dataset("bike-sharing", tmp_path, opener=Serve(b"<html>maintenance</html>"))
    assert list(tmp_path.iterdir()) == []


def test_fetch_offline_is_one_clear_sentence(tmp_path: Path) -> None:
    def offline(url: str, timeout: float) -> io.BytesIO:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(DataSourceError) as caught:
        fetch_dataset("bike-sharing", tmp_path / "data", opener=offline)
    assert str(caught.value).startswith(
        "could not download bike-sharing from https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip "
        "([Errno -3] Temporary failure in name resolution); check the internet connection"
    )
    assert not (tmp_path / "data").exists()
    with pytest.raises(DataSourceError, match="simulated is built in; there is nothing to fetch"):
        fetch_dataset("simulated", tmp_path, opener=offline)
    with pytest.raises(DataSourceError, match="unknown dataset 'uci'"):
        fetch_dataset("uci", tmp_path, opener=offline)


# --- windows and fingerprints --------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_weeks() -> Dataset:
    return load_dataset("simulated", simulator=SimulatorSettings(weeks=3, seed=2))


def test_window_is_half_open_on_the_left(three_weeks: Dataset) -> None:
    part = window(three_weeks, "2011-01-15 00:00", 1)
    assert len(part) == 168
    assert part["timestamp"].iloc[0] == pd.Timestamp("2011-01-08 01:00")
    assert part["timestamp"].iloc[-1] == pd.Timestamp("2011-01-15 00:00")
    assert part.index[0] == 0
    part.loc[0, "cnt"] = -1  # a new frame: the dataset is untouched
    assert (three_weeks.frame["cnt"] >= 0).all()


def test_window_with_too_few_rows_says_the_counts(three_weeks: Dataset) -> None:
    with pytest.raises(DataSourceError) as caught:
        window(three_weeks, "2010-06-01", 4)
    assert str(caught.value) == (
        "the 4-week window ending 2010-06-01 00:00:00 holds 0 rows but needs at least 1 "
        "(simulated has 504 rows from 2011-01-01 00:00:00 to 2011-01-21 23:00:00)."
    )
    with pytest.raises(DataSourceError, match="holds 25 rows but needs at least 100"):
        window(three_weeks, "2011-01-02 00:00", 4, min_rows=100)
    with pytest.raises(DataSourceError, match="is not a date"):
        window(three_weeks, "someday", 4)


def test_fingerprint_is_stable_and_sensitive(three_weeks: Dataset) -> None:
    part = window(three_weeks, "2011-01-15", 1)
    again = window(load_dataset("simulated", simulator=SimulatorSettings(weeks=3, seed=2)), "2011-01-15", 1)
    assert fingerprint(part) == fingerprint(again) == fingerprint(part.copy())
    assert len(fingerprint(part)) == 64
    changed = part.copy()
    changed.loc[10, "temp"] += 0.01
    assert fingerprint(changed) != fingerprint(part)
    assert fingerprint(part.rename(columns={"temp": "t"})) != fingerprint(part)
    assert fingerprint(part.iloc[:-1]) != fingerprint(part)
    assert fingerprint(part.iloc[::-1].reset_index(drop=True)) != fingerprint(part)


# --- data accepted silently before (issue 11): each is refused in one sentence -------------------
def test_infinite_and_overflowing_values_are_refused(tmp_path: Path) -> None:
    for value, name in ((np.inf, "inf.csv"), (1e308, "huge.csv")):
        frame = sample_frame()
        frame.loc[5, "temp"] = value
        with pytest.raises(DataSourceError, match=r"column 'temp' .*too large or infinite.* 1 row"):
            load_dataset(write_csv(tmp_path, frame, name), time_column="when", target="demand")
    frame = sample_frame()
    frame.loc[7, "demand"] = np.inf
    with pytest.raises(DataSourceError, match=r"target 'demand' .*too large or infinite"):
        load_dataset(write_csv(tmp_path, frame, "target.csv"), time_column="when", target="demand")


def test_one_timestamp_for_every_row_is_refused(tmp_path: Path) -> None:
    frame = sample_frame().assign(when="2024-03-01 00:00")
    with pytest.raises(DataSourceError, match=r"the same time \(2024-03-01 00:00:00\) in all 48 rows"):
        load_dataset(write_csv(tmp_path, frame), time_column="when", target="demand")


def test_a_file_of_repeated_rows_is_refused(tmp_path: Path) -> None:
    frame = pd.concat([sample_frame(), sample_frame()], ignore_index=True)
    with pytest.raises(DataSourceError, match=r"48 of its 96 rows repeat another row exactly"):
        load_dataset(write_csv(tmp_path, frame), time_column="when", target="demand")


def test_a_numeric_column_with_some_text_is_refused_not_made_a_category(tmp_path: Path) -> None:
    frame = sample_frame(60)
    frame["temp"] = frame["temp"].astype(object)
    frame.loc[frame.index % 5 == 0, "temp"] = "unknown"  # 20 % text
    with pytest.raises(DataSourceError, match=r"column 'temp' holds numbers but 'unknown' in 12 of 60 rows"):
        load_dataset(write_csv(tmp_path, frame), time_column="when", target="demand")
    as_categories = load_dataset(write_csv(tmp_path, frame, "c.csv"), time_column="when", target="demand",
                                 categorical=["temp"])  # fmt: skip
    assert "temp" in as_categories.categorical
