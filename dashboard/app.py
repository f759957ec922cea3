"""OpsLab's Streamlit entry point: only a router (STYLE.md). Pages live in dashboard/views/."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from dashboard import data_room, serving, sidebar, state, theme, ui
from pipelines.errors import OpsLabError
from pipelines.store import StoreLocked, query_interrupted

VIEWS = Path(__file__).parent / "views"
log = logging.getLogger("opslab.dashboard")

st.set_page_config(page_title="OpsLab", page_icon="🔁", layout="wide")
st.html(theme.PAGE_CSS)  # style only: applied to the page, draws nothing
serving.check_serving()
state.init()

HOME = st.Page(VIEWS / "overview.py", title="Overview", icon="🏠", url_path="home", default=True)


def _to_overview() -> None:
    """`/overview` (the default page's name) opens the Overview, served at `/`, with the link's params."""
    st.switch_page(HOME, query_params=st.query_params.to_dict())


PAGES = [
    HOME,
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
PAGES.append(st.Page(_to_overview, title="Overview", url_path="overview", visibility="hidden"))
page = st.navigation(PAGES)
sidebar.render()
try:
    page.run()
except StoreLocked as exc:
    if not (watched := state.watching()):
        st.error(str(exc), icon="⚠️")
    else:  # a watched seat is writing: say so and look again, never making the seat wait
        st.info(f"{watched} is writing its history right now ({data_room.seat_activity(state.db_path(), watched)}). Watching "
                "never makes a seat wait, so this page looks again every few seconds.", icon="⏳")  # fmt: skip
        ui.look_again_soon()
except OpsLabError as exc:  # expected: bad input, a busy database, a missing file
    st.error(str(exc), icon="⚠️")
except Exception as exc:  # a bug: one sentence on screen, the traceback in the server log
    if query_interrupted(exc):  # the server is stopping: its signal reached a running query
        log.info("page %s stopped with the server", page.title)
    else:
        log.exception("page %s failed", page.title)
        st.error(
            f"This page hit an unexpected error ({type(exc).__name__}: {exc}). The details are in the "
            "server log; other pages still work.",
            icon="🛑",
        )
