"""Named read queries the dashboard and the CLI use. Pages call these; they never hold SQL.

Each query is a module-level SQL string (so the dashboard can show the SQL behind a number) and
a function that runs it with parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from pipelines.store.core import Store
from pipelines.store.keys_sql import RETRAIN_RUN_CONDITION, RETRAIN_TRIGGERS_SQL

__all__ = [
    "RUNS_BY_METRIC_SQL",
    "WEEKLY_RUN_SUMMARY_SQL",
    "runs_by_metric",
    "runs_table",
    "scenario_history",
    "step_durations",
    "weekly_run_summary",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

RUNS_BY_METRIC_SQL = """
WITH metric AS (
    SELECT run_id, TRY_CAST(json_extract_string(metrics, '$.' || $metric) AS DOUBLE) AS value
    FROM steps
    WHERE workspace = $workspace AND name = $step
)
SELECT r.run_id, r.kind, r.trigger, r.status, r.sim_time, r.started_at, r.label, m.value
FROM metric m JOIN runs r USING (run_id)
WHERE m.value IS NOT NULL AND r.kind = $kind AND ($status IS NULL OR r.status = $status)
ORDER BY m.value DESC, r.started_at
LIMIT $limit
"""

WEEKLY_RUN_SUMMARY_SQL = """
SELECT kind,
       date_trunc('week', coalesce(sim_time, started_at)) AS week,
       count(*) AS runs,
       avg(CASE WHEN status = 'succeeded' THEN 1.0 ELSE 0.0 END) AS success_rate,
       median(duration_ms) AS median_duration_ms,
       sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
FROM runs
WHERE workspace = $workspace
GROUP BY ALL
ORDER BY week, kind
"""

RUNS_TABLE_SQL = """
WITH recent AS (
    SELECT * FROM runs
    WHERE workspace = $workspace AND ($kind IS NULL OR kind = $kind)
    ORDER BY coalesce(sim_time, started_at) DESC, started_at DESC, run_id
    LIMIT $limit OFFSET $offset
), recent_steps AS (
    SELECT s.run_id, list(s.name || ':' || s.status ORDER BY s.position) AS steps
    FROM steps s SEMI JOIN recent r ON s.run_id = r.run_id
    GROUP BY s.run_id
)
SELECT r.run_id, r.kind, r.trigger, r.status, r.sim_time, r.label, r.input_fingerprint,
       r.duration_ms, r.error, rs.steps
FROM recent r LEFT JOIN recent_steps rs USING (run_id)
ORDER BY coalesce(r.sim_time, r.started_at) DESC, r.started_at DESC, r.run_id
"""

STEP_DURATIONS_SQL = """
SELECT s.run_id, r.kind, r.sim_time, s.position, s.name, s.status, s.duration_ms
FROM steps s JOIN runs r USING (run_id)
WHERE r.workspace = $workspace AND ($kind IS NULL OR r.kind = $kind)
ORDER BY coalesce(r.sim_time, r.started_at), s.position
"""


def _query(store: Store, sql: str, params: Mapping[str, object]) -> pd.DataFrame:
    with store._read() as con:  # the store's own read path: retries, read-only, upgrade
        return con.execute(sql, params).df()


def runs_by_metric(
    store: Store,
    workspace: str,
    *,
    kind: str,
    step: str,
    metric: str,
    status: str | None = "succeeded",
    limit: int = 100,
) -> pd.DataFrame:
    """Runs of one kind ordered by a step's metric, highest first (e.g. mlops by evaluate.mae)."""
    if not _IDENT.match(metric):
        raise ValueError(f"metric name {metric!r} is not a plain identifier")
    params = {
        "workspace": workspace,
        "kind": kind,
        "step": step,
        "metric": metric,
        "status": status,
        "limit": int(limit),
    }
    return _query(store, RUNS_BY_METRIC_SQL, params)


def weekly_run_summary(store: Store, workspace: str) -> pd.DataFrame:
    """Per pipeline kind and week: runs, success rate, median duration, failures."""
    return _query(store, WEEKLY_RUN_SUMMARY_SQL, {"workspace": workspace})


