"""Presenter mode's steps come from the workspace's rows: each annotation's numbers against an
independent query of those rows (the suite's short played history, `scenario_db`), and each kind of
moment on tiny hand-made histories, including the ones a play did not have."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.keys import format_duration
from pipelines.scenario.outcomes import PlayedHistory
from pipelines.scenario.steps import STEP_KEYS, read_story_steps, story_steps
from pipelines.store import Store


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _week(db: Path, moment: object) -> int:
    """The week a moment falls in, counted from the weekly rows: the first week ending at or after it."""
    return _rows(
        db, f"SELECT min(week) FROM weekly WHERE workspace = 'demo' AND sim_time >= TIMESTAMP '{moment}'"
    )[0][0]


@pytest.fixture(scope="module")
def played(scenario_db: Path) -> list:
    return read_story_steps(Store(scenario_db), "demo")


def test_a_played_history_has_the_steps_its_rows_hold_in_order(scenario_db: Path, played: list) -> None:
    caught = _rows(scenario_db, """SELECT count(*) FROM runs r JOIN steps s USING (run_id) WHERE r.workspace = 'demo'
                                   AND r.kind = 'devops' AND s.name = 'test' AND s.status = 'failed'""")[0][0]  # fmt: skip
    incidents = _rows(
        scenario_db, "SELECT count(*) FROM incidents WHERE workspace = 'demo' AND kind = 'service'"
    )
    retrains = _rows(scenario_db, """SELECT count(*) FROM runs WHERE workspace = 'demo' AND kind = 'mlops'
                                     AND trigger <> 'initial' AND status = 'succeeded'""")[0][0]  # fmt: skip
    gap = _rows(scenario_db, """SELECT count(*) FROM weekly WHERE workspace = 'demo'
                                AND quality <> quality_never_retrained""")[0][0]  # fmt: skip
    expected = ["play"] + ["caught-bug"] * bool(caught) + ["escaped-bug"] * bool(incidents[0][0])
    expected += ["retrain"] * bool(retrains) + ["gap"] * bool(gap)
    assert [s.key for s in played] == expected
    assert "escaped-bug" in expected and "retrain" in expected  # this history has both: the test can fail
    assert [k for k in STEP_KEYS if k in expected] == expected
    first, last = _rows(
        scenario_db, "SELECT min(sim_time), max(sim_time) FROM weekly WHERE workspace = 'demo'"
    )[0]
    for step in played:
        assert first - pd.Timedelta(weeks=1) <= step.start < step.end <= last
        assert step.at is None or step.start <= step.at <= step.end


def test_the_play_step_counts_the_weeks_and_releases(scenario_db: Path, played: list) -> None:
    weeks = _rows(scenario_db, "SELECT count(*) FROM weekly WHERE workspace = 'demo'")[0][0]
    releases = _rows(scenario_db, """SELECT count(*) FROM deployments WHERE workspace = 'demo'
                                     AND kind = 'release' AND NOT unplanned""")[0][0]  # fmt: skip
    play = played[0]
    assert play.facts["weeks"] == weeks and play.facts["releases"] == releases
    assert play.annotation.startswith(f"{weeks} scenario weeks")
    assert f"{releases} releases reached production" in play.annotation


def test_the_escaped_bug_step_names_the_release_the_rollback_and_how_long(
    scenario_db: Path, played: list
) -> None:
    ((cause, opened, resolved, back, label),) = _rows(scenario_db, """
        SELECT i.cause, i.opened_sim_time, i.resolved_sim_time, d.ref, r.label FROM incidents i
        JOIN deployments d ON d.deployment_id = i.rollback_deployment_id
        JOIN deployments c ON c.deployment_id = i.cause_deployment_id JOIN runs r ON r.run_id = c.run_id
        WHERE i.workspace = 'demo' AND i.kind = 'service' ORDER BY i.opened_sim_time LIMIT 1""")  # fmt: skip
    (step,) = [s for s in played if s.key == "escaped-bug"]
    lasted = format_duration((resolved - opened) / pd.Timedelta(days=1))
    assert f"Release {cause} (“{label}”) passed its tests" in step.annotation
    assert f"rolled back to release {back}; the incident lasted {lasted}." in step.annotation
    assert f"in week {_week(scenario_db, opened)}." in step.annotation
    assert step.at == pd.Timestamp(opened) and step.lane == "devops"
    assert step.facts["release"] == cause and step.facts["rollback_to"] == back


def test_the_retrain_step_names_the_version_trigger_and_gate(scenario_db: Path, played: list) -> None:
    ((run_id, trigger, at, version, reason),) = _rows(scenario_db, """
        SELECT r.run_id, r.trigger, r.sim_time, m.version, w.retrain_reason FROM runs r
        JOIN model_versions m ON m.run_id = r.run_id
        JOIN weekly w ON w.workspace = r.workspace AND w.sim_time = r.sim_time
        WHERE r.workspace = 'demo' AND r.kind = 'mlops' AND r.trigger <> 'initial' AND r.status = 'succeeded'
        ORDER BY r.trigger = 'drift' DESC, r.sim_time LIMIT 1""")  # fmt: skip
    deployed = _rows(
        scenario_db, f"SELECT count(*) FROM deployments WHERE kind = 'model' AND run_id = '{run_id}'"
    )
    (step,) = [s for s in played if s.key == "retrain"]
    assert step.annotation.startswith(f"Week {_week(scenario_db, at)}, ")
    assert f"retrained on {trigger} ({reason})." in step.annotation
    verdict = "promoted it to production" if deployed[0][0] else "kept the champion"
    assert f"trained model v{version} and the gate {verdict}" in step.annotation
    assert step.facts["version"] == version and step.facts["trigger"] == trigger and step.lane == "mlops"


# -- each moment on a hand-made history ---------------------------------------------------------
ENDS = pd.Series(pd.date_range("2011-03-07", periods=6, freq="7D"))


def _history(quality: list[float], never: list[float]) -> PlayedHistory:
    n = len(quality)
    weeks = pd.DataFrame({"week": range(1, n + 1), "sim_time": ENDS[:n], "quality": quality,
                          "quality_never_retrained": never, "quality_metric": "mae", "dataset_drift": False})  # fmt: skip
    return PlayedHistory(
        weeks=weeks,
        runs=pd.DataFrame(columns=["kind", "trigger", "status", "sim_time", "failed_step"]),
        deployments=pd.DataFrame(
            {
                "kind": ["release"],
                "ref": ["a1"],
                "sim_time": [ENDS[0]],
                "unplanned": [False],
                "rolled_back": [False],
            }
        ),
        incidents=pd.DataFrame(
            columns=["kind", "opened_sim_time", "resolved_sim_time", "detected_by", "rolled_back"]
        ),
        feature_drift=pd.DataFrame(
            {
                "week": [3, 3, 3],
                "feature": ["temp", "hum", "mnth"],
                "drifted": [True, False, True],
                "statistic": [0.3, 0.01, 0.5],
            }
        ),
    )


def _moments(**frames: pd.DataFrame) -> dict[str, pd.DataFrame]:
    empty = {
        "caught": ["run_id", "sim_time", "label", "failing_count", "failing"],
        "trainings": ["run_id", "trigger", "status", "sim_time", "version", "gate_decision", "gate_reason", "deployed"],
        "incidents": ["kind", "opened_sim_time", "resolved_sim_time", "cause", "detected_by", "summary",
                      "cause_sim_time", "cause_label", "rollback_ref", "rollback_sim_time"],
        "releases": ["ref", "sim_time", "label", "unplanned"],
        "decisions": ["week", "sim_time", "retrain_decision", "retrain_reason", "drift_share"],
    }  # fmt: skip
    return {name: frames.get(name, pd.DataFrame(columns=columns)) for name, columns in empty.items()}


def test_a_calm_play_has_only_the_play_step() -> None:
    steps = story_steps(_history([10.0] * 4, [10.0] * 4), _moments())
    assert [s.key for s in steps] == ["play"]


def test_nothing_played_has_no_step() -> None:
    assert story_steps(_history([], []), _moments()) == []


def test_the_caught_bug_names_its_tests_and_what_stayed_in_production() -> None:
    caught = pd.DataFrame({"run_id": ["r9"], "sim_time": [ENDS[2] - pd.Timedelta(days=2)], "label": ["bug-caught: hr 24"],
                           "failing_count": [2], "failing": [["tests.test_a::test_one", "tests.test_b::test_two"]]})  # fmt: skip
    releases = pd.DataFrame({"ref": ["a1", "z0", "b2"], "sim_time": [ENDS[0], ENDS[1], ENDS[3]],
                             "label": ["initial", None, "later"], "unplanned": [False, True, False]})  # fmt: skip
    (step,) = [s for s in story_steps(_history([1.0] * 5, [1.0] * 5), _moments(caught=caught, releases=releases))
               if s.key == "caught-bug"]  # fmt: skip
    assert step.annotation.startswith("Week 3, ")
    assert (
        "“bug-caught: hr 24” stopped at its test step with 2 failing tests (test_one, test_two)"
        in step.annotation
    )
    assert "production stayed on release z0." in step.annotation  # the rollback to z0 served; b2 came later
    assert step.marker == "stopped at test: 2 failing tests"


def test_the_first_retrain_on_drift_is_told_before_an_earlier_scheduled_one() -> None:
    trainings = pd.DataFrame({
        "run_id": ["i", "s", "d"], "trigger": ["initial", "schedule", "drift"], "status": "succeeded",
        "sim_time": [ENDS[0] - pd.Timedelta(weeks=1), ENDS[1], ENDS[2]], "version": [1, 2, 3],
        "gate_decision": ["promote", "keep", "promote"],
        "gate_reason": ["first", "keep the champion: challenger mae 9 vs champion 8",
                        "promote: challenger mae 7 vs champion 8 (needs ≤ 7.84, margin 2%)"],
        "deployed": [True, False, True],
    })  # fmt: skip
    decisions = pd.DataFrame({"week": [3], "sim_time": [ENDS[2]], "retrain_decision": ["retrain"],
                              "retrain_reason": ["dataset drift (67% of features) for 1 week(s)"], "drift_share": [0.67]})  # fmt: skip
    (step,) = [s for s in story_steps(_history([1.0] * 5, [1.0] * 5), _moments(trainings=trainings, decisions=decisions))
               if s.key == "retrain"]  # fmt: skip
    assert step.title == "The first retrain on drift"
    assert step.annotation.startswith("Week 3, Mon 21 Mar 2011: the retraining policy retrained on drift "
                                      "(dataset drift (67% of features) for 1 week(s)).")  # fmt: skip
    assert "Drifting that week: temp." in step.annotation  # mnth is a calendar column, hum did not drift
    assert (
        "trained model v3 and the gate promoted it to production: challenger mae 7 vs champion 8"
        in step.annotation
    )


def test_the_gap_is_the_widest_week_and_the_mean_in_the_metrics_units() -> None:
    steps = story_steps(_history([10.0, 8.0, 6.0], [10.0, 12.0, 15.0]), _moments())
    (step,) = [s for s in steps if s.key == "gap"]
    # gains 0, 4, 9: widest in week 3; mean 13/3 = 4.333 MAE, of a never-retrained mean 37/3 = 12.33: 35%
    assert step.annotation.startswith(
        "Week 3: the production model's MAE was 6 against 15 for the first model"
    )
    assert "retraining saved 9 MAE that week (lower is better)" in step.annotation
    assert (
        "Over the 3 weeks whose labels arrived it saved 4.333 MAE a week on average, 35% of"
        in step.annotation
    )
    assert step.facts["gap"] == pytest.approx(9.0) and step.facts["mean_gap"] == pytest.approx(13 / 3)
    assert step.at == ENDS[2] and step.start == ENDS[0] - pd.Timedelta(weeks=1)


def test_an_escaped_bug_without_rollback_is_told_still_open() -> None:
    incidents = pd.DataFrame({
        "kind": ["model", "service"], "opened_sim_time": [ENDS[1], ENDS[3]], "resolved_sim_time": [ENDS[2], None],
        "cause": ["v2", "b2"], "detected_by": ["quality alarm", "latency alarm"], "summary": ["mae up", "p95 800 ms"],
        "cause_sim_time": [ENDS[1], ENDS[3] - pd.Timedelta(hours=5)], "cause_label": [None, "perf: slow"],
        "rollback_ref": [None, None], "rollback_sim_time": [None, None],
    })  # fmt: skip
    (step,) = [s for s in story_steps(_history([1.0] * 5, [1.0] * 5), _moments(incidents=incidents))
               if s.key == "escaped-bug"]  # fmt: skip
    # the service incident, not the model's
    assert step.annotation.startswith("Release b2 (“perf: slow”) passed its tests")
    assert "the latency alarm opened an incident: p95 800 ms. The incident is still open." in step.annotation
    assert step.facts["rollback_to"] is None and step.marker == "incident: release b2"
