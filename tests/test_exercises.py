"""The Learn page's exercise checks: nothing passes before Start, and each exercise's wrong answer,
played after its Start, fails while its right answer passes.

Three small workspaces share one file (played once per module). In each, every exercise is started
first, then one play is the right answer to some exercises and the wrong one to the others:
- `devops`: calm-seas in 2 weeks with retraining off; a wind-chill release escapes its tests and
  is rolled back (right for 2), then a change whose own tests fail is stopped at test (right for 1);
  one model version all along (right for 4); the preset's drift threshold, clean data (wrong for 5, 6).
- `mlops`: calm-seas in 6 weeks, no releases; sudden concept drift on `hr`, then an upstream switch to
  Fahrenheit; the quality policy retrains (right for 3) and validation refuses the broken data
  (right for 6); threshold 0.3 (right for 5); no failed build, no incident, retraining on (wrong for 1, 2, 4).
- `drift-retrain`: the same concept drift with retraining off, then a retrain triggered by drift by
  hand (`opslab mlops run --trigger drift`): the wrong answer to 3, which once passed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from pipelines import exercises
from pipelines.cli import main as opslab
from pipelines.exercises import (
    EXERCISES,
    CheckResult,
    get_exercise,
    learner_workspace,
    run_check,
    start_exercise,
    started,
)
from pipelines.mlops.simulator import DriftInjection, UpstreamChange
from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import get_preset
from pipelines.scenario.settings import ChangeAt, ScenarioSettings
from pipelines.store import Store
from pipelines.store.exercise_sql import (
    exercise_start,
    record_exercise_start,
    runs_since,
    table_columns,
    table_row_counts,
)
from pipelines.store.schema import TABLES

CONCEPT_ON_HR = DriftInjection("concept", "sudden", onset_week=9, magnitude=1.0, feature="hr")


def start_all(store: Store, workspace: str) -> None:
    for exercise in EXERCISES:
        assert start_exercise(store, workspace, exercise.id).workspace == workspace


def copy_history(source: Path, target_dir: Path) -> Store:
    """A private copy of a played history (the DuckDB file only: checks read, they run nothing)."""
    target = target_dir / source.name
    for suffix in ("", ".wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return Store(target)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("exercises") / "opslab.duckdb")


@pytest.fixture(scope="module")
def devops(history: Store) -> str:
    settings = get_preset("calm-seas").with_weeks(2)
    settings = dataclasses.replace(
        settings,
        changes=(ChangeAt("windchill-feature", 1), ChangeAt("hour-24-midnight", 2)),
        policy=dataclasses.replace(settings.policy, kind="never"),
    )
    start_all(history, "devops")
    run_scenario(history, "devops", settings)
    return "devops"


def concept_drift_settings(weeks: int) -> ScenarioSettings:
    settings = get_preset("calm-seas").with_weeks(weeks)
    return dataclasses.replace(
        settings, changes=(), simulator=dataclasses.replace(settings.simulator, injections=(CONCEPT_ON_HR,))
    )


@pytest.fixture(scope="module")
def mlops(history: Store) -> str:
    settings = concept_drift_settings(6)
    settings = dataclasses.replace(
        settings,
        simulator=dataclasses.replace(
            settings.simulator, upstream_changes=(UpstreamChange("fahrenheit", "temp", onset_week=11),)
        ),
        drift_threshold=0.3,
        policy=dataclasses.replace(settings.policy, cooldown_weeks=0),
    )
    start_all(history, "mlops")
    run_scenario(history, "mlops", settings)
    return "mlops"


@pytest.fixture(scope="module")
def drift_retrain(history: Store) -> tuple[str, CheckResult]:
    """The concept drift played with retraining off, then a retrain by hand whose trigger is drift;
    with the concept check's verdict before that retrain."""
    settings = concept_drift_settings(1)
    settings = dataclasses.replace(settings, policy=dataclasses.replace(settings.policy, kind="never"))
    start_all(history, "drift-retrain")
    run_scenario(history, "drift-retrain", settings)
    before = run_check(history, "drift-retrain", "concept_drift")
    argv = ["--db", str(history.path), "--workspace", "drift-retrain", "mlops", "run", "--data", "workspace"]
    assert opslab([*argv, "--trigger", "drift"]) == 0
    return "drift-retrain", before


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


