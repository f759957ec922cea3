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

from pipelines.devops.definitions import (
    CHANGE_FAILURE_RATE_BANDS_2024,
    DEFAULT_DEFINITION,
    DEFINITIONS,
    DORA_2023_TIER_SOURCE,
    DORA_2024_PERFORMANCE_LEVELS,
    DORA_2024_TIER_SOURCE,
    FOURKEYS_CHANGE_FAILURE_BUCKETS,
    FOURKEYS_DURATION_BUCKETS,
    FOURKEYS_TIER_SOURCE,
    LEAD_TIME_BANDS_2024,
    RECOVERY_TIME_BANDS_2024,
    check_definition,
    fourkeys_start,
)
from pipelines.importers.unknowns import import_unknowns, mark_unknown
from pipelines.keys import (
    Band,
    KeyResult,
    bucketed_frequency,
    classify,
    duration_key,
    format_number,
    percent_key,
    summary_row,
    undefined_key,
    with_receipt,
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
    "published_levels",
    "tier_table",
]

DORA_TIER_SOURCE = DORA_2023_TIER_SOURCE

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
_NO_TIER_REWORK_2024 = (
    "no tier: DORA 2024 names rework rate a stability metric and publishes no levels for it"
)
_TIER_SOURCES = {
    "dora2023": DORA_TIER_SOURCE,
    "dora2024": DORA_2024_TIER_SOURCE,
    "fourkeys": FOURKEYS_TIER_SOURCE,
}


def _window(
    store: Store, workspace: str, start: datetime | None, end: datetime | None, definition: str
) -> dict[str, Any]:
    """The key queries' parameters under `definition`: Four Keys looks at the last three months of
    the window (its end, or the history's), from the start of the data at the earliest."""
    if definition == "fourkeys":
        first, last = keys_sql.history_bounds(store, workspace)
        last = end or last
        if last is not None:
            start, end = fourkeys_start(last, max(filter(None, [start, first]), default=None)), last
    return keys_sql.window_params(workspace, start, end)


