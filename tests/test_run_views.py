"""Runs as GitHub Actions and MLflow show them (issue #10): parameters recorded as key/values, p50/p95
duration and success-rate trends, the diff of the commit a DevOps run built, a Gantt of the steps,
and two runs compared. Each query is checked against an independent count of the stored rows."""

from __future__ import annotations

import dataclasses
import difflib
import filecmp
import os
import re
import socket
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard.figures import runs as figs
from pipelines.devops import repo
from pipelines.devops.changes import get_change
from pipelines.devops.errors import GitError
from pipelines.devops.workflow import repo_dir
from pipelines.runner import Step, StepContext, StepFailed, StepOutcome, flat_params, run_steps
from pipelines.store import Store, migrate
from pipelines.store.run_sql import run_params, run_trends
from tests.conftest import scenario_settings

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "devops" / "service_template"
START = datetime(2026, 1, 5, 9, 0)


# -- parameters ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Model:
    learning_rate: float = 0.1
    max_iter: int = 150


@dataclasses.dataclass(frozen=True)
class _Settings:
    seed: int = 7
    window_weeks: float = 8
    model: _Model = dataclasses.field(default_factory=_Model)


def test_flat_params_dots_nested_settings_and_keeps_values_as_text() -> None:
    flat = flat_params({"commit": "abc123", "when": datetime(2026, 1, 5, 9), "none": None, "s": _Settings(),
                        "hours": (9, 17), "ok": True, "np": np.float64(0.5)})  # fmt: skip
    assert flat == {
        "commit": "abc123",
        "when": "2026-01-05T09:00:00",
        "none": None,
        "s.seed": "7",
        "s.window_weeks": "8",
        "s.model.learning_rate": "0.1",
        "s.model.max_iter": "150",
        "hours": "[9, 17]",
        "ok": "true",
        "np": "0.5",
    }


def _ok(ctx: StepContext) -> StepOutcome:
    return StepOutcome(metrics={"rows": 3})


def test_a_run_records_its_parameters_as_rows(store: Store) -> None:
    recorded = {"seed": 7, "settings": _Settings(seed=3), "dataset": "simulated"}
    result = run_steps(store, [Step("a", _ok)], workspace="demo", kind="mlops", trigger="manual",
                       recorded_params=recorded)  # fmt: skip
    bare = run_steps(store, [Step("a", _ok)], workspace="demo", kind="mlops", trigger="manual")
    rows = run_params(store, "demo", [result.run_id, bare.run_id])
    assert set(rows["run_id"]) == {result.run_id}  # a run given no parameters has none
    assert dict(zip(rows["key"], rows["value"], strict=True)) == flat_params(recorded)
    assert dict(zip(rows["key"], rows["value"], strict=True))["settings.model.learning_rate"] == "0.1"
    with duckdb.connect(str(store.path), read_only=True) as con:  # one row per key, as MLflow keeps them
        assert con.execute("SELECT count(*) FROM run_params").fetchone()[0] == len(flat_params(recorded))
    assert run_params(store, "other", [result.run_id]).empty  # workspaces stay apart


def test_a_file_from_before_run_parameters_upgrades_and_its_runs_have_none(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con, target=10)
        con.execute("INSERT INTO runs (run_id, workspace, kind, trigger, status, started_at) "
                    "VALUES ('old1', 'demo', 'devops', 'commit', 'succeeded', now())")  # fmt: skip
    store = Store(path)
    assert run_params(store, "demo", ["old1"]).empty  # the read upgraded the file (migration 11)
    assert store.schema_version() >= 11
    assert figs.params_by_run(run_params(store, "demo", ["old1"])) == {}


