"""The Learn page's exercise checks on small real histories: each passes where it should and fails elsewhere.

Two short scenarios share one file (played once per module):
- `devops`: calm-seas in 2 weeks with retraining off; the caught bug fails at test.
- `mlops`: calm-seas in 6 weeks, no releases; sudden concept drift on `hr`, then an upstream switch to
  Fahrenheit; the quality policy retrains (and validation refuses the broken data); threshold 0.3.
The escaped bug and its rollback come from the dashboard tests' session history (`scenario_db`,
bad-friday-deploy in 7 weeks), which is played once for the whole test session.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipelines import exercises
from pipelines.exercises import EXERCISES, CheckResult, get_exercise, run_check
from pipelines.mlops.simulator import DriftInjection, UpstreamChange
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import get_preset
from pipelines.scenario.settings import ChangeAt
from pipelines.store import Store
from pipelines.store.exercise_sql import table_columns, table_row_counts
from pipelines.store.schema import TABLES


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("exercises") / "opslab.duckdb")


@pytest.fixture(scope="module")
def devops(history: Store) -> str:
    settings = get_preset("calm-seas").with_weeks(2)
    settings = dataclasses.replace(
        settings,
        changes=(ChangeAt("hour-24-midnight", 1),),
        policy=dataclasses.replace(settings.policy, kind="never"),
    )
    run_scenario(history, "devops", settings)
    return "devops"


@pytest.fixture(scope="module")
def mlops(history: Store) -> str:
    settings = get_preset("calm-seas").with_weeks(6)
    simulator = dataclasses.replace(
        settings.simulator,
        injections=(DriftInjection("concept", "sudden", onset_week=9, magnitude=1.0, feature="hr"),),
        upstream_changes=(UpstreamChange("fahrenheit", "temp", onset_week=11),),
    )
    settings = dataclasses.replace(
        settings,
        changes=(),
        simulator=simulator,
        drift_threshold=0.3,
        policy=dataclasses.replace(settings.policy, cooldown_weeks=0),
    )
    run_scenario(history, "mlops", settings)
    return "mlops"


def check(store: Store, workspace: str, exercise_id: str) -> CheckResult:
    result = run_check(store, workspace, exercise_id)
    assert isinstance(result, CheckResult) and result.evidence
    return result


# -- the catalogue -------------------------------------------------------------------------------
def test_at_least_five_exercises_each_with_a_command_a_control_room_path_and_a_check() -> None:
    assert len(EXERCISES) >= 5
    assert len({e.id for e in EXERCISES}) == len(EXERCISES)
    for exercise in EXERCISES:
        commands = exercise.commands("seat-01")
        assert any(c.startswith("opslab --workspace seat-01") for c in commands), exercise.id
        assert not any("{ws}" in c for c in commands)
        assert exercise.control_steps("seat-01") and all("{ws}" not in c for c in exercise.control_steps("x"))
        assert callable(exercise.check) and exercise.goal and exercise.watch


def test_get_exercise_names_the_known_ones_when_asked_for_an_unknown_one() -> None:
    assert get_exercise("break_the_build").title == "Break the build"
    with pytest.raises(KeyError, match="break_the_build"):
        get_exercise("juggle")


def test_no_history_file_and_an_empty_workspace_are_not_yet(
    tmp_path: Path, history: Store, devops: str
) -> None:
    missing = Store(tmp_path / "nothing.duckdb")
    for exercise in EXERCISES:
        assert not run_check(missing, "seat-01", exercise.id).passed
        assert not check(history, "nobody", exercise.id).passed


# -- each check, passing and failing -------------------------------------------------------------
def test_break_the_build_names_the_run_and_its_failing_tests(history: Store, devops: str, mlops: str) -> None:
    passed = check(history, devops, "break_the_build")
    assert passed.passed
    assert "failed at test with 2 failing tests" in passed.evidence
    assert "test_hour_24_is_midnight" in passed.evidence
    assert "hr=24" in passed.evidence  # the change's own message, from the run's label
    assert not check(history, mlops, "break_the_build").passed


def test_escaped_bug_names_the_incident_the_change_and_the_rollback(
    scenario_db: Path, history: Store, devops: str, mlops: str
) -> None:
    passed = check(Store(scenario_db), "demo", "escaped_bug")
    assert passed.passed
    assert "windchill-feature" in passed.evidence and "rolled back to" in passed.evidence
    assert "error-rate alarm" in passed.evidence
    for workspace in (devops, mlops):
        not_yet = check(history, workspace, "escaped_bug")
        assert not not_yet.passed and "No incident" in not_yet.evidence


def test_concept_drift_needs_the_injection_and_a_retrain_after_it(
    history: Store, devops: str, mlops: str
) -> None:
    passed = check(history, mlops, "concept_drift")
    assert passed.passed, passed.evidence
    assert "concept/sudden injection on hr" in passed.evidence
    assert "retrained on performance" in passed.evidence
    assert "no concept/sudden drift injection" in check(history, devops, "concept_drift").evidence


def test_concept_drift_without_a_retrain_is_not_yet(
    history: Store, devops: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The injection is there but the policy never retrains: the check says so."""
    settings = {
        "name": "calm-seas",
        "data": "simulated",
        "policy": {"kind": "never"},
        "simulator": {"start": "2011-01-01", "injections": [{"type": "concept", "pattern": "sudden",
                                                             "onset_week": 9, "feature": "hr"}]},
    }  # fmt: skip
    monkeypatch.setattr(exercises, "_settings", lambda store, workspace: settings)
    result = check(history, devops, "concept_drift")
    assert not result.passed
    assert "no retrain triggered by performance or drift" in result.evidence and "never" in result.evidence


