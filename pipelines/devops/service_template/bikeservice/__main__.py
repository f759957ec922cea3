"""Command line: ``python bikeservice.pyz --host 127.0.0.1 --port 0 --model PATH``.

With ``--port 0`` the OS picks a free port; the port is written to ``--port-file`` (atomically,
after binding) and printed, so whoever started the server never races for a port.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from . import __version__
from .model import ModelError
from .server import make_server

EXIT_PORT_IN_USE = 3
EXIT_BAD_MODEL = 4
PARENT_PID_ENV = "OPSLAB_PARENT_PID"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bikeservice", description="Bike-demand prediction service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    parser.add_argument("--model", required=True, help="model file: baseline .json or scikit-learn .pkl")
    parser.add_argument("--port-file", help="write the bound port to this file once listening")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the starting process dies")
    args = parser.parse_args(argv)

    if args.exit_with_parent:  # from the start: the parent may die while the model loads
        signal.signal(signal.SIGTERM, _stop)
        _exit_with_parent()
    try:
        server = make_server(args.host, args.port, args.model)
    except KeyboardInterrupt:
        print("bikeservice stopped before it listened", flush=True)
        return 0
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"bikeservice: port {args.port} on {args.host} is already in use", file=sys.stderr)
            return EXIT_PORT_IN_USE
        raise
    except ModelError as exc:
        print(f"bikeservice: {exc}", file=sys.stderr)
        return EXIT_BAD_MODEL

    try:
        signal.signal(signal.SIGTERM, _stop)
        port = server.server_address[1]
        if args.port_file:
            _write_atomically(Path(args.port_file), f"{port}\n")
        print(f"bikeservice {__version__} listening on http://{args.host}:{port}", flush=True)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("bikeservice stopped", flush=True)
    return 0


def _exit_with_parent() -> None:
    """Stop once the process that started us is gone, even if it was killed outright.

    A pipeline stops its servers on the way out, but a SIGKILL gives it no way out. The starter
    passes its pid in OPSLAB_PARENT_PID: asking os.getppid() now would name whoever adopted us if
    the starter died while we were starting. Stopping is a SIGTERM to ourselves, which ends the
    model load or serve_forever alike.
    """
    given = os.environ.get(PARENT_PID_ENV, "")
    parent = int(given) if given.isdigit() else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends serve_forever the same way Ctrl-C does."""
    raise KeyboardInterrupt


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
