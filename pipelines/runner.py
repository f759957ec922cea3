"""Run an ordered list of named steps and record the run, each step, and its artifacts.

Steps are plain functions `(StepContext) -> StepOutcome`; they never touch the store. The runner
times them, catches their failures, records a row per step, marks the steps after a failure as
skipped and the run as failed, reports progress to an optional callback, and serves content-
addressed cache hits: a step that declares a cache key and finds a stored result under that key
is recorded as `cached` and its stored outputs are handed to the next steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipelines.store.core import StepRecord, Store, now_utc

__all__ = [
    "Artifact",
    "Progress",
    "ProgressCallback",
    "RunInterrupted",
    "RunResult",
    "Step",
    "StepContext",
    "StepFailed",
    "StepOutcome",
    "StepSkipped",
    "file_sha256",
    "flat_params",
    "run_steps",
]

LOG_TAIL_CHARS = 4000


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _param_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return json.dumps(value, sort_keys=True)


def flat_params(values: Any, prefix: str = "") -> dict[str, str | None]:
    """Parameters as MLflow records them: one flat key per knob (nested settings dotted, as in
    `model.learning_rate`), each value a string (text as is, anything else as JSON)."""
    items: Mapping[str, Any]
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        items = {f.name: getattr(values, f.name) for f in dataclasses.fields(values)}
    else:
        items = values
    flat: dict[str, str | None] = {}
    for key, value in items.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            flat.update(flat_params(value, f"{name}."))
        else:
            flat[name] = _param_value(value)
    return flat


@dataclass(frozen=True)
class Artifact:
    """A file a step produced; the runner hashes it and records it."""

    kind: str
    path: Path


@dataclass
class StepOutcome:
    """What a step returns: numbers for the record, outputs for later steps, files it made."""

    metrics: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    log: str = ""


class StepFailed(Exception):
    """Raised by a step that ran and failed; its metrics and log are still recorded."""

    def __init__(self, message: str, *, metrics: Mapping[str, Any] | None = None, log: str = "") -> None:
        super().__init__(message)
        self.metrics = dict(metrics or {})
        self.log = log


class RunInterrupted(BaseException):
    """Raised (by a step or `before_step`) when what the run was waiting for will not come, e.g. the
    scenario it belongs to stopped: the run is recorded as interrupted, not failed, and the
    exception goes on. A BaseException, so that a step's own error handling does not take it."""


class StepSkipped(Exception):
    """Raised by a step that decided not to act (e.g. deploy when the gate said no)."""

    def __init__(self, reason: str, *, metrics: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.metrics = dict(metrics or {})


@dataclass
class StepContext:
    workspace: str
    run_id: str
    sim_time: datetime | None
    workdir: Path
    params: Mapping[str, Any]
    outputs: dict[str, dict[str, Any]]

    def output(self, step: str, key: str) -> Any:
        return self.outputs[step][key]


@dataclass(frozen=True)
class Step:
    name: str
    func: Callable[[StepContext], StepOutcome]
    cache_key: Callable[[StepContext], str | None] | None = None
    # A cached result is only reused while it is still valid (e.g. its artifact file exists).
    cache_valid: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True)
class Progress:
    run_id: str
    kind: str
    step: str
    index: int
    total: int
    status: str  # running | succeeded | failed | skipped | cached
    message: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass
class RunResult:
    run_id: str
    status: str
    steps: list[StepRecord]
    outputs: dict[str, dict[str, Any]]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def step(self, name: str) -> StepRecord:
        return next(s for s in self.steps if s.name == name)


def _tail(text: str) -> str:
    return text[-LOG_TAIL_CHARS:]


