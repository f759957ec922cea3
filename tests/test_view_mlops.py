"""AppTest of the MLOps page over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from pipelines.store.queries import runs_table
from pipelines.store.run_sql import run_params, run_trends
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
    runs = next(d.value for d in at.dataframe if "label" in d.value.columns)  # past the keys' receipts
    assert {"sim time", "trigger", "status", "steps", "label"} <= set(runs.columns)
    assert len(runs) == len(runs_table(Store(app_env), "demo", "mlops", limit=100))
    registry = next(d.value for d in at.dataframe if "sha256" in d.value.columns)
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
    failed = next(d.value for d in at.dataframe if "column" in d.value.columns)  # the failed checks
    assert "temp" in set(failed["column"])
    assert any("never reached the gate" in i.value for i in at.info)


@pytest.fixture
def unlabelled_metric_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A handcrafted workspace judged on a metric the dashboard has no label for (`pinball`, lower is
    better): only the direction stored with the weeks and the gate can tell the page which way is good."""
    import pandas as pd
    import streamlit as st

    from pipelines.store import records as rec

    path = tmp_path / "opslab.duckdb"
    store = Store(path)
    weeks = pd.date_range("2011-01-08", periods=3, freq="7D")
    for n, (when, quality, never) in enumerate(zip(weeks, [10.0, 9.5, 9.0], [10.0, 11.0, 12.0], strict=True)):
        rec.record_weekly(store, {"workspace": "pin", "week": n + 1, "sim_time": when.to_pydatetime(),
                                  "quality": quality, "quality_never_retrained": never,
                                  "quality_metric": "pinball", "quality_direction": "lower"})  # fmt: skip
    run = store.start_run(
        workspace="pin", kind="mlops", trigger="schedule", sim_time=weeks[-1].to_pydatetime()
    )
    gate = {"gate_metric": "pinball", "gate_direction": "lower", "pinball": 9.0, "champion_pinball": 10.0,
            "champion_version": 1, "gate_margin": 0.05, "gate_decision": "promote",
            "gate_reason": "promote: challenger pinball 9 vs champion 10 (needs ≤ 9.5, margin 5%)"}  # fmt: skip
    store.insert_rows("steps", [{"run_id": run, "workspace": "pin", "position": 3, "name": "evaluate",
                                 "status": "succeeded", "metrics": gate}])  # fmt: skip
    store.finish_run(run, "succeeded")
    monkeypatch.setenv("OPSLAB_DB", str(path))
    st.cache_data.clear()
    return path


def test_the_page_reads_the_metric_s_direction_from_the_data(unlabelled_metric_db: Path) -> None:
    """No label is parsed: the stored direction says a lower pinball loss is the good news."""
    at = _page(workspace="pin")
    assert any("pinball (lower is better)" in c.value for c in at.caption)
    quality = next(c["spec"] for c in _charts(at).values() if "production (with retraining)" in c["names"])
    assert quality["layout"]["yaxis"]["title"]["text"] == "pinball (lower is better)"
    champion = next(m for m in at.metric if m.label.startswith("champion v1"))
    assert champion.proto.color == MetricProto.MetricColor.GREEN  # challenger 9 < champion 10: better


def test_a_run_shows_its_gantt_parameters_and_compares_with_another(app_env: Path) -> None:
    store = Store(app_env)
    runs = runs_table(store, "demo", "mlops", limit=100)
    newest, older = runs["run_id"].iloc[0], runs["run_id"].iloc[1]
    at = _page(run=newest)
    gantt = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("mlops_gantt")).proto.spec
    )
    bars = [t for t in gantt["data"] if t["type"] == "bar"]
    assert sorted(y for t in bars for y in t["y"]) == sorted(s["name"] for s in store.steps(newest))
    assert all("base" in t for t in bars)  # each bar starts when its step started
    params = next(d.value for d in at.dataframe if list(d.value.columns) == ["parameter", "value"])
    recorded = dict(zip(params["parameter"], params["value"], strict=True))
    stored = run_params(store, "demo", [newest])

    def same(value: str) -> object:  # times are shown to the minute, '2011-04-04 00:00'
        return pd.Timestamp(value) if value[:4].isdigit() and value[4:5] == "-" else value

    assert {k: same(v) for k, v in recorded.items()} == {
        k: "–" if pd.isna(v) else same(v) for k, v in zip(stored["key"], stored["value"], strict=True)
    }
    assert {"seed", "window_weeks", "as_of", "model.learning_rate", "drift.method", "policy.kind"} <= set(
        recorded
    )
    assert not [d for d in at.dataframe if "run A" in d.value.columns]  # drawn when opened
    at.session_state["mlops_compare_open"] = True
    at.run()
    compared = [d.value for d in at.dataframe if "run A" in d.value.columns]
    assert len(compared) == 2  # parameters, then metrics
    by_key = compared[0].set_index("key")
    older_params = dict(zip(*run_params(store, "demo", [older])[["key", "value"]].T.values, strict=True))
    assert pd.Timestamp(by_key.loc["as_of", "run B"]) == pd.Timestamp(
        older_params["as_of"]
    )  # the run before A
    assert by_key.loc["as_of", "≠"] == "≠" and by_key.loc["seed", "≠"] == ""
    assert "evaluate.status" in set(compared[1]["key"])
    at.toggle(key="mlops_compare_only").set_value(True).run()
    compared = [d.value for d in at.dataframe if "run A" in d.value.columns]
    assert (compared[0]["≠"] == "≠").all() and "seed" not in set(compared[0]["key"])
    trends = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("mlops_trends")).proto.spec
    )
    p95 = next(t for t in trends["data"] if t["name"] == "p95 duration")
    expected = run_trends(store, "demo", "mlops", bucket_weeks=4)
    y = p95["y"]  # plotly sends numeric arrays base64-encoded
    y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
    assert list(y) == pytest.approx(list(expected["p95_ms"] / 1000))


def test_a_bogus_run_link_is_named_before_the_newest_run_shows(app_env: Path) -> None:
    at = _page("demo", run="no-such-run")
    assert any("There is no MLOps run 'no-such-run' in workspace demo" in w.value for w in at.warning)
