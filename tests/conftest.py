"""Shared fixtures. Tests that need ../shared skip on a user's clone and run in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a skip (a failure in CI, where ../shared must be present)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is not here: tests that need ../shared run in CI, which has it"
        if os.environ.get("OPSLAB_REQUIRE_SHARED"):
            pytest.fail(reason + " (OPSLAB_REQUIRE_SHARED is set)")
        pytest.skip(reason)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "history.duckdb")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real data directory."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("OPSLAB_DB", raising=False)
    monkeypatch.delenv("OPSLAB_DATA_DIR", raising=False)