def run_steps(
    store: Store,
    steps: Sequence[Step],
    *,
    workspace: str,
    kind: str,
    trigger: str,
    sim_time: datetime | None = None,
    params: Mapping[str, Any] | None = None,
    input_fingerprint: str | None = None,
    config_hash: str | None = None,
    label: str | None = None,
    progress: ProgressCallback | None = None,
    workdir: Path | None = None,
    recorded_params: Mapping[str, Any] | None = None,
    before_step: Callable[[str], None] | None = None,
) -> RunResult:
    """Run `steps` in order and record everything; a failure skips the rest and fails the run.

    `params` are what the steps receive (objects such as a dataset or a server handle);
    `recorded_params` are the run's parameters as people compare them (settings, seed, commit,
    data window), recorded as flat key/value rows (`flat_params`) before the first step runs.
    `before_step(name)` is called before each step runs, outside its timing: a run that must wait
    for something outside it (a deploy for the traffic before it) waits there; what it raises
    stops the run like Ctrl-C does (the run is recorded as failed and the error goes on).
    """
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"step names must be unique, got {names}")
    run_id = store.start_run(
        workspace=workspace,
        kind=kind,
        trigger=trigger,
        sim_time=sim_time,
        input_fingerprint=input_fingerprint,
        config_hash=config_hash,
        label=label,
    )
    workdir = workdir or store.files_dir(workspace) / "runs" / run_id
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = StepContext(workspace, run_id, sim_time, workdir, dict(params or {}), {})
    records: list[StepRecord] = []
    failure: str | None = None
    total = len(steps)

    def emit(index: int, name: str, status: str, message: str = "") -> None:
        if progress is not None:
            progress(Progress(run_id, kind, name, index, total, status, message))

    try:
        if recorded_params:
            store.record_params(run_id, workspace, flat_params(recorded_params))
        for index, step in enumerate(steps):
            if failure is not None:
                record = StepRecord(
                    index,
                    step.name,
                    "skipped",
                    None,
                    None,
                    None,
                    {},
                    "",
                    f"skipped: an earlier step failed ({failure})",
                    None,
                )
                store.record_step(run_id, workspace, record)
                records.append(record)
                emit(index, step.name, "skipped")
                continue
            if before_step is not None:
                before_step(step.name)
            emit(index, step.name, "running")
            record, error = _run_one(store, step, index, ctx)
            store.record_step(run_id, workspace, record)
            records.append(record)
            emit(index, step.name, record.status, record.error or "")
            if error is not None:
                failure = f"{step.name}: {error}"
    except BaseException as exc:  # Ctrl-C or a bug in the runner itself: never leave it running
        status = "interrupted" if isinstance(exc, (KeyboardInterrupt, RunInterrupted)) else "failed"
        store.finish_run(run_id, status, error=f"{type(exc).__name__}: {exc}")
        raise
    status = "failed" if failure else "succeeded"
    store.finish_run(run_id, status, error=failure)
    return RunResult(run_id, status, records, ctx.outputs, failure)


def _run_one(store: Store, step: Step, index: int, ctx: StepContext) -> tuple[StepRecord, str | None]:
    started = now_utc()
    clock = time.perf_counter()
    key = step.cache_key(ctx) if step.cache_key else None
    if key is not None:
        hit = store.cached_step(ctx.workspace, step.name, key)
        if hit is not None and (step.cache_valid is None or step.cache_valid(hit["outputs"])):
            ctx.outputs[step.name] = hit["outputs"]
            metrics = {**hit["metrics"], "cache_hit_from_run": hit["run_id"]}
            duration = (time.perf_counter() - clock) * 1000
            return StepRecord(
                index,
                step.name,
                "cached",
                started,
                now_utc(),
                duration,
                metrics,
                f"cache hit for key {key}",
                None,
                key,
            ), None
    try:
        outcome = step.func(ctx)
    except StepSkipped as skip:
        duration = (time.perf_counter() - clock) * 1000
        ctx.outputs[step.name] = {}
        return StepRecord(
            index, step.name, "skipped", started, now_utc(), duration, skip.metrics, "", str(skip), key
        ), None
    except StepFailed as exc:
        duration = (time.perf_counter() - clock) * 1000
        return StepRecord(
            index,
            step.name,
            "failed",
            started,
            now_utc(),
            duration,
            exc.metrics,
            _tail(exc.log),
            str(exc),
            key,
        ), str(exc)
    except Exception as exc:  # an unexpected error is a failed step, with its traceback as log
        duration = (time.perf_counter() - clock) * 1000
        message = f"{type(exc).__name__}: {exc}"
        return StepRecord(
            index,
            step.name,
            "failed",
            started,
            now_utc(),
            duration,
            {},
            _tail(traceback.format_exc()),
            message,
            key,
        ), message
    duration = (time.perf_counter() - clock) * 1000
    ctx.outputs[step.name] = outcome.outputs
    for artifact in outcome.artifacts:
        path = Path(artifact.path)
        store.record_artifact(
            workspace=ctx.workspace,
            run_id=ctx.run_id,
            step=step.name,
            kind=artifact.kind,
            path=str(path),
            sha256=file_sha256(path),
            size_bytes=path.stat().st_size,
        )
    if key is not None:
        store.store_cached_step(ctx.workspace, step.name, key, ctx.run_id, outcome.outputs, outcome.metrics)
    return StepRecord(
        index,
        step.name,
        "succeeded",
        started,
        now_utc(),
        duration,
        outcome.metrics,
        _tail(outcome.log),
        None,
        key,
    ), None
