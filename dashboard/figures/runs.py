"""A run as GitHub Actions and MLflow show one: its steps on a time axis (Gantt), its parameters, a
pipeline's duration percentiles and success rate over time, and two runs side by side.

Pure builders (no Streamlit), shared by the DevOps and MLOps pages; one colour grammar (dashboard.theme).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler
from plotly.subplots import make_subplots

from dashboard import theme
from pipelines.runner import flat_params

__all__ = [
    "DIFFERS",
    "compare_frame",
    "compare_styler",
    "gantt_figure",
    "params_by_run",
    "params_frame",
    "run_metrics",
    "trends_figure",
]

DIFFERS = "≠"
_LONG = 120  # a compared value longer than this is cut (a list of failing tests, say)
_ISO_MINUTE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::00(?:\.0+)?)?$")


def _ms_text(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "–"
    if value >= 60_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def gantt_figure(steps: Sequence[Mapping[str, Any]] | pd.DataFrame, run_started_at: Any = None) -> go.Figure:
    """A run's steps on its wall-clock time axis, top to bottom in pipeline order: each bar starts
    when its step started (seconds after the run started) and lasts as long as it ran, coloured by
    status. A step that never ran (skipped after a failure) has no bar, only its label."""
    frame = pd.DataFrame(list(steps) if not isinstance(steps, pd.DataFrame) else steps)
    if frame.empty or "name" not in frame.columns:
        raise ValueError("gantt_figure needs the run's steps (name, status, started_at, duration_ms)")
    frame = frame.sort_values("position") if "position" in frame.columns else frame
    started = pd.to_datetime(frame.get("started_at"), errors="coerce")
    origin = pd.Timestamp(run_started_at) if run_started_at is not None else started.min()
    if pd.isna(origin):
        origin = started.min()
    offset_s = (started - origin).dt.total_seconds().clip(lower=0)
    duration_s = pd.to_numeric(frame.get("duration_ms"), errors="coerce") / 1000
    frame = frame.assign(offset_s=offset_s, duration_s=duration_s)
    order = list(frame["name"])
    # Every step gets its row, the ones that never ran too (a category axis shows only what is drawn).
    fig = go.Figure(go.Scatter(x=[0] * len(order), y=order, mode="markers", marker={"opacity": 0},
                               showlegend=False, hoverinfo="skip"))  # fmt: skip
    for status, group in frame.groupby("status", sort=False):
        ran = group[group["offset_s"].notna() & group["duration_s"].notna()]
        fig.add_trace(go.Bar(
            name=str(status), y=ran["name"], x=ran["duration_s"], base=ran["offset_s"], orientation="h",
            marker={"color": theme.status_colour(str(status)), "line": {"color": "#FFFFFF", "width": 1}},
            text=[_ms_text(d * 1000) for d in ran["duration_s"]], textposition="outside", cliponaxis=False,
            customdata=ran["offset_s"],
            hovertemplate="<b>%{y}</b>: " + str(status) + " in %{text}<br>started %{customdata:.2f} s "
                          "after the run<extra></extra>",
        ))  # fmt: skip
    end = float((frame["offset_s"] + frame["duration_s"]).max(skipna=True) or 0.0)
    end = end if end > 0 else 1.0
    for row in frame[frame["offset_s"].isna() | frame["duration_s"].isna()].itertuples():
        fig.add_annotation(x=0, y=row.name, text=f"{row.status}: never ran", showarrow=False,
                           xanchor="left", font={"color": theme.status_colour(str(row.status))})  # fmt: skip
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], title=None, type="category")
    fig.update_xaxes(title="seconds into the run (wall clock)", range=[0, end * 1.18])
    theme.apply(fig, height=110 + 34 * len(order))
    fig.update_layout(barmode="overlay", bargap=0.3, legend_title_text="status")
    return fig


def trends_figure(trends: pd.DataFrame, kind: str, bucket_weeks: int) -> go.Figure:
    """One pipeline's runs over the scenario: p50 and p95 wall-clock duration (top) and the share
    of finished runs that succeeded (bottom), per bucket of `bucket_weeks` weeks."""
    rows = trends[trends["kind"] == kind] if trends is not None and not trends.empty else None
    if rows is None or rows.empty:
        raise ValueError(f"no finished {kind} runs to draw")
    colour = theme.lifecycle_colour(kind)
    span = "week" if bucket_weeks == 1 else f"{bucket_weeks} weeks"
    length = pd.Timedelta(weeks=bucket_weeks)
    start = pd.to_datetime(rows["bucket"])
    middle = start + length / 2  # a bucket's figures sit in its middle, its bar spans it
    counts = [
        f"{when:%d %b %Y}: {s} of {n} runs succeeded"
        for when, s, n in zip(start, rows["succeeded"], rows["runs"], strict=True)
    ]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.6, 0.4])
    for column, name, dash in (("p50_ms", "p50 duration", "solid"), ("p95_ms", "p95 duration", "dash")):
        fig.add_trace(go.Scatter(
            x=middle, y=rows[column] / 1000, name=name, mode="lines+markers",
            line={"color": colour, "dash": dash, "width": 2}, customdata=counts,
            hovertemplate=f"{span} from %{{customdata}}<br>{name}: %{{y:.2f}} s<extra></extra>",
        ), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Bar(
        x=start, y=rows["success_rate"] * 100, name="success rate", offset=0,
        width=length.total_seconds() * 1000 * 0.92,  # ms on a date axis
        marker_color=theme.STATUS["succeeded"], customdata=counts,
        hovertemplate=f"{span} from %{{customdata}}<br>success rate %{{y:.0f}}%<extra></extra>",
    ), row=2, col=1)  # fmt: skip
    fig.update_yaxes(title_text="duration (s)", rangemode="tozero", nticks=5, row=1, col=1)
    fig.update_yaxes(title_text="succeeded (%)", range=[0, 105], row=2, col=1)
    fig.update_xaxes(type="date", range=[start.min(), start.max() + length])
    fig.update_xaxes(title_text=f"scenario time, per {span}", row=2, col=1)
    theme.apply(fig, height=440)
    fig.update_layout(bargap=0.15)
    return fig


def params_by_run(params: pd.DataFrame) -> dict[str, dict[str, str | None]]:
    """Long rows (run_id, key, value) -> {run_id: {key: value}}."""
    if params is None or params.empty:
        return {}
    out: dict[str, dict[str, str | None]] = {}
    for run_id, key, value in params[["run_id", "key", "value"]].itertuples(index=False):
        out.setdefault(str(run_id), {})[str(key)] = None if pd.isna(value) else str(value)
    return out


def params_frame(params: Mapping[str, str | None]) -> pd.DataFrame:
    """A run's parameters as a two-column table, keys in order."""
    keys = sorted(params)
    return pd.DataFrame({"parameter": keys, "value": [_shown(params[k]) for k in keys]})


