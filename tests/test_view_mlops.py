"""AppTest of the MLOps page over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from pipelines.store.queries import runs_table
from tests.conftest import APP


def _page(workspace: str | None = None, run: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if workspace:
        at.query_params["workspace"] = workspace
    if run:
        at.query_params["run"] = run
    at.switch_page("views/mlops.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _charts(at: AppTest) -> dict[str, dict]:
    specs = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        names = [trace.get("name") for trace in spec["data"]]
        specs[chart.proto.id] = {"names": names, "spec": spec}
    return specs


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_mlops_page_shows_keys_quality_runs_gate_and_registry(app_env: Path) -> None:
    at = _page()
    metrics = _metrics(at)
    assert "Retraining frequency" in metrics and "Model staleness" in metrics
    assert any(label.startswith("challenger ") for label in metrics)  # the chosen run's gate
    names = [name for chart in _charts(at).values() for name in chart["names"]]
    assert "never retrained (first model)" in names and "production (with retraining)" in names
    assert "champion" in names  # the registry's champion-over-time chart
    runs = at.dataframe[0].value
    assert {"sim time", "trigger", "status", "steps", "label"} <= set(runs.columns)
    assert len(runs) == len(runs_table(Store(app_env), "demo", "mlops", limit=100))
    registry = at.dataframe[1].value
    assert registry.loc[0, "version"].startswith("v") and len(registry.loc[0, "sha256"]) == 12
    assert any(
        "promote" in str(s.value) or "no champion yet" in str(s.value) for s in [*at.success, *at.warning]
    )


def test_choosing_a_run_shows_its_steps_and_gate(app_env: Path) -> None:
    at = _page()
    ids = at.selectbox(key="mlops_run").options
    first_run = runs_table(Store(app_env), "demo", "mlops", limit=100)["run_id"].iloc[-1]
    assert len(ids) >= 2
    at.selectbox(key="mlops_run").set_value(first_run).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="mlops_run").value == first_run
    # the first model has no champion to beat
    assert any("no champion yet" in str(s.value) for s in at.success)


def test_a_run_deep_link_preselects_that_run(app_env: Path) -> None:
    runs = runs_table(Store(app_env), "demo", "mlops", limit=100)
    wanted = runs["run_id"].iloc[-1]
    at = _page(run=wanted)
    assert at.selectbox(key="mlops_run").value == wanted


def test_a_devops_run_link_falls_back_to_the_newest_mlops_run(app_env: Path) -> None:
    runs = runs_table(Store(app_env), "demo", None, limit=100)
    devops = runs.loc[runs["kind"] == "devops", "run_id"].iloc[0]
    at = _page(run=devops)
    newest = runs.loc[runs["kind"] == "mlops", "run_id"].iloc[0]
    assert at.selectbox(key="mlops_run").value == newest


def test_an_empty_workspace_shows_what_to_do(app_env: Path) -> None:
    at = _page(workspace="empty")
    assert at.info and "no history yet" in at.info[0].value
    assert not at.get("plotly_chart")


@pytest.fixture
def failed_validate_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace whose only MLOps run failed at validate (temperature sent in Fahrenheit)."""
    import streamlit as st

    from pipelines.mlops.pipeline import run_mlops_pipeline
    from pipelines.mlops.simulator import SimulatorSettings, UpstreamChange
    from pipelines.mlops.sources import load_dataset

    path = tmp_path / "opslab.duckdb"
    bugged = load_dataset(
        "simulated",
        simulator=SimulatorSettings(
            weeks=20, seed=3, upstream_changes=(UpstreamChange("fahrenheit", "temp", onset_week=10),)
        ),
    )
    assert run_mlops_pipeline(Store(path), "bug", bugged, as_of="2011-05-01").status == "failed"
    monkeypatch.setenv("OPSLAB_DB", str(path))
    st.cache_data.clear()
    return path


def test_a_failed_validate_shows_its_report(failed_validate_db: Path) -> None:
    at = _page(workspace="bug")
    assert any("Validation stopped this retrain" in w.value for w in at.warning)
    assert any("validation failed" in c.value and "temp" in c.value for c in at.code)
    failed = at.dataframe[1].value  # the failed checks, after the runs table
    assert "temp" in set(failed["column"])
    assert any("never reached the gate" in i.value for i in at.info)
