"""AppTest of the Drift page over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from tests.conftest import APP


def _page(workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if workspace:
        at.query_params["workspace"] = workspace
    at.switch_page("views/drift.py")
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _drifting(at: AppTest) -> int:
    return int(_metrics(at)["Features drifting"].split(" of ")[0])


def _distribution_type(spec: dict) -> str:
    """The distribution figure: histograms for numbers, bars for categories."""
    kind = spec["data"][0]["type"]
    assert kind in ("histogram", "bar")
    return kind


def test_drift_page_shows_heatmap_distributions_whatif_and_demo(app_env: Path) -> None:
    at = _page()
    specs = _specs(at)
    assert [spec["data"][0]["type"] for spec in specs] == [
        "heatmap",
        _distribution_type(specs[1]),
        "bar",
        "scatter",
    ]
    heat = specs[0]["data"][0]
    drift = Store(app_env).select("drift", "demo")
    assert len(heat["x"]) == drift["sim_time"].nunique()
    assert "prediction (model output)" in heat["y"] and "target (labels, when they arrive)" in heat["y"]
    metrics = _metrics(at)
    assert {"Statistic", "Threshold", "p-value", "PSI", "Features drifting", "Dataset drift"} <= set(metrics)
    assert "Recorded verdict" in metrics
    assert any("Why this test" in box.value for box in [*at.success, *at.warning])
    # The design, explained on the page: the workspace's method and why its thresholds are calibrated.
    assert any("method: **calibrated**" in c.value for c in at.caption)
    assert "Why calibrated thresholds" in [h.value for h in at.subheader]
    assert any("own weeks" in m.value for m in at.markdown)
    assert "n = " in specs[1]["data"][0]["name"]  # reference vs current, with their sizes


def test_choosing_a_week_and_a_feature_redraws_the_distributions(app_env: Path) -> None:
    at = _page()
    weeks = at.selectbox(key="drift_week").options
    first_week = int(weeks[0].split()[1])  # options read "week 1 · to 2011-… · model v1 · 40% drift"
    at.selectbox(key="drift_week").set_value(first_week).run()
    _ok(at)
    assert at.selectbox(key="drift_week").value == first_week
    features = at.selectbox(key="drift_feature").options
    at.selectbox(key="drift_feature").set_value("weathersit").run()
    _ok(at)
    assert at.selectbox(key="drift_feature").value == "weathersit"
    assert "weathersit" in {f.split(" ")[0] for f in features}
    spec = _specs(at)[1]
    assert spec["data"][0]["type"] == "bar"  # weathersit is a category
    assert "weathersit" in spec["layout"]["xaxis"]["title"]["text"]


def test_the_threshold_what_if_recomputes_the_verdicts(app_env: Path) -> None:
    at = _page()
    slider = at.slider(key="drift_threshold")
    slider.set_value(slider.min).run()
    _ok(at)
    loose = _drifting(at)
    at.slider(key="drift_threshold").set_value(at.slider(key="drift_threshold").max).run()
    _ok(at)
    strict = _drifting(at)
    assert loose >= strict
    assert loose > 0  # a threshold this low flags the weather of any week against another window


def test_an_empty_workspace_shows_what_to_do(app_env: Path) -> None:
    at = _page(workspace="empty")
    assert at.info and "no history yet" in at.info[0].value
    assert not at.get("plotly_chart")
