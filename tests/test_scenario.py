"""The scenario engine: every preset tells its story (shortened), determinism, workspaces, Ctrl-C."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.devops.service import running_services
from pipelines.mlops.policy import RetrainPolicy
from pipelines.mlops.training import evaluate_model, load_model
from pipelines.scenario.engine import ScenarioError, load_scenario_data, run_scenario
from pipelines.scenario.presets import PRESETS, WORKSHOP_PRESETS, get_preset
from pipelines.scenario.settings import from_dict, settings_dict
from pipelines.scenario.summary import check_expectations, summarize, tell_story
from pipelines.store import Store, workspace_history
from tests.conftest import scenario_settings

# Each preset told in fewer weeks: the schedule and drift onsets scale with it. The workshop
# presets play whole. `sudden-shock` and `silent-data-bug` told in 20 and 16 weeks are the
# workshop cuts plus a release or two, so their promises are tested through `workshop-shock`
# and `workshop-data-bug` (the same settings, expectations and onsets; fewer server starts).
SHORT_WEEKS = {
    "full-story": 26,
    "calm-seas": 12,
    "seasons-change": 30,
    "bad-friday-deploy": 9,
    **{name: PRESETS[name].weeks for name in WORKSHOP_PRESETS},
}
# The original presets whose promises a workshop cut tests for them.
TESTED_BY_WORKSHOP = {"sudden-shock": "workshop-shock", "silent-data-bug": "workshop-data-bug"}


def _play(tmp_path: Path, name: str, **replace: Any):
    settings = PRESETS[name].with_weeks(SHORT_WEEKS[name])
    if replace:
        settings = dataclasses.replace(settings, **replace)
    store = Store(tmp_path / f"{name}.duckdb")
    result = run_scenario(store, "demo", settings)
    assert [s for s in running_services() if s.is_running()] == []  # no server outlives the scenario
    return store, settings, result


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHORT_WEEKS))
def test_every_preset_keeps_its_promises(tmp_path: Path, name: str, monkeypatch) -> None:
    if name == "seasons-change":  # the real data is not in a user's clone: the stated fallback plays
        monkeypatch.setenv("OPSLAB_DATA_DIR", str(tmp_path / "no-data"))
    store, settings, result = _play(tmp_path, name)
    assert result.status == "succeeded" and result.weeks == settings.weeks
    summary = summarize(store, "demo")
    assert summary["weeks"] == settings.weeks
    failed = [(says, value) for says, held, value in check_expectations(settings, summary) if not held]
    assert failed == []
    if name == "bad-friday-deploy":  # its bad release fails requests: realized quality counts them
        _failed_requests_score_as_failures(store, settings)
    if name == "seasons-change":
        assert result.note and "simulator" in result.note
        # The pages say what was played: the simulator stood in, so this is not the preset's story.
        story = tell_story(store, "demo")
        assert story is not None and not story.follows_preset
        assert any("simulated data instead" in d and "UCI" in d for d in story.differences)


def _failed_requests_score_as_failures(store: Store, settings) -> None:
    """A labelled week whose service returned errors scores worse than its model did on the same rows:
    the rows of failed requests count as forecasts of nothing, not as missing."""
    dataset, _ = load_scenario_data(settings)
    weekly = store.select("weekly", "demo", order_by="week")
    failing = weekly.loc[(weekly["errors"] > 0) & weekly["quality"].notna()]
    assert not failing.empty  # the preset's bad release fails requests in a labelled week
    versions = store.select("model_versions", "demo").set_index("version")
    times = dataset.frame[dataset.time_column]
    for _, week in failing.iterrows():
        end = pd.Timestamp(week["sim_time"])
        batch = dataset.frame.loc[(times > end - pd.Timedelta(weeks=1)) & (times <= end)]
        model = load_model(versions.loc[int(week["model_version"]), "path"])
        answered = evaluate_model(model, batch, task=dataset.task, target=dataset.target)["mae"]
        assert week["quality"] > answered * (1 + 0.5 * week["error_rate"]), week.to_dict()


def test_workshop_presets_are_short_cuts_that_keep_the_promises_they_stand_for() -> None:
    assert len(WORKSHOP_PRESETS) >= 4
    for name in WORKSHOP_PRESETS:
        assert 12 <= PRESETS[name].weeks <= 20, name
    assert set(PRESETS) == set(SHORT_WEEKS) | set(TESTED_BY_WORKSHOP)  # every preset's promises tested
    for original, cut in TESTED_BY_WORKSHOP.items():
        told = PRESETS[original].with_weeks(PRESETS[cut].weeks)
        workshop = PRESETS[cut]
        assert workshop.expectations == told.expectations
        assert (workshop.simulator, workshop.policy) == (told.simulator, told.policy)


def test_presets_have_narratives_and_round_trip_as_data() -> None:
    assert set(SHORT_WEEKS) <= set(PRESETS) and "full-story" in PRESETS
    for preset in PRESETS.values():
        sentences = preset.narrative.count(". ") + 1
        assert 2 <= sentences <= 4, preset.name
        assert preset.expectations
        assert from_dict(json.loads(json.dumps(settings_dict(preset)))) == preset


def _to_the_hour(key: str, value: Any) -> Any:
    """A scenario time to its hour: deploys and recoveries add measured seconds to on-the-hour times
    (a train's departure, a request's time), and those seconds are wall clock."""
    return value[:13] if key.endswith("sim_time") and isinstance(value, str) else value


def _normalised(store: Store) -> dict[str, Any]:
    """The history without what may differ between two plays: ids, wall clock, paths, latencies."""
    history = workspace_history(store, "demo")
    volatile = {
        "run_id",
        "started_at",
        "finished_at",
        "duration_ms",
        "deployed_at",
        "opened_at",
        "resolved_at",
        "created_at",
        "moved_at",
        "deployment_id",
        "incident_id",
        "move_id",
        "replaced_by",
        "cause_deployment_id",
        "rollback_deployment_id",
        "path",
        "pid",
        "host",
        "log_tail",
        "latency_p50_ms",
        "latency_p95_ms",
        "url",
        "cache_hit_from_run",
        "duration_s",
        "slowest",
        "fit_seconds",
        "scenario_run_id",
        "weeks_done",
        "workspace",
    }

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _to_the_hour(k, clean(v)) for k, v in value.items() if k not in volatile}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    for run in history["runs"]:
        for artifact in run["artifacts"]:
            if artifact["kind"] == "junit":  # JUnit XML records test durations and a wall-clock timestamp
                artifact.pop("sha256")
                artifact.pop("size_bytes")
    runs = sorted(clean(history["runs"]), key=lambda r: (r["sim_time"], r["kind"], r["label"] or ""))
    return {**clean({k: v for k, v in history.items() if k != "runs"}), "runs": runs}


@pytest.mark.slow
def test_same_preset_and_seed_give_the_same_history(tmp_path: Path, scenario_db: Path) -> None:
    """The suite's shared play, played again with the same settings, is the same history."""
    store = Store(tmp_path / "again.duckdb")
    run_scenario(store, "demo", scenario_settings())
    a, b = _normalised(Store(scenario_db)), _normalised(store)
    assert len(a["runs"]) > 5 and a["model_versions"] and a["drift"] and a["incidents"]
    for key in a:
        assert a[key] == b[key], key


