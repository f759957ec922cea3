"""Figures of the MLOps page: pure `DataFrame -> Figure` builders, no Streamlit (STYLE.md 6).

One colour grammar (dashboard.theme): MLOps is orange, a status has its usual colour, a retrain is
always a diamond and the never-retrained counterfactual is the grey dashed line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures import MAX_MARKERS, last_of_each_week
from pipelines.quality import Metric, recorded_metric

__all__ = [
    "PIPELINE_STEPS",
    "champion_figure",
    "gate_card",
    "gate_figure",
    "gate_metric",
    "moves_table",
    "quality_figure",
    "registry_table",
    "runs_table",
    "steps_summary",
    "weekly_metric",
]

PIPELINE_STEPS = ("ingest", "validate", "train", "evaluate", "register", "deploy")


def _first(frame: pd.DataFrame, column: str) -> str | None:
    if column not in frame.columns or not frame[column].notna().any():
        return None
    return str(frame[column].dropna().iloc[0])


def weekly_metric(weekly: pd.DataFrame) -> Metric | None:
    """The quality metric the weekly rows record, judged the way they say (`quality_direction`)."""
    return recorded_metric(_first(weekly, "quality_metric"), _first(weekly, "quality_direction"))


def gate_metric(evaluate_metrics: Mapping[str, Any]) -> Metric | None:
    """The metric the evaluate step's gate used, judged the way the step recorded (`gate_direction`)."""
    return recorded_metric(evaluate_metrics.get("gate_metric"), evaluate_metrics.get("gate_direction"))


