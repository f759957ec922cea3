"""AppTest of the DevOps page over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
from pathlib import Path

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
    at.switch_page("views/devops.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _chart_names(at: AppTest) -> dict[str, list[str]]:
    return {
        c.proto.id: [t.get("name") for t in json.loads(c.proto.spec)["data"]] for c in at.get("plotly_chart")
    }


def test_devops_page_shows_dora_keys_runs_steps_trends_and_tables(app_env: Path) -> None:
    at = _page()
    metrics = {m.label: m.value for m in at.metric}
    assert {"Deployment frequency", "Lead time for changes", "Change failure rate"} <= set(metrics)
    runs = at.dataframe[0].value
    expected = runs_table(Store(app_env), "demo", "devops")
    assert len(runs) == len(expected) and list(runs["run id"]) == list(expected["run_id"])
    assert runs["steps"].str.contains("checkout").all()
    assert at.selectbox(key="devops_run").value == expected["run_id"].iloc[0]  # newest by default
    assert len(at.get("plotly_chart")) == 3  # step chain, duration trend, weekly outcome
    assert any(name == "succeeded" for names in _chart_names(at).values() for name in names)
    deployments = next(d.value for d in at.dataframe if "release" in d.value.columns)
    assert "rolled back" in set(deployments["outcome"])  # bad-friday-deploy rolls back
    assert any("SELECT" in c.value.upper() for c in at.code)  # the SQL behind the keys


def test_deep_link_preselects_a_devops_run_and_choosing_updates_the_link(app_env: Path) -> None:
    ids = list(runs_table(Store(app_env), "demo", "devops")["run_id"])
    at = _page(run=ids[-1])
    assert at.selectbox(key="devops_run").value == ids[-1]
    assert any(ids[-1] in str(c.value) for c in at.caption)
    at.selectbox(key="devops_run").set_value(ids[0]).run()
    assert not at.exception
    assert at.query_params["run"] == ids[0]
    assert any(ids[0] in str(c.value) for c in at.caption)


def test_deep_link_to_an_mlops_run_is_ignored(app_env: Path) -> None:
    store = Store(app_env)
    mlops_id = runs_table(store, "demo", "mlops")["run_id"].iloc[0]
    at = _page(run=mlops_id)
    assert at.selectbox(key="devops_run").value == runs_table(store, "demo", "devops")["run_id"].iloc[0]


def test_empty_workspace_shows_what_to_do(app_env: Path) -> None:
    at = _page("empty")
    assert any("no history yet" in str(i.value) for i in at.info)
    assert not at.metric
