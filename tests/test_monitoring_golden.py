"""Seeded golden plays of monitoring: the weekly drift signal is calm when the world is calm and fast
when it is not, and quality estimated before the labels tracks realized quality when the inputs
move (covariate drift) and stays flat when only their meaning changes (concept drift).

Each play is calm-seas with one injection, told in 24 weeks without releases (the monitoring story
needs no builds) and, unless a test says otherwise, without retraining (`never`: one model, so what
is measured is the signal, not a retrain), played once per module and shared by the drift and the
estimate tests. An injection's onset is given in simulator weeks (the warm-up counts); the scenario
week whose batch first holds rows from the onset on is the onset week. The calm world (calm-seas at
most a tenth of its weeks in dataset drift) and the seasons (full-story's temp not flagged in most
weeks) are promises of those presets, checked on their whole plays by test_scenario.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipelines.mlops.alarms import workspace_alarm_scores
from pipelines.mlops.policy import RetrainPolicy
from pipelines.mlops.simulator import DriftInjection
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import get_preset
from pipelines.scenario.settings import CALENDAR_COLUMNS, ScenarioSettings
from pipelines.store import Store

pytestmark = pytest.mark.slow

WEEKS = 24
ONSET = 20  # simulator week: scenario week 13 of 24 after the 8-week warm-up
INJECTIONS = {
    # Temperature one standard deviation up: demand follows it through the unchanged response.
    "covariate": DriftInjection("covariate", "sudden", onset_week=ONSET, magnitude=1.0, feature="temp"),
    "prior": DriftInjection("prior", "sudden", onset_week=ONSET, magnitude=0.5),
    # The hour profile two hours later: the same inputs, other demand.
    "concept": DriftInjection("concept", "sudden", onset_week=ONSET, magnitude=1.0, feature="hr"),
}


def _settings(injection: DriftInjection, policy: str) -> ScenarioSettings:
    settings = dataclasses.replace(get_preset("calm-seas").with_weeks(WEEKS), changes=())
    simulator = dataclasses.replace(settings.simulator, injections=(injection,))
    return dataclasses.replace(settings, simulator=simulator, policy=RetrainPolicy(policy))


@pytest.fixture(scope="module")
def plays(tmp_path_factory: pytest.TempPathFactory):
    """Plays on demand, each at most once per module: store, settings, weekly and drift rows."""
    tmp, played = tmp_path_factory.mktemp("golden-monitoring"), {}

    def get(name: str, policy: str = "never") -> SimpleNamespace:
        if (name, policy) not in played:
            settings = _settings(INJECTIONS[name], policy)
            store = Store(Path(tmp) / f"{name}-{policy}.duckdb")
            assert run_scenario(store, "demo", settings).status == "succeeded"
            played[name, policy] = SimpleNamespace(
                store=store,
                settings=settings,
                weekly=store.select("weekly", "demo", order_by="week"),
                drift=store.select("drift", "demo", order_by="week"),
            )
        return played[name, policy]

    return get


def _onset_week(settings: ScenarioSettings, weekly: pd.DataFrame) -> int:
    (injection,) = settings.simulator.injections
    onset = pd.Timestamp(settings.simulator.start) + pd.Timedelta(weeks=injection.onset_week)
    return int(weekly.loc[pd.to_datetime(weekly["sim_time"]) > onset, "week"].min())


def _flagged(frame: pd.DataFrame, features: set[str]) -> pd.Series:
    """Per week, whether any of `features` drifted."""
    rows = frame.loc[frame["feature"].isin(features)]
    return rows.groupby("week")["drifted"].any()


# -- the drift signal ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["covariate", "prior"])
def test_an_injection_is_flagged_within_two_weeks_and_not_before(plays, kind: str) -> None:
    play = plays(kind)
    weekly = play.weekly.set_index("week")
    onset = _onset_week(play.settings, play.weekly)
    drift = weekly["dataset_drift"].fillna(False).astype(bool)
    before = drift.loc[drift.index < onset]
    assert before.mean() < 0.5  # not in most weeks before the onset
    assert drift.loc[onset : onset + 2].any(), (
        f"{kind} drift from week {onset} not flagged by week {onset + 2}"
    )


def test_concept_drift_leaves_the_inputs_quiet_while_realized_quality_worsens(plays) -> None:
    play = plays("concept")
    weekly, drift = play.weekly, play.drift
    onset = _onset_week(play.settings, weekly)
    inputs = set(drift["feature"]) - CALENDAR_COLUMNS - {"prediction", "target"}
    after = _flagged(drift.loc[drift["week"] >= onset], inputs | {"prediction"})
    assert after.mean() < 0.5  # the inputs and the model's output stay quiet in most weeks
    error = weekly.set_index("week")["quality"]  # higher is worse
    assert error.loc[onset : onset + 2].mean() > 1.5 * error.loc[: onset - 1].mean()


# -- quality estimated before the labels ----------------------------------------------------------
def test_every_monitored_week_has_an_estimate_beside_its_realized_quality(plays) -> None:
    weekly = plays("covariate").weekly
    assert weekly["quality_estimated"].notna().all()
    labelled = weekly.loc[weekly["quality"].notna()]
    assert len(labelled) == WEEKS - 1  # the last week's labels come after the clock stops


def test_the_estimate_tracks_realized_quality_under_covariate_drift(plays) -> None:
    """Tolerance: the mean absolute relative gap over labelled weeks is at most 20 %. A week's
    realized MAE on ~168 hourly rows is itself noisy (its week-to-week spread in calm weeks is about
    a tenth), so an estimator can hardly do better than that; and the ranking must agree: after the
    onset both see the model err more (Spearman correlation over the weeks at least 0.5)."""
    play = plays("covariate")
    settings, weekly = play.settings, play.weekly
    labelled = weekly.loc[weekly["quality"].notna()]
    gap = (labelled["quality_estimated"] - labelled["quality"]).abs() / labelled["quality"]
    assert gap.mean() <= 0.20, gap.describe()
    assert labelled["quality_estimated"].corr(labelled["quality"], method="spearman") >= 0.5
    onset = _onset_week(settings, weekly)
    before = labelled.loc[labelled["week"] < onset]
    after = labelled.loc[labelled["week"] >= onset]
    # Both see the fall: realized and estimated MAE rise after the onset.
    assert after["quality"].mean() > before["quality"].mean() * 1.1
    assert after["quality_estimated"].mean() > before["quality_estimated"].mean() * 1.1


def test_the_estimate_stays_flat_while_realized_quality_falls_under_concept_drift(plays) -> None:
    """The known failure: the inputs do not move, so neither does the estimate."""
    play = plays("concept")
    settings, weekly = play.settings, play.weekly
    onset = _onset_week(settings, weekly)
    labelled = weekly.loc[weekly["quality"].notna()]
    before = labelled.loc[labelled["week"] < onset]
    after = labelled.loc[labelled["week"] >= onset]
    assert after["quality"].mean() > before["quality"].mean() * 1.5  # realized MAE rises by half
    estimated_before = before["quality_estimated"].mean()
    assert abs(after["quality_estimated"].mean() - estimated_before) <= 0.1 * estimated_before
    # ...so the estimate falls behind realized quality by far more than it did before the onset.
    gap_after = np.mean(after["quality"] - after["quality_estimated"])
    assert gap_after > 0.3 * after["quality"].mean()


def test_alarm_scoring_includes_the_estimated_quality_source(plays) -> None:
    store = plays("covariate").store
    scores = workspace_alarm_scores(store, "demo").set_index("source")
    assert "estimated quality" in scores.index
    assert scores.loc["estimated quality", "decayed_weeks"] == scores.loc["dataset drift", "decayed_weeks"]


def test_the_estimated_policy_retrains_after_the_onset_before_any_label_says_so(plays) -> None:
    """Covariate drift with policy `estimated`: no retrain in the calm weeks; a retrain on the
    estimate within two weeks of the onset, the week the batch is served (its labels come a week later)."""
    play = plays("covariate", policy="estimated")
    store, settings, weekly = play.store, play.settings, play.weekly
    onset = _onset_week(settings, weekly)
    retrains = weekly.loc[weekly["retrain_decision"] == "retrain"]
    assert (retrains["week"] >= onset).all()
    first = retrains.iloc[0]
    assert first["week"] <= onset + 2 and first["retrain_reason"].startswith("estimated mae")
    runs = store.select("runs", "demo")
    assert "estimated" in set(runs["trigger"])
