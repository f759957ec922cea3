"""`opslab dashboard`: serve the dashboard with its security settings in the command itself.

Streamlit reads config files from the folder it is started in, the user's home and the folder of the
script, then environment variables, then flags; flags win. So the launcher passes every setting that
decides who can reach the app and what it sends out as a flag: the address, XSRF and CORS protection,
the upload cap, no usage statistics, no file watcher. `make run` calls it, and the settings are the
same whatever folder it is started from. It replaces itself with `python -m streamlit run` (this
package never imports Streamlit) and tells the app, through `OPSLAB_SERVE_HOST`, which address it was
asked to serve, so that the app's own startup check (dashboard/serving.py) can tell a room served on
purpose from a server started some other way.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
from pathlib import Path

from pipelines.errors import OpsLabError
from pipelines.store import Store

__all__ = ["APP", "UPLOAD_CAP_MB", "is_loopback", "register", "serving_environment", "streamlit_command"]

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# The Control room's uploads (CSV or Parquet of a few weeks of data) fit well below this, in MB.
UPLOAD_CAP_MB = 50
SETTINGS = {
    "server.headless": "true",
    "server.enableXsrfProtection": "true",
    # Both on: Streamlit 1.67 warns when XSRF is on and CORS off (any origin may open the websocket).
    "server.enableCORS": "true",
    "server.maxUploadSize": str(UPLOAD_CAP_MB),
    "browser.gatherUsageStats": "false",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
    "global.developmentMode": "false",
}


def is_loopback(host: str) -> bool:
    """True when only this machine can reach `host` (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def streamlit_command(host: str, port: int, python: str = sys.executable) -> list[str]:
    """The exact `python -m streamlit run` argv: every security setting as a flag."""
    argv = [python, "-m", "streamlit", "run", str(APP), "--server.address", host, "--server.port", str(port)]
    for key, value in SETTINGS.items():
        argv += [f"--{key}", value]
    return argv


def serving_environment(db: Path, host: str, *, facilitator: bool) -> dict[str, str]:
    """What the app reads from its environment: the run history, the approved address, the mode."""
    env = {"OPSLAB_DB": str(db), "OPSLAB_SERVE_HOST": host}
    if facilitator:
        env["OPSLAB_FACILITATOR"] = "1"
    return env


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"the port must be a number from 1 to 65535, not {text!r}")
    return port


def _dashboard(args: argparse.Namespace, store: Store) -> int:
    argv = streamlit_command(args.host, args.port)
    env = serving_environment(args.history.path, args.host, facilitator=args.facilitator)
    if not is_loopback(args.host):
        print(
            f"warning: serving {_url(args.host, args.port)} to your network: anyone who can reach this "
            "machine can use the app and run scenarios; use it on a trusted workshop LAN only.",
            file=sys.stderr,
        )
    if args.print_command:
        print(shlex.join([f"{key}={value}" for key, value in env.items()] + argv))
        return 0
    where = _url("127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host, args.port)
    note = "; seats use this machine's network address" if not is_loopback(args.host) else ""
    print(f"OpsLab dashboard on {where}{note} (history: {args.history.path}; Ctrl-C stops it)", flush=True)
    # The command owns the mode too: an OPSLAB_FACILITATOR left in the shell does not make one.
    inherited = {key: value for key, value in os.environ.items() if key != "OPSLAB_FACILITATOR"}
    try:
        os.execve(argv[0], argv, {**inherited, **env})
    except OSError as exc:
        raise OpsLabError(f"Could not start Streamlit with {argv[0]}: {exc}") from exc
    return 1  # not reached: execve replaces this process


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="serve the dashboard (what `make run` calls); loopback unless --host says otherwise",
        description="Serve the dashboard with its security settings (address, XSRF and CORS protection, "
        f"a {UPLOAD_CAP_MB} MB upload cap, no usage statistics) passed as flags, whatever folder it is "
        "started from.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 serves your network)",
    )
    p.add_argument("--port", type=_port, default=8501, help="port (default 8501)")
    # SUPPRESS keeps `opslab --db PATH dashboard` working: an absent sub-option must not reset it.
    p.add_argument("--db", default=argparse.SUPPRESS, help="run-history file (same as opslab --db)")
    p.add_argument("--facilitator", action="store_true", help="start the app in facilitator mode")
    p.add_argument(
        "--print-command", action="store_true", help="print the environment and command, start nothing"
    )
    p.set_defaults(handler=_dashboard)
