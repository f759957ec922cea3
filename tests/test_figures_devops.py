"""The DevOps page's pure builders on tiny frames."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import theme
from dashboard.figures import devops as figs

T = pd.Timestamp
STEPS = [
    {"position": 0, "name": "checkout", "status": "succeeded", "duration_ms": 26.0, "error": None},
    {"position": 1, "name": "build", "status": "cached", "duration_ms": 3.0, "error": None},
    {"position": 2, "name": "test", "status": "failed", "duration_ms": 575.0, "error": "2 test(s) failed"},
    {"position": 3, "name": "deploy", "status": "skipped", "duration_ms": None, "error": "skipped"},
]


def _runs() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["r2", "r1"], "kind": ["devops", "devops"], "trigger": ["commit", "commit"],
        "status": ["failed", "succeeded"], "sim_time": [T("2011-01-12 06:00"), T("2011-01-03")],
        "label": ["bug-caught: oops", "initial release"], "duration_ms": [640.0, 2100.0], "error": ["test: boom", None],
        "steps": [["checkout:succeeded", "test:failed", "deploy:skipped"], ["checkout:succeeded", "deploy:succeeded"]],
    })  # fmt: skip


def test_step_chain_is_one_box_per_step_coloured_by_status() -> None:
    fig = figs.step_chain_figure(list(reversed(STEPS)))  # order comes from `position`
    boxes = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [b.fillcolor for b in boxes] == [theme.status_colour(s["status"]) for s in STEPS]
    texts = [a.text for a in fig.layout.annotations if a.text]
    assert texts[0].startswith("<b>checkout</b>") and "575 ms" in texts[2] and "skipped" in texts[3]
    assert sum(1 for a in fig.layout.annotations if a.showarrow) == 3  # the arrows between the boxes
    assert "2 test(s) failed" in fig.data[0].hovertext[2]


def test_step_chain_needs_steps() -> None:
    with pytest.raises(ValueError, match="no steps"):
        figs.step_chain_figure([])


def test_step_title_and_durations_read_well() -> None:
    assert figs.step_title(STEPS[2]) == "✗ test: failed in 575 ms"
    assert figs.step_title(STEPS[3]) == "– deploy: skipped"
    assert [figs.format_ms(v) for v in (5.4, 1850.0, 125_000.0, None)] == ["5 ms", "1.85 s", "2.1 min", "–"]


def test_runs_frame_reads_as_a_table() -> None:
    table = figs.runs_frame(_runs())
    assert list(table.columns) == [
        "sim time",
        "change",
        "trigger",
        "status",
        "steps",
        "duration (s)",
        "run id",
    ]
    assert table.loc[0, "steps"] == "✓ checkout → ✗ test → – deploy"
    assert table.loc[0, "status"] == "✗ failed" and table.loc[1, "duration (s)"] == 2.1
    assert figs.runs_frame(pd.DataFrame()).empty


def test_duration_trend_marks_failed_runs() -> None:
    steps = pd.DataFrame([{**s, "run_id": "r2"} for s in STEPS])
    fig = figs.duration_trend_figure(_runs(), steps)
    trace = fig.data[0]
    assert list(trace.customdata) == ["r1", "r2"]  # oldest first
    assert list(trace.marker.color) == [theme.STATUS["succeeded"], theme.STATUS["failed"]]
    assert "test: 575 ms" in trace.hovertext[1]
    with pytest.raises(ValueError):
        figs.duration_trend_figure(pd.DataFrame())


def test_weekly_outcome_stacks_succeeded_and_failed() -> None:
    weekly = pd.DataFrame({
        "kind": ["devops", "devops", "mlops"], "week": [T("2011-01-03"), T("2011-01-10"), T("2011-01-03")],
        "runs": [2, 1, 5], "success_rate": [0.5, 1.0, 1.0], "median_duration_ms": [1.0, 1.0, 1.0], "failed": [1, 0, 0],
    })  # fmt: skip
    fig = figs.weekly_outcome_figure(weekly)
    assert [t.name for t in fig.data] == ["succeeded", "failed"] and fig.layout.barmode == "stack"
    assert list(fig.data[0].y) == [1, 1] and list(fig.data[1].y) == [1, 0]
    assert list(fig.data[0].customdata) == ["50%", "100%"]
    with pytest.raises(ValueError, match="no devops runs"):
        figs.weekly_outcome_figure(weekly[weekly["kind"] == "mlops"])


def test_deployment_and_incident_tables() -> None:
    deployments = pd.DataFrame({
        "deployment_id": ["a", "b", "m"], "kind": ["release", "release", "model"], "ref": ["111", "222", "v1"],
        "run_id": ["r1", None, "x"], "sim_time": [T("2011-01-03"), T("2011-01-13"), T("2011-01-03")],
        "unplanned": [False, True, False], "reason": [None, "rollback: errors", None],
        "replaced_by": ["b", None, None], "replaced_sim_time": [T("2011-01-13"), None, None],
        "rolled_back": [True, False, False],
    })  # fmt: skip
    table = figs.deployments_frame(deployments, _runs())
    assert list(table["release"]) == ["222", "111"]  # newest first, releases only
    assert list(table["outcome"]) == ["live", "rolled back"]
    assert list(table["change"]) == ["rollback: errors", "initial release"]
    incidents = pd.DataFrame({
        "kind": ["service", "model"], "status": ["resolved", "open"],
        "opened_sim_time": [T("2011-01-13"), T("2011-01-20")], "resolved_sim_time": [T("2011-01-14 12:00"), None],
        "cause": ["111", "v1"], "detected_by": ["error-rate alarm", "quality"], "summary": ["boom", "meh"],
    })  # fmt: skip
    service = figs.incidents_frame(incidents)
    assert len(service) == 1 and service.loc[0, "lasted (h)"] == 36.0
