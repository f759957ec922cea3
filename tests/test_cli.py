"""The `opslab` frame: history round trip, workspaces, errors as one sentence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.runner import Artifact, Step, StepOutcome, run_steps
from pipelines.store import Store, workspace_history


def _seed(store: Store, tmp_path: Path) -> str:
    art = tmp_path / "a.bin"
    art.write_bytes(b"hello")
    result = run_steps(
        store,
        [Step("build", lambda ctx: StepOutcome(metrics={"n": 1}, artifacts=[Artifact("build", art)]))],
        workspace="demo",
        kind="devops",
        trigger="commit",
    )
    store.insert_rows(
        "weekly",
        [
            {
                "workspace": "demo",
                "week": 1,
                "sim_time": "2011-01-08",
                "requests": 168,
                "error_rate": 0.0,
                "quality": 31.5,
            }
        ],
    )
    return result.run_id


def test_history_json_round_trips_the_store(store: Store, tmp_path: Path, capsys) -> None:
    run_id = _seed(store, tmp_path)
    assert main(["--db", str(store.path), "history", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(workspace_history(store, "demo")))
    for key in ("runs", "deployments", "incidents", "model_versions", "drift", "weekly"):
        assert key in printed
    (run,) = printed["runs"]
    assert run["run_id"] == run_id and run["kind"] == "devops" and run["trigger"] == "commit"
    assert run["steps"][0]["name"] == "build" and run["steps"][0]["metrics"] == {"n": 1}
    assert run["artifacts"][0]["sha256"] == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert printed["weekly"][0]["requests"] == 168


def test_history_table_is_readable(store: Store, tmp_path: Path, capsys) -> None:
    _seed(store, tmp_path)
    assert main(["--db", str(store.path), "history"]) == 0
    out = capsys.readouterr().out
    assert "runs (1)" in out and "weekly (1)" in out and "devops" in out


def test_env_var_chooses_the_database(store: Store, tmp_path: Path, monkeypatch, capsys) -> None:
    _seed(store, tmp_path)
    monkeypatch.setenv("OPSLAB_DB", str(store.path))
    assert main(["workspace", "list"]) == 0
    assert "demo" in capsys.readouterr().out


def test_workspace_reset_and_delete(store: Store, tmp_path: Path, capsys) -> None:
    _seed(store, tmp_path)
    assert main(["--db", str(store.path), "workspace", "reset", "demo"]) == 0
    assert store.workspace_is_empty("demo")
    assert main(["--db", str(store.path), "workspace", "delete", "demo"]) == 0
    assert main(["--db", str(store.path), "workspace", "delete", "demo"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["history"], "no run history"),
        (["--workspace", "no such", "history"], "is not valid"),
    ],
)
def test_errors_are_one_sentence_without_a_traceback(tmp_path: Path, argv, needle) -> None:
    db = tmp_path / "none.duckdb"
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "--db", str(db), *argv], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert needle in out.stderr.lower() and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipelines", "--db", str(tmp_path / "n.duckdb"), "--debug", "history"],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (the real stdout and exit code of `--help` are checked by the subprocess tests)."""
    from pipelines.cli import main

    with pytest.raises(SystemExit) as top:
        main(["--help"])
    assert top.value.code == 0
    listing = capsys.readouterr().out
    for command in ("devops", "mlops", "scenario", "history", "datasets", "workspace", "init", "report"):
        assert command in listing
        with pytest.raises(SystemExit) as sub:
            main([command, "--help"])
        assert sub.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["--help"], ["devops", "--help"], ["scenario", "--help"], ["report", "--help"]]
)
def test_help_loads_no_scientific_stack(argv: list[str]) -> None:
    """Asking for help answers at once: the command groups import their pipelines only when run."""
    code = (
        "import sys\n"
        "from pipelines.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in ('scipy', 'sklearn') if m in sys.modules)\n"
        "assert not heavy, f'help imported {heavy}'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout


def test_actions_built_on_demand_have_their_options(capsys) -> None:
    """`scenario show`, `scenario run`, `mlops run` and `mlops monitor` add their options when chosen."""
    for argv, needles in (
        (["scenario", "show", "--help"], ["bad-friday-deploy", "--set KNOB=VALUE"]),
        (["scenario", "run", "--help"], ["preset name (default full-story)", "--replace"]),
        (
            ["mlops", "run", "--help"],
            ["{initial,manual,schedule,drift,performance,estimated}", "--window-weeks"],
        ),
        (["mlops", "monitor", "--help"], ["--batch-weeks", "--data DATA"]),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        out = capsys.readouterr().out
        assert exit_info.value.code == 0
        assert all(n in out for n in needles), (argv, out)


# -- bad input: one sentence, nothing written (issue 11) ------------------------------------------
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["scenario", "run", "calm-seas", "--weeks", "2", "--set", "changes=foo"], "'changes' is a list"),
        (["scenario", "run", "calm-seas", "--weeks", "2", "--set", "policy=schedule"], "'policy' is a group of knobs"),
        (["devops", "run", "--change", "nope"], "unknown change 'nope'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_sentence_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    room = tmp_path / "room"
    assert main(["--db", str(room), "--workspace", "w", *args]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and "Traceback" not in err
    assert not room.exists() or not any(room.iterdir())


@pytest.mark.parametrize("name", ["x.csv", "runs.parquet", "h.json"])
def test_a_data_file_is_not_taken_for_a_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["--db", str(tmp_path / name), "workspace", "list"]) == 2
    assert "looks like a data file" in capsys.readouterr().err
    assert not (tmp_path / name).exists()


def test_history_limit_must_not_be_negative(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--db", str(store.path), "history", "--limit", "-1"])
    assert "0 or more" in capsys.readouterr().err


def test_history_at_names_what_served_production_then(
    scenario_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked against the deployments table read independently, at each deployment and just before."""
    store = Store(scenario_db)
    deployments = store.select("deployments", "demo").sort_values(["sim_time", "deployed_at"])
    assert (
        set(deployments["kind"]) == {"release", "model"} and deployments["unplanned"].any()
    )  # a rollback too
    moments = [t for s in deployments["sim_time"] for t in (s - pd.Timedelta(seconds=1), s)]
    for moment in moments:
        assert main(["--db", str(scenario_db), "history", "--at", str(moment), "--json"]) == 0
        said = json.loads(capsys.readouterr().out)
        for kind in ("release", "model"):
            before = deployments.loc[(deployments["kind"] == kind) & (deployments["sim_time"] <= moment)]
            expected = None if before.empty else before.iloc[-1]["ref"]
            assert (said[kind] or {}).get("ref") == expected, (moment, kind)
    assert main(["--db", str(scenario_db), "history", "--at", str(deployments["sim_time"].max())]) == 0
    assert "release:" in capsys.readouterr().out


def test_the_play_progress_follows_the_clock_not_the_releases_prepared_ahead(monkeypatch) -> None:
    """The release line reports week 4's release while the clock is in week 1: the bar stays at 1."""
    import io

    from pipelines.cli.scenario import _ScenarioBar
    from pipelines.scenario.engine import ScenarioProgress

    monkeypatch.setenv("OPSLAB_PROGRESS", "jsonl")
    out = io.StringIO()
    bar = _ScenarioBar(out)
    for week, stage in ((0, "setup"), (1, "serve"), (4, "devops"), (1, "monitor"), (2, "serve")):
        bar(ScenarioProgress(week, 96, stage, "x"))
    done = [json.loads(line)["done"] for line in out.getvalue().splitlines()]
    assert done == [0, 1, 1, 1, 2]
