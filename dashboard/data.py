"""Cached loaders: the views' one gateway to the run history (STYLE.md: views hold no SQL).

Every loader takes the database path, the workspace and a `token` (the file's size and mtime),
so a cached answer is reused across reruns and sessions until the file changes. Reads go through
the store's read-only path, which waits out a writer for a bounded time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from pipelines.devops.metrics import dora_keys
from pipelines.keys import KeyResult
from pipelines.mlops.metrics import ml_keys
from pipelines.scenario.outcomes import Story
from pipelines.scenario.summary import summarize, tell_story
from pipelines.store import Store, StoreError, from_json
from pipelines.store.history import weekly_frame
from pipelines.store.liveness import runner_alive
from pipelines.store.queries import runs_table, step_durations, weekly_run_summary

__all__ = [
    "db_version",
    "dora",
    "has_history",
    "ml",
    "run_detail",
    "runs",
    "steps",
    "story",
    "summary",
    "table",
    "weekly",
    "weekly_runs",
    "workspace_info",
    "workspaces",
]

READ_TIMEOUT_S = "8"  # a page waits this long for a running scenario to let it read


def db_version(db: str) -> tuple[int, ...]:
    """Changes whenever the database file does (DuckDB checkpoints into the file), and when a
    process recorded as running a run dies, which changes nothing in the file."""
    total, latest = 0, 0
    for suffix in ("", ".wal"):
        try:
            stat = os.stat(db + suffix)
        except OSError:
            continue
        total += stat.st_size
        latest = max(latest, stat.st_mtime_ns)
    try:
        runners = _runners(db, total, latest) if total else []
    except StoreError:  # locked for longer than a page waits: the loaders will say so
        runners = []
    return total, latest, sum(not runner_alive(*runner) for runner in runners)


@st.cache_data(show_spinner=False, max_entries=8)
def _runners(db: str, size: int, mtime_ns: int) -> list[tuple[Any, ...]]:
    return _store(db).running_processes()


def _store(db: str) -> Store:
    os.environ.setdefault("OPSLAB_LOCK_TIMEOUT", READ_TIMEOUT_S)
    return Store(Path(db))


@st.cache_data(show_spinner=False, max_entries=32)
def workspaces(db: str, version: tuple[int, ...]) -> pd.DataFrame:
    return _store(db).list_workspaces()


@st.cache_data(show_spinner=False, max_entries=64)
def has_history(db: str, workspace: str, version: tuple[int, ...]) -> bool:
    return Path(db).exists() and not _store(db).workspace_is_empty(workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def workspace_info(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any] | None:
    return _store(db).workspace_info(workspace) if Path(db).exists() else None


@st.cache_data(show_spinner=False, max_entries=64)
def weekly(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    return weekly_frame(_store(db), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def runs(db: str, workspace: str, version: tuple[int, ...], kind: str | None = None) -> pd.DataFrame:
    return runs_table(_store(db), workspace, kind, limit=5000)


@st.cache_data(show_spinner=False, max_entries=64)
def steps(db: str, workspace: str, version: tuple[int, ...], kind: str | None = None) -> pd.DataFrame:
    return step_durations(_store(db), workspace, kind)


@st.cache_data(show_spinner=False, max_entries=64)
def weekly_runs(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    return weekly_run_summary(_store(db), workspace)


@st.cache_data(show_spinner=False, max_entries=256)
def run_detail(db: str, run_id: str, version: tuple[int, ...]) -> dict[str, Any] | None:
    store = _store(db)
    run = store.run(run_id)
    if run is None:
        return None
    artifacts = store.select("artifacts", run["workspace"], where={"run_id": run_id}, order_by="created_at")
    return {"run": run, "steps": store.steps(run_id), "artifacts": artifacts}


TABLES = ("deployments", "incidents", "model_versions", "alias_moves", "drift", "changes", "scenario_runs")
_ORDER = {"deployments": "deployed_at", "incidents": "opened_sim_time", "model_versions": "version",
          "alias_moves": "moved_at", "drift": "sim_time, feature", "changes": "committed_sim_time",
          "scenario_runs": "started_at"}  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=128)
def table(db: str, workspace: str, name: str, version: tuple[int, ...]) -> pd.DataFrame:
    if name not in TABLES:
        raise ValueError(f"no loader for {name!r}")
    frame = _store(db).select(name, workspace, order_by=_ORDER[name])
    if name == "model_versions" and not frame.empty:
        frame["metrics"] = frame["metrics"].map(from_json)
    return frame


@st.cache_data(show_spinner=False, max_entries=64)
def dora(db: str, workspace: str, version: tuple[int, ...]) -> list[KeyResult]:
    return dora_keys(_store(db), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def ml(db: str, workspace: str, version: tuple[int, ...]) -> list[KeyResult]:
    return ml_keys(_store(db), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def summary(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any]:
    return summarize(_store(db), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def story(db: str, workspace: str, version: tuple[int, ...]) -> Story | None:
    """What the workspace's play was and did, and which of its preset's promises it kept."""
    return tell_story(_store(db), workspace)
