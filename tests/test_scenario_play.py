"""The scenario engine beyond each preset's promises (test_scenario.py): determinism, workspaces,
the CLI's knobs, Ctrl-C, the real UCI data, one seed, retrain counts. A file of its own so that
`--dist loadfile` runs it beside the presets' plays, not after them."""

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

import pytest

from pipelines.mlops.policy import RetrainPolicy
from pipelines.scenario.engine import ScenarioError, run_scenario
from pipelines.scenario.presets import PRESETS, get_preset
from pipelines.scenario.settings import from_dict, settings_dict
from pipelines.scenario.summary import check_expectations, summarize
from pipelines.store import Store, workspace_history
from tests.conftest import scenario_settings


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


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    """`opslab ARGV` in this process (`python -m pipelines` calls the same `main`): its exit code,
    stdout and stderr. An argparse refusal's SystemExit is its exit code; any other exception fails
    the test, as a traceback on a real process's stderr would."""
    from pipelines.cli import main

    try:
        code: object = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_knobs_change_the_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, shown, err = _cli(
        [
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
        capsys,
    )
    assert code == 0, err
    data = json.loads(shown)
    assert data["seed"] == 11 and data["weeks"] == 20 and data["policy"]["kind"] == "schedule"
    assert data["label_delay_weeks"] == 2 and data["drift_threshold"] == 0.2
    assert data["drift_method"] == "evidently" and data["drift_k"] == 4
    assert data["simulator"]["injections"][-1]["type"] == "concept"
    assert data["changes"] == [{"change": "batch-size-limit", "week": 3, "weekday": 1, "hour": 10}]
    saved = tmp_path / "mine.json"
    saved.write_text(shown)
    code, again, err = _cli(["scenario", "show", "--from", str(saved)], capsys)
    assert code == 0, err
    assert json.loads(again) == data


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "policy.kind=sometimes"], "policy"),
        (["--set", "nope=1"], "not a scenario knob"),
        (["--changes", "fix-windchill@2"], "needs"),
        (["--set", "simulator.seed=5"], "derived from the scenario's seed"),
    ],
)
def test_cli_bad_knobs_are_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = _cli(["--db", str(tmp_path / "h.duckdb"), "scenario", "run", "calm-seas", *args], capsys)
    assert code == 2 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err  # one sentence
    assert not (tmp_path / "h.duckdb").exists()  # refused before the history was written


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


@pytest.mark.parametrize("taken", ["InterruptException", "RuntimeError"])
def test_ctrl_c_during_a_query_is_a_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: str
) -> None:
    """Ctrl-C that lands while DuckDB runs a query on the play's thread reaches Python as DuckDB's
    InterruptException, not KeyboardInterrupt (CI caught a stopped play exiting 1 with 'unexpected
    error'), or as RuntimeError('Query interrupted') while fetching into pandas. The play is
    interrupted, not failed, and the command still exits 130."""
    import duckdb

    import pipelines.scenario.engine as engine

    finish = engine._State.finish_week

    def interrupted(self, week, *args, **kwargs):  # type: ignore[no-untyped-def]
        if week == 2:
            if taken == "RuntimeError":
                raise RuntimeError("Query interrupted")
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        return finish(self, week, *args, **kwargs)

    monkeypatch.setattr(engine._State, "finish_week", interrupted)
    store = Store(tmp_path / "h.duckdb")
    with pytest.raises(KeyboardInterrupt):
        run_scenario(store, "demo", PRESETS["workshop-drift"].with_weeks(4))
    (status,) = store.scenario_runs("demo")["status"].tolist()
    assert status == "interrupted"
    assert "running" not in set(store.select("runs", "demo")["status"])
