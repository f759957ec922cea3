"""The DevOps pipeline: checkout → build → test → deploy, on a commit of the workspace repository.

Steps are small functions of the run context; build and test are cached by the tree hash, so an
unchanged tree (a revert back to known code, a re-run) is not rebuilt or retested. Deploy starts
the artifact as a real server, health-checks and smoke-tests it, and hands it to `Production`,
which promotes it and stops the release it replaces. On the scenario clock a pipeline starts at
its release train's departure (`next_train`) and the release is live at that time plus the
pipeline's measured duration.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.devops.build import build_artifact
from pipelines.devops.errors import DevOpsError
from pipelines.devops.production import Production
from pipelines.devops.repo import checkout_tree, commit_time, tree_hash
from pipelines.devops.service import ServiceProcess, smoke_test
from pipelines.devops.testing import run_service_tests
from pipelines.runner import (
    Artifact,
    ProgressCallback,
    RunResult,
    Step,
    StepContext,
    StepFailed,
    StepOutcome,
    run_steps,
)
from pipelines.store import Store

__all__ = [
    "STEP_NAMES",
    "DevOpsSettings",
    "PipelineClock",
    "devops_steps",
    "next_train",
    "run_devops_pipeline",
]

STEP_NAMES = ("checkout", "build", "test", "deploy")


@dataclass(frozen=True)
class DevOpsSettings:
    """Knobs of the DevOps half. Alarm thresholds decide incidents in production.

    Latency is wall-clock and machine-dependent; the default latency alarm is set far above what
    the service ever needs so that the same scenario gives the same incidents on any machine.

    Releases follow a train on the scenario clock: a reviewed commit waits for the next departure
    (`train_hours` of each of `train_weekdays`, 0 = Monday), so lead time is the wait for the train
    plus the pipeline's real duration, and differs between commits that land at different times.
    Every N hours is `train_hours=tuple(range(0, 24, N))`.
    """

    test_timeout_s: float = 60
    health_timeout_s: float = 15
    smoke_requests: int = 20
    rows_per_request: int = 24  # a day of hourly rows per request
    error_rate_alarm: float = 0.05
    latency_p95_alarm_ms: float = 2000.0
    train_hours: tuple[int, ...] = (9, 17)  # a morning and an evening train
    train_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # working days only

    def __post_init__(self) -> None:
        if not 0 < self.error_rate_alarm <= 1:
            raise ValueError(f"error-rate alarm must be in (0, 1], not {self.error_rate_alarm}")
        if self.latency_p95_alarm_ms <= 0 or self.test_timeout_s <= 0 or self.health_timeout_s <= 0:
            raise ValueError("time limits and the latency alarm must be positive")
        if self.rows_per_request < 1:
            raise ValueError(f"rows per request must be at least 1, not {self.rows_per_request}")
        # Settings read back from JSON carry lists and `--set devops.train_hours=9,17` a string:
        # keep them sorted tuples of ints, so equal settings are equal.
        hours, days = _timetable(self.train_hours, "hours"), _timetable(self.train_weekdays, "weekdays")
        if not hours or not all(0 <= h <= 23 for h in hours):
            raise ValueError(f"train hours must be one or more hours 0-23, not {list(self.train_hours)}")
        if not days or not all(0 <= d <= 6 for d in days):
            raise ValueError(f"train weekdays must be one or more days 0-6, not {list(self.train_weekdays)}")
        object.__setattr__(self, "train_hours", hours)
        object.__setattr__(self, "train_weekdays", days)


def _timetable(value: Any, what: str) -> tuple[int, ...]:
    items = value.split(",") if isinstance(value, str) else value
    try:
        return tuple(sorted({int(item) for item in items}))
    except (TypeError, ValueError):
        raise ValueError(f"train {what} must be whole numbers like 9,17, not {value!r}") from None


def next_train(ready: datetime, settings: DevOpsSettings = DevOpsSettings()) -> datetime:
    """The first release-train departure at or after `ready` (a change ready on the hour boards it)."""
    day = ready.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(8):  # some weekday within the next week has a train
        date = day + timedelta(days=offset)
        if date.weekday() not in settings.train_weekdays:
            continue
        for hour in settings.train_hours:
            departure = date + timedelta(hours=hour)
            if departure >= ready:
                return departure
    raise AssertionError("unreachable: validated settings have a train every week")


class PipelineClock:
    """The pipeline's own running time: seconds since it started, less the time it waited."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.waited = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.waited

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.waited += time.perf_counter() - began


