"""The SQL behind the Learn page's exercise checks and the History page's schema panel.

Each query is a module-level string with `$name` parameters, scoped to `$workspace` (except the
schema, which is the same for every workspace). `pipelines.exercises` turns the frames into verdicts.

An exercise begins when the learner presses Start (`record_exercise_start`); every check query takes
that `ExerciseStart` and sees only rows written after it: a row is new when its wall-clock time is
at or after `started_at` and later than `seen_until`, the latest time any record of the workspace
had at Start (so a row already there never counts, even within one clock tick).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from pipelines.store.core import Store, now_utc
from pipelines.store.schema import TABLES

__all__ = [
    "DRIFT_THRESHOLD_WHAT_IF_SQL",
    "EXERCISE_START_SQL",
    "FAILED_AT_STEP_SQL",
    "RECORD_EXERCISE_START_SQL",
    "RETRAINING_COMPARISON_SQL",
    "RETRAINS_SINCE_SQL",
    "ROLLBACK_INCIDENTS_SQL",
    "RUNS_SINCE_SQL",
    "SCENARIOS_PLAYED_SQL",
    "SCHEMA_SQL",
    "TABLE_ROW_COUNTS_SQL",
    "WITHOUT_RETRAINING_SQL",
    "ExerciseStart",
    "drift_threshold_what_if",
    "exercise_start",
    "failed_at_step",
    "record_exercise_start",
    "retraining_comparison",
    "retrains_since",
    "rollback_incidents",
    "runs_since",
    "scenarios_played",
    "table_columns",
    "table_row_counts",
    "without_retraining",
]


@dataclass(frozen=True)
class ExerciseStart:
    """When a learner began an exercise in a workspace, and how far its history reached then."""

    workspace: str
    exercise: str
    started_at: datetime
    seen_until: datetime | None

    def params(self) -> dict[str, object]:
        return {"started_at": self.started_at, "seen_until": self.seen_until}


def _after_start(column: str) -> str:
    """A row written after the exercise's Start (see the module docstring)."""
    return f"({column} >= $started_at AND ($seen_until IS NULL OR {column} > $seen_until))"


# Pressing Start again begins the exercise anew: the row is replaced.
RECORD_EXERCISE_START_SQL = """
INSERT OR REPLACE INTO exercise_starts (workspace, exercise, started_at, seen_until)
SELECT $workspace, $exercise, $started_at, max(t) FROM (
    SELECT max(started_at) AS t FROM runs WHERE workspace = $workspace
    UNION ALL SELECT max(started_at) FROM scenario_runs WHERE workspace = $workspace
    UNION ALL SELECT max(deployed_at) FROM deployments WHERE workspace = $workspace
    UNION ALL SELECT max(opened_at) FROM incidents WHERE workspace = $workspace
    UNION ALL SELECT max(created_at) FROM model_versions WHERE workspace = $workspace
)
RETURNING started_at, seen_until
"""

EXERCISE_START_SQL = """
SELECT started_at, seen_until FROM exercise_starts WHERE workspace = $workspace AND exercise = $exercise
"""

# Scenarios played since the Start, newest first, with the settings each was played with.
SCENARIOS_PLAYED_SQL = f"""
SELECT scenario_run_id, scenario, status, settings, weeks_planned, weeks_done, started_at, finished_at
FROM scenario_runs
WHERE workspace = $workspace AND {_after_start("started_at")}
ORDER BY started_at DESC
"""

RUNS_SINCE_SQL = f"""
SELECT run_id, kind, trigger, status, sim_time, label
FROM runs
WHERE workspace = $workspace AND {_after_start("started_at")}
ORDER BY started_at
"""

FAILED_AT_STEP_SQL = f"""
SELECT r.run_id, r.kind, r.trigger, r.sim_time, r.label, s.name AS step, s.metrics, s.error
FROM runs r JOIN steps s USING (run_id)
WHERE r.workspace = $workspace AND r.kind = $kind AND r.status = 'failed'
  AND s.name = $step AND s.status = 'failed' AND {_after_start("r.started_at")}
ORDER BY r.sim_time NULLS LAST, r.started_at
"""