def test_every_played_run_records_what_it_was_asked_to_do(scenario_db: Path) -> None:
    store = Store(scenario_db)
    runs = store.select("runs", "demo")
    params = figs.params_by_run(run_params(store, "demo", list(runs["run_id"])))
    assert set(params) == set(runs["run_id"])  # every run of the play, none left out
    settings = scenario_settings()
    for run in runs.itertuples():
        p = params[run.run_id]
        if run.kind == "devops":
            assert p["commit"] == run.input_fingerprint  # the commit it built
            assert p["devops.error_rate_alarm"] == str(settings.devops.error_rate_alarm)
            assert p["devops.train_hours"] == str(list(settings.devops.train_hours))
        else:
            assert p["seed"] == str(settings.mlops.seed) or p["seed"].isdigit()
            assert float(p["window_weeks"]) == settings.mlops.window_weeks
            assert float(p["model.learning_rate"]) == settings.mlops.model.learning_rate
            assert p["policy.kind"] == "schedule" and p["policy.every_weeks"] == "2"
            assert p["drift.method"] == settings.drift_method
            assert p["label_delay_weeks"] == str(settings.label_delay_weeks)
            assert pd.Timestamp(p["as_of"]) <= pd.Timestamp(run.sim_time)  # trained on what was labelled
    shipped = {r.run_id: params[r.run_id]["changes"] for r in runs.itertuples() if r.kind == "devops"}
    changes = store.select("changes", "demo")
    # Each scripted change is named by the run that shipped it (an independent record: `changes`).
    named = sorted(c for v in shipped.values() if v for c in v.split(","))
    assert named == sorted(changes["change_id"].dropna())