def _fail(exc: DevOpsError) -> StepFailed:
    return StepFailed(str(exc))


def checkout_commit(ctx: StepContext) -> StepOutcome:
    repo: Path = ctx.params["repo"]
    sha: str = ctx.params["commit"]
    src = ctx.workdir / "src"
    shutil.rmtree(src, ignore_errors=True)
    try:
        checkout_tree(repo, sha, src)
        tree = tree_hash(repo, sha)
    except DevOpsError as exc:
        raise _fail(exc) from exc
    files = sum(1 for p in src.rglob("*") if p.is_file())
    return StepOutcome(
        metrics={"commit": sha, "tree": tree, "files": files}, outputs={"src": str(src), "tree": tree}
    )


def build_release(ctx: StepContext) -> StepOutcome:
    tree = ctx.output("checkout", "tree")
    out_dir = ctx.params["artifacts_dir"]
    try:
        result = build_artifact(Path(ctx.output("checkout", "src")), out_dir, version=tree[:12])
    except DevOpsError as exc:
        raise _fail(exc) from exc
    return StepOutcome(
        metrics={"artifact": result.path.name, "sha256": result.sha256, "bytes": result.size},
        outputs={"artifact": str(result.path), "sha256": result.sha256, "version": result.version},
        artifacts=[Artifact("build", result.path)],
    )


def test_release(ctx: StepContext) -> StepOutcome:
    settings: DevOpsSettings = ctx.params["settings"]
    src = Path(ctx.output("checkout", "src"))
    artifact = Path(ctx.output("build", "artifact"))
    try:
        report = run_service_tests(
            src,
            artifact,
            ctx.workdir / "test",
            timeout_s=settings.test_timeout_s,
            launcher=ctx.params.get("test_launcher"),
        )
    except DevOpsError as exc:
        raise _fail(exc) from exc
    metrics: dict[str, Any] = {
        "passed": report.passed,
        "failed": report.failed,
        "skipped": report.skipped,
        "errors": report.errors,
        "duration_s": round(report.duration_s, 3),
        "slowest": [[name, round(sec, 4)] for name, sec in report.slowest],
        "failing": report.failing,
    }
    if not report.ok:
        raise StepFailed(report.reason or "the test suite failed", metrics=metrics, log=report.log_tail)
    artifacts = [Artifact("junit", report.junit_path)] if report.junit_path else []
    return StepOutcome(
        metrics=metrics, outputs={"passed": report.passed}, artifacts=artifacts, log=report.log_tail
    )


def deploy_release(ctx: StepContext) -> StepOutcome:
    settings: DevOpsSettings = ctx.params["settings"]
    production: Production = ctx.params["production"]
    artifact = Path(ctx.output("build", "artifact"))
    try:
        server = ServiceProcess.start(
            artifact,
            production.model_path(),
            health_timeout_s=settings.health_timeout_s,
            port=ctx.params.get("port", 0),
            log_path=ctx.workdir / "deploy" / "server.log",
            launcher=production.launcher,
        )
    except DevOpsError as exc:
        raise _fail(exc) from exc
    try:
        smoke = smoke_test(server.url, n_requests=settings.smoke_requests)
    except Exception:
        server.stop()
        raise
    metrics = {
        "requests": smoke.requests,
        "errors": smoke.errors,
        "latency_p50_ms": round(smoke.latency_p50_ms, 3),
        "latency_p95_ms": round(smoke.latency_p95_ms, 3),
        "url": server.url,
    }
    if smoke.errors:
        log = "\n".join(smoke.error_samples) + "\n" + server.log_tail()
        server.stop()
        raise StepFailed(
            f"smoke test: {smoke.errors} of {smoke.requests} requests failed", metrics=metrics, log=log
        )
    before_promote: Callable[[], None] | None = ctx.params.get("before_promote")
    if before_promote is not None:  # blue/green: healthy and smoke-tested, waiting for the switch
        clock: PipelineClock | None = ctx.params.get("clock")
        try:
            with clock.paused() if clock is not None else contextlib.nullcontext():
                before_promote()
        except BaseException:
            server.stop()
            raise
    sha: str = ctx.params["commit"]
    # On the scenario clock the release is live once the pipeline, started at `sim_time` (its
    # train's departure), has really run through checkout, build, test and this deploy.
    live_at = ctx.sim_time
    if live_at is not None and "clock" in ctx.params:
        live_at += timedelta(seconds=ctx.params["clock"].elapsed())
    deployment_id = production.promote(
        server,
        ref=sha[:7],
        run_id=ctx.run_id,
        sim_time=live_at,
        commit_sha=sha,
        commit_time=ctx.params["commit_time"],
        artifact=artifact,
        artifact_sha256=ctx.output("build", "sha256"),
        effective_at=live_at if ctx.params.get("deferred_promotion") else None,
    )
    metrics["deployment_id"] = deployment_id
    return StepOutcome(metrics=metrics, outputs={"deployment_id": deployment_id}, log=server.log_tail())


