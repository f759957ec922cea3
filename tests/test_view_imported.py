"""Every page on an imported workspace (issue #12): what the history holds, and what its source cannot
tell said as unknown with why, never as zero, and never "play a scenario".

Two workspaces in one history: `git-story`, the git importer's hand-counted repository
(tests/test_import_git.py `build_story`), and `cicd`, CI runs, releases and a rollback redeploy as the
GitHub importer writes them plus MLflow runs, versions and alias moves as the MLflow importer writes
them, landed through the import foundation with no incident issue.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.devops.metrics import dora_keys
from pipelines.importers.git import import_git
from pipelines.importers.unknowns import UNKNOWN, import_unknowns, unknown_keys
from pipelines.mlops.metrics import ml_keys
from pipelines.store import Store
from pipelines.store.landing_sql import LandedRecord, land_and_transform
from tests.conftest import APP
from tests.test_import_git import build_story

T0 = datetime(2026, 3, 2, 9, 0)
TEXT_KINDS = ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader")


def _cicd(store: Store, workspace: str) -> None:
    """Six GitHub Actions runs (one failed), four releases to production (the fourth redeploys the
    second's commit: a rollback), their commits; three MLflow runs, two versions, champion moves."""
    runs, steps, deployments, changes = [], [], [], []
    records = []
    for i in range(6):
        sha, start = f"{i + 1:x}" * 40, T0 + timedelta(days=2 * i)
        status = "failed" if i == 3 else "succeeded"
        run_id = f"github:run:{1000 + i}"
        runs.append({"run_id": run_id, "workspace": workspace, "kind": "devops", "trigger": "commit",
                     "status": status, "sim_time": start, "started_at": start,
                     "finished_at": start + timedelta(minutes=5), "duration_ms": 300_000.0,
                     "input_fingerprint": sha, "label": "CI"})  # fmt: skip
        for position, name in enumerate(("build: Set up job", "build: Run tests")):
            failed = status == "failed" and position == 1
            steps.append({"run_id": run_id, "workspace": workspace, "position": position, "name": name,
                          "status": "failed" if failed else "succeeded", "started_at": start,
                          "finished_at": start + timedelta(minutes=2), "duration_ms": 120_000.0, "metrics": "{}"})  # fmt: skip
        changes.append({"workspace": workspace, "commit_sha": sha, "change_id": f"github:commit:{sha}",
                        "kind": "commit", "message": f"change {i}", "committed_sim_time": start - timedelta(hours=3),
                        "deployment_id": None, "deployed_sim_time": None})  # fmt: skip
        records += [LandedRecord("workflow_run", str(1000 + i), {"id": 1000 + i, "head_sha": sha}),
                    LandedRecord("commit", sha, {"sha": sha})]  # fmt: skip
    releases = [(0, 0), (1, 2), (2, 4), (3, 2)]  # (deployment number, run whose commit it ships)
    for n, (number, run) in enumerate(releases):
        at = T0 + timedelta(days=2 * run, hours=1) if n < 3 else T0 + timedelta(days=9)
        deployments.append({"deployment_id": f"github:deployment:{number}", "workspace": workspace,
                            "environment": "production", "kind": "release", "ref": "main",
                            "run_id": f"github:run:{1000 + run}", "sim_time": at, "deployed_at": at,
                            "commit_sha": runs[run]["input_fingerprint"], "unplanned": n == 3,
                            "rolled_back": n == 2, "reason": "rollback redeploy" if n == 3 else "github deployment"})  # fmt: skip
        records.append(LandedRecord("deployment", str(number), {"id": number, "environment": "production"}))
    for change in changes[:5]:
        shipped = next(d for d in deployments if d["commit_sha"] == change["commit_sha"] or d["sim_time"] > change["committed_sim_time"])  # fmt: skip
        change.update(deployment_id=shipped["deployment_id"], deployed_sim_time=shipped["sim_time"])
    note = ("No issues labelled 'incident' were read, so incidents, change failure rate and recovery time are "
            "unknown (not zero).")  # fmt: skip
    land_and_transform(store, workspace, "github", records, (), location="tests/data/github", note=note)
    for table, rows in (("runs", runs), ("steps", steps), ("deployments", deployments), ("changes", changes)):
        store.insert_rows(table, rows)

    ml_runs, versions, moves, model_deploys, ml_records = [], [], [], [], []
    for i, trigger in enumerate(("initial", "schedule", "manual")):
        start = T0 + timedelta(days=3 * i, hours=5)
        run_id = f"mlflow:run:r{i}"
        ml_runs.append({"run_id": run_id, "workspace": workspace, "kind": "mlops", "trigger": trigger,
                        "status": "succeeded", "sim_time": start, "started_at": start,
                        "finished_at": start + timedelta(minutes=1), "duration_ms": 60_000.0, "label": f"train-{i}"})  # fmt: skip
        steps.append({"run_id": run_id, "workspace": workspace, "position": 0, "name": "train", "status": "succeeded",
                      "started_at": start, "finished_at": start + timedelta(minutes=1), "duration_ms": 60_000.0,
                      "metrics": json.dumps({"rmse": 40.0 - i})})  # fmt: skip
        ml_records.append(LandedRecord("run", f"r{i}", {"info": {"run_id": f"r{i}"}}))
    for version in (1, 2):
        at = T0 + timedelta(days=3 * (version - 1), hours=6)
        versions.append({"workspace": workspace, "version": version, "run_id": f"mlflow:run:r{version - 1}",
                         "path": f"runs:/r{version - 1}/model", "sha256": f"{version}" * 64,
                         "metrics": json.dumps({"rmse": 41.0 - version}), "sim_time": at, "created_at": at})  # fmt: skip
        moves.append({"move_id": f"mlflow:alias:champion:i{version}", "workspace": workspace, "alias": "champion",
                      "version": version, "previous_version": version - 1 or None, "sim_time": at, "moved_at": at,
                      "reason": "moved since the last import", "run_id": f"mlflow:run:r{version - 1}"})  # fmt: skip
        model_deploys.append({"deployment_id": f"mlflow:deploy:champion:i{version}", "workspace": workspace,
                              "environment": "production", "kind": "model", "ref": f"v{version}",
                              "run_id": f"mlflow:run:r{version - 1}", "sim_time": at, "deployed_at": at})  # fmt: skip
        ml_records += [LandedRecord("model_version", str(version), {"version": version}),
                       LandedRecord("alias", f"champion:{version}", {"alias": "champion", "version": version})]  # fmt: skip
    moves.append({"move_id": "mlflow:alias:challenger:i3", "workspace": workspace, "alias": "challenger",
                  "version": None, "previous_version": 2, "sim_time": T0 + timedelta(days=8),
                  "moved_at": T0 + timedelta(days=8), "reason": "removed since the last import", "run_id": None})  # fmt: skip
    land_and_transform(store, workspace, "mlflow", ml_records, (), location="sqlite:///mlflow.db",
                       note="MLflow keeps no alias history: alias moves are recorded from the first import on.")  # fmt: skip
    for table, rows in (("runs", ml_runs), ("steps", steps[-3:]), ("model_versions", versions),
                        ("alias_moves", moves), ("deployments", model_deploys)):  # fmt: skip
        store.insert_rows(table, rows)


@pytest.fixture(scope="module")
def imported_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imported")
    store = Store(root / "opslab.duckdb")
    repo = build_story(root / "story")
    import_git(store, "git-story", repo.path)
    _cicd(store, "cicd")
    return root / "opslab.duckdb"


@pytest.fixture
def imported_env(imported_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import streamlit as st

    monkeypatch.setenv("OPSLAB_DB", str(imported_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    return imported_db


def _page(workspace: str, page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["workspace"] = workspace
    if page in ("presenter", "control_room"):
        at.run()  # AppTest lands on some pages only from a page already run
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _values(array: object) -> list:
    """A figure spec's array: a list, or plotly's base64 `{"dtype", "bdata"}` form."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)  # type: ignore[call-overload]


def _text(at: AppTest) -> str:
    parts = [str(e.value) for kind in TEXT_KINDS for e in at.get(kind)]
    return "\n".join(parts)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _no_scenario_talk(at: AppTest) -> None:
    text = _text(at).lower()
    assert "play a scenario" not in text and "no history yet" not in text and "nothing played" not in text


# -- the keys -------------------------------------------------------------------------------------
def test_keys_a_source_cannot_tell_are_unknown_with_why(imported_db: Path) -> None:
    store = Store(imported_db)
    git = {k.key: k for k in [*dora_keys(store, "git-story"), *ml_keys(store, "git-story")]}
    # git tells its failures (a revert and a quick patch): 1 of 3 planned releases, counted by hand
    assert git["change_failure_rate"].display == "33.3 %"
    assert git["failed_deployment_recovery_time"].display == "1 day"
    # but no models: the ML mirrors are unknown, saying git is why
    for key in ("retraining_frequency", "data_to_production_lead_time", "model_staleness"):
        assert git[key].display == UNKNOWN and git[key].value is None
        assert "git records" in (git[key].note or "").lower()
    cicd = {k.key: k for k in [*dora_keys(store, "cicd"), *ml_keys(store, "cicd")]}
    # no incident issue was read: the failure keys are unknown, not 0 %
    assert cicd["change_failure_rate"].display == UNKNOWN
    assert "GitHub gave no issues" in (cicd["change_failure_rate"].note or "")
    assert cicd["failed_deployment_recovery_time"].display == UNKNOWN
    # releases were read: 3 planned releases over the history's weeks, the rollback is rework (1 of 4)
    assert cicd["deployment_frequency"].n == 3
    assert cicd["deployment_rework_rate"].display == "25 %"
    assert cicd["retraining_frequency"].n == 1  # the one scheduled retrain
    assert cicd["model_change_failure_rate"].display == "0 %"  # MLflow showed the alias, no move back
    assert cicd["model_staleness"].display == UNKNOWN  # no served weeks from any import
    # two model deployments, but no version says which data it learnt from: unknown, not "no deploy"
    assert cicd["data_to_production_lead_time"].display == UNKNOWN
    assert "none of the 2 model deployments" in (cicd["data_to_production_lead_time"].note or "")
    assert import_unknowns(store, "no-such-workspace") == {}


def test_a_played_workspace_has_no_unknowns() -> None:
    assert unknown_keys([], {}) == {}
    assert unknown_keys(["github"], {("github", "issue"): 2, ("github", "deployment"): 1}).keys() == {
        "retraining_frequency", "data_to_production_lead_time", "model_change_failure_rate",
        "time_to_recover_from_drift", "model_staleness",
    }  # fmt: skip


# -- the pages -------------------------------------------------------------------------------------
def test_overview_says_where_the_history_came_from(imported_env: Path) -> None:
    at = _page("git-story", "overview")
    text = _text(at)
    assert "Imported from git" in text and "story" in text
    metrics = _metrics(at)
    assert metrics["Change failure rate"] == "33.3 %"
    assert metrics["Model staleness"] == UNKNOWN
    assert "git records code, not models" in text.lower()  # the why, on the page, not only in a hover
    assert "no served weeks" in text  # monitoring, the fourth difference, is unknown with why
    _no_scenario_talk(at)

    at = _page("cicd", "overview")
    assert _metrics(at)["Change failure rate"] == UNKNOWN
    text = _text(at)
    assert "Imported from GitHub" in text and "Imported from MLflow" in text
    assert "GitHub gave no issues" in text
    _no_scenario_talk(at)


def test_timeline_draws_an_imported_history(imported_env: Path) -> None:
    at = _page("git-story", "timeline")
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    assert len(traces["release deployed"]["x"]) == 3  # v1.0.0, v1.1.0, v1.2.0; v1.1.1 and v1.3.0 rework
    assert len(traces["rework release"]["x"]) == 2
    assert len(traces["incident (shaded while open)"]["x"]) == 1
    assert sum(_values(traces["changes committed"]["y"])) == 8
    assert not any("training" in name or "model" in name for name in traces)  # git has no MLOps lane...
    assert "git records code, not models" in _text(at).lower()  # ...and the page says why
    _no_scenario_talk(at)

    at = _page("cicd", "timeline")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    assert len(traces["pipeline failed"]["x"]) == 1
    assert len(traces["model version registered"]["x"]) == 2
    assert {"rework release", "CI runs"} <= set(traces)
    # three training runs in one week: a bar a day or more wide (plotly's own width for one x is 1 ms)
    assert sum(_values(traces["training runs"]["y"])) == 3 and traces["training runs"]["width"] >= 86_400_000
    _no_scenario_talk(at)


def test_present_says_it_tells_played_stories(imported_env: Path) -> None:
    at = _page("git-story", "presenter")
    text = _text(at)
    assert "imported from git" in text.lower() and "Timeline" in text
    _no_scenario_talk(at)


def test_devops_shows_deployments_and_incidents_without_runs(imported_env: Path) -> None:
    at = _page("git-story", "devops")
    text = _text(at)
    assert "git records no pipeline runs" in text.lower()
    frames = {f.proto.id: f for f in at.dataframe}
    assert len(at.dataframe) >= 2  # deployments and incidents
    deployments = next(f for f in at.dataframe if "ref" in f.value.columns or "release" in f.value.columns)
    assert len(deployments.value) == 5
    assert frames
    _no_scenario_talk(at)

    at = _page("cicd", "devops")
    assert at.selectbox(key="devops_run").value == "github:run:1005"
    text = _text(at)
    assert "GitHub gave no issues" in text  # no incident: unknown, not "no release broke production"
    assert "no release broke production" not in text
    _no_scenario_talk(at)


def test_mlops_shows_imported_runs_and_registry(imported_env: Path) -> None:
    at = _page("cicd", "mlops")
    text = _text(at)
    assert "MLflow records no served weeks" in text or "no served weeks" in text
    assert "never reached the gate" not in text
    assert at.selectbox(key="mlops_run").value in {"mlflow:run:r0", "mlflow:run:r1", "mlflow:run:r2"}
    # MLflow's alias removed since the last import (a move to no version) is listed, not drawn as a version
    assert any(c.value.startswith("Which version was champion") for c in at.caption)
    assert "removed since the last import" in set(at.dataframe[-1].value["reason"])
    _no_scenario_talk(at)

    at = _page("git-story", "mlops")
    assert "git records code, not models" in _text(at).lower()
    _no_scenario_talk(at)


def test_drift_history_and_control_room_on_an_import(imported_env: Path) -> None:
    at = _page("git-story", "drift")
    assert "git" in _text(at) and "drift" in _text(at).lower()
    _no_scenario_talk(at)
    at = _page("cicd", "history")
    at.selectbox(key="history_example").set_value(
        "Imports: where the history came from, what it cannot tell"
    ).run()
    at.button(key="history_run").click().run()
    for _ in range(30):  # the console answers in a worker thread: on a busy machine, after a rerun or two
        if any(m.value.endswith(" rows**") for m in at.markdown):  # the answer's line, above its table
            break
        time.sleep(0.5)
        at.run()
    assert sorted(at.dataframe[0].value["source"]) == ["github", "mlflow"]  # this workspace's imports only
    at = _page("git-story", "control_room")
    assert "imported from git" in _text(at).lower()
    assert at.button(key="cr_devops_head").disabled
