"""Figures of the Drift page: pure `DataFrame -> Figure` builders, no Streamlit (STYLE.md 6).

The heatmap shows each verdict as "how far past its threshold": statistic / threshold for a
distance test and threshold / p-value for a p-value test, so 1.0 is the threshold for every test.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from pipelines.drift import DISTANCE_THRESHOLD, P_VALUE_THRESHOLD, SMALL_REFERENCE_MAX_ROWS

__all__ = [
    "CATEGORICAL_TESTS",
    "HEATMAP_CAP",
    "P_VALUE_TESTS",
    "distribution_figure",
    "drift_heatmap",
    "feature_order",
    "sample_size_figure",
    "severity",
    "whatif_figure",
]

P_VALUE_TESTS = frozenset({"ks", "chisquare"})
CATEGORICAL_TESTS = frozenset({"chisquare", "jensenshannon"})
HEATMAP_CAP = 2.0  # the colour scale stops here (threshold mid-scale): beyond twice it is simply "far"
BAR_CAP = 3.0
REFERENCE_COLOUR = theme.NEVER_RETRAINED  # the past the model learnt from: grey, as elsewhere
CURRENT_COLOUR = theme.LIFECYCLE["mlops"]


def severity(drift: pd.DataFrame) -> pd.Series:
    """How far each verdict is past its threshold, 1.0 = on it: statistic/threshold or threshold/p."""
    stat = drift["statistic"].astype(float)
    threshold = drift["threshold"].astype(float)
    p_value = drift["p_value"].astype(float)
    is_p = drift["test"].isin(P_VALUE_TESTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_p = threshold / p_value
        by_distance = stat / threshold
    ratio = pd.Series(np.where(is_p, by_p, by_distance), index=drift.index)
    return ratio.replace([np.inf, -np.inf], np.nan).fillna(HEATMAP_CAP * 10).clip(lower=0.0)


OUTPUTS = ("prediction", "target")
"""Drift rows that are not input features: the model's prediction and the labels (once they arrive)."""


def feature_order(features: Collection[str], calendar: Collection[str] = ()) -> list[str]:
    """Top to bottom: the counted features, then calendar columns, then the model's prediction and
    the target."""
    names = list(dict.fromkeys(features))
    counted = sorted(n for n in names if n not in calendar and n not in OUTPUTS)
    return counted + sorted(n for n in names if n in calendar) + [n for n in OUTPUTS if n in names]


def _row_label(name: str, calendar: Collection[str]) -> str:
    if name in calendar:
        return f"{name} (calendar)"
    if name == "prediction":
        return "prediction (model output)"
    if name == "target":
        return "target (labels, when they arrive)"
    return name


