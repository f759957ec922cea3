"""The traffic's keep-alive connection (issue #9: full-story in 30 s): a connection the server closed
while idle is opened again for the next request, and a server that is gone is still no answer."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipelines.devops.service import HttpClient, serve_batch


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    open_connections: list = []  # noqa: RUF012  (so a test can end them, as a dying process does)

    def setup(self) -> None:
        super().setup()
        self.open_connections.append(self.connection)

    def do_POST(self) -> None:
        rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"]
        data = json.dumps({"predictions": [1.0] * len(rows)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _server() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_one_connection_serves_several_batches_and_survives_an_idle_close() -> None:
    server, url = _server()
    try:
        client = HttpClient(url)
        first = serve_batch(url, [{"hr": 1}] * 48, rows_per_request=24, client=client)
        assert (first.requests, first.errors) == (2, 0)
        connection = client.conn
        assert connection is not None  # kept open for the next batch
        connection.sock.shutdown(2)  # as when the server's idle timeout closes it
        second = serve_batch(url, [{"hr": 2}] * 24, rows_per_request=24, client=client)
        assert (second.requests, second.errors) == (1, 0)
        assert second.predictions == [1.0] * 24
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_is_gone_is_no_answer() -> None:
    server, url = _server()
    client = HttpClient(url)
    assert serve_batch(url, [{"hr": 1}] * 24, client=client).errors == 0
    server.shutdown()
    server.server_close()
    for connection in _Echo.open_connections:  # the process is gone: its connections with it
        with contextlib.suppress(OSError):
            connection.shutdown(2)
    gone = serve_batch(url, [{"hr": 1}] * 24, client=client)
    assert (gone.requests, gone.errors) == (1, 1)
    assert gone.predictions == [None] * 24
    client.close()
