"""A big history stays whole and readable (issue 12): nothing silently dropped, pages that show a part
say which, `opslab history --json` streams. On a generated workspace of modest size (6k runs, 60k
steps: `benchmarks.bench_store.generate_workspace`, the same generator `make bench` uses at 100k)."""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from benchmarks.bench_store import generate_workspace
from pipelines.cli import main
from pipelines.store import Store, workspace_history
from tests.conftest import APP

RUNS = 6000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.duckdb"
    generate_workspace(Store(path), "demo", runs=RUNS, steps=4 * RUNS, weeks=60, seed=3)
    return path


@pytest.fixture
def big_env(big_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import streamlit as st

    monkeypatch.setenv("OPSLAB_DB", str(big_db))
    st.cache_data.clear()
    return big_db


def _page(view: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(view)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _oldest(store: Store, kind: str, status: str) -> str:
    runs = store.select("runs", "demo", where={"kind": kind, "status": status}, order_by="sim_time")
    return str(runs["run_id"].iloc[0])


def test_the_timeline_draws_runs_older_than_the_newest_5000(
    big_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Timeline read only the newest 5000 runs: the first failures of a long history vanished.
    (Markers one by one here: weekly counts of too many are the next test's.)"""
    from pipelines.store import pages_sql

    monkeypatch.setattr(pages_sql, "MAX_MARKERS", 10_000)
    at = _page("views/timeline.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    drawn = {run for trace in spec["data"] for run in (trace.get("customdata") or []) if isinstance(run, str)}
    store = Store(big_env)
    assert _oldest(store, "devops", "failed") in drawn
    assert _oldest(store, "mlops", "succeeded") in drawn


def test_the_timeline_draws_weekly_counts_when_markers_are_too_many_and_says_so(
    big_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.store import pages_sql

    monkeypatch.setattr(pages_sql, "MAX_MARKERS", 300)
    store = Store(big_env)
    failed = len(store.select("runs", "demo", where={"kind": "devops", "status": "failed"}))
    assert failed > 300
    at = _page("views/timeline.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    # a range slider draws every trace a second time: a dense history zooms by dragging instead
    assert not spec["layout"]["xaxis"]["rangeslider"]["visible"]
    counted = traces["pipelines failed (weekly counts)"]
    assert len(counted["x"]) <= 61 and "pipeline failed" not in traces
    assert sum(int(h.split("<b>")[1].split(" ")[0].replace(",", "")) for h in counted["hovertext"]) == failed
    assert any(f"{failed:,} pipelines failed" in i.value and "weekly counts" in i.value for i in at.info)
    assert any("drag across the chart to zoom" in i.value for i in at.info)
    assert not any("slider" in c.value for c in at.caption if "Hover a week" in c.value)


def test_the_devops_runs_table_says_which_runs_it_shows_and_pages_through_all(big_env: Path) -> None:
    store = Store(big_env)
    devops = store.select("runs", "demo", where={"kind": "devops"})
    at = _page("views/devops.py")
    assert any(f"{len(devops):,} runs; this table shows runs 1–500" in c.value for c in at.caption)
    last = -(-len(devops) // 500)
    at.number_input(key="devops_runs_page").set_value(last).run()
    assert not at.exception, [e.message for e in at.exception]
    oldest = devops.sort_values(["sim_time", "started_at"])["run_id"].iloc[0]
    (table,) = [d.value for d in at.dataframe if "run id" in d.value and "steps" in d.value]
    assert oldest in set(table["run id"]) and len(table) == len(devops) - 500 * (last - 1)


def test_a_run_linked_from_outside_the_page_opens(big_env: Path) -> None:
    oldest = _oldest(Store(big_env), "devops", "failed")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["run"] = oldest
    at.switch_page("views/devops.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="devops_run").value == oldest
    assert not [w.value for w in at.warning if "no DevOps run" in w.value]


def test_history_json_streams_with_memory_flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`opslab history --json` built the whole history in memory (1.1 GB at 100k runs): now it holds
    a batch of runs at a time, far less than what it prints (before: four times as much)."""
    store = Store(tmp_path / "stream.duckdb")
    generate_workspace(store, "demo", runs=1000, steps=10_000, weeks=20, seed=4)
    from pipelines.store import history

    monkeypatch.setattr(history, "HISTORY_BATCH", 100, raising=False)

    class Counting:
        size = 0

        def write(self, text: str) -> int:
            self.size += len(text)
            return len(text)

        def flush(self) -> None:
            pass

    out = Counting()
    monkeypatch.setattr(sys, "stdout", out)
    tracemalloc.start()
    try:
        assert main(["--db", str(store.path), "history", "--json"]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.size > 3_000_000
    assert peak < out.size / 2, f"peak {peak / 1e6:.0f} MB for {out.size / 1e6:.0f} MB printed"


def test_history_json_streamed_equals_the_whole_history(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "small.duckdb")
    generate_workspace(store, "demo", runs=120, steps=960, weeks=8, seed=5)
    from pipelines.store import history

    monkeypatch.setattr(history, "HISTORY_BATCH", 7, raising=False)  # many batches of runs
    assert main(["--db", str(store.path), "history", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(workspace_history(store, "demo"), default=str))
    assert len(printed["runs"]) == 120 and sum(len(r["steps"]) for r in printed["runs"]) == 960


def test_weeks_of_agrees_with_week_of() -> None:
    """The story placed each of thousands of failures in its week one pandas call at a time (7 s)."""
    from pipelines.scenario.outcomes import week_of, weeks_of

    ends = pd.Series(pd.date_range("2011-01-09", periods=5, freq="7D"))
    moments = [pd.Timestamp("2010-12-01"), ends[0] - pd.Timedelta(weeks=1), ends[0], ends[2] + pd.Timedelta(hours=1),
               ends[4], ends[4] + pd.Timedelta(days=1)]  # fmt: skip
    assert weeks_of(ends, moments) == [week_of(ends, m) for m in moments] == [0, 0, 1, 4, 5, 6]


def test_the_champion_chart_says_when_it_draws_a_diamond_a_week(big_env: Path) -> None:
    at = _page("views/mlops.py")
    spec = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id.endswith("mlops_champion")).proto.spec
    )
    weekly = [t["name"] for t in spec["data"] if t["name"].endswith("(one marker per week)")]
    assert weekly, [t["name"] for t in spec["data"]]  # this history has thousands of versions
    assert any("one diamond a week" in c.value for c in at.caption)
