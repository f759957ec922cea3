"""Small view helpers: errors as sentences, the empty state, key cards, the SQL expander."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

import streamlit as st

from dashboard.theme import TIERS
from pipelines.errors import OpsLabError
from pipelines.keys import KeyResult

__all__ = ["empty_state", "guard", "key_cards", "key_details", "look_again_soon"]


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


def key_cards(keys: Sequence[KeyResult], columns: int = 5) -> None:
    cols = st.columns(columns)
    for col, key in zip(cols, keys, strict=False):
        with col:
            tier = f":{_tier_colour(key.tier)}-badge[{key.tier}]" if key.tier else ""
            st.metric(key.label, key.display, help=f"{key.formula}\n\n{key.note or ''}")
            if tier:
                st.markdown(tier)


def _tier_colour(tier: str | None) -> str:
    return {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}.get(tier or "", "gray")


def key_details(keys: Sequence[KeyResult]) -> None:
    """Each key's formula, tier table source and the SQL that computed it."""
    for key in keys:
        with st.expander(f"{key.label}: {key.display}" + (f" ({key.tier})" if key.tier else "")):
            st.markdown(f"**Formula.** {key.formula}")
            if key.note:
                st.caption(key.note)
            if key.tier_source:
                st.caption(f"Tiers: {key.tier_source}")
            st.code(key.sql.strip(), language="sql")


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
