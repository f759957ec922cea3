"""DORA's time keys come from what was played: recovery within the day, lead time from the train.

The suite's shared play of bad-friday-deploy (the Friday windchill release, its incident and the
fix) and a week of traffic through `Production` with a mid-day rollback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.devops import metrics as dora
from pipelines.devops.changes import get_change
from pipelines.devops.pipeline import DevOpsSettings, next_train, run_devops_pipeline
from pipelines.devops.production import Production
from pipelines.devops.repo import head
from pipelines.devops.service import running_services
from pipelines.devops.workflow import commit_change, ensure_repo
from pipelines.mlops.simulator import SimulatorSettings
from pipelines.mlops.sources import load_dataset, window
from pipelines.scenario.engine import load_scenario_data
from pipelines.scenario.settings import ScenarioSettings
from pipelines.scenario.summary import check_expectations, summarize
from pipelines.store import Store
from pipelines.store import records as rec
from tests.conftest import scenario_settings

HOUR = timedelta(hours=1)


# -- the release train -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ready", "departs"),
    [
        (datetime(2024, 1, 5, 17, 0), datetime(2024, 1, 5, 17, 0)),  # Friday 17:00 catches the 17:00 train
        (datetime(2024, 1, 5, 17, 1), datetime(2024, 1, 8, 9, 0)),  # a minute late: Monday morning
        (datetime(2024, 1, 6, 12, 0), datetime(2024, 1, 8, 9, 0)),  # no train at the weekend
        (datetime(2024, 1, 2, 11, 0), datetime(2024, 1, 2, 17, 0)),  # Tuesday late morning: that evening
        (datetime(2024, 1, 2, 3, 30), datetime(2024, 1, 2, 9, 0)),  # Tuesday night: the morning train
    ],
)
def test_a_change_boards_the_next_train(ready: datetime, departs: datetime) -> None:
    assert next_train(ready, DevOpsSettings()) == departs


def test_the_train_timetable_is_a_knob() -> None:
    hourly = DevOpsSettings(train_hours=tuple(range(24)), train_weekdays=tuple(range(7)))
    assert next_train(datetime(2024, 1, 6, 12, 30), hourly) == datetime(2024, 1, 6, 13, 0)
    with pytest.raises(ValueError, match="train"):
        DevOpsSettings(train_hours=())
    with pytest.raises(ValueError, match="train"):
        DevOpsSettings(train_weekdays=(7,))
    # recorded settings come back from JSON as lists: still the same settings
    assert DevOpsSettings(train_hours=[17, 9]) == DevOpsSettings()  # type: ignore[arg-type]
    assert DevOpsSettings(train_hours="9,17") == DevOpsSettings()  # type: ignore[arg-type]  # --set
    with pytest.raises(ValueError, match="whole numbers"):
        DevOpsSettings(train_hours="nine")  # type: ignore[arg-type]


# -- a mid-day incident through Production -----------------------------------------------------------
T0 = datetime(2011, 3, 1, 9)


def _release(store: Store, production: Production, when: datetime, change: str | None = None) -> Any:
    repo = ensure_repo(store, "demo", T0)
    if change:
        commit_change(store, "demo", repo, get_change(change), when)
    return run_devops_pipeline(store, "demo", production, repo=repo, commit=head(repo), sim_time=when)


def test_an_incident_opens_at_the_failing_request_and_ends_when_the_rollback_is_healthy(
    store: Store,
) -> None:
    production = Production(store, "demo", rows_per_request=6)  # four requests a day
    try:
        data = load_dataset("simulated", simulator=SimulatorSettings(weeks=12, seed=5))
        good = _release(store, production, T0)
        assert good.ok, good.error
        assert _release(store, production, T0 + timedelta(days=1), change="windchill-feature").ok
        week = production.serve_week(window(data, "2011-03-10", 1), "timestamp", datetime(2011, 3, 10))
    finally:
        production.close()
    assert [s for s in running_services() if s.is_running()] == []
    failing = [r for r in week.served if not r.ok]
    assert failing and len(week.incidents_opened) == 1 and len(week.rollbacks) == 1
    (incident,) = store.select("incidents", "demo").to_dict("records")
    first = failing[0]
    assert incident["opened_sim_time"] == first.sim_time  # the failing request's own time, not the day's end
    recovery = incident["resolved_sim_time"] - incident["opened_sim_time"]
    assert timedelta(0) < recovery < HOUR  # the real redeploy and its health check, measured
    rollback = rec.deployment(store, incident["rollback_deployment_id"])
    assert rollback["sim_time"] == incident["resolved_sim_time"]
    # every later request, from the next one that very day, is answered by the release rolled back to
    later = [r for r in week.served if r.sim_time > first.sim_time]
    assert later and all(r.ok and r.release == rollback["ref"] for r in later)
    assert len(failing) == 1  # one bad request: the alarm watched it, not the day's total
    key = dora.failed_deployment_recovery_time(store, "demo")
    assert key.value is not None and key.value < 1 / 24 and key.tier == "elite"


# -- a played scenario ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def played(scenario_db: Path) -> tuple[Store, ScenarioSettings]:
    """The suite's shared play: bad-friday-deploy with the windchill release and its fix."""
    settings = scenario_settings()
    assert {"windchill-feature", "fix-windchill"} <= {c.change for c in settings.changes}
    return Store(scenario_db), settings


