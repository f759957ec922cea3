"""Cached loaders of the Drift page: the workspace's own data, a week's two samples, the demo.

The drift table holds verdicts; to draw distributions and recompute verdicts live the page needs
the rows themselves. A workspace records its scenario settings, so its data is rebuilt from them
(the simulator makes two years in ~50 ms; a fetched data set is read from disk) and cached by
workspace + settings hash, like the loaders in `dashboard.data`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from pipelines.drift import sample_size_demo
from pipelines.scenario.engine import load_scenario_data
from pipelines.scenario.settings import from_dict

__all__ = ["scenario_data", "size_demo", "week_samples"]


@st.cache_data(show_spinner=False, max_entries=8)
def scenario_data(workspace: str, settings_hash: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The workspace's data set: frame, time column, features, categorical ones, and a note."""
    dataset, note = load_scenario_data(from_dict(settings))
    return {
        "frame": dataset.frame,
        "time_column": dataset.time_column,
        "features": list(dataset.features),
        "categorical": list(dataset.categorical),
        "name": dataset.name,
        "note": note,
    }


@st.cache_data(show_spinner=False, max_entries=64)
def week_samples(
    workspace: str,
    settings_hash: str,
    settings: dict[str, Any],
    window_start: pd.Timestamp,
    window_end: pd.Timestamp,
    week_end: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current): the serving model's training window [start, end] and the week's batch
    (week_end - 1 week, week_end], the same slices monitoring compared."""
    data = scenario_data(workspace, settings_hash, settings)
    frame, column = data["frame"], data["time_column"]
    times = frame[column]
    reference = frame.loc[(times >= window_start) & (times <= window_end), data["features"]]
    current = frame.loc[(times > week_end - pd.Timedelta(weeks=1)) & (times <= week_end), data["features"]]
    return reference.reset_index(drop=True), current.reset_index(drop=True)


DEMO_SIZES = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
"""Up to 100k rows: the p-value is already ~1e-20 there, and 1M rows would cost the page 1.4 s."""


@st.cache_data(show_spinner=False, max_entries=4)
def size_demo(shift: float, seed: int) -> pd.DataFrame:
    return sample_size_demo(shift=shift, sizes=DEMO_SIZES, seed=seed)
