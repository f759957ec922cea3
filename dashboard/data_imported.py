"""Cached loaders of an imported history (issue #12): where it came from, what its sources cannot
tell, and what its Timeline draws. Same keys as `dashboard.data`: the history's path, the workspace
and its `db_version`, so an answer is reused until the workspace's file changes."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.data import _store
from pipelines.importers.unknowns import cannot_tell
from pipelines.store.imported_sql import imported_activity, imported_markers, imported_sources, landed_kinds

__all__ = ["activity", "markers", "missing", "sources"]


@st.cache_data(show_spinner=False, max_entries=64)
def sources(db: str, workspace: str, version: tuple[int, ...]) -> list[dict[str, Any]]:
    """Each source imported into the workspace (empty for a played one): source, location, note,
    last_import, imports."""
    store = _store(db, workspace)
    return imported_sources(store, workspace) if store.exists() else []


@st.cache_data(show_spinner=False, max_entries=64)
def missing(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, str]:
    """Evidence name -> why the workspace's sources gave none (`pipelines.importers.unknowns.EVIDENCE`)."""
    store = _store(db, workspace)
    names = [str(s["source"]) for s in sources(db, workspace, version)]
    return cannot_tell(names, landed_kinds(store, workspace)) if names else {}


@st.cache_data(show_spinner=False, max_entries=64)
def activity(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """week, lane, what, n: the imported history counted a week, in SQL."""
    return imported_activity(_store(db, workspace), workspace)


@st.cache_data(show_spinner=False, max_entries=64)
def markers(db: str, workspace: str, version: tuple[int, ...]) -> dict[str, Any]:
    """The rows the imported Timeline draws one by one (`imported_markers`)."""
    return imported_markers(_store(db, workspace), workspace)
