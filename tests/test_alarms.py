"""Alarms scored against what happened: precision and recall of each monitoring signal."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.mlops.alarms import decayed_weeks, score_alarms, workspace_alarm_scores
from pipelines.store import Store
from tests.conftest import APP


def _weekly(quality: list[float | None], metric: str = "mae", baseline: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": range(len(quality)),
            "quality": quality,
            "quality_baseline": baseline,
            "quality_metric": metric,
        }
    )


def _alarms(weeks: int, on: list[int]) -> pd.Series:
    return pd.Series([w in on for w in range(weeks)], index=range(weeks))


def test_a_fall_is_realized_quality_past_the_margin_in_the_metrics_direction() -> None:
    falls = decayed_weeks(_weekly([10, 12.4, 12.6, None]), margin=0.25)
    assert falls.tolist()[:3] == [False, False, True] and pd.isna(falls.iloc[3])
    accuracy = decayed_weeks(_weekly([0.9, 0.7, 0.6], metric="accuracy", baseline=0.9), margin=0.25)
    assert accuracy.tolist() == [False, False, True]  # higher is better: 0.6 < 0.9 * 0.75


def test_precision_and_recall_count_alarms_and_falls_within_the_horizon() -> None:
    weekly = _weekly([10, 10, 10, 20, 20, 10, 10, 10, 10, None])  # falls at weeks 3 and 4
    scores = score_alarms(
        weekly,
        {"early": _alarms(10, [2, 7]), "late": _alarms(10, [9]), "quiet": _alarms(10, [])},
        margin=0.25,
        horizon_weeks=3,
    ).set_index("source")
    early = scores.loc["early"]
    assert (early["alarms"], early["judged"], early["true_alarms"]) == (2, 2, 1)
    assert early["precision"] == 0.5 and early["recall"] == 1.0 and early["decayed_weeks"] == 2
    late = scores.loc["late"]  # week 9 has no labels yet: not judged
    assert (
        (late["alarms"], late["judged"]) == (1, 0) and math.isnan(late["precision"]) and late["recall"] == 0
    )
    assert scores.loc["quiet", "recall"] == 0 and scores.loc["quiet", "alarms"] == 0
    tight = score_alarms(weekly, {"early": _alarms(10, [2, 7])}, margin=0.25, horizon_weeks=0).iloc[0]
    assert (tight["true_alarms"], tight["recall"]) == (0, 0)  # the alarm came a week before the fall
    with pytest.raises(ValueError, match="horizon"):
        score_alarms(weekly, {}, margin=0.25, horizon_weeks=-1)


def test_a_played_workspace_scores_its_dataset_and_prediction_drift(scenario_db: Path) -> None:
    store = Store(scenario_db)
    scores = workspace_alarm_scores(store, "demo").set_index("source")
    weekly = store.select("weekly", "demo")
    assert scores.loc["dataset drift", "alarms"] == int(weekly["dataset_drift"].fillna(False).sum())
    drift = store.select("drift", "demo")
    predicted = drift.loc[(drift["feature"] == "prediction") & drift["drifted"], "week"].nunique()
    assert scores.loc["prediction drift", "alarms"] == predicted
    assert scores.loc["dataset drift", "decayed_weeks"] <= weekly["quality"].notna().sum()


def test_the_drift_page_shows_the_alarm_scores(app_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("views/drift.py")
    at.run()
    assert not at.exception
    assert any(h.value == "Which alarms deserve a pager?" for h in at.subheader)
    table = at.dataframe[-1].value
    assert table["source"].tolist()[:2] == ["dataset drift", "prediction drift"]
