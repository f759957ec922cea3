"""What a lifecycle key is, how it is placed in a tier, and how it reads to a person.

Shared by the DORA keys (`pipelines.devops.metrics`) and their ML mirrors
(`pipelines.mlops.metrics`), so both halves of the dashboard show the same shape of number: a value,
a unit, a human string, a tier with the table it came from, the formula and the SQL behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "TIERS",
    "Band",
    "KeyResult",
    "classify",
    "describe_bands",
    "format_duration",
    "format_number",
    "format_percent",
    "with_receipt",
]

TIERS = ("elite", "high", "medium", "low")


@dataclass(frozen=True)
class KeyResult:
    """One key, computed: a value (None when undefined, with a `note` saying why) and its context."""

    key: str
    label: str
    value: float | None
    unit: str
    display: str
    tier: str | None
    tier_source: str
    formula: str
    sql: str
    n: int
    note: str | None = None
    # The receipt: a query returning the `n` rows the value was computed from, and the parameters
    # the key ran with (same workspace, window and filters), so the rows can be shown and re-counted.
    receipt_sql: str = ""
    receipt_params: tuple[tuple[str, Any], ...] = ()
    definition: str = ""


@dataclass(frozen=True)
class Band:
    """A tier and the upper bound of its values; the last band of a table has no bound.

    `inclusive` says whether a value equal to the bound still belongs to the band ("less than one
    hour" is exclusive; "5 %", a level's typical change failure rate, is inclusive).
    """

    tier: str | None  # None: a range the table places in no tier (it publishes none there)
    upper: float | None
    inclusive: bool
    text: str


def classify(value: float | None, bands: Sequence[Band]) -> str | None:
    """The first band (best first) whose bound the value does not pass; None for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    for band in bands:
        if band.upper is None:
            return band.tier
        if value < band.upper or (band.inclusive and value == band.upper):
            return band.tier
    return None


def format_number(value: float) -> str:
    """At most one decimal, none when it is zero: 40.0 -> '40', 2.5 -> '2.5', 33.333 -> '33.3'."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def format_percent(value: float) -> str:
    return f"{format_number(value)} %"


def format_duration(days: float) -> str:
    """A duration given in days, in the unit a person would say it: seconds, minutes, hours or days."""
    if days < 1 / (24 * 60):  # an automatic rollback recovers in seconds
        return f"{format_number(days * 86400)} s"
    if days < 1 / 24:
        minutes = days * 24 * 60
        return f"{format_number(minutes)} min"
    if days < 1:
        hours = days * 24
        return f"{format_number(hours)} hour{'' if format_number(hours) == '1' else 's'}"
    return f"{format_number(days)} day{'' if format_number(days) == '1' else 's'}"


def describe_bands(bands: Sequence[Band]) -> Mapping[str, str]:
    """tier -> the band's wording, for a legend beside the number ("no tier" for a gap)."""
    return {band.tier or "no tier": band.text for band in bands}


def with_receipt(key: KeyResult, sql: str, params: Mapping[str, Any], definition: str = "") -> KeyResult:
    """The key with its receipt query and the parameters it was computed with."""
    return replace(key, receipt_sql=sql, receipt_params=tuple(params.items()), definition=definition)


NO_DATA = "no data"


def summary_row(frame: Any) -> dict[str, Any]:
    """The single row of a key's summary query, NaN/NA as None."""
    import pandas as pd

    row = frame.iloc[0].to_dict() if not frame.empty else {}
    return {
        k: (None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v)
        for k, v in row.items()
    }


def undefined_key(
    key: str, label: str, unit: str, formula: str, sql: str, note: str, *, tier_source: str, n: int = 0
) -> KeyResult:
    """A key with no value yet (no deploys, no retrains...): the note says why; never an exception."""
    return KeyResult(
        key=key,
        label=label,
        value=None,
        unit=unit,
        display=NO_DATA,
        tier=None,
        tier_source=tier_source,
        formula=formula,
        sql=sql,
        n=n,
        note=note,
    )


def bucketed_frequency(
    row: Mapping[str, Any],
    *,
    key: str,
    label: str,
    unit: str,
    formula: str,
    sql: str,
    events: str,
    tier_of: Callable[[str, float], str | None],
    tier_source: str,
    note_extra: str = "",
) -> KeyResult:
    """A frequency key from a Four Keys bucket summary row (`events`, `weeks`, `bucket`).

    Shared by DORA's deployment frequency and its ML mirror, retraining frequency, so both are
    measured the same way: value = events a week, display = the bucket, tier from `tier_of`.
    `weeks` is the number of 7-day buckets in the window, counted as `keys_sql` documents (a window
    of 96 played weeks is 96 buckets).
    """
    weeks, count = int(row.get("weeks") or 0), int(row.get("events") or 0)
    if weeks == 0:
        return undefined_key(
            key,
            label,
            unit,
            formula,
            sql,
            "no history in this window yet: run a scenario first",
            tier_source=tier_source,
        )
    if count == 0:
        return undefined_key(
            key, label, unit, formula, sql, f"no {events} in {weeks} weeks", tier_source=tier_source
        )
    bucket = str(row["bucket"])
    per_week = count / weeks
    note = f"{count} {events} over {weeks} weeks ({format_number(per_week)} a week)" + note_extra
    return KeyResult(
        key=key,
        label=label,
        value=per_week,
        unit=unit,
        display=bucket,
        tier=tier_of(bucket, per_week),
        tier_source=tier_source,
        formula=formula,
        sql=sql,
        n=count,
        note=note,
    )


def duration_key(
    days: float,
    *,
    key: str,
    label: str,
    unit: str,
    formula: str,
    sql: str,
    bands: Sequence[Band],
    tier_source: str,
    n: int,
    note: str | None = None,
) -> KeyResult:
    """A key measured in days (lead times, recovery times, staleness), tiered by `bands`."""
    return KeyResult(
        key=key,
        label=label,
        value=days,
        unit=unit,
        display=format_duration(days),
        tier=classify(days, bands),
        tier_source=tier_source,
        formula=formula,
        sql=sql,
        n=n,
        note=note,
    )


def percent_key(
    part: int,
    whole: int,
    *,
    key: str,
    label: str,
    unit: str,
    formula: str,
    sql: str,
    bands: Sequence[Band] | None,
    tier_source: str,
    note: str,
) -> KeyResult:
    """A key that is `part` of `whole` in percent (failure and rework rates); no tier without `bands`."""
    percent = 100.0 * part / whole
    return KeyResult(
        key=key,
        label=label,
        value=percent,
        unit=unit,
        display=format_percent(percent),
        tier=classify(percent, bands) if bands is not None else None,
        tier_source=tier_source,
        formula=formula,
        sql=sql,
        n=whole,
        note=note,
    )