def test_a_workspace_with_history_is_refused_unless_replaced(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.duckdb")
    settings = dataclasses.replace(get_preset("calm-seas").with_weeks(2), changes=())
    run_scenario(store, "demo", settings)
    with pytest.raises(ScenarioError, match="--replace"):
        run_scenario(store, "demo", settings)
    again = run_scenario(store, "demo", settings, replace=True)
    assert again.status == "succeeded" and summarize(store, "demo")["weeks"] == 2


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match="full-story"):
        get_preset("full-storey")


def test_cli_knobs_change_the_settings(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "scenario",
            "show",
            "calm-seas",
            "--seed",
            "11",
            "--weeks",
            "20",
            "--set",
            "policy.kind=schedule",
            "--set",
            "label_delay_weeks=2",
            "--set",
            "drift_threshold=0.2",
            "--set",
            "drift_method=evidently",
            "--set",
            "drift_k=4",
            "--inject",
            "concept:sudden:onset_week=18:magnitude=1:feature=hr",
            "--changes",
            "batch-size-limit@3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["seed"] == 11 and data["weeks"] == 20 and data["policy"]["kind"] == "schedule"
    assert data["label_delay_weeks"] == 2 and data["drift_threshold"] == 0.2
    assert data["drift_method"] == "evidently" and data["drift_k"] == 4
    assert data["simulator"]["injections"][-1]["type"] == "concept"
    assert data["changes"] == [{"change": "batch-size-limit", "week": 3, "weekday": 1, "hour": 10}]
    saved = tmp_path / "mine.json"
    saved.write_text(out.stdout)
    again = subprocess.run(
        [sys.executable, "-m", "pipelines", "scenario", "show", "--from", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(again.stdout) == data


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "policy.kind=sometimes"], "policy"),
        (["--set", "nope=1"], "not a scenario knob"),
        (["--changes", "fix-windchill@2"], "needs"),
        (["--set", "simulator.seed=5"], "derived from the scenario's seed"),
    ],
)
def test_cli_bad_knobs_are_one_sentence(tmp_path: Path, args: list[str], needle: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "--db",
            str(tmp_path / "h.duckdb"),
            "scenario",
            "run",
            "calm-seas",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "--db", str(db), "scenario", "run", "full-story"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until a few weeks are recorded
            time.sleep(1)
            if db.exists() and proc.poll() is None:
                try:
                    if Store(db).scenario_runs("demo")["weeks_done"].max() >= 3:
                        break
                except Exception:  # the writer holds the file; try again
                    continue
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    store = Store(db)
    (status,) = store.scenario_runs("demo")["status"].tolist()
    assert status == "interrupted"
    runs = store.select("runs", "demo")
    assert "running" not in set(runs["status"])
    weeks = store.select("weekly", "demo")["week"].tolist()
    assert weeks == list(range(1, len(weeks) + 1))  # every recorded week is whole


@pytest.mark.shared
@pytest.mark.slow
def test_seasons_change_plays_the_real_uci_data_when_it_is_there(tmp_path: Path, monkeypatch) -> None:
    from tests.conftest import shared_path

    monkeypatch.setenv("OPSLAB_DATA_DIR", str(shared_path("datasets")))
    settings = dataclasses.replace(PRESETS["seasons-change"].with_weeks(30), changes=())
    store = Store(tmp_path / "uci.duckdb")
    result = run_scenario(store, "demo", settings)
    assert result.note is None  # no fallback: the real file was found and verified
    first = store.select("weekly", "demo", order_by="week").iloc[0]
    assert str(first["sim_time"]).startswith("2011-03-07")  # UCI's clock: the end of the first week
    failed = [says for says, held, _ in check_expectations(settings, summarize(store, "demo")) if not held]
    assert failed == []


def test_cli_play_reports_each_promise_with_the_plays_own_reason(tmp_path: Path, capsys) -> None:
    from pipelines.cli import main

    settings = dataclasses.replace(get_preset("calm-seas").with_weeks(2), changes=())
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings_dict(settings)))
    db = str(tmp_path / "h.duckdb")
    assert main(["--db", db, "scenario", "run", "--from", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcomes"] and all(isinstance(line, str) for line in out["outcomes"])
    promises = {p["says"]: p for p in out["expectations"]}
    assert set(promises) == {e.says for e in settings.expectations}
    assert all(p["reason"] for p in promises.values())


def _retrain_counts(store: Store) -> tuple[list[str], int, dict[str, Any], Any]:
    from pipelines.mlops.metrics import retraining_frequency

    runs = store.select("runs", "demo", order_by="sim_time")
    triggers = runs.loc[runs["kind"] == "mlops", "trigger"].tolist()
    return triggers, len(triggers) - 1, summarize(store, "demo"), retraining_frequency(store, "demo")


def test_the_first_training_is_not_a_retrain_under_policy_never(tmp_path: Path) -> None:
    settings = get_preset("bad-friday-deploy").with_weeks(3)
    settings = dataclasses.replace(settings, changes=(), policy=RetrainPolicy("never"))
    store = Store(tmp_path / "h.duckdb")
    run_scenario(store, "demo", settings)
    triggers, _, summary, key = _retrain_counts(store)
    assert triggers == ["initial"]
    assert key.n == summary["retrains"] == 0  # the key and the summary count the same retrains
    assert key.value is None and "no retrains" in (key.note or "")


def test_scheduled_retrains_are_counted_without_the_first_training(scenario_db: Path) -> None:
    triggers, retrains, summary, key = _retrain_counts(Store(scenario_db))
    assert triggers[0] == "initial" and set(triggers[1:]) == {"schedule"} and retrains >= 2
    assert key.n == summary["retrains"] == retrains
    assert summary["retrains_drift"] == summary["retrains_performance"] == 0


def _shown(*args: str) -> dict[str, Any]:
    """What `opslab scenario show` prints: the settings a play records."""
    from pipelines.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["scenario", "show", *args]) == 0
    return json.loads(out.getvalue())


def test_one_seed_drives_the_scenario() -> None:
    by_knob, by_flag = _shown("full-story", "--set", "seed=3"), _shown("full-story", "--seed", "3")
    assert by_knob == by_flag and by_knob["seed"] == 3
    # No second seed to contradict the first: the simulator's and the model's are derived from it.
    assert "seed" not in by_knob["simulator"] and "seed" not in by_knob["mlops"]
    for preset in PRESETS.values():
        assert (
            "seed" not in settings_dict(preset)["simulator"] and "seed" not in settings_dict(preset)["mlops"]
        )


def test_component_seeds_come_from_the_scenario_seed() -> None:
    from pipelines.scenario.settings import component_seeds

    three, four = component_seeds(3), component_seeds(4)
    assert three == component_seeds(3) and three != four
    assert len({three.simulator, three.model}) == 2  # the components do not share a stream
    settings = dataclasses.replace(get_preset("full-story"), seed=3)
    assert settings.played_simulator().seed == three.simulator
    assert settings.played_mlops().seed == three.model
    with pytest.raises(ValueError, match="seed"):
        dataclasses.replace(settings, simulator=dataclasses.replace(settings.simulator, seed=5))


@pytest.mark.slow
def test_the_seed_knob_equals_the_seed_flag_and_seeds_3_and_4_differ(tmp_path: Path) -> None:
    def play(*args: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        shown = _shown("bad-friday-deploy", "--weeks", "3", "--changes", "", *args)
        store = Store(tmp_path / f"{'_'.join(args)}.duckdb")
        run_scenario(store, "demo", from_dict(shown))
        assert store.workspace_info("demo")["settings"] == shown  # the recorded settings are the shown ones
        history = _normalised(store)
        return history["weekly"], [v["metrics"] for v in history["model_versions"]]

    # The flag and the knob record the same settings, and the same settings play the same history
    # (test_same_preset_and_seed_give_the_same_history), so one play of seed 3 stands for both.
    week_args = ("bad-friday-deploy", "--weeks", "3", "--changes", "")
    assert _shown(*week_args, "--seed", "3") == _shown(*week_args, "--set", "seed=3")
    knob, other = play("--set", "seed=3"), play("--set", "seed=4")
    assert [w["quality"] for w in knob[0]] != [w["quality"] for w in other[0]]
    assert knob[1] != other[1]