def _first_failing_request(settings: ScenarioSettings, live_from: datetime) -> datetime:
    """Recomputed from the data: requests go out a day at a time in chunks of `rows_per_request`
    rows, each at the time of its first row; the windchill release fails on any calm row."""
    dataset, _ = load_scenario_data(settings)
    frame, column = dataset.frame, dataset.time_column
    day = pd.Timestamp(live_from).floor("D")
    size = settings.devops.rows_per_request
    while day <= frame[column].max():
        rows = frame.loc[(frame[column] > day) & (frame[column] <= day + pd.Timedelta(days=1))]
        for start in range(0, len(rows), size):
            chunk = rows.iloc[start : start + size]
            sent = chunk[column].iloc[0].to_pydatetime()
            if sent > live_from and (chunk["windspeed"] == 0).any():
                return sent
        day += pd.Timedelta(days=1)
    raise AssertionError("no calm hour after the release")


def test_bad_friday_recovers_within_hours_from_the_failing_request(
    played: tuple[Store, ScenarioSettings],
) -> None:
    store, settings = played
    (incident,) = store.select("incidents", "demo", where={"kind": "service"}).to_dict("records")
    changes = rec.changes_frame(store, "demo").set_index("change_id")
    windchill = rec.deployment(store, changes.loc["windchill-feature", "deployment_id"])
    assert incident["cause_deployment_id"] == windchill["deployment_id"]
    assert (
        windchill["sim_time"].weekday() == 4 and windchill["sim_time"].hour >= 16
    )  # a Friday-evening deploy
    assert incident["opened_sim_time"] == _first_failing_request(settings, windchill["sim_time"])
    assert incident["opened_sim_time"].date() > windchill["sim_time"].date()  # it breaks the next day
    key = dora.failed_deployment_recovery_time(store, "demo")
    assert key.value is not None and 0 < key.value < 1  # hours or less, not a whole served day
    failed = [says for says, held, _ in check_expectations(settings, summarize(store, "demo")) if not held]
    assert failed == []


def test_lead_times_come_from_the_train_not_the_review_setting(
    played: tuple[Store, ScenarioSettings],
) -> None:
    store, settings = played
    changes = rec.changes_frame(store, "demo")
    # the scripted changes (the service's first commit ships with the setup's first release)
    shipped = changes.dropna(subset=["deployed_sim_time", "change_id"])
    assert len(shipped) >= 2
    hours = ((shipped["deployed_sim_time"] - shipped["committed_sim_time"]).dt.total_seconds() / 3600).round(
        2
    )
    assert hours.nunique() > 1  # commits landing at different times wait different times
    assert (hours - settings.review_hours).abs().max() > 1  # not the setting echoed back
    for row in shipped.itertuples():
        departs = next_train(row.committed_sim_time + timedelta(hours=settings.review_hours), settings.devops)
        deployed = rec.deployment(store, row.deployment_id)["sim_time"]
        # each deploy is its train's departure plus the pipeline's real duration (seconds, not hours)
        assert timedelta(0) < deployed - departs < HOUR, row.change_id
    key = dora.lead_time_for_changes(store, "demo")
    assert key.value is not None and key.n == len(changes.dropna(subset=["deployed_sim_time"]))


def test_pipelines_run_at_train_departures(played: tuple[Store, ScenarioSettings]) -> None:
    store, settings = played
    runs = store.select("runs", "demo", where={"kind": "devops"}).dropna(subset=["sim_time"])
    later = [t for t in runs["sim_time"] if t > runs["sim_time"].min()]  # after the first release
    trains = settings.devops
    assert later and all(
        t.minute == 0 and t.hour in trains.train_hours and t.weekday() in trains.train_weekdays for t in later
    )
