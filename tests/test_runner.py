"""Runner semantics: order, failure skips the rest, cache hits, progress, interruption."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.runner import (
    Artifact,
    Progress,
    RunInterrupted,
    Step,
    StepContext,
    StepFailed,
    StepOutcome,
    StepSkipped,
    file_sha256,
    run_steps,
)
from pipelines.store import Store


def _ok(value: int):
    def step(ctx: StepContext) -> StepOutcome:
        return StepOutcome(metrics={"value": value}, outputs={"value": value}, log=f"did {value}")

    return step


def _run(store: Store, steps: list[Step], **kw):
    return run_steps(store, steps, workspace="demo", kind="devops", trigger="manual", **kw)


def test_steps_run_in_order_and_see_earlier_outputs(store: Store) -> None:
    def add(ctx: StepContext) -> StepOutcome:
        return StepOutcome(metrics={"sum": ctx.output("a", "value") + ctx.output("b", "value")})

    result = _run(store, [Step("a", _ok(1)), Step("b", _ok(2)), Step("c", add)])
    assert result.ok
    steps = store.steps(result.run_id)
    assert [(s["name"], s["status"]) for s in steps] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "succeeded"),
    ]
    assert steps[2]["metrics"] == {"sum": 3}
    assert steps[0]["log_tail"] == "did 1"
    assert all(s["duration_ms"] >= 0 for s in steps)
    run = store.run(result.run_id)
    assert run["status"] == "succeeded" and run["finished_at"] >= run["started_at"]


def test_a_failure_skips_the_remaining_steps_and_fails_the_run(store: Store) -> None:
    def broken(ctx: StepContext) -> StepOutcome:
        raise StepFailed("3 tests failed", metrics={"failed": 3}, log="FAILED test_x")

    called = []
    result = _run(
        store,
        [
            Step("build", _ok(1)),
            Step("test", broken),
            Step("deploy", lambda ctx: called.append(1) or StepOutcome()),
        ],
    )
    assert result.status == "failed" and not called
    steps = store.steps(result.run_id)
    assert [s["status"] for s in steps] == ["succeeded", "failed", "skipped"]
    assert steps[1]["error"] == "3 tests failed" and steps[1]["metrics"] == {"failed": 3}
    assert "FAILED test_x" in steps[1]["log_tail"]
    assert "an earlier step failed" in steps[2]["error"]
    assert store.run(result.run_id)["error"] == "test: 3 tests failed"


def test_an_unexpected_exception_is_a_failed_step_with_its_traceback(store: Store) -> None:
    def buggy(ctx: StepContext) -> StepOutcome:
        return {}["missing"]

    result = _run(store, [Step("x", buggy)])
    step = store.steps(result.run_id)[0]
    assert step["status"] == "failed" and step["error"] == "KeyError: 'missing'"
    assert "Traceback" in step["log_tail"]


def test_a_step_may_skip_itself_without_failing_the_run(store: Store) -> None:
    def gate_says_no(ctx: StepContext) -> StepOutcome:
        raise StepSkipped("challenger did not beat the champion", metrics={"promoted": False})

    result = _run(store, [Step("evaluate", _ok(1)), Step("deploy", gate_says_no)])
    assert result.ok
    deploy = store.steps(result.run_id)[1]
    assert deploy["status"] == "skipped" and deploy["error"] == "challenger did not beat the champion"


def test_a_cache_hit_is_recorded_as_cached_and_reuses_the_outputs(store: Store, tmp_path: Path) -> None:
    calls: list[int] = []
    artifact = tmp_path / "app.pyz"

    def build(ctx: StepContext) -> StepOutcome:
        calls.append(1)
        artifact.write_bytes(b"zip")
        return StepOutcome(
            metrics={"bytes": 3}, outputs={"path": str(artifact)}, artifacts=[Artifact("build", artifact)]
        )

    def use(ctx: StepContext) -> StepOutcome:
        return StepOutcome(metrics={"got": ctx.output("build", "path")})

    steps = [
        Step(
            "build",
            build,
            cache_key=lambda ctx: ctx.params["tree"],
            cache_valid=lambda out: Path(out["path"]).exists(),
        ),
        Step("use", use),
    ]
    first = _run(store, steps, params={"tree": "abc"})
    second = _run(store, steps, params={"tree": "abc"})
    third = _run(store, steps, params={"tree": "def"})
    assert len(calls) == 2
    cached = store.steps(second.run_id)
    assert cached[0]["status"] == "cached" and cached[0]["cache_key"] == "abc"
    assert cached[0]["metrics"]["cache_hit_from_run"] == first.run_id
    assert cached[1]["metrics"] == {"got": str(artifact)}
    assert store.steps(third.run_id)[0]["status"] == "succeeded"
    artifacts = store.select("artifacts", "demo")
    assert artifacts["sha256"].tolist() == [file_sha256(artifact)] * 2  # fresh builds only

    artifact.unlink()  # a cached result whose file is gone is rebuilt, not trusted
    fourth = _run(store, steps, params={"tree": "abc"})
    assert store.steps(fourth.run_id)[0]["status"] == "succeeded" and len(calls) == 3


def test_progress_reports_every_step(store: Store) -> None:
    events: list[Progress] = []

    def broken(ctx: StepContext) -> StepOutcome:
        raise StepFailed("no")

    _run(store, [Step("a", _ok(1)), Step("b", broken), Step("c", _ok(3))], progress=events.append)
    assert [(e.step, e.status) for e in events] == [
        ("a", "running"),
        ("a", "succeeded"),
        ("b", "running"),
        ("b", "failed"),
        ("c", "skipped"),
    ]
    assert {e.total for e in events} == {3} and events[-1].index == 2


def test_ctrl_c_marks_the_run_interrupted_and_propagates(store: Store) -> None:
    def interrupted(ctx: StepContext) -> StepOutcome:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(store, [Step("a", _ok(1)), Step("b", interrupted)])
    runs = store.select("runs", "demo")
    assert runs["status"].tolist() == ["interrupted"]


def test_duplicate_step_names_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unique"):
        _run(store, [Step("a", _ok(1)), Step("a", _ok(2))])


def test_before_step_is_called_before_each_step_that_runs_outside_its_timing(store: Store) -> None:
    def broken(ctx: StepContext) -> StepOutcome:
        raise StepFailed("red")

    seen: list[str] = []
    result = _run(
        store,
        [Step("a", _ok(1)), Step("b", broken), Step("c", _ok(3))],
        before_step=seen.append,
    )
    assert seen == ["a", "b"]  # not for a step skipped after a failure
    assert not result.ok


def test_what_before_step_raises_fails_the_run_and_goes_on(store: Store) -> None:
    called: list[str] = []

    def refuse(name: str) -> None:
        if name == "b":
            raise RuntimeError("production is gone")

    def step_b(ctx: StepContext) -> StepOutcome:
        called.append("b")
        return StepOutcome()

    with pytest.raises(RuntimeError, match="production is gone"):
        _run(store, [Step("a", _ok(1)), Step("b", step_b)], before_step=refuse)
    assert called == []
    runs = store.select("runs", "demo")
    assert list(runs["status"]) == ["failed"] and "production is gone" in runs["error"].iloc[0]


def test_a_run_whose_wait_will_not_end_is_recorded_interrupted_not_failed(store: Store) -> None:
    def stopped(name: str) -> None:
        if name == "b":
            raise RunInterrupted("the scenario stopped before its deploy time")

    with pytest.raises(RunInterrupted):
        _run(store, [Step("a", _ok(1)), Step("b", _ok(2))], before_step=stopped)
    run = store.select("runs", "demo").iloc[0]
    assert run["status"] == "interrupted" and "stopped before its deploy time" in run["error"]
