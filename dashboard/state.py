"""Session state, initialised once per browser session: which run history and workspace to show.

Deep links: `?workspace=NAME` picks the workspace and `?run=ID` opens a run on the DevOps or
MLOps page. Each browser session can pick its own workspace (a workshop seat each).
"""

from __future__ import annotations

import os

import streamlit as st

from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name, resolve_db_path

__all__ = ["db_path", "init", "set_workspace", "workspace"]


def init() -> None:
    if "db_path" not in st.session_state:
        st.session_state.db_path = str(resolve_db_path(os.environ.get("OPSLAB_DB")))
    wanted = st.query_params.get("workspace")
    if "workspace" not in st.session_state or (wanted and wanted != st.session_state.workspace):
        try:
            st.session_state.workspace = check_workspace_name(wanted or DEFAULT_WORKSPACE)
        except ValueError:
            st.session_state.workspace = DEFAULT_WORKSPACE
    st.query_params["workspace"] = st.session_state.workspace


def db_path() -> str:
    return st.session_state.db_path


def workspace() -> str:
    return st.session_state.workspace


def set_workspace(name: str) -> None:
    st.session_state.workspace = check_workspace_name(name)
    st.query_params["workspace"] = name
