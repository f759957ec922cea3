"""One colour grammar for both lifecycles, set once (STYLE.md 7).

Okabe-Ito colours, safe for the common colour-vision deficiencies. DevOps is blue and MLOps is
orange everywhere; a status has the same colour in both; a release is always a triangle and a
retrain always a diamond.
"""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = [
    "DRIFT",
    "LIFECYCLE",
    "MARKER",
    "NEVER_RETRAINED",
    "PAGE_CSS",
    "PRESENTER_CSS",
    "STATUS",
    "TIERS",
    "apply",
    "lifecycle_colour",
    "status_colour",
]

LIFECYCLE = {"devops": "#0072B2", "mlops": "#E69F00"}
STATUS = {
    "succeeded": "#009E73",
    "cached": "#56B4E9",
    "failed": "#D55E00",
    "skipped": "#999999",
    "running": "#F0E442",
    "interrupted": "#CC79A7",
}
MARKER = {
    "release": "triangle-up",
    "rollback": "triangle-down",
    "failed": "x",
    "retrain": "diamond",
    "incident": "square",
}
NEVER_RETRAINED = "#999999"
DRIFT = "#CC79A7"
TIERS = {"elite": "#009E73", "high": "#56B4E9", "medium": "#E69F00", "low": "#D55E00"}


def lifecycle_colour(kind: str) -> str:
    return LIFECYCLE.get(kind, "#666666")


def status_colour(status: str) -> str:
    return STATUS.get(status, "#666666")


def apply(fig: go.Figure, *, height: int | None = None) -> go.Figure:
    """The common look: white background, light grid, legend on top, compact margins."""
    fig.update_layout(
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"namelength": -1},
        font={"size": 13},
    )
    if height:
        fig.update_layout(height=height)
    return fig


# Keys on a projector (1024x768): a metric's label and value wrap instead of ending in "mo...".
PAGE_CSS = """<style>
[data-testid="stMetricLabel"] div, [data-testid="stMetricLabel"] p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
[data-testid="stMetricValue"] div, [data-testid="stMetricValue"] {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: anywhere; font-size: clamp(1.25rem, 2.2vw, 2.25rem); line-height: 1.15;
}
</style>"""


# Presenter mode: no sidebar, header or toolbar, the step's words in type a room reads from the back.
PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2rem 1rem 2rem !important; max-width: 100% !important; }
.st-key-presenter_step h1 { font-size: clamp(1.8rem, 3.2vw, 2.8rem) !important; line-height: 1.15; padding: 0; }
.st-key-presenter_step p { font-size: clamp(1.15rem, 2vw, 1.6rem) !important; line-height: 1.35; }
.st-key-presenter_nav button p { font-size: 1.2rem !important; }
</style>"""
