"""The scenario engine: every preset tells its story (shortened) and keeps its promises. The rest of
the engine (determinism, workspaces, the CLI, Ctrl-C, seeds) is test_scenario_play.py."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.devops.service import running_services
from pipelines.mlops.training import evaluate_model, load_model
from pipelines.scenario.engine import load_scenario_data, run_scenario
from pipelines.scenario.presets import PRESETS, WORKSHOP_PRESETS
from pipelines.scenario.settings import from_dict, settings_dict
from pipelines.scenario.summary import check_expectations, summarize, tell_story
from pipelines.store import Store

# Each preset told in fewer weeks: the schedule and drift onsets scale with it. The workshop
# presets play whole. `sudden-shock` and `silent-data-bug` told in 20 and 16 weeks are the
# workshop cuts plus a release or two, so their promises are tested through `workshop-shock`
# and `workshop-data-bug` (the same settings, expectations and onsets; fewer server starts).
SHORT_WEEKS = {
    "full-story": 26,
    "calm-seas": 12,
    "seasons-change": 30,
    "bad-friday-deploy": 9,
    **{name: PRESETS[name].weeks for name in WORKSHOP_PRESETS},
}
# The original presets whose promises a workshop cut tests for them.
TESTED_BY_WORKSHOP = {"sudden-shock": "workshop-shock", "silent-data-bug": "workshop-data-bug"}


def _play(tmp_path: Path, name: str, **replace: Any):
    settings = PRESETS[name].with_weeks(SHORT_WEEKS[name])
    if replace:
        settings = dataclasses.replace(settings, **replace)
    store = Store(tmp_path / f"{name}.duckdb")
    result = run_scenario(store, "demo", settings)
    assert [s for s in running_services() if s.is_running()] == []  # no server outlives the scenario
    return store, settings, result


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHORT_WEEKS))
def test_every_preset_keeps_its_promises(tmp_path: Path, name: str, monkeypatch) -> None:
    if name == "seasons-change":  # the real data is not in a user's clone: the stated fallback plays
        monkeypatch.setenv("OPSLAB_DATA_DIR", str(tmp_path / "no-data"))
    store, settings, result = _play(tmp_path, name)
    assert result.status == "succeeded" and result.weeks == settings.weeks
    summary = summarize(store, "demo")
    assert summary["weeks"] == settings.weeks
    failed = [(says, value) for says, held, value in check_expectations(settings, summary) if not held]
    assert failed == []
    if name == "bad-friday-deploy":  # its bad release fails requests: realized quality counts them
        _failed_requests_score_as_failures(store, settings)
    if name == "seasons-change":
        assert result.note and "simulator" in result.note
        # The pages say what was played: the simulator stood in, so this is not the preset's story.
        story = tell_story(store, "demo")
        assert story is not None and not story.follows_preset
        assert any("simulated data instead" in d and "UCI" in d for d in story.differences)


def _failed_requests_score_as_failures(store: Store, settings) -> None:
    """A labelled week whose service returned errors scores worse than its model did on the same rows:
    the rows of failed requests count as forecasts of nothing, not as missing."""
    dataset, _ = load_scenario_data(settings)
    weekly = store.select("weekly", "demo", order_by="week")
    failing = weekly.loc[(weekly["errors"] > 0) & weekly["quality"].notna()]
    assert not failing.empty  # the preset's bad release fails requests in a labelled week
    versions = store.select("model_versions", "demo").set_index("version")
    times = dataset.frame[dataset.time_column]
    for _, week in failing.iterrows():
        end = pd.Timestamp(week["sim_time"])
        batch = dataset.frame.loc[(times > end - pd.Timedelta(weeks=1)) & (times <= end)]
        model = load_model(versions.loc[int(week["model_version"]), "path"])
        answered = evaluate_model(model, batch, task=dataset.task, target=dataset.target)["mae"]
        assert week["quality"] > answered * (1 + 0.5 * week["error_rate"]), week.to_dict()


def test_workshop_presets_are_short_cuts_that_keep_the_promises_they_stand_for() -> None:
    assert len(WORKSHOP_PRESETS) >= 4
    for name in WORKSHOP_PRESETS:
        assert 12 <= PRESETS[name].weeks <= 20, name
    assert set(PRESETS) == set(SHORT_WEEKS) | set(TESTED_BY_WORKSHOP)  # every preset's promises tested
    for original, cut in TESTED_BY_WORKSHOP.items():
        told = PRESETS[original].with_weeks(PRESETS[cut].weeks)
        workshop = PRESETS[cut]
        assert workshop.expectations == told.expectations
        assert (workshop.simulator, workshop.policy) == (told.simulator, told.policy)


def test_presets_have_narratives_and_round_trip_as_data() -> None:
    assert set(SHORT_WEEKS) <= set(PRESETS) and "full-story" in PRESETS
    for preset in PRESETS.values():
        sentences = preset.narrative.count(". ") + 1
        assert 2 <= sentences <= 4, preset.name
        assert preset.expectations
        assert from_dict(json.loads(json.dumps(settings_dict(preset)))) == preset
