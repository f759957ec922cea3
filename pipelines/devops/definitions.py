"""Three ways to read DORA's keys: Four Keys' rules, the 2023 report's levels, the 2024 report's levels.

What each definition changes, from its source only:

- **Four Keys** (dora-team/fourkeys: `dashboard/fourkeys_dashboard.json`, `queries/*.sql`,
  `METRICS.md`). Every figure is over the last three months of data. Every successful production
  deployment counts (a rollback redeploy or a hotfix is a deployment there); a deployment failed
  when an incident names it as root cause (Four Keys has no rollback flag); lead time is the median
  of whole minutes from commit to deploy, leaving out leads of 0 minutes or less ("automated
  pushes"); time to restore runs from the earlier of the incident's creation and the deployment
  that caused it (`queries/incidents.sql`) to the resolution. Where Four Keys' own files disagree
  OpsLab follows `queries/`: a failed deploy counts once however many incidents name it
  (`queries/change_failure_rate.sql`; the dashboard's stat sums incidents), and durations are
  exact (the dashboard's restore bucket truncates to whole hours). Four Keys ties an incident to
  the commit it names and so to every deploy carrying it; OpsLab's incidents name their deploy. Its dashboard shows buckets, not
  tiers: deployment frequency Daily / Weekly / Monthly / Yearly (Daily is labelled "Elite
  Performance", the only tier it names), lead time and time to restore One day / One week /
  One month / Six months / One year (< 24 h, < 168 h, < 730 h, < 4380 h), change failure rate
  0-15% / 16-45% / 46-60%. It has no rework rate.
- **DORA 2023** (Accelerate State of DevOps Report 2023, software delivery performance levels):
  failed deployment recovery time replaces time to restore; levels elite / high / medium / low,
  `DORA_2023_PERFORMANCE_LEVELS`. OpsLab's default: its figures and bands are
  `pipelines.devops.metrics`'s.
- **DORA 2024** (Accelerate State of DevOps Report 2024, p. 13; the clusters are computed on the
  four keys): same measures as 2023, new levels, `DORA_2024_PERFORMANCE_LEVELS`. The medium level's
  typical change fail rate (10 %) is lower than the high level's (20 %), and high and medium share
  "less than one day" of recovery time: a rate or a time in those ranges places no tier. Rework
  rate appears in 2024 as a stability metric, with no levels.

Bands follow one rule in every year: a value in a range the table gives to exactly one level gets
that level; a range two levels share gets no tier; a value worse than every level but low is low
(the gaps a table leaves between its levels go to the worse side, as `RECOVERY_TIME_BANDS` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import pandas as pd

from pipelines.keys import Band

__all__ = [
    "CHANGE_FAILURE_RATE_BANDS_2024",
    "DEFAULT_DEFINITION",
    "DEFINITIONS",
    "DORA_2023_TIER_SOURCE",
    "DORA_2024_PERFORMANCE_LEVELS",
    "DORA_2024_TIER_SOURCE",
    "FOURKEYS_CHANGE_FAILURE_BUCKETS",
    "FOURKEYS_DURATION_BUCKETS",
    "FOURKEYS_MONTHS",
    "FOURKEYS_TIER_SOURCE",
    "LEAD_TIME_BANDS_2024",
    "RECOVERY_TIME_BANDS_2024",
    "Definition",
    "check_definition",
    "fourkeys_start",
]

Definition = Literal["fourkeys", "dora2023", "dora2024"]
DEFINITIONS: Mapping[str, str] = {"fourkeys": "Four Keys", "dora2023": "DORA 2023", "dora2024": "DORA 2024"}
DEFAULT_DEFINITION: Definition = "dora2023"

DORA_2023_TIER_SOURCE = "DORA Accelerate State of DevOps 2023"
DORA_2024_TIER_SOURCE = "DORA Accelerate State of DevOps 2024"
FOURKEYS_TIER_SOURCE = (
    "Four Keys dashboard (dora-team/fourkeys): buckets, no tiers; only its Daily deployment bucket "
    "is labelled Elite Performance"
)


def check_definition(definition: str) -> Definition:
    if definition not in DEFINITIONS:
        raise ValueError(f"unknown definition {definition!r}: choose one of {', '.join(DEFINITIONS)}")
    return definition  # type: ignore[return-value]


# The software delivery performance levels of the 2024 Accelerate State of DevOps Report (DORA /
# Google Cloud, October 2024, p. 13; https://dora.dev/research/2024/dora-report/), cell by cell.
DORA_2024_PERFORMANCE_LEVELS: Mapping[str, Mapping[str, str]] = {
    "elite": {
        "deployment_frequency": "On demand (multiple deploys per day)",
        "lead_time_for_changes": "Less than one day",
        "change_failure_rate": "5%",
        "failed_deployment_recovery_time": "Less than one hour",
        "share_of_respondents": "19%",
    },
    "high": {
        "deployment_frequency": "Between once per day and once per week",
        "lead_time_for_changes": "Between one day and one week",
        "change_failure_rate": "20%",
        "failed_deployment_recovery_time": "Less than one day",
        "share_of_respondents": "22%",
    },
    "medium": {
        "deployment_frequency": "Between once per week and once per month",
        "lead_time_for_changes": "Between one week and one month",
        "change_failure_rate": "10%",
        "failed_deployment_recovery_time": "Less than one day",
        "share_of_respondents": "35%",
    },
    "low": {
        "deployment_frequency": "Between once per month and once every six months",
        "lead_time_for_changes": "Between one month and six months",
        "change_failure_rate": "40%",
        "failed_deployment_recovery_time": "Between one week and one month",
        "share_of_respondents": "25%",
    },
}

# Lead time in days: the 2024 levels have the 2023 bounds, and a low band of its own.
LEAD_TIME_BANDS_2024 = (
    Band("elite", 1.0, False, "less than one day"),
    Band("high", 7.0, True, "between one day and one week"),
    Band("medium", 30.0, True, "between one week and one month"),
    Band("low", None, False, "more than one month (the low level: one to six months)"),
)

# Change failure rate in percent. 2024's high level fails 20 %, its medium level 10 %: between 5 %
# and 20 % the rate alone cannot say which, so no tier; beyond every level but low is low.
CHANGE_FAILURE_RATE_BANDS_2024 = (
    Band("elite", 5.0, True, "5 % or less"),
    Band(None, 20.0, True, "over 5 % to 20 %: no tier (high's typical rate is 20 %, medium's 10 %)"),
    Band("low", None, False, "more than 20 % (the low level's typical rate is 40 %)"),
)

# Recovery time in days. High and medium are both "less than one day"; nothing lies between one
# day and one week, which is worse than medium: low, with the low level's week to a month.
RECOVERY_TIME_BANDS_2024 = (
    Band("elite", 1 / 24, False, "less than one hour"),
    Band(None, 1.0, False, "one hour to one day: no tier (high and medium both 'less than one day')"),
    Band("low", None, False, "one day or more (the low level: one week to one month)"),
)

# Four Keys' buckets, as its dashboard writes them: durations in days (its thresholds are hours:
# 24, 168, 730, 730 * 6), change failure rate in percent (<= 15, < 46, else).
FOURKEYS_DURATION_BUCKETS = (
    Band("One day", 24 / 24, False, "under 24 hours"),
    Band("One week", 168 / 24, False, "under 168 hours"),
    Band("One month", 730 / 24, False, "under 730 hours"),
    Band("Six months", 730 * 6 / 24, False, "under 4380 hours"),
    Band("One year", None, False, "4380 hours or more"),
)
FOURKEYS_CHANGE_FAILURE_BUCKETS = (
    Band("0-15%", 15.0, True, "15 % or less"),
    Band("16-45%", 46.0, False, "under 46 %"),
    Band("46-60%", None, False, "46 % or more"),
)
FOURKEYS_MONTHS = 3  # every Four Keys bucket looks at the last three months


def fourkeys_start(end: datetime, start: datetime | None = None) -> datetime:
    """The start of Four Keys' window: three months before `end`, or `start` when that is later."""
    three_months = (pd.Timestamp(end) - pd.DateOffset(months=FOURKEYS_MONTHS)).to_pydatetime()
    return max(three_months, start) if start is not None else three_months
