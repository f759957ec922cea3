"""Figures of the Overview: pure `DataFrame -> Figure` builders (no Streamlit here)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures import MAX_MARKERS, last_of_each_week

__all__ = [
    "assets_over_time",
    "lifecycle_loops",
    "loop_counts",
    "monitoring_signals",
    "tested_what",
    "triggers",
]

DEVOPS_LOOP = ("commit", "checkout", "build", "test", "deploy", "operate", "monitor")
MLOPS_LOOP = ("data", "ingest", "validate", "train", "evaluate", "register", "deploy", "monitor")


def lifecycle_loops(step_counts: pd.DataFrame) -> go.Figure:
    """The two lifecycles as loops; each stage annotated with how often it ran and failed.

    `step_counts` has columns kind, name, runs, failed (from the steps of the workspace).
    """
    fig = go.Figure()
    counts = {(r.kind, r.name): (int(r.runs), int(r.failed)) for r in step_counts.itertuples()}
    for offset, (kind, loop) in enumerate((("devops", DEVOPS_LOOP), ("mlops", MLOPS_LOOP))):
        cx = offset * 3.0
        n = len(loop)
        xs = [cx + math.cos(math.pi / 2 - 2 * math.pi * i / n) for i in range(n)]
        ys = [math.sin(math.pi / 2 - 2 * math.pi * i / n) for i in range(n)]
        colour = theme.lifecycle_colour(kind)
        fig.add_trace(go.Scatter(x=[*xs, xs[0]], y=[*ys, ys[0]], mode="lines", line={"color": colour, "width": 3},
                                 hoverinfo="skip", showlegend=False))  # fmt: skip
        labels, hovers = [], []
        for name in loop:
            runs, failed = counts.get((kind, name), (0, 0))
            labels.append(f"{name}<br>{runs}×" if runs else name)
            hovers.append(f"{kind} {name}: ran {runs} times, failed {failed}" if runs else f"{kind} {name}")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="markers+text", text=labels, textposition="middle center",
            marker={"size": 54, "color": "white", "line": {"color": colour, "width": 3}},
            hovertext=hovers, hoverinfo="text", name="DevOps: code" if kind == "devops" else "MLOps: model + data",
            textfont={"size": 11},
        ))  # fmt: skip
        fig.add_annotation(x=cx, y=0, text="DevOps<br>ships code" if kind == "devops" else "MLOps<br>ships models",
                           showarrow=False, font={"size": 15, "color": colour})  # fmt: skip
    fig.update_xaxes(visible=False, range=[-1.5, 4.5])
    fig.update_yaxes(visible=False, range=[-1.35, 1.35], scaleanchor="x")
    return theme.apply(fig, height=360)


def assets_over_time(deployments: pd.DataFrame) -> go.Figure:
    """What is shipped: releases of code vs versions of the model, cumulative over scenario time.
    More deploys of a kind than MAX_MARKERS draw the count at each week's last one (still exact
    there), whose hover says how many the week had."""
    fig = go.Figure()
    for kind, name in (("release", "code releases (DevOps)"), ("model", "model versions deployed (MLOps)")):
        rows = deployments.loc[(deployments["kind"] == kind) & ~deployments["unplanned"].astype(bool)]
        rows = rows.sort_values("sim_time").assign(cumulative=range(1, len(rows) + 1))
        lifecycle = "devops" if kind == "release" else "mlops"
        weekly = len(rows) > MAX_MARKERS
        if weekly:
            rows = last_of_each_week(rows)
            hover = [f"{ref} · {n} this week" for ref, n in zip(rows["ref"], rows["week_count"], strict=True)]
        fig.add_trace(go.Scatter(
            x=rows["sim_time"], y=rows["cumulative"], line_shape="hv", name=name,
            mode="lines" if weekly else "lines+markers",
            marker={"symbol": theme.MARKER["release" if kind == "release" else "retrain"], "size": 8},
            line={"color": theme.lifecycle_colour(lifecycle)}, hovertext=hover if weekly else rows["ref"],
            hoverinfo="x+y+text",
        ))  # fmt: skip
    fig.update_yaxes(title="cumulative deploys")
    fig.update_xaxes(title="scenario time")
    return theme.apply(fig, height=280)


def _counted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`frame` counted by `by` into a `runs` column: rows are counted, or their `runs` summed when
    the frame is already counted in SQL (a big history's pages read counts, not rows)."""
    if "runs" in frame:
        return frame.groupby(by, as_index=False)["runs"].sum()
    return frame.groupby(by).size().reset_index(name="runs")


def loop_counts(step_counts: pd.DataFrame) -> pd.DataFrame:
    """kind, name, runs, failed for `lifecycle_loops` from kind, name, status, runs (or step rows)."""
    counted = _counted(step_counts, ["kind", "name", "status"])
    counted["failed"] = counted["runs"].where(counted["status"] == "failed", 0)
    return counted.groupby(["kind", "name"], as_index=False)[["runs", "failed"]].sum()


def triggers(runs: pd.DataFrame) -> go.Figure:
    """What triggers change: commits for code; schedule, drift or quality decay for models. `runs`
    has a row per run, or kind, trigger and their `runs` counted."""
    counts = _counted(runs, ["kind", "trigger"])
    fig = go.Figure()
    for kind in ("devops", "mlops"):
        rows = counts.loc[counts["kind"] == kind]
        fig.add_trace(
            go.Bar(x=rows["trigger"], y=rows["runs"], name=kind, marker_color=theme.lifecycle_colour(kind))
        )
    fig.update_yaxes(title="pipeline runs")
    return theme.apply(fig, height=280)


def tested_what(steps: pd.DataFrame) -> go.Figure:
    """What is tested: the service's test suite (functionality) vs data validation and the model gate.
    `steps` has a row per step, or kind, name, status and their `runs` counted."""
    wanted = steps.loc[
        ((steps["kind"] == "devops") & (steps["name"] == "test"))
        | ((steps["kind"] == "mlops") & steps["name"].isin(["validate", "evaluate"]))
    ]
    counts = _counted(wanted, ["kind", "name", "status"])
    fig = go.Figure()
    for status in ("succeeded", "cached", "failed", "skipped"):
        rows = counts.loc[counts["status"] == status]
        if rows.empty:
            continue
        labels = rows["kind"] + " " + rows["name"]
        fig.add_trace(go.Bar(x=labels, y=rows["runs"], name=status, marker_color=theme.status_colour(status)))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="step runs")
    return theme.apply(fig, height=280)


def monitoring_signals(weekly: pd.DataFrame) -> go.Figure:
    """What is monitored: the service's error rate vs the model's drift share, week by week."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=weekly["sim_time"], y=weekly["error_rate"], name="service error rate (DevOps)",
                             line={"color": theme.lifecycle_colour("devops")}))  # fmt: skip
    fig.add_trace(go.Scatter(x=weekly["sim_time"], y=weekly["drift_share"], name="features drifted (MLOps)",
                             line={"color": theme.lifecycle_colour("mlops")}))  # fmt: skip
    fig.update_yaxes(title="share", tickformat=".0%", range=[0, 1.05])
    fig.update_xaxes(title="scenario time")
    return theme.apply(fig, height=280)