def test_the_learner_works_in_their_own_workspace_never_in_demo() -> None:
    assert learner_workspace("demo", "break_the_build") == "learn-break-the-build"
    assert learner_workspace("learn-break-the-build", "escaped_bug") == "learn-escaped-bug"
    assert learner_workspace("seat-07", "escaped_bug") == "seat-07"


# -- Start ---------------------------------------------------------------------------------------
def test_no_history_file_and_an_unstarted_workspace_say_press_start_first(
    tmp_path: Path, history: Store, devops: str
) -> None:
    missing = Store(tmp_path / "nothing.duckdb")
    for exercise in EXERCISES:
        assert started(missing, "seat-01", exercise.id) is None
        for verdict in (run_check(missing, "seat-01", exercise.id), check(history, "nobody", exercise.id)):
            assert not verdict.passed and verdict.evidence.startswith("Press Start first")
    assert not missing.exists()  # a check writes nothing


def test_in_the_played_demo_nothing_passes_before_start_or_right_after_it(
    scenario_db: Path, tmp_path: Path
) -> None:
    """The bad-friday-deploy history has an escaped bug and its rollback: that is not the learner's."""
    store = copy_history(scenario_db, tmp_path)
    demo_rows = table_row_counts(store, "demo")
    for exercise in EXERCISES:
        before = check(store, "demo", exercise.id)
        assert not before.passed and "Press Start first" in before.evidence, exercise.id
        begun = start_exercise(store, "demo", exercise.id)
        assert begun.workspace == learner_workspace("demo", exercise.id) != "demo"
        assert store.workspace_info(begun.workspace) is not None  # Start made the learner's workspace
        after = check(store, begun.workspace, exercise.id)
        assert not after.passed, (exercise.id, after.evidence)
        assert started(store, "demo", exercise.id) is None
    assert table_row_counts(store, "demo").equals(demo_rows)  # demo untouched


def test_starting_again_forgets_what_came_before(
    history: Store, devops: str, mlops: str, tmp_path: Path
) -> None:
    """Every exercise passes in one of the played workspaces; Start again there and it fails at once."""
    store = copy_history(history.path, tmp_path)
    passing = {(ws, e.id) for ws in (devops, mlops) for e in EXERCISES if check(store, ws, e.id).passed}
    assert {exercise_id for _, exercise_id in passing} == {e.id for e in EXERCISES}
    for workspace, exercise_id in sorted(passing):
        first = started(store, workspace, exercise_id)
        again = start_exercise(store, workspace, exercise_id)
        assert first is not None and again.started_at > first.started_at
        verdict = check(store, workspace, exercise_id)
        assert not verdict.passed, (workspace, exercise_id, verdict.evidence)