# -- trends ------------------------------------------------------------------------------------------
def _trend_rows(seed: int = 3) -> list[dict]:
    """Runs of both kinds over 9 weeks: finished ones with durations, an interrupted one with none
    (its process died: no duration, and it did not succeed), and runs still running in this process."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 1, 7, 9)  # a Wednesday: buckets start on the Monday before
    rows = []
    for i in range(60):
        status = str(rng.choice(["succeeded", "succeeded", "failed", "interrupted", "running"]))
        rows.append({
            "run_id": f"r{i:02d}", "workspace": "demo", "kind": "devops" if i % 3 else "mlops", "trigger": "commit",
            "status": status, "sim_time": t0 + timedelta(hours=int(rng.integers(0, 24 * 7 * 9))),
            "started_at": datetime.now(), "pid": os.getpid(), "host": socket.gethostname(),
            "duration_ms": None if status == "running" or i % 7 == 0 else float(rng.gamma(2.0, 900.0)),
        })  # fmt: skip
    return rows


@pytest.mark.parametrize("bucket_weeks", [1, 4])
def test_trends_equal_numpy_percentiles_and_counts_of_the_stored_runs(
    store: Store, bucket_weeks: int
) -> None:
    store.ensure_workspace("demo")
    store.insert_rows("runs", _trend_rows())
    stored = store.select("runs", "demo")  # read back: the independent side counts what was stored
    got = run_trends(store, "demo", bucket_weeks=bucket_weeks)
    monday = pd.Timestamp(stored["sim_time"].min()).normalize() - pd.Timedelta(
        days=stored["sim_time"].min().weekday()
    )
    finished = stored[stored["status"] != "running"].copy()
    finished["bucket"] = monday + pd.to_timedelta(
        ((finished["sim_time"] - monday).dt.days // (7 * bucket_weeks)) * 7 * bucket_weeks, unit="D"
    )
    expected = []
    for (kind, bucket), group in finished.groupby(["kind", "bucket"]):
        durations = group["duration_ms"].dropna().to_numpy()  # a run that died has no duration
        expected.append({
            "kind": kind, "bucket": bucket, "runs": len(group), "succeeded": int((group["status"] == "succeeded").sum()),
            "p50_ms": np.percentile(durations, 50), "p95_ms": np.percentile(durations, 95),
        })  # fmt: skip
    expected = pd.DataFrame(expected).sort_values(["kind", "bucket"]).reset_index(drop=True)
    assert len(got) == len(expected) > 3
    assert list(got["kind"]) == list(expected["kind"])
    assert list(pd.to_datetime(got["bucket"])) == list(expected["bucket"])
    assert list(got["runs"]) == list(expected["runs"]) and list(got["succeeded"]) == list(
        expected["succeeded"]
    )
    np.testing.assert_allclose(got["success_rate"], expected["succeeded"] / expected["runs"])
    np.testing.assert_allclose(got["p50_ms"], expected["p50_ms"])
    np.testing.assert_allclose(got["p95_ms"], expected["p95_ms"])
    assert got["runs"].sum() == (stored["status"] != "running").sum()  # a running run is in no bucket
    assert (stored["status"] == "running").sum() > 0 and stored["duration_ms"].isna().sum() > (
        stored["status"] == "running"
    ).sum()


def test_trends_of_a_played_workspace_count_every_finished_run(scenario_db: Path) -> None:
    store = Store(scenario_db)
    runs = store.select("runs", "demo")
    for kind in ("devops", "mlops"):
        got = run_trends(store, "demo", kind, bucket_weeks=2)
        mine = runs[(runs["kind"] == kind) & (runs["status"] != "running")]
        assert (
            got["runs"].sum() == len(mine) and got["succeeded"].sum() == (mine["status"] == "succeeded").sum()
        )
        assert (got["p50_ms"] <= got["p95_ms"]).all()
        assert got["p95_ms"].max() <= mine["duration_ms"].max() + 1e-9
    with pytest.raises(ValueError, match="at least 1 week"):
        run_trends(store, "demo", bucket_weeks=0)


def test_trends_figure_draws_the_percentiles_and_rate_it_is_given(store: Store) -> None:
    store.ensure_workspace("demo")
    store.insert_rows("runs", _trend_rows())
    trends = run_trends(store, "demo", bucket_weeks=4)
    fig = figs.trends_figure(trends, "devops", 4)
    by_name = {t.name: t for t in fig.data}
    devops = trends[trends["kind"] == "devops"]
    np.testing.assert_allclose(by_name["p50 duration"].y, devops["p50_ms"] / 1000)
    np.testing.assert_allclose(by_name["p95 duration"].y, devops["p95_ms"] / 1000)
    np.testing.assert_allclose(by_name["success rate"].y, devops["success_rate"] * 100)
    with pytest.raises(ValueError, match="no finished mlops runs"):
        figs.trends_figure(trends[trends["kind"] == "devops"], "mlops", 4)


# -- the commit a DevOps run built -----------------------------------------------------------------
def test_show_commit_is_what_the_commit_changed(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    first = repo.init_repo(work, TEMPLATE, START)
    info = repo.apply_change(work, get_change("windchill-feature"), START + timedelta(days=1))
    diff = repo.show_commit(work, info.sha)
    assert not diff.truncated and diff.text.startswith(f"commit {info.sha}")
    # Independent side: the two trees as files, compared byte by byte.
    before, after = (
        repo.checkout_tree(work, first, tmp_path / "a"),
        repo.checkout_tree(work, info.sha, tmp_path / "b"),
    )
    names = {p.relative_to(after).as_posix() for p in after.rglob("*") if p.is_file()}
    names |= {p.relative_to(before).as_posix() for p in before.rglob("*") if p.is_file()}
    changed = {n for n in names if not ((before / n).is_file() and (after / n).is_file()
                                        and filecmp.cmp(before / n, after / n, shallow=False))}  # fmt: skip
    assert changed
    assert set(re.findall(r"^diff --git a/(\S+) b/", diff.text, re.MULTILINE)) == changed
    for name in changed:  # the --stat lists each file, and the patch adds each new line
        assert re.search(rf"^ {re.escape(name)}\s+\|", diff.text, re.MULTILINE)
        old = (before / name).read_text().splitlines() if (before / name).is_file() else []
        added = [
            line[2:]
            for line in difflib.ndiff(old, (after / name).read_text().splitlines())
            if line[:2] == "+ "
        ]
        assert all(f"\n+{line}" in diff.text for line in added)
    cut = repo.show_commit(work, info.sha, max_bytes=300)
    assert cut.truncated and cut.text == diff.text[:300]


def test_show_commit_says_in_a_sentence_when_it_cannot(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="repository is gone"):
        repo.show_commit(tmp_path / "nothing-here", "a" * 40)
    work = tmp_path / "repo"
    repo.init_repo(work, TEMPLATE, START)
    with pytest.raises(GitError, match="is not in the workspace's repository"):
        repo.show_commit(work, "0" * 40)
    with pytest.raises(GitError, match="not a commit sha"):
        repo.show_commit(work, "--output=/tmp/x")


def test_a_played_devops_run_shows_the_diff_of_its_commit(scenario_db: Path) -> None:
    store = Store(scenario_db)
    runs = store.select("runs", "demo", where={"kind": "devops"})
    params = figs.params_by_run(run_params(store, "demo", list(runs["run_id"])))
    (sha,) = [p["commit"] for p in params.values() if p["changes"] == "windchill-feature"]
    diff = repo.show_commit(repo_dir(store, "demo"), sha)
    assert f"commit {sha}" in diff.text and "Change-Id: windchill-feature" in diff.text and "\n+" in diff.text


# -- the Gantt and the comparison ----------------------------------------------------------------
def test_gantt_bars_start_when_each_step_started_and_last_as_long_as_it_ran(store: Store) -> None:
    def broken(ctx: StepContext) -> StepOutcome:
        raise StepFailed("2 tests failed")

    result = run_steps(store, [Step("a", _ok), Step("b", broken), Step("c", _ok)], workspace="demo",
                       kind="devops", trigger="commit")  # fmt: skip
    run, steps = store.run(result.run_id), store.steps(result.run_id)
    fig = figs.gantt_figure(steps, run["started_at"])
    bars = {
        name: (base, x)
        for t in fig.data
        if t.type == "bar"
        for name, base, x in zip(t.y, t.base, t.x, strict=True)
    }
    assert set(bars) == {"a", "b"}  # c never ran: no bar, only its label
    for step in steps[:2]:
        base, x = bars[step["name"]]
        assert base == pytest.approx(
            (pd.Timestamp(step["started_at"]) - pd.Timestamp(run["started_at"])).total_seconds()
        )
        assert x == pytest.approx(step["duration_ms"] / 1000)
    assert bars["b"][0] >= bars["a"][0] + bars["a"][1] - 1e-3  # b starts after a ended
    assert list(fig.layout.yaxis.categoryarray) == ["c", "b", "a"]
    assert any("never ran" in a.text for a in fig.layout.annotations)
    with pytest.raises(ValueError):
        figs.gantt_figure([])


def test_compare_marks_what_differs_between_two_runs() -> None:
    a = {"seed": "7", "model.learning_rate": "0.1", "window_weeks": "8"}
    b = {"seed": "7", "model.learning_rate": "0.05", "gate_margin": "0.02"}
    frame = figs.compare_frame(a, b)
    assert list(frame["key"]) == ["seed", "model.learning_rate", "window_weeks", "gate_margin"]
    assert list(frame[figs.DIFFERS]) == ["", "≠", "≠", "≠"]
    assert list(frame["run B"]) == ["7", "0.05", "–", "0.02"]
    only = figs.compare_frame(a, b, only_differences=True)
    assert list(only["key"]) == ["model.learning_rate", "window_weeks", "gate_margin"]
    style = figs.compare_styler(frame).to_html().split("</style>")[0]  # the CSS: which cells are painted
    assert "background-color" in style
    assert {int(r) for r in re.findall(r"_row(\d+)_col\d", style)} == {1, 2, 3}  # the differing rows only


def test_run_metrics_flatten_each_steps_measures() -> None:
    run = {"status": "failed", "duration_ms": 2500.0}
    steps = [
        {"position": 1, "name": "test", "status": "failed", "duration_ms": 900.0,
         "metrics": {"failed": 2, "failing": ["test_a", "test_b"], "share": 57.04950704513178}},
        {"position": 0, "name": "build", "status": "cached", "duration_ms": 3.0, "metrics": {}},
    ]  # fmt: skip
    got = figs.run_metrics(run, steps)
    assert got == {"status": "failed", "duration": "2.50 s", "build.status": "cached", "build.duration": "3 ms",
                   "test.status": "failed", "test.duration": "900 ms", "test.failed": "2",
                   "test.failing": '["test_a", "test_b"]', "test.share": "57.0495"}  # fmt: skip
