"""AppTest of the History page: examples, a query, DuckDB's own errors, downloads, the schema, and the
console's limits: other workspaces, truncation, the time limit and Cancel."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data_learn import csv_bytes, parquet_bytes
from pipelines.store.sandbox import EXAMPLE_QUERIES
from tests.conftest import APP


def open_history(workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if workspace:
        at.query_params["workspace"] = workspace
    at.switch_page("views/history.py")
    at.run()
    assert not at.exception
    return at


def run_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="history_sql").set_value(sql)
    at.button(key="history_run").click().run()
    assert not at.exception
    return at


def test_opens_with_the_first_example_answered_and_the_schema(app_env: Path) -> None:
    at = open_history()
    assert not at.error
    assert at.text_area(key="history_sql").value == next(iter(EXAMPLE_QUERIES.values()))
    result = at.dataframe[0].value
    assert list(result.columns) == ["kind", "status", "runs"]
    assert set(result["kind"]) == {"devops", "mlops"}
    labels = [e.label for e in at.expander]
    assert any(label.startswith("`runs` ·") for label in labels) and len(labels) >= 13
    assert any("cannot see other workspaces" in c.value and "load extensions" in c.value for c in at.caption)
    keys = {w.proto.id for w in at.get("download_button")}
    assert any("history_csv" in k for k in keys) and any("history_parquet" in k for k in keys)


def test_an_example_fills_the_box_and_run_answers_it(app_env: Path) -> None:
    at = open_history()
    at.selectbox(key="history_example").set_value("Deployments with their incidents").run()
    sql = at.text_area(key="history_sql").value
    assert sql == EXAMPLE_QUERIES["Deployments with their incidents"]
    at.button(key="history_run").click().run()
    frame = at.dataframe[0].value
    assert {"ref", "rolled_back", "incident"} <= set(frame.columns)
    assert frame["rolled_back"].any()  # the session history's Friday release was rolled back
    assert any(f"**{len(frame)} rows**" in m.value for m in at.markdown)


def test_queries_see_only_the_current_workspace(app_env: Path) -> None:
    at = run_sql(open_history(), "SELECT DISTINCT workspace FROM runs")
    assert at.dataframe[0].value["workspace"].tolist() == ["demo"]


def test_no_name_reaches_another_workspace(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from pipelines.store import Store

    db = tmp_path / "opslab.duckdb"
    shutil.copy(app_env, db)
    Store(db).ensure_workspace("seat-02")
    monkeypatch.setenv("OPSLAB_DB", str(db))
    at = open_history()
    for sql in (
        'SELECT name FROM "opslab".main.workspaces',
        "SELECT name FROM main.workspaces",
        "SELECT name FROM workspaces",
    ):
        at = run_sql(at, sql)
        assert at.error or at.dataframe[0].value["name"].tolist() == ["demo"], sql


def test_a_long_answer_says_only_the_first_rows_are_shown(app_env: Path) -> None:
    at = run_sql(open_history(), "SELECT range AS n FROM range(10000000000)")
    assert not at.error
    assert len(at.dataframe[0].value) == 10_000
    assert any("first 10,000 rows shown" in m.value for m in at.markdown)


def test_a_runaway_query_stops_at_the_time_limit_with_one_sentence(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSLAB_CONSOLE_TIMEOUT", "1.5")
    at = run_sql(open_history(), "SELECT count(*) FROM range(1000000000000)")
    assert at.button(key="history_cancel")  # still running after the page's inline wait
    time.sleep(1.0)
    at.run()
    assert at.error and "stopped after 1.5 s" in at.error[0].value
    assert "\n" not in at.error[0].value
    assert not at.get("button") or all(b.key != "history_cancel" for b in at.button)


def test_cancel_stops_the_running_query(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSLAB_CONSOLE_TIMEOUT", "60")
    at = run_sql(open_history(), "SELECT count(*) FROM range(1000000000000)")
    at.button(key="history_cancel").click().run()
    if not at.error:  # the fragment reran before the watchdog's interrupt landed
        time.sleep(0.3)
        at.run()
    assert at.error and "cancelled" in at.error[0].value


def test_a_bad_query_shows_duckdbs_message_not_a_traceback(app_env: Path) -> None:
    at = run_sql(open_history(), "SELEKT 1")
    assert at.error and "syntax error" in at.error[0].value.lower()
    at = run_sql(at, "SELECT nope FROM runs")
    assert "nope" in at.error[0].value


def test_the_connection_cannot_write_read_files_or_unlock_settings(app_env: Path) -> None:
    at = open_history()
    for sql, said in (
        ("CREATE TABLE sneaky AS SELECT 1 AS x", "read-only"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SET enable_external_access = true", "read-only"),
        ("INSTALL httpfs", "read-only"),
    ):
        at = run_sql(at, sql)
        assert at.error, sql
        assert said in at.error[0].value, (sql, at.error[0].value)


def test_an_empty_query_is_one_sentence(app_env: Path) -> None:
    at = run_sql(open_history(), "   ")
    assert "empty" in at.error[0].value


def test_an_empty_workspace_shows_the_info_box(app_env: Path) -> None:
    at = open_history("empty")
    assert not at.error
    assert "no history yet" in at.info[0].value
    assert not at.get("text_area")


def test_downloads_round_trip_and_parquet_refuses_duplicate_names() -> None:
    frame = pd.DataFrame(
        {"week": [1, 2], "when": pd.to_datetime(["2011-03-07", "2011-03-14"]), "x": ["a", None]}
    )
    assert pd.read_csv(io.BytesIO(csv_bytes(frame)))["week"].tolist() == [1, 2]
    data = parquet_bytes(frame)
    assert data is not None
    back = pd.read_parquet(io.BytesIO(data))
    assert back["when"].dt.day.tolist() == [7, 14] and back["x"].isna().tolist() == [False, True]
    assert parquet_bytes(pd.DataFrame([[1, 2]], columns=["a", "a"])) is None
