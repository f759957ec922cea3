"""The Timeline's pure builders on tiny frames: markers, lanes, linked hover, click-through ids."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import theme
from dashboard.figures.timeline import (
    EVENT_COLUMNS,
    clicked_run,
    events_of_kinds,
    timeline_events,
    timeline_figure,
)

T = pd.Timestamp


def _runs() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["d1", "d2", "d3", "m1", "m2", "m3"],
        "kind": ["devops", "devops", "devops", "mlops", "mlops", "mlops"],
        "trigger": ["commit", "commit", "commit", "schedule", "drift", "performance"],
        "status": ["succeeded", "failed", "succeeded", "succeeded", "succeeded", "failed"],
        "sim_time": [T("2011-01-03"), T("2011-01-12"), T("2011-01-20"), T("2011-01-03"), T("2011-01-17"),
                     T("2011-01-24")],
        "label": ["initial release", "bug-caught: oops", "bug-escaped: worse", "window 1", "window 2", "window 3"],
        "error": [None, "test: 2 test(s) failed", None, None, None, "validate: bad rows"],
    })  # fmt: skip


def _deployments() -> pd.DataFrame:
    return pd.DataFrame({
        "deployment_id": ["r1", "r3", "rb", "mv1", "mv2"],
        "kind": ["release", "release", "release", "model", "model"],
        "ref": ["aaa1111", "ccc3333", "aaa1111", "v1", "v2"],
        "run_id": ["d1", "d3", None, "m1", "m2"],
        "sim_time": [T("2011-01-03"), T("2011-01-20"), T("2011-01-21"), T("2011-01-03"), T("2011-01-17")],
        "commit_sha": ["aaa1111xx", "ccc3333xx", "aaa1111xx", None, None],
        "unplanned": [False, False, True, False, False],
        "reason": [None, None, "rollback: error rate 100% > 5%", "trigger: schedule", "trigger: drift"],
        "replaced_by": ["r3", "rb", None, "mv2", None],
        "rolled_back": [False, True, False, False, False],
    })  # fmt: skip


def _incidents() -> pd.DataFrame:
    return pd.DataFrame({
        "incident_id": ["i1"], "kind": ["service"], "status": ["resolved"],
        "opened_sim_time": [T("2011-01-21")], "resolved_sim_time": [T("2011-01-22")],
        "cause": ["ccc3333"], "cause_deployment_id": ["r3"], "detected_by": ["error-rate alarm"],
        "summary": ["error rate 100% > 5%"],
    })  # fmt: skip


def _weekly(weeks: int = 4) -> pd.DataFrame:
    return pd.DataFrame({
        "week": range(1, weeks + 1),
        "sim_time": pd.date_range("2011-01-10", periods=weeks, freq="7D"),
        "error_rate": [0.0, 0.0, 0.14, 0.0][:weeks],
        "latency_p95_ms": [10.0, 12.0, 11.0, 9.0][:weeks],
        "quality": [20.0, 22.0, 21.0, 23.0][:weeks],
        "quality_never_retrained": [20.0, 25.0, 30.0, 35.0][:weeks],
        "drift_share": [0.2, 0.6, 0.4, 0.8][:weeks],
        "quality_metric": ["mae"] * weeks,
    })  # fmt: skip


def test_events_cover_releases_rollbacks_failures_incidents_and_retrains() -> None:
    events = timeline_events(_runs(), _deployments(), _incidents())
    assert list(events.columns) == EVENT_COLUMNS
    assert events["sim_time"].is_monotonic_increasing
    by_event = events.groupby("event")["run_id"].apply(list).to_dict()
    assert by_event["release"] == ["d1", "d3"]
    assert by_event["failed"] == ["d2", "m3"]  # a failed pipeline never shipped; a failed retrain
    assert by_event["rollback"] == ["d3"]  # a rollback opens the run of the release it undid
    assert by_event["incident"] == ["d3"]  # an incident opens the run that caused it
    assert by_event["retrain"] == ["m1", "m2"]
    retrain = events[events["run_id"] == "m2"].iloc[0]
    assert retrain["lane"] == "mlops" and "promoted model v2" in retrain["detail"]
    release = events[(events["event"] == "release") & (events["run_id"] == "d3")].iloc[0]
    assert "bug-escaped: worse" in release["detail"] and "rolled back" in release["detail"]
    incident = events[events["event"] == "incident"].iloc[0]
    assert "lasted 24 h" in incident["detail"]


def test_figure_has_both_lanes_on_one_linked_time_axis() -> None:
    events = timeline_events(_runs(), _deployments(), _incidents())
    fig = timeline_figure(_weekly(), events, _incidents())
    names = [t.name for t in fig.data]
    for name in ("release deployed", "rollback", "pipeline failed", "incident (shaded while open)",
                 "retrain on schedule", "retrain on drift", "retrain failed", "error rate (%)",
                 "p95 latency (ms)", "production model (MAE)", "never retrained (MAE)", "drift share"):  # fmt: skip
        assert name in names, name
    assert {t.xaxis for t in fig.data} == {"x"}  # one axis: a hover shows every lane at that week
    assert fig.layout.hovermode == "x unified" and fig.layout.hoversubplots == "axis"
    assert fig.layout.xaxis.rangeslider.visible
    release = next(t for t in fig.data if t.name == "release deployed")
    assert list(release.customdata) == ["d1", "d3"] and release.marker.symbol == theme.MARKER["release"]
    assert release.marker.color == theme.LIFECYCLE["devops"]
    drift_retrain = next(t for t in fig.data if t.name == "retrain on drift")
    assert drift_retrain.marker.symbol == theme.MARKER["retrain"]
    assert drift_retrain.marker.line.color == theme.LIFECYCLE["mlops"]
    never = next(t for t in fig.data if t.name == "never retrained (MAE)")
    assert never.line.dash == "dash" and never.line.color == theme.NEVER_RETRAINED
    assert any(s.type == "line" and s.y0 == 0.5 for s in fig.layout.shapes)  # the dataset-drift line
    assert any(s.type == "rect" and s.yref == "paper" for s in fig.layout.shapes)  # the incident span
    assert "lower is better" in " ".join(a.text for a in fig.layout.annotations)


def test_figure_without_events_still_draws_the_weekly_signals() -> None:
    fig = timeline_figure(_weekly(2), timeline_events(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()))
    assert [t.name for t in fig.data] == ["error rate (%)", "p95 latency (ms)", "never retrained (MAE)",
                                          "production model (MAE)", "drift share"]  # fmt: skip


def test_figure_needs_weeks() -> None:
    with pytest.raises(ValueError, match="weekly table is empty"):
        timeline_figure(_weekly().iloc[0:0], timeline_events(_runs(), _deployments(), _incidents()))


def test_clicked_run_takes_the_first_marker_with_a_run() -> None:
    lines_then_marker = {"selection": {"points": [{"curve_number": 7, "x": "2011-01-20"},
                                                  {"curve_number": 0, "customdata": "d3"},
                                                  {"curve_number": 4, "customdata": "m2"}]}}  # fmt: skip
    assert clicked_run(lines_then_marker) == "d3"
    assert clicked_run({"selection": {"points": [{"customdata": ["m1"]}]}}) == "m1"
    assert clicked_run({"selection": {"points": [{"customdata": ""}]}}) is None
    assert clicked_run(None) is None


def _accuracy_weekly(direction: str | None = "higher", metric: str = "accuracy") -> pd.DataFrame:
    """A classification workspace's weeks: quality is accuracy, and higher is better."""
    return _weekly().assign(quality=[0.81, 0.80, 0.78, 0.83], quality_never_retrained=[0.81, 0.77, 0.74, 0.70],
                            quality_metric=metric, quality_direction=direction)  # fmt: skip


