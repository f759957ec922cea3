"""The data's unit tests: each check fails on a tiny broken frame and passes on a clean one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.mlops.simulator import SimulatorSettings, simulate
from pipelines.mlops.sources import Dataset, DataSourceError, load_dataset
from pipelines.mlops.validation import Check, ColumnSpec, Schema, ValidationReport, validate_frame


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    """24 clean hours of the simulated world (in spring, so every temperature is above 5 C)."""
    return simulate(SimulatorSettings(weeks=20, seed=1)).iloc[16 * 168 : 16 * 168 + 24].reset_index(drop=True)


def failed(report: ValidationReport) -> list[tuple[str, str | None]]:
    return [(c.name, c.column) for c in report.failures]


# --- named sources: the catalogue's schema ------------------------------------------------------


def test_clean_data_passes_every_check(day: pd.DataFrame) -> None:
    report = validate_frame(day, dataset_or_schema="simulated")
    assert report.ok and report.failures == () and report.warnings == ()
    assert report.summary() == f"validation passed: {len(report.checks)} checks on 24 rows"
    names = {c.name for c in report.checks}
    assert names == {
        "rows",
        "columns",
        "types",
        "target",
        "missing",
        "range",
        "categories",
        "duplicate_timestamps",
    }
    assert all(isinstance(c, Check) for c in report.checks)


def test_fahrenheit_temperature_fails_the_range_check(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame["temp"] = (frame["temp"] * 41 * 9 / 5 + 32) / 41
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert failed(report) == [("range", "temp")]
    check = report.failures[0]
    assert check.failing_rows == 24
    assert check.message == f"temp: 24 of 24 rows out of range [0, 1] (max {frame['temp'].max():.4g})"
    assert report.summary().splitlines() == [
        f"validation failed: 1 of {len(report.checks)} checks failed on 24 rows",
        f"  FAIL range: {check.message}",
    ]


def test_missing_column_and_wrong_type(day: pd.DataFrame) -> None:
    frame = day.drop(columns="hum")
    frame["windspeed"] = frame["windspeed"].astype(str)
    frame.loc[3, "windspeed"] = "calm"
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert ("columns", "hum") in failed(report)
    types = next(c for c in report.failures if c.name == "types")
    assert types.column == "windspeed" and types.failing_rows == 1
    assert "windspeed: 1 of 24 rows are not numeric (e.g. 'calm')" in types.message


def test_time_column_must_hold_dates(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame["timestamp"] = frame["timestamp"].astype(str)
    assert ("types", "timestamp") in failed(validate_frame(frame, dataset_or_schema="simulated"))


def test_target_with_gaps_fails(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame["cnt"] = frame["cnt"].astype(float)
    frame.loc[[1, 2], "cnt"] = np.nan
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert failed(report) == [("target", "cnt")]
    assert report.failures[0].message == "cnt: target is empty in 2 of 24 rows"
    without = validate_frame(day.drop(columns="cnt"), dataset_or_schema="simulated")
    assert ("columns", "cnt") in failed(without)


def test_missing_values_fail_for_catalogued_sources(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame.loc[0:5, "hum"] = np.nan
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert failed(report) == [("missing", "hum")]
    assert report.failures[0].message == "hum: 6 of 24 rows missing (none expected)"


def test_unknown_codes_and_out_of_range_codes(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame.loc[4, "weathersit"] = 7
    frame.loc[5, "hr"] = 24
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert sorted(failed(report)) == [("categories", "weathersit"), ("range", "hr")]
    categories = next(c for c in report.failures if c.name == "categories")
    assert categories.message == "weathersit: 1 of 24 rows have unseen categories 7 (allowed: 1, 2, 3, 4)"


def test_duplicate_timestamps_fail(day: pd.DataFrame) -> None:
    frame = pd.concat([day, day.iloc[[3, 4]]], ignore_index=True)
    report = validate_frame(frame, dataset_or_schema="simulated")
    assert failed(report) == [("duplicate_timestamps", "timestamp")]
    assert report.failures[0].failing_rows == 4
    assert report.failures[0].message.startswith("timestamp: 4 rows share 2 timestamps (first ")


def test_no_rows_fails(day: pd.DataFrame) -> None:
    report = validate_frame(day.iloc[:0], dataset_or_schema="simulated")
    assert failed(report) == [("rows", None)]
    assert report.summary().startswith("validation failed: 1 of 1 checks failed on 0 rows")


def test_to_dict_is_json_ready(day: pd.DataFrame) -> None:
    frame = day.copy()
    frame["temp"] = frame["temp"] + 2
    result = validate_frame(frame, dataset_or_schema="simulated").to_dict()
    assert json.loads(json.dumps(result)) == result
    assert result["ok"] is False and result["rows"] == 24
    assert result["failed"][0]["column"] == "temp" and result["failed"][0]["failing_rows"] == 24
    assert result["passed"] == result["checks"] - 1


def test_accepts_a_dataset_a_schema_or_a_name(day: pd.DataFrame) -> None:
    dataset = load_dataset("simulated", simulator=SimulatorSettings(weeks=1))
    schema = Schema.from_dataset(dataset)
    assert schema.catalogued and schema.unique_time
    assert next(s for s in schema.features if s.name == "temp") == ColumnSpec("temp", "numeric", 0.0, 1.0)
    for given in (dataset, schema, "simulated"):
        assert validate_frame(day, dataset_or_schema=given).ok
    with pytest.raises(DataSourceError, match="unknown dataset"):
        validate_frame(day, dataset_or_schema="nope")


# --- any other data: the reference frame -------------------------------------------------------


def generic(frame: pd.DataFrame, task: str = "regression") -> Dataset:
    return Dataset(
        name="/tmp/shop.csv",
        frame=frame,
        time_column="when",
        target="sales",
        task=task,
        numeric=("price",),
        categorical=("shop",),
        description="shop sales",
    )


@pytest.fixture
def shop() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=8, freq="D"),
            "price": [10.0, 12.0, 11.0, 14.0, 13.0, 10.5, 12.5, 11.5],
            "shop": ["north", "south"] * 4,
            "sales": [5.0, 7.0, 6.0, 9.0, 8.0, 5.5, 7.5, 6.5],
        }
    )


def test_generic_data_without_reference_checks_what_it_can(shop: pd.DataFrame) -> None:
    frame = shop.copy()
    frame["price"] = frame["price"] * 100  # no reference: nothing to compare a range with
    frame.loc[0, "shop"] = "east"
    report = validate_frame(frame, dataset_or_schema=generic(shop))
    assert report.ok
    assert {c.name for c in report.checks} == {"rows", "columns", "types", "target", "missing"}
    frame["price"] = np.nan  # an entirely empty column fails even alone
    assert failed(validate_frame(frame, dataset_or_schema=generic(shop))) == [("missing", "price")]


def test_generic_range_from_the_reference_with_tolerance(shop: pd.DataFrame) -> None:
    current = shop.copy()
    current["when"] = current["when"] + pd.Timedelta(days=8)
    current.loc[0, "price"] = 15.5  # reference [10, 14] widened by half its width: [8, 16]
    assert validate_frame(current, dataset_or_schema=generic(shop), reference=shop).ok
    current.loc[1, "price"] = 16.5
    current.loc[2, "sales"] = 900.0  # the target's level may move: prior drift, not a data bug
    report = validate_frame(current, dataset_or_schema=generic(shop), reference=shop)
    assert failed(report) == [("range", "price")]
    assert report.failures[0].message == (
        "price: 1 of 8 rows out of range [8, 16] (reference [10, 14] widened by 50%) (max 16.5)"
    )


def test_generic_counters_may_grow_past_the_reference(shop: pd.DataFrame) -> None:
    reference = pd.concat([shop, shop.assign(when=shop["when"] + pd.Timedelta(days=8))], ignore_index=True)
    reference["price"] = np.arange(16.0)  # grows every row: a counter, not a measurement
    current = reference.assign(when=reference["when"] + pd.Timedelta(days=16), price=np.arange(100.0, 116.0))
    assert validate_frame(current, dataset_or_schema=generic(shop), reference=reference).ok


def test_generic_missing_values_compared_with_the_reference(shop: pd.DataFrame) -> None:
    reference = shop.copy()
    reference.loc[0:1, "price"] = np.nan  # 25 % missing is normal for this column
    current = shop.copy()
    current.loc[0:1, "price"] = np.nan
    assert validate_frame(current, dataset_or_schema=generic(shop), reference=reference).ok
    current.loc[2:3, "price"] = np.nan  # 50 % > 25 % + 5 %
    report = validate_frame(current, dataset_or_schema=generic(shop), reference=reference)
    assert failed(report) == [("missing", "price")]
    assert report.failures[0].message == "price: 4 of 8 rows missing (reference 25% + 5%)"


def test_generic_unseen_categories_are_a_warning(shop: pd.DataFrame) -> None:
    current = shop.copy()
    current.loc[[0, 2], "shop"] = "east"
    report = validate_frame(current, dataset_or_schema=generic(shop), reference=shop)
    assert report.ok
    assert [(c.name, c.column, c.failing_rows) for c in report.warnings] == [("categories", "shop", 2)]
    assert (
        "  WARN categories: shop: 2 of 8 rows have unseen categories 'east' (not in the reference data)"
        in (report.summary())
    )


def test_generic_duplicate_timestamps_only_when_the_reference_had_none(shop: pd.DataFrame) -> None:
    doubled = pd.concat([shop, shop.iloc[[0]]], ignore_index=True)
    assert failed(validate_frame(doubled, dataset_or_schema=generic(shop), reference=shop)) == [
        ("duplicate_timestamps", "when")
    ]
    several_shops = pd.concat([shop, shop.assign(shop="east")], ignore_index=True)
    assert validate_frame(doubled, dataset_or_schema=generic(shop), reference=several_shops).ok


def test_classification_target_needs_two_classes(shop: pd.DataFrame) -> None:
    frame = shop.assign(sales="high")
    report = validate_frame(frame, dataset_or_schema=generic(shop, task="classification"))
    assert failed(report) == [("target", "sales")]
    assert (
        report.failures[0].message
        == "sales: a single class ('high') in all 8 rows; a classifier needs at least two"
    )
    frame.loc[0, "sales"] = "low"
    assert validate_frame(frame, dataset_or_schema=generic(shop, task="classification")).ok


def test_generic_outliers_warn_but_a_shift_of_many_rows_fails(shop: pd.DataFrame) -> None:
    reference = pd.concat([shop] * 25, ignore_index=True).assign(
        when=pd.date_range("2024-01-01", periods=200, freq="h")
    )
    current = reference.assign(when=reference["when"] + pd.Timedelta(days=30))
    current.loc[[3, 50, 120], "price"] = 90.0  # three price spikes in 200 rows: the world, not a bug
    report = validate_frame(current, dataset_or_schema=generic(shop), reference=reference)
    assert report.ok and [(c.name, c.column) for c in report.warnings] == [("range", "price")]
    current["price"] = current["price"] * 100  # every row in another unit: a bug
    report = validate_frame(current, dataset_or_schema=generic(shop), reference=reference)
    assert failed(report) == [("range", "price")]
