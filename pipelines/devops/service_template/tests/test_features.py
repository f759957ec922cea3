"""Input validation and feature building: the service's contract with its clients."""

from __future__ import annotations

import math

import pytest

from bikeservice.features import ValidationError, build_features, parse_rows, validate_row


def test_valid_row_gets_clean_types(row):
    clean = validate_row({**row, "hr": 8.0, "temp": 1}, 0)
    assert clean["hr"] == 8 and isinstance(clean["hr"], int)
    assert clean["temp"] == 1.0 and isinstance(clean["temp"], float)


@pytest.mark.parametrize("field", ["season", "hr", "weekday", "workingday", "holiday", "weathersit",
                                   "temp", "atemp", "hum", "windspeed"])
def test_missing_field_is_named(row, field):
    del row[field]
    with pytest.raises(ValidationError) as info:
        validate_row(row, 3)
    assert info.value.field == field
    assert "rows[3]" in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("hr", 24), ("hr", -1), ("season", 0), ("weathersit", 5),
                                              ("weekday", 7), ("mnth", 13), ("yr", 2)])
def test_out_of_range_codes_are_refused(row, field, value):
    with pytest.raises(ValidationError) as info:
        validate_row({**row, field: value}, 0)
    assert info.value.field == field


@pytest.mark.parametrize("value", [True, "8", 8.5, None, [8]])
def test_hour_must_be_an_integer(row, value):
    with pytest.raises(ValidationError) as info:
        validate_row({**row, "hr": value}, 0)
    assert info.value.field == "hr"


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.5", False])
def test_measurements_must_be_finite_numbers(row, value):
    with pytest.raises(ValidationError) as info:
        validate_row({**row, "hum": value}, 0)
    assert info.value.field == "hum"


def test_optional_fields_are_optional(row):
    del row["mnth"], row["yr"]
    clean = validate_row(row, 0)
    assert "mnth" not in clean and "yr" not in clean


@pytest.mark.parametrize("payload", [{}, [], {"rows": []}, {"rows": "x"}, None])
def test_body_must_carry_a_list_of_rows(payload):
    with pytest.raises(ValidationError) as info:
        parse_rows(payload)
    assert info.value.field == "rows"


def test_row_must_be_an_object(row):
    with pytest.raises(ValidationError) as info:
        parse_rows({"rows": [row, [1, 2]]})
    assert info.value.field == "rows[1]"


def test_late_evening_hour_is_kept(row):
    (clean,) = parse_rows({"rows": [{**row, "hr": 23}]})
    assert clean["hr"] == 23


def test_build_features_marks_rush_hour(row):
    features = build_features(parse_rows({"rows": [row, {**row, "hr": 14}, {**row, "workingday": 0}]}))
    assert [f["rush_hour"] for f in features] == [1, 0, 0]


def test_build_features_does_not_change_its_input(row):
    rows = parse_rows({"rows": [row]})
    before = dict(rows[0])
    features = build_features(rows)
    assert rows[0] == before
    assert {k: features[0][k] for k in before} == before
