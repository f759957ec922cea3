"""The scenario engine: one clock, week by week, driving the real DevOps and MLOps pipelines.

Each week: the week's code changes are committed and go through the DevOps pipeline; the week's
data arrives and production (current release + current champion) answers its requests; monitoring
measures drift against the champion's reference and quality on the batch whose labels arrived,
for the champion and for the never-retrained first model; the retraining policy decides; one
weekly row is written. Everything real is real: git commits, builds, pytest, servers, models.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.devops.changes import get_change, validate_change_sequence
from pipelines.devops.pipeline import next_train, run_devops_pipeline
from pipelines.devops.production import Production
from pipelines.devops.repo import head
from pipelines.devops.workflow import commit_change, ensure_repo
from pipelines.errors import OpsLabError
from pipelines.mlops.monitoring import ModelCache, drift_rows, monitor_batch, realized_quality
from pipelines.mlops.pipeline import install_production_model, run_mlops_pipeline
from pipelines.mlops.policy import PolicyState, decide_retrain, quality_decayed
from pipelines.mlops.sources import Dataset, load_dataset
from pipelines.mlops.training import PRIMARY_METRIC
from pipelines.paths import data_dir
from pipelines.quality import metric_named
from pipelines.scenario.settings import CALENDAR_COLUMNS, ScenarioSettings, settings_dict, settings_hash
from pipelines.store import Store
from pipelines.store import records as rec
from pipelines.store.connection import readers_waiting, yield_to_readers

__all__ = ["ScenarioError", "ScenarioProgress", "ScenarioResult", "load_scenario_data", "run_scenario"]


# Weeks one write connection is kept for (opening one costs ~15 ms); a reader that asks gets
# the file at the next week boundary anyway.
SESSION_WEEKS = 8


class ScenarioError(OpsLabError):
    """A scenario cannot start or go on; the message says why and what to do."""


@dataclass(frozen=True)
class ScenarioProgress:
    week: int
    weeks: int
    stage: str  # setup | devops | serve | monitor | retrain | record | done
    message: str = ""


@dataclass
class ScenarioResult:
    workspace: str
    scenario: str
    status: str
    weeks: int
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    note: str | None = None


def load_scenario_data(settings: ScenarioSettings) -> tuple[Dataset, str | None]:
    """The scenario's data; `seasons-change`-like presets fall back to the simulator, saying so."""
    if settings.data == "simulated":
        return load_dataset("simulated", simulator=settings.simulator), None
    if settings.data == "bike-sharing":
        try:
            return load_dataset("bike-sharing", data_dir=data_dir()), None
        except OpsLabError as exc:
            if settings.fallback_note is None:
                raise
            note = f"{settings.fallback_note} ({exc})"
            return load_dataset("simulated", simulator=settings.simulator), note
    return load_dataset(
        settings.data, time_column=settings.time_column, target=settings.target, task=settings.task
    ), None


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)


