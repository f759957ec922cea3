"""Cached loaders: the views' one gateway to the run history (STYLE.md: views hold no SQL).

Every loader takes the run history's path, the workspace and a `version` (`db_version`: the size and
mtime of the workspace's file), so a cached answer is reused across reruns and sessions until that
file changes. In a folder history each workspace has its own file, so a seat's pages are neither
slowed nor invalidated by another seat's play. Reads go through the store's read-only path, which
waits out a writer of the same file for a bounded time.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from pipelines.devops.definitions import DEFAULT_DEFINITION
from pipelines.devops.errors import GitError
from pipelines.devops.metrics import dora_keys
from pipelines.keys import KeyResult
from pipelines.mlops.metrics import ml_keys
from pipelines.scenario.outcomes import Story
from pipelines.scenario.steps import StoryStep, read_story_steps
from pipelines.scenario.summary import summarize, tell_story
from pipelines.store import RunHistory, Store, StoreError, from_json, keys_sql, pages_sql
from pipelines.store.history import weekly_frame
from pipelines.store.liveness import runner_alive
from pipelines.store.queries import runs_table
from pipelines.store.run_sql import run_params, run_trends

__all__ = [
    "alarm_scores",
    "commit_diff",
    "db_version",
    "dora",
    "files_dir",
    "has_history",
    "listing_version",
    "ml",
    "receipt",
    "receipts",
    "release_labels",
    "report_html",
    "retrain_marks",
    "run_counts",
    "run_detail",
    "run_params_of",
    "run_trends_of",
    "runs",
    "step_counts",
    "steps_of",
    "story",
    "story_steps",
    "summary",
    "table",
    "timeline",
    "trigger_counts",
    "upload_preview",
    "upload_problem",
    "watched",
    "weekly",
    "workspace_file",
    "workspace_info",
    "workspaces",
]

READ_TIMEOUT_S = 8.0  # a page waits this long for a running scenario to let it read


def db_version(db: str, workspace: str) -> tuple[int, ...]:
    """Changes whenever the workspace's database file does (DuckDB checkpoints into the file), and
    when a process recorded as running a run dies, which changes nothing in the file."""
    total, latest = 0, 0
    file = str(_history(db).workspace_file(workspace))
    for suffix in ("", ".wal"):
        try:
            stat = os.stat(file + suffix)
        except OSError:
            continue
        total += stat.st_size
        latest = max(latest, stat.st_mtime_ns)
    try:
        runners = _runners(db, workspace, total, latest) if total else []
    except StoreError:  # locked for longer than a page waits: the loaders will say so
        runners = []
    return total, latest, sum(not runner_alive(*runner) for runner in runners)


@st.cache_data(show_spinner=False, max_entries=64)
def _runners(db: str, workspace: str, size: int, mtime_ns: int) -> list[tuple[Any, ...]]:
    return _store(db, workspace).running_processes()


def _history(db: str) -> RunHistory:
    # The pages' own bound, not the environment's: a command the Control room starts keeps the
    # documented lock timeout (OPSLAB_LOCK_TIMEOUT or 15 s).
    return RunHistory(db, read_timeout_s=READ_TIMEOUT_S)


def _store(db: str, workspace: str) -> Store:
    # A facilitator watching a seat reads it politely: never waits on the seat's writes nor asks its
    # play to yield (StoreLocked at once; the page says the seat is busy and looks again).
    return _history(db).store(workspace, polite=watched(workspace))


def watched(workspace: str) -> bool:
    """Is this session a facilitator watching `workspace` (`state.watching`)? Its reads are polite."""
    return st.session_state.get("watching") == workspace


def workspace_file(db: str, workspace: str) -> str:
    """The DuckDB file that holds `workspace` (what the History console opens, and only that one)."""
    return str(_history(db).workspace_file(workspace))


def files_dir(db: str, kind: str) -> str:
    """Where the Control room keeps its settings files and uploads (see `RunHistory.files_dir`)."""
    return str(_history(db).files_dir(kind))


@st.cache_data(show_spinner=False, max_entries=16)
def upload_preview(path: str) -> pd.DataFrame:
    """An uploaded file's first rows; a file that is no table raises the loader's sentence.
    Uploads are named by their content, so the path is a safe cache key."""
    from pipelines.mlops.sources import preview_table

    return preview_table(path)


@st.cache_data(show_spinner=False, max_entries=16)
def upload_problem(path: str, time_column: str, target: str) -> str | None:
    """Why the uploaded file cannot be played with these columns (the loader's own sentence, the
    one the CLI would print), or None when it can: said at once, not after a play has started."""
    from pipelines.mlops.sources import DataSourceError, load_dataset

    try:
        load_dataset(path, time_column=time_column, target=target)
    except DataSourceError as exc:
        return str(exc)
    return None


def listing_version(db: str) -> tuple[Any, ...]:
    """Changes when a workspace is added to or removed from the history (a folder's entries;
    a single file's own version)."""
    history = _history(db)
    if history.single_file:
        return ("file", *db_version(db, "demo"))
    try:
        return ("folder", os.stat(history.path).st_mtime_ns)
    except OSError:
        return ("folder", 0)


@st.cache_data(show_spinner=False, max_entries=32)
def workspaces(db: str, version: tuple[Any, ...]) -> list[str]:
    """The names of the history's workspaces (a folder's are read without opening any file)."""
    return _history(db).workspace_names()


@st.cache_data(show_spinner=False, max_entries=64)
def has_history(db: str, workspace: str, version: tuple[int, ...]) -> bool:
    store = _store(db, workspace)
    return store.exists() and not store.workspace_is_empty(workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def workspace_info(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any] | None:
    store = _store(db, workspace)
    return store.workspace_info(workspace) if store.exists() else None


@st.cache_data(show_spinner=False, max_entries=64)
def weekly(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    return weekly_frame(_store(db, workspace), workspace)


RUNS_PAGE = 500  # runs a table shows at a time; `run_counts` says how many there are in all


@st.cache_data(show_spinner=False, max_entries=64)
def runs(
    db: str, workspace: str, version: tuple[int, ...], kind: str | None = None, page: int = 0
) -> pd.DataFrame:
    """One page of runs (RUNS_PAGE of them, newest first; page 0 is the newest) with their steps."""
    return runs_table(_store(db, workspace), workspace, kind, limit=RUNS_PAGE, offset=page * RUNS_PAGE)


@st.cache_data(show_spinner=False, max_entries=64)
def run_counts(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, int]:
    """How many runs each lifecycle has, {'devops': n, 'mlops': m}."""
    return pages_sql.run_counts(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def step_counts(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """kind, name, status, runs: how often each step ended each way (counted in SQL)."""
    return pages_sql.step_status_counts(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def trigger_counts(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """kind, trigger, runs (counted in SQL)."""
    return pages_sql.run_trigger_counts(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def steps_of(db: str, workspace: str, run_ids: tuple[str, ...], version: tuple[int, ...]) -> pd.DataFrame:
    """The steps of `run_ids` only (the runs a page shows)."""
    return pages_sql.steps_of_runs(_store(db, workspace), workspace, run_ids)


@st.cache_data(show_spinner=False, max_entries=64)
def release_labels(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """run_id, label of every run that deployed something (the deployments table's change column)."""
    return pages_sql.deployment_run_labels(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def retrain_marks(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """The MLOps quality chart's retrain marks: a run each, or a week each when there are many."""
    return pages_sql.quality_retrain_marks(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def timeline(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any]:
    """What the Timeline draws: `events` (one marker each, for every kind with at most MAX_MARKERS),
    `density` (weekly counts of the kinds with more), `counts` ({(lane, event): markers}),
    `dense` (those kinds) and `incidents` (the ones drawn one by one, shaded while open)."""
    from dashboard.figures.timeline import events_of_kinds, timeline_events

    store = _store(db, workspace)
    counts = pages_sql.timeline_class_counts(store, workspace)
    dense = [kind for kind, n in counts.items() if n > pages_sql.MAX_MARKERS]
    individual = set(counts) - set(dense)
    rows = pages_sql.timeline_rows(store, workspace, individual)
    events = events_of_kinds(
        timeline_events(rows["runs"], rows["deployments"], rows["incidents"]), individual
    )
    density = pages_sql.timeline_density(store, workspace, dense) if dense else pd.DataFrame()
    return {
        "events": events,
        "density": density,
        "counts": counts,
        "dense": dense,
        "incidents": rows["incidents"],
    }


@st.cache_data(show_spinner=False, max_entries=256)
def run_detail(db: str, workspace: str, run_id: str, version: tuple[int, ...]) -> dict[str, Any] | None:
    store = _store(db, workspace)
    run = store.run(run_id)
    if run is None or run["workspace"] != workspace:
        return None
    artifacts = store.select("artifacts", workspace, where={"run_id": run_id}, order_by="created_at")
    return {"run": run, "steps": store.steps(run_id), "artifacts": artifacts}


@st.cache_data(show_spinner=False, max_entries=256)
def run_params_of(
    db: str, workspace: str, run_ids: tuple[str, ...], version: tuple[int, ...]
) -> pd.DataFrame:
    """The recorded parameters of `run_ids` (run_id, key, value)."""
    return run_params(_store(db, workspace), workspace, run_ids)


@st.cache_data(show_spinner=False, max_entries=64)
def run_trends_of(
    db: str, workspace: str, kind: str, bucket_weeks: int, version: tuple[int, ...]
) -> pd.DataFrame:
    """One pipeline's p50/p95 duration and success rate per bucket of scenario weeks."""
    return run_trends(_store(db, workspace), workspace, kind, bucket_weeks)


@st.cache_data(show_spinner=False, max_entries=64)
def commit_diff(db: str, workspace: str, sha: str, version: tuple[int, ...]) -> dict[str, Any]:
    """`git show --stat -p` of a commit of the workspace's repository, or the sentence saying why
    it cannot be shown (a reset deletes the repository)."""
    from pipelines.devops.repo import show_commit
    from pipelines.devops.workflow import repo_dir

    try:
        diff = show_commit(repo_dir(_store(db, workspace), workspace), sha)
    except GitError as exc:
        return {"text": None, "truncated": False, "error": str(exc)}
    return {"text": diff.text, "truncated": diff.truncated, "error": None}


TABLES = ("deployments", "incidents", "model_versions", "alias_moves", "drift", "changes", "scenario_runs")
_ORDER = {"deployments": "deployed_at", "incidents": "opened_sim_time", "model_versions": "version",
          "alias_moves": "moved_at", "drift": "sim_time, feature", "changes": "committed_sim_time",
          "scenario_runs": "started_at"}  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=128)
def table(db: str, workspace: str, name: str, version: tuple[int, ...]) -> pd.DataFrame:
    if name not in TABLES:
        raise ValueError(f"no loader for {name!r}")
    frame = _store(db, workspace).select(name, workspace, order_by=_ORDER[name])
    if name == "model_versions" and not frame.empty:
        frame["metrics"] = frame["metrics"].map(from_json)
    return frame


@st.cache_data(show_spinner=False, max_entries=64)
def dora(
    db: str, workspace: str, version: tuple[int, ...], definition: str = DEFAULT_DEFINITION
) -> list[KeyResult]:
    return dora_keys(_store(db, workspace), workspace, definition=definition)


@st.cache_data(show_spinner=False, max_entries=128)
def receipt(
    db: str, workspace: str, version: tuple[int, ...], sql: str, params: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    """The rows a key was computed from (`KeyResult.receipt_sql` with its `receipt_params`)."""
    return keys_sql.receipt(_store(db, workspace), sql, dict(params))


@st.cache_data(show_spinner=False, max_entries=64)
def receipts(
    db: str,
    workspace: str,
    version: tuple[int, ...],
    asked: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...],
) -> list[pd.DataFrame]:
    """The rows of several keys at once (`receipt` for each (sql, params) of `asked`), read through
    one connection: a page of ten keys opened ten, each a wait on a busy machine."""
    store = _store(db, workspace)
    with store.reading():
        return [keys_sql.receipt(store, sql, dict(params)) for sql, params in asked]


@st.cache_data(show_spinner=False, max_entries=64)
def ml(db: str, workspace: str, version: tuple[int, ...]) -> list[KeyResult]:
    return ml_keys(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def summary(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any]:
    return summarize(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def story(db: str, workspace: str, version: tuple[int, ...]) -> Story | None:
    """What the workspace's play was and did, and which of its preset's promises it kept."""
    return tell_story(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def story_steps(db: str, workspace: str, version: tuple[int, ...]) -> list[StoryStep]:
    """The play's moments as presenter mode's steps (pipelines/scenario/steps.py)."""
    return read_story_steps(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=4)
def report_html(db: str, workspace: str, version: tuple[int, ...]) -> bytes:
    """The workspace's self-contained HTML report (dashboard/report.py), about 5 MB: a few kept."""
    from dashboard.report import build_report  # every figure builder: imported when asked for

    return build_report(_store(db, workspace), workspace).encode("utf-8")


@st.cache_data(show_spinner=False, max_entries=64)
def alarm_scores(db: str, workspace: str, version: tuple[int, ...], horizon_weeks: int) -> pd.DataFrame:
    """Each alarm source of the workspace scored against the realized quality that followed."""
    from pipelines.mlops.alarms import workspace_alarm_scores

    return workspace_alarm_scores(_store(db, workspace), workspace, horizon_weeks)
