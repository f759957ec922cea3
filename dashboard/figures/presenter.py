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
) -> go.Figure:
    """The Timeline over `step.start`..`step.end`, a line at the step's moment and its words above
    the chart in the colour of the lane it belongs to (DevOps or MLOps)."""
    fig = timeline_figure(weekly, events, incidents, drift_line=drift_line, height=height)
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
    if step.at is None:
        return fig
    colour = theme.lifecycle_colour(step.lane)
    fig.add_shape(type="line", xref="x", yref="paper", x0=step.at, x1=step.at, y0=0, y1=1,
                  line={"color": colour, "width": 3, "dash": "dash"})  # fmt: skip
    # The words sit above the chart, clear of the lanes' titles and markers, on the side of the line
    # with more room so they are never cut at the chart's edge; the dashed line leads down to the moment.
    middle = step.start + (step.end - step.start) / 2
    fig.add_annotation(
        x=step.at, xref="x", y=1, yref="paper", yanchor="bottom", yshift=24,
        xanchor="left" if step.at <= middle else "right",
        text=f"<b>{step.marker}</b>", showarrow=False, font={"size": 17, "color": colour},
        bgcolor="rgba(255, 255, 255, 0.92)", bordercolor=colour, borderwidth=2, borderpad=4,
    )  # fmt: skip
    fig.update_layout(margin={"t": 80})
    return fig
