"""The Control room's command builders and job runner, and AppTests of Overview and Control room."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import control
from dashboard.figures import overview
from dashboard.jobs import JobManager
from pipelines.errors import OpsLabError
from pipelines.mlops.simulator import DriftInjection
from pipelines.paths import check_workspace_name
from pipelines.scenario.presets import PRESETS
from pipelines.scenario.settings import from_dict, settings_dict
from pipelines.store import RunHistory
from tests.conftest import APP


@pytest.mark.parametrize("name", list(PRESETS))
def test_untouched_knobs_play_the_preset_exactly(name: str, tmp_path: Path) -> None:
    preset = PRESETS[name]
    settings = control.build_settings(preset, control.edits_of(preset))
    assert settings == preset
    path = control.write_settings(tmp_path, settings)
    assert from_dict(json.loads(path.read_text())) == preset  # what `--from` reads back
    assert control.write_settings(tmp_path, settings) == path  # named by content
    with pytest.raises(ValueError, match="not valid"):  # no workspace's files can be in its directory
        check_workspace_name(RunHistory(tmp_path / "h.duckdb").files_dir("settings").name)


def test_edits_change_what_was_edited_and_the_cli_plays_the_file(tmp_path: Path) -> None:
    preset = PRESETS["calm-seas"]
    hr = DriftInjection("concept", "sudden", onset_week=12, magnitude=1.0, feature="hr")
    edits = dataclasses.replace(
        control.edits_of(preset),
        seed=5,
        weeks=10,
        release_every=3,
        injection=hr,
        policy="drift",
        drift_weeks=2,
        quality_margin=0.3,
        drift_threshold=0.25,
        label_delay_weeks=2,
    )
    settings = control.build_settings(preset, edits)
    assert (settings.seed, settings.weeks, settings.drift_threshold, settings.label_delay_weeks) == (
        5,
        10,
        0.25,
        2,
    )
    assert settings.policy == dataclasses.replace(
        preset.policy, kind="drift", drift_weeks=2, quality_margin=0.3
    )
    assert settings.simulator.injections == (*preset.with_weeks(10).simulator.injections, hr)
    assert [c.week for c in settings.changes] == [3, 6, 9]
    changed = control.settings_changes(preset, settings).set_index("setting")
    assert changed.loc["weeks"].tolist() == ["96", "10"]
    assert changed.loc["drift_threshold"].tolist() == ["null", "0.25"]
    assert "narrative" not in changed.index and control.settings_changes(preset, preset).empty
    args = control.scenario_args(control.write_settings(tmp_path, settings), replace=True)
    assert args[:3] == ["scenario", "run", "--from"] and "--replace" in args
    show = ["scenario", "show", "--from", args[3]]
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", *show], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == settings_dict(settings)


def test_release_cadence_is_the_clis_own() -> None:
    preset = PRESETS["full-story"]
    edits = dataclasses.replace(control.edits_of(preset), release_every=5)
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "scenario", "show", "full-story", "--release-every", "5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert settings_dict(control.build_settings(preset, edits)) == json.loads(out.stdout)


def test_uploads_are_kept_by_content_and_checked(tmp_path: Path) -> None:
    first = control.save_upload(tmp_path, "my data.csv", b"t,y\n1,2\n")
    assert first.exists() and first.name.endswith("-my_data.csv")
    assert control.save_upload(tmp_path, "my data.csv", b"t,y\n1,2\n") == first
    with pytest.raises(ValueError, match=r"csv or \.parquet"):
        control.save_upload(tmp_path, "evil.sh", b"rm -rf /")


def _wait(job, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while job.running and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_job_runs_the_cli_in_the_background_and_can_be_stopped(tmp_path: Path) -> None:
    manager = JobManager()
    db = str(tmp_path / "h.duckdb")
    long = manager.start("demo", db, ["scenario", "run", "full-story", "--json"], "full story")
    with pytest.raises(OpsLabError, match="already going"):
        manager.start("demo", db, ["workspace", "list"], "again")
    deadline = time.monotonic() + 60
    while long.total == 0 and time.monotonic() < deadline:  # progress arrives as JSON lines
        time.sleep(0.1)
    assert long.total > 0 and long.step
    long.stop()
    _wait(long)
    assert long.status == "stopped" and long.proc.returncode == 130
    listing = manager.start("demo", db, ["devops", "changes", "--json"], "list changes")
    _wait(listing)
    assert listing.status == "succeeded" and len(listing.result()) >= 12
    failing = manager.start("other", str(tmp_path / "none.duckdb"), ["history"], "history of nothing")
    _wait(failing)
    assert failing.status == "failed" and "no run history" in failing.error


def test_overview_figures_from_tiny_frames() -> None:
    deployments = pd.DataFrame(
        {
            "kind": ["release", "model", "release"],
            "unplanned": [False, False, True],
            "sim_time": pd.to_datetime(["2011-03-01", "2011-03-02", "2011-03-09"]),
            "ref": ["abc", "v1", "abc"],
        }
    )
    fig = overview.assets_over_time(deployments)
    assert [t.name for t in fig.data] == ["code releases (DevOps)", "model versions deployed (MLOps)"]
    assert list(fig.data[0].y) == [1]  # the unplanned rollback is not a new release
    runs = pd.DataFrame({"kind": ["devops", "mlops", "mlops"], "trigger": ["commit", "drift", "drift"]})
    assert {t.name for t in overview.triggers(runs).data} == {"devops", "mlops"}
    loops = overview.lifecycle_loops(
        pd.DataFrame({"kind": ["devops"], "name": ["test"], "runs": [3], "failed": [1]})
    )
    texts = [t for trace in loops.data if trace.text is not None for t in trace.text]
    assert "test<br>3×" in texts


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def test_overview_shows_the_keys_and_figures(app_env: Path) -> None:
    at = _app()
    at.run()
    assert not at.exception and not at.error
    assert len(at.metric) == 10
    assert len(at.get("plotly_chart")) == 5


def test_overview_of_an_empty_workspace_says_what_to_do(app_env: Path) -> None:
    at = _app(workspace="nobody-here")
    at.run()
    assert not at.exception and not at.error
    assert "has no history yet" in at.info[0].value


def test_control_room_offers_every_knob(app_env: Path) -> None:
    at = _app()
    at.run()
    at.switch_page("views/control_room.py").run()
    assert not at.exception and not at.error
    keys = {w.key for w in [*at.selectbox, *at.number_input, *at.button, *at.checkbox, *at.slider]}
    assert {
        "cr_preset",
        "cr_seed",
        "cr_weeks",
        "cr_cadence",
        "cr_drift_type",
        "cr_policy",
        "cr_threshold",
        "cr_delay",
        "cr_run_scenario",
        "cr_reset",
        "cr_reset_confirm",
        "cr_mlops_run",
    } <= keys
    at.selectbox(key="cr_preset").select("sudden-shock").run()
    assert "commuting peaks" in " ".join(c.value for c in at.caption)
    assert at.button(key="cr_reset").disabled


def _knobs(at: AppTest) -> dict[str, object]:
    widgets = [*at.selectbox, *at.number_input, *at.radio, *at.slider]
    return {w.key: w.value for w in widgets if w.key in control.knob_state(PRESETS["full-story"])}


def test_switching_the_preset_shows_the_new_presets_knobs(app_env: Path) -> None:
    at = _app()
    at.run()
    at.switch_page("views/control_room.py").run()
    assert _knobs(at) == control.knob_state(PRESETS["full-story"])
    at.number_input(key="cr_weeks").set_value(20).run()  # an edit, then another preset: the edit is gone
    for name in ("bad-friday-deploy", "calm-seas", "full-story", "silent-data-bug"):
        at.selectbox(key="cr_preset").select(name).run()
        assert not at.exception and not at.error
        assert _knobs(at) == control.knob_state(PRESETS[name]), name
        assert not at.table  # untouched: nothing differs from the preset
    assert at.number_input(key="cr_weeks").value == 30 and at.selectbox(key="cr_policy").value == "schedule"
    at.number_input(key="cr_weeks").set_value(20).run()
    at.selectbox(key="cr_drift_type").select("concept").run()
    assert not at.exception and not at.error
    changed = at.table[0].value  # what will be played, against the preset
    assert {"weeks", "simulator.injections"} <= set(changed["setting"])


def test_the_control_room_offers_the_estimated_policy_as_the_cli_does() -> None:
    from pipelines.mlops.policy import POLICIES

    preset = PRESETS["calm-seas"]
    assert "estimated" in POLICIES  # the Control room's policy selectbox lists POLICIES
    edits = dataclasses.replace(control.edits_of(preset), policy="estimated")
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "scenario", "show", "calm-seas", "--set", "policy.kind=estimated"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert settings_dict(control.build_settings(preset, edits)) == json.loads(out.stdout)


def test_pages_bound_their_own_reads_and_a_job_keeps_the_documented_lock_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page waits 8 s for a writer; the CLI a job starts inherits no such bound (15 s by default)."""
    from dashboard import data

    monkeypatch.delenv("OPSLAB_LOCK_TIMEOUT", raising=False)
    store = data._store(str(tmp_path / "history"), "demo")
    assert store.read_timeout_s == data.READ_TIMEOUT_S
    assert "OPSLAB_LOCK_TIMEOUT" not in os.environ  # so not in a job's environment either


