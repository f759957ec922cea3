"""The scenario engine: one clock, week by week, driving the real DevOps and MLOps pipelines.

Each week: the week's code changes are committed and go through the DevOps pipeline; the week's
data arrives and production answers its requests (`devops.production.Production` serves the
release, `mlops.production.ModelProduction` the champion model); the model side monitors drift,
lets the retraining policy decide and scores the batch whose labels arrived; one weekly row is
written. The engine only keeps the clock: what happens in a week belongs to those two objects, and
how the week's writes share a database connection belongs to the store.
Everything real is real: git commits, builds, pytest, servers, models.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.devops.changes import get_change, validate_change_sequence
from pipelines.devops.pipeline import next_train, run_devops_pipeline
from pipelines.devops.production import Production, service_rows
from pipelines.devops.repo import head
from pipelines.devops.testing import suite_env
from pipelines.devops.warm import PYTEST_PRELOAD, WarmStarter
from pipelines.devops.workflow import commit_change, ensure_repo
from pipelines.errors import OpsLabError
from pipelines.mlops.policy import Decision
from pipelines.mlops.production import ModelProduction
from pipelines.mlops.sources import Dataset, load_dataset
from pipelines.paths import data_dir
from pipelines.runner import RunInterrupted
from pipelines.scenario.settings import CALENDAR_COLUMNS, ScenarioSettings, settings_dict, settings_hash
from pipelines.store import Store, query_interrupted
from pipelines.store import records as rec

__all__ = [
    "ScenarioError",
    "ScenarioProgress",
    "ScenarioResult",
    "check_playable",
    "load_scenario_data",
    "run_scenario",
    "scenario_clock",
]


# Weeks one write connection is kept for (opening one costs ~15 ms); a reader that asks gets
# the file at the next week boundary anyway.
SESSION_WEEKS = 8
THREAD_SWITCH_S = 0.0005
# Release trains under way at once on the release line: each one waiting to be promoted holds a
# smoke-tested server (a process with the model loaded).
TRAINS_UNDER_WAY = 3


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
        return load_dataset("simulated", simulator=settings.played_simulator()), None
    if settings.data == "bike-sharing":
        try:
            return load_dataset("bike-sharing", data_dir=data_dir()), None
        except OpsLabError as exc:
            if settings.fallback_note is None:
                raise
            note = f"{settings.fallback_note} ({exc})"
            return load_dataset("simulated", simulator=settings.played_simulator()), note
    return load_dataset(
        settings.data, time_column=settings.time_column, target=settings.target, task=settings.task
    ), None


class _Timer:
    """Seconds per stage; `wait` is the clock's thread waiting for the week's worker."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()  # stages run on two threads

    def stage(self, name: str, *, within: str | None = None) -> _Stage:
        """Time a stage; a stage `within` another (a wait inside a pipeline) is taken out of it."""
        return _Stage(self, name, within)


class _Stage:
    def __init__(self, timer: _Timer, name: str, within: str | None) -> None:
        self.timer, self.name, self.within = timer, name, within

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.start
        with self.timer.lock:
            self.timer.seconds[self.name] += seconds
            if self.within is not None:
                self.timer.seconds[self.within] -= seconds


def _is_bike_schema(dataset: Dataset) -> bool:
    return {"temp", "hum", "windspeed", "hr", "workingday"} <= set(dataset.frame.columns)


def check_playable(store: Store, workspace: str, *, replace: bool) -> None:
    """Refuse a play into a workspace that is being played, or that has a history without `replace`
    (what `run_scenario` checks again inside its write session, for callers that check before)."""
    _refuse_a_second_play(store, workspace)
    if not replace and not store.workspace_is_empty(workspace):
        raise ScenarioError(
            f"Workspace {workspace!r} already has a history: pass --replace to overwrite it, or "
            "choose another workspace with --workspace."
        )


def _refuse_a_second_play(store: Store, workspace: str) -> None:
    """Two plays into one workspace would empty and overwrite each other's weeks: refuse the second."""
    if not store.exists():
        return
    live = store.live_scenario_play(workspace)
    if live is not None:
        raise ScenarioError(
            f"Workspace {workspace!r} is being played by process {live['pid']} ({live['scenario']}, week "
            f"{live['weeks_done']} of {live['weeks_planned']}): wait for it to finish or stop it, or play "
            "into another workspace with --workspace."
        )


