"""Model production on its own clock: serving, monitoring, labels, the counterfactual, rollback; and
the store's batched sessions that the scenario engine holds its weeks in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from pipelines.mlops.pipeline import MLOpsSettings
from pipelines.mlops.policy import Decision, RetrainPolicy
from pipelines.mlops.production import ModelProduction
from pipelines.mlops.simulator import SimulatorSettings
from pipelines.mlops.sources import Dataset, load_dataset
from pipelines.store import Store
from pipelines.store import records as rec
from pipelines.store.connection import wait_file

# A world without seasons or growth: a new model is not reliably better than its predecessor.
SIM = SimulatorSettings(weeks=16, seed=5, seasonal=False, growth_per_year=0.0)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset("simulated", simulator=SIM)


def _play(
    store: Store,
    dataset: Dataset,
    models: ModelProduction,
    weeks: int,
    on_retrain: Callable[[Decision], None] | None = None,
) -> list[Decision]:
    """What the scenario clock does with the model side, week by week."""
    start = datetime(2011, 2, 28)  # after the 8-week warm-up window
    assert models.train_first(start).ok
    frame, column = dataset.frame, dataset.time_column
    decisions = []
    for week in range(1, weeks + 1):
        week_start, week_end = start + timedelta(weeks=week - 1), start + timedelta(weeks=week)
        batch = frame.loc[(frame[column] > week_start) & (frame[column] <= week_end)]
        models.serve_week(week, batch)
        row = models.monitor_week(week, week_end)
        decisions.append(models.maybe_retrain(week, week_end, row, on_retrain=on_retrain))
        rec.record_weekly(store, {**row, "workspace": "demo", "week": week, "sim_time": week_end})
        models.labels_arrive(week)
    return decisions


def test_never_retrained_production_is_its_own_counterfactual(store: Store, dataset: Dataset) -> None:
    models = ModelProduction(store, "demo", dataset, training=MLOpsSettings(), policy=RetrainPolicy("never"))
    decisions = _play(store, dataset, models, 4)
    assert [d.retrain for d in decisions] == [False] * 4
    assert len(store.select("runs", "demo")) == 1 and models.first_version == 1
    weekly = store.select("weekly", "demo", order_by="week")
    labelled = weekly.loc[weekly["quality"].notna()]
    assert len(labelled) == 3  # the last week's labels arrive after the clock stops (delay 1)
    assert (labelled["quality"] == labelled["quality_never_retrained"]).all()
    assert (weekly["drift_share"].notna()).all() and set(weekly["retrain_decision"]) == {"keep"}
    assert store.select("drift", "demo")["week"].nunique() == 4


def test_a_new_champion_worse_than_its_predecessor_is_rolled_back(store: Store, dataset: Dataset) -> None:
    models = ModelProduction(
        store,
        "demo",
        dataset,
        training=MLOpsSettings(gate_margin=0.0),  # every challenger at least as good on its holdout goes out
        policy=RetrainPolicy("schedule", every_weeks=1, cooldown_weeks=0),
        # Negative: a new champion is rolled back unless it beats its predecessor by half on the labels.
        rollback_margin=-0.5,
    )
    announced: list[str | None] = []
    _play(store, dataset, models, 4, on_retrain=lambda d: announced.append(d.trigger))
    assert announced == ["schedule"] * 4
    incidents = store.select("incidents", "demo")
    assert len(incidents) >= 1 and set(incidents["kind"]) == {"model"}
    assert (incidents["status"] == "resolved").all()
    first = incidents.sort_values("opened_sim_time").iloc[0]
    deployments = store.select("deployments", "demo", order_by="sim_time")
    rollback = deployments.loc[deployments["unplanned"].astype(bool)].iloc[0]
    assert first["cause"] != rollback["ref"]  # the predecessor came back, not the culprit
    assert deployments.loc[deployments["ref"] == first["cause"], "rolled_back"].astype(bool).all()
    moves = store.select("alias_moves", "demo", order_by="moved_at")
    assert moves["reason"].str.startswith("rollback:").any()


def test_batched_sessions_hold_one_connection_and_let_a_waiting_reader_in(store: Store) -> None:
    store.ensure_workspace("demo")
    with store.batched_sessions(3) as sessions:
        for _ in range(2):
            with sessions.unit():
                assert store._conn is not None
        held = store._conn
        with sessions.unit():  # the third unit fills the batch: the connection goes
            assert store._conn is held
        assert store._conn is None
        with sessions.unit():
            assert store._conn is not None
        wait_file(store.path).touch()  # a reader asks for the file
        assert store._conn is not None
        with sessions.unit():
            pass
        assert store._conn is None and not wait_file(store.path).exists()  # it got its turn
        with sessions.unit():
            pass
    assert store._conn is None  # leaving the block lets go of a half-full batch


def test_a_unit_that_fails_leaves_no_connection_behind(store: Store) -> None:
    store.ensure_workspace("demo")
    with pytest.raises(RuntimeError), store.batched_sessions(8) as sessions, sessions.unit():
        raise RuntimeError("the week failed")
    assert store._conn is None
    with pytest.raises(ValueError, match="at least 1"):
        store.batched_sessions(0)


def test_a_week_whose_service_failed_requests_scores_them_as_failures(
    tmp_path_factory: pytest.TempPathFactory, dataset: Dataset
) -> None:
    """The same week, served twice by the same model: once answered in full, once with a quarter of
    its rows in failed requests. Realized quality counts what users got, so the second is worse; the
    never-retrained line meets the same service and the policy still judges the model alone."""

    def play(failed_share: float) -> tuple[dict[int, float], float | None]:
        store = Store(tmp_path_factory.mktemp("failures") / "opslab.duckdb")
        models = ModelProduction(
            store, "demo", dataset, training=MLOpsSettings(), policy=RetrainPolicy("never")
        )
        start = datetime(2011, 2, 28)
        assert models.train_first(start).ok
        frame, column = dataset.frame, dataset.time_column
        for week in (1, 2):
            week_start, week_end = start + timedelta(weeks=week - 1), start + timedelta(weeks=week)
            batch = frame.loc[(frame[column] > week_start) & (frame[column] <= week_end)]
            models.serve_week(week, batch)
            if week == 1 and failed_share:
                failed = [i < failed_share * len(batch) for i in range(len(batch))]
                models.note_failures(week, failed)
            row = models.monitor_week(week, week_end)
            models.maybe_retrain(week, week_end, row)
            rec.record_weekly(store, {**row, "workspace": "demo", "week": week, "sim_time": week_end})
            models.labels_arrive(week)
        weekly = store.select("weekly", "demo", order_by="week").set_index("week")
        assert models.latest_quality is not None
        return weekly["quality"].dropna().to_dict(), models.latest_quality[1]

    answered, model_only = play(0.0)
    failing, judged = play(0.25)
    assert failing[1] > answered[1] * 1.2  # MAE: a quarter of the rows lost their whole demand
    assert judged == pytest.approx(model_only)  # the policy judges the model, not the service