# Incidents that rolled production back after a release the learner shipped since the Start.
ROLLBACK_INCIDENTS_SQL = f"""
SELECT i.incident_id, i.kind, i.status, i.opened_sim_time, i.resolved_sim_time, i.cause, i.detected_by,
       i.summary, c.change_id AS cause_change, c.kind AS cause_kind, rb.ref AS rolled_back_to,
       rb.sim_time AS rollback_sim_time
FROM incidents i
JOIN deployments rb ON rb.deployment_id = i.rollback_deployment_id
JOIN deployments bad ON bad.deployment_id = i.cause_deployment_id
LEFT JOIN changes c ON c.workspace = i.workspace AND c.commit_sha = bad.commit_sha
WHERE i.workspace = $workspace AND {_after_start("i.opened_at")} AND {_after_start("bad.deployed_at")}
ORDER BY i.opened_sim_time DESC
"""

RETRAINS_SINCE_SQL = f"""
SELECT run_id, trigger, status, sim_time, label
FROM runs
WHERE workspace = $workspace AND kind = 'mlops' AND list_contains($triggers, trigger) AND sim_time >= $since
  AND {_after_start("started_at")}
ORDER BY sim_time
"""

WITHOUT_RETRAINING_SQL = """
SELECT (SELECT count(*) FROM model_versions WHERE workspace = $workspace) AS model_versions,
       (SELECT count(*) FROM runs WHERE workspace = $workspace AND kind = 'mlops') AS mlops_runs,
       count(*) AS weeks,
       count(quality) AS labelled_weeks,
       max(abs(quality - quality_never_retrained)) AS max_gap,
       any_value(quality_metric) AS metric,
       avg(quality) AS mean_quality
FROM weekly
WHERE workspace = $workspace
"""

# Other workspaces that played the same scenario: what their retraining bought them.
RETRAINING_COMPARISON_SQL = """
SELECT w.name AS workspace,
       json_extract_string(w.settings, '$.policy.kind') AS policy,
       count(k.quality) AS labelled_weeks,
       avg(k.quality) AS mean_quality,
       avg(k.quality_never_retrained) AS mean_quality_never_retrained,
       any_value(k.quality_metric) AS metric
FROM workspaces w JOIN weekly k ON k.workspace = w.name
WHERE w.scenario = $scenario AND w.name <> $workspace
GROUP BY ALL
HAVING count(k.quality) > 0
ORDER BY w.name
"""

# Re-judge every distance-tested input feature at another threshold (the model's prediction and the
# target are outputs, not inputs): dataset drift when at least `$share` of the features that count drifted.
DRIFT_THRESHOLD_WHAT_IF_SQL = """
WITH cells AS (
    SELECT week, feature, drifted, threshold,
           CASE WHEN test IN ('wasserstein', 'jensenshannon')
                THEN statistic >= $other_threshold ELSE drifted END AS drifted_other
    FROM drift
    WHERE workspace = $workspace AND feature NOT IN ('prediction', 'target')
), counted AS (
    SELECT * FROM cells WHERE NOT list_contains($excluded, feature)
), per_week AS (
    SELECT week, avg(drifted::INTEGER) AS share, avg(drifted_other::INTEGER) AS share_other
    FROM counted GROUP BY week
)
SELECT (SELECT count(*) FROM per_week) AS weeks,
       (SELECT count(*) FROM per_week WHERE share >= $share) AS dataset_drift_weeks,
       (SELECT count(*) FROM per_week WHERE share_other >= $share) AS dataset_drift_weeks_other,
       (SELECT count(*) FILTER (WHERE drifted) FROM cells) AS drifted_cells,
       (SELECT count(*) FILTER (WHERE drifted_other) FROM cells) AS drifted_cells_other,
       (SELECT max(threshold) FROM cells) AS recorded_threshold
"""

SCHEMA_SQL = """
SELECT table_name AS "table", column_name AS "column", data_type AS "type", ordinal_position AS position
FROM information_schema.columns
WHERE table_schema = 'main' AND list_contains($tables, table_name)
ORDER BY list_position($tables, table_name), ordinal_position
"""

TABLE_ROW_COUNTS_SQL = " UNION ALL ".join(
    f"SELECT '{t}' AS \"table\", count(*) AS rows FROM {t} WHERE {'name' if t == 'workspaces' else 'workspace'} = $workspace"
    for t in TABLES
)


def _frame(store: Store, sql: str, params: dict[str, object]) -> pd.DataFrame:
    with store._read() as con:  # the store's own read path: read-only, retries on a busy file
        return con.execute(sql, params).df()


