"""Timeline: both lifecycles on one scenario clock; click a marker (or pick a run) to open it."""

from __future__ import annotations

import streamlit as st

from dashboard import data, imported, state, ui
from dashboard.figures.timeline import clicked_run, density_note, quality_reading, timeline_figure
from dashboard.story import show_story

PAGE_OF_KIND = {"devops": "views/devops.py", "mlops": "views/mlops.py"}
READING_PLAYED = (
    "DevOps above, MLOps below, on the scenario's clock. Hover a week to read every lane at once; {zoom}; "
    "click a marker to open its run."
)
ZOOM_WITH_SLIDER = "drag the slider under the chart or use the 3 m / 6 m / 1 y buttons to zoom"
ZOOM_BY_DRAGGING = "drag across the chart to zoom (double-click to zoom out)"

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)

sources = imported.sources(db, ws, version)
st.title("Timeline: code and models on one clock")
caption = st.empty()  # filled once the history says whether the chart has a range slider
if not data.has_history(db, ws, version):
    caption.caption(READING_PLAYED.format(zoom=ZOOM_WITH_SLIDER))
    ui.empty_state(ws)
    st.stop()

weekly = data.weekly(db, ws, version)
marks = data.timeline(db, ws, version)
caption.caption(
    READING_PLAYED.format(zoom=ZOOM_BY_DRAGGING if marks["dense"] else ZOOM_WITH_SLIDER)
    if not sources
    else f"DevOps above, MLOps below, {imported.origin_line(sources)}, on the source's own clock (UTC). Hover a "
    f"marker to read it, {ZOOM_BY_DRAGGING}, click a marker to open its run."
)
events, incidents = marks["events"], marks["incidents"]
info = data.workspace_info(db, ws, version) or {}
settings = info.get("settings") or {}
openable = events[events["run_id"] != ""].drop_duplicates("run_id")
kind_of = dict(zip(openable["run_id"], openable["kind"], strict=False))


def _queue_chart_click() -> None:
    st.session_state.timeline_open = clicked_run(st.session_state.get("timeline_chart"))


def _queue_picked_run() -> None:
    st.session_state.timeline_open = st.session_state.get("timeline_run_picker")


# A click or pick is queued by its callback and acted on here, once: the chart keeps its selection
# across reruns, and acting on the selection itself would bounce back to the run on every visit.
if run_id := st.session_state.pop("timeline_open", None):
    kind = kind_of.get(run_id)
    if kind in PAGE_OF_KIND:
        st.switch_page(PAGE_OF_KIND[kind], query_params={"workspace": ws, "run": run_id})
    st.error(f"Run {run_id} is not in workspace {ws} any more; pick another marker.")

if sources:  # an import has no played weeks: its events on the source's own clock
    events = imported.timeline(db, ws, version)
    openable = events[events["run_id"] != ""].drop_duplicates("run_id")
elif weekly.empty:
    st.info("Runs are recorded but no scenario week has been played yet, so there is no time axis to draw. "
            "Play a scenario in the Control room.", icon="ℹ️")  # fmt: skip
else:
    fig = timeline_figure(weekly, events, incidents, drift_line=float(settings.get("dataset_drift_share") or 0.5),
                          density=marks["density"])  # fmt: skip
    if note := density_note(marks["counts"], marks["dense"]):
        st.info(note, icon="ℹ️")
    st.plotly_chart(fig, width="stretch", key="timeline_chart", on_select=_queue_chart_click,
                    selection_mode="points", config={"displaylogo": False})  # fmt: skip

left, right = st.columns([3, 2])
with left:
    st.markdown(
        imported.READING
        if sources
        else "**Reading the chart.** "
        ":blue[▲] a release deployed to production · :blue[▽] a rollback · :red[✕] a pipeline that failed "
        "(its release never shipped) · :red[■] an incident, shaded while it was open · "
        ":orange[◆] a retrain, filled by what triggered it (orange: schedule, pink: drift, yellow: quality "
        f"decay) · {quality_reading(weekly)} · pink area: share of features that drifted, "
        "dotted line: the dataset-drift threshold."
    )
with right:
    labels = {r.run_id: f"{r.sim_time:%Y-%m-%d} · {r.title} · {r.detail[:60]}" for r in openable.itertuples()}
    st.selectbox("Open a run from the timeline", list(labels), index=None, format_func=labels.get,
                 key="timeline_run_picker", on_change=_queue_picked_run,
                 placeholder=f"{len(labels)} runs with a marker; type to search", help="Same as clicking its marker.")  # fmt: skip

if not sources and (story := data.story(db, ws, version)):
    show_story(story, key="timeline_story")
elif sources:
    st.caption(imported.cannot_show(db, ws, version, "served_weeks", ""))
