"""A play's story comes from its history and recorded settings; event promises compare before and after."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from pipelines.scenario.engine import run_scenario
from pipelines.scenario.outcomes import (
    PlayedHistory,
    ScenarioEvent,
    check_promises,
    compare_event_facts,
    describe_outcomes,
    differences_from_preset,
    scenario_events,
    week_of,
)
from pipelines.scenario.presets import PRESETS
from pipelines.scenario.settings import Expectation, settings_dict
from pipelines.scenario.summary import check_expectations, summarize, tell_story
from pipelines.store import Store

ENDS = pd.Series(pd.date_range("2011-03-07", periods=6, freq="7D"))  # weeks 1..6 end on these Mondays


def _history(
    temp_score: list[float], *, quality=None, never=None, runs=None, incidents=None
) -> PlayedHistory:
    n = len(temp_score)
    temp_drifted = [score > 0.1 for score in temp_score]  # the rule's own threshold
    weeks = pd.DataFrame(
        {
            "week": range(1, n + 1),
            "sim_time": ENDS[:n],
            "quality": quality if quality is not None else [10.0] * n,
            "quality_never_retrained": never if never is not None else [10.0] * n,
            "quality_metric": "mae",
            "dataset_drift": temp_drifted,
        }
    )
    drift = pd.DataFrame({"week": range(1, n + 1), "feature": "temp", "drifted": temp_drifted,
                          "statistic": temp_score})  # fmt: skip
    empty_runs = pd.DataFrame(columns=["kind", "trigger", "status", "sim_time", "failed_step"])
    empty_incidents = pd.DataFrame(
        columns=["kind", "opened_sim_time", "resolved_sim_time", "detected_by", "rolled_back"]
    )
    deployments = pd.DataFrame(
        {
            "kind": ["release"],
            "ref": ["abc"],
            "sim_time": [ENDS[0]],
            "unplanned": [False],
            "rolled_back": [False],
        }
    )
    return PlayedHistory(
        weeks=weeks,
        runs=runs if runs is not None else empty_runs,
        deployments=deployments,
        incidents=incidents if incidents is not None else empty_incidents,
        feature_drift=drift,
        datasets=("simulated",),
    )


TEMP_PROMISE = Expectation(
    "temp_drift_score_ratio_after_upstream_change", ">=", 3, "drift on temp flags the bug"
)
FAHRENHEIT_WEEK_4 = ScenarioEvent("upstream", "temp", "temp arrives in Fahrenheit", 4)


def _judge(history: PlayedHistory, events: list[ScenarioEvent], promise: Expectation = TEMP_PROMISE):
    comparisons = compare_event_facts(history, events)
    facts = {key: c.change for key, c in comparisons.items()}
    (check,) = check_promises([promise], facts, comparisons)
    return check


def test_week_of_places_a_moment_in_the_week_that_ends_on_or_after_it() -> None:
    assert week_of(ENDS, "2011-02-28") == 0  # the clock's start: set-up, before week 1
    assert week_of(ENDS, "2011-03-01 10:00") == 1
    assert week_of(ENDS, "2011-03-07") == 1  # a decision at a week's end belongs to that week
    assert week_of(ENDS, "2011-03-07 00:01") == 2
    assert week_of(ENDS, "2011-05-01") == 7  # after the play ended


def test_a_drift_flagged_every_week_does_not_keep_an_event_promise() -> None:
    # Flagged in all six weeks, three of them before the bug: the score did not move at the bug.
    check = _judge(_history([1.5, 2.0, 1.0, 1.6, 1.4, 2.0]), [FAHRENHEIT_WEEK_4])
    assert not check.held and check.value == pytest.approx(5 / 4.5)
    assert ("The mean weekly drift score of temp: 1.67 over the 3 weeks from week 4 on, 1.5 over the 3 weeks before: "
            "1.1 times as high, where at least 3 was promised") in check.reason  # fmt: skip


def test_a_drift_score_that_jumps_at_the_event_keeps_it() -> None:
    check = _judge(_history([1.0, 2.0, 1.5, 12.0, 14.0, 13.0]), [FAHRENHEIT_WEEK_4])
    assert check.held and check.value == pytest.approx(13 / 1.5)
    assert (
        "13 over the 3 weeks from week 4 on, 1.5 over the 3 weeks before: 8.7 times as high, as promised"
        in (check.reason)
    )


def test_an_event_promise_with_no_event_in_the_play_is_not_kept_and_says_why() -> None:
    check = _judge(_history([1.0] * 6), [])
    assert not check.held and check.value is None
    assert "no upstream change to temp" in check.reason
    late = dataclasses.replace(FAHRENHEIT_WEEK_4, week=None)
    assert "after the play's last week" in _judge(_history([1.0] * 6), [late]).reason
    first = _judge(_history([12.0] * 6), [dataclasses.replace(FAHRENHEIT_WEEK_4, week=1)])
    assert not first.held and "no week before it to compare (nothing to tell a rise by)" in first.reason


def test_retraining_gain_after_a_shock_is_measured_against_the_weeks_before() -> None:
    shock = ScenarioEvent("injection", "hr", "sudden concept drift on hr", 4, "concept")
    promise = Expectation("retraining_gain_after_shock", ">", 0, "production recovers")
    # Retraining helped as much before the shock as after it: the shock did not make it pay.
    same = _history([1.0] * 6, quality=[10.0] * 6, never=[12.0] * 6)
    assert not _judge(same, [shock], promise).held
    recovered = _history([1.0] * 6, quality=[10.0] * 6, never=[10.0, 10.0, 10.0, 30.0, 40.0, 40.0])
    check = _judge(recovered, [shock], promise)
    assert check.held and check.value == pytest.approx(80 / 3)
    assert (
        "MAE saved a week by retraining: 26.7 over the 3 weeks from week 4 on, 0 over the 3 weeks before"
        in (check.reason)
    )
    # A shock in the first week has no week before it: the gain is judged against none.
    first = _judge(recovered, [dataclasses.replace(shock, week=1)], promise)
    assert first.held and "no week before it to compare (judged against 0)" in first.reason


def test_a_promise_not_kept_says_so_with_the_plays_number() -> None:
    promise = Expectation("service_incidents", ">=", 1, "the escaped bug opens an incident")
    (check,) = check_promises([promise], {"service_incidents": 0}, {})
    assert not check.held
    assert check.reason == "Expected at least 1 incident in production; the play had 0 (not as promised)."
    rate = Expectation("change_failure_rate", ">", 0, "change failure rate moves above zero")
    (check,) = check_promises([rate], {"change_failure_rate": 20.0}, {})
    assert (
        check.held
        and check.reason == "Expected more than 0% change failure rate; the play had 20% (as promised)."
    )


def test_outcomes_come_from_the_history() -> None:
    runs = pd.DataFrame(
        {
            "kind": ["mlops", "devops", "mlops", "mlops", "devops"],
            "trigger": ["initial", "commit", "drift", "schedule", "commit"],
            "status": ["succeeded", "failed", "succeeded", "failed", "succeeded"],
            "sim_time": pd.to_datetime(
                ["2011-02-28", "2011-03-09", "2011-03-14", "2011-03-28", "2011-04-02"]
            ),
            "failed_step": [None, "test", None, "validate", None],
        }
    )
    incidents = pd.DataFrame(
        {
            "kind": ["service"],
            "opened_sim_time": pd.to_datetime(["2011-03-25 16:00"]),
            "resolved_sim_time": pd.to_datetime(["2011-03-26 04:00"]),
            "detected_by": ["error_rate alarm"],
            "rolled_back": [True],
        }
    )
    history = _history([1.0] * 6, quality=[10.0] * 6, never=[10, 11, 12, 13, 14, 15.0], runs=runs,
                       incidents=incidents)  # fmt: skip
    text = {o.topic: o.text for o in describe_outcomes(history)}
    assert text["failed pipelines"] == "1 bug caught by tests (week 2), never deployed."
    assert text["incidents"].startswith("1 change escaped to production: incident in week 4 (error_rate alarm), "
                                         "recovered in 12 hours by rollback")  # fmt: skip
    # Retrains are the succeeded ones, as the retraining-frequency key counts them.
    assert text["retrains"].startswith("1 retrain: 1 on drift; 1 more stopped at validate (week 4)")
    assert text["retraining saved"].startswith("Retraining saved 2.5 MAE a week on average")


def test_a_rollback_within_seconds_reads_in_seconds() -> None:
    incidents = pd.DataFrame(
        {
            "kind": ["service"],
            "opened_sim_time": pd.to_datetime(["2011-03-25 16:00:00"]),
            "resolved_sim_time": pd.to_datetime(["2011-03-25 16:00:02.5"]),
            "detected_by": ["error-rate alarm"],
            "rolled_back": [True],
        }
    )
    text = {o.topic: o.text for o in describe_outcomes(_history([1.0] * 6, incidents=incidents))}
    assert "recovered in 2.5 s by rollback" in text["incidents"]


def test_differences_from_the_preset_name_what_the_play_changed() -> None:
    preset = PRESETS["bad-friday-deploy"].with_weeks(7)
    played = dataclasses.replace(preset, seed=3, policy=dataclasses.replace(preset.policy, kind="schedule"))
    assert differences_from_preset(settings_dict(preset), settings_dict(preset)) == []
    assert differences_from_preset(settings_dict(played), settings_dict(preset)) == [
        "policy.kind is schedule (the preset: never)"
    ]  # another seed is another draw of the same story, not a different one
    upload = dataclasses.replace(preset, data="/tmp/rides.csv", time_column="when", target="rides")
    assert differences_from_preset(settings_dict(upload), settings_dict(preset)) == [
        "data is /tmp/rides.csv (the preset: simulated)",
        "target is rides (the preset: none)",
        "time_column is when (the preset: none)",
    ]


def test_a_workspace_without_a_played_scenario_claims_no_preset(store: Store) -> None:
    store.ensure_workspace("calm-seas")  # named like a preset, but nothing was played from it
    story = tell_story(store, "calm-seas")
    assert story is not None and story.preset is None and story.promises == ()
    assert story.scenario == "no scenario" and story.weeks == 0
    assert tell_story(store, "nobody") is None


def test_events_are_read_from_the_recorded_settings_and_placed_in_scenario_weeks() -> None:
    settings = settings_dict(PRESETS["silent-data-bug"])  # Fahrenheit from simulator week 28
    ends = pd.Series(pd.date_range("2011-03-07", periods=30, freq="7D"))
    (event,) = scenario_events(settings, ends, ["simulated"])
    assert (event.kind, event.column, event.week) == ("upstream", "temp", 20)  # 2011-07-16 falls in week 20
    assert scenario_events(settings, ends[:10], ["simulated"])[0].week is None  # the play ended before it
    assert scenario_events({**settings, "data": "my.csv"}, ends, ["my.csv"]) == []  # real data: no injection


@pytest.mark.slow
def test_silent_data_bug_does_not_keep_its_temp_promise_without_the_fahrenheit_change(tmp_path: Path) -> None:
    preset = PRESETS["silent-data-bug"].with_weeks(16)
    settings = dataclasses.replace(
        preset, changes=(), simulator=dataclasses.replace(preset.simulator, upstream_changes=())
    )
    store = Store(tmp_path / "no-bug.duckdb")
    run_scenario(store, "demo", settings)
    held = {says: ok for says, ok, _ in check_expectations(settings, summarize(store, "demo"))}
    assert held["drift on temp flags the bug"] is False
    story = tell_story(store, "demo")
    assert story is not None and not story.follows_preset
    assert any("upstream_changes is none" in d for d in story.differences)
    (temp,) = [p for p in story.promises if p.says == "drift on temp flags the bug"]
    assert not temp.held and "no upstream change to temp" in temp.reason


def test_a_promise_reason_rounds_the_plays_number() -> None:
    gain = Expectation("retraining_gain", ">", 0, "retrained models beat the never-retrained one")
    (check,) = check_promises([gain], {"retraining_gain": 49.50161234}, {})
    assert check.held and "the play had 49.5 (as promised)" in check.reason
