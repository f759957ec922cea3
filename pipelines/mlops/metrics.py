"""The ML lifecycle's mirrors of DORA's keys, over a workspace's recorded history.

Same shape as `pipelines.devops.metrics`: each key is a documented function returning a `KeyResult`
built on the SQL in `pipelines.store.keys_sql`, on the scenario clock only; an undefined key has
`value=None` and a `note`, never an exception.

| DORA key                         | ML mirror                       |
| deployment frequency             | retraining frequency            |
| lead time for changes            | data-to-production lead time    |
| change failure rate              | model change failure rate       |
| failed deployment recovery time  | time to recover from drift      |
| (none)                           | model staleness                 |

Tiers: there is no industry table for these. `ML_BANDS` are OpsLab's own bands, shaped like DORA's
levels and sized for a world where data arrives in weekly batches; `tier_source` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from pipelines.importers.unknowns import import_unknowns, mark_unknown
from pipelines.keys import (
    Band,
    KeyResult,
    bucketed_frequency,
    duration_key,
    format_duration,
    format_number,
    percent_key,
    summary_row,
    undefined_key,
    with_receipt,
)
from pipelines.store import keys_sql
from pipelines.store.core import Store

__all__ = [
    "DEFAULT_RECOVERY_MARGIN",
    "ML_BANDS",
    "ML_TIER_SOURCE",
    "RETRAINING_FREQUENCY_TIERS",
    "data_to_production_lead_time",
    "ml_keys",
    "model_change_failure_rate",
    "model_staleness",
    "retraining_frequency",
    "time_to_recover_from_drift",
]

ML_TIER_SOURCE = "OpsLab bands, not an industry standard (shaped like DORA's levels)"
DEFAULT_RECOVERY_MARGIN = 0.1

# Four Keys' bucket of retrains -> level. Data arrives once a week, so retraining at the cadence
# of the data (the bucket "weekly", or faster) is the best there is: elite.
RETRAINING_FREQUENCY_TIERS: Mapping[str, str] = {
    "daily": "elite",
    "weekly": "elite",
    "monthly": "high",
    "yearly": "medium",  # low when retrains are rarer than one a quarter, see retraining_frequency
}
_QUARTERLY = 1 / 13  # retrains a week

# OpsLab's bands (best first), all in the key's unit. Why these bounds:
ML_BANDS: Mapping[str, tuple[Band, ...]] = {
    # DORA's lead-time bounds, read for data: a batch is served within a day, a week, a month.
    "data_to_production_lead_time": (
        Band("elite", 1.0, False, "less than one day"),
        Band("high", 7.0, True, "within one week"),
        Band("medium", 30.0, True, "within one month"),
        Band("low", None, False, "more than one month"),
    ),
    # DORA 2023's change-failure levels, unchanged.
    "model_change_failure_rate": (
        Band("elite", 5.0, True, "5 % or less"),
        Band("high", 10.0, True, "10 % or less"),
        Band("medium", 15.0, True, "15 % or less"),
        Band("low", None, False, "more than 15 %"),
    ),
    # Alarms and quality are judged once a week, so an episode lasts at least a week: back by the
    # next batch is elite, two batches high, four (a month) medium.
    "time_to_recover_from_drift": (
        Band("elite", 7.0, True, "back by the next weekly batch"),
        Band("high", 14.0, True, "within two weeks"),
        Band("medium", 28.0, True, "within four weeks"),
        Band("low", None, False, "more than four weeks"),
    ),
    # Age of the newest data the serving model learnt from.
    "model_staleness": (
        Band("elite", 7.0, True, "one week or less"),
        Band("high", 30.0, True, "one month or less"),
        Band("medium", 90.0, True, "one quarter or less"),
        Band("low", None, False, "more than a quarter"),
    ),
}


def _row(frame: pd.DataFrame) -> dict[str, Any]:
    return summary_row(frame)


def _undefined(key: str, label: str, unit: str, formula: str, sql: str, note: str, n: int = 0) -> KeyResult:
    return undefined_key(key, label, unit, formula, sql, note, tier_source=ML_TIER_SOURCE, n=n)


def _duration(
    days: float, key: str, label: str, unit: str, formula: str, sql: str, n: int, note: str | None = None
) -> KeyResult:
    """A duration key in days, placed in OpsLab's ML bands for `key`."""
    return duration_key(
        days, key=key, label=label, unit=unit, formula=formula, sql=sql, bands=ML_BANDS[key],
        tier_source=ML_TIER_SOURCE, n=n, note=note,
    )  # fmt: skip


