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
