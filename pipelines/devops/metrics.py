"""DORA's five software delivery keys over a workspace's recorded history, with their tiers.

Every key is computed on the scenario clock (`*sim_time`), never wall-clock time, from the SQL in
`pipelines.store.keys_sql`, and comes back as a `KeyResult` carrying its formula, the SQL and the
number of items it was computed from. A key that is undefined (no deploys, no incidents...) has
`value=None` and a `note` saying why; nothing here raises on an empty history.

Tiers come from one published table, `DORA_2023_PERFORMANCE_LEVELS`, whose wording is turned into
cut points in the `*_BANDS` constants below (each explains its choices). Deployment rework rate has
no published levels, so it has no tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from pipelines.keys import (
    Band,
    KeyResult,
    bucketed_frequency,
    duration_key,
    format_number,
    percent_key,
    summary_row,
    undefined_key,
)
from pipelines.store import keys_sql
from pipelines.store.core import Store

__all__ = [
    "CHANGE_FAILURE_RATE_BANDS",
    "DEPLOYMENT_FREQUENCY_TIERS",
    "DORA_2023_PERFORMANCE_LEVELS",
    "DORA_TIER_SOURCE",
    "LEAD_TIME_BANDS",
    "RECOVERY_TIME_BANDS",
    "change_failure_rate",
    "deployment_frequency",
    "deployment_rework_rate",
    "dora_keys",
    "failed_deployment_recovery_time",
    "lead_time_for_changes",
]

DORA_TIER_SOURCE = "DORA Accelerate State of DevOps 2023"

# The software delivery performance levels of the 2023 Accelerate State of DevOps Report (DORA /
# Google Cloud, October 2023; https://dora.dev/research/2023/dora-report/), cell by cell. The
# report's low level repeats the medium level's deployment frequency and lead time: those two keys
# cannot tell medium and low apart in 2023, which the bands below resolve and document.
DORA_2023_PERFORMANCE_LEVELS: Mapping[str, Mapping[str, str]] = {
    "elite": {
        "deployment_frequency": "On demand",
        "lead_time_for_changes": "Less than one day",
        "change_failure_rate": "5%",
        "failed_deployment_recovery_time": "Less than one hour",
        "share_of_respondents": "18%",
    },
    "high": {
        "deployment_frequency": "Between once per day and once per week",
        "lead_time_for_changes": "Between one day and one week",
        "change_failure_rate": "10%",
        "failed_deployment_recovery_time": "Less than one day",
        "share_of_respondents": "31%",
    },
    "medium": {
        "deployment_frequency": "Between once per week and once per month",
        "lead_time_for_changes": "Between one week and one month",
        "change_failure_rate": "15%",
        "failed_deployment_recovery_time": "Between one day and one week",
        "share_of_respondents": "33%",
    },
    "low": {
        "deployment_frequency": "Between once per week and once per month",
        "lead_time_for_changes": "Between one week and one month",
        "change_failure_rate": "64%",
        "failed_deployment_recovery_time": "Between one month and six months",
        "share_of_respondents": "17%",
    },
}

# Four Keys' bucket -> level. Four Keys' own dashboard shows its "Daily" bucket as "Elite
# Performance"; the others follow the table's order. "yearly" (less than monthly) is below every
# band the 2023 table prints, so it is low.
DEPLOYMENT_FREQUENCY_TIERS: Mapping[str, str] = {
    "daily": "elite",
    "weekly": "high",
    "monthly": "medium",
    "yearly": "low",
}

# Lead time in days. Up to a month is medium; beyond a month is low (the 2022 and 2024 reports' low
# band, "between one month and six months": the 2023 table gives low no band of its own).
LEAD_TIME_BANDS = (
    Band("elite", 1.0, False, "less than one day"),
    Band("high", 7.0, True, "between one day and one week"),
    Band("medium", 30.0, True, "between one week and one month"),
    Band("low", None, False, "more than one month"),
)

# Change failure rate in percent. The report gives each level's typical rate; a rate belongs to the
# best level whose rate it does not exceed.
CHANGE_FAILURE_RATE_BANDS = (
    Band("elite", 5.0, True, "5 % or less"),
    Band("high", 10.0, True, "10 % or less"),
    Band("medium", 15.0, True, "15 % or less"),
    Band("low", None, False, "more than 15 % (the low level's typical rate is 64 %)"),
)

# Failed deployment recovery time in days. The gap the table leaves between one week and one
# month goes to low.
RECOVERY_TIME_BANDS = (
    Band("elite", 1 / 24, False, "less than one hour"),
    Band("high", 1.0, False, "less than one day"),
    Band("medium", 7.0, True, "between one day and one week"),
    Band("low", None, False, "more than one week"),
)

_NO_TIER_REWORK = "no tier: DORA publishes no performance levels for rework rate"


def _row(frame: pd.DataFrame) -> dict[str, Any]:
    return summary_row(frame)


def _undefined(
    key: str,
    label: str,
    unit: str,
    formula: str,
    sql: str,
    note: str,
    *,
    tier_source: str = DORA_TIER_SOURCE,
    n: int = 0,
) -> KeyResult:
    return undefined_key(key, label, unit, formula, sql, note, tier_source=tier_source, n=n)


def deployment_frequency(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How often planned production releases happen, bucketed by Four Keys' rule.

    value = planned production release deploys / weeks in the window (deploys a week);
    display = Four Keys' bucket over the same weeks:
      daily   when the median, over weeks, of days with at least one deploy is >= 3;
      weekly  when the median week has a deploy (median of the 0/1 "deployed this week" flag >= 1,
              i.e. more than half the weeks have one);
      monthly when the median, over weeks, of "weeks with a deploy in this week's month" is >= 1;
      yearly  otherwise.
    Source of the rule: dora-team/fourkeys, dashboard/fourkeys_dashboard.json, panel "Deployment
    Frequency". Medians interpolate (PERCENTILE_CONT there, quantile_cont here). Weeks are 7-day
    buckets counted from the window's start (the scenario's weeks), not calendar weeks; the window
    is the workspace's history unless `start`/`end` are given, when deploys with
    start <= sim_time <= end count. The history runs from 7 days before the first weekly row (each
    row is stamped with its week's end) to the last one, stretched to cover every deploy; the
    window is ceil((end - start) / 7 days) buckets, so 96 played weeks are 96 buckets and a deploy
    at the window's very end counts in its last week. "weekly" is Four Keys' test on the 0/1
    flag, which differs from "median deploy days a week >= 1" only when an even number of weeks
    interpolates between 0 and 2 or more.

    Counted: `deployments` with environment 'production', kind 'release' and not `unplanned`.
    A rollback redeploy or a hotfix forced by an incident is rework (see `deployment_rework_rate`);
    counting it here would make a failed release raise throughput. Model deploys are the ML
    mirror's business (`pipelines.mlops.metrics.retraining_frequency`).

    Tier: the bucket through `DEPLOYMENT_FREQUENCY_TIERS` (daily elite, weekly high, monthly
    medium, yearly low).
    """
    key, label, unit = "deployment_frequency", "Deployment frequency", "deploys/week"
    formula = "Four Keys bucket over weeks: median deploy days/week >= 3 daily, most weeks weekly, most months monthly, else yearly"
    sql = keys_sql.DEPLOYMENT_FREQUENCY_SQL
    row = _row(keys_sql.deployment_frequency_summary(store, workspace, start, end))
    extra = ""
    if row.get("median_days_per_week") is not None:
        extra = f"; median {format_number(row['median_days_per_week'])} deploy days a week"
    return bucketed_frequency(
        row,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        events="planned releases",
        tier_of=lambda bucket, _: DEPLOYMENT_FREQUENCY_TIERS[bucket],
        tier_source=DORA_TIER_SOURCE,
        note_extra=extra,
    )


