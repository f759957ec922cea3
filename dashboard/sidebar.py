"""The sidebar: workspace picker (a workspace per workshop seat), where the data lives, credits."""

from __future__ import annotations

import streamlit as st

from dashboard import data, state
from pipelines.paths import check_workspace_name

__all__ = ["render"]


def _switch() -> None:
    choice = st.session_state.get("workspace_picker")
    if choice:
        state.set_workspace(choice)


def _create() -> None:
    name = (st.session_state.get("new_workspace") or "").strip()
    if not name:
        return
    try:
        state.set_workspace(check_workspace_name(name))
    except ValueError as exc:
        st.session_state.workspace_error = str(exc)
    st.session_state.new_workspace = ""


# Streamlit's page links carry no query string, so a link opened in a new tab (or copied) lost the
# workspace, and a seat's link its seat. This keeps each link's href on the page's own `workspace`,
# `seat` and `watch` (a click navigates in the app as before; the href is what a new tab opens).
NAV_LINKS_KEEP_PARAMS = """<script>
(() => {
  const keep = ["workspace", "seat", "watch"];
  const fix = () => {
    const here = new URLSearchParams(window.location.search), q = new URLSearchParams();
    for (const k of keep) if (here.get(k)) q.set(k, here.get(k));
    const qs = q.toString();
    for (const a of document.querySelectorAll('a[data-testid="stSidebarNavLink"]')) {
      const want = new URL(a.href, window.location.origin).pathname + (qs ? "?" + qs : "");
      if (a.getAttribute("href") !== want) a.setAttribute("href", want);
    }
  };
  if (!window.opslabNavLinks) {
    window.opslabNavLinks = new MutationObserver(fix);
    window.opslabNavLinks.observe(document.body, {subtree: true, childList: true, attributes: true,
                                                  attributeFilter: ["href"]});
    window.setInterval(fix, 1000);  // the page's own URL changes without a mutation
  }
  fix();
})();
</script>"""


def render() -> None:
    db = state.db_path()
    with st.sidebar:
        st.html(NAV_LINKS_KEEP_PARAMS, unsafe_allow_javascript=True)
        names = []
        try:
            names = data.workspaces(db, data.listing_version(db))
        except Exception as exc:  # a busy or unreadable file must not take the sidebar down
            st.caption(f"Workspaces unavailable: {exc}")
        current = state.workspace()
        options = sorted({name for name in names if state.owns(name)} | {current})
        # A keyed widget keeps its own value: follow a workspace chosen elsewhere (a new one, Start on
        # the Learn page, a deep link) before the picker is drawn.
        st.session_state.workspace_picker = current
        seat = state.seat()
        mine = f"Seat {seat}: your workspace and those named {seat}-…" if seat else None
        st.selectbox("Workspace", options, index=options.index(current), key="workspace_picker",
                     on_change=_switch, help=mine or "Each browser session can use its own workspace.")  # fmt: skip
        st.text_input("New workspace", key="new_workspace", on_change=_create,
                      placeholder=f"e.g. {seat}-retrain, then Enter" if seat else "e.g. seat-07, then Enter")  # fmt: skip
        if error := st.session_state.pop("workspace_error", None):
            st.error(error)
        if watched := state.watching():
            st.caption(f"👁️ Watching {watched} read-only: its play, run and reset buttons are off.")
            st.button("Stop watching", key="stop_watching", on_click=state.stop_watching)
        st.caption(f"Run history: `{db}`")
        st.caption(
            "Data: simulated bike-demand world (built in); UCI Bike Sharing, Fanaee-T & Gama (2013), "
            "CC BY 4.0, when fetched."
        )
