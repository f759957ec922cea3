"""OpsLab's Streamlit entry point: only a router (STYLE.md). Pages live in dashboard/views/."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from dashboard import serving, sidebar, state, theme
from pipelines.errors import OpsLabError

VIEWS = Path(__file__).parent / "views"
log = logging.getLogger("opslab.dashboard")

st.set_page_config(page_title="OpsLab", page_icon="🔁", layout="wide")
st.html(theme.PAGE_CSS)  # style only: applied to the page, draws nothing
serving.check_serving()
state.init()

PAGES = [
    st.Page(VIEWS / "overview.py", title="Overview", icon="🏠", url_path="overview", default=True),
    st.Page(VIEWS / "control_room.py", title="Control room", icon="🎛️", url_path="control"),
    st.Page(VIEWS / "timeline.py", title="Timeline", icon="🕰️", url_path="timeline"),
    st.Page(VIEWS / "presenter.py", title="Present", icon="📽️", url_path="present"),
    st.Page(VIEWS / "devops.py", title="DevOps", icon="🚀", url_path="devops"),
    st.Page(VIEWS / "mlops.py", title="MLOps", icon="🧠", url_path="mlops"),
    st.Page(VIEWS / "drift.py", title="Drift", icon="🌊", url_path="drift"),
    st.Page(VIEWS / "history.py", title="History", icon="🗄️", url_path="history"),
    st.Page(VIEWS / "learn.py", title="Learn", icon="🎓", url_path="learn"),
]
if state.facilitator_mode():
    PAGES.append(st.Page(VIEWS / "facilitator.py", title="Facilitator", icon="🧑‍🏫", url_path="facilitator"))
page = st.navigation(PAGES)
sidebar.render()
try:
    page.run()
except OpsLabError as exc:  # expected: bad input, a busy database, a missing file
    st.error(str(exc), icon="⚠️")
except Exception as exc:  # a bug: one sentence on screen, the traceback in the server log
    log.exception("page %s failed", page.title)
    st.error(
        f"This page hit an unexpected error ({type(exc).__name__}: {exc}). The details are in the "
        "server log; other pages still work.",
        icon="🛑",
    )