def scenario_clock(settings: ScenarioSettings, dataset: Dataset) -> tuple[pd.Timestamp, int]:
    """The clock's first Monday after the warm-up, and how many of the settings' weeks the data holds."""
    times = dataset.frame[dataset.time_column]
    clock_start = times.min().floor("D") + pd.Timedelta(weeks=settings.warmup_weeks)
    clock_start += pd.Timedelta(days=(7 - clock_start.weekday()) % 7)  # weeks run Monday to Sunday
    available = int((times.max() - clock_start) / pd.Timedelta(weeks=1))
    weeks = min(settings.weeks, available)
    if weeks < 1:
        raise ScenarioError(f"{dataset.name} has no data after the {settings.warmup_weeks:g}-week warm-up.")
    return clock_start, weeks


def run_scenario(
    store: Store,
    workspace: str,
    settings: ScenarioSettings,
    *,
    replace: bool = False,
    progress: Callable[[ScenarioProgress], None] | None = None,
    data: tuple[Dataset, str | None] | None = None,
) -> ScenarioResult:
    """Play `settings` into `workspace`. Refuses a non-empty workspace unless `replace`. `data` is
    `load_scenario_data(settings)` when the caller loaded it already (the CLI does, to refuse a bad
    file before it shows progress or writes)."""
    with _prompt_thread_switches():
        return _play(store, workspace, settings, replace=replace, progress=progress, data=data)


