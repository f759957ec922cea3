"""What a workspace's own history shows of its testing and monitoring (the ML Test Score's evidence)."""

from __future__ import annotations

from typing import Any

from pipelines.store.core import Store
from pipelines.store.keys_sql import RETRAIN_RUN_CONDITION

__all__ = ["ml_test_score_evidence"]


def _steps(kind: str, step: str, status: str = "IN ('succeeded', 'failed')") -> str:
    return (
        "(SELECT count(*) FROM steps s JOIN runs r ON r.run_id = s.run_id WHERE r.workspace = $workspace "
        f"AND r.kind = '{kind}' AND s.name = '{step}' AND s.status {status})"
    )


EVIDENCE_SQL = f"""
SELECT
  {_steps("mlops", "validate")} AS validate_steps,
  {_steps("mlops", "validate", "= 'failed'")} AS validate_failed,
  {_steps("devops", "test")} AS test_steps,
  {_steps("devops", "test", "= 'failed'")} AS test_failed,
  {_steps("devops", "deploy")} AS deploy_steps,
  {_steps("mlops", "evaluate", "= 'succeeded'")} AS evaluate_steps,
  (SELECT count(*) FROM steps s JOIN runs r ON r.run_id = s.run_id WHERE r.workspace = $workspace
     AND r.kind = 'mlops' AND s.name = 'evaluate'
     AND json_extract_string(s.metrics, '$.gate_decision') = 'keep') AS gate_kept,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace AND quality IS NOT NULL) AS labelled_weeks,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace AND quality_never_retrained IS NOT NULL)
     AS staleness_weeks,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace AND latency_p95_ms IS NOT NULL) AS latency_weeks,
  (SELECT count(DISTINCT week) FROM drift WHERE workspace = $workspace AND feature <> 'prediction') AS drift_weeks,
  (SELECT count(DISTINCT week) FROM drift WHERE workspace = $workspace AND feature = 'prediction')
     AS prediction_drift_weeks,
  (SELECT count(*) FROM deployments WHERE workspace = $workspace AND kind = 'model' AND rolled_back)
     AS model_rollbacks,
  (SELECT count(*) FROM deployments WHERE workspace = $workspace AND kind = 'release' AND rolled_back)
     AS release_rollbacks,
  (SELECT count(*) FROM incidents WHERE workspace = $workspace AND kind = 'service') AS service_incidents,
  (SELECT count(*) FROM incidents WHERE workspace = $workspace AND kind = 'model') AS model_incidents,
  (SELECT count(*) FROM runs r WHERE r.workspace = $workspace AND {RETRAIN_RUN_CONDITION}) AS retrains,
  (SELECT json_extract_string(settings, '$.policy.kind') FROM workspaces WHERE name = $workspace) AS policy,
  (SELECT count(*) FROM weekly WHERE workspace = $workspace) AS weeks
"""


def ml_test_score_evidence(store: Store, workspace: str) -> dict[str, Any]:
    """Counts of the checks the workspace's pipelines really ran, and what they caught (one row)."""
    with store._read() as con:
        frame = con.execute(EVIDENCE_SQL, {"workspace": workspace}).df()
    return {k: (None if v != v else v) for k, v in frame.iloc[0].to_dict().items()}  # NaN -> None
