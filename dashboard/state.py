"""Session state, initialised once per browser session: which database and workspace to show."""

from __future__ import annotations

import streamlit as st

from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name, resolve_db_path

__all__ = ["db_path", "init", "sidebar", "workspace"]


def init() -> None:
    if "db_path" not in st.session_state:
        st.session_state.db_path = str(resolve_db_path())
    if "workspace" not in st.session_state:
        wanted = st.query_params.get("workspace", DEFAULT_WORKSPACE)
        try:
            st.session_state.workspace = check_workspace_name(wanted)
        except ValueError:
            st.session_state.workspace = DEFAULT_WORKSPACE


def db_path() -> str:
    return st.session_state.db_path


def workspace() -> str:
    return st.session_state.workspace


def sidebar() -> None:
    with st.sidebar:
        st.caption(f"Workspace **{workspace()}**")
        st.caption(f"Run history: `{db_path()}`")
