"""Facilitator: the room at a glance, refreshed live, and the seats' links to hand out.

Only in facilitator mode (`opslab dashboard --facilitator`). The grid comes from
`pipelines.workshop.room_status`, which never makes a seat wait: it opens a seat's file only when
nobody writes it, and a seat that is playing keeps the cells last read (this session holds them).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import streamlit as st

from dashboard import data_room, state
from pipelines.workshop import lan_address

REFRESH_S = 3.0

db = state.db_path()
st.title("Facilitator")
room = data_room.room(db)
if room is None:
    st.info(
        f"This run history has no workshop room yet. Make one with `opslab --db {db} workshop prepare "
        "--seats N` (it plays the preset once and copies it to seat-01…N), then serve it to the room "
        f"with `opslab --db {db} dashboard --host 0.0.0.0`.",
        icon="ℹ️",
    )
    st.stop()

st.caption(
    f"{len(room.seats)} seats, preset **{room.preset}**, made {room.created_at.replace('T', ' ')}. Open a seat's **Timeline** "
    "to watch it read-only. This page never waits on a seat: while a seat plays, its row shows the "
    "play's week and the cells last read."
)


@st.fragment(run_every=REFRESH_S)
def seat_grid() -> None:
    held = st.session_state.get("fac_statuses")
    previous = held[1] if held and held[0] == (db, room.created_at) else None
    found = data_room.statuses(db, room, previous)
    st.session_state.fac_statuses = ((db, room.created_at), {s.workspace: s for s in found})
    states = Counter(s.state for s in found)
    st.markdown(" · ".join(f"**{n}** {name}" for name, n in sorted(states.items())))
    table = data_room.status_table(found)
    exercises = [column for column in table.columns if column[:1].isdigit()]
    # Seat, watch link, state and the exercises first: they are what a glance needs on a laptop.
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="fac_grid",
        column_order=["seat", "timeline", "state", *exercises, "latest run", "read at"],
        column_config={
            "seat": st.column_config.TextColumn("Seat", pinned=True),
            "timeline": st.column_config.LinkColumn("Timeline", display_text="watch ↗"),
            "state": st.column_config.TextColumn("State", width=150),
            **{c: st.column_config.TextColumn(f"Ex {c.split('.')[0]}", help=c, width=105) for c in exercises},
        },
    )
    st.caption("Exercises: " + " · ".join(exercises))
    st.caption(f"Refreshed {datetime.now(UTC):%H:%M:%S} UTC, every {REFRESH_S:g} s.")


seat_grid()

st.subheader("The seats' links")
st.text_input(
    "The room's address",
    value=f"http://{lan_address()}:8501",
    key="fac_base_url",
    help="Where the room's server (`opslab dashboard --host 0.0.0.0`) answers on the network.",
)
st.caption("Each link opens that seat only; a browser without one sees a page asking for it.")
st.dataframe(
    data_room.seat_links(room, st.session_state.fac_base_url),
    hide_index=True,
    width="stretch",
    key="fac_links",
    column_config={"link": st.column_config.LinkColumn("Link")},
)
