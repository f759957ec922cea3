"""Overview: the two lifecycles side by side, each difference tied to a live figure."""

from __future__ import annotations

import streamlit as st

from dashboard import data, imported, state, ui
from dashboard.figures import overview as figures
from dashboard.story import show_story
from pipelines.devops.definitions import DEFINITIONS

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)

sources = imported.sources(db, ws, version)
st.title("DevOps and MLOps, side by side")
st.caption(
    "One product, a bike-demand prediction service, shipped by two lifecycles on one clock: its code "
    "through DevOps, its model through MLOps. Both ran for real in this workspace."
    if not sources
    else f"A real team's DevOps and MLOps on one clock, {imported.origin_line(sources)}: every key and chart "
    "below counts that history, and says what its source cannot tell."
)
if not data.has_history(db, ws, version):
    ui.empty_state(ws)
    st.stop()

if sources:  # an import tells no played story: where it came from, and what it cannot tell
    imported.show_origin(sources)
elif story := data.story(db, ws, version):
    show_story(story, key="overview_story")

weekly = data.weekly(db, ws, version)
if not weekly.empty:  # a report tells played weeks; runs alone have no clock to draw
    st.download_button(
        "Download the report (HTML)", data=lambda: data.report_html(db, ws, version),
        file_name=f"opslab-report-{ws}.html", mime="text/html", key="overview_report", on_click="ignore",
        help="One self-contained file to leave behind: the story, the Timeline, the keys, what retraining "
        "bought, incidents, rollbacks and drift. It opens offline; print it from the browser for a PDF.",
    )  # fmt: skip

steps = data.step_counts(db, ws, version)
deployments = data.table(db, ws, "deployments", version)

st.plotly_chart(figures.lifecycle_loops(figures.loop_counts(steps)), width="stretch", key="overview_loops",
                config={"displayModeBar": False})  # fmt: skip

st.subheader("The headline keys")
definition = ui.definition_switch(key="overview_definition")
st.markdown(f"**DevOps: DORA's five keys, by {DEFINITIONS[definition]}**")
ui.key_cards(data.dora(db, ws, version, definition), columns=5, receipts=True, key="overview_dora")
st.markdown("**MLOps: their mirrors, measured the same way**")
ui.key_cards(data.ml(db, ws, version), columns=5, receipts=True, key="overview_ml")
st.caption(
    "Each ML key sits under the DORA key it mirrors. Hover a key for its formula; open its rows for the exact "
    "records and SQL it was computed from. The definition switch changes DORA's rules and tier table; the ML "
    "bands are OpsLab's own and do not change with it."
)
ui.tier_table(definition)

st.subheader("Four differences, measured here")
DIFFERENCES = [
    ("Primary asset", "DevOps ships **code**: a release is a build of a commit. MLOps ships a **model built from "
     "data**: the same code with new data is a new model.", figures.assets_over_time(deployments)),
    ("What triggers change", "Code changes when someone **commits**. A model is retrained on a **schedule**, when the "
     "data **drifts**, or when its **quality decays**, even if no line of code changed.", figures.triggers(data.trigger_counts(db, ws, version))),
    ("What is tested", "The service's **test suite** checks functionality. The model's pipeline checks **data** "
     "(validation) and **accuracy** (the promotion gate against the champion).", figures.tested_what(steps)),
    ("What is monitored", "The service is watched for **errors and latency**. The model is watched for **drift** and, "
     "once labels arrive, **realized quality**.", figures.monitoring_signals(weekly)),
]  # fmt: skip
# What an import cannot show: the evidence each difference's chart draws, said in one sentence instead.
EVIDENCE_OF = {1: "pipeline_runs", 2: "pipeline_runs", 3: "served_weeks"}
for index, (title, text, figure) in enumerate(DIFFERENCES):
    words, chart = st.columns([1, 2])
    with words:
        st.markdown(f"#### {title}")
        st.markdown(text)
    with chart:
        why = (
            imported.cannot_show(db, ws, version, EVIDENCE_OF[index], "")
            if sources and index in EVIDENCE_OF
            else ""
        )
        if why and (
            index == 3 or not len(figure.data) or all(t.x is None or len(t.x) == 0 for t in figure.data)
        ):
            st.info(why, icon="ℹ️")
        else:
            st.plotly_chart(figure, width="stretch", key=f"overview_difference_{index}")