@contextlib.contextmanager
def _prompt_thread_switches() -> Iterator[None]:
    """While the clock's thread computes (monitoring, training: it holds the GIL for long
    stretches), the worker that sends the week's requests gets the GIL back after each answer
    within `THREAD_SWITCH_S`, not Python's default 5 ms: a request costs several such waits."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(THREAD_SWITCH_S)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _play(
    store: Store,
    workspace: str,
    settings: ScenarioSettings,
    *,
    replace: bool,
    progress: Callable[[ScenarioProgress], None] | None,
    data: tuple[Dataset, str | None] | None,
) -> ScenarioResult:
    started = time.perf_counter()
    timer = _Timer()
    report = progress or (lambda event: None)
    validate_change_sequence([c.change for c in settings.changes])
    if data is None:
        report(ScenarioProgress(0, settings.weeks, "setup", "loading data"))
        data = load_scenario_data(settings)
    dataset, note = data
    clock_start, weeks = scenario_clock(settings, dataset)

    # One write session from the check to the play's own record: a second play that starts at the
    # same moment gets the file after this one is recorded as running, and is refused below.
    with store.session():
        _refuse_a_second_play(store, workspace)
        if not store.workspace_is_empty(workspace):
            if not replace:
                raise ScenarioError(
                    f"Workspace {workspace!r} already has a history: pass --replace to overwrite it, or "
                    "choose another workspace with --workspace."
                )
            store.reset_workspace(workspace)
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
            data_played=dataset.name,
            data_note=note,
        )
    production = Production(
        store,
        workspace,
        error_rate_alarm=settings.devops.error_rate_alarm,
        latency_p95_alarm_ms=settings.devops.latency_p95_alarm_ms,
        rows_per_request=settings.devops.rows_per_request,
        health_timeout_s=settings.devops.health_timeout_s,
        warm_starts=_is_bike_schema(dataset),  # DevOps sits out plays on other data
    )
    features = list(dataset.features)
    models = ModelProduction(
        store,
        workspace,
        dataset,
        training=settings.played_mlops(),
        policy=settings.policy,
        label_delay_weeks=settings.label_delay_weeks,
        rollback_margin=settings.model_rollback_margin,
        drift_share=settings.dataset_drift_share,
        drift_threshold=settings.drift_threshold,
        drift_method=settings.drift_method,
        drift_k=settings.drift_k,
        # Calendar columns drift against any fixed window by construction: left out of the share.
        share_columns=[c for c in features if c not in CALENDAR_COLUMNS] or features,
    )
    state = _State(
        settings,
        dataset,
        store,
        workspace,
        production,
        models,
        timer,
        report,
        weeks,
        clock_start.to_pydatetime(),
    )
    worker: _WeekWorker | None = None
    unrecorded: Callable[[], None] | None = None  # the end of the last week served
    # The service's releases go down a line of their own (`_ReleaseLine`), weeks ahead of the traffic.
    line = _ReleaseLine(state) if state.bike else None
    try:
        if line is not None:
            line.start()
        state.setup(line)  # a connection per part: a page can read in between
        with store.batched_sessions(SESSION_WEEKS) as sessions:
            for week in range(1, weeks + 1):
                with sessions.unit():
                    week_start = (clock_start + pd.Timedelta(weeks=week - 1)).to_pydatetime()
                    batch = state.week_batch(week_start, week_start + timedelta(weeks=1))
                    figures = state.models_serve(week, batch)
                    # The week's traffic (real requests to the release's server, a subprocess) goes
                    # on a worker thread, while this thread monitors the week and retrains (CPU
                    # in-process) and goes on with next week's monitoring; the release line builds
                    # and tests the next release meanwhile. A model deploy waits for the week's
                    # traffic to be answered (it happens at the week's end), a week's traffic waits
                    # for its changes to ship and for last week's model, a release deploys after
                    # the traffic of the week before it and goes live at its deploy time, so the
                    # history is the same as in turns.
                    # Last week's weekly row and labels are recorded while this week's traffic
                    # runs: it waited only for a model rollback those labels may bring.
                    worker = _WeekWorker(state, line, week, week_start, batch, after=worker)
                    worker.start()
                    try:
                        if unrecorded is not None:
                            unrecorded()
                            store.progress_scenario_run(scenario_run, week - 1)
                        unrecorded = None
                        unrecorded = state.finish_week(week, figures, worker)
                    except BaseException:
                        worker.join()
                        raise
            if unrecorded is not None:
                unrecorded()
                store.progress_scenario_run(scenario_run, weeks)
            if worker is not None:
                with timer.stage("wait"):
                    worker.join()
                worker.raise_error()
            if line is not None:
                with timer.stage("wait"):
                    line.join()
                line.raise_error()
    except (KeyboardInterrupt, Exception) as exc:
        # Ctrl-C that lands while DuckDB runs a query on this thread reaches Python as DuckDB's
        # interruption, not KeyboardInterrupt: the same stop, said as one.
        stopped = isinstance(exc, KeyboardInterrupt) or query_interrupted(exc)
        _stop(worker, line)  # let a running pipeline record its end before marking the rest
        _record_served(unrecorded)
        why = "interrupted by the user (Ctrl-C)" if stopped else f"the scenario stopped: {exc}"
        store.interrupt_running(workspace, why)
        store.finish_scenario_run(
            scenario_run,
            "interrupted" if stopped else "failed",
            why if stopped else f"{type(exc).__name__}: {exc}",
        )
        if stopped and not isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        raise
    finally:
        production.close()
        state.test_starter.close()
    store.finish_scenario_run(scenario_run, "succeeded")
    report(ScenarioProgress(weeks, weeks, "done", f"{weeks} weeks in {time.perf_counter() - started:.1f} s"))
    return ScenarioResult(
        workspace, settings.name, "succeeded", weeks, time.perf_counter() - started, dict(timer.seconds), note
    )


def _record_served(unrecorded: Callable[[], None] | None) -> None:
    """A stopped play still records the week it served to the end (its weekly row and labels)."""
    if unrecorded is not None:
        with contextlib.suppress(Exception):
            unrecorded()


def _stop(worker: _WeekWorker | None, line: _ReleaseLine | None) -> None:
    """Stop the play's threads after an error, letting a running step finish and record itself."""
    if line is not None:
        line.stop()
    if worker is not None:
        worker.join(timeout=60)
    if line is not None:
        line.join(timeout=60)


