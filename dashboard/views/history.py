"""History: read-only SQL over the current workspace's run history, with examples and downloads.

The query runs in `pipelines.store.sandbox` on a private in-memory copy of the workspace, in a worker
thread: a quick answer is drawn at once, a slow one shows a Cancel button until it ends or the
console's time limit stops it.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, data_learn, state, ui
from pipelines.errors import OpsLabError
from pipelines.store.sandbox import EXAMPLE_QUERIES, MEMORY_LIMIT_MB, ConsoleQuery, console_timeout_s

INLINE_WAIT_S = 1.0

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)
st.title("History")
st.caption(
    "Every run, step, deployment, incident, model and drift test OpsLab recorded is a row in DuckDB. "
    "Ask it anything in SQL."
)
if not data.has_history(db, ws, version):
    ui.empty_state(ws)
    st.stop()

FIRST = next(iter(EXAMPLE_QUERIES))
if "history_sql" not in st.session_state:
    st.session_state.history_sql = EXAMPLE_QUERIES[FIRST]
    st.session_state.history_query = EXAMPLE_QUERIES[FIRST]  # open with an answer on screen


def use_example() -> None:
    st.session_state.history_sql = EXAMPLE_QUERIES[st.session_state.history_example]


def run() -> None:
    st.session_state.history_query = st.session_state.history_sql
    if (held := st.session_state.pop("history_job", None)) is not None:
        held[1].cancel()  # a new Run replaces a query still running


def console_query(sql: str) -> ConsoleQuery:
    """This session's query for `sql`, kept while it answers the same question on the same data.

    New data (a play writing) does not restart a query that is still running."""
    key = (db, ws, sql, version)
    held = st.session_state.get("history_job")
    if held is None or (held[0] != key and (held[1].done() or held[0][:3] != key[:3])):
        if held is not None:
            held[1].cancel()
        held = (key, ConsoleQuery(data.workspace_file(db, ws), ws, sql).start())
        st.session_state.history_job = held
    return held[1]


def show_answer(query: ConsoleQuery) -> None:
    try:
        result = query.result()
    except OpsLabError as exc:  # one sentence, or DuckDB's own message for a typo or an unknown column
        st.error(str(exc), icon="⚠️")
        return
    st.markdown(f"**{result.note}**")
    st.dataframe(result.frame, width="stretch", hide_index=True, key="history_result")
    parquet = data_learn.parquet_bytes(result.frame)
    with st.container(horizontal=True):
        st.download_button("CSV", data_learn.csv_bytes(result.frame), file_name=f"opslab-{ws}-query.csv",
                           mime="text/csv", key="history_csv", on_click="ignore", icon=":material/download:")  # fmt: skip
        st.download_button("Parquet", parquet or b"", file_name=f"opslab-{ws}-query.parquet",
                           mime="application/vnd.apache.parquet", key="history_parquet", on_click="ignore",
                           icon=":material/download:", disabled=parquet is None,
                           help=None if parquet else "Parquet needs unique, named columns: alias them.")  # fmt: skip


query_col, schema_col = st.columns([2.3, 1], gap="large")
with query_col:
    st.selectbox("Example queries", list(EXAMPLE_QUERIES), key="history_example", on_change=use_example)
    st.text_area("SQL", key="history_sql", height=170, help="DuckDB SQL; tables are listed on the right.")
    st.button("Run", type="primary", key="history_run", on_click=run)
    st.caption(
        f"The query runs on a private in-memory copy of workspace **{ws}**'s rows: it cannot see other "
        "workspaces, write, read or write files, or load extensions, and it stops after "
        f"{console_timeout_s():g} s or {MEMORY_LIMIT_MB} MB (DuckDB `enable_external_access = false`, "
        "`lock_configuration = true`)."
    )

    sql = st.session_state.get("history_query")
    if sql:
        query = console_query(sql)
        if query.wait(INLINE_WAIT_S):
            show_answer(query)
        else:

            @st.fragment(run_every=0.5)
            def wait_for_answer() -> None:
                if query.done():
                    st.rerun()  # the whole page, to draw the answer outside the polling fragment
                st.info(
                    f"Running for {query.elapsed_s:.0f} s; the console stops it at {query.timeout_s:g} s."
                )
                st.button("Cancel", key="history_cancel", on_click=query.cancel, icon=":material/stop:")

            wait_for_answer()

with schema_col:
    st.subheader("Tables")
    st.caption(f"Rows of workspace **{ws}**; open a table for its columns.")
    columns = data_learn.schema(db, ws, version)
    counts = data_learn.row_counts(db, ws, version)
    for table, cols in columns.groupby("table", sort=False):
        rows = counts.get(str(table), 0)
        with st.expander(f"`{table}` · {rows:,} row{'' if rows == 1 else 's'}"):
            st.dataframe(cols[["column", "type"]], hide_index=True, width="stretch")
