"""The SQL behind DORA's five keys and their ML mirrors, and the functions that run it.

Each query is a module-level string with `$name` parameters, so the dashboard can show the exact SQL
that computed a number. Every query is scoped to `$workspace` and uses scenario time (`*sim_time`)
only, never wall-clock time. `$since` / `$until` bound the history window (NULL: all of it; both ends
inclusive). `pipelines.devops.metrics` and `pipelines.mlops.metrics` turn the frames into keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from pipelines.store.core import Store
from pipelines.store.schema import migrate

__all__ = [
    "CHANGE_FAILURE_RATE_FOURKEYS_RECEIPT_SQL",
    "CHANGE_FAILURE_RATE_FOURKEYS_SQL",
    "CHANGE_FAILURE_RATE_RECEIPT_SQL",
    "CHANGE_FAILURE_RATE_SQL",
    "DATA_TO_PRODUCTION_LEAD_TIME_RECEIPT_SQL",
    "DATA_TO_PRODUCTION_LEAD_TIME_SQL",
    "DEPLOYMENT_FREQUENCY_FOURKEYS_RECEIPT_SQL",
    "DEPLOYMENT_FREQUENCY_FOURKEYS_SQL",
    "DEPLOYMENT_FREQUENCY_RECEIPT_SQL",
    "DEPLOYMENT_FREQUENCY_SQL",
    "DEPLOYMENT_REWORK_RATE_RECEIPT_SQL",
    "DEPLOYMENT_REWORK_RATE_SQL",
    "DRIFT_EPISODES_SQL",
    "FAILED_DEPLOYMENT_RECOVERY_TIME_RECEIPT_SQL",
    "FAILED_DEPLOYMENT_RECOVERY_TIME_SQL",
    "HISTORY_BOUNDS_SQL",
    "LEAD_TIME_FOR_CHANGES_FOURKEYS_RECEIPT_SQL",
    "LEAD_TIME_FOR_CHANGES_FOURKEYS_SQL",
    "LEAD_TIME_FOR_CHANGES_RECEIPT_SQL",
    "LEAD_TIME_FOR_CHANGES_SQL",
    "MODEL_CHANGE_FAILURE_RATE_RECEIPT_SQL",
    "MODEL_CHANGE_FAILURE_RATE_SQL",
    "MODEL_STALENESS_RECEIPT_SQL",
    "MODEL_STALENESS_SQL",
    "RETRAINING_FREQUENCY_RECEIPT_SQL",
    "RETRAINING_FREQUENCY_SQL",
    "RETRAIN_RUN_CONDITION",
    "RETRAIN_TRIGGERS",
    "RETRAIN_TRIGGERS_SQL",
    "TIME_TO_RECOVER_FROM_DRIFT_RECEIPT_SQL",
    "TIME_TO_RESTORE_FOURKEYS_RECEIPT_SQL",
    "TIME_TO_RESTORE_FOURKEYS_SQL",
    "change_failure_rate_counts",
    "data_to_production_lead_time_summary",
    "deployment_frequency_summary",
    "deployment_rework_counts",
    "drift_episodes",
    "failed_deployment_recovery_summary",
    "history_bounds",
    "key_receipt",
    "lead_time_for_changes_summary",
    "model_change_failure_counts",
    "model_staleness_by_week",
    "receipt",
    "retraining_frequency_summary",
    "run_key_sql",
    "run_summary",
    "window_params",
]

# Runs that retrain without a person asking: the retraining policy's own decisions. The first
# model (trigger `initial`) is training, not retraining, and manual runs are a person's.
RETRAIN_TRIGGERS = ("schedule", "drift", "performance")

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


RETRAIN_TRIGGERS_SQL = _sql_list(RETRAIN_TRIGGERS)
# A retrain, as every count of retrains means it (the retraining-frequency key, a scenario's
# summary): a succeeded MLOps run the policy decided on; `r` is the runs table.
RETRAIN_RUN_CONDITION = (
    f"r.kind = 'mlops' AND r.trigger IN ({RETRAIN_TRIGGERS_SQL}) AND r.status = 'succeeded'"
)


# -- frequency (Four Keys' bucket rule) ----------------------------------------------------------
# The bucket rule is Four Keys' deployment-frequency query (dora-team/fourkeys,
# dashboard/fourkeys_dashboard.json, panel "Deployment Frequency"), translated to DuckDB with two
# deliberate differences: weeks are 7-day buckets counted from the window's start (the scenario
# clock's weeks) instead of calendar weeks, and the window is the workspace's history instead of
# the last three months of wall-clock time.
#
# How many weeks: the engine stamps each `weekly` row with its week's END, so the history starts
# 7 days before the first row and ends at the last one; events outside stretch it. The window
# [origin, last] is cut into ceil((last - origin) / 7 days) buckets (at least one): a window that
# ends exactly on a week boundary gets no extra, empty bucket, and an event at that very end is
# counted in the last week (96 played weeks are 96 buckets, not 97).
_FREQUENCY_TEMPLATE = """
WITH events AS (
{events}
), bounds AS (
    -- the history window: the scenario weeks recorded (each row is its week's end), stretched to
    -- cover every event
    SELECT coalesce(CAST($since AS TIMESTAMP), least(min(week_start), min(t))) AS origin,
           coalesce(CAST($until AS TIMESTAMP), greatest(max(week_end), max(t))) AS last
    FROM (SELECT sim_time - INTERVAL 7 DAY AS week_start, sim_time AS week_end, NULL::TIMESTAMP AS t
          FROM weekly WHERE workspace = $workspace
          UNION ALL
          SELECT NULL, NULL, sim_time FROM events)
), span AS (
    SELECT origin, last,
           greatest(1, CAST(ceil((epoch(last) - epoch(origin)) / (7 * 86400.0)) AS BIGINT)) AS n_weeks
    FROM bounds
), counted AS (
    SELECT e.sim_time FROM events e, span s WHERE e.sim_time BETWEEN s.origin AND s.last
), weeks AS (
    SELECT unnest(generate_series(origin, origin + to_days(CAST(7 * (n_weeks - 1) AS INTEGER)),
                                  INTERVAL 7 DAY)) AS week_start
    FROM span
), event_days AS (
    -- an event at the window's very end belongs to its last week, not to a week of its own
    SELECT DISTINCT least(time_bucket(INTERVAL 7 DAY, c.sim_time, s.origin),
                          s.origin + to_days(CAST(7 * (s.n_weeks - 1) AS INTEGER))) AS week_start,
           date_trunc('day', c.sim_time) AS day
    FROM counted c, span s
), per_week AS (
    SELECT w.week_start,
           count(d.day) AS days_with_event,
           CASE WHEN count(d.day) > 0 THEN 1 ELSE 0 END AS week_with_event
    FROM weeks w LEFT JOIN event_days d USING (week_start)
    GROUP BY w.week_start
), per_week_month AS (
    -- per week, how many weeks of its month had an event (Four Keys' monthly_deploys)
    SELECT *, sum(week_with_event) OVER (PARTITION BY date_trunc('month', week_start))
                  AS weeks_with_event_in_month
    FROM per_week
)
SELECT (SELECT count(*) FROM counted) AS events,
       count(*) AS weeks,
       (SELECT count(*) FROM counted) / nullif(count(*), 0) AS per_week,
       quantile_cont(days_with_event, 0.5) AS median_days_per_week,
       quantile_cont(week_with_event, 0.5) AS median_week_with_event,
       quantile_cont(weeks_with_event_in_month, 0.5) AS median_weeks_with_event_per_month,
       CASE WHEN quantile_cont(days_with_event, 0.5) >= 3 THEN 'daily'
            WHEN quantile_cont(week_with_event, 0.5) >= 1 THEN 'weekly'
            WHEN quantile_cont(weeks_with_event_in_month, 0.5) >= 1 THEN 'monthly'
            ELSE 'yearly'
       END AS bucket
FROM per_week_month
"""

DEPLOYMENT_FREQUENCY_SQL = _FREQUENCY_TEMPLATE.format(
    events="""    -- planned production releases: rollback redeploys and hotfixes are rework, not throughput
    SELECT sim_time FROM deployments
    WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
      AND NOT unplanned AND sim_time IS NOT NULL"""
)

RETRAINING_FREQUENCY_SQL = _FREQUENCY_TEMPLATE.format(
    events=f"""    -- retrains the policy decided on (not the first model, not manual runs) that finished
    SELECT sim_time FROM runs r
    WHERE workspace = $workspace AND {RETRAIN_RUN_CONDITION} AND sim_time IS NOT NULL"""
)

# -- DORA ----------------------------------------------------------------------------------------
LEAD_TIME_FOR_CHANGES_SQL = """
-- per change (commit), first production deploy that shipped it minus its commit, in days
SELECT count(*) AS changes,
       quantile_cont((epoch(deployed_sim_time) - epoch(committed_sim_time)) / 86400.0, 0.5)
           AS median_days,
       (SELECT count(*) FROM changes
        WHERE workspace = $workspace AND deployed_sim_time IS NULL) AS not_shipped
FROM changes
WHERE workspace = $workspace
  AND deployed_sim_time IS NOT NULL
  AND deployed_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND deployed_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

CHANGE_FAILURE_RATE_SQL = """
WITH deploys AS (
    -- planned production releases in the window, each flagged failed or not
    SELECT d.deployment_id,
           d.rolled_back
           OR EXISTS (SELECT 1 FROM incidents i
                      WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id)
               AS failed
    FROM deployments d
    WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
      AND NOT d.unplanned
      AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
      AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
)
SELECT count(*) AS deploys,
       count(*) FILTER (WHERE failed) AS failed,
       100.0 * count(*) FILTER (WHERE failed) / nullif(count(*), 0) AS percent
FROM deploys
"""

FAILED_DEPLOYMENT_RECOVERY_TIME_SQL = """
-- incidents caused by a production release, opened in the window: opened -> resolved, in days
SELECT count(*) FILTER (WHERE i.resolved_sim_time IS NOT NULL) AS resolved,
       count(*) FILTER (WHERE i.resolved_sim_time IS NULL) AS still_open,
       quantile_cont((epoch(i.resolved_sim_time) - epoch(i.opened_sim_time)) / 86400.0, 0.5)
           FILTER (WHERE i.resolved_sim_time IS NOT NULL) AS median_days
FROM incidents i
JOIN deployments d ON d.workspace = i.workspace AND d.deployment_id = i.cause_deployment_id
WHERE i.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
  AND i.opened_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND i.opened_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

DEPLOYMENT_REWORK_RATE_SQL = """
-- every production release deploy in the window; unplanned ones were caused by an incident
SELECT count(*) AS deploys,
       count(*) FILTER (WHERE unplanned) AS unplanned,
       100.0 * count(*) FILTER (WHERE unplanned) / nullif(count(*), 0) AS percent
FROM deployments
WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
  AND sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

# -- ML lifecycle ----------------------------------------------------------------------------------
# A model deployment's `ref` is the model version as "v<n>" (pipelines/mlops/pipeline.py).
DATA_TO_PRODUCTION_LEAD_TIME_SQL = """
-- planned production model deploys: deploy time minus the end of the data window it learnt from
SELECT count(*) AS deploys,
       quantile_cont((epoch(d.sim_time) - epoch(mv.window_end)) / 86400.0, 0.5) AS median_days
FROM deployments d
JOIN model_versions mv
  ON mv.workspace = d.workspace AND mv.version = TRY_CAST(ltrim(d.ref, 'v') AS INTEGER)
WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'model'
  AND NOT d.unplanned AND mv.window_end IS NOT NULL
  AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

MODEL_CHANGE_FAILURE_RATE_SQL = """
WITH deploys AS (
    -- planned production model deploys, failed when rolled back or the cause of an incident
    SELECT d.deployment_id,
           d.rolled_back
           OR EXISTS (SELECT 1 FROM incidents i
                      WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id)
               AS failed
    FROM deployments d
    WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'model'
      AND NOT d.unplanned
      AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
      AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
)
SELECT count(*) AS deploys,
       count(*) FILTER (WHERE failed) AS failed,
       100.0 * count(*) FILTER (WHERE failed) / nullif(count(*), 0) AS percent
FROM deploys
"""

# Gaps and islands: a week is "recovered" when it has no alarm and its quality is back within
# $margin of the baseline. Numbering the weeks by how many recovered weeks came strictly before
# them cuts the history into islands that each end with one recovered week; an island holding an
# alarm is one episode, from its first alarm week to its closing recovered week. An island without
# a recovered week is the last one: its episode is still open.
DRIFT_EPISODES_SQL = """
WITH w AS (
    SELECT week, sim_time, alarm, quality, quality_baseline, quality_metric,
           -- which way is better is stored with the week (weekly.quality_direction)
           coalesce(alarm IS NULL AND CASE quality_direction
               WHEN 'lower' THEN quality <= quality_baseline * (1 + $margin)
               WHEN 'higher' THEN quality >= quality_baseline * (1 - $margin)
           END, false) AS recovered
    FROM weekly
    WHERE workspace = $workspace
      AND sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
      AND sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
), islands AS (
    SELECT *, coalesce(sum(CASE WHEN recovered THEN 1 ELSE 0 END) OVER (
                  ORDER BY week ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS island
    FROM w
), episodes AS (
    SELECT island,
           min(week) FILTER (WHERE alarm IS NOT NULL) AS alarm_week,
           min(sim_time) FILTER (WHERE alarm IS NOT NULL) AS alarm_sim_time,
           arg_min(alarm, week) FILTER (WHERE alarm IS NOT NULL) AS first_alarm,
           count(*) FILTER (WHERE alarm IS NOT NULL) AS alarm_weeks,
           max(week) FILTER (WHERE recovered) AS recovered_week,
           max(sim_time) FILTER (WHERE recovered) AS recovered_sim_time
    FROM islands
    GROUP BY island
)
SELECT alarm_week, alarm_sim_time, first_alarm, alarm_weeks, recovered_week, recovered_sim_time,
       (epoch(recovered_sim_time) - epoch(alarm_sim_time)) / 86400.0 AS days_to_recover
FROM episodes
WHERE alarm_week IS NOT NULL
ORDER BY alarm_week
"""

MODEL_STALENESS_SQL = """
-- per week: how old the data behind the serving model is (week time minus its window's end)
SELECT w.week, w.sim_time, w.model_version, mv.window_end,
       (epoch(w.sim_time) - epoch(mv.window_end)) / 86400.0 AS staleness_days
FROM weekly w
JOIN model_versions mv ON mv.workspace = w.workspace AND mv.version = w.model_version
WHERE w.workspace = $workspace AND mv.window_end IS NOT NULL
  AND w.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND w.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY w.week
"""


# -- running them --------------------------------------------------------------------------------
def run_key_sql(store: Store, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """Run one key query with the parameters it names (DuckDB refuses unused ones).

    A store whose file does not exist yet is an empty history: the query runs against an empty
    in-memory schema, so every key gets a correctly typed, empty answer instead of an error.
    """
    used = set(_PARAM.findall(sql))
    missing = used - set(params)
    if missing:
        raise ValueError(f"query parameters not given: {', '.join(sorted(missing))}")
    bound = {k: v for k, v in params.items() if k in used}
    if not store.exists():
        con = duckdb.connect()
        try:
            migrate(con)
            return con.execute(sql, bound).df()
        finally:
            con.close()
    with store._read() as con:  # the store's own read path: read-only, lock retry, upgrade
        return con.execute(sql, bound).df()


def _window(workspace: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {"workspace": workspace, "since": start, "until": end}


def deployment_frequency_summary(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: events (planned production release deploys), weeks, per_week, the medians, bucket."""
    return run_key_sql(store, DEPLOYMENT_FREQUENCY_SQL, _window(workspace, start, end))


def lead_time_for_changes_summary(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: changes shipped in the window, their median lead time in days, changes not shipped."""
    return run_key_sql(store, LEAD_TIME_FOR_CHANGES_SQL, _window(workspace, start, end))


def change_failure_rate_counts(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: planned production release deploys, how many failed, the percentage."""
    return run_key_sql(store, CHANGE_FAILURE_RATE_SQL, _window(workspace, start, end))


def failed_deployment_recovery_summary(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: release-caused incidents resolved, still open, median days to resolve."""
    return run_key_sql(store, FAILED_DEPLOYMENT_RECOVERY_TIME_SQL, _window(workspace, start, end))


def deployment_rework_counts(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: all production release deploys, the unplanned ones, the percentage."""
    return run_key_sql(store, DEPLOYMENT_REWORK_RATE_SQL, _window(workspace, start, end))


def retraining_frequency_summary(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row, as `deployment_frequency_summary`, over succeeded policy-triggered retrain runs."""
    return run_key_sql(store, RETRAINING_FREQUENCY_SQL, _window(workspace, start, end))


def data_to_production_lead_time_summary(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: planned production model deploys with a known data window, median days."""
    return run_key_sql(store, DATA_TO_PRODUCTION_LEAD_TIME_SQL, _window(workspace, start, end))


def model_change_failure_counts(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row: planned production model deploys, how many failed, the percentage."""
    return run_key_sql(store, MODEL_CHANGE_FAILURE_RATE_SQL, _window(workspace, start, end))


def drift_episodes(
    store: Store,
    workspace: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    margin: float = 0.1,
) -> pd.DataFrame:
    """One row per alarm episode; `recovered_week` and `days_to_recover` are NULL while it is open."""
    return run_key_sql(store, DRIFT_EPISODES_SQL, {**_window(workspace, start, end), "margin": margin})


def model_staleness_by_week(
    store: Store, workspace: str, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """One row per week with a serving model: its version, window end and staleness in days."""
    return run_key_sql(store, MODEL_STALENESS_SQL, _window(workspace, start, end))


# -- receipts: the rows each key aggregated --------------------------------------------------------
# One query per key, beside its summary query, with the same filters: the rows it counted, one per
# item, so a person can check the figure by hand. Each has exactly the key's `n` rows.
DEPLOYMENT_FREQUENCY_RECEIPT_SQL = """
-- the planned production releases the frequency counted, one row per deploy
SELECT deployment_id, ref AS release, sim_time, commit_sha, reason
FROM deployments
WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
  AND NOT unplanned AND sim_time IS NOT NULL
  AND sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY sim_time, deployment_id
"""

LEAD_TIME_FOR_CHANGES_RECEIPT_SQL = """
-- each shipped change: its commit, the first production deploy that shipped it, the lead in days
SELECT change_id, kind, commit_sha, committed_sim_time, deployment_id, deployed_sim_time,
       (epoch(deployed_sim_time) - epoch(committed_sim_time)) / 86400.0 AS lead_days
FROM changes
WHERE workspace = $workspace
  AND deployed_sim_time IS NOT NULL
  AND deployed_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND deployed_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY deployed_sim_time, committed_sim_time, commit_sha
"""

_FAILURE_RECEIPT_TEMPLATE = """
-- {what}, each with whether it failed and the incidents or rollback that made it fail
SELECT d.deployment_id, d.ref, d.sim_time, d.rolled_back,
       (SELECT string_agg(i.incident_id, ', ' ORDER BY i.opened_sim_time) FROM incidents i
        WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id) AS incidents,
       d.rolled_back
       OR EXISTS (SELECT 1 FROM incidents i
                  WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id)
           AS failed
FROM deployments d
WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = '{kind}'
  AND NOT d.unplanned
  AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY d.sim_time, d.deployment_id
"""

CHANGE_FAILURE_RATE_RECEIPT_SQL = _FAILURE_RECEIPT_TEMPLATE.format(
    what="planned production releases in the window", kind="release"
)

# The resolved incidents a production release caused, opened in the window: both definitions' recovery
# receipts, which differ in the columns shown and in when recovery starts.
_RESOLVED_RELEASE_INCIDENTS = """
-- {comment}
SELECT i.incident_id, i.cause_deployment_id, d.ref AS release, {columns},
       (epoch(i.resolved_sim_time) - epoch({start})) / 86400.0 AS {days}
FROM incidents i
JOIN deployments d ON d.workspace = i.workspace AND d.deployment_id = i.cause_deployment_id
WHERE i.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
  AND i.resolved_sim_time IS NOT NULL
  AND i.opened_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND i.opened_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY i.opened_sim_time, i.incident_id
"""

FAILED_DEPLOYMENT_RECOVERY_TIME_RECEIPT_SQL = _RESOLVED_RELEASE_INCIDENTS.format(
    comment="each resolved incident caused by a production release: opened, resolved, the recovery in days",
    columns="i.opened_sim_time,\n       i.resolved_sim_time, i.rollback_deployment_id",
    start="i.opened_sim_time",
    days="recovery_days",
)

DEPLOYMENT_REWORK_RATE_RECEIPT_SQL = """
-- every production release deploy in the window; unplanned ones were forced by an incident
SELECT deployment_id, ref AS release, sim_time, unplanned, reason
FROM deployments
WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
  AND sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY sim_time, deployment_id
"""

RETRAINING_FREQUENCY_RECEIPT_SQL = f"""
-- the retrains the frequency counted: succeeded runs the retraining policy decided on
SELECT r.run_id, r.trigger, r.sim_time, r.status
FROM runs r
WHERE r.workspace = $workspace AND {RETRAIN_RUN_CONDITION} AND r.sim_time IS NOT NULL
  AND r.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND r.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY r.sim_time, r.run_id
"""

DATA_TO_PRODUCTION_LEAD_TIME_RECEIPT_SQL = """
-- each planned production model deploy: the model, the end of its data window, the lead in days
SELECT d.deployment_id, d.ref AS model, d.sim_time, mv.window_end,
       (epoch(d.sim_time) - epoch(mv.window_end)) / 86400.0 AS lead_days
FROM deployments d
JOIN model_versions mv
  ON mv.workspace = d.workspace AND mv.version = TRY_CAST(ltrim(d.ref, 'v') AS INTEGER)
WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'model'
  AND NOT d.unplanned AND mv.window_end IS NOT NULL
  AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY d.sim_time, d.deployment_id
"""

MODEL_CHANGE_FAILURE_RATE_RECEIPT_SQL = _FAILURE_RECEIPT_TEMPLATE.format(
    what="planned production model deploys in the window (model rollbacks are unplanned)", kind="model"
)

# The episodes query already returns one row per episode; the key's median runs over ended ones.
TIME_TO_RECOVER_FROM_DRIFT_RECEIPT_SQL = f"""
-- each ended alarm episode: its first alarm week and the week quality was back
SELECT * FROM ({DRIFT_EPISODES_SQL.strip()}) episodes
WHERE recovered_week IS NOT NULL
ORDER BY alarm_week
"""

# Staleness is computed from one row per week: the query itself is the receipt.
MODEL_STALENESS_RECEIPT_SQL = MODEL_STALENESS_SQL

# -- Four Keys' variants ---------------------------------------------------------------------------
# Four Keys (dora-team/fourkeys, dashboard/fourkeys_dashboard.json and queries/*.sql) counts every
# successful production deployment it receives, so a rollback redeploy or a hotfix is a deployment
# there; its failures are the deployments an incident names as root cause (it has no rollback
# flag); its time to restore starts at the earlier of the incident's creation and the deployment
# that caused it (queries/incidents.sql: MIN(root.time_created, issue.time_created)).
DEPLOYMENT_FREQUENCY_FOURKEYS_SQL = _FREQUENCY_TEMPLATE.format(
    events="""    -- Four Keys: every production release deployment, rollback redeploys and hotfixes included
    SELECT sim_time FROM deployments
    WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
      AND sim_time IS NOT NULL"""
)

DEPLOYMENT_FREQUENCY_FOURKEYS_RECEIPT_SQL = """
-- every production release deployment Four Keys counts (planned or not)
SELECT deployment_id, ref AS release, sim_time, unplanned, reason
FROM deployments
WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
  AND sim_time IS NOT NULL
  AND sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY sim_time, deployment_id
"""

_FOURKEYS_LEAD = """floor((epoch(deployed_sim_time) - epoch(committed_sim_time)) / 60)"""
LEAD_TIME_FOR_CHANGES_FOURKEYS_SQL = f"""
-- Four Keys: median of whole minutes from commit to deploy, leaving out leads of 0 minutes or less
-- ("automated pushes"), in days
SELECT count(*) AS changes,
       quantile_cont({_FOURKEYS_LEAD}, 0.5) / 1440.0 AS median_days,
       (SELECT count(*) FROM changes
        WHERE workspace = $workspace AND deployed_sim_time IS NULL) AS not_shipped
FROM changes
WHERE workspace = $workspace
  AND deployed_sim_time IS NOT NULL AND {_FOURKEYS_LEAD} > 0
  AND deployed_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND deployed_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

LEAD_TIME_FOR_CHANGES_FOURKEYS_RECEIPT_SQL = f"""
-- each shipped change Four Keys counts: commit, deploy, lead in whole minutes (> 0)
SELECT change_id, kind, commit_sha, committed_sim_time, deployment_id, deployed_sim_time,
       {_FOURKEYS_LEAD} AS lead_minutes
FROM changes
WHERE workspace = $workspace
  AND deployed_sim_time IS NOT NULL AND {_FOURKEYS_LEAD} > 0
  AND deployed_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND deployed_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY deployed_sim_time, committed_sim_time, commit_sha
"""

CHANGE_FAILURE_RATE_FOURKEYS_SQL = """
WITH deploys AS (
    -- Four Keys: every production release deployment; failed when an incident names it as cause
    SELECT d.deployment_id,
           EXISTS (SELECT 1 FROM incidents i
                   WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id)
               AS failed
    FROM deployments d
    WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
      AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
      AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
)
SELECT count(*) AS deploys,
       count(*) FILTER (WHERE failed) AS failed,
       100.0 * count(*) FILTER (WHERE failed) / nullif(count(*), 0) AS percent
FROM deploys
"""

CHANGE_FAILURE_RATE_FOURKEYS_RECEIPT_SQL = """
-- every production release deployment, failed when an incident names it as cause (rollbacks alone do not count)
SELECT d.deployment_id, d.ref, d.sim_time, d.unplanned,
       (SELECT string_agg(i.incident_id, ', ' ORDER BY i.opened_sim_time) FROM incidents i
        WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id) AS incidents,
       EXISTS (SELECT 1 FROM incidents i
               WHERE i.workspace = d.workspace AND i.cause_deployment_id = d.deployment_id) AS failed
FROM deployments d
WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
  AND d.sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND d.sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
ORDER BY d.sim_time, d.deployment_id
"""

_FOURKEYS_RESTORE_START = "least(d.sim_time, i.opened_sim_time)"
TIME_TO_RESTORE_FOURKEYS_SQL = f"""
-- Four Keys: incidents caused by a release, from the earlier of the causing deploy and the
-- incident's opening to its resolution, in days
SELECT count(*) FILTER (WHERE i.resolved_sim_time IS NOT NULL) AS resolved,
       count(*) FILTER (WHERE i.resolved_sim_time IS NULL) AS still_open,
       quantile_cont((epoch(i.resolved_sim_time) - epoch({_FOURKEYS_RESTORE_START})) / 86400.0, 0.5)
           FILTER (WHERE i.resolved_sim_time IS NOT NULL) AS median_days
FROM incidents i
JOIN deployments d ON d.workspace = i.workspace AND d.deployment_id = i.cause_deployment_id
WHERE i.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
  AND i.opened_sim_time >= coalesce(CAST($since AS TIMESTAMP), '-infinity')
  AND i.opened_sim_time <= coalesce(CAST($until AS TIMESTAMP), 'infinity')
"""

TIME_TO_RESTORE_FOURKEYS_RECEIPT_SQL = _RESOLVED_RELEASE_INCIDENTS.format(
    comment="each resolved release-caused incident: the causing deploy, opened, resolved, restore in days",
    columns="d.sim_time AS deployed_sim_time,\n       i.opened_sim_time, i.resolved_sim_time",
    start=_FOURKEYS_RESTORE_START,
    days="restore_days",
)

# The bounds of a workspace's recorded history on the scenario clock: Four Keys looks at the three
# months before its end, from the start of the data at the earliest. The history starts 7 days before
# the first weekly row (each row is stamped with its week's end), or at the first event before that.
HISTORY_BOUNDS_SQL = """
SELECT least(
    (SELECT min(sim_time) - INTERVAL 7 DAY FROM weekly WHERE workspace = $workspace),
    (SELECT min(sim_time) FROM deployments WHERE workspace = $workspace),
    (SELECT min(opened_sim_time) FROM incidents WHERE workspace = $workspace),
    (SELECT min(committed_sim_time) FROM changes WHERE workspace = $workspace),
    (SELECT min(sim_time) FROM runs WHERE workspace = $workspace)
) AS history_start,
greatest(
    (SELECT max(sim_time) FROM weekly WHERE workspace = $workspace),
    (SELECT max(sim_time) FROM deployments WHERE workspace = $workspace),
    (SELECT max(opened_sim_time) FROM incidents WHERE workspace = $workspace),
    (SELECT max(deployed_sim_time) FROM changes WHERE workspace = $workspace),
    (SELECT max(sim_time) FROM runs WHERE workspace = $workspace)
) AS history_end
"""


def history_bounds(store: Store, workspace: str) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest scenario times recorded in the workspace (None for an empty history)."""
    frame = run_key_sql(store, HISTORY_BOUNDS_SQL, {"workspace": workspace})
    if frame.empty:
        return None, None
    row = frame.iloc[0]
    return tuple(  # type: ignore[return-value]
        None if row[c] is None or pd.isna(row[c]) else pd.Timestamp(row[c]).to_pydatetime()
        for c in ("history_start", "history_end")
    )


def receipt(store: Store, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """The rows a key aggregated: its receipt query run with the parameters the key was computed with.

    A key without a receipt (one its definition does not have) has no rows.
    """
    if not sql.strip():
        return pd.DataFrame()
    return run_key_sql(store, sql, params)


def key_receipt(store: Store, key: Any) -> pd.DataFrame:
    """The receipt of a computed `pipelines.keys.KeyResult`: exactly its `n` rows."""
    return receipt(store, key.receipt_sql, dict(key.receipt_params))


def window_params(workspace: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """The parameters every key query takes: the workspace and the window's two inclusive ends."""
    return _window(workspace, start, end)


def run_summary(store: Store, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """A key's summary query (one of this module's constants) with its parameters."""
    return run_key_sql(store, sql, params)
