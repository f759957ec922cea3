"""Shared fixtures: a baseline model file, a typical row, a live server on a free port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bikeservice.server import BikeServer, make_server

# Mean rentals per (workingday, hr) cell; other cells fall back to "default".
TABLE = {"1-8": 480.0, "1-17": 520.0, "0-14": 370.0, "1-3": 6.0}


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"kind": "baseline", "version": "test-1", "table": TABLE, "default": 150.0}))
    return path


@pytest.fixture
def row() -> dict[str, Any]:
    """A working-day morning in summer, as the UCI data encodes it."""
    return {
        "season": 3, "hr": 8, "weekday": 2, "workingday": 1, "holiday": 0, "weathersit": 1,
        "temp": 0.66, "atemp": 0.61, "hum": 0.54, "windspeed": 0.19, "mnth": 7, "yr": 1,
    }


@pytest.fixture
def server(model_path: Path) -> Iterator[BikeServer]:
    """A real server on port 0 in a thread, always shut down."""
    srv = make_server("127.0.0.1", 0, str(model_path))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