def drift_heatmap(drift: pd.DataFrame, calendar: Collection[str] = ()) -> go.Figure:
    """Feature × week heatmap of statistic/threshold (1.0 = the threshold); drifted cells get a dot."""
    needed = {"sim_time", "feature", "test", "statistic", "threshold", "p_value", "drifted"}
    if drift.empty or not needed <= set(drift.columns):
        raise ValueError(f"drift_heatmap needs drift rows with {sorted(needed)}")
    frame = drift.assign(severity=severity(drift), sim_time=pd.to_datetime(drift["sim_time"]))
    order = feature_order(frame["feature"].astype(str).unique(), calendar)
    labels = {name: _row_label(name, calendar) for name in order}
    frame["row"] = frame["feature"].astype(str).map(labels)
    grid = frame.pivot_table(index="row", columns="sim_time", values="severity", aggfunc="max")
    rows = [labels[n] for n in order][::-1]  # plotly draws the first row at the bottom
    grid = grid.reindex(rows)
    info = frame.pivot_table(index="row", columns="sim_time", values="statistic", aggfunc="max").reindex(
        index=rows, columns=grid.columns
    )
    tests = frame.pivot_table(index="row", columns="sim_time", values="test", aggfunc="first").reindex(
        index=rows, columns=grid.columns
    )
    weeks = frame.groupby("sim_time")["week"].first() if "week" in frame.columns else None
    custom = np.dstack([tests.to_numpy(dtype=object), info.to_numpy(dtype=object)])
    fig = go.Figure(
        go.Heatmap(
            z=grid.clip(upper=HEATMAP_CAP).to_numpy(),
            x=grid.columns,
            y=rows,
            zmin=0.0,
            zmax=HEATMAP_CAP,
            colorscale=[[0.0, "#FFFFFF"], [1.0, theme.DRIFT]],
            colorbar={
                "title": {"text": "statistic ÷<br>threshold", "side": "top"},
                "tickvals": [0, 0.5, 1, 1.5, 2],
                "ticktext": ["0", "0.5", "1 = threshold", "1.5", "≥ 2"],
                "thickness": 12,
            },
            customdata=custom,
            hovertemplate=(
                "%{y}, week to %{x|%Y-%m-%d}<br>%{customdata[0]}: statistic %{customdata[1]:.3g}"
                "<br>%{z:.2f} × threshold<extra></extra>"
            ),
            xgap=1,
            ygap=1,
        )
    )
    drifted = frame.loc[frame["drifted"].astype(bool)]
    if not drifted.empty:
        fig.add_trace(
            go.Scatter(
                name="drifted",
                x=drifted["sim_time"],
                y=drifted["row"],
                mode="markers",
                marker={"symbol": "circle", "size": 5, "color": "#000000"},
                hoverinfo="skip",
                showlegend=True,
            )
        )
    if weeks is not None and not weeks.empty:
        fig.update_layout(
            title={"text": f"weeks {int(weeks.min())}–{int(weeks.max())}", "font": {"size": 12}}
        )
    fig.update_xaxes(title="sim time (end of each weekly batch)")
    fig.update_yaxes(title=None, categoryorder="array", categoryarray=rows)
    theme.apply(fig, height=max(260, 34 * len(rows) + 120))
    fig.update_layout(legend={"x": 1.0, "xanchor": "right"})
    return fig


def distribution_figure(
    reference: pd.Series, current: pd.Series, *, categorical: bool, feature: str = ""
) -> go.Figure:
    """Reference vs current: overlaid histograms (numeric) or grouped bars (categories), as shares."""
    reference, current = reference.dropna(), current.dropna()
    if reference.empty or current.empty:
        raise ValueError(f"{feature or 'the feature'} has no values on one side: nothing to compare")
    ref_name = f"reference (training window, n = {len(reference):,})"
    cur_name = f"current (this week, n = {len(current):,})"
    fig = go.Figure()
    if categorical:
        cats = sorted(set(reference.unique()) | set(current.unique()), key=lambda v: (str(type(v)), v))
        ref_share = reference.value_counts(normalize=True).reindex(cats, fill_value=0.0)
        cur_share = current.value_counts(normalize=True).reindex(cats, fill_value=0.0)
        x = [str(c) for c in cats]
        fig.add_trace(
            go.Bar(
                name=ref_name,
                x=x,
                y=ref_share.to_numpy(),
                marker_color=REFERENCE_COLOUR,
                hovertemplate="%{x}: %{y:.1%}<extra>reference</extra>",
            )
        )
        fig.add_trace(
            go.Bar(
                name=cur_name,
                x=x,
                y=cur_share.to_numpy(),
                marker_color=CURRENT_COLOUR,
                hovertemplate="%{x}: %{y:.1%}<extra>current</extra>",
            )
        )
        fig.update_layout(barmode="group")
        fig.update_xaxes(title=f"{feature} (category)", type="category")
    else:
        values = pd.concat([reference, current]).astype(float)
        low, high = float(values.min()), float(values.max())
        size = (high - low) / 30 if high > low else 1.0
        bins = {"start": low, "end": high + size, "size": size}
        for name, series, colour, short in (
            (ref_name, reference, REFERENCE_COLOUR, "reference"),
            (cur_name, current, CURRENT_COLOUR, "current"),
        ):
            fig.add_trace(
                go.Histogram(
                    name=name,
                    x=series.astype(float),
                    xbins=bins,
                    histnorm="probability",
                    marker_color=colour,
                    opacity=0.6,
                    hovertemplate="%{x}: %{y:.1%}<extra>" + short + "</extra>",
                )
            )
        fig.update_layout(barmode="overlay")
        fig.update_xaxes(title=f"{feature} (value)")
    fig.update_yaxes(title="share of rows", tickformat=".0%")
    theme.apply(fig, height=330)
    return fig