class _ReleaseLine(threading.Thread):
    """The service's releases in order, on a thread of their own: the first release, then each
    week's release trains (`_State.trains`), each train on a thread of its own (`_Train`).

    A train's changes are committed as soon as the train before it has committed (at most
    `TRAINS_UNDER_WAY` trains at once), then checked out, built, tested, started and smoke-tested,
    often weeks of traffic ahead; a train is promoted once the traffic of the
    week before its own is answered and the train before it is done (that week's rollbacks and
    deployment records come first), and the week's traffic waits for its week's trains (`ready`).
    The first release deploys once the first model is in production, so that its server starts with
    it. So every release deploys, and goes live, at the same point of the story as when everything
    ran in turns, and a fix that follows its bug by a week is tested while the bug is still live.
    """

    def __init__(self, state: _State) -> None:
        super().__init__(name="opslab-release-line", daemon=True)
        self.state = state
        self.model_trained = threading.Event()
        self.first_model_ok = False
        self.shipped = [threading.Event() for _ in range(state.weeks + 1)]  # by week; 0 = first release
        self.served = [threading.Event() for _ in range(state.weeks + 1)]
        self.served_ok = [False] * (state.weeks + 1)
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self._trains: list[_Train] = []
        self._ship_lock = threading.Lock()
        self._planned_through = -1  # every train of the weeks up to this one has started
        self._next_to_ship = 0

    def run(self) -> None:
        state = self.state
        try:
            result = state.first_release(state.clock_start, before_deploy=self._after_first_model)
            if not result.ok:
                raise ScenarioError(f"the first release failed: {result.error}")
            self._planned(0)
            for week in range(1, state.weeks + 1):
                week_start = state.clock_start + timedelta(weeks=week - 1)
                for departure, boarding in state.trains(week, week_start):
                    if len(self._trains) >= TRAINS_UNDER_WAY:  # each waiting train holds a server
                        self._trains[-TRAINS_UNDER_WAY].done.wait()
                    self._check_going()
                    earlier = [t for t in self._trains if not t.done.is_set()]
                    train = _Train(self, week, departure, boarding, earlier)
                    with self._ship_lock:
                        self._trains.append(train)
                    train.start()
                    train.committed.wait()  # commits in order; the checks may overlap
                    self._check_going()
                self._planned(week)
            for train in self._trains:
                train.join()
            self._check_going()
        except BaseException as exc:  # raised on the threads that wait for a release
            self.error = self.error or exc
        finally:
            if self.error is not None:  # trains waiting for traffic that will not come give up
                self.stop()
            for train in self._trains:
                train.join()
            for event in self.shipped:  # nobody waits for ever; `ready` tells why
                event.set()

    def _check_going(self) -> None:
        if self.error is not None:
            raise self.error
        if self.stopping.is_set():
            raise ScenarioError("the play stopped")

    def _planned(self, week: int) -> None:
        with self._ship_lock:
            self._planned_through = week
        self._mark_shipped()

    def _mark_shipped(self) -> None:
        """A week is shipped once every train up to it is done (promoted, or failed its checks)."""
        with self._ship_lock:
            while self._next_to_ship <= self._planned_through:
                week = self._next_to_ship
                if any(not t.done.is_set() for t in self._trains if t.week <= week):
                    return
                self.shipped[week].set()
                self._next_to_ship += 1

    def first_model(self, ok: bool) -> None:
        """The first model is in production (or could not be trained): the first release may deploy."""
        self.first_model_ok = ok
        self.model_trained.set()

    def note_served(self, week: int, ok: bool) -> None:
        self.served_ok[week] = ok
        self.served[week].set()

    def ready(self, week: int) -> None:
        """Wait until the week's changes are shipped; raise what stopped the line."""
        self.shipped[week].wait()
        self.raise_error()

    def stop(self) -> None:
        self.stopping.set()
        self.model_trained.set()
        for event in self.served:
            event.set()

    def raise_error(self) -> None:
        if isinstance(self.error, RunInterrupted):  # a release waited for what never came
            raise ScenarioError(f"the release line stopped: {self.error}")
        if self.error is not None:
            raise self.error

    def _after_first_model(self) -> None:
        with self.state.timer.stage("wait-model", within="devops"):
            self.model_trained.wait()
        if not self.first_model_ok or self.stopping.is_set():
            raise RunInterrupted("the first model was not trained, so the first release does not deploy")

    def _after_traffic(self, week: int) -> None:
        """A release deploys once the traffic of `week` (the week before its own) is answered."""
        if week == 0:
            return  # nothing is served before week 1
        with self.state.timer.stage("wait-traffic", within="devops"):
            self.served[week].wait()
        if not self.served_ok[week] or self.stopping.is_set():
            raise RunInterrupted(f"week {week}: the traffic was not served, so no release deploys after it")


