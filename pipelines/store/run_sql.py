"""What the GitHub Actions and MLflow run pages show, as named queries: a run's parameters, and each
pipeline's duration percentiles and success rate over the scenario's weeks.

Each query is a module-level SQL string (the dashboard can show it) and a function that runs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.store.core import Store

__all__ = ["RUN_PARAMS_SQL", "RUN_TRENDS_SQL", "run_params", "run_trends"]

RUN_PARAMS_SQL = """
SELECT run_id, key, value
FROM run_params
WHERE workspace = $workspace AND list_contains($run_ids, run_id)
ORDER BY run_id, key
"""

# A bucket is `bucket_weeks` scenario weeks counted from the Monday of the workspace's first run, so
# every pipeline is cut at the same dates. Only finished runs count (a running one has no duration
# nor outcome yet); the success rate is succeeded / finished, the percentiles are taken over every
# finished run's wall-clock duration (quantile_cont interpolates as numpy's default percentile does).
RUN_TRENDS_SQL = """
WITH origin AS (
    SELECT date_trunc('week', min(coalesce(sim_time, started_at))) AS t0 FROM runs WHERE workspace = $workspace
), finished AS (
    SELECT r.kind, r.status, r.duration_ms,
           time_bucket(to_weeks($bucket_weeks), coalesce(r.sim_time, r.started_at), o.t0) AS bucket
    FROM runs r, origin o
    WHERE r.workspace = $workspace AND r.status <> 'running' AND ($kind IS NULL OR r.kind = $kind)
)
SELECT kind, bucket,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'succeeded') / count(*) AS success_rate,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM finished
GROUP BY kind, bucket
ORDER BY kind, bucket
"""


def _query(store: Store, sql: str, params: dict[str, object]) -> pd.DataFrame:
    with store._read() as con:  # the store's own read path: read-only, retries on a busy file
        return con.execute(sql, params).df()


def run_params(store: Store, workspace: str, run_ids: Sequence[str]) -> pd.DataFrame:
    """The recorded parameters of `run_ids` as rows (run_id, key, value); none for a run recorded
    before parameters were (schema 11)."""
    return _query(store, RUN_PARAMS_SQL, {"workspace": workspace, "run_ids": list(run_ids)})


def run_trends(store: Store, workspace: str, kind: str | None = None, bucket_weeks: int = 4) -> pd.DataFrame:
    """Per pipeline kind and bucket of `bucket_weeks` scenario weeks: finished runs, how many
    succeeded, the success rate, and the p50 and p95 of their wall-clock durations (ms)."""
    if int(bucket_weeks) < 1:
        raise ValueError(f"a trend bucket is at least 1 week, not {bucket_weeks}")
    return _query(
        store, RUN_TRENDS_SQL, {"workspace": workspace, "kind": kind, "bucket_weeks": int(bucket_weeks)}
    )
