"""The Timeline: both lifecycles on one scenario clock, DevOps above, MLOps below.

Pure builders (no Streamlit): `timeline_events` turns runs, deployments and incidents into the
markers a person can click, and `timeline_figure` draws them over the weekly service and model
signals. Every clickable marker carries its run id in `customdata`, so the page can open the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.mlops import weekly_metric
from pipelines.quality import Metric

__all__ = [
    "EVENT_COLUMNS",
    "LANE_ROWS",
    "TRIGGER_FILL",
    "clicked_run",
    "density_note",
    "events_of_kinds",
    "quality_reading",
    "timeline_events",
    "timeline_figure",
]

EVENT_COLUMNS = ["sim_time", "lane", "event", "run_id", "kind", "trigger", "status", "title", "detail"]

# Retrain diamonds: an MLOps-orange outline always, the fill says what triggered it. Drift shares the
# drift line's colour so a drift-triggered retrain visibly answers the drift panel below it.
TRIGGER_FILL = {
    "schedule": theme.LIFECYCLE["mlops"],
    "drift": theme.DRIFT,
    "performance": theme.STATUS["running"],
    "estimated": theme.STATUS["running"],  # quality decay too, only estimated
    "manual": "#FFFFFF",
    "initial": "#FFFFFF",
}
TRIGGER_TEXT = {
    "schedule": "on schedule",
    "drift": "on drift",
    "performance": "on quality decay",
    "estimated": "on estimated quality decay",
    "manual": "by hand",
    "initial": "(the first model)",
    "commit": "by a commit",
}


def training_name(trigger: str) -> str:
    """What a training run is called: the first model is trained, not retrained."""
    if trigger == "initial":
        return "first model (initial training)"
    return f"retrain {TRIGGER_TEXT.get(trigger, trigger)}"


# Rows of the stacked figure (row 2 has a second y axis for latency).
LANE_ROWS = {
    "devops_events": 1,
    "service_health": 2,
    "mlops_events": 3,
    "model_quality": 4,
    "drift_share": 5,
}
DEVOPS_STRIP = ["incident", "failed run", "deploy"]  # bottom to top
MLOPS_STRIP = ["incident", "failed run", "retrain"]


def _text(value: Any, default: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return default
    return str(value)


def _when(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return (
        stamp.strftime("%a %d %b %Y %H:%M") if stamp.hour or stamp.minute else stamp.strftime("%a %d %b %Y")
    )


def _duration(start: Any, end: Any) -> str:
    if end is None or pd.isna(end):
        return "still open"
    hours = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def timeline_events(runs: pd.DataFrame, deployments: pd.DataFrame, incidents: pd.DataFrame) -> pd.DataFrame:
    """Every marker of the timeline, oldest first: one row per release, rollback, failed pipeline,
    incident and retrain, with the run it opens (`run_id`, empty when there is none)."""
    rows: list[dict[str, Any]] = []
    runs = runs if runs is not None else pd.DataFrame()
    label_of = dict(zip(runs.get("run_id", []), runs.get("label", []), strict=False))
    kind_of = dict(zip(runs.get("run_id", []), runs.get("kind", []), strict=False))
    deployments = deployments if deployments is not None else pd.DataFrame()
    releases = deployments[deployments["kind"] == "release"] if not deployments.empty else deployments
    models = deployments[deployments["kind"] == "model"] if not deployments.empty else deployments
    promoted = dict(zip(models.get("run_id", []), models.get("ref", []), strict=False))
    run_of_deployment = dict(
        zip(deployments.get("deployment_id", []), deployments.get("run_id", []), strict=False)
    )
    replaced = {_text(r["replaced_by"]): r for _, r in releases.iterrows() if _text(r.get("replaced_by"))}

    for _, dep in releases.iterrows():
        run_id = _text(dep.get("run_id"))
        if bool(dep.get("unplanned")):
            undone = replaced.get(_text(dep["deployment_id"]))
            bad = _text(undone["ref"]) if undone is not None else "the failing release"
            rows.append({
                "sim_time": dep["sim_time"], "lane": "devops", "event": "rollback",
                "run_id": run_id or (_text(undone.get("run_id")) if undone is not None else ""),
                "kind": "devops", "trigger": "", "status": "",
                "title": f"Rollback to {dep['ref']}",
                "detail": f"undoes {bad}; {_text(dep.get('reason'), 'unplanned deploy')}",
            })  # fmt: skip
            continue
        change = label_of.get(run_id, "") or _text(dep.get("commit_sha"))[:7]
        note = " · later rolled back" if bool(dep.get("rolled_back")) else ""
        rows.append({
            "sim_time": dep["sim_time"], "lane": "devops", "event": "release", "run_id": run_id,
            "kind": "devops", "trigger": "commit", "status": "succeeded",
            "title": f"Release {dep['ref']}", "detail": f"{change}{note}",
        })  # fmt: skip

    if not runs.empty:
        for _, run in runs.iterrows():
            kind, status = run["kind"], run["status"]
            if kind == "devops" and status != "failed":
                continue  # a successful DevOps run shows as its release
            failed = status == "failed"
            if kind == "devops":
                event, title = "failed", "Pipeline failed"
                detail = f"{_text(run.get('label'))} · {_text(run.get('error'))[:120]}"
            elif failed:
                event, title = "failed", "Retrain failed"
                detail = (
                    f"{TRIGGER_TEXT.get(run['trigger'], run['trigger'])} · {_text(run.get('error'))[:120]}"
                )
            else:
                event, title = "retrain", training_name(str(run["trigger"])).capitalize()
                model = promoted.get(run["run_id"])
                outcome = f"promoted model {model}" if model else "champion kept (gate said no)"
                detail = f"{_text(run.get('label'))} · {outcome}"
            rows.append({
                "sim_time": run["sim_time"], "lane": kind, "event": event, "run_id": run["run_id"],
                "kind": kind, "trigger": run["trigger"], "status": status, "title": title, "detail": detail,
            })  # fmt: skip

    if incidents is not None and not incidents.empty:
        for _, inc in incidents.iterrows():
            lane = "mlops" if inc["kind"] == "model" else "devops"
            run_id = _text(run_of_deployment.get(_text(inc.get("cause_deployment_id"))))
            rows.append({
                "sim_time": inc["opened_sim_time"], "lane": lane, "event": "incident", "run_id": run_id,
                "kind": kind_of.get(run_id, lane), "trigger": "", "status": inc["status"],
                "title": f"Incident: {_text(inc.get('summary'), inc['kind'])}",
                "detail": (f"cause {_text(inc.get('cause'), '?')} · {_text(inc.get('detected_by'), 'detected')}"
                           f" · lasted {_duration(inc['opened_sim_time'], inc.get('resolved_sim_time'))}"),
            })  # fmt: skip

    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if events.empty:
        return events
    events["sim_time"] = pd.to_datetime(events["sim_time"])
    return events.sort_values("sim_time", kind="stable").reset_index(drop=True)


def events_of_kinds(events: pd.DataFrame, kinds: set[tuple[str, str]]) -> pd.DataFrame:
    """Only the events whose (lane, event) is one of `kinds`."""
    keep = [(lane, event) in kinds for lane, event in zip(events["lane"], events["event"], strict=True)]
    # .loc: `events[[]]` would select no columns, `events.loc[[]]` selects no rows
    return events.loc[keep].reset_index(drop=True)


# How each kind of marker is drawn: its strip row, symbol, outline colour, fill and legend name.
def _looks() -> dict[tuple[str, str], tuple[str, str, str, str | None, str]]:
    blue, orange, red = theme.LIFECYCLE["devops"], theme.LIFECYCLE["mlops"], theme.STATUS["failed"]
    return {
        ("devops", "release"): ("deploy", theme.MARKER["release"], blue, None, "releases deployed"),
        ("devops", "rollback"): ("deploy", theme.MARKER["rollback"], blue, "#FFFFFF", "rollbacks"),
        ("devops", "failed"): ("failed run", theme.MARKER["failed"], red, None, "pipelines failed"),
        ("devops", "incident"): ("incident", theme.MARKER["incident"], red, None, "incidents"),
        ("mlops", "retrain"): ("retrain", theme.MARKER["retrain"], orange, None, "trainings"),
        ("mlops", "failed"): ("failed run", theme.MARKER["failed"], red, None, "retrains failed"),
        ("mlops", "incident"): ("incident", theme.MARKER["incident"], red, None, "model incidents"),
    }


def density_note(counts: Mapping[tuple[str, str], int], dense: list[tuple[str, str]]) -> str:
    """The sentence saying which markers are drawn as weekly counts, and how many each stands for."""
    if not dense:
        return ""
    looks = _looks()
    parts = [f"{counts[kind]:,} {looks[kind][4]} ({kind[0]})" for kind in dense]
    return (
        "Too many to draw one by one, so drawn as weekly counts (one marker per week, its size and hover give "
        f"the count): {', '.join(parts)}. Every other marker is drawn and opens its run; open the others "
        "from the DevOps and MLOps pages' run tables. With this many markers there is no range "
        "slider: drag across the chart to zoom (double-click zooms out) or use the 3 m / 6 m / 1 y buttons."
    )


def _density_markers(density: pd.DataFrame, lane: str) -> list[go.Scatter]:
    """One trace per dense kind of `lane`: a marker per week sized by its count, the count in the hover."""
    traces = []
    rows = density[density["lane"] == lane]
    for (_, event), group in rows.groupby(["lane", "event"], sort=False):
        y, symbol, colour, fill, name = _looks()[(lane, str(event))]
        counts = group["count"].astype(float)
        size = 6 + 18 * (counts / counts.max()) ** 0.5
        hover = [
            f"<b>{int(n):,} {name}</b> in the week of {pd.Timestamp(b):%d %b %Y}<br>{d}"
            for n, b, d in zip(counts, group["bucket"], group["detail"], strict=True)
        ]
        traces.append(go.Scatter(
            x=pd.to_datetime(group["bucket"]) + pd.Timedelta(days=3.5), y=[y] * len(group), mode="markers",
            name=f"{name} (weekly counts)", customdata=[""] * len(group), hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            marker={"symbol": symbol, "size": size.tolist(), "color": fill or colour, "opacity": 0.75,
                    "line": {"color": colour, "width": 1.5}},
        ))  # fmt: skip
    return traces


def _markers(
    events: pd.DataFrame, *, name: str, y: str, symbol: str, colour: str, line: str, size: int = 14,
    fill: str | None = None,
) -> go.Scatter:  # fmt: skip
    hover = [
        f"<b>{t}</b><br>{d}" + (f"<br><i>click to open run {r}</i>" if r else "")
        for t, d, r in zip(events["title"], events["detail"], events["run_id"], strict=True)
    ]
    return go.Scatter(
        x=events["sim_time"],
        y=[y] * len(events),
        mode="markers",
        name=name,
        marker={
            "symbol": symbol,
            "size": size,
            "color": fill or colour,
            "line": {"color": line, "width": 1.5},
        },
        customdata=events["run_id"].tolist(),
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )


def _open_spans(incidents: pd.DataFrame, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The spans during which an incident was open, overlapping incidents merged into one span."""
    opened = pd.to_datetime(incidents["opened_sim_time"])
    resolved = pd.to_datetime(incidents["resolved_sim_time"]).fillna(end)
    # An incident of a day is a hairline on a two-year axis: give the band a visible minimum.
    resolved = resolved.where(resolved > opened + pd.Timedelta(days=3), opened + pd.Timedelta(days=3))
    spans: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for start, stop in sorted(zip(opened, resolved, strict=True)):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], stop))
        else:
            spans.append((start, stop))
    return spans


