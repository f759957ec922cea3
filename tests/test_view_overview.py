"""AppTest of the Overview (and the Timeline's story): what the page states comes from the play."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.mlops.simulator import DriftInjection
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import PRESETS
from pipelines.store import Store
from pipelines.store.queries import runs_table
from tests.conftest import APP


def _page(view: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page(view)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _markdown(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown]


@pytest.fixture(scope="module")
def calm_with_concept_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """calm-seas by name, but with a sudden concept drift injected in its second week."""
    preset = PRESETS["calm-seas"].with_weeks(6)
    settings = dataclasses.replace(
        preset,
        changes=(),
        simulator=dataclasses.replace(
            preset.simulator, injections=(DriftInjection("concept", "sudden", onset_week=10, feature="hr"),)
        ),
    )
    path = tmp_path_factory.mktemp("calm") / "opslab.duckdb"
    run_scenario(Store(path), "demo", settings)
    return path


@pytest.fixture
def calm_env(calm_with_concept_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import streamlit as st

    monkeypatch.setenv("OPSLAB_DB", str(calm_with_concept_db))
    st.cache_data.clear()
    return calm_with_concept_db


def test_overview_counts_the_plays_retrains_and_names_how_it_departs_from_the_preset(app_env: Path) -> None:
    at = _page("views/overview.py")
    # The shared history is bad-friday-deploy by name, but retrained on a schedule (the preset never retrains).
    (warning,) = at.warning
    assert "not the preset **bad-friday-deploy** as written" in warning.value
    assert "policy.kind is schedule (the preset: never)" in warning.value
    mlops = runs_table(Store(app_env), "demo", "mlops")
    retrains = len(mlops) - 1  # the first training is not a retrain
    assert retrains >= 1
    assert any(
        f"{retrains} retrain{'s' if retrains > 1 else ''}: {retrains} on schedule" in m for m in _markdown(at)
    )
    narrative = PRESETS["bad-friday-deploy"].narrative
    (intent,) = [e for e in at.expander if "bad-friday-deploy set out to show" in e.label]
    assert "departs from it" in intent.label
    assert any(narrative in str(m.value) for m in intent.markdown)
    assert sum(narrative in m for m in _markdown(at)) == 1  # nowhere else on the page


@pytest.mark.slow
@pytest.mark.parametrize("view", ["views/overview.py", "views/timeline.py"])
def test_a_concept_drift_play_does_not_tell_the_quiet_tale(calm_env: Path, view: str) -> None:
    at = _page(view)
    markdown = _markdown(at)
    (intent,) = [e for e in at.expander if "calm-seas set out to show" in e.label]
    inside = [str(m.value) for m in intent.markdown]
    quiet = [m for m in markdown if "stay quiet" in m]
    assert quiet and all(m in inside for m in quiet)  # the quiet tale only as the preset's intent
    assert any("sudden concept drift on hr from week 2" in m for m in markdown)
    assert "simulator.injections is sudden concept drift on hr" in at.warning[0].value
    not_kept = [m for m in inside if m.startswith("❌ **not kept**: retraining is not needed.")]
    assert len(not_kept) == 1
    assert "Expected exactly 0 retrains; the play had" in not_kept[0]
    assert any("retrain" in m and "on quality decay" in m for m in markdown)  # counted from the history


def test_a_keys_receipt_is_read_and_drawn_when_its_popover_opens(app_env: Path) -> None:
    """Ten receipts (rows and SQL) were drawn hidden on every visit: most of what the Overview sent
    the browser on a big history (issue 12). Now a popover's receipt comes when it is opened."""
    at = _page("views/overview.py")
    assert not at.code and not any("it was computed from" in m for m in _markdown(at))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["overview_dora_deployment_frequency_receipt_open"] = True  # as a click would
    at.switch_page("views/overview.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("it was computed from" in m for m in _markdown(at))
    assert any("SELECT" in c.value.upper() for c in at.code)
