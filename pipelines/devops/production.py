"""Production: the release that serves real traffic, its alarms, incidents and rollbacks.

One long-lived server per release (not one per request): a deploy hands its healthy server over,
the replaced one is stopped, and its artifact stays on disk for a rollback, which is a real
redeploy of the previous good release.

Time in production is the time of the traffic. A request carries a day's hours
(`rows_per_request` rows) and is sent at the scenario time of its first row, like a day-ahead
forecast; the release live at that time answers it. The alarm watches each request as it is
answered, so an incident opens at the time of the first failing request, and recovery is timed
on the real redeploy (see `Production.serve_day`): recovery is hours or seconds, not whole days.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.devops.baseline import build_baseline_model
from pipelines.devops.errors import DeployError
from pipelines.devops.service import HttpClient, Launcher, ServiceProcess, serve_batch, server_env
from pipelines.devops.warm import WarmStarter
from pipelines.mlops.simulator import COLUMNS as BIKE_COLUMNS
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = [
    "SERVICE_COLUMNS",
    "Alarm",
    "DayServing",
    "Production",
    "RequestServing",
    "WeekServing",
    "service_rows",
]

# The features the service takes: the bike-sharing schema (one definition, the simulator's)
# without its time column and target.
SERVICE_COLUMNS = tuple(c for c in BIKE_COLUMNS if c not in ("timestamp", "cnt"))


def _nearest_rank(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (as `serve_batch` reports it), 0.0 for no values."""
    if not values:
        return 0.0
    return round(float(np.percentile(values, q, method="inverted_cdf")), 3)


def service_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON rows for POST /predict from a frame of the bike-sharing schema (plain Python types)."""
    part = frame[[c for c in SERVICE_COLUMNS if c in frame.columns]]
    rows = part.to_dict("records")  # pandas gives Python scalars
    if part.isna().to_numpy().any():  # an upstream bug: missing values travel as JSON null
        rows = [{k: (None if v != v else v) for k, v in row.items()} for row in rows]
    return rows


@dataclass(frozen=True)
class Alarm:
    kind: str  # error-rate | latency
    message: str


@dataclass(frozen=True)
class RequestServing:
    """One real request: sent at its first row's scenario time, answered by `release`."""

    sim_time: datetime
    release: str | None
    rows: int
    ok: bool
    latency_ms: float


@dataclass
class DayServing:
    sim_time: datetime  # the day's end
    release: str | None  # the release that answered the day's first request
    requests: int
    rows: int
    errors: int
    latency_p50_ms: float
    latency_p95_ms: float
    predictions: list[float | None]
    alarm: Alarm | None = None  # the first alarm of the day
    served: list[RequestServing] = field(default_factory=list)


@dataclass
class WeekServing:
    days: list[DayServing] = field(default_factory=list)
    incidents_opened: list[str] = field(default_factory=list)
    incidents_resolved: list[str] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(d.requests for d in self.days)

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.days)

    @property
    def errors(self) -> int:
        return sum(d.errors for d in self.days)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def latency_p50_ms(self) -> float | None:
        values = [d.latency_p50_ms for d in self.days if d.requests]
        return statistics.median(values) if values else None

    @property
    def latency_p95_ms(self) -> float | None:
        # Daily p95s, not raw latencies, are kept: the week's p95 is the worst day's (conservative).
        values = [d.latency_p95_ms for d in self.days if d.requests]
        return max(values) if values else None

    @property
    def predictions(self) -> list[float | None]:
        return [p for d in self.days for p in d.predictions]

    @property
    def served(self) -> list[RequestServing]:
        return [r for d in self.days for r in d.served]


