"""Read-only SQL for people: the History page's query box.

The connection is read-only, cannot touch files or load extensions, and cannot change those
settings (`enable_external_access = false`, `lock_configuration = true`). Each table is shadowed
by a temporary view of the chosen workspace's rows, so `SELECT * FROM runs` means this workspace.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipelines.paths import check_workspace_name
from pipelines.store.connection import StoreError, open_connection
from pipelines.store.schema import TABLES

__all__ = ["EXAMPLE_QUERIES", "QueryError", "run_readonly_query"]

EXAMPLE_QUERIES = {
    "Runs by kind and status": "SELECT kind, status, count(*) AS runs\nFROM runs\nGROUP BY ALL\nORDER BY kind, status",
    "Slowest pipeline steps": (
        "SELECT name, count(*) AS runs, round(median(duration_ms)) AS median_ms, round(max(duration_ms)) AS max_ms\n"
        "FROM steps\nGROUP BY name\nORDER BY median_ms DESC"
    ),
    "Deployments with their incidents": (
        "SELECT d.sim_time, d.kind, d.ref, d.unplanned, d.rolled_back, i.summary AS incident\n"
        "FROM deployments d LEFT JOIN incidents i ON i.cause_deployment_id = d.deployment_id\n"
        "ORDER BY d.sim_time"
    ),
    "Model registry with holdout MAE": (
        "SELECT version, sim_time, window_start, window_end, metrics->>'mae' AS mae, left(sha256, 12) AS sha\n"
        "FROM model_versions\nORDER BY version"
    ),
    "Weeks where production beat the never-retrained model": (
        "SELECT week, sim_time, quality, quality_never_retrained,\n"
        "       quality_never_retrained - quality AS gain\nFROM weekly\n"
        "WHERE quality IS NOT NULL\nORDER BY gain DESC\nLIMIT 20"
    ),
    "Most drifted features": (
        "SELECT feature, test, count(*) FILTER (WHERE drifted) AS weeks_drifted, round(avg(statistic), 3) AS mean_stat\n"
        "FROM drift\nGROUP BY ALL\nORDER BY weeks_drifted DESC"
    ),
}


class QueryError(StoreError):
    """DuckDB refused the query; the message is DuckDB's own."""


def run_readonly_query(path: Path, workspace: str, sql: str, *, max_rows: int = 10_000) -> pd.DataFrame:
    if not sql.strip():
        raise QueryError("The query is empty: write a SELECT, or pick an example.")
    if not Path(path).exists():
        raise QueryError(f"There is no run history at {path} yet.")
    con = open_connection(Path(path), read_only=True, config={"enable_external_access": False}, timeout_s=5)
    try:
        name = check_workspace_name(workspace)  # letters, digits, . _ - only: safe to quote
        (catalog,) = con.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
        for table in TABLES:
            column = "name" if table == "workspaces" else "workspace"
            con.execute(
                f"CREATE TEMP VIEW {table} AS SELECT * FROM \"{catalog}\".main.{table} WHERE {column} = '{name}'"
            )
        con.execute("SET lock_configuration = true")
        try:
            frame = con.execute(sql).df()
        except duckdb.Error as exc:
            raise QueryError(str(exc).strip()) from None
        return frame.head(max_rows)
    finally:
        con.close()
