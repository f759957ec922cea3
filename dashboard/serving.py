"""The startup check: a server that `opslab dashboard` did not set up says so on every page.

`opslab dashboard` (and `make run`) passes every security setting as a flag, and the config file
beside app.py carries the same values, so `streamlit run` from any folder starts safe on a current
Streamlit. An environment variable, a flag or a user's own config file can still change them; this
check reads the settings the server really runs with and names what is unsafe in one warning.
Usage statistics are the one thing it can still change while running: it turns them off, which takes
effect for every tab opened afterwards. The address, XSRF, CORS and the upload cap are fixed when the
server starts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from streamlit import config

from pipelines.cli.dashboard import UPLOAD_CAP_MB, is_loopback

__all__ = ["check_serving", "serving_problems"]

_STATS = "browser.gatherUsageStats"
_TURNED_OFF_HERE = "OpsLab's startup check (dashboard/serving.py)"


def serving_problems(
    option: Callable[[str], Any], environ: Mapping[str, str], *, stats_turned_off: bool = False
) -> list[str]:
    """What is unsafe about the settings `option` reads, as clauses for one sentence (empty: all fine).

    A network address is fine only when `opslab dashboard` was asked for it (`OPSLAB_SERVE_HOST`).
    """
    problems = []
    address = option("server.address")
    if not address:
        problems.append("it listens on every network interface")
    elif not is_loopback(address) and address != environ.get("OPSLAB_SERVE_HOST"):
        problems.append(f"it listens on {address}, reachable from the network")
    if option(_STATS):
        problems.append("usage statistics are on and could not be turned off while it runs")
    elif stats_turned_off:
        problems.append("usage statistics were on at start, turned off now for the tabs opened from here on")
    if not option("server.enableXsrfProtection"):
        problems.append("XSRF protection is off")
    if not option("server.enableCORS"):
        problems.append("CORS protection is off (any web page may connect)")
    cap = option("server.maxUploadSize")
    if cap > UPLOAD_CAP_MB:
        problems.append(f"it accepts uploads of {cap} MB")
    return problems


def check_serving() -> None:
    """Called first by app.py: turn usage statistics off if they are on, and warn about the rest."""
    if config.get_option("global.appTest"):  # AppTest runs the script without a server: nothing is served
        return
    if config.get_option(_STATS):
        # st.set_option refuses browser options; streamlit.config.set_option (internal API) takes any,
        # and each session reads this one when a run starts. If that API goes away, the warning says so.
        with contextlib.suppress(Exception):
            config.set_option(_STATS, False, _TURNED_OFF_HERE)
    turned_off = config.get_where_defined(_STATS) == _TURNED_OFF_HERE
    problems = serving_problems(config.get_option, os.environ, stats_turned_off=turned_off)
    if problems:
        st.warning(
            f"This server runs with unsafe settings ({'; '.join(problems)}): restart it with `make run` "
            "or `opslab dashboard` (`--host 0.0.0.0` to serve a workshop room), which set them from the "
            "command whatever folder you start in.",
            icon="⚠️",
        )
