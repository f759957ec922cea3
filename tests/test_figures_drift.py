"""The Drift page's figure builders on tiny frames, without Streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dashboard import theme
from dashboard.figures import drift as fig
from pipelines.drift import detect_drift


def _drift() -> pd.DataFrame:
    weeks = pd.to_datetime(["2011-03-07", "2011-03-14"])
    rows = []
    for week, sim_time in enumerate(weeks, start=1):
        rows += [
            {
                "week": week,
                "sim_time": sim_time,
                "feature": "temp",
                "test": "wasserstein",
                "statistic": 0.6 * week,
                "threshold": 0.3,
                "p_value": math.nan,
                "drifted": 0.6 * week >= 0.3,
            },
            {
                "week": week,
                "sim_time": sim_time,
                "feature": "hum",
                "test": "ks",
                "statistic": 0.1,
                "threshold": 0.05,
                "p_value": 0.5 / week**4,
                "drifted": 0.5 / week**4 < 0.05,
            },
            {
                "week": week,
                "sim_time": sim_time,
                "feature": "mnth",
                "test": "jensenshannon",
                "statistic": 0.0,
                "threshold": 0.3,
                "p_value": math.nan,
                "drifted": False,
            },
            {
                "week": week,
                "sim_time": sim_time,
                "feature": "prediction",
                "test": "wasserstein",
                "statistic": 0.05,
                "threshold": 0.1,
                "p_value": math.nan,
                "drifted": False,
            },
        ]
    return pd.DataFrame(rows)


def test_severity_puts_every_test_on_one_scale_with_1_at_the_threshold() -> None:
    frame = pd.DataFrame(
        {
            "test": ["wasserstein", "ks", "chisquare"],
            "statistic": [0.15, 0.2, math.inf],
            "threshold": [0.1, 0.05, 0.05],
            "p_value": [math.nan, 0.1, 0.0],
        }
    )
    ratio = fig.severity(frame)
    assert ratio[0] == pytest.approx(1.5)
    assert ratio[1] == pytest.approx(0.5)  # p = 0.1 is twice the threshold: half-way to drift
    assert ratio[2] > fig.HEATMAP_CAP  # p = 0 is infinitely far past it, shown as "far"


def test_feature_order_counts_first_then_calendar_then_prediction_and_target() -> None:
    order = fig.feature_order(["target", "prediction", "mnth", "temp", "hum"], calendar={"mnth"})
    assert order == ["hum", "temp", "mnth", "prediction", "target"]


def test_drift_heatmap_has_rows_per_feature_and_marks_drifted_cells() -> None:
    figure = fig.drift_heatmap(_drift(), calendar={"mnth"})
    heat, marks = figure.data
    assert list(heat.y) == ["prediction (model output)", "mnth (calendar)", "temp", "hum"]
    assert heat.zmax == fig.HEATMAP_CAP
    assert heat.colorscale[-1][1] == theme.DRIFT
    assert marks.name == "drifted"
    assert sorted(zip(marks.y, pd.to_datetime(marks.x).day, strict=True)) == [
        ("hum", 14),
        ("temp", 7),
        ("temp", 14),
    ]
    z = np.array(heat.z, dtype=float)
    assert z[2].tolist() == pytest.approx([2.0, fig.HEATMAP_CAP])  # temp: 0.6/0.3, then capped


def test_drift_heatmap_refuses_an_empty_table() -> None:
    with pytest.raises(ValueError, match="drift rows"):
        fig.drift_heatmap(pd.DataFrame())


def test_distribution_figure_overlays_histograms_for_numbers_as_shares() -> None:
    rng = np.random.default_rng(0)
    figure = fig.distribution_figure(
        pd.Series(rng.normal(size=300)), pd.Series(rng.normal(1, size=50)), categorical=False, feature="temp"
    )
    assert [trace.type for trace in figure.data] == ["histogram", "histogram"]
    assert {trace.histnorm for trace in figure.data} == {"probability"}
    assert figure.layout.barmode == "overlay"
    assert "n = 300" in figure.data[0].name and "n = 50" in figure.data[1].name


def test_distribution_figure_groups_bars_for_categories_with_new_ones() -> None:
    figure = fig.distribution_figure(
        pd.Series([1, 1, 2, 2]), pd.Series([2, 3]), categorical=True, feature="w"
    )
    reference, current = figure.data
    assert list(reference.x) == ["1", "2", "3"]
    assert list(reference.y) == [0.5, 0.5, 0.0]
    assert list(current.y) == [0.0, 0.5, 0.5]
    assert figure.layout.barmode == "group"


def test_distribution_figure_needs_values_on_both_sides() -> None:
    with pytest.raises(ValueError, match="no values"):
        fig.distribution_figure(pd.Series([1.0]), pd.Series([np.nan]), categorical=False, feature="temp")


def test_whatif_figure_colours_the_verdicts_of_a_recomputed_table() -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"temp": rng.normal(size=2000), "mnth": rng.integers(1, 3, 2000)})
    current = pd.DataFrame({"temp": rng.normal(0.5, size=200), "mnth": rng.integers(1, 3, 200)})
    result = detect_drift(reference, current, threshold_overrides={"temp": 0.3, "mnth": 0.3})
    figure = fig.whatif_figure(result, calendar={"mnth"})
    bars = figure.data[0]
    assert list(bars.x) == ["temp", "mnth (calendar)"]
    assert list(bars.marker.color) == [theme.DRIFT, theme.NEVER_RETRAINED]
    assert list(bars.marker.pattern.shape) == ["", "/"]


def test_sample_size_figure_plots_p_values_and_distances_against_n() -> None:
    demo = pd.DataFrame(
        {"n": [100, 1000, 100000], "ks_p_value": [0.7, 0.5, 1e-20], "wasserstein_norm": [0.14, 0.06, 0.05]}
    )
    figure = fig.sample_size_figure(demo)
    p_values, distances = figure.data
    assert p_values.xaxis == "x" and distances.xaxis == "x2"
    assert figure.layout.yaxis.type == "log" and figure.layout.xaxis.type == "log"
    assert list(distances.y) == [0.14, 0.06, 0.05]
    with pytest.raises(ValueError):
        fig.sample_size_figure(pd.DataFrame({"n": [1]}))
