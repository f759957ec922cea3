"""The Control room's one sentence about a run, from the run's own JSON (real runs, not made-up dicts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.verdicts import run_verdict


@pytest.fixture
def history(scenario_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / scenario_db.name
    shutil.copy(scenario_db, copy)
    if (files := scenario_db.with_name(scenario_db.name + ".files")).exists():
        shutil.copytree(files, copy.with_name(copy.name + ".files"), symlinks=True)
    return copy


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    main(list(args))
    return json.loads(capsys.readouterr().out)


def test_a_caught_bug_names_the_step_and_the_failing_tests(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _json(capsys, "--db", str(history), "devops", "run", "--change", "hour-24-midnight", "--json")
    said = run_verdict("devops", result)
    test = next(s for s in result["steps"] if s["name"] == "test")
    assert said.startswith(f"stopped at test: {test['metrics']['failed']} failing tests (")
    assert all(name in said for name in test["metrics"]["failing"][:3])


def test_a_clean_run_says_what_it_deployed(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _json(capsys, "--db", str(history), "devops", "run", "--json")
    said = run_verdict("devops", result)
    checkout = next(s for s in result["steps"] if s["name"] == "checkout")
    assert said.startswith("built, tested (") and checkout["metrics"]["commit"][:7] in said


def test_a_retrain_names_the_version_and_the_gates_verdict(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _json(capsys, "--db", str(history), "mlops", "run", "--data", "workspace", "--json")
    said = run_verdict("mlops", result)
    register = next(s for s in result["steps"] if s["name"] == "register")
    evaluate = next(s for s in result["steps"] if s["name"] == "evaluate")
    assert said.startswith(f"trained v{register['metrics']['version']}; the gate ")
    assert evaluate["metrics"]["gate_reason"] in said
    deployed = next(s for s in result["steps"] if s["name"] == "deploy")["status"] == "succeeded"
    assert ("promoted it" in said) == deployed


def test_a_run_that_stopped_before_any_step_says_its_error() -> None:
    assert (
        run_verdict("devops", {"status": "failed", "error": "no repo\nmore", "steps": []})
        == "failed: no repo"
    )
