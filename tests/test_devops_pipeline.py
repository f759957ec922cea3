"""The DevOps pipeline end to end on a temporary workspace: real git, build, pytest, servers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipelines.devops.changes import get_change
from pipelines.devops.pipeline import DevOpsSettings, run_devops_pipeline
from pipelines.devops.production import Production
from pipelines.devops.repo import head
from pipelines.devops.service import running_services
from pipelines.devops.workflow import commit_change, ensure_repo
from pipelines.mlops.simulator import SimulatorSettings
from pipelines.mlops.sources import load_dataset, window
from pipelines.runner import file_sha256
from pipelines.store import Store
from pipelines.store import records as rec

T0 = datetime(2011, 3, 1, 9)


@pytest.fixture
def production(store: Store):
    prod = Production(store, "demo")
    yield prod
    prod.close()
    assert [s for s in running_services() if s.is_running()] == []  # never an orphan server


def _run(store: Store, production: Production, when: datetime, change: str | None = None, **kw):
    repo = ensure_repo(store, "demo", T0)
    if change:
        commit_change(store, "demo", repo, get_change(change), when)
    return run_devops_pipeline(
        store, "demo", production, repo=repo, commit=head(repo), sim_time=when + timedelta(hours=1), **kw
    )


def test_green_on_head_with_a_real_artifact_tests_and_server(store: Store, production: Production) -> None:
    result = _run(store, production, T0)
    assert result.ok, result.error
    assert [(s.name, s.status) for s in result.steps] == [
        ("checkout", "succeeded"),
        ("build", "succeeded"),
        ("test", "succeeded"),
        ("deploy", "succeeded"),
    ]
    build, test, deploy = result.step("build"), result.step("test"), result.step("deploy")
    artifact = Path(result.outputs["build"]["artifact"])
    assert artifact.suffix == ".pyz" and file_sha256(artifact) == build.metrics["sha256"]
    assert test.metrics["passed"] >= 12 and test.metrics["failed"] == 0 and test.metrics["slowest"]
    assert deploy.metrics["requests"] > 0 and deploy.metrics["errors"] == 0
    assert deploy.metrics["latency_p95_ms"] >= deploy.metrics["latency_p50_ms"] > 0
    assert production.server is not None and production.server.is_running()
    release = rec.current_deployment(store, "demo", "release")
    assert release["ref"] == head(store.files_dir("demo") / "repo")[:7]
    assert release["artifact_sha256"] == build.metrics["sha256"]
    kinds = set(store.select("artifacts", "demo")["kind"])
    assert {"build", "junit"} <= kinds


def test_an_unchanged_tree_is_not_rebuilt_or_retested(store: Store, production: Production) -> None:
    first = _run(store, production, T0)
    again = _run(store, production, T0 + timedelta(days=1))
    assert again.step("build").status == "cached" and again.step("test").status == "cached"
    assert again.outputs["build"]["sha256"] == first.outputs["build"]["sha256"]
    assert again.step("deploy").status == "succeeded"


def test_builds_are_byte_for_byte_reproducible_across_workspaces(tmp_path: Path) -> None:
    shas = []
    for name in ("a", "b"):
        store = Store(tmp_path / f"{name}.duckdb")
        prod = Production(store, "demo")
        try:
            shas.append(_run(store, prod, T0).step("build").metrics["sha256"])
        finally:
            prod.close()
    assert shas[0] == shas[1]


def test_a_bug_caught_change_fails_at_test_and_is_not_deployed(store: Store, production: Production) -> None:
    good = _run(store, production, T0)
    bad = _run(store, production, T0 + timedelta(days=1), change="hour-24-midnight")
    assert bad.status == "failed"
    assert [s.status for s in bad.steps] == ["succeeded", "succeeded", "failed", "skipped"]
    test = bad.step("test")
    assert test.metrics["failed"] >= 1 and test.metrics["failing"] and "failed" in test.error
    assert (
        rec.current_deployment(store, "demo", "release")["deployment_id"]
        == good.outputs["deploy"]["deployment_id"]
    )
    fixed = _run(store, production, T0 + timedelta(days=2), change="fix-hour-24")
    assert fixed.ok
    shipped = rec.changes_frame(store, "demo").set_index("change_id")
    # The caught bug shipped with its fix: its lead time runs to the fix's deploy.
    assert shipped.loc["hour-24-midnight", "deployment_id"] == fixed.outputs["deploy"]["deployment_id"]


def _week(dataset, end: str) -> pd.DataFrame:
    return window(dataset, end, 1)


def test_an_escaped_bug_opens_an_incident_rolls_back_and_resolves(
    store: Store, production: Production
) -> None:
    data = load_dataset("simulated", simulator=SimulatorSettings(weeks=12, seed=5))
    good = _run(store, production, T0)
    escaped = _run(store, production, T0 + timedelta(days=1), change="windchill-feature")
    assert escaped.ok  # the suite passes: the bug escapes
    bad_id = escaped.outputs["deploy"]["deployment_id"]
    week = production.serve_week(_week(data, "2011-03-10"), "timestamp", datetime(2011, 3, 10))
    assert len(week.incidents_opened) == 1 and len(week.rollbacks) == 1 and week.incidents_resolved
    (incident,) = store.select("incidents", "demo").to_dict("records")
    assert incident["cause_deployment_id"] == bad_id and incident["status"] == "resolved"
    assert incident["resolved_sim_time"] > incident["opened_sim_time"]
    assert "error rate" in incident["summary"]
    deployments = store.select("deployments", "demo", order_by="deployed_at").set_index("deployment_id")
    assert bool(deployments.loc[bad_id, "rolled_back"])
    rollback = deployments.loc[incident["rollback_deployment_id"]]
    assert bool(rollback["unplanned"]) and rollback["ref"] == good.step("checkout").metrics["commit"][:7]
    assert production.release["deployment_id"] == incident["rollback_deployment_id"]
    assert week.errors > 0 and week.days[-1].errors == 0  # served by the good release again


def test_a_server_that_never_gets_healthy_fails_deploy(store: Store, production: Production) -> None:
    model = production.model_path()
    model.write_text("{not json")  # the service cannot load its model
    result = _run(store, production, T0, settings=DevOpsSettings(health_timeout_s=5))
    deploy = result.step("deploy")
    assert result.status == "failed" and deploy.status == "failed" and deploy.error
    assert rec.current_deployment(store, "demo", "release") is None


def test_a_port_in_use_fails_deploy_with_the_reason(store: Store, production: Production) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(store, production, T0, extra_params={"port": port})
    assert result.step("deploy").status == "failed"
    assert f"port {port}" in result.step("deploy").error and "in use" in result.step("deploy").error


def test_a_hanging_test_run_fails_at_its_time_limit(store: Store, production: Production) -> None:
    repo = ensure_repo(store, "demo", T0)
    (repo / "tests" / "test_hang.py").write_text("import time\n\ndef test_hang():\n    time.sleep(60)\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, capture_output=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "hang"],
        check=True,
        capture_output=True,
    )
    result = run_devops_pipeline(
        store,
        "demo",
        production,
        repo=repo,
        commit=head(repo),
        sim_time=T0,
        settings=DevOpsSettings(test_timeout_s=3),
    )
    assert result.step("test").status == "failed" and "exceeded" in result.step("test").error
    assert result.step("deploy").status == "skipped"


def test_cli_without_git_says_so_in_one_sentence(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no git on PATH
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "--db", str(tmp_path / "h.duckdb"), "devops", "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2 and "git" in out.stderr.lower() and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_changes_lists_every_kind(tmp_path: Path) -> None:
    import json

    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "devops", "changes", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = json.loads(out.stdout)
    assert len(rows) >= 12 and {"id", "kind", "message"} <= rows[0].keys()
    assert {r["kind"] for r in rows} == {
        "feature",
        "refactor",
        "fix",
        "perf-regression",
        "bug-caught",
        "bug-escaped",
        "revert",
    }


def test_a_commit_that_breaks_the_build_fails_at_build(store: Store, production: Production) -> None:
    repo = ensure_repo(store, "demo", T0)
    (repo / "bikeservice" / "features.py").write_text("def broken(:\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, capture_output=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "oops"],
        check=True,
        capture_output=True,
    )
    result = run_devops_pipeline(store, "demo", production, repo=repo, commit=head(repo), sim_time=T0)
    assert [s.status for s in result.steps] == ["succeeded", "failed", "skipped", "skipped"]
    assert "features.py" in result.step("build").error and "line 1" in result.step("build").error
    assert store.select("artifacts", "demo").empty  # no half-built artifact recorded
    assert rec.current_deployment(store, "demo", "release") is None


def test_a_deploy_waiting_for_production_goes_live_at_the_steps_time_not_the_wait(
    store: Store, production: Production
) -> None:
    # A scenario builds and tests a release while the traffic before it is served and deploys it
    # afterwards: the wait is not part of the pipeline's duration, so not of its deploy time.
    waited: list[str] = []

    def traffic_answered() -> None:
        waited.append("late" if rec.current_deployment(store, "demo", "release") else "before deploy")
        time.sleep(3)

    started = time.perf_counter()
    result = _run(store, production, T0, before_deploy=traffic_answered)
    wall = time.perf_counter() - started
    assert result.ok, result.error
    assert waited == ["before deploy"]  # called once, before the deploy recorded anything
    release = rec.current_deployment(store, "demo", "release")
    # It goes live during its deploy step, after every step before it: their time counts, the 3 s
    # wait does not (a busy machine only stretches both sides).
    before_deploy = sum(s.duration_ms for s in result.steps if s.name != "deploy") / 1000
    live_after = (release["sim_time"] - (T0 + timedelta(hours=1))).total_seconds()
    assert before_deploy <= live_after <= wall - 3


def test_a_release_waiting_to_be_promoted_is_healthy_and_nothing_is_recorded_yet(
    store: Store, production: Production
) -> None:
    seen: list[tuple[int, object]] = []

    def switch_time() -> None:  # the server is up and smoke-tested; production has not moved
        seen.append((len(running_services()), rec.current_deployment(store, "demo", "release")))

    result = _run(store, production, T0, before_promote=switch_time)
    assert result.ok, result.error
    assert seen == [(1, None)]
    assert rec.current_deployment(store, "demo", "release") is not None


def test_a_release_refused_at_its_switch_fails_its_deploy_and_leaves_no_server(
    store: Store, production: Production
) -> None:
    def traffic_failed() -> None:
        raise RuntimeError("the traffic before it was not served")

    result = _run(store, production, T0, before_promote=traffic_failed)
    assert not result.ok and "not served" in (result.error or "")
    assert result.step("deploy").status == "failed"
    assert rec.current_deployment(store, "demo", "release") is None
    assert [s for s in running_services() if s.is_running()] == []