def test_a_start_counts_nothing_already_there_even_in_the_same_clock_tick(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = store.start_run(workspace="seat-01", kind="devops", trigger="commit", sim_time=None)
    there = store.run(run_id)
    assert there is not None
    monkeypatch.setattr("pipelines.store.exercise_sql.now_utc", lambda: there["started_at"].to_pydatetime())
    begun = record_exercise_start(store, "seat-01", "break_the_build")
    assert begun.seen_until == begun.started_at == there["started_at"]
    assert runs_since(store, begun).empty
    monkeypatch.undo()
    later = store.start_run(workspace="seat-01", kind="devops", trigger="commit", sim_time=None)
    assert runs_since(store, begun)["run_id"].tolist() == [later]
    store.reset_workspace("seat-01")  # `--replace` empties the workspace, not the exercise's Start
    assert exercise_start(store, "seat-01", "break_the_build") == begun


# -- each exercise: the right answer passes, the wrong one fails -----------------------------------
def test_break_the_build_names_the_run_and_its_failing_tests(history: Store, devops: str, mlops: str) -> None:
    passed = check(history, devops, "break_the_build")
    assert passed.passed
    assert "failed at test with 2 failing tests" in passed.evidence
    assert "test_hour_24_is_midnight" in passed.evidence
    assert "hr=24" in passed.evidence  # the change's own message, from the run's label
    wrong = check(history, mlops, "break_the_build")  # a build whose tests pass
    assert not wrong.passed and "1 DevOps run (1 succeeded)" in wrong.evidence


def test_escaped_bug_names_the_incident_the_change_and_the_rollback(
    history: Store, devops: str, mlops: str
) -> None:
    passed = check(history, devops, "escaped_bug")
    assert passed.passed, passed.evidence
    assert "windchill-feature" in passed.evidence and "rolled back to" in passed.evidence
    assert "error-rate alarm" in passed.evidence
    wrong = check(history, mlops, "escaped_bug")  # a release that stays healthy
    assert not wrong.passed and "has been rolled back" in wrong.evidence


def test_concept_drift_needs_a_retrain_whose_trigger_is_performance(
    history: Store, devops: str, mlops: str, drift_retrain: tuple[str, CheckResult]
) -> None:
    passed = check(history, mlops, "concept_drift")
    assert passed.passed, passed.evidence
    assert "concept/sudden injection on hr" in passed.evidence
    assert "retrained on performance" in passed.evidence
    assert "no concept/sudden drift injection" in check(history, devops, "concept_drift").evidence
    workspace, before_the_retrain = drift_retrain
    assert not before_the_retrain.passed
    assert "no retrain triggered by performance" in before_the_retrain.evidence
    assert "never" in before_the_retrain.evidence
    wrong = check(history, workspace, "concept_drift")  # retrained, but on drift
    assert not wrong.passed and "its trigger was drift" in wrong.evidence


def test_retraining_off_compares_with_a_workspace_that_retrains(
    history: Store, devops: str, mlops: str, drift_retrain: tuple[str, CheckResult]
) -> None:
    passed = check(history, devops, "retraining_off")
    assert passed.passed, passed.evidence
    assert "1 model version" in passed.evidence and "equals the never-retrained" in passed.evidence
    assert "Compare workspace mlops (policy performance)" in passed.evidence
    wrong = check(history, mlops, "retraining_off")
    assert not wrong.passed and "policy performance" in wrong.evidence
    retrained_by_hand = check(history, drift_retrain[0], "retraining_off")
    assert not retrained_by_hand.passed and "2 model versions" in retrained_by_hand.evidence


def test_retraining_off_on_a_preset_that_never_retrains_anyway_is_not_yet(
    history: Store, devops: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    played = {"name": "bad-friday-deploy", "policy": {"kind": "never"}}
    monkeypatch.setattr(exercises, "_played_settings", lambda store, start: (played, None))
    result = check(history, devops, "retraining_off")
    assert not result.passed and "never retrains anyway" in result.evidence


def test_drift_threshold_counts_fewer_alarms_than_the_default(
    history: Store, devops: str, mlops: str
) -> None:
    passed = check(history, mlops, "drift_threshold")
    assert passed.passed, passed.evidence
    assert (
        "drift threshold 0.3 (Evidently's default 0.1)" in passed.evidence
        and "fewer alarms" in passed.evidence
    )
    wrong = check(history, devops, "drift_threshold")
    assert not wrong.passed and "set drift_threshold to a fixed value" in wrong.evidence


def test_validation_check_quotes_the_validate_error(history: Store, devops: str, mlops: str) -> None:
    passed = check(history, mlops, "silent_data_bug")
    assert passed.passed
    assert "stopped at validate" in passed.evidence and "temp" in passed.evidence
    wrong = check(history, devops, "silent_data_bug")  # clean data trains
    assert not wrong.passed and "has failed at `validate`" in wrong.evidence


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