class _Stage:
    def __init__(self, timer: _Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.seconds[self.name] += time.perf_counter() - self.start


def _is_bike_schema(dataset: Dataset) -> bool:
    return {"temp", "hum", "windspeed", "hr", "workingday"} <= set(dataset.frame.columns)


def run_scenario(
    store: Store,
    workspace: str,
    settings: ScenarioSettings,
    *,
    replace: bool = False,
    progress: Callable[[ScenarioProgress], None] | None = None,
) -> ScenarioResult:
    """Play `settings` into `workspace`. Refuses a non-empty workspace unless `replace`."""
    started = time.perf_counter()
    timer = _Timer()
    report = progress or (lambda event: None)
    if not store.workspace_is_empty(workspace):
        if not replace:
            raise ScenarioError(
                f"Workspace {workspace!r} already has a history: pass --replace to overwrite it, or choose "
                "another workspace with --workspace."
            )
        store.reset_workspace(workspace)
    validate_change_sequence([c.change for c in settings.changes])
    report(ScenarioProgress(0, settings.weeks, "setup", "loading data"))
    dataset, note = load_scenario_data(settings)
    times = dataset.frame[dataset.time_column]
    clock_start = times.min().floor("D") + pd.Timedelta(weeks=settings.warmup_weeks)
    clock_start += pd.Timedelta(days=(7 - clock_start.weekday()) % 7)  # weeks run Monday to Sunday
    available = int((times.max() - clock_start) / pd.Timedelta(weeks=1))
    weeks = min(settings.weeks, available)
    if weeks < 1:
        raise ScenarioError(f"{dataset.name} has no data after the {settings.warmup_weeks:g}-week warm-up.")

    store.ensure_workspace(
        workspace,
        scenario=settings.name,
        seed=settings.seed,
        settings=settings_dict(settings),
        settings_hash=settings_hash(settings),
    )
    scenario_run = store.start_scenario_run(
        workspace=workspace,
        scenario=settings.name,
        seed=settings.seed,
        settings=settings_dict(settings),
        weeks=weeks,
    )
    production = Production(
        store,
        workspace,
        error_rate_alarm=settings.devops.error_rate_alarm,
        latency_p95_alarm_ms=settings.devops.latency_p95_alarm_ms,
        rows_per_request=settings.devops.rows_per_request,
        health_timeout_s=settings.devops.health_timeout_s,
    )
    state = _State(settings, dataset, store, workspace, production, timer, report, weeks)
    state.clock_start = clock_start.to_pydatetime()
    shipping: _Shipping | None = None
    held = contextlib.ExitStack()  # one write connection for up to SESSION_WEEKS weeks
    try:
        state.setup(clock_start.to_pydatetime())  # short connections: a page can read in between
        finishing: tuple[int, dict[str, Any]] | None = None
        in_session = 0
        for week in range(1, weeks + 1):
            week_start = (clock_start + pd.Timedelta(weeks=week - 1)).to_pydatetime()
            if in_session == 0:
                held.enter_context(store.session())
            # The week's code changes go through DevOps on a worker thread (git, pytest and the
            # new server are subprocesses on the other core) while this thread finishes last
            # week's monitoring and retraining. Releases wait for their deploy time to take
            # traffic, so the overlap changes nothing in the history.
            shipping = _Shipping(state, week, week_start)
            shipping.start()
            try:
                if finishing is not None:
                    state.finish_week(*finishing)
            finally:
                shipping.join()
            shipping.raise_error()
            finishing = (week, state.serve_week(week, week_start, week_start + timedelta(weeks=1)))
            store.progress_scenario_run(scenario_run, week - 1)
            in_session += 1
            if in_session >= SESSION_WEEKS or readers_waiting(store.path):
                held.close()  # a dashboard page waiting to read gets its turn
                in_session = 0
                yield_to_readers(store.path)
        held.close()
        if finishing is not None:
            with store.session():
                state.finish_week(*finishing)
                store.progress_scenario_run(scenario_run, weeks)
    except KeyboardInterrupt:
        if shipping is not None:
            shipping.join(timeout=60)  # let a running pipeline record its end before marking the rest
        store.interrupt_running(workspace, "interrupted by the user (Ctrl-C)")
        store.finish_scenario_run(scenario_run, "interrupted", "interrupted by the user (Ctrl-C)")
        raise
    except Exception as exc:
        store.interrupt_running(workspace, f"the scenario stopped: {exc}")
        store.finish_scenario_run(scenario_run, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        held.close()
        production.close()
    store.finish_scenario_run(scenario_run, "succeeded")
    report(ScenarioProgress(weeks, weeks, "done", f"{weeks} weeks in {time.perf_counter() - started:.1f} s"))
    return ScenarioResult(
        workspace, settings.name, "succeeded", weeks, time.perf_counter() - started, dict(timer.seconds), note
    )


class _Shipping(threading.Thread):
    """One week's DevOps work on a worker thread; its error, if any, is raised in the main thread."""

    def __init__(self, state: _State, week: int, week_start: datetime) -> None:
        super().__init__(name=f"opslab-ship-week-{week}", daemon=True)
        self.state, self.week, self.week_start = state, week, week_start
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.state.ship_week(self.week, self.week_start)
        except BaseException as exc:  # handed to the main thread
            self.error = exc

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


class _State:
    """What the clock carries from week to week."""

    clock_start: datetime  # set by run_scenario once the data's first week is known

    def __init__(
        self,
        settings: ScenarioSettings,
        dataset: Dataset,
        store: Store,
        workspace: str,
        production: Production,
        timer: _Timer,
        report: Callable[[ScenarioProgress], None],
        weeks: int,
    ) -> None:
        self.settings, self.dataset, self.store, self.workspace = settings, dataset, store, workspace
        self.production, self.timer, self.report, self.weeks = production, timer, report, weeks
        self.models = ModelCache(store, workspace, dataset)
        self.metric = PRIMARY_METRIC[dataset.task]
        self.served_by: dict[int, int | None] = {}  # week -> model version serving it
        self.batches: dict[int, pd.DataFrame] = {}
        self.last_retrain_week = 0
        self.drift_streak = 0
        self.first_version: int | None = None
        self.new_model_week: dict[int, int] = {}  # model version -> first week it served
        self.repo: Path | None = None
        self.schedule: dict[int, list[Any]] = defaultdict(list)
        for change in settings.changes:
            self.schedule[change.week].append(change)
        self.bike = _is_bike_schema(dataset)
        features = list(dataset.features)
        self.share_columns = [c for c in features if c not in CALENDAR_COLUMNS] or features

    # -- week 0 ----------------------------------------------------------------------------
    def setup(self, t0: datetime) -> None:
        self.report(ScenarioProgress(0, self.weeks, "setup", "first model on the warm-up window"))
        with self.timer.stage("retrain"):
            first = run_mlops_pipeline(
                self.store,
                self.workspace,
                self.dataset,
                as_of=t0,
                settings=self.settings.mlops,
                trigger="schedule",
            )
        if not first.ok:
            raise ScenarioError(f"the first model could not be trained: {first.error}")
        self.first_version = rec.alias_version(self.store, self.workspace, "champion")
        if not self.bike:
            return  # the sample service speaks the bike-sharing schema only; DevOps sits this one out
        self.report(ScenarioProgress(0, self.weeks, "devops", "first release of the service"))
        with self.timer.stage("devops"):
            self.repo = ensure_repo(self.store, self.workspace, t0 - timedelta(days=1))
            result = run_devops_pipeline(
                self.store,
                self.workspace,
                self.production,
                repo=self.repo,
                commit=head(self.repo),
                sim_time=t0,
                settings=self.settings.devops,
                label="initial release",
            )
        if not result.ok:
            raise ScenarioError(f"the first release failed: {result.error}")

    # -- one week ----------------------------------------------------------------------------
    def ship_week(self, week: int, week_start: datetime) -> None:
        """Commit the week's scripted changes at their times; each release train takes them through DevOps.

        A change is reviewed for `review_hours` after its commit, then waits for the next train
        (`next_train`: the DevOps settings' timetable); changes ready for the same train ship in
        one pipeline run on the last of them. So lead time is review + the wait for the train +
        the pipeline's real duration, and differs with when a commit lands.
        """
        if self.repo is None:
            return
        trains: dict[datetime, list[tuple[Any, datetime]]] = defaultdict(list)
        for change in self.schedule.get(week, []):  # the preset's order: a fix after its bug
            committed_at = week_start + timedelta(days=change.weekday, hours=change.hour)
            ready = committed_at + timedelta(hours=self.settings.review_hours)
            trains[next_train(ready, self.settings.devops)].append((change, committed_at))
        for departure, boarding in trains.items():  # departures in commit order
            definitions = [get_change(change.change) for change, _ in boarding]
            names = ", ".join(change.change for change, _ in boarding)
            self.report(ScenarioProgress(week, self.weeks, "devops", f"week {week}: {names}"))
            with self.timer.stage("devops"):
                for definition, (_, committed_at) in zip(definitions, boarding, strict=True):
                    info = commit_change(self.store, self.workspace, self.repo, definition, committed_at)
                run_devops_pipeline(
                    self.store,
                    self.workspace,
                    self.production,
                    repo=self.repo,
                    commit=info.sha,
                    sim_time=departure,
                    settings=self.settings.devops,
                    label="; ".join(f"{d.kind}: {d.message}" for d in definitions),
                    extra_params={"deferred_promotion": True},
                )

    def serve_week(self, week: int, week_start: datetime, week_end: datetime) -> dict[str, Any]:
        """Production answers the week's requests a day at a time; alarms open incidents."""
        frame, column = self.dataset.frame, self.dataset.time_column
        batch = frame.loc[(frame[column] > week_start) & (frame[column] <= week_end)]
        self.batches[week] = batch
        champion = rec.alias_version(self.store, self.workspace, "champion")
        self.served_by[week] = champion
        if champion is not None:
            self.new_model_week.setdefault(champion, week)
        figures: dict[str, Any] = {"model_version": champion, "rows": len(batch)}
        if self.repo is None:
            return figures
        self.report(ScenarioProgress(week, self.weeks, "serve", f"week {week}: traffic"))
        with self.timer.stage("serve"):
            serving = self.production.serve_week(batch, column, week_end, week_start=week_start)
        figures.update(
            {
                "release": self.production.release["ref"] if self.production.release else None,
                "requests": serving.requests,
                "errors": serving.errors,
                "error_rate": serving.error_rate,
                "latency_p50_ms": serving.latency_p50_ms,
                "latency_p95_ms": serving.latency_p95_ms,
            }
        )
        return figures

    def finish_week(self, week: int, figures: dict[str, Any]) -> None:
        """Monitoring, the retraining policy and the weekly row of a served week."""
        week_end = self.batches_end(week)
        self.report(ScenarioProgress(week, self.weeks, "monitor", f"week {week}: drift and quality"))
        with self.timer.stage("monitor"):
            row = self._monitor(week, week_end, self.batches[week], self.served_by[week])
        with self.timer.stage("retrain"):
            self._maybe_retrain(week, week_end, row)
        with self.timer.stage("record"):
            row.update({"workspace": self.workspace, "week": week, "sim_time": week_end, **figures})
            rec.record_weekly(self.store, row)
            self._record_labels(week)

    def batches_end(self, week: int) -> datetime:
        return self.clock_start + timedelta(weeks=week)

    # -- monitoring ------------------------------------------------------------------------
    def _monitor(
        self, week: int, week_end: datetime, batch: pd.DataFrame, champion: int | None
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "quality_metric": self.metric,
            "quality_direction": metric_named(self.metric).direction,
        }
        if champion is None or batch.empty:
            return row
        handle = self.models.get(champion)
        report = monitor_batch(
            handle,
            self.dataset,
            batch,
            share=self.settings.dataset_drift_share,
            share_columns=self.share_columns,
            distance_threshold=self.settings.drift_threshold,
        )
        share, drifted = report.drift_share, report.dataset_drift
        rec.record_drift(
            self.store,
            drift_rows(
                report, workspace=self.workspace, week=week, sim_time=pd.Timestamp(week_end), version=champion
            ),
        )
        self.drift_streak = self.drift_streak + 1 if drifted else 0
        row.update({"drift_share": share, "dataset_drift": drifted, "quality_baseline": handle.baseline})
        return row

    def _record_labels(self, week: int) -> None:
        """Labels of the batch from `label_delay_weeks` ago arrive: realized quality for that week."""
        labelled_week = week - self.settings.label_delay_weeks
        batch = self.batches.get(labelled_week)
        version = self.served_by.get(labelled_week)
        if batch is None or batch.empty or version is None:
            return
        quality = realized_quality(self.models.get(version), self.dataset, batch)
        never = (
            realized_quality(self.models.get(self.first_version), self.dataset, batch)
            if self.first_version
            else None
        )
        self.store.update_rows(
            "weekly",
            {"workspace": self.workspace, "week": labelled_week},
            quality=quality,
            quality_never_retrained=never,
        )
        self.latest_quality = (labelled_week, quality, self.models.get(version).baseline)
        self._check_model_regression(week, labelled_week, version, batch, quality)

    def _check_model_regression(
        self, week: int, labelled_week: int, version: int, batch: pd.DataFrame, quality: float | None
    ) -> None:
        """A new champion's first labelled week: if its predecessor does better by the margin, roll back."""
        if self.new_model_week.get(version) != labelled_week or quality is None:
            return
        previous = self.served_by.get(labelled_week - 1)
        if (
            previous is None
            or previous == version
            or rec.alias_version(self.store, self.workspace, "champion") != version
        ):
            return
        before = realized_quality(self.models.get(previous), self.dataset, batch)
        if not quality_decayed(self.metric, quality, before, self.settings.model_rollback_margin):
            return
        sim_time = self.batches[labelled_week][self.dataset.time_column].max().to_pydatetime()
        summary = (
            f"model v{version} {self.metric} {quality:.4g} vs its predecessor v{previous} {before:.4g} "
            f"on the same labelled week"
        )
        current = rec.current_deployment(self.store, self.workspace, "model")
        incident = rec.open_incident(
            self.store,
            workspace=self.workspace,
            kind="model",
            sim_time=sim_time,
            cause=f"v{version}",
            cause_deployment_id=current["deployment_id"] if current else None,
            detected_by="quality check on arrived labels",
            summary=summary,
        )
        row = rec.model_version(self.store, self.workspace, previous)
        if row is None:
            raise ScenarioError(f"model v{previous} is not in the registry of {self.workspace!r}")
        install_production_model(self.store, self.workspace, Path(row["path"]))
        rec.move_alias(
            self.store,
            workspace=self.workspace,
            alias="champion",
            version=previous,
            sim_time=sim_time,
            reason=f"rollback: {summary}",
        )
        rollback = rec.record_deployment(
            self.store,
            workspace=self.workspace,
            kind="model",
            ref=f"v{previous}",
            run_id=None,
            sim_time=sim_time,
            artifact_sha256=row["sha256"],
            unplanned=True,
            reason=f"rollback: {summary}",
        )
        if current is not None:
            rec.mark_deployment_rolled_back(self.store, current["deployment_id"])
        rec.resolve_incident(self.store, incident, sim_time=sim_time, rollback_deployment_id=rollback)

    # -- retraining ------------------------------------------------------------------------
    def _maybe_retrain(self, week: int, week_end: datetime, row: dict[str, Any]) -> None:
        latest = getattr(self, "latest_quality", None)
        quality, baseline = (latest[1], latest[2]) if latest else (None, None)
        state = PolicyState(
            week=week,
            weeks_since_retrain=week - self.last_retrain_week,
            drift_streak=self.drift_streak,
            drift_share=row.get("drift_share"),
            quality=quality,
            baseline=baseline,
            metric=self.metric,
        )
        decision = decide_retrain(self.settings.policy, state)
        alarm = "drift" if row.get("dataset_drift") else None
        if quality_decayed(self.metric, quality, baseline, self.settings.policy.quality_margin):
            alarm = "quality"
        row.update(
            {
                "retrain_decision": "retrain" if decision.retrain else "keep",
                "retrain_reason": decision.reason,
                "alarm": alarm,
            }
        )
        if not decision.retrain:
            return
        assert decision.trigger is not None  # a decision to retrain always says why
        self.report(
            ScenarioProgress(week, self.weeks, "retrain", f"week {week}: retrain ({decision.trigger})")
        )
        # Train on what is labelled by now: rows older than the label delay.
        labelled_until = week_end - timedelta(weeks=self.settings.label_delay_weeks)
        result = run_mlops_pipeline(
            self.store,
            self.workspace,
            self.dataset,
            as_of=labelled_until,
            sim_time=week_end,
            settings=self.settings.mlops,
            trigger=decision.trigger,
            data_arrived_at=week_end,
        )
        self.last_retrain_week = week
        if result.ok:
            self.drift_streak = 0