def retraining_frequency(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How often the retraining policy retrains, bucketed by Four Keys' rule (DORA's deployment frequency).

    value = succeeded mlops runs with trigger schedule, drift or performance / weeks in the window
    (retrains a week); display = Four Keys' bucket over the same weeks, exactly as
    `pipelines.devops.metrics.deployment_frequency` computes it for deploys (daily / weekly /
    monthly / yearly). Manual runs are left out: the key measures the policy, not a person.
    A retrain counts whether or not the gate promoted its model: retraining is the act measured;
    whether it reached production is `data_to_production_lead_time`'s business.
    Tier (OpsLab): daily or weekly elite (the data's own cadence), monthly high, yearly medium when
    at least one retrain a quarter (1/13 a week), low when rarer.
    """
    key, label, unit = "retraining_frequency", "Retraining frequency", "retrains/week"
    formula = "Four Keys bucket over weeks of policy-triggered retrains (schedule, drift, performance)"
    sql = keys_sql.RETRAINING_FREQUENCY_SQL
    row = _row(keys_sql.retraining_frequency_summary(store, workspace, start, end))

    def tier_of(bucket: str, per_week: float) -> str | None:
        return "low" if bucket == "yearly" and per_week < _QUARTERLY else RETRAINING_FREQUENCY_TIERS[bucket]

    result = bucketed_frequency(
        row,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        events="retrains",
        tier_of=tier_of,
        tier_source=ML_TIER_SOURCE,
    )
    return with_receipt(
        result, keys_sql.RETRAINING_FREQUENCY_RECEIPT_SQL, keys_sql.window_params(workspace, start, end)
    )


def data_to_production_lead_time(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How long new data takes to reach production inside a model (DORA's lead time for changes).

    value = median over planned production model deployments in the window of
    (deployment sim_time - window_end of the model version it deployed), in days: from the newest
    batch the model learnt from to the model serving. Unplanned model deploys (a rollback to an
    older model) are left out: they ship no new data.
    Tier (OpsLab): `ML_BANDS["data_to_production_lead_time"]` (< 1 day, <= 1 week, <= 1 month).
    """
    key, label, unit = "data_to_production_lead_time", "Data-to-production lead time", "days"
    formula = "median over planned production model deploys of (deploy sim_time - model window_end)"
    sql = keys_sql.DATA_TO_PRODUCTION_LEAD_TIME_SQL
    receipt_params = keys_sql.window_params(workspace, start, end)

    def _r(key: KeyResult) -> KeyResult:
        return with_receipt(key, keys_sql.DATA_TO_PRODUCTION_LEAD_TIME_RECEIPT_SQL, receipt_params)

    row = _row(keys_sql.data_to_production_lead_time_summary(store, workspace, start, end))
    deploys = int(row.get("deploys") or 0)
    if deploys == 0 or row.get("median_days") is None:
        return _r(
            _undefined(key, label, unit, formula, sql, "no model deployed to production in this window")
        )
    return _r(_duration(float(row["median_days"]), key, label, unit, formula, sql, deploys))


def model_change_failure_rate(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """The share of model deploys that failed in production (DORA's change failure rate).

    value = 100 * failed / planned production model deployments in the window, in percent, where a
    model deploy failed when it was later rolled back or caused an incident
    (`incidents.cause_deployment_id`), the same test DORA's change failure rate applies to releases.
    Tier (OpsLab): DORA 2023's change-failure levels (<= 5 %, <= 10 %, <= 15 %).
    """
    key, label, unit = "model_change_failure_rate", "Model change failure rate", "%"
    formula = "failed / planned production model deploys; failed = rolled back or caused an incident"
    sql = keys_sql.MODEL_CHANGE_FAILURE_RATE_SQL
    receipt_params = keys_sql.window_params(workspace, start, end)

    def _r(key: KeyResult) -> KeyResult:
        return with_receipt(key, keys_sql.MODEL_CHANGE_FAILURE_RATE_RECEIPT_SQL, receipt_params)

    row = _row(keys_sql.model_change_failure_counts(store, workspace, start, end))
    deploys, failed = int(row.get("deploys") or 0), int(row.get("failed") or 0)
    if deploys == 0:
        return _r(
            _undefined(key, label, unit, formula, sql, "no model deployed to production in this window")
        )
    return _r(
        percent_key(
            failed,
            deploys,
            key=key,
            label=label,
            unit=unit,
            formula=formula,
            sql=sql,
            bands=ML_BANDS[key],
            tier_source=ML_TIER_SOURCE,
            note=f"{failed} of {deploys} model deploys failed",
        )
    )


def time_to_recover_from_drift(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    margin: float = DEFAULT_RECOVERY_MARGIN,
) -> KeyResult:
    """How long production quality takes to come back after a monitoring alarm (DORA's recovery time).

    Over the `weekly` rows in week order, an episode starts at a week whose `alarm` is set (drift or
    quality) when no episode is under way, and ends at the first later week with no alarm whose
    quality is back within `margin` of `quality_baseline`, in the direction stored with the week:
      quality_direction 'lower' (mae, rmse, ...):     quality <= baseline * (1 + margin)
      quality_direction 'higher' (accuracy, f1, ...): quality >= baseline * (1 - margin)
    A week without quality (labels not arrived yet) or without a direction does not end one.
    value = median over ended episodes of (recovering week's sim_time - first alarm week's
    sim_time), in days. Episodes still open are reported in `note`. The episodes are a
    gaps-and-islands query in SQL (`keys_sql.DRIFT_EPISODES_SQL`); the median is taken here.
    Tier (OpsLab): `ML_BANDS["time_to_recover_from_drift"]` (<= 1 week, <= 2 weeks, <= 4 weeks).
    """
    if not margin >= 0:
        raise ValueError(f"margin must be a non-negative fraction, got {margin!r}")
    key, label, unit = "time_to_recover_from_drift", "Time to recover from drift", "days"
    formula = f"median over alarm episodes of (first week back within {format_number(100 * margin)} % of baseline, no alarm - first alarm week)"
    sql = keys_sql.DRIFT_EPISODES_SQL
    receipt_params = {**keys_sql.window_params(workspace, start, end), "margin": margin}

    def _r(key: KeyResult) -> KeyResult:
        return with_receipt(key, keys_sql.TIME_TO_RECOVER_FROM_DRIFT_RECEIPT_SQL, receipt_params)

    episodes = keys_sql.drift_episodes(store, workspace, start, end, margin=margin)
    ended = episodes[episodes["recovered_week"].notna()]
    still_open = episodes[episodes["recovered_week"].isna()]
    open_note = None
    if not still_open.empty:
        first = still_open.iloc[0]
        open_note = (
            f"{len(still_open)} episode{'s' if len(still_open) != 1 else ''} not recovered yet "
            f"(open since week {int(first['alarm_week'])}, {first['first_alarm']} alarm)"
        )
    if episodes.empty:
        return _r(_undefined(key, label, unit, formula, sql, "no drift or quality alarm in this window"))
    if ended.empty:
        return _r(_undefined(key, label, unit, formula, sql, open_note or "no episode has ended"))
    return _r(
        _duration(
            float(ended["days_to_recover"].median()), key, label, unit, formula, sql, len(ended), open_note
        )
    )


def model_staleness(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How old the data behind the serving model is (no DORA twin: code does not age, models do).

    Per week: staleness = weekly.sim_time - window_end of the model version serving that week
    (weekly.model_version -> model_versions.window_end), in days.
    value = the latest week's staleness; the mean over the window's weeks is in `note`.
    Tier (OpsLab): `ML_BANDS["model_staleness"]` (<= 1 week, <= 1 month, <= 1 quarter).
    """
    key, label, unit = "model_staleness", "Model staleness", "days"
    formula = "latest week's (week sim_time - serving model's window_end); mean over weeks in note"
    sql = keys_sql.MODEL_STALENESS_SQL
    receipt_params = keys_sql.window_params(workspace, start, end)

    def _r(key: KeyResult) -> KeyResult:
        return with_receipt(key, keys_sql.MODEL_STALENESS_RECEIPT_SQL, receipt_params)

    weeks = keys_sql.model_staleness_by_week(store, workspace, start, end)
    if weeks.empty:
        return _r(
            _undefined(
                key, label, unit, formula, sql, "no week served by a known model version in this window"
            )
        )
    latest = weeks.iloc[-1]
    days = float(latest["staleness_days"])
    mean = float(weeks["staleness_days"].mean())
    return _r(
        _duration(
            days,
            key,
            label,
            unit,
            formula,
            sql,
            len(weeks),
            f"week {int(latest['week'])} served by v{int(latest['model_version'])}; "
            f"mean {format_duration(mean)} over {len(weeks)} weeks",
        )
    )


def ml_keys(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    margin: float = DEFAULT_RECOVERY_MARGIN,
) -> list[KeyResult]:
    """The five ML lifecycle keys, in the order that mirrors `dora_keys`."""
    window: dict[str, Any] = {"start": start, "end": end}
    keys = [
        retraining_frequency(store, workspace, **window),
        data_to_production_lead_time(store, workspace, **window),
        model_change_failure_rate(store, workspace, **window),
        time_to_recover_from_drift(store, workspace, **window, margin=margin),
        model_staleness(store, workspace, **window),
    ]
    return mark_unknown(keys, import_unknowns(store, workspace))  # what an import cannot tell
