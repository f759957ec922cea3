"""Small view helpers: errors as sentences, the empty state, key cards, the SQL expander."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import streamlit as st

from dashboard.theme import TIERS
from pipelines.errors import OpsLabError
from pipelines.keys import KeyResult

__all__ = ["empty_state", "guard", "key_cards", "key_details"]


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
