"""View helpers for an imported workspace (issue #12): where its history came from, and the one
sentence a page says where a part needs what an import cannot have (naming the source and why)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_imported
from dashboard.figures.imported import imported_events, imported_timeline_figure

__all__ = ["READING", "SOURCE_NAMES", "cannot_show", "origin_line", "show_origin", "sources", "timeline"]

SOURCE_NAMES = {"git": "git", "github": "GitHub", "gitlab": "GitLab", "mlflow": "MLflow"}
READING = (
    "**Reading the chart.** :blue[▲] a release deployed to production · :blue[▽] a rework release (a rollback "
    "redeploy, a revert or a quick patch) · :red[✕] a pipeline that failed · :red[■] an incident, shaded while "
    "it was open · :orange[◆] a training run, filled by its trigger · :orange[●] a model version registered · "
    ":orange[▶] an alias moved · bars: what happened each week (commits, CI runs, training runs)."
)


def sources(db: str, workspace: str, version: tuple[int, ...]) -> list[dict[str, Any]]:
    """The sources imported into the workspace; empty for a played workspace."""
    return data_imported.sources(db, workspace, version)


def origin_line(imported: Sequence[dict[str, Any]]) -> str:
    """'imported from git `/path` and MLflow `sqlite:///mlflow.db`': what a page says where a played
    workspace names its scenario."""
    parts = [
        f"{SOURCE_NAMES.get(s['source'], s['source'])} `{s['location'] or 'unknown location'}`"
        for s in imported
    ]
    return "imported from " + " and ".join(parts)


def show_origin(imported: Sequence[dict[str, Any]]) -> None:
    """Each source's origin and its own note on what it cannot tell."""
    for item in imported:
        name = SOURCE_NAMES.get(item["source"], item["source"])
        when = pd.Timestamp(item["last_import"]) if pd.notna(item.get("last_import")) else None
        times = f"{int(item['imports'])} imports" if int(item.get("imports") or 0) > 1 else "one import"
        st.markdown(f"**Imported from {name}** `{item['location'] or 'unknown location'}` · {times}, the last on "
                    f"{when:%Y-%m-%d %H:%M} UTC" if when is not None else f"**Imported from {name}**")  # fmt: skip
        if item.get("note"):
            st.caption(f"What {name} cannot tell: {item['note']}")


def cannot_show(db: str, workspace: str, version: tuple[int, ...], evidence: str, fallback: str) -> str:
    """The sentence saying why the workspace's sources gave no `evidence` (see
    `pipelines.importers.unknowns.EVIDENCE`), or `fallback` when they gave some."""
    return data_imported.missing(db, workspace, version).get(evidence, fallback)


def timeline(db: str, workspace: str, version: tuple[int, ...]) -> pd.DataFrame:
    """Draw the imported history's Timeline; the events it drew (their run ids open the runs)."""
    markers = data_imported.markers(db, workspace, version)
    activity = data_imported.activity(db, workspace, version)
    events = imported_events(markers)
    if markers["too_many"]:
        names = ", ".join(f"{markers['counts'][n]:,} {n.replace('_', ' ')}" for n in markers["too_many"])
        st.info(f"Too many to draw one by one ({names}): they are counted a week in the bars, not drawn as "
                "markers.", icon="ℹ️")  # fmt: skip
    if events.empty and activity.empty:
        st.info("The imported history has no dated event to draw yet.", icon="ℹ️")
        return events
    st.plotly_chart(imported_timeline_figure(events, activity, markers["incidents"]), width="stretch",
                    key="timeline_chart", on_select=_queue_click, selection_mode="points",
                    config={"displaylogo": False})  # fmt: skip
    for evidence in ("pipeline_runs", "model_runs"):  # a lane the sources cannot fill says why it is bare
        if why := cannot_show(db, workspace, version, evidence, ""):
            st.caption(why)
    return events


def _queue_click() -> None:
    from dashboard.figures.timeline import clicked_run

    st.session_state.timeline_open = clicked_run(st.session_state.get("timeline_chart"))
