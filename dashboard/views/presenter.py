"""Presenter mode: the played story step by step on the Timeline, for a room (← and → move).

The steps come from the workspace's history (pipelines/scenario/steps.py); `?step=N` keeps the
place, so a presenter can reload or share the link. The sidebar and Streamlit's header are hidden.
"""

from __future__ import annotations

import re

import streamlit as st

from dashboard import data, imported, state, theme
from dashboard.figures.presenter import step_figure

st.html(theme.PRESENTER_CSS)
db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)
sources = imported.sources(db, ws, version)
steps = data.story_steps(db, ws, version) if data.has_history(db, ws, version) and not sources else []

if sources:  # a played story's moments need played weeks and a preset's narrative: an import has neither
    st.title("Presenter mode")
    st.info(f"Presenter mode steps through a played scenario's story: its weeks, alarms and retrains with the "
            f"preset's narrative. Workspace **{ws}** holds a history {imported.origin_line(sources)}, which has "
            "no such story to tell, so there is nothing to step through; the Timeline shows everything it holds, "
            "full screen (F11) for a room.", icon="ℹ️")  # fmt: skip
    st.page_link("views/timeline.py", label="Open the Timeline", icon="🕰️")
    st.stop()
if not steps:
    st.title("Presenter mode")
    st.info(f"Workspace **{ws}** has no played week yet, so there is no story to present. Play a scenario "
            "in the Control room (full-story tells all of it), then come back here.", icon="ℹ️")  # fmt: skip
    st.page_link("views/control_room.py", label="Open the Control room", icon="🎛️")
    st.stop()


def _step_in_url() -> int:
    try:
        wanted = int(st.query_params.get("step", "1"))
    except ValueError:
        wanted = 1
    return min(max(wanted, 1), len(steps))


def _go(to: int) -> None:
    st.query_params["step"] = str(min(max(to, 1), len(steps)))


def _plain(text: str) -> str:
    """The history's words shown as they are: commit messages and test names are not Markdown."""
    return re.sub(r"([\\`*_\[\]<>$~|#])", r"\\\1", text)


current = _step_in_url()
st.query_params["step"] = str(current)
step = steps[current - 1]

with st.container(key="presenter_nav", horizontal=True, vertical_alignment="center"):
    st.button("← Previous", key="presenter_prev", shortcut="Left", on_click=_go, args=(current - 1,),
              disabled=current == 1)  # fmt: skip
    st.markdown(f"**Step {current} of {len(steps)}** · workspace {_plain(ws)}")
    st.button("Next →", key="presenter_next", shortcut="Right", on_click=_go, args=(current + 1,),
              disabled=current == len(steps), type="primary")  # fmt: skip
    st.page_link("views/timeline.py", label="Leave presenter mode", icon="🕰️")

with st.container(key="presenter_step"):
    st.title(step.title, anchor=False)
    words, chart = st.columns([2, 3], gap="medium")
    words.markdown(_plain(step.annotation))

weekly = data.weekly(db, ws, version)
marks = data.timeline(db, ws, version)
settings = (data.workspace_info(db, ws, version) or {}).get("settings") or {}
fig = step_figure(weekly, marks["events"], marks["incidents"], step,
                  drift_line=float(settings.get("dataset_drift_share") or 0.5), density=marks["density"])  # fmt: skip
chart.plotly_chart(fig, width="stretch", key="presenter_chart", config={"displayModeBar": False})