class _Train(threading.Thread):
    """One release train of the release line: its commits and its DevOps pipeline run.

    Trains start in order, each once the one before it has committed, so their checks overlap; a
    train builds once every earlier train with the same code (a revert to known code) has finished
    its tests, so its cache hits are those of trains run in turns; and it is promoted once every
    earlier train is done and the traffic of the week before its own is answered.
    """

    def __init__(
        self,
        line: _ReleaseLine,
        week: int,
        departure: datetime,
        boarding: Sequence[tuple[Any, datetime]],
        earlier: Sequence[_Train],
    ) -> None:
        super().__init__(name=f"opslab-release-week-{week}", daemon=True)
        self.line, self.week, self.departure, self.boarding = line, week, departure, boarding
        self.earlier = list(earlier)  # the trains still under way when this one started
        self.tree: str | None = None
        self.committed = threading.Event()
        self.tested = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.line.state.ship_train(self.week, self.departure, self)
        except BaseException as exc:
            if self.line.error is None:
                self.line.error = exc
        finally:
            for event in (self.committed, self.tested, self.done):
                event.set()
            self.line._mark_shipped()

    def committed_tree(self, tree: str) -> None:
        self.tree = tree
        self.committed.set()

    def before_build(self) -> None:
        for train in self.earlier:
            if train.tree == self.tree:
                train.tested.wait()

    def before_promote(self) -> None:
        for train in self.earlier:  # releases are promoted in order
            train.done.wait()
        self.earlier = []
        self.line._after_traffic(self.week - 1)


class _WeekWorker(threading.Thread):
    """A week's traffic on a worker thread.

    The traffic starts once the worker `after` (last week's) is done and the release line has
    shipped this week's changes. `traffic()` hands the main thread the week's serving figures as
    soon as the traffic is answered; an error on a worker is raised in the main thread.
    """

    def __init__(
        self,
        state: _State,
        line: _ReleaseLine | None,
        week: int,
        week_start: datetime,
        batch: pd.DataFrame,
        *,
        after: _WeekWorker | None = None,
    ) -> None:
        super().__init__(name=f"opslab-week-{week}", daemon=True)
        self.state, self.line, self.week, self.week_start, self.batch = state, line, week, week_start, batch
        self.after = after
        self.answered = threading.Event()
        self.figures: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.after is not None:
                self.after.join()
                self.after.raise_error()
                self.after = None  # a chain of finished workers is not kept
            if self.line is not None:
                self.line.ready(self.week)
            self.figures = self.state.serve_week(self.week, self.week_start, self.batch)
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.answered.set()
            if self.line is not None:
                self.line.note_served(self.week, self.figures is not None)

    def traffic(self) -> dict[str, Any]:
        """The week's serving figures, once its traffic is answered."""
        self.answered.wait()
        if self.figures is None:
            self.raise_error()
            raise ScenarioError(f"week {self.week}: the traffic was not served")
        return self.figures

    def wait_for_traffic(self) -> None:
        self.answered.wait()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