def _quality_title(fig: object) -> str:
    return next(a.text for a in fig.layout.annotations if "model quality" in a.text)  # type: ignore[attr-defined]


def test_a_classification_workspace_s_quality_lane_says_higher_is_better() -> None:
    fig = timeline_figure(_accuracy_weekly(), timeline_events(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()))
    title = _quality_title(fig)
    assert "accuracy" in title and "higher is better" in title and "lower" not in title
    production = next(t for t in fig.data if t.name == "production model (accuracy)")
    assert "%{y:.3f}" in production.hovertemplate  # 0.812, not 0.8: the metric's own precision


def test_the_quality_lane_draws_the_estimate_dashed_beside_realized_quality() -> None:
    no_events = timeline_events(pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    weekly = _weekly().assign(quality_estimated=[21.0, 21.5, 22.0, 30.0])
    estimated = next(
        t for t in timeline_figure(weekly, no_events).data if t.name == "production, estimated (MAE)"
    )
    assert estimated.line.dash == "dash" and estimated.line.color == theme.LIFECYCLE["mlops"]
    assert list(estimated.y) == [21.0, 21.5, 22.0, 30.0]
    assert all("estimated" not in str(t.name) for t in timeline_figure(_weekly(), no_events).data)


def test_the_quality_lane_reads_the_direction_stored_with_the_weeks() -> None:
    """A metric the dashboard has no label for still gets its direction: from the data, not a name list."""
    fig = timeline_figure(_accuracy_weekly(metric="gini"), timeline_events(pd.DataFrame(), pd.DataFrame(),
                                                                         pd.DataFrame()))  # fmt: skip
    assert "gini (higher is better)" in _quality_title(fig)


def test_the_reading_guide_names_the_metric_and_its_direction() -> None:
    from dashboard.figures.timeline import quality_reading

    assert "higher is better" in quality_reading(_accuracy_weekly())
    assert "accuracy" in quality_reading(_accuracy_weekly())
    assert "lower is better" in quality_reading(_weekly().assign(quality_direction="lower"))


def test_the_first_model_is_drawn_as_its_initial_training_not_a_retrain() -> None:
    runs = _runs()
    runs.loc[runs["kind"] == "mlops", "trigger"] = [
        "initial",
        *["schedule"] * (int((runs["kind"] == "mlops").sum()) - 1),
    ]
    events = timeline_events(runs, _deployments(), _incidents())
    names = [t.name for t in timeline_figure(_weekly(), events, _incidents()).data]
    assert "first model (initial training)" in names
    assert not any("retrain" in n and "first model" in n for n in names)


def test_hovering_a_week_says_what_was_in_production() -> None:
    weekly = _weekly().assign(release=["a1b2c3d", "a1b2c3d", "e4f5a6b", None], model_version=[1, 2, 2, None])
    fig = timeline_figure(weekly, timeline_events(_runs(), _deployments(), _incidents()), _incidents())
    errors = next(t for t in fig.data if t.name == "error rate (%)")
    assert list(errors.customdata) == ["release a1b2c3d, model v1", "release a1b2c3d, model v2",
                                       "release e4f5a6b, model v2", "release none, model none"]  # fmt: skip
    assert "in production: %{customdata}" in errors.hovertemplate


def test_no_events_of_any_kind_keep_their_columns() -> None:
    none = timeline_events(pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert list(events_of_kinds(none, {("devops", "release")}).columns) == EVENT_COLUMNS
