"""Overview: the two lifecycles side by side."""

from __future__ import annotations

import streamlit as st

from dashboard import state

st.title("OpsLab: DevOps and MLOps, side by side")
st.info(
    f"Workspace **{state.workspace()}** has no history yet. Run `make run` (it plays the "
    "default scenario on first start) or `opslab scenario run full-story` in a terminal, then reload.",
    icon="ℹ️",
)
