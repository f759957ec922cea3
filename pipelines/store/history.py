"""Reading a workspace's history back: the `opslab history` export and the frames pages use."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

from pipelines.store.core import Store, from_json

__all__ = ["jsonable", "runs_frame", "steps_frame", "weekly_frame", "workspace_history"]


def jsonable(value: Any) -> Any:
    """Turn DuckDB/pandas values into plain JSON values (ISO times, None for missing)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame, json_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records") if not frame.empty else []
    for row in rows:
        for column in json_columns:
            if column in row:
                row[column] = from_json(row[column])
    return [jsonable(r) for r in rows]


def runs_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("runs", workspace, order_by="started_at, run_id")


def steps_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("steps", workspace, order_by="run_id, position")


def weekly_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("weekly", workspace, order_by="week")


def workspace_history(store: Store, workspace: str) -> dict[str, Any]:
    """The whole history of a workspace as one JSON-ready object."""
    info = store.workspace_info(workspace)
    if info is None:
        return {
            "workspace": workspace,
            "exists": False,
            "runs": [],
            "deployments": [],
            "incidents": [],
            "model_versions": [],
            "alias_moves": [],
            "drift": [],
            "weekly": [],
            "scenario_runs": [],
        }
    steps = _records(steps_frame(store, workspace), ("metrics",))
    artifacts = _records(store.select("artifacts", workspace, order_by="created_at, artifact_id"))
    by_run: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for step in steps:
        by_run.setdefault(step["run_id"], {"steps": [], "artifacts": []})["steps"].append(
            {
                k: step[k]
                for k in (
                    "name",
                    "status",
                    "duration_ms",
                    "metrics",
                    "error",
                    "started_at",
                    "finished_at",
                    "cache_key",
                    "log_tail",
                )
            }
        )
    for art in artifacts:
        by_run.setdefault(art["run_id"], {"steps": [], "artifacts": []})["artifacts"].append(
            {k: art[k] for k in ("kind", "path", "sha256", "size_bytes", "step")}
        )
    runs = _records(runs_frame(store, workspace))
    for run in runs:
        run.update(by_run.get(run["run_id"], {"steps": [], "artifacts": []}))
    return {
        "workspace": workspace,
        "exists": True,
        "scenario": info.get("scenario"),
        "seed": jsonable(info.get("seed")),
        "settings": info.get("settings"),
        "runs": runs,
        "deployments": _records(store.select("deployments", workspace, order_by="deployed_at")),
        "incidents": _records(store.select("incidents", workspace, order_by="opened_sim_time")),
        "model_versions": _records(
            store.select("model_versions", workspace, order_by="version"), ("metrics",)
        ),
        "alias_moves": _records(store.select("alias_moves", workspace, order_by="moved_at")),
        "drift": _records(store.select("drift", workspace, order_by="sim_time, feature")),
        "weekly": _records(weekly_frame(store, workspace)),
        "scenario_runs": _records(
            store.scenario_runs(workspace) if store.exists() else pd.DataFrame(), ("settings",)
        ),
    }