def test_a_job_that_dies_without_a_sentence_says_how_it_ended(tmp_path: Path) -> None:
    manager = JobManager()
    job = manager.start("demo", str(tmp_path / "h.duckdb"), ["scenario", "run", "calm-seas"], "calm")
    deadline = time.monotonic() + 60
    while job.total == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    job.proc.kill()  # no Ctrl-C, no sentence: as when the machine kills it for memory
    _wait(job)
    assert job.status == "failed" and job.error.startswith("the command was killed by signal 9")


def test_thousands_of_deploys_draw_as_the_count_at_each_weeks_end() -> None:
    """7,830 points a line with a ref each to hover took the browser seconds (issue 12): past 500
    deploys the line keeps each week's last, still the exact cumulative count there."""
    times = pd.date_range("2011-01-03", periods=2000, freq="3h")
    deployments = pd.DataFrame(
        {"kind": "release", "unplanned": False, "sim_time": times, "ref": [f"r{i}" for i in range(2000)]}
    )
    line = overview.assets_over_time(deployments).data[0]
    week_ends = pd.Series(range(1, 2001), index=times).groupby(times.to_period("W")).last()
    assert list(line.y) == list(week_ends)
    assert len(line.x) == len(week_ends) < 60
    assert "r55" in line.hovertext[0] and "56 this week" in line.hovertext[0]