def _shown(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = _ISO_MINUTE.sub(r"\1 \2", value)  # 2011-04-04T00:00:00 reads 2011-04-04 00:00
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _LONG else text[: _LONG - 1] + "…"


def run_metrics(run: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """What a run measured, flat as MLflow lists metrics: its outcome and duration, each step's
    status and duration, and each step's recorded metrics as `step.metric`."""
    out = {"status": _shown(run.get("status")), "duration": _ms_text(run.get("duration_ms"))}
    for step in sorted(steps, key=lambda s: s.get("position", 0)):
        name = step["name"]
        out[f"{name}.status"] = _shown(step.get("status"))
        out[f"{name}.duration"] = _ms_text(step.get("duration_ms"))
        metrics = step.get("metrics") or {}
        for key, value in flat_params(metrics, f"{name}.").items():
            out[key] = _shown(_number(value))
    return out


def _number(text: str | None) -> Any:
    """flat_params keeps numbers as JSON text: read them back so 57.04950704513178 shows as 57.0495."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def compare_frame(
    a: Mapping[str, Any], b: Mapping[str, Any], *, only_differences: bool = False
) -> pd.DataFrame:
    """Two runs' values side by side, one row per key either has, in the first run's order then the
    second's; `≠` marks a row whose values differ (a key one run lacks differs too)."""
    keys = list(dict.fromkeys([*a, *b]))
    frame = pd.DataFrame({
        "key": keys,
        "run A": [_shown(a.get(k)) for k in keys],
        "run B": [_shown(b.get(k)) for k in keys],
    })  # fmt: skip
    frame.insert(
        1, DIFFERS, ["≠" if x != y else "" for x, y in zip(frame["run A"], frame["run B"], strict=True)]
    )
    if only_differences:
        frame = frame[frame[DIFFERS] == DIFFERS].reset_index(drop=True)
    return frame


def compare_styler(frame: pd.DataFrame) -> Styler:
    """The comparison with differing rows highlighted (the `≠` column says the same without colour)."""
    highlight = f"background-color: {theme.STATUS['running']}55"

    def paint(row: pd.Series) -> list[str]:
        return [highlight if row[DIFFERS] == DIFFERS else "" for _ in row]

    return frame.style.apply(paint, axis=1)
