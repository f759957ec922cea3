"""DevOps page figures and tables: pure DataFrame -> Figure / DataFrame functions (no Streamlit).

One colour grammar (dashboard.theme): DevOps blue for the pipeline's own lines, status colours for
outcomes (the same in both lifecycles).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard import theme

__all__ = [
    "STATUS_ICON",
    "artifacts_frame",
    "deployments_frame",
    "duration_trend_figure",
    "format_ms",
    "incidents_frame",
    "run_choice_label",
    "runs_frame",
    "step_title",
]

STATUS_ICON = {
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "–",
    "cached": "↺",
    "running": "…",
    "interrupted": "⏸",
}


def format_ms(value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s" if value < 60_000 else f"{value / 60_000:.1f} min"


def _steps_text(steps: Any) -> str:
    """['checkout:succeeded', 'test:failed', ...] -> '✓ checkout → ✗ test'."""
    if steps is None or steps is pd.NA or (isinstance(steps, float) and pd.isna(steps)):
        return ""  # a run without steps (an imported run whose jobs were not read)
    parts = []
    for item in list(steps):
        name, _, status = str(item).rpartition(":")  # a name may hold a colon; a status never does
        parts.append(f"{STATUS_ICON.get(status, '?')} {name}")
    return " → ".join(parts)


def runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table as people read it, newest first (the order `runs` comes in)."""
    columns = ["sim time", "change", "trigger", "status", "steps", "duration (s)", "run id"]
    if runs is None or runs.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({
        "sim time": pd.to_datetime(runs["sim_time"]),
        "change": runs["label"].fillna(""),
        "trigger": runs["trigger"],
        "status": [f"{STATUS_ICON.get(s, '')} {s}" for s in runs["status"]],
        "steps": [_steps_text(s) for s in runs["steps"]],
        "duration (s)": (runs["duration_ms"] / 1000).round(2),
        "run id": runs["run_id"],
    })  # fmt: skip


def run_choice_label(run: Mapping[str, Any]) -> str:
    when = pd.Timestamp(run["sim_time"]).strftime("%Y-%m-%d") if not pd.isna(run["sim_time"]) else "?"
    return (
        f"{when} · {STATUS_ICON.get(run['status'], '')} {run['status']} · {run.get('label') or run['run_id']}"
    )


def step_title(step: Mapping[str, Any]) -> str:
    """'✓ build: succeeded in 11 ms', or '– deploy: skipped' when the step never ran."""
    status = str(step.get("status", ""))
    took = step.get("duration_ms")
    when = "" if took is None or pd.isna(took) else f" in {format_ms(took)}"
    return f"{STATUS_ICON.get(status, '')} {step['name']}: {status}{when}"


def duration_trend_figure(runs: pd.DataFrame, steps: pd.DataFrame | None = None) -> go.Figure:
    """Each pipeline run's wall-clock duration against its scenario time, marker coloured by status;
    the hover breaks the duration down by step."""
    if runs is None or runs.empty:
        raise ValueError("no DevOps runs to draw")
    runs = runs.sort_values("sim_time")
    breakdown: dict[str, str] = {}
    if steps is not None and not steps.empty:
        for run_id, group in steps.sort_values("position").groupby("run_id", sort=False):
            breakdown[str(run_id)] = "<br>".join(
                f"{n}: {format_ms(d)}" for n, d in zip(group["name"], group["duration_ms"], strict=True)
            )
    hover = [
        f"<b>{str(label)[:70]}</b><br>{status} in {format_ms(ms)}<br>{breakdown.get(run_id, '')}"
        for label, status, ms, run_id in zip(runs["label"], runs["status"], runs["duration_ms"], runs["run_id"],
                                              strict=True)
    ]  # fmt: skip
    fig = go.Figure(go.Scatter(
        x=runs["sim_time"], y=runs["duration_ms"] / 1000, mode="lines+markers", name="pipeline duration",
        line={"color": theme.LIFECYCLE["devops"], "width": 2},
        marker={"size": 11, "color": [theme.status_colour(s) for s in runs["status"]],
                "line": {"color": "#FFFFFF", "width": 1}},
        customdata=runs["run_id"], hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(title_text="scenario time (sim clock)")
    fig.update_yaxes(title_text="duration (s, wall clock)", rangemode="tozero")
    theme.apply(fig, height=320)
    fig.update_layout(showlegend=False)
    return fig


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def deployments_frame(deployments: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Production releases, newest first: what shipped, why, and what became of it."""
    columns = ["sim time", "release", "change", "kind", "outcome", "replaced at", "run id"]
    if deployments is None or deployments.empty:
        return pd.DataFrame(columns=columns)
    rows = deployments[deployments["kind"] == "release"].sort_values("sim_time", ascending=False)
    label = (
        dict(zip(runs["run_id"], runs["label"], strict=False)) if runs is not None and not runs.empty else {}
    )
    return pd.DataFrame({
        "sim time": pd.to_datetime(rows["sim_time"]),
        "release": rows["ref"],
        "change": [label.get(r, "") or _text(reason) for r, reason in zip(rows["run_id"], rows["reason"], strict=True)],
        "kind": ["unplanned (rollback)" if u else "planned" for u in rows["unplanned"]],
        "outcome": ["rolled back" if rb else ("replaced" if _text(rep) else "live")
                    for rb, rep in zip(rows["rolled_back"], rows["replaced_by"], strict=True)],
        "replaced at": pd.to_datetime(rows["replaced_sim_time"]),
        "run id": rows["run_id"].fillna(""),
    })  # fmt: skip


def incidents_frame(incidents: pd.DataFrame, kind: str = "service") -> pd.DataFrame:
    columns = ["opened", "resolved", "lasted (h)", "cause", "detected by", "summary", "status"]
    if incidents is None or incidents.empty:
        return pd.DataFrame(columns=columns)
    rows = incidents[incidents["kind"] == kind]
    opened, resolved = pd.to_datetime(rows["opened_sim_time"]), pd.to_datetime(rows["resolved_sim_time"])
    return pd.DataFrame({
        "opened": opened, "resolved": resolved,
        "lasted (h)": ((resolved - opened).dt.total_seconds() / 3600).round(1),
        "cause": rows["cause"], "detected by": rows["detected_by"], "summary": rows["summary"], "status": rows["status"],
    })  # fmt: skip


def artifacts_frame(artifacts: pd.DataFrame) -> pd.DataFrame:
    columns = ["step", "kind", "file", "size (KB)", "sha256"]
    if artifacts is None or artifacts.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({
        "step": artifacts["step"], "kind": artifacts["kind"],
        "file": [str(p).replace("\\", "/").rsplit("/", 1)[-1] for p in artifacts["path"]],
        "size (KB)": (artifacts["size_bytes"] / 1024).round(1), "sha256": artifacts["sha256"],
    })  # fmt: skip