def devops_steps() -> list[Step]:
    def by_tree(ctx: StepContext) -> str:
        return ctx.output("checkout", "tree")

    return [
        Step("checkout", checkout_commit),
        Step(
            "build", build_release, cache_key=by_tree, cache_valid=lambda out: Path(out["artifact"]).is_file()
        ),
        # The test result of a tree is a fact about that tree: a revert to known code reuses it.
        Step("test", test_release, cache_key=by_tree),
        Step("deploy", deploy_release),
    ]


def run_devops_pipeline(
    store: Store,
    workspace: str,
    production: Production,
    *,
    repo: Path,
    commit: str,
    sim_time: datetime | None,
    settings: DevOpsSettings = DevOpsSettings(),
    trigger: str = "commit",
    label: str | None = None,
    progress: ProgressCallback | None = None,
    extra_params: Mapping[str, Any] | None = None,
    changes: Sequence[str] = (),
    before_build: Callable[[], None] | None = None,
    before_deploy: Callable[[], None] | None = None,
    before_promote: Callable[[], None] | None = None,
) -> RunResult:
    """Run checkout → build → test → deploy on `commit` and record it; `changes` are the ids of the
    scripted changes it ships (recorded with the commit and the settings as the run's parameters).

    A scenario prepares the next release while production still answers the traffic before its
    deploy time, and hands it over once that traffic is answered: `before_build` (optional) is
    waited for between checkout and build (a release with the same code still under test elsewhere
    finishes first, so a cache hit is the same as when releases ran in turns), `before_deploy`
    between test and deploy (the server then starts with what is there after the wait, e.g. the
    first model), `before_promote` inside the deploy, between a healthy, smoke-tested server and its
    promotion. No wait is part of the pipeline's duration, so the release is live at `sim_time` plus
    the time the steps really took, as without the wait.
    """
    clock = PipelineClock()  # the deploy is live `sim_time` + the pipeline's real duration
    when = commit_time(repo, commit).replace(tzinfo=None)

    waits = {"build": before_build, "deploy": before_deploy}

    def wait_before(step: str) -> None:
        wait = waits.get(step)
        if wait is not None:
            with clock.paused():
                wait()

    params = {
        "clock": clock,
        "repo": repo,
        "commit": commit,
        "commit_time": when,
        "settings": settings,
        "production": production,
        "artifacts_dir": store.files_dir(workspace) / "artifacts",
        "before_promote": before_promote,
        **dict(extra_params or {}),
    }
    return run_steps(
        store,
        devops_steps(),
        workspace=workspace,
        kind="devops",
        trigger=trigger,
        sim_time=sim_time,
        params=params,
        input_fingerprint=commit,
        label=label,
        progress=progress,
        recorded_params={
            "commit": commit,
            "commit_time": when,
            "changes": ",".join(changes) or None,
            "devops": settings,
        },
        before_step=wait_before,
    )