def lead_time_for_changes(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How long a change takes from commit to running in production.

    value = median over changes shipped in the window of (deployed_sim_time - committed_sim_time),
    in days. A change is one commit (`changes` row); its deploy is the first production deploy that
    shipped it, as Four Keys counts it (a deploy can ship several commits). Changes not shipped
    yet are left out and counted in `note`. In a scenario a change waits `review_hours`, then the
    next release train (`DevOpsSettings.train_hours`), and is live at the departure plus the
    pipeline's measured duration: lead times differ with when each commit lands.
    Tier: `LEAD_TIME_BANDS` (DORA 2023: elite < 1 day, high <= 1 week, medium <= 1 month, low beyond).
    """
    key, label, unit = "lead_time_for_changes", "Lead time for changes", "days"
    formula = "median over shipped changes of (deployed_sim_time - committed_sim_time)"
    sql = keys_sql.LEAD_TIME_FOR_CHANGES_SQL
    row = _row(keys_sql.lead_time_for_changes_summary(store, workspace, start, end))
    changes, waiting = int(row.get("changes") or 0), int(row.get("not_shipped") or 0)
    waiting_note = (
        f"{waiting} committed change{'s' if waiting != 1 else ''} not shipped yet" if waiting else None
    )
    if changes == 0 or row.get("median_days") is None:
        return _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "; ".join(filter(None, ["no change shipped to production in this window", waiting_note])),
        )
    return duration_key(
        float(row["median_days"]),
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=LEAD_TIME_BANDS,
        tier_source=DORA_TIER_SOURCE,
        n=changes,
        note=waiting_note,
    )


def change_failure_rate(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """The share of deploys that failed in production.

    value = 100 * failed deploys / deploys, in percent, where deploys are the planned production
    release deployments in the window (not `unplanned`: a rollback redeploy or hotfix is the
    remedy, counted by `deployment_rework_rate`) and a deploy failed when it caused an incident
    (`incidents.cause_deployment_id`) or was rolled back. 5 deploys, 2 failed -> 40 %.
    Tier: `CHANGE_FAILURE_RATE_BANDS` (DORA 2023: elite <= 5 %, high <= 10 %, medium <= 15 %).
    """
    key, label, unit = "change_failure_rate", "Change failure rate", "%"
    formula = "failed deploys / planned production deploys; failed = caused an incident or rolled back"
    sql = keys_sql.CHANGE_FAILURE_RATE_SQL
    row = _row(keys_sql.change_failure_rate_counts(store, workspace, start, end))
    deploys, failed = int(row.get("deploys") or 0), int(row.get("failed") or 0)
    if deploys == 0:
        return _undefined(key, label, unit, formula, sql, "no planned production release in this window")
    return percent_key(
        failed,
        deploys,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=CHANGE_FAILURE_RATE_BANDS,
        tier_source=DORA_TIER_SOURCE,
        note=f"{failed} of {deploys} planned releases failed",
    )


def failed_deployment_recovery_time(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """How long service takes to recover from a deploy that broke it.

    value = median over resolved incidents caused by a production release (incidents opened in the
    window whose `cause_deployment_id` is a release deployment) of
    (resolved_sim_time - opened_sim_time), in days. Incidents still open are counted in `note`.
    Production (`pipelines.devops.production.Production.serve_day`) opens an incident at the
    scenario time of the first failing request and resolves it when the real rollback is healthy
    (the alarm's time plus the measured redeploy and health check), so this is hours or less
    when a rollback restores service, not whole served days.
    Tier: `RECOVERY_TIME_BANDS` (DORA 2023: elite < 1 hour, high < 1 day, medium <= 1 week).
    """
    key, label, unit = "failed_deployment_recovery_time", "Failed deployment recovery time", "days"
    formula = "median over resolved deploy-caused incidents of (resolved_sim_time - opened_sim_time)"
    sql = keys_sql.FAILED_DEPLOYMENT_RECOVERY_TIME_SQL
    row = _row(keys_sql.failed_deployment_recovery_summary(store, workspace, start, end))
    resolved, still_open = int(row.get("resolved") or 0), int(row.get("still_open") or 0)
    open_note = f"{still_open} incident{'s' if still_open != 1 else ''} still open" if still_open else None
    if resolved == 0 or row.get("median_days") is None:
        return _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "; ".join(filter(None, ["no resolved incident caused by a release in this window", open_note])),
        )
    return duration_key(
        float(row["median_days"]),
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=RECOVERY_TIME_BANDS,
        tier_source=DORA_TIER_SOURCE,
        n=resolved,
        note=open_note,
    )


def deployment_rework_rate(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> KeyResult:
    """The share of deploys that were unplanned, forced by an incident.

    value = 100 * unplanned production release deploys / all production release deploys (planned
    and unplanned), in percent: DORA's 2024 definition ("deployments that were unplanned but
    happened as a result of an incident in production") over every deployment. An unplanned
    deploy is a rollback redeploy or a hotfix (`deployments.unplanned`).
    Tier: none. DORA publishes no performance levels for rework rate.
    """
    key, label, unit = "deployment_rework_rate", "Deployment rework rate", "%"
    formula = "unplanned (incident-caused) production deploys / all production release deploys"
    sql = keys_sql.DEPLOYMENT_REWORK_RATE_SQL
    row = _row(keys_sql.deployment_rework_counts(store, workspace, start, end))
    deploys, unplanned = int(row.get("deploys") or 0), int(row.get("unplanned") or 0)
    if deploys == 0:
        return _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "no production release in this window",
            tier_source=_NO_TIER_REWORK,
        )
    return percent_key(
        unplanned,
        deploys,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=None,
        tier_source=_NO_TIER_REWORK,
        note=f"{unplanned} of {deploys} production releases were unplanned",
    )


def dora_keys(
    store: Store, workspace: str, *, start: datetime | None = None, end: datetime | None = None
) -> list[KeyResult]:
    """DORA's five keys, in the order the dashboard shows them."""
    return [
        f(store, workspace, start=start, end=end)
        for f in (
            deployment_frequency,
            lead_time_for_changes,
            change_failure_rate,
            failed_deployment_recovery_time,
            deployment_rework_rate,
        )
    ]
