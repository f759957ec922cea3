"""The MLOps page's figure and table builders on tiny frames, without Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import theme
from dashboard.figures import mlops as fig

T = pd.Timestamp


def _steps(validate: str = "succeeded") -> list[dict]:
    after = "skipped" if validate == "failed" else "succeeded"
    statuses = ["succeeded", validate, after, after, after, after]
    return [
        {"name": name, "position": i, "status": status, "duration_ms": 10.0 * (i + 1)}
        for i, (name, status) in enumerate(zip(fig.PIPELINE_STEPS, statuses, strict=True))
    ]


def test_gate_figure_draws_challenger_champion_and_the_bar_to_clear() -> None:
    metrics = {
        "gate_metric": "mae",
        "mae": 30.0,
        "champion_mae": 40.0,
        "champion_version": 3,
        "gate_margin": 0.02,
        "gate_decision": "promote",
    }
    figure = fig.gate_figure(metrics)
    assert list(figure.data[0].y) == ["challenger", "champion v3"]
    assert list(figure.data[0].x) == [30.0, 40.0]
    line = figure.layout.shapes[0]
    assert line.x0 == pytest.approx(39.2)  # 40 * (1 - 0.02): lower is better for MAE
    assert "lower is better" in figure.layout.xaxis.title.text


def test_gate_figure_of_the_first_model_has_no_champion() -> None:
    figure = fig.gate_figure({"gate_metric": "mae", "mae": 22.5, "gate_decision": "promote"})
    assert list(figure.data[0].y) == ["challenger"]
    assert not figure.layout.shapes


def test_gate_figure_needs_the_gate() -> None:
    with pytest.raises(ValueError, match="gate_metric"):
        fig.gate_figure({"rows": 10})


def _moves() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alias": ["challenger", "champion", "challenger", "challenger", "champion"],
            "version": [1, 1, 2, 3, 3],
            "previous_version": pd.array([None, None, 1, 2, 1], dtype="Int32"),
            "sim_time": [T("2011-01-03"), T("2011-01-03"), T("2011-02-07"), T("2011-03-07"), T("2011-03-07")],
            "moved_at": pd.date_range("2026-01-01", periods=5, freq="s"),
            "reason": ["newly trained", "first", "newly trained", "newly trained", "promote: better"],
            "run_id": ["r1", "r1", "r2", "r3", "r3"],
        }
    )


def test_champion_figure_steps_through_versions_and_shows_kept_challengers() -> None:
    figure = fig.champion_figure(_moves(), end=T("2011-04-04"))
    traces = {trace.name: trace for trace in figure.data}
    assert list(traces["champion"].y) == [1, 3, 3]  # extended to the end of the history
    assert traces["champion"].line.shape == "hv"
    assert traces["became champion"].marker.symbol == theme.MARKER["retrain"]
    assert list(traces["kept out by the gate"].y) == [2]


def test_champion_figure_refuses_an_empty_registry() -> None:
    with pytest.raises(ValueError):
        fig.champion_figure(pd.DataFrame())


def test_quality_figure_has_production_never_retrained_and_retrain_markers() -> None:
    weekly = pd.DataFrame(
        {
            "sim_time": pd.date_range("2011-01-10", periods=4, freq="7D"),
            "quality": [np.nan, 20.0, 25.0, 21.0],
            "quality_never_retrained": [np.nan, 20.0, 30.0, 35.0],
            "quality_metric": ["mae"] * 4,
        }
    )
    runs = pd.DataFrame(
        {
            "sim_time": [T("2011-01-10"), T("2011-01-24"), T("2011-01-31")],
            "trigger": ["initial", "drift", "drift"],
            "status": ["succeeded", "succeeded", "failed"],
        }
    )
    figure = fig.quality_figure(weekly, runs)
    traces = {trace.name: trace for trace in figure.data}
    assert traces["never retrained (first model)"].line.dash == "dash"
    assert traces["never retrained (first model)"].line.color == theme.NEVER_RETRAINED
    assert traces["retrain"].marker.symbol == theme.MARKER["retrain"]
    assert list(traces["retrain"].y) == [25.0]  # on the production line at that week; the first
    # model's initial training is no retrain
    assert traces["retrain failed"].marker.symbol == theme.MARKER["failed"]
    assert figure.layout.yaxis.title.text == "MAE (lower is better)"


def test_quality_figure_draws_the_estimate_dashed_beside_realized_quality() -> None:
    weekly = pd.DataFrame(
        {
            "sim_time": pd.date_range("2011-01-10", periods=3, freq="7D"),
            "quality": [20.0, 25.0, np.nan],  # the last week's labels have not arrived
            "quality_estimated": [21.0, 22.0, 23.0],
            "quality_never_retrained": [20.0, 30.0, np.nan],
            "quality_metric": ["mae"] * 3,
        }
    )
    traces = {trace.name: trace for trace in fig.quality_figure(weekly).data}
    estimated = traces["production, estimated before labels"]
    assert estimated.line.dash == "dash" and estimated.line.color == theme.LIFECYCLE["mlops"]
    assert list(estimated.y) == [21.0, 22.0, 23.0]  # known the week it is served, labels or not
    assert "production, estimated before labels" not in {
        t.name for t in fig.quality_figure(weekly.drop(columns="quality_estimated")).data
    }


def test_quality_figure_needs_the_weekly_columns() -> None:
    with pytest.raises(ValueError, match="quality"):
        fig.quality_figure(pd.DataFrame({"sim_time": []}))


def _accuracy_weeks(metric: str = "accuracy", direction: str | None = "higher") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sim_time": pd.date_range("2011-01-10", periods=3, freq="7D"),
            "quality": [0.81, 0.78, 0.84],
            "quality_never_retrained": [0.81, 0.74, 0.70],
            "quality_metric": [metric] * 3,
            "quality_direction": [direction] * 3,
        }
    )


def test_quality_figure_of_a_classification_workspace_says_higher_is_better() -> None:
    figure = fig.quality_figure(_accuracy_weeks())
    assert figure.layout.yaxis.title.text == "accuracy (higher is better)"
    production = next(t for t in figure.data if t.name == "production (with retraining)")
    assert "%{y:.3f}" in production.hovertemplate


def test_quality_figure_takes_the_direction_from_the_weeks_not_from_a_name_list() -> None:
    figure = fig.quality_figure(_accuracy_weeks(metric="gini"))
    assert figure.layout.yaxis.title.text == "gini (higher is better)"


def test_weekly_metric_is_the_stored_metric_with_its_stored_direction() -> None:
    metric = fig.weekly_metric(_accuracy_weeks(metric="gini"))
    assert metric is not None and metric.name == "gini" and not metric.lower_is_better
    old = fig.weekly_metric(_accuracy_weeks(direction=None))  # rows from before the direction was stored
    assert old is not None and old.title == "accuracy (higher is better)"
    assert fig.weekly_metric(pd.DataFrame({"sim_time": []})) is None


def _gate(metric: str, direction: str | None, challenger: float, champion: float) -> dict:
    gate = {"gate_metric": metric, metric: challenger, f"champion_{metric}": champion,
            "champion_version": 2, "gate_margin": 0.1, "gate_decision": "promote"}  # fmt: skip
    return gate | ({"gate_direction": direction} if direction else {})


def test_gate_figure_reads_the_direction_the_evaluate_step_recorded() -> None:
    figure = fig.gate_figure(_gate("gini", "higher", 0.5, 0.4))
    assert figure.layout.shapes[0].x0 == pytest.approx(0.44)  # 0.4 * (1 + 0.1): higher is better
    assert figure.layout.annotations[0].text == "needs ≥ 0.44"
    assert "gini (higher is better)" in figure.layout.xaxis.title.text


def test_gate_card_colours_the_challenger_s_gain_by_the_recorded_direction() -> None:
    lower = fig.gate_card(_gate("pinball", "lower", 9.0, 10.0))
    assert lower is not None and lower["delta_color"] == "inverse"  # a lower challenger is the good news
    assert lower["label"] == "champion v2 pinball" and lower["value"] == "10"
    assert lower["delta"] == "-1" and "challenger − champion" in lower["help"]
    higher = fig.gate_card(_gate("accuracy", None, 0.9, 0.8))  # an old run: the registry knows accuracy
    assert higher is not None and higher["delta_color"] == "normal"
    assert fig.gate_card({"gate_metric": "mae", "mae": 22.5}) is None  # the first model: no champion


def test_tables_summarise_runs_registry_and_moves() -> None:
    runs = pd.DataFrame(
        {
            "run_id": ["r3", "r2", "r1", "r0"],
            "sim_time": [T("2011-03-07"), T("2011-02-07"), T("2011-01-03"), T("2011-01-01")],
            "trigger": ["drift", "drift", "schedule", "schedule"],
            "status": ["succeeded", "succeeded", "succeeded", "failed"],
            "label": ["w"] * 4,
            "steps": [
                [f"{s['name']}:{s['status']}" for s in _steps()],
                [*[f"{s['name']}:{s['status']}" for s in _steps()][:5], "deploy:skipped"],
                [f"{s['name']}:{s['status']}" for s in _steps()],
                [f"{s['name']}:{s['status']}" for s in _steps("failed")],
            ],
        }
    )
    versions = pd.DataFrame(
        {
            "version": [1, 2, 3],
            "run_id": ["r1", "r2", "r3"],
            "sim_time": [T("2011-01-03"), T("2011-02-07"), T("2011-03-07")],
            "window_start": [T("2010-11-08"), T("2010-12-13"), T("2011-01-10")],
            "window_end": [T("2011-01-03"), T("2011-02-07"), T("2011-03-07")],
            "metrics": [{"mae": 20.123456}, {"mae": 25.0}, {"mae": 19.0}],
            "sha256": ["a" * 64, "b" * 64, "c" * 64],
        }
    )
    table = fig.runs_table(runs, versions, _moves())
    assert list(table["steps"]) == ["6 ✓", "5 ✓ · deploy skipped", "6 ✓", "1 ✓ · validate failed"]
    assert list(table["model"]) == ["v3", "v2", "v1", "–"]
    assert list(table["champion"]) == ["promoted", "–", "promoted", "–"]
    registry = fig.registry_table(versions, _moves())
    assert list(registry["version"]) == ["v3", "v2", "v1"]
    assert registry.loc[0, "alias"] == "challenger, champion"
    assert registry.loc[2, "holdout mae"] == pytest.approx(20.1235)
    assert registry.loc[0, "sha256"] == "c" * 12
    assert registry.loc[0, "window"] == "2011-01-10 → 2011-03-07"
    moves = fig.moves_table(_moves())
    assert list(moves["previous"])[:2] == ["v1", "v2"]
    assert moves.loc[len(moves) - 1, "previous"] == "–"


def _many_moves(weeks: int = 80, per_week: int = 10) -> pd.DataFrame:
    """A big registry: each week `per_week` challengers, every other one promoted."""
    rows, version = [], 0
    for week in range(weeks):
        for k in range(per_week):
            version += 1
            at = T("2011-01-03") + pd.Timedelta(weeks=week, hours=k)
            rows.append(
                {"alias": "challenger", "version": version, "sim_time": at, "reason": "newly trained"}
            )
            if k % 2 == 0:
                rows.append(
                    {"alias": "champion", "version": version, "sim_time": at, "reason": "promote: better"}
                )
    return pd.DataFrame(rows)


def test_a_big_registry_draws_its_markers_one_per_week_and_says_so() -> None:
    """Thousands of diamonds took the browser seconds (issue 12): past MAX_MARKERS a trace draws the
    week's last version with how many the week had; the champion line stays exact."""
    moves = _many_moves()
    figure = fig.champion_figure(moves)
    traces = {trace.name: trace for trace in figure.data}
    assert len(traces["champion"].y) == 400  # every move: a line is one path, cheap to draw
    became = traces["became champion (one marker per week)"]
    kept = traces["kept out by the gate (one marker per week)"]
    assert len(became.x) == len(kept.x) == 80
    assert list(became.y[:2]) == [9, 19] and list(kept.y[:2]) == [10, 20]  # the week's last version
    assert [row[1] for row in became.customdata[:2]] == [5, 5]  # and how many the week had
    assert "%{customdata[1]}" in became.hovertemplate and "%{customdata[1]}" in kept.hovertemplate
    small = {trace.name for trace in fig.champion_figure(_many_moves(weeks=4)).data}
    assert small == {"champion", "became champion", "kept out by the gate"}  # few: one diamond each
