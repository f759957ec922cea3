"""Domain records: the model registry and its aliases, deployments, incidents, weekly rows, drift.

Named functions over a `Store`; the pipelines call these and never write SQL themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from pipelines.quality import DIRECTIONS
from pipelines.store.core import Store, from_json, new_id, now_utc, to_json

__all__ = [
    "add_model_version",
    "alias_version",
    "current_deployment",
    "deployment",
    "latest_model_version",
    "mark_deployment_rolled_back",
    "model_version",
    "move_alias",
    "next_model_version",
    "open_incident",
    "open_incidents",
    "record_deployment",
    "record_drift",
    "record_weekly",
    "resolve_incident",
]


def _one(store: Store, sql: str, params: list[Any]) -> dict[str, Any] | None:
    if not store.exists():
        return None
    frame = store._frame(sql, params)
    if frame.empty:
        return None
    row = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    return row


# -- model registry ---------------------------------------------------------------------------
def next_model_version(store: Store, workspace: str) -> int:
    row = _one(
        store,
        "SELECT coalesce(max(version), 0) + 1 AS v FROM model_versions WHERE workspace = ?",
        [workspace],
    )
    return int(row["v"]) if row else 1


def add_model_version(
    store: Store,
    *,
    workspace: str,
    version: int,
    run_id: str | None,
    path: str,
    sha256: str,
    metrics: Mapping[str, Any],
    dataset: str,
    task: str,
    window_start: datetime | None,
    window_end: datetime | None,
    data_fingerprint: str,
    settings_hash: str,
    sim_time: datetime | None,
) -> None:
    store.insert_rows(
        "model_versions",
        [
            {
                "workspace": workspace,
                "version": version,
                "run_id": run_id,
                "path": path,
                "sha256": sha256,
                "metrics": to_json(dict(metrics)),
                "dataset": dataset,
                "task": task,
                "window_start": window_start,
                "window_end": window_end,
                "data_fingerprint": data_fingerprint,
                "settings_hash": settings_hash,
                "sim_time": sim_time,
                "created_at": now_utc(),
            }
        ],
    )


def model_version(store: Store, workspace: str, version: int) -> dict[str, Any] | None:
    row = _one(
        store, "SELECT * FROM model_versions WHERE workspace = ? AND version = ?", [workspace, version]
    )
    if row is not None:
        row["metrics"] = from_json(row["metrics"])
    return row


def latest_model_version(store: Store, workspace: str) -> int | None:
    row = _one(store, "SELECT max(version) AS v FROM model_versions WHERE workspace = ?", [workspace])
    return int(row["v"]) if row and row["v"] is not None else None


def alias_version(store: Store, workspace: str, alias: str) -> int | None:
    """The version an alias points at now (its latest move), or None."""
    row = _one(
        store,
        "SELECT version FROM alias_moves WHERE workspace = ? AND alias = ? "
        "ORDER BY moved_at DESC, move_id DESC LIMIT 1",
        [workspace, alias],
    )
    return int(row["version"]) if row and row["version"] is not None else None


def move_alias(
    store: Store,
    *,
    workspace: str,
    alias: str,
    version: int | None,
    sim_time: datetime | None,
    reason: str,
    run_id: str | None = None,
) -> None:
    previous = alias_version(store, workspace, alias)
    store.insert_rows(
        "alias_moves",
        [
            {
                "move_id": new_id(),
                "workspace": workspace,
                "alias": alias,
                "version": version,
                "previous_version": previous,
                "sim_time": sim_time,
                "moved_at": now_utc(),
                "reason": reason,
                "run_id": run_id,
            }
        ],
    )


# -- deployments ------------------------------------------------------------------------------
def record_deployment(
    store: Store,
    *,
    workspace: str,
    kind: str,
    ref: str,
    run_id: str | None,
    sim_time: datetime | None,
    environment: str = "production",
    commit_sha: str | None = None,
    commit_time: datetime | None = None,
    artifact_sha256: str | None = None,
    unplanned: bool = False,
    reason: str | None = None,
) -> str:
    """A new deployment of `kind` replaces the current one of the same kind and environment."""
    deployment_id = new_id()
    current = current_deployment(store, workspace, kind, environment)
    with store.session():
        store.insert_rows(
            "deployments",
            [
                {
                    "deployment_id": deployment_id,
                    "workspace": workspace,
                    "environment": environment,
                    "kind": kind,
                    "ref": ref,
                    "run_id": run_id,
                    "sim_time": sim_time,
                    "deployed_at": now_utc(),
                    "commit_sha": commit_sha,
                    "commit_time": commit_time,
                    "artifact_sha256": artifact_sha256,
                    "unplanned": unplanned,
                    "reason": reason,
                }
            ],
        )
        if current is not None:
            store.update_rows(
                "deployments",
                {"deployment_id": current["deployment_id"]},
                replaced_by=deployment_id,
                replaced_sim_time=sim_time,
            )
    return deployment_id


def current_deployment(
    store: Store, workspace: str, kind: str, environment: str = "production"
) -> dict[str, Any] | None:
    return _one(
        store,
        "SELECT * FROM deployments WHERE workspace = ? AND kind = ? AND environment = ? "
        "AND replaced_by IS NULL ORDER BY deployed_at DESC LIMIT 1",
        [workspace, kind, environment],
    )


def deployment(store: Store, deployment_id: str) -> dict[str, Any] | None:
    return _one(store, "SELECT * FROM deployments WHERE deployment_id = ?", [deployment_id])


def mark_deployment_rolled_back(store: Store, deployment_id: str) -> None:
    store.update_rows("deployments", {"deployment_id": deployment_id}, rolled_back=True)


# -- incidents --------------------------------------------------------------------------------
def open_incident(
    store: Store,
    *,
    workspace: str,
    kind: str,
    sim_time: datetime,
    cause: str | None,
    cause_deployment_id: str | None,
    detected_by: str,
    summary: str,
) -> str:
    incident_id = new_id()
    store.insert_rows(
        "incidents",
        [
            {
                "incident_id": incident_id,
                "workspace": workspace,
                "kind": kind,
                "status": "open",
                "opened_sim_time": sim_time,
                "opened_at": now_utc(),
                "cause": cause,
                "cause_deployment_id": cause_deployment_id,
                "detected_by": detected_by,
                "summary": summary,
            }
        ],
    )
    return incident_id


def resolve_incident(
    store: Store, incident_id: str, *, sim_time: datetime, rollback_deployment_id: str | None = None
) -> None:
    fields: dict[str, Any] = {"status": "resolved", "resolved_sim_time": sim_time, "resolved_at": now_utc()}
    if rollback_deployment_id is not None:
        fields["rollback_deployment_id"] = rollback_deployment_id
    store.update_rows("incidents", {"incident_id": incident_id}, **fields)


def set_incident_rollback(store: Store, incident_id: str, rollback_deployment_id: str) -> None:
    store.update_rows(
        "incidents", {"incident_id": incident_id}, rollback_deployment_id=rollback_deployment_id
    )


def open_incidents(store: Store, workspace: str, kind: str | None = None) -> list[dict[str, Any]]:
    where: dict[str, Any] = {"status": "open"}
    if kind is not None:
        where["kind"] = kind
    frame = store.select("incidents", workspace, where=where, order_by="opened_sim_time")
    return frame.astype(object).where(frame.notna(), None).to_dict("records") if not frame.empty else []


# -- monitoring rows --------------------------------------------------------------------------
def record_weekly(store: Store, row: Mapping[str, Any]) -> None:
    """One scenario week. A row that names its quality metric also says which way it is better
    (`quality_direction`: lower | higher), so readers never guess the direction from the name."""
    if row.get("quality_metric") is not None and row.get("quality_direction") not in DIRECTIONS:
        raise ValueError(
            f"weekly row of metric {row['quality_metric']!r} needs quality_direction 'lower' or 'higher', "
            f"not {row.get('quality_direction')!r}"
        )
    store.insert_rows("weekly", [dict(row)])


def record_drift(store: Store, frame: pd.DataFrame) -> None:
    store.insert_frame("drift", frame)


# -- changes and releases ---------------------------------------------------------------------
def record_change(
    store: Store,
    *,
    workspace: str,
    commit_sha: str,
    change_id: str | None,
    kind: str | None,
    message: str | None,
    committed_sim_time: datetime,
) -> None:
    store.insert_rows(
        "changes",
        [
            {
                "workspace": workspace,
                "commit_sha": commit_sha,
                "change_id": change_id,
                "kind": kind,
                "message": message,
                "committed_sim_time": committed_sim_time,
            }
        ],
    )


def mark_changes_shipped(
    store: Store,
    workspace: str,
    deployment_id: str,
    sim_time: datetime | None,
    *,
    committed_until: datetime | None = None,
) -> int:
    """Every change not shipped yet and committed by `committed_until` (the deployed commit's time;
    None: all of them) is shipped by this deploy: history is linear, and a later commit may already
    be on its way down the release line."""
    with store._write() as con:
        row = con.execute(
            "UPDATE changes SET deployment_id = ?, deployed_sim_time = ? "
            "WHERE workspace = ? AND deployment_id IS NULL "
            "AND committed_sim_time <= coalesce(CAST(? AS TIMESTAMP), 'infinity')",
            [deployment_id, sim_time, workspace, committed_until],
        ).fetchone()
    return int(row[0]) if row else 0


def changes_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("changes", workspace, order_by="committed_sim_time")


def artifact_path(store: Store, workspace: str, sha256: str) -> str | None:
    row = _one(
        store,
        "SELECT path FROM artifacts WHERE workspace = ? AND sha256 = ? AND kind = 'build' "
        "ORDER BY created_at DESC LIMIT 1",
        [workspace, sha256],
    )
    return row["path"] if row else None


def previous_good_release(store: Store, workspace: str, current_id: str) -> dict[str, Any] | None:
    """The release deployed before `current_id` that was not itself rolled back."""
    return _one(
        store,
        """SELECT d.* FROM deployments d, deployments cur
           WHERE cur.deployment_id = ? AND d.workspace = cur.workspace AND d.kind = 'release'
             AND d.environment = cur.environment AND d.deployed_at < cur.deployed_at
             AND NOT d.rolled_back AND d.ref <> cur.ref
           ORDER BY d.deployed_at DESC LIMIT 1""",
        [current_id],
    )


def latest_sim_time(store: Store, workspace: str) -> datetime | None:
    """The latest scenario time anything in the workspace happened at."""
    row = _one(
        store,
        """SELECT greatest((SELECT max(sim_time) FROM runs WHERE workspace = $1),
                           (SELECT max(sim_time) FROM weekly WHERE workspace = $1),
                           (SELECT max(committed_sim_time) FROM changes WHERE workspace = $1)) AS t""",
        [workspace],
    )
    return pd.Timestamp(row["t"]).to_pydatetime() if row and row["t"] is not None else None
