"""Presenter mode's figure: the Timeline zoomed to one step of the story, with the step's marker.

Pure builder (no Streamlit): the same chart as the Timeline page, cut to the step's time range, in
type a room can read, without the range slider and buttons a presenter does not click.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures.timeline import timeline_figure
from pipelines.scenario.steps import StoryStep

__all__ = ["step_figure"]


def step_figure(
    weekly: pd.DataFrame,
    events: pd.DataFrame,
    incidents: pd.DataFrame | None,
    step: StoryStep,
    *,
    drift_line: float = 0.5,
    height: int = 600,
    density: pd.DataFrame | None = None,
) -> go.Figure:
    """The Timeline over `step.start`..`step.end`, a line at the step's moment and its words above
    the chart in the colour of the lane it belongs to (DevOps or MLOps)."""
    fig = timeline_figure(weekly, events, incidents, drift_line=drift_line, height=height, density=density)
    fig.update_layout(
        font={"size": 15},
        showlegend=False,  # the annotation beside the chart says what to look at; the lanes are titled
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={
            "range": [step.start, step.end],
            "autorange": False,
            "rangeslider": {"visible": False},
            "rangeselector": {"visible": False},
            "title": {"text": ""},
            "tickfont": {"size": 15},
        },
    )
    for title in fig.layout.annotations:
        if title.font and title.font.size == 13:  # the lanes' titles (timeline_figure sets 13)
            title.font.size = 15
            # The health lane's title, shorter: at 1024 px its full words run past the chart's edge.
            title.text = title.text.replace(
                "weekly error rate (%, left) and p95 latency (ms, right)", "error % (left), p95 ms (right)"
            )
    if step.at is None:
        return fig
    colour = theme.lifecycle_colour(step.lane)
    fig.add_shape(type="line", xref="x", yref="paper", x0=step.at, x1=step.at, y0=0, y1=1,
                  line={"color": colour, "width": 3, "dash": "dash"})  # fmt: skip
    # The words sit above the chart, clear of the lanes' titles and markers; placed by their share of
    # the range with plotly's automatic anchor (left in the first third, right in the last), they stay
    # inside the chart at any width. The dashed line leads down to the moment.
    share = (step.at - step.start) / (step.end - step.start)
    fig.add_annotation(
        x=min(max(share, 0.0), 1.0), xref="x domain", y=1, yref="paper", yanchor="bottom", yshift=24,
        xanchor="auto", text="<b>" + step.marker.replace(" → ", "<br>→ ") + "</b>", showarrow=False,
        font={"size": 17, "color": colour}, bgcolor="rgba(255, 255, 255, 0.92)", bordercolor=colour,
        borderwidth=2, borderpad=4, align="left",
    )  # fmt: skip
    fig.update_layout(margin={"t": 100})
    return fig