def gate_card(evaluate_metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The champion's `st.metric` arguments: its value, and the challenger's difference coloured
    green when the challenger is better (so `inverse` when lower is better). None without a champion."""
    metric = gate_metric(evaluate_metrics)
    if metric is None:
        return None
    challenger = evaluate_metrics.get(metric.name)
    champion = evaluate_metrics.get(f"champion_{metric.name}")
    if challenger is None or champion is None:
        return None
    return {
        "label": f"champion v{evaluate_metrics.get('champion_version')} {metric.name}",
        "value": f"{champion:.4g}",
        # The delta stays a number, so it fits a projector's half column; its meaning is the help.
        "delta": f"{challenger - champion:+.4g}",
        "delta_color": "inverse" if metric.lower_is_better else "normal",
        "help": "The delta is challenger − champion, both on the same holdout.",
    }


def gate_figure(evaluate_metrics: Mapping[str, Any]) -> go.Figure:
    """The promotion gate: challenger vs champion on the same holdout, with the bar it had to clear."""
    metric = gate_metric(evaluate_metrics)
    challenger = evaluate_metrics.get(metric.name) if metric else None
    if metric is None or challenger is None:
        raise ValueError(
            "gate_figure needs the evaluate step's metrics (gate_metric, its direction and value)"
        )
    champion = evaluate_metrics.get(f"champion_{metric.name}")
    margin = float(evaluate_metrics.get("gate_margin") or 0.0)
    promoted = evaluate_metrics.get("gate_decision") == "promote"
    names = ["challenger"]
    values = [float(challenger)]
    colours = [theme.LIFECYCLE["mlops"]]
    version = evaluate_metrics.get("champion_version")
    if champion is not None:
        names.append(f"champion v{version}" if version is not None else "champion")
        values.append(float(champion))
        colours.append(theme.NEVER_RETRAINED)
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{v:.4g}" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
            showlegend=False,
        )
    )
    if champion is not None:
        needed = metric.target(float(champion), margin)
        fig.add_vline(
            x=needed,
            line_dash="dot",
            line_color=theme.STATUS["succeeded"] if promoted else theme.STATUS["failed"],
            annotation_text=f"needs {metric.relation} {needed:.4g}",
            annotation_position="top",
        )
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1])
    fig.update_xaxes(title=metric.title, range=[0, max(values) * 1.25])  # both on one holdout (the caption)
    theme.apply(fig, height=190)
    fig.update_layout(margin={"t": 30})
    return fig


def champion_figure(moves: pd.DataFrame, end: pd.Timestamp | None = None) -> go.Figure:
    """Which version was champion over sim time (a step line), with every newly trained challenger.

    Each version that became champion (the first model, a promoted retrain, a rollback) is a filled
    diamond on the champion line; a challenger the gate kept out is an open grey diamond at its own
    version. More diamonds of a kind than MAX_MARKERS draw one a week (`_version_markers`).
    """
    if moves.empty or not {"alias", "version", "sim_time"} <= set(moves.columns):
        raise ValueError("champion_figure needs the alias moves (alias, version, sim_time)")
    # an alias removed (MLflow: pointing nowhere since the last import) draws no version
    moves = moves.dropna(subset=["version"]).sort_values("sim_time", kind="stable")
    champion = moves.loc[moves["alias"] == "champion"]
    challengers = moves.loc[moves["alias"] == "challenger"]
    promoted = set(champion["version"].astype(int))
    fig = go.Figure()
    if not champion.empty:
        times = list(champion["sim_time"])
        versions = list(champion["version"].astype(int))
        if end is not None and pd.Timestamp(end) > times[-1]:
            times.append(pd.Timestamp(end))
            versions.append(versions[-1])
        fig.add_trace(
            go.Scatter(
                name="champion",
                x=times,
                y=versions,
                mode="lines",
                line={"shape": "hv", "color": theme.LIFECYCLE["mlops"], "width": 3},
                hovertemplate="%{x|%Y-%m-%d}: champion v%{y}<extra></extra>",
            )
        )
        fig.add_trace(_version_markers(champion, "became champion", theme.MARKER["retrain"],
                                       theme.LIFECYCLE["mlops"], "became champion"))  # fmt: skip
    kept = challengers.loc[~challengers["version"].astype(int).isin(promoted)]
    if not kept.empty:
        fig.add_trace(_version_markers(kept, "kept out by the gate", theme.MARKER["retrain"] + "-open",
                                       theme.NEVER_RETRAINED, "trained, not promoted"))  # fmt: skip
    fig.update_xaxes(title="sim time (scenario clock)")
    top = int(moves["version"].max())
    fig.update_yaxes(
        title="model version", dtick=1 if top <= 10 else 2 if top <= 24 else None, rangemode="tozero"
    )
    theme.apply(fig, height=300)
    return fig


def _version_markers(moves: pd.DataFrame, name: str, symbol: str, colour: str, what: str) -> go.Scatter:
    """A diamond per version of `moves` at its move; past MAX_MARKERS one a week, the week's last
    version, whose hover says how many versions the week had."""
    weekly = len(moves) > MAX_MARKERS
    shown = last_of_each_week(moves) if weekly else moves.assign(week_count=1)
    reasons = shown["reason"].fillna("") if "reason" in shown else pd.Series("", index=shown.index)
    hover = (
        f"v%{{y}} {what} on %{{x|%Y-%m-%d}}, the last of %{{customdata[1]}} that week<br>%{{customdata[0]}}"
        if weekly
        else f"v%{{y}} {what} on %{{x|%Y-%m-%d}}<br>%{{customdata[0]}}"
    )
    outline = {"color": "#333333", "width": 1} if not symbol.endswith("-open") else {"width": 2}
    return go.Scatter(
        name=f"{name} (one marker per week)" if weekly else name,
        x=shown["sim_time"],
        y=shown["version"].astype(int),
        mode="markers",
        marker={"symbol": symbol, "size": 11, "color": colour, "line": outline},
        customdata=list(zip(reasons, shown["week_count"].astype(int), strict=True)),
        hovertemplate=hover + "<extra></extra>",
    )


def quality_figure(weekly: pd.DataFrame, retrains: pd.DataFrame | None = None) -> go.Figure:
    """Realized quality of production vs the never-retrained first model, with retrain diamonds;
    production's quality estimated before its labels (dashed, same colour) when the rows have it.

    `weekly` needs sim_time, quality, quality_never_retrained (and quality_metric, quality_direction
    for the axis);
    `retrains` the MLOps runs (sim_time, trigger, status): a diamond for each, an x when it failed.
    """
    needed = {"sim_time", "quality", "quality_never_retrained"}
    if not needed <= set(weekly.columns):
        raise ValueError(f"quality_figure needs weekly columns {sorted(needed)}")
    frame = weekly.sort_values("sim_time")
    metric = weekly_metric(frame)
    value = f"%{{y:{metric.spec if metric else '.4g'}}}"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            name="never retrained (first model)",
            x=frame["sim_time"],
            y=frame["quality_never_retrained"],
            mode="lines",
            line={"color": theme.NEVER_RETRAINED, "dash": "dash", "width": 2},
            connectgaps=False,
            hovertemplate=f"%{{x|%Y-%m-%d}}: {value}<extra>never retrained</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            name="production (with retraining)",
            x=frame["sim_time"],
            y=frame["quality"],
            mode="lines",
            line={"color": theme.LIFECYCLE["mlops"], "width": 3},
            connectgaps=False,
            hovertemplate=f"%{{x|%Y-%m-%d}}: {value}<extra>production</extra>",
        )
    )
    if "quality_estimated" in frame and frame["quality_estimated"].notna().any():
        fig.add_trace(
            go.Scatter(
                name="production, estimated before labels",
                x=frame["sim_time"],
                y=frame["quality_estimated"],
                mode="lines",
                line={"color": theme.LIFECYCLE["mlops"], "dash": "dash", "width": 2},
                connectgaps=False,
                hovertemplate=f"%{{x|%Y-%m-%d}}: {value}<extra>estimated</extra>",
            )
        )
    if retrains is not None and not retrains.empty:
        labelled = frame.loc[frame["quality"].notna(), ["sim_time", "quality"]]
        marks = retrains.sort_values("sim_time")[["sim_time", "trigger", "status"]]
        marks = marks[marks["trigger"] != "initial"].copy()  # the first model is trained, not retrained
        marks["sim_time"] = pd.to_datetime(marks["sim_time"]).astype(frame["sim_time"].dtype)
        if not labelled.empty:
            marks = pd.merge_asof(marks, labelled, on="sim_time", direction="nearest")
        else:
            marks["quality"] = None
        for failed, group in marks.groupby(marks["status"] == "failed", sort=True):
            symbol = theme.MARKER["failed"] if failed else theme.MARKER["retrain"]
            fig.add_trace(
                go.Scatter(
                    name="retrain failed" if failed else "retrain",
                    x=group["sim_time"],
                    y=group["quality"],
                    mode="markers",
                    marker={
                        "symbol": symbol,
                        "size": 11,
                        "color": theme.STATUS["failed"] if failed else theme.LIFECYCLE["mlops"],
                        "line": {"color": "#333333", "width": 1},
                    },
                    customdata=group[["trigger", "status"]],
                    hovertemplate="%{x|%Y-%m-%d}: retrain (%{customdata[0]}), %{customdata[1]}<extra></extra>",
                )
            )
    fig.update_xaxes(title="sim time (scenario clock)")
    fig.update_yaxes(title=metric.title if metric else "quality")
    theme.apply(fig, height=340)
    return fig


# -- tables: the same data the figures draw, shaped for st.dataframe ------------------------------
def steps_summary(steps: object) -> str:
    """'6 ✓', '5 ✓ · deploy skipped' or '1 ✓ · validate failed' from the runs table's ['name:status', ...]."""
    pairs = [(*str(s).split(":", 1), "")[:2] for s in (steps if steps is not None else [])]
    if not pairs:
        return ""
    ok = sum(status == "succeeded" for _, status in pairs)
    failed = [name for name, status in pairs if status in ("failed", "interrupted")]
    if failed:  # the steps after a failure are skipped because of it: name only the failure
        return f"{ok} ✓ · {failed[0]} failed"
    others = ", ".join(f"{name} {status}" for name, status in pairs if status != "succeeded")
    return f"{ok} ✓" + (f" · {others}" if others else "")


def runs_table(runs: pd.DataFrame, versions: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """MLOps runs with the version each registered and whether the gate promoted it."""
    promoted = set(moves.loc[moves["alias"] == "champion", "run_id"]) if not moves.empty else set()
    made = dict(zip(versions["run_id"], versions["version"], strict=False)) if not versions.empty else {}
    return pd.DataFrame(
        {
            "sim time": runs["sim_time"],
            "trigger": runs["trigger"],
            "status": runs["status"],
            "steps": runs["steps"].map(steps_summary),
            "model": runs["run_id"].map(lambda r: f"v{made[r]}" if r in made else "–"),
            "champion": runs["run_id"].map(lambda r: "promoted" if r in promoted else "–"),
            "label": runs["label"],
            "run": runs["run_id"],
        }
    )


def registry_table(versions: pd.DataFrame, moves: pd.DataFrame) -> pd.DataFrame:
    """Model versions, newest first: current alias, window, holdout metrics, sha256 (short)."""
    # where each alias points now: its latest move, which may have removed it (no version)
    latest = moves.sort_values("moved_at", kind="stable").drop_duplicates("alias", keep="last")
    current = dict(zip(latest["alias"], latest["version"], strict=True)) if not moves.empty else {}
    aliases: dict[int, list[str]] = {}
    for alias, version in current.items():
        if pd.notna(version):
            aliases.setdefault(int(version), []).append(str(alias))
    metrics = pd.DataFrame(list(versions["metrics"]), index=versions.index).round(4).add_prefix("holdout ")
    table = pd.DataFrame(
        {
            "version": versions["version"].map(lambda v: f"v{v}"),
            "alias": versions["version"].map(lambda v: ", ".join(sorted(aliases.get(int(v), [])))),
            "sim time": versions["sim_time"],
            "window": [
                f"{a:%Y-%m-%d} → {b:%Y-%m-%d}" if pd.notna(a) and pd.notna(b) else "–"
                for a, b in zip(versions["window_start"], versions["window_end"], strict=True)
            ],
        },
        index=versions.index,
    )
    extra = pd.DataFrame(
        {"sha256": versions["sha256"].str[:12], "run": versions["run_id"]}, index=versions.index
    )
    return pd.concat([table, metrics, extra], axis=1).iloc[::-1].reset_index(drop=True)


def moves_table(moves: pd.DataFrame) -> pd.DataFrame:
    """Alias moves, newest first: which alias went to which version from which, and why."""
    shown = moves.sort_values("moved_at", ascending=False)
    return pd.DataFrame(
        {
            "sim time": shown["sim_time"],
            "alias": shown["alias"],
            "version": shown["version"].map(lambda v: "–" if pd.isna(v) else f"v{int(v)}"),
            "previous": shown["previous_version"].map(lambda v: "–" if pd.isna(v) else f"v{int(v)}"),
            "reason": shown["reason"],
        }
    ).reset_index(drop=True)
