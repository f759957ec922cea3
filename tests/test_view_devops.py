"""AppTest of the DevOps page over a real short scenario (tests/conftest.py: `app_env`)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pipelines.store import Store
from pipelines.store.queries import runs_table
from pipelines.store.run_sql import run_params
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
    # A key's formula, rows and SQL are read and drawn when its expander is opened, not on every visit
    assert not any("SELECT" in c.value.upper() for c in at.code)
    at.session_state["details_deployment_frequency_open"] = True
    at.run()
    assert any("SELECT" in c.value.upper() for c in at.code)  # the SQL behind the key


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


def test_a_devops_run_shows_its_gantt_parameters_and_the_diff_it_built(app_env: Path) -> None:
    store = Store(app_env)
    runs = runs_table(store, "demo", "devops")
    params = run_params(store, "demo", list(runs["run_id"]))
    run_id, sha = next(
        (r, dict(zip(g["key"], g["value"], strict=True))["commit"])
        for r, g in params.groupby("run_id")
        if dict(zip(g["key"], g["value"], strict=True))["changes"] == "windchill-feature"
    )
    at = _page(run=run_id)
    gantt = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("devops_gantt")).proto.spec
    )
    bars = [t for t in gantt["data"] if t["type"] == "bar"]
    assert sorted(y for t in bars for y in t["y"]) == sorted(["checkout", "build", "test", "deploy"])
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["parameter", "value"])
    shown = dict(zip(table["parameter"], table["value"], strict=True))
    assert shown["commit"] == sha and shown["changes"] == "windchill-feature"
    assert "devops.error_rate_alarm" in shown
    diff = next(c.value for c in at.code if c.value.startswith("commit "))
    assert (
        diff.startswith(f"commit {sha}") and "diff --git" in diff and "Change-Id: windchill-feature" in diff
    )
    assert not [d for d in at.dataframe if "run A" in d.value.columns]  # drawn when opened
    at.session_state["devops_compare_open"] = True
    at.run()
    compared = [d.value for d in at.dataframe if "run A" in d.value.columns]
    assert len(compared) == 2
    by_key = compared[0].set_index("key")
    assert by_key.loc["commit", "run A"] == sha and by_key.loc["commit", "≠"] == "≠"
    other = next(r for r in runs["run_id"] if r != run_id)
    at.selectbox(key="devops_compare_b").set_value(other).run()
    compared = [d.value for d in at.dataframe if "run A" in d.value.columns]
    other_commit = runs.set_index("run_id").loc[other, "input_fingerprint"]
    assert compared[0].set_index("key").loc["commit", "run B"] == other_commit


def test_a_devops_run_whose_repository_is_gone_says_so(app_env: Path, tmp_path: Path, monkeypatch) -> None:
    import shutil

    from pipelines.devops.workflow import repo_dir

    copy = tmp_path / "opslab.duckdb"
    shutil.copy(app_env, copy)  # the same history, without the workspace's files
    monkeypatch.setenv("OPSLAB_DB", str(copy))
    assert not repo_dir(Store(copy), "demo").exists()
    at = _page()
    assert any("git repository is gone" in i.value for i in at.info)
    assert not any(c.value.startswith("commit ") for c in at.code)


def test_a_bogus_run_link_is_named_before_the_newest_run_shows(app_env: Path) -> None:
    at = _page("demo", run="no-such-run")
    assert any("There is no DevOps run 'no-such-run' in workspace demo" in w.value for w in at.warning)


def test_an_invalid_workspace_link_is_named_not_ignored(app_env: Path) -> None:
    at = _page("../etc")
    assert any("The link's workspace cannot be opened" in w.value for w in at.warning)
    assert at.session_state.workspace == "demo"