class _State:
    """What the clock carries from week to week."""

    def __init__(
        self,
        settings: ScenarioSettings,
        dataset: Dataset,
        store: Store,
        workspace: str,
        production: Production,
        models: ModelProduction,
        timer: _Timer,
        report: Callable[[ScenarioProgress], None],
        weeks: int,
        clock_start: datetime,
    ) -> None:
        self.settings, self.dataset, self.store, self.workspace = settings, dataset, store, workspace
        self.production, self.models = production, models
        self.timer, self.report, self.weeks, self.clock_start = timer, report, weeks, clock_start
        self.repo: Path | None = None
        self.schedule: dict[int, list[Any]] = defaultdict(list)
        for change in settings.changes:
            self.schedule[change.week].append(change)
        self.bike = _is_bike_schema(dataset)
        self._service_rows: list[dict[str, Any]] | None = None
        # Each release's test suite runs in an interpreter that has imported pytest already.
        self.test_starter = WarmStarter(PYTEST_PRELOAD)
        if self.bike:
            self.test_starter.prepare(suite_env(None))

    # -- week 0 ----------------------------------------------------------------------------
    def setup(self, line: _ReleaseLine | None) -> None:
        """The first model; `line` (the release line) deploys the first release once it is in."""
        self.report(ScenarioProgress(0, self.weeks, "setup", "first model on the warm-up window"))
        first = None
        try:
            # The first training's dozens of writes share one connection (opening one per write
            # cost about half a second); it takes under a second, so a page waiting to read hardly
            # notices.
            with self.timer.stage("retrain"), self.store.session():
                first = self.models.train_first(self.clock_start)
        finally:
            if line is not None:
                line.first_model(first is not None and first.ok)
        if not first.ok:
            raise ScenarioError(f"the first model could not be trained: {first.error}")

    def first_release(self, t0: datetime, *, before_deploy: Callable[[], None]) -> Any:
        """The service's repository and its first release through the DevOps pipeline."""
        self.report(ScenarioProgress(0, self.weeks, "devops", "first release of the service"))
        # The first release builds, tests and starts a server for seconds: short connections, so a
        # page can read in between (holding the file all along made readers time out under load).
        with self.timer.stage("devops"):
            self.repo = ensure_repo(self.store, self.workspace, t0 - timedelta(days=1))
            return run_devops_pipeline(
                self.store,
                self.workspace,
                self.production,
                repo=self.repo,
                commit=head(self.repo),
                sim_time=t0,
                settings=self.settings.devops,
                label="initial release",
                extra_params={"test_launcher": self.test_starter.launch},
                before_deploy=before_deploy,
            )

    # -- one week ----------------------------------------------------------------------------
    def trains(self, week: int, week_start: datetime) -> list[tuple[datetime, list[tuple[Any, datetime]]]]:
        """The week's scripted changes by release train, each with its departure, in commit order.

        A change is reviewed for `review_hours` after its commit, then waits for the next train
        (`next_train`: the DevOps settings' timetable); changes ready for the same train ship in
        one pipeline run on the last of them. So lead time is review + the wait for the train +
        the pipeline's real duration, and differs with when a commit lands.
        """
        if self.repo is None:
            return []
        trains: dict[datetime, list[tuple[Any, datetime]]] = defaultdict(list)
        for change in self.schedule.get(week, []):  # the preset's order: a fix after its bug
            committed_at = week_start + timedelta(days=change.weekday, hours=change.hour)
            ready = committed_at + timedelta(hours=self.settings.review_hours)
            trains[next_train(ready, self.settings.devops)].append((change, committed_at))
        return list(trains.items())  # departures in commit order

    def ship_train(self, week: int, departure: datetime, train: _Train) -> None:
        """Commit a train's changes at their times and take them through DevOps in one pipeline run.

        `train` is told when its commit is made, waited for before the build, told when its tests are
        done, and waited for before the promotion (see `_Train`). The deploy waits with its server
        healthy and smoke-tested (no wait is part of the pipeline's duration): the champion is in
        production by then, and a server follows its model file.
        """
        assert self.repo is not None
        definitions = [get_change(change.change) for change, _ in train.boarding]
        names = ", ".join(change.change for change, _ in train.boarding)
        self.report(ScenarioProgress(week, self.weeks, "devops", f"week {week}: {names}"))
        with self.timer.stage("devops"):
            for definition, (_, committed_at) in zip(definitions, train.boarding, strict=True):
                info = commit_change(self.store, self.workspace, self.repo, definition, committed_at)
            train.committed_tree(info.tree)
            run_devops_pipeline(
                self.store,
                self.workspace,
                self.production,
                repo=self.repo,
                commit=info.sha,
                sim_time=departure,
                settings=self.settings.devops,
                label="; ".join(f"{d.kind}: {d.message}" for d in definitions),
                extra_params={"deferred_promotion": True, "test_launcher": self.test_starter.launch},
                changes=[d.id for d in definitions],
                before_build=train.before_build,
                before_deploy=train.tested.set,
                before_promote=train.before_promote,
            )

    def service_rows(self, batch: pd.DataFrame) -> list[dict[str, Any]]:
        """The batch's request rows, out of the whole dataset's made once (on first use, by the
        worker that serves): one conversion instead of one a week, each a few milliseconds."""
        if self._service_rows is None:
            self._service_rows = service_rows(self.dataset.frame)
        index = self.dataset.frame.index
        positions = index.get_indexer(batch.index) if index.is_unique else None
        if positions is None or (positions < 0).any():  # not a slice of the dataset's rows as they are
            return service_rows(batch)
        rows = self._service_rows
        return [rows[i] for i in positions]

    def week_batch(self, week_start: datetime, week_end: datetime) -> pd.DataFrame:
        frame, column = self.dataset.frame, self.dataset.time_column
        return frame.loc[(frame[column] > week_start) & (frame[column] <= week_end)]

    def models_serve(self, week: int, batch: pd.DataFrame) -> dict[str, Any]:
        """The champion that serves the week's batch (after last week's retraining)."""
        champion = self.models.serve_week(week, batch)
        return {"model_version": champion, "rows": len(batch)}

    def serve_week(self, week: int, week_start: datetime, batch: pd.DataFrame) -> dict[str, Any]:
        """Production answers the week's requests a day at a time; alarms open incidents."""
        if self.repo is None:
            return {}
        self.report(ScenarioProgress(week, self.weeks, "serve", f"week {week}: traffic"))
        week_end = week_start + timedelta(weeks=1)
        with self.timer.stage("serve"):
            serving = self.production.serve_week(
                batch,
                self.dataset.time_column,
                week_end,
                week_start=week_start,
                rows=self.service_rows(batch),
            )
        # Rows of failed requests get no prediction: realized quality scores them as failures. Set
        # on this worker before the traffic is answered; the week's labels arrive after that.
        self.models.note_failures(week, [p is None for p in serving.predictions])
        return {
            "release": self.production.release["ref"] if self.production.release else None,
            "requests": serving.requests,
            "errors": serving.errors,
            "error_rate": serving.error_rate,
            "latency_p50_ms": serving.latency_p50_ms,
            "latency_p95_ms": serving.latency_p95_ms,
        }

    def finish_week(self, week: int, figures: dict[str, Any], worker: _WeekWorker) -> Callable[[], None]:
        """Monitoring, the retraining policy and the judgement of arrived labels of a served week;
        returns what is left to record of it (`record_week`'s weekly row and labels), which the next
        week's traffic does not wait for.

        Runs while `worker` serves the week's traffic: a retrain's model reaches production only
        once that traffic is answered, and the weekly row waits for its serving figures.
        """
        week_end = self.clock_start + timedelta(weeks=week)
        self.report(ScenarioProgress(week, self.weeks, "monitor", f"week {week}: drift and quality"))
        with self.timer.stage("monitor"):
            row = self.models.monitor_week(week, week_end)

        def announce(decision: Decision) -> None:
            self.report(
                ScenarioProgress(week, self.weeks, "retrain", f"week {week}: retrain ({decision.trigger})")
            )

        with self.timer.stage("retrain"):
            self.models.maybe_retrain(
                week, week_end, row, on_retrain=announce, before_install=worker.wait_for_traffic
            )
        with self.timer.stage("wait"):
            served = worker.traffic()
        with self.timer.stage("record"):
            row.update({"workspace": self.workspace, "week": week, "sim_time": week_end, **figures, **served})
            self.models.judge_labels(week)  # a model rollback happens before the next week is served
        return functools.partial(self.record_week, row, week)

    def record_week(self, row: dict[str, Any], week: int) -> None:
        """The weekly row and the arrived labels' quality and drift: recorded while the next week's
        traffic is served, before that week is monitored (its retraining policy reads them)."""
        with self.timer.stage("record"):
            rec.record_weekly(self.store, row)
            self.models.record_labels(week)