def _translucent(hex_colour: str, alpha: float) -> str:
    """A theme colour as rgba, for area fills that must not hide the lines drawn over them."""
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _serving(weekly: pd.DataFrame) -> list[str]:
    """What served each week, for the hover: the release and the model version."""
    releases = weekly["release"] if "release" in weekly else pd.Series([None] * len(weekly))
    models = weekly["model_version"] if "model_version" in weekly else pd.Series([None] * len(weekly))
    return [
        f"release {r if isinstance(r, str) and r else 'none'}, model {f'v{int(m)}' if pd.notna(m) else 'none'}"
        for r, m in zip(releases, models, strict=True)
    ]


def _week_lines(fig: go.Figure, weekly: pd.DataFrame, metric: Metric | None, drift_line: float) -> None:
    x = weekly["sim_time"]
    rows = LANE_ROWS
    fig.add_trace(go.Scatter(
        x=x, y=weekly["error_rate"] * 100, name="error rate (%)", mode="lines",
        line={"color": theme.STATUS["failed"], "width": 2}, fill="tozeroy",
        fillcolor=_translucent(theme.STATUS["failed"], 0.35),
        customdata=_serving(weekly),
        hovertemplate="in production: %{customdata}<br>error rate %{y:.1f} %<extra></extra>",
    ), row=rows["service_health"], col=1, secondary_y=False)  # fmt: skip
    fig.add_trace(go.Scatter(
        x=x, y=weekly["latency_p95_ms"], name="p95 latency (ms)", mode="lines",
        line={"color": theme.LIFECYCLE["devops"], "width": 2},
        hovertemplate="p95 latency %{y:.0f} ms<extra></extra>",
    ), row=rows["service_health"], col=1, secondary_y=True)  # fmt: skip
    name, value = (metric.label, f"%{{y:{metric.spec}}}") if metric else ("quality", "%{y:.4g}")
    fig.add_trace(go.Scatter(
        x=x, y=weekly["quality_never_retrained"], name=f"never retrained ({name})", mode="lines",
        line={"color": theme.NEVER_RETRAINED, "width": 2, "dash": "dash"},
        hovertemplate=f"never retrained {name} {value}<extra></extra>",
    ), row=rows["model_quality"], col=1)  # fmt: skip
    fig.add_trace(go.Scatter(
        x=x, y=weekly["quality"], name=f"production model ({name})", mode="lines",
        line={"color": theme.LIFECYCLE["mlops"], "width": 3},
        hovertemplate=f"production {name} {value}<extra></extra>",
    ), row=rows["model_quality"], col=1)  # fmt: skip
    if "quality_estimated" in weekly and weekly["quality_estimated"].notna().any():
        fig.add_trace(go.Scatter(
            x=x, y=weekly["quality_estimated"], name=f"production, estimated ({name})", mode="lines",
            line={"color": theme.LIFECYCLE["mlops"], "width": 2, "dash": "dash"},
            hovertemplate=f"estimated {name} {value}<extra></extra>",
        ), row=rows["model_quality"], col=1)  # fmt: skip
    fig.add_trace(go.Scatter(
        x=x, y=weekly["drift_share"], name="drift share", mode="lines",
        line={"color": theme.DRIFT, "width": 1.5, "shape": "hv"}, fill="tozeroy",
        fillcolor=_translucent(theme.DRIFT, 0.25),
        hovertemplate="%{y:.0%} of features drifted<extra></extra>",
    ), row=rows["drift_share"], col=1)  # fmt: skip
    fig.add_hline(y=drift_line, line={"color": theme.DRIFT, "dash": "dot", "width": 1.5},
                  annotation_text=f"dataset drift ≥ {drift_line:.0%}", annotation_position="top left",
                  annotation_font={"color": theme.DRIFT, "size": 11},
                  annotation_bgcolor="rgba(255, 255, 255, 0.8)",
                  row=rows["drift_share"], col=1)  # fmt: skip


