"""The Control room's command builders and job runner, and AppTests of Overview and Control room."""

from __future__ import annotations

import json
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
from tests.conftest import APP


def test_scenario_knobs_become_arguments_the_cli_accepts(tmp_path: Path) -> None:
    knobs = control.ScenarioKnobs(
        preset="calm-seas",
        seed=5,
        weeks=10,
        release_every=3,
        injection=control.Injection("concept", "sudden", 12, 1.0, "hr"),
        policy="drift",
        every_weeks=4,
        drift_weeks=2,
        quality_margin=0.3,
        drift_threshold=0.25,
        label_delay_weeks=2,
        replace=True,
    )
    args = control.scenario_args(knobs)
    assert args[:3] == ["scenario", "run", "calm-seas"] and "--replace" in args
    show = [a for a in args if a not in ("--replace", "--json")]
    show[1] = "show"
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", *show], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    settings = json.loads(out.stdout)
    assert settings["seed"] == 5 and settings["weeks"] == 10 and settings["drift_threshold"] == 0.25
    assert settings["policy"] == {
        **settings["policy"],
        "kind": "drift",
        "drift_weeks": 2,
        "quality_margin": 0.3,
    }
    assert settings["simulator"]["injections"][-1]["feature"] == "hr"
    assert [c["week"] for c in settings["changes"]] == [3, 6, 9]


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
