"""HTTP front of the service: the standard library's threading server, no framework.

Why stdlib only: OpsLab starts a fresh server for every release it deploys, so start-up
time is part of every pipeline run.
"""

from __future__ import annotations

import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import __version__
from .features import ValidationError, build_features, parse_rows
from .model import ModelError, ModelHandle

MAX_BODY_BYTES = 10_000_000


def predict_payload(payload: Any, model: ModelHandle) -> dict[str, Any]:
    """The /predict answer for a decoded body; raises ValidationError for bad input."""
    rows = parse_rows(payload)
    features = build_features(rows)
    loaded = model.get()
    predictions = loaded.predict(features)
    return {"predictions": predictions, "model": loaded.info(), "release": __version__}


def health_payload(model: ModelHandle) -> dict[str, Any]:
    """The /health answer: healthy means the model file loads and predicts."""
    loaded = model.get()
    return {"status": "ok", "release": __version__, "model": loaded.info()}


class BikeServer(ThreadingHTTPServer):
    """A threading HTTP server that owns the model handle its handlers share."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, address: tuple[str, int], model: ModelHandle) -> None:
        self.model = model
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a batch of requests reuses one connection
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for
    # the client's delayed ACK on every keep-alive request.
    disable_nagle_algorithm = True
    server: BikeServer
    timeout = 60

    def do_GET(self) -> None:
        if self.path != "/health":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})
            return
        try:
            body = health_payload(self.server.model)
        except ModelError as exc:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "error", "error": str(exc)})
            return
        self._send_json(HTTPStatus.OK, body)

    def do_POST(self) -> None:
        if self.path != "/predict":
            self._drain_body()
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route POST {self.path}"})
            return
        try:
            payload = self._read_json()
            body = predict_payload(payload, self.server.model)
        except ValidationError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc), "field": exc.field})
            return
        except Exception as exc:  # any other failure is the service's fault: 500, logged
            traceback.print_exc(file=sys.stderr)
            self._send_json(
                HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"}
            )
            return
        self._send_json(HTTPStatus.OK, body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a week of traffic must not flood the log; errors are logged where they happen."""

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ValidationError("body", "a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would corrupt the next request
            raise ValidationError("body", f"larger than {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValidationError("body", f"not valid JSON: {exc}") from exc

    def _drain_body(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) <= MAX_BODY_BYTES:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(host: str, port: int, model_path: str) -> BikeServer:
    """A bound server whose model has loaded once, so a bad model fails at start, not later."""
    model = ModelHandle(model_path)
    model.get()
    return BikeServer((host, port), model)