def test_retraining_off_compares_with_a_workspace_that_retrains(
    history: Store, devops: str, mlops: str
) -> None:
    passed = check(history, devops, "retraining_off")
    assert passed.passed, passed.evidence
    assert "1 model version" in passed.evidence and "equals the never-retrained" in passed.evidence
    assert "Compare workspace mlops (policy performance)" in passed.evidence
    not_yet = check(history, mlops, "retraining_off")
    assert not not_yet.passed and "policy performance" in not_yet.evidence


def test_retraining_off_on_a_preset_that_never_retrains_anyway_is_not_yet(
    history: Store, devops: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        exercises, "_settings", lambda store, ws: {"name": "bad-friday-deploy", "policy": {"kind": "never"}}
    )
    result = check(history, devops, "retraining_off")
    assert not result.passed and "never retrains anyway" in result.evidence


def test_drift_threshold_counts_fewer_alarms_than_the_default(
    history: Store, devops: str, mlops: str
) -> None:
    passed = check(history, mlops, "drift_threshold")
    assert passed.passed, passed.evidence
    assert "drift threshold 0.3 (preset default 0.1)" in passed.evidence and "fewer alarms" in passed.evidence
    not_yet = check(history, devops, "drift_threshold")
    assert not not_yet.passed and "the preset's default" in not_yet.evidence


def test_validation_check_quotes_the_validate_error(history: Store, devops: str, mlops: str) -> None:
    passed = check(history, mlops, "silent_data_bug")
    assert passed.passed
    assert "stopped at validate" in passed.evidence and "temp" in passed.evidence
    assert not check(history, devops, "silent_data_bug").passed


# -- the History page's schema queries -----------------------------------------------------------
def test_schema_lists_every_table_with_its_columns_and_counts_rows_per_workspace(
    history: Store, devops: str
) -> None:
    columns = table_columns(history)
    assert list(dict.fromkeys(columns["table"])) == list(TABLES)
    runs = columns[columns["table"] == "runs"]
    assert runs["column"].iloc[0] == "run_id" and "VARCHAR" in set(runs["type"])
    frame = table_row_counts(history, devops)
    counts = dict(zip(frame["table"], frame["rows"], strict=True))
    assert set(counts) == set(TABLES)
    assert counts["workspaces"] == 1 and counts["runs"] > 0 and counts["model_versions"] == 1
    assert table_row_counts(history, "nobody")["rows"].sum() == 0
