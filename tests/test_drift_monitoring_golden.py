"""Seeded golden plays: the weekly drift signal is calm when the world is calm and fast when it is not.

Each play is a preset with its default drift settings, told in few weeks and without releases (the
drift story needs no builds), played once per module. Dataset drift is the weekly row's verdict.
An injection's onset is given in simulator weeks (the warm-up counts); the scenario week whose batch
first holds rows from the onset on is the onset week.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from pipelines.mlops.simulator import DriftInjection
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import get_preset
from pipelines.scenario.settings import CALENDAR_COLUMNS, ScenarioSettings
from pipelines.store import Store

pytestmark = pytest.mark.slow

WEEKS = 24
ONSET = 20  # simulator week: scenario week 13 of 24 after the 8-week warm-up
INJECTIONS = {
    "covariate": DriftInjection("covariate", "sudden", onset_week=ONSET, magnitude=1.0, feature="temp"),
    "prior": DriftInjection("prior", "sudden", onset_week=ONSET, magnitude=0.5),
    "concept": DriftInjection("concept", "sudden", onset_week=ONSET, magnitude=1.0, feature="hr"),
}


def _settings(preset: str, weeks: int, injection: DriftInjection | None = None) -> ScenarioSettings:
    settings = dataclasses.replace(get_preset(preset).with_weeks(weeks), changes=())
    if injection is not None:
        simulator = dataclasses.replace(settings.simulator, injections=(injection,))
        settings = dataclasses.replace(settings, simulator=simulator)
    return settings


def _play(tmp: Path, name: str, settings: ScenarioSettings) -> dict[str, pd.DataFrame]:
    store = Store(tmp / f"{name}.duckdb")
    assert run_scenario(store, "demo", settings).status == "succeeded"
    weekly = store.select("weekly", "demo", order_by="week")
    return {"weekly": weekly, "drift": store.select("drift", "demo", order_by="week")}


@pytest.fixture(scope="module")
def plays(tmp_path_factory: pytest.TempPathFactory):
    """Plays on demand, each at most once per module."""
    tmp, played = tmp_path_factory.mktemp("golden-drift"), {}

    def get(name: str) -> tuple[ScenarioSettings, dict[str, pd.DataFrame]]:
        if name not in played:
            if name == "full-story":
                settings = _settings("full-story", 48)
            else:
                settings = _settings("calm-seas", WEEKS, INJECTIONS.get(name))
            played[name] = (settings, _play(tmp, name, settings))
        return played[name]

    return get


def _onset_week(settings: ScenarioSettings, weekly: pd.DataFrame) -> int:
    (injection,) = settings.simulator.injections
    onset = pd.Timestamp(settings.simulator.start) + pd.Timedelta(weeks=injection.onset_week)
    return int(weekly.loc[pd.to_datetime(weekly["sim_time"]) > onset, "week"].min())


def _flagged(frame: pd.DataFrame, features: set[str]) -> pd.Series:
    """Per week, whether any of `features` drifted."""
    rows = frame.loc[frame["feature"].isin(features)]
    return rows.groupby("week")["drifted"].any()


def test_a_calm_world_raises_dataset_drift_in_at_most_a_tenth_of_its_weeks(plays) -> None:
    _, played = plays("calm-seas")
    weekly = played["weekly"]
    assert len(weekly) == WEEKS
    assert weekly["dataset_drift"].fillna(False).astype(bool).mean() <= 0.10


@pytest.mark.parametrize("kind", ["covariate", "prior"])
def test_an_injection_is_flagged_within_two_weeks_and_not_before(plays, kind: str) -> None:
    settings, played = plays(kind)
    weekly = played["weekly"].set_index("week")
    onset = _onset_week(settings, played["weekly"])
    drift = weekly["dataset_drift"].fillna(False).astype(bool)
    before = drift.loc[drift.index < onset]
    assert before.mean() < 0.5  # not in most weeks before the onset
    assert drift.loc[onset : onset + 2].any(), (
        f"{kind} drift from week {onset} not flagged by week {onset + 2}"
    )


def test_concept_drift_leaves_the_inputs_quiet_while_realized_quality_worsens(plays) -> None:
    settings, played = plays("concept")
    weekly, drift = played["weekly"], played["drift"]
    onset = _onset_week(settings, weekly)
    inputs = set(drift["feature"]) - CALENDAR_COLUMNS - {"prediction", "target"}
    after = _flagged(drift.loc[drift["week"] >= onset], inputs | {"prediction"})
    assert after.mean() < 0.5  # the inputs and the model's output stay quiet in most weeks
    error = weekly.set_index("week")["quality"]  # RMSE: higher is worse
    assert error.loc[onset : onset + 2].mean() > 1.5 * error.loc[: onset - 1].mean()


def test_seasons_still_drift_but_temperature_is_not_flagged_in_most_weeks(plays) -> None:
    _, played = plays("full-story")
    weekly, drift = played["weekly"], played["drift"]
    temp = drift.loc[drift["feature"] == "temp"].set_index("week")["drifted"].astype(bool)
    assert len(temp) == 48 and temp.mean() < 0.5
    assert weekly["dataset_drift"].fillna(False).astype(bool).sum() >= 2  # the seasons still show
    assert (weekly["retrain_decision"] == "retrain").sum() >= 1