class Production:
    """The production environment of one workspace, inside this process."""

    def __init__(
        self,
        store: Store,
        workspace: str,
        *,
        error_rate_alarm: float = 0.05,
        latency_p95_alarm_ms: float = 2000.0,
        rows_per_request: int = 24,
        health_timeout_s: float = 15,
        warm_starts: bool = False,
    ) -> None:
        self.store, self.workspace = store, workspace
        self.error_rate_alarm = error_rate_alarm
        self.latency_p95_alarm_ms = latency_p95_alarm_ms
        self.rows_per_request = rows_per_request
        self.health_timeout_s = health_timeout_s
        self.server: ServiceProcess | None = None
        self.release: dict[str, Any] | None = None  # the current release deployment row
        self._pending: list[tuple[datetime, ServiceProcess, dict[str, Any] | None]] = []
        self._lock = threading.Lock()
        self._open_incidents: list[str] | None = None  # this process owns them while it serves
        self._server_model: Path | None = None
        # With `warm_starts` (a scenario: many releases to come) servers are forked from an
        # interpreter that imports their libraries once, from now on; replaced servers stop in
        # the background.
        self.starter = WarmStarter() if warm_starts else None
        if self.starter is not None:
            self.starter.prepare(server_env())
        self._stopping: list[threading.Thread] = []
        # The traffic's keep-alive connection to the serving server (a new one per request cost
        # ~2 ms of the ~10 ms a request takes); replaced when another server serves.
        self._client: HttpClient | None = None
        self._client_url: str | None = None

    # -- files -----------------------------------------------------------------------------
    @property
    def directory(self) -> Path:
        return self.store.files_dir(self.workspace) / "production"

    def model_path(self) -> Path:
        """The champion model file when MLOps deployed one, else a baseline built on first use."""
        champion = self.directory / "model.pkl"
        if champion.exists():
            return champion
        baseline = self.directory / "baseline.json"
        if not baseline.exists():
            build_baseline_model(baseline)
        return baseline

    @property
    def launcher(self) -> Launcher | None:
        """How this production starts servers (`ServiceProcess.start`'s `launcher`)."""
        return self.starter.launch if self.starter is not None else None

    # -- releases --------------------------------------------------------------------------
    def promote(
        self,
        server: ServiceProcess,
        *,
        ref: str,
        run_id: str | None,
        sim_time: datetime | None,
        commit_sha: str | None,
        commit_time: datetime | None,
        artifact: Path,
        artifact_sha256: str,
        unplanned: bool = False,
        reason: str | None = None,
        effective_at: datetime | None = None,
    ) -> str:
        """Make `server` production: record the deployment, ship pending changes, stop the old one.

        With `effective_at` (blue/green on the scenario clock) the healthy server waits beside the
        current one and takes the traffic from that time on: `serve_day` switches it in, so a
        pipeline can run ahead of the traffic without changing who served which day.
        """
        with self.store.session():
            deployment_id = rec.record_deployment(
                self.store,
                workspace=self.workspace,
                kind="release",
                ref=ref,
                run_id=run_id,
                sim_time=sim_time,
                commit_sha=commit_sha,
                commit_time=commit_time,
                artifact_sha256=artifact_sha256,
                unplanned=unplanned,
                reason=reason,
            )
            if not unplanned:
                rec.mark_changes_shipped(
                    self.store, self.workspace, deployment_id, sim_time, committed_until=commit_time
                )
            release = rec.deployment(self.store, deployment_id)
        if effective_at is not None:
            with self._lock:
                self._pending.append((effective_at, server, release))
                self._pending.sort(key=lambda item: item[0])
            return deployment_id
        self._switch(server, release)
        return deployment_id

    def _switch(self, server: ServiceProcess, release: dict[str, Any] | None) -> None:
        old, self.server, self.release = self.server, server, release
        self._server_model = self.model_path()
        if old is not None and old is not server:
            # Its traffic has moved; waiting for its exit would only hold up the next request.
            stopping = threading.Thread(target=old.stop, name=f"opslab-stop-{old.pid}", daemon=True)
            stopping.start()
            self._stopping.append(stopping)

    def apply_due(self, until: datetime) -> bool:
        """Switch in every waiting release whose deploy time is before `until`; True if one did."""
        with self._lock:
            due = [item for item in self._pending if item[0] < until]
            self._pending = [item for item in self._pending if item[0] >= until]
        for _, server, release in due:
            self._switch(server, release)
        return bool(due)

    def ensure_running(self) -> ServiceProcess | None:
        """Start the current release when this process has no server for it (or the model moved)."""
        if self.release is None:
            self.release = rec.current_deployment(self.store, self.workspace, "release")
        if self.release is None:
            return None
        if self.server is not None and self.server.is_running() and self._server_model == self.model_path():
            return self.server
        artifact = rec.artifact_path(self.store, self.workspace, self.release["artifact_sha256"])
        if artifact is None or not Path(artifact).exists():
            raise DeployError(
                f"the artifact of release {self.release['ref']} is gone from {self.directory.parent}"
            )
        self._start(Path(artifact))
        return self.server

    def _start(self, artifact: Path) -> ServiceProcess:
        log = self.directory / "logs" / f"{artifact.stem}.log"
        server = ServiceProcess.start(
            artifact,
            self.model_path(),
            health_timeout_s=self.health_timeout_s,
            log_path=log,
            launcher=self.launcher,
        )
        if self.server is not None:
            self.server.stop()
        self.server, self._server_model = server, self.model_path()
        return server

    def rollback(self, *, detected_at: datetime, reason: str) -> tuple[str, datetime] | None:
        """Redeploy the previous good release for real; the bad one is marked rolled back.

        Returns the rollback deployment and the scenario time it was healthy: `detected_at` plus
        the measured wall-clock time to start the previous artifact and pass its health check.
        None when there is no earlier good release to go back to.
        """
        if self.release is None:
            return None
        previous = rec.previous_good_release(self.store, self.workspace, self.release["deployment_id"])
        if previous is None:
            return None
        artifact = rec.artifact_path(self.store, self.workspace, previous["artifact_sha256"])
        if artifact is None:
            return None
        bad = self.release["deployment_id"]
        log = self.directory / "logs" / f"rollback-{previous['ref']}.log"
        clock = time.perf_counter()
        server = ServiceProcess.start(
            Path(artifact),
            self.model_path(),
            health_timeout_s=self.health_timeout_s,
            log_path=log,
            launcher=self.launcher,
        )
        healthy_at = detected_at + timedelta(seconds=time.perf_counter() - clock)
        deployment_id = self.promote(
            server,
            ref=previous["ref"],
            run_id=None,
            sim_time=healthy_at,
            commit_sha=previous["commit_sha"],
            commit_time=previous["commit_time"],
            artifact=Path(artifact),
            artifact_sha256=previous["artifact_sha256"],
            unplanned=True,
            reason=reason,
        )
        rec.mark_deployment_rolled_back(self.store, bad)
        return deployment_id, healthy_at

    # -- traffic ---------------------------------------------------------------------------
    def _alarm(self, window: Sequence[RequestServing]) -> Alarm | None:
        """The alarm over `window`: the day's requests so far answered by the current release."""
        if not window:
            return None
        errors = sum(not r.ok for r in window)
        rate = errors / len(window)
        if rate > self.error_rate_alarm:
            return Alarm("error-rate", f"error rate {rate:.0%} > {self.error_rate_alarm:.0%}")
        p95 = _nearest_rank([r.latency_ms for r in window], 95)
        if p95 > self.latency_p95_alarm_ms:
            return Alarm("latency", f"p95 latency {p95:.0f} ms > {self.latency_p95_alarm_ms:.0f} ms")
        return None

    def _open_service_incidents(self) -> list[str]:
        if self._open_incidents is None:  # this process owns them while it serves
            self._open_incidents = [
                i["incident_id"] for i in rec.open_incidents(self.store, self.workspace, kind="service")
            ]
        return self._open_incidents

    def serve_day(
        self,
        rows: Sequence[Mapping[str, Any]],
        times: Sequence[datetime],
        day_end: datetime,
        week: WeekServing | None = None,
    ) -> DayServing:
        """Serve one day's rows request by request, each at its first row's scenario time.

        Before each request, a release whose deploy time has passed takes over. After each, the
        alarm looks at the day's requests so far answered by the current release. An alarm with
        no incident open:
          - opens one at the scenario time of the window's first failing request (an error, or a
            request slower than the latency alarm);
          - rolls back for real at once and resolves the incident when the rolled-back release is
            healthy: the alarming request's time + its latency (the alarm hears the answer) + the
            measured wall-clock time to start the previous artifact and pass its health check.
            That is when production was healthy again, so recovery is timed within the day
            without serving any extra request. The rest of the day goes to the restored release.
        An incident with nothing to roll back to stays open until a later request is answered
        and the alarm is quiet (a fix shipped): it resolves at that request's time.
        """
        week = week if week is not None else WeekServing()
        served: list[RequestServing] = []
        predictions: list[float | None] = []
        window: list[RequestServing] = []
        first_alarm: Alarm | None = None
        first_release: str | None = None
        for start in range(0, len(rows), self.rows_per_request):
            chunk = rows[start : start + self.rows_per_request]
            sent = times[start]
            if self.apply_due(sent):
                window = []  # a new release is judged on its own requests
            server = self.ensure_running()
            if server is None:
                predictions.extend([None] * len(chunk))
                continue
            release = self.release["ref"] if self.release else None
            report = serve_batch(
                server.url, chunk, rows_per_request=len(chunk), client=self._client_for(server)
            )
            request = RequestServing(sent, release, len(chunk), report.errors == 0, report.latency_p50_ms)
            first_release = first_release or release
            served.append(request)
            window.append(request)
            predictions.extend(report.predictions)
            alarm = self._alarm(window)
            first_alarm = first_alarm or alarm
            open_now = self._open_service_incidents()
            if alarm is not None and not open_now:
                self._open_and_roll_back(alarm, window, request, week)
                window = []
            elif alarm is None and open_now:
                for incident in open_now:
                    rec.resolve_incident(self.store, incident, sim_time=sent)
                    week.incidents_resolved.append(incident)
                open_now.clear()
        self.apply_due(day_end)  # a release due before the day ends takes over even on a quiet day
        latencies = [r.latency_ms for r in served]
        return DayServing(
            sim_time=day_end,
            release=first_release or (self.release["ref"] if self.release else None),
            requests=len(served),
            rows=len(rows),
            errors=sum(not r.ok for r in served),
            latency_p50_ms=_nearest_rank(latencies, 50),
            latency_p95_ms=_nearest_rank(latencies, 95),
            predictions=predictions,
            alarm=first_alarm,
            served=served,
        )

    def _open_and_roll_back(
        self, alarm: Alarm, window: Sequence[RequestServing], request: RequestServing, week: WeekServing
    ) -> None:
        failing = next((r for r in window if not r.ok or r.latency_ms > self.latency_p95_alarm_ms), request)
        cause = self.release
        incident = rec.open_incident(
            self.store,
            workspace=self.workspace,
            kind="service",
            sim_time=failing.sim_time,
            cause=cause["ref"] if cause else None,
            cause_deployment_id=cause["deployment_id"] if cause else None,
            detected_by=f"{alarm.kind} alarm",
            summary=alarm.message,
        )
        week.incidents_opened.append(incident)
        detected_at = request.sim_time + timedelta(milliseconds=request.latency_ms)
        rollback = self.rollback(detected_at=detected_at, reason=f"rollback: {alarm.message}")
        if rollback is None:  # nothing to go back to: open until a quiet request
            self._open_service_incidents().append(incident)
            return
        deployment_id, healthy_at = rollback
        week.rollbacks.append(deployment_id)
        rec.resolve_incident(self.store, incident, sim_time=healthy_at, rollback_deployment_id=deployment_id)
        week.incidents_resolved.append(incident)

    def serve_week(
        self,
        batch: pd.DataFrame,
        time_column: str,
        week_end: datetime,
        *,
        week_start: datetime | None = None,
        rows: Sequence[Mapping[str, Any]] | None = None,
    ) -> WeekServing:
        """Serve the week's rows a day at a time, each day (start, end], through `serve_day`.
        Every day passes through it, even an empty one, so a release waiting for its deploy time
        takes over on schedule. `rows`: the batch's `service_rows` when the caller made them
        already (a scenario makes its whole dataset's once)."""
        week = WeekServing()
        start = week_start or week_end - timedelta(weeks=1)
        # The week's rows become JSON rows and send times once (pandas costs milliseconds a call,
        # as much as a request), then each day takes its slice.
        times = pd.to_datetime(batch[time_column])
        stamps = times.to_numpy()
        all_rows = service_rows(batch) if rows is None else rows
        if len(all_rows) != len(batch):
            raise ValueError(f"{len(all_rows)} service rows for a batch of {len(batch)}")
        all_sent = [t.to_pydatetime() for t in times]
        for day in range(7):
            day_start = start + timedelta(days=day)
            day_end = min(day_start + timedelta(days=1), week_end)
            today = np.flatnonzero((stamps > np.datetime64(day_start)) & (stamps <= np.datetime64(day_end)))
            day_rows = [all_rows[int(i)] for i in today]
            served = self.serve_day(day_rows, [all_sent[int(i)] for i in today], day_end, week)
            if day_rows:
                week.days.append(served)
        return week

    def _client_for(self, server: ServiceProcess) -> HttpClient:
        """The keep-alive connection to `server` (the traffic's one thread is its only user)."""
        if self._client is None or self._client_url != server.url:
            if self._client is not None:
                self._client.close()
            self._client, self._client_url = HttpClient(server.url), server.url
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        with self._lock:
            waiting, self._pending = self._pending, []
        for _, server, _ in waiting:
            server.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        for stopping in self._stopping:
            stopping.join()
        self._stopping = []
        if self.starter is not None:  # last: the servers it started stop with it
            self.starter.close()