def whatif_figure(result: pd.DataFrame, calendar: Collection[str] = ()) -> go.Figure:
    """Each feature's statistic against its (what-if) threshold: a bar per feature, drifted ones pink."""
    needed = {"feature", "test", "statistic", "threshold", "drifted", "p_value"}
    if result.empty or not needed <= set(result.columns):
        raise ValueError(f"whatif_figure needs detect_drift's table ({sorted(needed)})")
    frame = result.assign(
        severity=severity(result).clip(upper=BAR_CAP), feature=result["feature"].astype(str)
    )
    order = feature_order(frame["feature"], calendar)
    frame = frame.set_index("feature").loc[order].reset_index()
    frame["label"] = [_row_label(n, calendar) for n in frame["feature"]]
    colours = [theme.DRIFT if drifted else theme.NEVER_RETRAINED for drifted in frame["drifted"].astype(bool)]
    patterns = ["/" if name in calendar else "" for name in frame["feature"]]
    fig = go.Figure(
        go.Bar(
            x=frame["label"],
            y=frame["severity"],
            marker={"color": colours, "pattern": {"shape": patterns}},
            customdata=np.column_stack(
                [
                    frame["test"],
                    frame["statistic"],
                    frame["threshold"],
                    frame["drifted"].map({True: "drifts", False: "stable"}),
                ]
            ),
            hovertemplate=(
                "%{x}: %{customdata[0]} statistic %{customdata[1]:.3g}, threshold %{customdata[2]:.3g}"
                "<br>%{y:.2f} × threshold: %{customdata[3]}<extra></extra>"
            ),
            showlegend=False,
        )
    )
    fig.add_hline(
        y=1.0,
        line_dash="dash",
        line_color="#333333",
        annotation_text="threshold",
        annotation_position="top right",
    )
    fig.update_yaxes(title="statistic ÷ threshold", range=[0, BAR_CAP * 1.05])
    fig.update_xaxes(title=None, tickangle=-30)
    theme.apply(fig, height=320)
    return fig


def sample_size_figure(demo: pd.DataFrame) -> go.Figure:
    """KS p-value falls as n grows while the normalised Wasserstein distance stays flat (same shift)."""
    needed = {"n", "ks_p_value", "wasserstein_norm"}
    if demo.empty or not needed <= set(demo.columns):
        raise ValueError(f"sample_size_figure needs sample_size_demo's table ({sorted(needed)})")
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        # Two lines each: one line does not fit half a projector-wide column.
        subplot_titles=("KS p-value<br>(drift below 0.05)", "Wasserstein ÷ std<br>(drift at 0.1 or more)"),
    )
    p_values = demo["ks_p_value"].clip(lower=1e-300)
    fig.add_trace(
        go.Scatter(
            name="KS p-value",
            x=demo["n"],
            y=p_values,
            mode="lines+markers",
            line={"color": theme.LIFECYCLE["devops"]},
            marker={"symbol": "circle"},
            hovertemplate="n = %{x:,}: p = %{y:.3g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            name="normalised Wasserstein",
            x=demo["n"],
            y=demo["wasserstein_norm"],
            mode="lines+markers",
            line={"color": theme.LIFECYCLE["mlops"]},
            marker={"symbol": "diamond"},
            hovertemplate="n = %{x:,}: %{y:.3f} std<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_hline(
        y=P_VALUE_THRESHOLD,
        line_dash="dash",
        line_color=theme.DRIFT,
        row=1,
        col=1,
        annotation_text="0.05",
        annotation_position="bottom right",
    )
    fig.add_hline(
        y=DISTANCE_THRESHOLD,
        line_dash="dash",
        line_color=theme.DRIFT,
        row=1,
        col=2,
        annotation_text="0.1",
        annotation_position="top right",
    )
    for col in (1, 2):
        fig.add_vline(
            x=SMALL_REFERENCE_MAX_ROWS, line_dash="dot", line_color=theme.NEVER_RETRAINED, row=1, col=col
        )
    fig.update_xaxes(type="log", title="rows per sample (n, log scale)")
    fig.update_yaxes(type="log", title="p-value (log scale)", exponentformat="power", row=1, col=1)
    top = max(0.2, float(demo["wasserstein_norm"].max()) * 1.2)
    fig.update_yaxes(title="distance (reference std)", range=[0, top], row=1, col=2)
    theme.apply(fig, height=330)
    fig.update_layout(showlegend=False, margin={"t": 50})
    return fig
