"""Response format, health endpoint and a live server on a free port."""

from __future__ import annotations

import http.client
import json
import socket

import bikeservice
from bikeservice.__main__ import EXIT_PORT_IN_USE, main
from bikeservice.model import ModelHandle
from bikeservice.server import health_payload, predict_payload


def request(server, method, path, body=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_predict_response_format(model_path, row):
    body = predict_payload({"rows": [row, {**row, "hr": 3}]}, ModelHandle(model_path))
    assert body["predictions"] == [480.0, 6.0]
    assert set(body["model"]) == {"kind", "version", "sha256"}
    assert body["release"] == bikeservice.__version__


def test_health_reports_release_and_model(model_path):
    body = health_payload(ModelHandle(model_path))
    assert body["status"] == "ok"
    assert body["release"] == bikeservice.__version__
    assert body["model"]["version"] == "test-1"


def test_live_predict_and_health(server, row):
    status, body = request(server, "POST", "/predict", {"rows": [row] * 3})
    assert status == 200
    assert body["predictions"] == [480.0] * 3
    status, body = request(server, "GET", "/health")
    assert (status, body["status"]) == (200, "ok")


def test_live_bad_input_is_400_naming_the_field(server, row):
    status, body = request(server, "POST", "/predict", {"rows": [{**row, "weathersit": 9}]})
    assert status == 400
    assert body["field"] == "weathersit"
    status, body = request(server, "POST", "/predict", b"{broken")
    assert (status, body["field"]) == (400, "body")


def test_live_unknown_route_is_404(server):
    status, body = request(server, "GET", "/nothing")
    assert status == 404 and "error" in body


def test_keep_alive_serves_several_requests_on_one_connection(server, row):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        for _ in range(3):
            conn.request("POST", "/predict", body=json.dumps({"rows": [row]}))
            response = conn.getresponse()
            assert response.status == 200
            response.read()
    finally:
        conn.close()


def test_cli_reports_a_port_in_use(model_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--model", str(model_path)]) == EXIT_PORT_IN_USE
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
