"""The quality metric: one `Metric` value (name, label, direction, format) and its stored direction."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from pipelines.quality import METRICS, Metric, metric_for_task, metric_named, recorded_metric
from pipelines.store import Store
from pipelines.store.schema import migrate

MAE = metric_named("mae")
ACCURACY = metric_named("accuracy")


def test_each_task_has_its_primary_metric() -> None:
    assert metric_for_task("regression") == MAE and MAE.lower_is_better
    assert metric_for_task("classification") == ACCURACY and not ACCURACY.lower_is_better
    with pytest.raises(ValueError, match="ranking"):
        metric_for_task("ranking")


def test_every_metric_the_models_compute_is_registered() -> None:
    import numpy as np
    import pandas as pd

    from pipelines.mlops.training import evaluate_predictions

    regression = evaluate_predictions("regression", pd.Series([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    classification = evaluate_predictions(
        "classification", pd.Series(["a", "b", "a"]), np.array(["a", "b", "b"]), proba, ["a", "b"]
    )
    assert {"mae", "rmse", "r2", "accuracy", "f1", "roc_auc"} <= set(regression) | set(classification)
    assert set(regression) | set(classification) <= set(METRICS)


def test_a_metric_states_its_direction_in_words() -> None:
    assert MAE.title == "MAE (lower is better)"
    assert ACCURACY.title == "accuracy (higher is better)"
    assert metric_named("r2").direction_text == "higher is better"


def test_better_and_gain_follow_the_direction() -> None:
    assert MAE.better(20.0, 25.0) and not MAE.better(25.0, 20.0) and not MAE.better(20.0, 20.0)
    assert ACCURACY.better(0.9, 0.8) and not ACCURACY.better(0.8, 0.9)
    assert MAE.gain(20.0, 25.0) == pytest.approx(5.0)  # new 20 vs old 25: 5 better
    assert ACCURACY.gain(0.8, 0.9) == pytest.approx(-0.1)  # new is worse


def test_worse_by_is_beyond_the_margin_in_the_bad_direction() -> None:
    assert MAE.worse_by(12.6, 10.0, 0.25) and not MAE.worse_by(12.4, 10.0, 0.25)
    assert not MAE.worse_by(5.0, 10.0, 0.25)  # far better is not worse
    assert ACCURACY.worse_by(0.6, 0.9, 0.25) and not ACCURACY.worse_by(0.7, 0.9, 0.25)
    assert not ACCURACY.worse_by(1.0, 0.9, 0.25)


def test_beats_needs_the_margin_in_the_good_direction() -> None:
    assert MAE.target(10.0, 0.1) == pytest.approx(9.0) and MAE.relation == "≤"
    assert MAE.beats(9.0, 10.0, 0.1) and not MAE.beats(9.5, 10.0, 0.1)
    assert ACCURACY.target(0.8, 0.1) == pytest.approx(0.88) and ACCURACY.relation == "≥"
    assert ACCURACY.beats(0.9, 0.8, 0.1) and not ACCURACY.beats(0.85, 0.8, 0.1)


def test_format_uses_the_metric_s_own_precision_and_blanks_missing_values() -> None:
    assert ACCURACY.format(0.81234) == "0.812"
    assert MAE.format(23.456) == "23.46"
    assert MAE.format(None) == "–" and MAE.format(math.nan) == "–"


def test_a_metric_refuses_an_unknown_direction_or_name() -> None:
    with pytest.raises(ValueError, match="direction"):
        Metric("mae", "MAE", "smaller")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pinball"):
        metric_named("pinball")


def test_a_recorded_metric_takes_its_direction_from_the_record() -> None:
    assert recorded_metric("mae", "lower") == MAE
    assert recorded_metric("accuracy", None) == ACCURACY  # old rows: the registry knows the name
    unknown = recorded_metric("pinball", "lower")
    assert unknown is not None and unknown.lower_is_better and unknown.title == "pinball (lower is better)"
    assert recorded_metric("pinball", None) is None and recorded_metric(None, "lower") is None


def test_quality_module_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = "import sys, pipelines.quality; print(sorted({'pandas', 'numpy', 'sklearn', 'duckdb'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the direction stored with the weekly rows ------------------------------------------------------
def test_a_weekly_row_stores_its_metric_s_direction(store: Store) -> None:
    from pipelines.store import records as rec

    rec.record_weekly(store, {"workspace": "w", "week": 1, "sim_time": "2011-01-08",
                              "quality_metric": "accuracy", "quality_direction": "higher"})  # fmt: skip
    assert store.select("weekly", "w")["quality_direction"].tolist() == ["higher"]
    with pytest.raises(ValueError, match="direction"):
        rec.record_weekly(
            store, {"workspace": "w", "week": 2, "sim_time": "2011-01-15", "quality_metric": "mae"}
        )


def test_an_older_file_gets_the_direction_backfilled_from_the_metric_name(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con, target=3)
        con.execute(
            "INSERT INTO weekly (workspace, week, sim_time, quality_metric) VALUES "
            "('old', 1, '2011-01-08', 'mae'), ('old', 2, '2011-01-15', 'accuracy'), "
            "('old', 3, '2011-01-22', NULL)"
        )
    weekly = Store(path).select("weekly", "old", order_by="week")
    assert weekly["quality_direction"].tolist()[:2] == ["lower", "higher"]
    assert weekly["quality_direction"].isna().tolist()[2]
