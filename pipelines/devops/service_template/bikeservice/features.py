"""Input validation and feature building for ``POST /predict``.

The rules for what a request may contain are the service's contract with its clients, so they
live apart from the HTTP code and are pinned down by tests without a server.
Scales follow the UCI bike-sharing hourly data: temp = °C / 41, atemp = °C / 50,
hum in 0-1, windspeed = km/h / 67, weathersit 1 (clear) to 4 (heavy rain).
"""

from __future__ import annotations

import math
from typing import Any

# Integer-coded fields every row must carry, with their inclusive ranges.
CATEGORICAL: dict[str, tuple[int, int]] = {
    "season": (1, 4),
    "hr": (0, 23),
    "weekday": (0, 6),
    "workingday": (0, 1),
    "holiday": (0, 1),
    "weathersit": (1, 4),
}
# Integer-coded fields a row may carry; models trained on them need them.
OPTIONAL_CATEGORICAL: dict[str, tuple[int, int]] = {"mnth": (1, 12), "yr": (0, 1)}
# Continuous fields: any finite number is accepted, the model decides what it means.
CONTINUOUS: tuple[str, ...] = ("temp", "atemp", "hum", "windspeed")
# Hours when commuters ride on working days.
RUSH_HOURS = frozenset({7, 8, 17, 18})


class ValidationError(ValueError):
    """Bad input from the client: the server answers 400 and names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_rows(payload: Any) -> list[dict[str, Any]]:
    """Validate a decoded request body and return its rows with clean types."""
    if not isinstance(payload, dict) or "rows" not in payload:
        raise ValidationError("rows", "the body must be a JSON object with a 'rows' list")
    rows = payload["rows"]
    if not isinstance(rows, list) or not rows:
        raise ValidationError("rows", "must be a non-empty list of objects")
    return [validate_row(row, index) for index, row in enumerate(rows)]


def validate_row(row: Any, index: int) -> dict[str, Any]:
    """One row with every field checked: ints for codes, floats for measurements."""
    if not isinstance(row, dict):
        raise ValidationError(f"rows[{index}]", "must be a JSON object")
    clean: dict[str, Any] = {}
    for name, (low, high) in CATEGORICAL.items():
        clean[name] = _integer(row, name, low, high, index)
    for name, (low, high) in OPTIONAL_CATEGORICAL.items():
        if row.get(name) is not None:
            clean[name] = _integer(row, name, low, high, index)
    for name in CONTINUOUS:
        clean[name] = _number(row, name, index)
    return clean


def build_features(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Model inputs for validated rows: the fields plus derived ones, inputs left untouched."""
    features = []
    for row in rows:
        feature = dict(row)
        feature["rush_hour"] = int(bool(row["workingday"]) and row["hr"] in RUSH_HOURS)
        features.append(feature)
    return features


def _integer(row: dict[str, Any], name: str, low: int, high: int, index: int) -> int:
    if name not in row or row[name] is None:
        raise ValidationError(name, f"missing in rows[{index}]")
    value = row[name]
    # bool is an int in Python, but true/false is never a valid code here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, f"must be an integer in rows[{index}], got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValidationError(name, f"must be an integer in rows[{index}], got {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise ValidationError(name, f"must be between {low} and {high} in rows[{index}], got {value}")
    return value


def _number(row: dict[str, Any], name: str, index: int) -> float:
    if name not in row or row[name] is None:
        raise ValidationError(name, f"missing in rows[{index}]")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, f"must be a number in rows[{index}], got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(name, f"must be finite in rows[{index}], got {value!r}")
    return value
