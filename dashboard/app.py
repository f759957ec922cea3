"""OpsLab's Streamlit entry point: only a router (STYLE.md). Pages live in dashboard/views/."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import state

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="OpsLab", page_icon="🔁", layout="wide")
state.init()

PAGES = [
    st.Page(VIEWS / "overview.py", title="Overview", icon="🏠", url_path="overview", default=True),
]
page = st.navigation(PAGES)
state.sidebar()
page.run()
