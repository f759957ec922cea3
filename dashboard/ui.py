"""Small view helpers: errors as sentences, the empty state, key cards, receipts, the definition switch."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, state
from dashboard.theme import TIERS
from pipelines.devops import metrics as dora_metrics
from pipelines.devops.definitions import DEFAULT_DEFINITION, DEFINITIONS
from pipelines.errors import OpsLabError
from pipelines.importers.unknowns import UNKNOWN
from pipelines.keys import KeyResult

__all__ = [
    "definition_switch",
    "empty_state",
    "guard",
    "key_cards",
    "key_details",
    "look_again_soon",
    "receipt",
    "tier_table",
]


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Expected failures (bad input, a busy database) become one `st.error` sentence."""
    try:
        yield
    except OpsLabError as exc:
        st.error(str(exc), icon="⚠️")


def empty_state(workspace: str) -> None:
    st.info(
        f"Workspace **{workspace}** has no history yet. Open the **Control room** and play a scenario "
        "(full-story is the classic), or run `opslab scenario run full-story` in a terminal.",
        icon="ℹ️",
    )


RECEIPT_ROWS = 200  # rows of a key's receipt shown on the page; all of them in its download


def key_cards(keys: Sequence[KeyResult], columns: int = 5, *, receipts: bool = False, key: str = "") -> None:
    """One metric a key, its tier as a badge; with `receipts`, a popover under each opens its rows."""
    cols = st.columns(columns)
    opened: list[tuple[Any, KeyResult]] = []
    for col, result in zip(cols, keys, strict=False):
        with col:
            tier = f":{_tier_colour(result.tier)}-badge[{result.tier}]" if result.tier else ""
            st.metric(result.label, result.display, help=f"{result.formula}\n\n{result.note or ''}")
            if tier:
                st.markdown(tier)
            if receipts and result.receipt_sql:
                rows = f"{result.n} row{'' if result.n == 1 else 's'}"
                popover = st.popover(rows, help="The rows this key was computed from, and the SQL",
                                     key=f"{key}_{result.key}_receipt_open", on_change="rerun")  # fmt: skip
                if popover.open:
                    opened.append((popover, result))
    # A receipt is read and drawn when its popover is opened, not on every visit (issue 12: ten
    # receipts of up to 200 rows each were most of what the Overview sent to the browser).
    rows_of = _receipts([result for _, result in opened])
    for popover, result in opened:
        with popover:
            receipt(result, key=f"{key}_{result.key}", rows=rows_of.get(result.key))
    unknown: dict[str, list[str]] = {}  # why -> the keys it leaves unknown: said once, under the cards
    for result in keys:
        if result.display == UNKNOWN:
            unknown.setdefault(result.note or "", []).append(result.label)
    for why, labels in unknown.items():
        st.caption(f"**{', '.join(labels)}**: {why}.")


def _receipts(keys: Sequence[KeyResult]) -> dict[str, pd.DataFrame]:
    """Every key's receipt rows by key, read in one go (one connection for them all)."""
    shown = [k for k in keys if k.receipt_sql]
    if not shown:
        return {}
    db, ws = state.db_path(), state.workspace()
    asked = tuple((k.receipt_sql, k.receipt_params) for k in shown)
    return dict(
        zip((k.key for k in shown), data.receipts(db, ws, data.db_version(db, ws), asked), strict=True)
    )


def _tier_colour(tier: str | None) -> str:
    return {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}.get(tier or "", "gray")


def receipt(result: KeyResult, key: str, rows: pd.DataFrame | None = None) -> None:
    """A key's receipt: the rows its SQL aggregated (as many as its `n`, or `rows` when they were
    read already), then both queries."""
    st.markdown(f"**Formula.** {result.formula}")
    if result.note:
        st.caption(result.note)
    if result.tier_source:
        st.caption(f"Tiers: {result.tier_source}")
    if result.receipt_sql:
        db, ws = state.db_path(), state.workspace()
        version = data.db_version(db, ws)
        if rows is None:
            rows = data.receipt(db, ws, version, result.receipt_sql, result.receipt_params)
        st.markdown(f"**The {len(rows):,} row{'' if len(rows) == 1 else 's'} it was computed from**")
        if not rows.empty:
            # A big history's receipt has thousands of rows: the page shows the first ones and says so,
            # and the download (built only when clicked) has them all.
            st.dataframe(rows.head(RECEIPT_ROWS), hide_index=True, width="stretch", key=f"receipt_{key}")
            if len(rows) > RECEIPT_ROWS:
                st.caption(
                    f"The first {RECEIPT_ROWS:,} of {len(rows):,} rows are shown; the download has them all."
                )
                st.download_button(
                    f"Download all {len(rows):,} rows (CSV)", key=f"receipt_csv_{key}", on_click="ignore",
                    data=lambda: data.receipt(db, ws, version, result.receipt_sql, result.receipt_params)
                    .to_csv(index=False).encode("utf-8"),
                    file_name=f"{result.key}-rows.csv", mime="text/csv",
                )  # fmt: skip
        st.caption("The figure's SQL")
        st.code(result.sql.strip(), language="sql")
        st.caption("The rows' SQL (same filters)")
        st.code(result.receipt_sql.strip(), language="sql")
    else:
        st.code(result.sql.strip(), language="sql")