def _share_one_x_axis(fig: go.Figure, bottom_y: str) -> None:
    """Put every trace on the one x axis `x` so a hover shows all lanes at that week.

    make_subplots gives each row its own (matched) x axis, and plotly's `hoversubplots="axis"` only
    links subplots that literally share an axis (plotly.py issue 4603), so the rows are re-pointed.
    """
    layout = fig.layout
    for trace in fig.data:
        trace.xaxis = "x"
    for name in list(layout.to_plotly_json()):
        if name.startswith("yaxis"):
            layout[name].anchor = "x"
        elif name.startswith("xaxis") and name != "xaxis":
            layout[name].visible = False
            layout[name].matches = None
    for item in (*layout.shapes, *layout.annotations):
        ref = str(item.xref or "")
        if ref.startswith("x"):  # "x5" -> "x", "x5 domain" -> "x domain"
            item.xref = "x domain" if ref.endswith("domain") else "x"
    layout.xaxis.anchor = bottom_y


def quality_reading(weekly: pd.DataFrame) -> str:
    """How to read the model-quality lines, in the metric the weeks record and its stored direction."""
    metric = weekly_metric(weekly)
    name, better = (metric.label, metric.direction_text) if metric else ("quality", "")
    return (
        f"orange line: the production model's {name}, orange dashed: the same estimated before its labels "
        f"arrive, grey dashed: the same model never retrained "
        f"({better + '; ' if better else ''}the gap is what retraining bought)"
    )


