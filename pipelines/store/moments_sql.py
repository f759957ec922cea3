"""The rows behind the story's moments (pipelines/scenario/steps.py): what `scenario_history` does not
read. The tests a failed pipeline stopped at, each training run's model version and gate verdict, each
incident with the release it blamed and the rollback that ended it, and why each week retrained."""

from __future__ import annotations

import pandas as pd

from pipelines.store.core import Store

__all__ = ["MOMENTS_SQL", "story_moments"]

MOMENTS_SQL = {
    # A DevOps run stopped by its own test suite: how many tests failed and which (JUnit names).
    "caught": """
SELECT r.run_id, r.sim_time, r.label,
       coalesce(TRY_CAST(json_extract(s.metrics, '$.failed') AS INTEGER), 0)
         + coalesce(TRY_CAST(json_extract(s.metrics, '$.errors') AS INTEGER), 0) AS failing_count,
       coalesce(TRY_CAST(json_extract(s.metrics, '$.failing') AS VARCHAR[]), []) AS failing
FROM runs r JOIN steps s ON s.run_id = r.run_id AND s.name = 'test' AND s.status = 'failed'
WHERE r.workspace = $workspace AND r.kind = 'devops' AND r.status = 'failed'
ORDER BY r.sim_time, r.started_at
""",
    # Every training run: the version it registered and what the promotion gate said.
    "trainings": """
SELECT r.run_id, r.trigger, r.status, r.sim_time, m.version,
       json_extract_string(e.metrics, '$.gate_decision') AS gate_decision,
       json_extract_string(e.metrics, '$.gate_reason') AS gate_reason,
       EXISTS (SELECT 1 FROM deployments d WHERE d.workspace = r.workspace AND d.kind = 'model'
               AND d.run_id = r.run_id AND NOT d.unplanned) AS deployed
FROM runs r
LEFT JOIN model_versions m ON m.workspace = r.workspace AND m.run_id = r.run_id
LEFT JOIN steps e ON e.run_id = r.run_id AND e.name = 'evaluate'
WHERE r.workspace = $workspace AND r.kind = 'mlops'
ORDER BY r.sim_time, r.started_at
""",
    # Incidents with the deployment they blamed (and the change it shipped) and the rollback.
    "incidents": """
SELECT i.kind, i.opened_sim_time, i.resolved_sim_time, i.cause, i.detected_by, i.summary,
       cause.sim_time AS cause_sim_time, cause_run.label AS cause_label,
       back.ref AS rollback_ref, back.sim_time AS rollback_sim_time
FROM incidents i
LEFT JOIN deployments cause ON cause.deployment_id = i.cause_deployment_id
LEFT JOIN runs cause_run ON cause_run.run_id = cause.run_id
LEFT JOIN deployments back ON back.deployment_id = i.rollback_deployment_id
WHERE i.workspace = $workspace
ORDER BY i.opened_sim_time
""",
    # Releases that reached production, with the change each shipped; a rollback is unplanned.
    "releases": """
SELECT d.ref, d.sim_time, r.label, d.unplanned
FROM deployments d LEFT JOIN runs r ON r.run_id = d.run_id
WHERE d.workspace = $workspace AND d.kind = 'release'
ORDER BY d.sim_time, d.deployed_at
""",
    # Why the retraining policy decided as it did each week.
    "decisions": """
SELECT week, sim_time, retrain_decision, retrain_reason, drift_share
FROM weekly WHERE workspace = $workspace ORDER BY week
""",
}


def story_moments(store: Store, workspace: str) -> dict[str, pd.DataFrame]:
    """The frames of `MOMENTS_SQL` for one workspace, read in one connection."""
    with store._read() as con:
        return {name: con.execute(sql, {"workspace": workspace}).df() for name, sql in MOMENTS_SQL.items()}
