"""Cached loaders for the History and Learn pages (same pattern as `dashboard.data`).

Each takes the run history's path and a `version` (`data.db_version(db, workspace)`), so an answer
is reused until the workspace's file changes. `start` is the one write: pressing an exercise's Start records it (one short
transaction), which changes the version. The History console's queries are not here: each runs in
its own sandbox (`pipelines.store.sandbox`) and the page keeps it while it runs.
"""

from __future__ import annotations

import io
import shlex
import shutil
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.data import _store
from pipelines.exercises import (
    CheckResult,
    ExerciseStart,
    learner_workspace,
    run_check,
    start_exercise,
    started,
)
from pipelines.mltestscore import Answer, answers_from_history
from pipelines.store.evidence_sql import ml_test_score_evidence
from pipelines.store.exercise_sql import table_columns, table_row_counts

__all__ = ["check", "cli_program", "csv_bytes", "parquet_bytes", "row_counts", "schema", "start", "start_of"]


@st.cache_data(show_spinner=False, max_entries=8)
def schema(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    return table_columns(_store(db, workspace))


@st.cache_data(show_spinner=False, max_entries=32)
def row_counts(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, int]:
    frame = table_row_counts(_store(db, workspace), workspace)
    return {str(t): int(n) for t, n in zip(frame["table"], frame["rows"], strict=True)}


@st.cache_data(show_spinner=False, max_entries=128)
def check(db: str, workspace: str, exercise_id: str, version: tuple[int, ...]) -> CheckResult:
    return run_check(_store(db, workspace), workspace, exercise_id)


@st.cache_data(show_spinner=False, max_entries=128)
def start_of(db: str, workspace: str, exercise_id: str, version: tuple[int, ...]) -> ExerciseStart | None:
    return started(_store(db, workspace), workspace, exercise_id)


def start(db: str, workspace: str, exercise_id: str) -> ExerciseStart:
    """Begin an exercise for a learner in `workspace` (not cached: it writes)."""
    return start_exercise(_store(db, learner_workspace(workspace, exercise_id)), workspace, exercise_id)


@st.cache_data(show_spinner=False, max_entries=32)
def test_score_answers(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Answer]:
    """The ML Test Score's tests that the workspace's history answers (empty without a history)."""
    store = _store(db, workspace)
    if not store.exists() or store.workspace_info(workspace) is None:
        return {}
    return answers_from_history(ml_test_score_evidence(store, workspace))


def cli_program() -> str:
    """How a learner's shell reaches the CLI: `opslab` when it is on the PATH, else the full path of
    the one installed beside this Python (`.venv/bin/opslab` after `make run`)."""
    if shutil.which("opslab"):
        return "opslab"
    beside = Path(sys.executable).with_name("opslab")
    return shlex.quote(str(beside)) if beside.exists() else f"{shlex.quote(sys.executable)} -m pipelines"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes | None:
    """The frame as Parquet, or None when Parquet cannot hold it (e.g. two columns of one name)."""
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, engine="pyarrow", index=False)
    except (ValueError, TypeError, NotImplementedError):  # pyarrow's Arrow errors derive from these
        return None
    return buffer.getvalue()