def key_details(keys: Sequence[KeyResult], key: str = "details") -> None:
    """Each key in an expander: formula, tier table source, the rows it was computed from, the SQL."""
    opened = []
    for result in keys:
        label = f"{result.label}: {result.display}" + (f" ({result.tier})" if result.tier else "")
        expander = st.expander(label, key=f"{key}_{result.key}_open", on_change="rerun")
        if expander.open:  # read and drawn when opened, as `key_cards`' receipts
            opened.append((expander, result))
    rows_of = _receipts([result for _, result in opened])
    for expander, result in opened:
        with expander:
            receipt(result, key=f"{key}_{result.key}", rows=rows_of.get(result.key))


def definition_switch(key: str) -> str:
    """Four Keys, DORA 2023 or DORA 2024: which rules and tier table the DORA keys are read by."""
    choice = st.segmented_control(
        "Definition", options=list(DEFINITIONS), format_func=DEFINITIONS.__getitem__,
        default=DEFAULT_DEFINITION, key=key,
        help="Four Keys' own rules (last three months, every deploy, buckets), or DORA's 2023 or 2024 "
        "performance levels. The figures and tiers are recomputed under each.",
    )  # fmt: skip
    return choice or DEFAULT_DEFINITION


def tier_table(definition: str) -> None:
    """The tier table the chosen definition places the DORA keys by, with its source year."""
    frame = dora_metrics.tier_table(definition)
    source = frame.attrs.get("source", "")
    st.table(frame.set_index(frame.columns[0]))  # a table wraps its cells: nothing cut on a projector
    st.caption(f"Source: {source}. A blank cell or 'no tier': the table publishes no level there.")
    published = dora_metrics.published_levels(definition)
    if not published.empty:
        with st.expander(f"The levels as the {DEFINITIONS[definition]} report prints them"):
            st.table(published.set_index(published.columns[0]))


TIER_COLOURS = TIERS


LOOK_AGAIN_S = 3.0


@st.fragment(run_every=LOOK_AGAIN_S)
def _look_again() -> None:
    # Drawn with the page (nothing to do), then ticks: the first tick runs the whole page again.
    if time.monotonic() - st.session_state.get("_look_again_from", 0.0) >= LOOK_AGAIN_S / 2:
        st.rerun(scope="app")


def look_again_soon() -> None:
    """Run the whole page again in a few seconds (a watched seat that was busy may be free by then)."""
    st.session_state._look_again_from = time.monotonic()
    _look_again()


def runs_page_picker(total: int, key: str) -> int:
    """Which page of a long runs table to show (0 is the newest): a page number when there are more
    runs than one page holds (`data.RUNS_PAGE`), else 0 without a widget."""
    pages = -(-total // data.RUNS_PAGE)
    if pages <= 1:
        return 0
    number = st.number_input(
        f"Page of runs ({data.RUNS_PAGE} a page, newest first)", min_value=1, max_value=pages, value=1, step=1,
        key=key, help="A long history is read a page at a time; counts and trends count every run.",
    )  # fmt: skip
    return int(number) - 1


def runs_page_note(total: int, page: int, shown: int) -> str:
    """'89,959 runs; this table shows runs 1–500, newest first (page 1 of 180).' or 'N runs, newest first.'"""
    if shown >= total:
        return f"{total:,} runs, newest first."
    first = page * data.RUNS_PAGE + 1
    pages = -(-total // data.RUNS_PAGE)
    return (
        f"{total:,} runs; this table shows runs {first:,}–{first + shown - 1:,}, newest first "
        f"(page {page + 1} of {pages:,})."
    )


TABLE_ROWS = 500  # rows of a long record table (deployments, model versions, alias moves) a page shows


def newest_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The first TABLE_ROWS rows of a newest-first table; when there are more, a caption says how many
    are shown and where the rest are (a big history's pages never drop rows without a word)."""
    if len(frame) <= TABLE_ROWS:
        return frame
    st.caption(
        f"The newest {TABLE_ROWS:,} of {len(frame):,} {what} are shown; the History page's SQL reads them all."
    )
    return frame.head(TABLE_ROWS)