def _fourkeys_bucket(value: float, buckets: tuple[Band, ...]) -> str:
    return f"Four Keys bucket: {classify(value, buckets)}"


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
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
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
    medium, yearly low), the same under DORA 2024.
    `definition="fourkeys"`: Four Keys' own rule, over the last three months, counting every
    production release deploy (rollback redeploys and hotfixes too); the only tier it names is
    Daily's "Elite Performance".
    """
    definition = check_definition(definition)
    key, label, unit = "deployment_frequency", "Deployment frequency", "deploys/week"
    params = _window(store, workspace, start, end, definition)
    if definition == "fourkeys":
        formula = "Four Keys bucket over the last three months of every production deploy (rollbacks and hotfixes included)"
        sql, receipt_sql = (
            keys_sql.DEPLOYMENT_FREQUENCY_FOURKEYS_SQL,
            keys_sql.DEPLOYMENT_FREQUENCY_FOURKEYS_RECEIPT_SQL,
        )
        events = "production releases"

        def tier_of(bucket: str, _: float) -> str | None:
            return "elite" if bucket == "daily" else None

    else:
        formula = "Four Keys bucket over weeks: median deploy days/week >= 3 daily, most weeks weekly, most months monthly, else yearly"
        sql, receipt_sql = keys_sql.DEPLOYMENT_FREQUENCY_SQL, keys_sql.DEPLOYMENT_FREQUENCY_RECEIPT_SQL
        events = "planned releases"

        def tier_of(bucket: str, _: float) -> str | None:
            return DEPLOYMENT_FREQUENCY_TIERS[bucket]

    row = _row(keys_sql.run_summary(store, sql, params))
    extra = ""
    if row.get("median_days_per_week") is not None:
        extra = f"; median {format_number(row['median_days_per_week'])} deploy days a week"
    result = bucketed_frequency(
        row,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        events=events,
        tier_of=tier_of,
        tier_source=_TIER_SOURCES[definition],
        note_extra=extra,
    )
    return with_receipt(result, receipt_sql, params, definition)


def lead_time_for_changes(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
) -> KeyResult:
    """How long a change takes from commit to running in production.

    value = median over changes shipped in the window of (deployed_sim_time - committed_sim_time),
    in days. A change is one commit (`changes` row); its deploy is the first production deploy that
    shipped it, as Four Keys counts it (a deploy can ship several commits). Changes not shipped
    yet are left out and counted in `note`. In a scenario a change waits `review_hours`, then the
    next release train (`DevOpsSettings.train_hours`), and is live at the departure plus the
    pipeline's measured duration: lead times differ with when each commit lands.
    Tier: `LEAD_TIME_BANDS` (DORA 2023: elite < 1 day, high <= 1 week, medium <= 1 month, low beyond);
    DORA 2024 has the same bounds (`LEAD_TIME_BANDS_2024`).
    `definition="fourkeys"`: the median of whole minutes over the last three months, leaving out
    leads of 0 minutes or less; Four Keys' bucket in the note, no tier.
    """
    definition = check_definition(definition)
    key, label, unit = "lead_time_for_changes", "Lead time for changes", "days"
    params = _window(store, workspace, start, end, definition)
    if definition == "fourkeys":
        formula = "median over changes shipped in the last three months of whole minutes from commit to deploy (> 0)"
        sql, receipt_sql = (
            keys_sql.LEAD_TIME_FOR_CHANGES_FOURKEYS_SQL,
            keys_sql.LEAD_TIME_FOR_CHANGES_FOURKEYS_RECEIPT_SQL,
        )
    else:
        formula = "median over shipped changes of (deployed_sim_time - committed_sim_time)"
        sql, receipt_sql = keys_sql.LEAD_TIME_FOR_CHANGES_SQL, keys_sql.LEAD_TIME_FOR_CHANGES_RECEIPT_SQL
    bands = {"dora2023": LEAD_TIME_BANDS, "dora2024": LEAD_TIME_BANDS_2024, "fourkeys": ()}[definition]
    row = _row(keys_sql.run_summary(store, sql, params))
    changes, waiting = int(row.get("changes") or 0), int(row.get("not_shipped") or 0)
    waiting_note = (
        f"{waiting} committed change{'s' if waiting != 1 else ''} not shipped yet" if waiting else None
    )
    if changes == 0 or row.get("median_days") is None:
        result = _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "; ".join(filter(None, ["no change shipped to production in this window", waiting_note])),
            tier_source=_TIER_SOURCES[definition],
        )
        return with_receipt(result, receipt_sql, params, definition)
    days = float(row["median_days"])
    if definition == "fourkeys":
        waiting_note = "; ".join(
            filter(None, [_fourkeys_bucket(days, FOURKEYS_DURATION_BUCKETS), waiting_note])
        )
    result = duration_key(
        days,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=bands,
        tier_source=_TIER_SOURCES[definition],
        n=changes,
        note=waiting_note,
    )
    return with_receipt(result, receipt_sql, params, definition)


def change_failure_rate(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
) -> KeyResult:
    """The share of deploys that failed in production.

    value = 100 * failed deploys / deploys, in percent, where deploys are the planned production
    release deployments in the window (not `unplanned`: a rollback redeploy or hotfix is the
    remedy, counted by `deployment_rework_rate`) and a deploy failed when it caused an incident
    (`incidents.cause_deployment_id`) or was rolled back. 5 deploys, 2 failed -> 40 %.
    Tier: `CHANGE_FAILURE_RATE_BANDS` (DORA 2023: elite <= 5 %, high <= 10 %, medium <= 15 %);
    DORA 2024: `CHANGE_FAILURE_RATE_BANDS_2024` (elite <= 5 %, no tier to 20 %, low beyond).
    `definition="fourkeys"`: every production release deploy of the last three months counts
    (rollback redeploys and hotfixes too), failed when an incident names it as cause; Four Keys'
    bucket (0-15%, 16-45%, 46-60%) in the note, no tier.
    """
    definition = check_definition(definition)
    key, label, unit = "change_failure_rate", "Change failure rate", "%"
    params = _window(store, workspace, start, end, definition)
    if definition == "fourkeys":
        formula = "deploys an incident names as cause / every production deploy of the last three months"
        sql, receipt_sql = (
            keys_sql.CHANGE_FAILURE_RATE_FOURKEYS_SQL,
            keys_sql.CHANGE_FAILURE_RATE_FOURKEYS_RECEIPT_SQL,
        )
        deploy_words = "production releases"
    else:
        formula = "failed deploys / planned production deploys; failed = caused an incident or rolled back"
        sql, receipt_sql = keys_sql.CHANGE_FAILURE_RATE_SQL, keys_sql.CHANGE_FAILURE_RATE_RECEIPT_SQL
        deploy_words = "planned releases"
    bands = {
        "dora2023": CHANGE_FAILURE_RATE_BANDS,
        "dora2024": CHANGE_FAILURE_RATE_BANDS_2024,
        "fourkeys": None,
    }
    row = _row(keys_sql.run_summary(store, sql, params))
    deploys, failed = int(row.get("deploys") or 0), int(row.get("failed") or 0)
    if deploys == 0:
        what = "production release" if definition == "fourkeys" else "planned production release"
        result = _undefined(
            key, label, unit, formula, sql, f"no {what} in this window", tier_source=_TIER_SOURCES[definition]
        )
        return with_receipt(result, receipt_sql, params, definition)
    note = f"{failed} of {deploys} {deploy_words} failed"
    if definition == "fourkeys":
        note = f"{_fourkeys_bucket(100.0 * failed / deploys, FOURKEYS_CHANGE_FAILURE_BUCKETS)}; {note}"
    result = percent_key(
        failed,
        deploys,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=bands[definition],
        tier_source=_TIER_SOURCES[definition],
        note=note,
    )
    return with_receipt(result, receipt_sql, params, definition)


def failed_deployment_recovery_time(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
) -> KeyResult:
    """How long service takes to recover from a deploy that broke it.

    value = median over resolved incidents caused by a production release (incidents opened in the
    window whose `cause_deployment_id` is a release deployment) of
    (resolved_sim_time - opened_sim_time), in days. Incidents still open are counted in `note`.
    Production (`pipelines.devops.production.Production.serve_day`) opens an incident at the
    scenario time of the first failing request and resolves it when the real rollback is healthy
    (the alarm's time plus the measured redeploy and health check), so this is hours or less
    when a rollback restores service, not whole served days.
    Tier: `RECOVERY_TIME_BANDS` (DORA 2023: elite < 1 hour, high < 1 day, medium <= 1 week);
    DORA 2024: `RECOVERY_TIME_BANDS_2024` (elite < 1 hour, no tier to one day, low beyond).
    `definition="fourkeys"`: Four Keys' time to restore services, from the earlier of the causing
    deploy and the incident's opening to its resolution, over the last three months; its bucket
    in the note, no tier.
    """
    definition = check_definition(definition)
    key, label, unit = "failed_deployment_recovery_time", "Failed deployment recovery time", "days"
    params = _window(store, workspace, start, end, definition)
    if definition == "fourkeys":
        label = "Time to restore services"
        formula = "median over resolved release-caused incidents of (resolved - earlier of causing deploy and opening)"
        sql, receipt_sql = (
            keys_sql.TIME_TO_RESTORE_FOURKEYS_SQL,
            keys_sql.TIME_TO_RESTORE_FOURKEYS_RECEIPT_SQL,
        )
    else:
        formula = "median over resolved deploy-caused incidents of (resolved_sim_time - opened_sim_time)"
        sql = keys_sql.FAILED_DEPLOYMENT_RECOVERY_TIME_SQL
        receipt_sql = keys_sql.FAILED_DEPLOYMENT_RECOVERY_TIME_RECEIPT_SQL
    bands = {"dora2023": RECOVERY_TIME_BANDS, "dora2024": RECOVERY_TIME_BANDS_2024, "fourkeys": ()}[
        definition
    ]
    row = _row(keys_sql.run_summary(store, sql, params))
    resolved, still_open = int(row.get("resolved") or 0), int(row.get("still_open") or 0)
    open_note = f"{still_open} incident{'s' if still_open != 1 else ''} still open" if still_open else None
    if resolved == 0 or row.get("median_days") is None:
        result = _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "; ".join(filter(None, ["no resolved incident caused by a release in this window", open_note])),
            tier_source=_TIER_SOURCES[definition],
        )
        return with_receipt(result, receipt_sql, params, definition)
    days = float(row["median_days"])
    if definition == "fourkeys":
        open_note = "; ".join(filter(None, [_fourkeys_bucket(days, FOURKEYS_DURATION_BUCKETS), open_note]))
    result = duration_key(
        days,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=bands,
        tier_source=_TIER_SOURCES[definition],
        n=resolved,
        note=open_note,
    )
    return with_receipt(result, receipt_sql, params, definition)


def deployment_rework_rate(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
) -> KeyResult:
    """The share of deploys that were unplanned, forced by an incident.

    value = 100 * unplanned production release deploys / all production release deploys (planned
    and unplanned), in percent: DORA's 2024 definition ("deployments that were unplanned but
    happened as a result of an incident in production") over every deployment. An unplanned
    deploy is a rollback redeploy or a hotfix (`deployments.unplanned`).
    Tier: none. DORA publishes no performance levels for rework rate.
    `definition="fourkeys"`: no value; rework rate is not one of Four Keys' keys.
    """
    definition = check_definition(definition)
    key, label, unit = "deployment_rework_rate", "Deployment rework rate", "%"
    formula = "unplanned (incident-caused) production deploys / all production release deploys"
    sql = keys_sql.DEPLOYMENT_REWORK_RATE_SQL
    params = _window(store, workspace, start, end, definition)
    source = _NO_TIER_REWORK_2024 if definition == "dora2024" else _NO_TIER_REWORK
    if definition == "fourkeys":
        result = _undefined(
            key, label, unit, formula, sql, "not a Four Keys metric: Four Keys has four keys, no rework rate",
            tier_source=_NO_TIER_REWORK,
        )  # fmt: skip
        return with_receipt(result, "", params, definition)
    receipt_sql = keys_sql.DEPLOYMENT_REWORK_RATE_RECEIPT_SQL
    row = _row(keys_sql.run_summary(store, sql, params))
    deploys, unplanned = int(row.get("deploys") or 0), int(row.get("unplanned") or 0)
    if deploys == 0:
        result = _undefined(
            key,
            label,
            unit,
            formula,
            sql,
            "no production release in this window",
            tier_source=source,
        )
        return with_receipt(result, receipt_sql, params, definition)
    result = percent_key(
        unplanned,
        deploys,
        key=key,
        label=label,
        unit=unit,
        formula=formula,
        sql=sql,
        bands=None,
        tier_source=source,
        note=f"{unplanned} of {deploys} production releases were unplanned",
    )
    return with_receipt(result, receipt_sql, params, definition)


def dora_keys(
    store: Store,
    workspace: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    definition: str = DEFAULT_DEFINITION,
) -> list[KeyResult]:
    """DORA's five keys, in the order the dashboard shows them, under `definition`; on an imported
    history, those its sources cannot tell are unknown with why (`pipelines.importers.unknowns`)."""
    keys = [
        f(store, workspace, start=start, end=end, definition=definition)
        for f in (
            deployment_frequency,
            lead_time_for_changes,
            change_failure_rate,
            failed_deployment_recovery_time,
            deployment_rework_rate,
        )
    ]
    unknown = import_unknowns(store, workspace)
    if definition == "fourkeys":  # rework rate is no Four Keys key, whatever was imported
        unknown.pop("deployment_rework_rate", None)
    return mark_unknown(keys, unknown)


def tier_table(definition: str = DEFAULT_DEFINITION) -> pd.DataFrame:
    """The tier table of `definition` as the keys apply it: one row a tier (or Four Keys bucket),
    one column a key, each cell the range that gets that row; `frame.attrs["source"]` names it."""
    definition = check_definition(definition)
    if definition == "fourkeys":
        frequency = ["Daily (Elite Performance)", "Weekly", "Monthly", "Yearly", ""]
        durations = [f"{b.tier}: {b.text}" for b in FOURKEYS_DURATION_BUCKETS]
        failures = [f"{b.tier}: {b.text}" for b in FOURKEYS_CHANGE_FAILURE_BUCKETS] + ["", ""]
        frame = pd.DataFrame(
            {
                "bucket": ["1st", "2nd", "3rd", "4th", "5th"],
                "Deployment frequency": frequency,
                "Lead time for changes": durations,
                "Change failure rate": failures,
                "Time to restore services": durations,
            }
        )
        frame.attrs["source"] = (
            "Four Keys (dora-team/fourkeys dashboard and METRICS.md; buckets after the 2019 State of "
            "DevOps Report): over the last three months; buckets only, no tiers but Daily's Elite "
            "Performance; no rework rate"
        )
        return frame
    lead, failure, recovery = {
        "dora2023": (LEAD_TIME_BANDS, CHANGE_FAILURE_RATE_BANDS, RECOVERY_TIME_BANDS),
        "dora2024": (LEAD_TIME_BANDS_2024, CHANGE_FAILURE_RATE_BANDS_2024, RECOVERY_TIME_BANDS_2024),
    }[definition]
    buckets = {tier: bucket for bucket, tier in DEPLOYMENT_FREQUENCY_TIERS.items()}

    def cells(bands: tuple[Band, ...]) -> dict[str, str]:
        return {band.tier or "no tier": band.text for band in bands}

    rows = []
    for tier in ("elite", "high", "medium", "low", "no tier"):
        columns = [cells(lead), cells(failure), cells(recovery)]
        if tier == "no tier" and not any(tier in c for c in columns):
            continue
        rows.append(
            {
                f"tier ({DEFINITIONS[definition]})": tier,
                "Deployment frequency": f"{buckets[tier]} bucket" if tier in buckets else "",
                "Lead time for changes": columns[0].get(tier, ""),
                "Change failure rate": columns[1].get(tier, ""),
                "Failed deployment recovery time": columns[2].get(tier, ""),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["source"] = (
        _TIER_SOURCES[definition]
        + (" (report p. 13)" if definition == "dora2024" else "")
        + "; deployment rework rate has no published levels"
    )
    return frame


def published_levels(definition: str = DEFAULT_DEFINITION) -> pd.DataFrame:
    """The performance levels as the report prints them, cell by cell (empty for Four Keys)."""
    definition = check_definition(definition)
    levels = {"dora2023": DORA_2023_PERFORMANCE_LEVELS, "dora2024": DORA_2024_PERFORMANCE_LEVELS}.get(
        definition
    )
    if levels is None:
        return pd.DataFrame()
    frame = pd.DataFrame.from_dict({tier: dict(cells) for tier, cells in levels.items()}, orient="index")
    frame.index.name = f"level ({DEFINITIONS[definition]})"
    return frame.reset_index()