def record_exercise_start(store: Store, workspace: str, exercise: str) -> ExerciseStart:
    """Begin (or begin again) `exercise` in `workspace` now, noting how far its history reaches."""
    params = {"workspace": workspace, "exercise": exercise, "started_at": now_utc()}
    with store._write() as con:
        row = con.execute(RECORD_EXERCISE_START_SQL, params).fetchone()
    assert row is not None
    return ExerciseStart(workspace, exercise, row[0], row[1])


def exercise_start(store: Store, workspace: str, exercise: str) -> ExerciseStart | None:
    """When `exercise` was started in `workspace`, or None when it was not."""
    frame = _frame(store, EXERCISE_START_SQL, {"workspace": workspace, "exercise": exercise})
    if frame.empty:
        return None
    row = frame.iloc[0]
    seen = row["seen_until"]
    return ExerciseStart(
        workspace,
        exercise,
        pd.Timestamp(row["started_at"]).to_pydatetime(),
        None if pd.isna(seen) else pd.Timestamp(seen).to_pydatetime(),
    )


def scenarios_played(store: Store, start: ExerciseStart) -> pd.DataFrame:
    """Scenario runs begun in the workspace since `start`, newest first, with their settings (JSON)."""
    return _frame(store, SCENARIOS_PLAYED_SQL, {"workspace": start.workspace, **start.params()})


def runs_since(store: Store, start: ExerciseStart) -> pd.DataFrame:
    """Every run begun in the workspace since `start`, oldest first."""
    return _frame(store, RUNS_SINCE_SQL, {"workspace": start.workspace, **start.params()})


def failed_at_step(store: Store, start: ExerciseStart, *, kind: str, step: str) -> pd.DataFrame:
    """Runs of `kind` since `start` whose `step` failed, oldest first, with that step's metrics and error."""
    params = {"workspace": start.workspace, "kind": kind, "step": step, **start.params()}
    return _frame(store, FAILED_AT_STEP_SQL, params)


def rollback_incidents(store: Store, start: ExerciseStart) -> pd.DataFrame:
    """Incidents since `start` that rolled back a release shipped since `start`, newest first, with the
    change that caused them and the release restored."""
    return _frame(store, ROLLBACK_INCIDENTS_SQL, {"workspace": start.workspace, **start.params()})


def retrains_since(
    store: Store, start: ExerciseStart, since: object, triggers: Sequence[str]
) -> pd.DataFrame:
    """MLOps runs begun since `start`, started by one of `triggers`, at or after scenario time `since`."""
    params = {"workspace": start.workspace, "since": since, "triggers": list(triggers), **start.params()}
    return _frame(store, RETRAINS_SINCE_SQL, params)


def without_retraining(store: Store, workspace: str) -> dict[str, Any]:
    """Model versions, labelled weeks and the largest gap between production and never-retrained.

    One result row: its values are numpy scalars or None, which the caller converts.
    """
    return _frame(store, WITHOUT_RETRAINING_SQL, {"workspace": workspace}).iloc[0].to_dict()


def retraining_comparison(store: Store, workspace: str, scenario: str) -> pd.DataFrame:
    """Other workspaces of the same scenario with their mean realized and never-retrained quality
    (from every file of the store's history, when workspaces have a file each)."""
    params: dict[str, object] = {"workspace": workspace, "scenario": scenario}
    frames = [_frame(s, RETRAINING_COMPARISON_SQL, params) for s in store.siblings() if s.exists()]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _frame(store, RETRAINING_COMPARISON_SQL, params)
    return pd.concat(frames, ignore_index=True).sort_values("workspace", ignore_index=True)


def drift_threshold_what_if(
    store: Store, workspace: str, *, other_threshold: float, share: float, excluded: Sequence[str]
) -> dict[str, Any]:
    """Drifted weeks and feature-weeks as recorded, and as they would be at `other_threshold` (one row)."""
    params = {
        "workspace": workspace,
        "other_threshold": float(other_threshold),
        "share": float(share),
        "excluded": sorted(excluded),
    }
    return _frame(store, DRIFT_THRESHOLD_WHAT_IF_SQL, params).iloc[0].to_dict()


def table_columns(store: Store) -> pd.DataFrame:
    """Every OpsLab table with its columns and types, in schema order (the History page's schema)."""
    return _frame(store, SCHEMA_SQL, {"tables": list(TABLES)})


def table_row_counts(store: Store, workspace: str) -> pd.DataFrame:
    """How many rows each table holds for the workspace."""
    return _frame(store, TABLE_ROW_COUNTS_SQL, {"workspace": workspace})
