"""Figure builders of the pages: pure `DataFrame -> Figure` functions, no Streamlit (STYLE.md 6)."""

from __future__ import annotations

import pandas as pd

__all__ = ["MAX_MARKERS", "last_of_each_week"]

MAX_MARKERS = 300
"""A trace with more markers than this draws one a week: the browser draws every marker (and every
hover text) on each visit, and thousands of them took it seconds on a 100k-run history (issue 12)."""


def last_of_each_week(frame: pd.DataFrame, time_column: str = "sim_time") -> pd.DataFrame:
    """The last row of each calendar week of `frame` (sorted by `time_column`), with `week_count`:
    how many rows that week had."""
    week = pd.to_datetime(frame[time_column]).dt.to_period("W")
    counts = week.map(week.value_counts())
    return frame.assign(week_count=counts.to_numpy()).groupby(week.to_numpy(), sort=True).tail(1)
