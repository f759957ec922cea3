"""History: read-only SQL over the current workspace's run history, with examples and downloads."""

from __future__ import annotations

import streamlit as st

from dashboard import data, data_learn, state, ui
from pipelines.errors import OpsLabError
from pipelines.store.sandbox import EXAMPLE_QUERIES

db, ws = state.db_path(), state.workspace()
version = data.db_version(db)
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


query_col, schema_col = st.columns([2.3, 1], gap="large")
with query_col:
    st.selectbox("Example queries", list(EXAMPLE_QUERIES), key="history_example", on_change=use_example)
    st.text_area("SQL", key="history_sql", height=170, help="DuckDB SQL; tables are listed on the right.")
    st.button("Run", type="primary", key="history_run", on_click=run)
    st.caption(
        f"The connection is read-only and scoped to workspace **{ws}**: it cannot write, read or write files, "
        "or load extensions (DuckDB `read_only`, `enable_external_access = false`, `lock_configuration = true`)."
    )

    sql = st.session_state.get("history_query")
    if sql:
        try:
            frame = data_learn.query(db, ws, sql, version)
        except OpsLabError as exc:  # DuckDB's own message: a typo, an unknown column, a write attempt
            st.error(str(exc), icon="⚠️")
        else:
            capped = (
                " (the first rows only: the page shows at most 10,000)"
                if len(frame) >= data_learn.MAX_ROWS
                else ""
            )
            st.markdown(f"**{len(frame):,} row{'s' if len(frame) != 1 else ''}**{capped}")
            st.dataframe(frame, width="stretch", hide_index=True, key="history_result")
            parquet = data_learn.parquet_bytes(frame)
            with st.container(horizontal=True):
                st.download_button("CSV", data_learn.csv_bytes(frame), file_name=f"opslab-{ws}-query.csv",
                                   mime="text/csv", key="history_csv", on_click="ignore",
                                   icon=":material/download:")  # fmt: skip
                st.download_button("Parquet", parquet or b"", file_name=f"opslab-{ws}-query.parquet",
                                   mime="application/vnd.apache.parquet", key="history_parquet", on_click="ignore",
                                   icon=":material/download:", disabled=parquet is None,
                                   help=None if parquet else "Parquet needs unique, named columns: alias them.")  # fmt: skip

with schema_col:
    st.subheader("Tables")
    st.caption(f"Rows of workspace **{ws}**; open a table for its columns.")
    columns = data_learn.schema(db, version)
    counts = data_learn.row_counts(db, ws, version)
    for table, cols in columns.groupby("table", sort=False):
        rows = counts.get(str(table), 0)
        with st.expander(f"`{table}` · {rows:,} row{'' if rows == 1 else 's'}"):
            st.dataframe(cols[["column", "type"]], hide_index=True, width="stretch")
