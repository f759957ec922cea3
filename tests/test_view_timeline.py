"""AppTest of the Timeline over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from pipelines.store.queries import runs_table
from tests.conftest import APP


def _page(workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if workspace:
        at.query_params["workspace"] = workspace
    at.switch_page("views/timeline.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_timeline_draws_both_lanes_with_clickable_markers(app_env: Path) -> None:
    at = _page()
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    assert {"release deployed", "retrain on schedule", "error rate (%)", "p95 latency (ms)",
            "never retrained (MAE)", "drift share"} <= set(traces)  # fmt: skip
    assert {t.get("xaxis", "x") for t in spec["data"]} == {"x"}
    assert spec["layout"]["hovermode"] == "x unified"
    devops_ids = set(runs_table(Store(app_env), "demo", "devops")["run_id"])
    assert set(traces["release deployed"]["customdata"]) <= devops_ids
    # bad-friday-deploy: the escaped bug opens an incident and production rolls back
    assert "rollback" in traces and "incident (shaded while open)" in traces
    picker = at.selectbox(key="timeline_run_picker")
    assert picker.value is None and len(picker.options) >= len(traces["release deployed"]["customdata"])
    # The story under the chart is the play's; the preset's narrative only as its intent.
    assert any(m.value.startswith("**DevOps**") and "release" in m.value for m in at.markdown)
    assert any("bad-friday-deploy set out to show" in e.label for e in at.expander)


def test_picking_a_devops_run_opens_it_on_the_devops_page(app_env: Path) -> None:
    at = _page()
    release = runs_table(Store(app_env), "demo", "devops")
    run_id = release[release["status"] == "succeeded"]["run_id"].iloc[-1]
    at.selectbox(key="timeline_run_picker").set_value(run_id).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["run"] == run_id
    assert at.selectbox(key="devops_run").value == run_id  # we are on the DevOps page, run chosen
    assert any(run_id in str(c.value) for c in at.caption)


def test_picking_a_retrain_opens_the_mlops_page(app_env: Path) -> None:
    at = _page()
    run_id = runs_table(Store(app_env), "demo", "mlops")["run_id"].iloc[0]
    at.selectbox(key="timeline_run_picker").set_value(run_id).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.query_params["run"] == run_id
    assert "timeline_run_picker" not in [s.key for s in at.selectbox]  # we left the Timeline


def test_empty_workspace_shows_what_to_do(app_env: Path) -> None:
    at = _page("empty")
    assert any("no history yet" in str(i.value) for i in at.info)
    assert not at.get("plotly_chart")


def test_a_play_stopped_before_its_first_marker_shows_no_error(app_env: Path) -> None:
    """A play stopped before anything shipped leaves a run but no marker (CI caught the Timeline
    failing with KeyError 'run_id': filtering no events by kind dropped their columns)."""
    Store(app_env).start_run(workspace="stopped-early", kind="devops", trigger="commit", sim_time=None)
    at = _page("stopped-early")
    assert not at.get("plotly_chart")
    assert any("no scenario week" in str(i.value) for i in at.info)