def runs_table(
    store: Store, workspace: str, kind: str | None = None, limit: int = 1000, offset: int = 0
) -> pd.DataFrame:
    """Runs newest first with their step statuses, for the runs tables: `limit` of them after the
    newest `offset` (a page of a long history)."""
    params = {"workspace": workspace, "kind": kind, "limit": int(limit), "offset": int(offset)}
    return _query(store, RUNS_TABLE_SQL, params)


def step_durations(store: Store, workspace: str, kind: str | None = None) -> pd.DataFrame:
    return _query(store, STEP_DURATIONS_SQL, {"workspace": workspace, "kind": kind})


# A retrain is counted here exactly as the retraining-frequency key counts it (RETRAIN_RUN_CONDITION).
SCENARIO_COUNTS_SQL = f"""
SELECT
  (SELECT count(*) FROM runs WHERE workspace = $workspace AND kind = 'devops') AS devops_runs,
  (SELECT count(*) FROM runs WHERE workspace = $workspace AND kind = 'devops' AND status = 'failed') AS devops_runs_failed,
  (SELECT count(*) FROM runs r WHERE workspace = $workspace AND kind = 'devops' AND status = 'failed'
     AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.run_id AND s.name = 'test' AND s.status = 'failed'))
     AS devops_runs_failed_at_test,
  (SELECT count(*) FROM runs WHERE workspace = $workspace AND kind = 'mlops') AS mlops_runs,
  (SELECT count(*) FROM runs r WHERE workspace = $workspace AND kind = 'mlops' AND status = 'failed'
     AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.run_id AND s.name = 'validate' AND s.status = 'failed'))
     AS mlops_runs_failed_at_validate,
  (SELECT count(*) FROM runs r WHERE workspace = $workspace AND {RETRAIN_RUN_CONDITION}) AS retrains,
  (SELECT count(*) FROM runs r WHERE workspace = $workspace AND {RETRAIN_RUN_CONDITION} AND trigger = 'drift') AS retrains_drift,
  (SELECT count(*) FROM runs r WHERE workspace = $workspace AND {RETRAIN_RUN_CONDITION} AND trigger = 'performance')
     AS retrains_performance,
  (SELECT count(*) FROM runs WHERE workspace = $workspace AND kind = 'mlops' AND status = 'failed'
     AND trigger IN ({RETRAIN_TRIGGERS_SQL})) AS retrains_failed,
  (SELECT count(*) FROM incidents WHERE workspace = $workspace AND kind = 'service') AS service_incidents,
  (SELECT count(*) FROM incidents WHERE workspace = $workspace AND kind = 'model') AS model_incidents,
  (SELECT count(*) FROM deployments WHERE workspace = $workspace AND rolled_back) AS rollbacks,
  (SELECT count(*) FROM deployments WHERE workspace = $workspace AND kind = 'release' AND NOT unplanned) AS releases,
  (SELECT count(*) FROM deployments WHERE workspace = $workspace AND kind = 'model' AND NOT unplanned)
     AS model_deploys,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace) AS weeks,
  (SELECT count(DISTINCT week) FROM drift WHERE workspace = $workspace AND feature = 'temp' AND drifted)
     AS temp_drift_weeks,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace AND dataset_drift) AS dataset_drift_weeks,
  (SELECT avg(quality) FROM weekly WHERE workspace = $workspace) AS mean_quality,
  (SELECT avg(quality_never_retrained) FROM weekly WHERE workspace = $workspace) AS mean_quality_never_retrained,
  (SELECT avg(quality_never_retrained - quality) FROM weekly WHERE workspace = $workspace
     AND week > (SELECT max(week) / 2 FROM weekly WHERE workspace = $workspace)) AS gain_second_half,
  (SELECT any_value(quality_metric) FROM weekly WHERE workspace = $workspace) AS quality_metric
"""