def timeline_figure(
    weekly: pd.DataFrame,
    events: pd.DataFrame,
    incidents: pd.DataFrame | None = None,
    *,
    drift_line: float = 0.5,
    height: int = 980,
    density: pd.DataFrame | None = None,
) -> go.Figure:
    """The signature chart: DevOps lane (deploys, failed pipelines, incidents, error rate, p95 latency)
    above the MLOps lane (retrains by trigger, production quality vs never retrained, drift share),
    all on the scenario clock, hover linked across lanes, a range slider on the bottom axis.

    `density` (lane, event, bucket, count, detail) draws the kinds of marker too many to draw one by
    one as a marker per week sized by its count (`pipelines.store.pages_sql.timeline_density`). Such
    a history has no range slider: it draws every trace a second time (a second of Chromium's time
    at 100k runs); dragging across the chart zooms instead (`density_note` says so)."""
    if weekly is None or weekly.empty:
        raise ValueError("the timeline needs at least one week of history (the weekly table is empty)")
    metric = weekly_metric(weekly)
    titles = (
        "<b>DevOps</b> · deploys, failed pipelines, incidents",
        "<b>DevOps</b> · service health: weekly error rate (%, left) and p95 latency (ms, right)",
        "<b>MLOps</b> · retrains, coloured by trigger",
        f"<b>MLOps</b> · production model quality: weekly {metric.title if metric else 'quality'}",
        "<b>MLOps</b> · drift: share of features that drifted this week",
    )
    fig = make_subplots(
        rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.045, subplot_titles=titles,
        row_heights=[0.12, 0.21, 0.12, 0.3, 0.2],
        specs=[[{}], [{"secondary_y": True}], [{}], [{}], [{}]],
    )  # fmt: skip
    for note, lane in zip(
        fig.layout.annotations, ("devops", "devops", "mlops", "mlops", "mlops"), strict=True
    ):
        note.font = {"color": theme.lifecycle_colour(lane), "size": 13}
        note.x, note.xanchor = 0, "left"

    events = events if events is not None else pd.DataFrame(columns=EVENT_COLUMNS)
    devops_blue, mlops_orange, failed = (
        theme.LIFECYCLE["devops"],
        theme.LIFECYCLE["mlops"],
        theme.STATUS["failed"],
    )
    strip = LANE_ROWS["devops_events"]
    for event, name, y, symbol, colour, fill in (
        ("release", "release deployed", "deploy", theme.MARKER["release"], devops_blue, None),
        ("rollback", "rollback", "deploy", theme.MARKER["rollback"], devops_blue, "#FFFFFF"),
        ("failed", "pipeline failed", "failed run", theme.MARKER["failed"], failed, None),
        ("incident", "incident (shaded while open)", "incident", theme.MARKER["incident"], failed, None),
    ):
        rows = events[(events["lane"] == "devops") & (events["event"] == event)]
        if not rows.empty:
            fig.add_trace(_markers(rows, name=name, y=y, symbol=symbol, colour=colour, line=colour, fill=fill),
                                   row=strip, col=1)  # fmt: skip

    has_density = density is not None and not density.empty
    for trace in _density_markers(density, "devops") if has_density else []:
        fig.add_trace(trace, row=strip, col=1)

    strip = LANE_ROWS["mlops_events"]
    for trace in _density_markers(density, "mlops") if has_density else []:
        fig.add_trace(trace, row=strip, col=1)
    retrains = events[(events["lane"] == "mlops") & (events["event"] == "retrain")]
    for trigger, rows in retrains.groupby("trigger", sort=False):
        fill = TRIGGER_FILL.get(str(trigger), mlops_orange)
        fig.add_trace(_markers(rows, name=training_name(str(trigger)), y="retrain",
                               symbol=theme.MARKER["retrain"], colour=mlops_orange, line=mlops_orange, fill=fill,
                               ), row=strip, col=1)  # fmt: skip
    for event, name, y, symbol in (
        ("failed", "retrain failed", "failed run", theme.MARKER["failed"]),
        ("incident", "model incident", "incident", theme.MARKER["incident"]),
    ):
        rows = events[(events["lane"] == "mlops") & (events["event"] == event)]
        if not rows.empty:
            fig.add_trace(_markers(rows, name=name, y=y, symbol=symbol, colour=failed, line=failed,
                                   ), row=strip, col=1)  # fmt: skip

    _week_lines(fig, weekly, metric, drift_line)

    end = pd.to_datetime(weekly["sim_time"]).max()
    if incidents is not None and not incidents.empty:
        # One band per span of open incidents (overlapping ones merged), all set at once: plotly's
        # add_shape copies the layout each time, so hundreds of incidents took minutes one by one.
        bands = [dict(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, fillcolor=failed,
                      opacity=0.12, line_width=0, layer="below") for x0, x1 in _open_spans(incidents, end)]  # fmt: skip
        fig.layout.shapes = (*fig.layout.shapes, *bands)

    fig.update_yaxes(type="category", categoryorder="array", categoryarray=DEVOPS_STRIP, fixedrange=True,
                     range=[-0.6, len(DEVOPS_STRIP) - 0.4], row=LANE_ROWS["devops_events"], col=1)  # fmt: skip
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=MLOPS_STRIP, fixedrange=True,
                     range=[-0.6, len(MLOPS_STRIP) - 0.4], row=LANE_ROWS["mlops_events"], col=1)  # fmt: skip
    fig.update_yaxes(title_text="error %", rangemode="tozero", row=LANE_ROWS["service_health"], col=1,
                     secondary_y=False)  # fmt: skip
    fig.update_yaxes(title_text="p95 ms", rangemode="tozero", showgrid=False, tickmode="auto", row=LANE_ROWS["service_health"], col=1,
                     secondary_y=True)  # fmt: skip
    fig.update_yaxes(title_text=metric.label if metric else "quality", row=LANE_ROWS["model_quality"], col=1)
    fig.update_yaxes(
        title_text="share", tickformat=".0%", range=[0, 1.05], row=LANE_ROWS["drift_share"], col=1
    )

    theme.apply(fig, height=height)
    bottom_y = fig.get_subplot(LANE_ROWS["drift_share"], 1).yaxis.plotly_name.replace("axis", "")
    with fig.batch_update():  # one relayout instead of one per property: the builder is 2x faster
        _share_one_x_axis(fig, bottom_y)
    fig.update_layout(
        hovermode="x unified",
        hoversubplots="axis",
        hoverdistance=12,
        spikedistance=-1,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.035, "x": 0, "font": {"size": 12}},
        xaxis={
            "title": {"text": "scenario time (sim clock)"},
            "showticklabels": True,
            "showspikes": True, "spikemode": "across", "spikesnap": "cursor", "spikethickness": 1,
            "spikecolor": "#666666", "spikedash": "dot",
            "rangeslider": {"visible": density is None or density.empty, "thickness": 0.04},
            "rangeselector": {
                "buttons": [
                    {"count": 3, "label": "3 m", "step": "month", "stepmode": "backward"},
                    {"count": 6, "label": "6 m", "step": "month", "stepmode": "backward"},
                    {"count": 1, "label": "1 y", "step": "year", "stepmode": "backward"},
                    {"label": "all", "step": "all"},
                ],
                "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
            },
        },
    )  # fmt: skip
    return fig


def clicked_run(selection: Mapping[str, Any] | None) -> str | None:
    """The run id of the first clicked marker that carries one (lines carry none)."""
    points = (selection or {}).get("selection", {}).get("points", []) if selection else []
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, list):
            custom = custom[0] if custom else None
        if isinstance(custom, str) and custom:
            return custom
    return None
