"""The Timeline of an imported history: pure builders (no Streamlit).

An import has no played weeks (no service health, quality or drift lines): its Timeline is its events
on the source's own clock, DevOps above (releases, rework, failed pipelines, incidents, and the week's
commits and CI runs as bars), MLOps below (training runs by trigger, registered versions, alias moves).
Markers carry their run id in `customdata`, as on a played Timeline, so a click opens the run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.timeline import TRIGGER_FILL, training_name

__all__ = ["IMPORTED_ROWS", "imported_events", "imported_timeline_figure"]

IMPORTED_ROWS = {"devops_events": 1, "devops_activity": 2, "mlops_events": 3, "mlops_activity": 4}
DEVOPS_STRIP = ["incident", "failed run", "deploy"]  # bottom to top
MLOPS_STRIP = ["alias", "version", "failed run", "run"]
_WEEK_MS = 7 * 86_400_000
EVENT_COLUMNS = ["sim_time", "lane", "event", "run_id", "trigger", "title", "detail"]


def _text(value: Any, default: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return default
    return str(value)


def _duration(start: Any, end: Any) -> str:
    if end is None or pd.isna(end):
        return "still open"
    hours = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def imported_events(markers: dict[str, Any]) -> pd.DataFrame:
    """One row a marker, oldest first, from `imported_markers`' rows: releases (planned or rework),
    failed pipelines, incidents, model training runs, registered versions and alias moves."""
    rows: list[dict[str, Any]] = []
    deployments = markers["deployments"]
    releases = deployments[deployments["kind"] == "release"] if not deployments.empty else deployments
    for dep in releases.itertuples():
        rework = bool(dep.unplanned)
        rows.append({
            "sim_time": dep.sim_time, "lane": "devops", "event": "rework" if rework else "release",
            "run_id": _text(dep.run_id), "trigger": "",
            "title": f"{'Rework release' if rework else 'Release'} {dep.ref}",
            "detail": f"{_text(dep.reason)} · commit {_text(dep.commit_sha)[:12]}"
            + (" · later rolled back" if bool(dep.rolled_back) else ""),
        })  # fmt: skip
    for run in markers["runs"].itertuples():
        failed = run.status == "failed"
        if run.kind == "devops":
            event, title = "failed", f"Pipeline failed: {_text(run.label)}"
        else:
            event = "failed" if failed else "retrain"
            title = (
                "Training run failed: " if failed else training_name(str(run.trigger)).capitalize() + ": "
            ) + _text(run.label)
        rows.append({"sim_time": run.sim_time, "lane": run.kind, "event": event, "run_id": run.run_id,
                     "trigger": run.trigger, "title": title, "detail": f"{run.status} · {_text(run.error)[:120]}"})  # fmt: skip
    for inc in markers["incidents"].itertuples():
        rows.append({
            "sim_time": inc.opened_sim_time, "lane": "mlops" if inc.kind == "model" else "devops",
            "event": "incident", "run_id": "", "trigger": "",
            "title": f"Incident: {_text(inc.summary, inc.kind)}",
            "detail": f"cause {_text(inc.cause, 'unknown')} · {_text(inc.detected_by)} · lasted "
            f"{_duration(inc.opened_sim_time, inc.resolved_sim_time)}",
        })  # fmt: skip
    for version in markers["model_versions"].itertuples():
        rows.append({"sim_time": version.sim_time, "lane": "mlops", "event": "version", "run_id": _text(version.run_id),
                     "trigger": "", "title": f"Model version v{version.version} registered",
                     "detail": f"dataset {_text(version.dataset, 'unknown')}"})  # fmt: skip
    for move in markers["alias_moves"].itertuples():
        target = f"v{int(move.version)}" if pd.notna(move.version) else "nothing"
        rows.append({"sim_time": move.sim_time, "lane": "mlops", "event": "alias", "run_id": _text(move.run_id),
                     "trigger": "", "title": f"Alias {move.alias} → {target}", "detail": _text(move.reason)})  # fmt: skip
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if events.empty:
        return events
    events["sim_time"] = pd.to_datetime(events["sim_time"])
    return events.sort_values("sim_time", kind="stable").reset_index(drop=True)


def _markers(
    rows: pd.DataFrame, *, name: str, y: str, symbol: str, colour: str, fill: str | None = None
) -> go.Scatter:
    hover = [
        f"<b>{t}</b><br>{d}" + (f"<br><i>click to open run {r}</i>" if r else "")
        for t, d, r in zip(rows["title"], rows["detail"], rows["run_id"], strict=True)
    ]
    return go.Scatter(
        x=rows["sim_time"], y=[y] * len(rows), mode="markers", name=name,
        marker={"symbol": symbol, "size": 13, "color": fill or colour, "line": {"color": colour, "width": 1.5}},
        customdata=rows["run_id"].tolist(), hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    )  # fmt: skip


_BARS = {  # (lane, what) -> trace name, colour
    ("devops", "change"): ("changes committed", theme.LIFECYCLE["devops"]),
    ("devops", "run"): ("CI runs", theme.STATUS["succeeded"]),
    ("devops", "failed run"): ("CI runs failed", theme.STATUS["failed"]),
    ("mlops", "run"): ("training runs", theme.LIFECYCLE["mlops"]),
    ("mlops", "failed run"): ("training runs failed", theme.STATUS["failed"]),
}


def imported_timeline_figure(
    events: pd.DataFrame, activity: pd.DataFrame, incidents: pd.DataFrame, *, height: int = 720
) -> go.Figure:
    """DevOps above MLOps on the source's clock: each lane's events as markers and its week's
    activity (commits, CI runs, training runs) as bars; incidents shaded while open. A lifecycle the
    history holds nothing of gets no rows (the page says why)."""
    lanes = [
        lane for lane in ("devops", "mlops")
        if (events["lane"] == lane).any() or (activity["lane"] == lane).any()
    ] or ["devops"]  # fmt: skip
    titles = {
        "devops_events": "<b>DevOps</b> · releases, rework, failed pipelines, incidents",
        "devops_activity": "<b>DevOps</b> · a week: changes committed and CI runs",
        "mlops_events": "<b>MLOps</b> · training runs by trigger, model versions, alias moves",
        "mlops_activity": "<b>MLOps</b> · a week: training runs",
    }
    rows = [f"{lane}_{part}" for lane in lanes for part in ("events", "activity")]
    row_of = {name: i + 1 for i, name in enumerate(rows)}
    weights = {"devops_events": 0.2, "devops_activity": 0.3, "mlops_events": 0.22, "mlops_activity": 0.28}
    total = sum(weights[r] for r in rows)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=[titles[r] for r in rows], row_heights=[weights[r] / total for r in rows])  # fmt: skip
    for note, name in zip(fig.layout.annotations, rows, strict=True):
        note.font = {"color": theme.lifecycle_colour(name.split("_")[0]), "size": 13}
        note.x, note.xanchor = 0, "left"
    blue, orange, failed = theme.LIFECYCLE["devops"], theme.LIFECYCLE["mlops"], theme.STATUS["failed"]

    def lane(name: str, event: str) -> pd.DataFrame:
        return events[(events["lane"] == name) & (events["event"] == event)]

    if "devops" in lanes:
        for event, name, y, symbol, colour, fill in (
            ("release", "release deployed", "deploy", theme.MARKER["release"], blue, None),
            ("rework", "rework release", "deploy", theme.MARKER["rollback"], blue, "#FFFFFF"),
            ("failed", "pipeline failed", "failed run", theme.MARKER["failed"], failed, None),
            ("incident", "incident (shaded while open)", "incident", theme.MARKER["incident"], failed, None),
        ):
            if not (found := lane("devops", event)).empty:
                fig.add_trace(_markers(found, name=name, y=y, symbol=symbol, colour=colour, fill=fill),
                              row=row_of["devops_events"], col=1)  # fmt: skip
    if "mlops" in lanes:
        for trigger, found in lane("mlops", "retrain").groupby("trigger", sort=False):
            fig.add_trace(_markers(found, name=training_name(str(trigger)), y="run", symbol=theme.MARKER["retrain"],
                                   colour=orange, fill=TRIGGER_FILL.get(str(trigger), orange)),
                          row=row_of["mlops_events"], col=1)  # fmt: skip
        for event, name, y, symbol, colour in (
            ("failed", "training run failed", "failed run", theme.MARKER["failed"], failed),
            ("version", "model version registered", "version", "circle", orange),
            ("alias", "alias moved", "alias", "triangle-right", orange),
            ("incident", "model incident", "failed run", theme.MARKER["incident"], failed),
        ):
            if not (found := lane("mlops", event)).empty:
                fig.add_trace(_markers(found, name=name, y=y, symbol=symbol, colour=colour),
                              row=row_of["mlops_events"], col=1)  # fmt: skip

    shown = {(lane_name, what) for lane_name, what in zip(activity["lane"], activity["what"], strict=True)}
    for (lane_name, what), (name, colour) in _BARS.items():
        found = activity[(activity["lane"] == lane_name) & (activity["what"] == what)]
        if found.empty or lane_name not in lanes:
            continue
        # A week's width, shared by the lane's bars: plotly would take the gap between x values, 1 ms for one week
        width = _WEEK_MS * 0.8 / sum(1 for key in _BARS if key in shown and key[0] == lane_name)
        weeks = pd.to_datetime(
            found["week"]
        )  # drawn over the week they count (Monday to Sunday), not around Monday
        fig.add_trace(go.Bar(x=weeks + pd.Timedelta(days=3.5), y=found["n"], name=name, marker_color=colour,
                             alignmentgroup=lane_name, offsetgroup=what, width=width,
                             customdata=weeks.dt.strftime("%d %b %Y"),
                             hovertemplate=f"week of %{{customdata}}: %{{y}} {name}<extra></extra>"),
                      row=row_of[f"{lane_name}_activity"], col=1)  # fmt: skip

    end = pd.Timestamp.now()
    if not events.empty:
        end = max(
            events["sim_time"].max(), pd.Timestamp(activity["week"].max()) if not activity.empty else end
        )
    for inc in incidents.itertuples() if incidents is not None else ():
        opened = pd.Timestamp(inc.opened_sim_time)
        resolved = pd.Timestamp(inc.resolved_sim_time) if pd.notna(inc.resolved_sim_time) else end
        fig.add_shape(type="rect", xref="x", yref="paper", x0=opened, x1=max(resolved, opened + pd.Timedelta(hours=12)),
                      y0=0, y1=1, fillcolor=failed, opacity=0.12, line_width=0, layer="below")  # fmt: skip

    for name, strip in (("devops_events", DEVOPS_STRIP), ("mlops_events", MLOPS_STRIP)):
        if name in row_of:
            fig.update_yaxes(type="category", categoryorder="array", categoryarray=strip, fixedrange=True,
                             range=[-0.6, len(strip) - 0.4], row=row_of[name], col=1)  # fmt: skip
    for name in ("devops_activity", "mlops_activity"):
        if name in row_of:
            fig.update_yaxes(title_text="a week", rangemode="tozero", row=row_of[name], col=1)
    theme.apply(fig, height=height if len(lanes) == 2 else int(height * 0.6))
    fig.update_layout(
        barmode="group", hovermode="closest", margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0, "font": {"size": 12}},
    )  # fmt: skip
    fig.update_xaxes(title_text="the source's time (UTC)", showticklabels=True, row=len(rows), col=1)
    return fig