def scenario_counts(store: Store, workspace: str) -> dict[str, object]:
    """Counts that tell a scenario's story (what its presets promise is checked against these)."""
    frame = _query(store, SCENARIO_COUNTS_SQL, {"workspace": workspace})
    return {k: (None if v != v else v) for k, v in frame.iloc[0].to_dict().items()}  # NaN -> None


# What a played workspace did, read back for its story (pipelines/scenario/outcomes.py): one frame
# per kind of event, each with its scenario time so the story can place it in a week.
SCENARIO_HISTORY_SQL = {
    "weeks": """
SELECT week, sim_time, quality, quality_never_retrained, quality_metric, dataset_drift, drift_share
FROM weekly WHERE workspace = $workspace ORDER BY week
""",
    "runs": """
SELECT r.run_id, r.kind, r.trigger, r.status, r.sim_time, r.label,
       (SELECT s.name FROM steps s WHERE s.run_id = r.run_id AND s.status = 'failed'
        ORDER BY s.position LIMIT 1) AS failed_step
FROM runs r WHERE r.workspace = $workspace ORDER BY r.sim_time, r.started_at
""",
    "deployments": """
SELECT kind, ref, run_id, sim_time, unplanned, rolled_back, reason
FROM deployments WHERE workspace = $workspace ORDER BY sim_time, deployed_at
""",
    "incidents": """
SELECT kind, status, opened_sim_time, resolved_sim_time, cause, detected_by, summary,
       rollback_deployment_id IS NOT NULL AS rolled_back
FROM incidents WHERE workspace = $workspace ORDER BY opened_sim_time
""",
    "feature_drift": """
SELECT week, feature, bool_or(drifted) AS drifted, max(statistic) AS statistic
FROM drift WHERE workspace = $workspace AND week IS NOT NULL
GROUP BY week, feature ORDER BY week, feature
""",
    "datasets": """
SELECT DISTINCT dataset FROM model_versions WHERE workspace = $workspace AND dataset IS NOT NULL
""",
    "played": """
SELECT data_played, data_note, status FROM scenario_runs WHERE workspace = $workspace
ORDER BY started_at DESC LIMIT 1
""",
}


def scenario_history(store: Store, workspace: str) -> dict[str, pd.DataFrame]:
    """The workspace's weeks, runs (with the step that failed), deployments, incidents, per-week
    feature drift and the datasets its models learnt from, read in one connection."""
    with store._read() as con:
        return {
            name: con.execute(sql, {"workspace": workspace}).df()
            for name, sql in SCENARIO_HISTORY_SQL.items()
        }


ALARM_INPUTS_SQL = """
SELECT k.*, coalesce(p.prediction_drift, false) AS prediction_drift
FROM weekly k
LEFT JOIN (SELECT week, bool_or(drifted) AS prediction_drift FROM drift
           WHERE workspace = $workspace AND feature = 'prediction' AND week IS NOT NULL GROUP BY week) p
  ON p.week = k.week
WHERE k.workspace = $workspace
ORDER BY k.week
"""


def alarm_inputs(store: Store, workspace: str) -> pd.DataFrame:
    """Each week's row with whether the model's predictions drifted that week (for alarm scoring)."""
    return _query(store, ALARM_INPUTS_SQL, {"workspace": workspace})


# What served production at a moment: the latest deployment of each kind at or before it (a
# rollback is a deployment too, so it wins from its own time on).
IN_PRODUCTION_AT_SQL = """
SELECT kind, ref, sim_time, unplanned, reason, commit_sha, run_id
FROM deployments
WHERE workspace = $workspace AND sim_time <= $at
QUALIFY row_number() OVER (PARTITION BY kind ORDER BY sim_time DESC, deployed_at DESC) = 1
ORDER BY kind DESC
"""


def in_production_at(store: Store, workspace: str, at: object) -> pd.DataFrame:
    """The release and the model version that served production at scenario time `at` (a row per
    kind that had been deployed by then)."""
    return _query(
        store, IN_PRODUCTION_AT_SQL, {"workspace": workspace, "at": pd.Timestamp(at).to_pydatetime()}
    )
