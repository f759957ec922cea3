"""The MLflow importer on a real MLflow writing to a temporary SQLite tracking store (issue #12).

MLflow's first SQLite store runs its migrations (seconds): the store is built once for the module.
Tests that change it (move aliases, add a broken experiment) put it back as they found it.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow", reason="the MLflow importer's tests need MLflow (dev extras)")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Dataset, DatasetInput, InputTag  # noqa: E402

from pipelines.errors import OpsLabError  # noqa: E402
from pipelines.importers import ImportFormatError  # noqa: E402
from pipelines.importers.mlflow import import_mlflow  # noqa: E402
from pipelines.mlops import metrics as ml_keys  # noqa: E402
from pipelines.store import Store  # noqa: E402
from pipelines.store.keys_sql import key_receipt  # noqa: E402
from pipelines.store.landing_sql import imports_log  # noqa: E402

MODEL = "bike-demand"

# MLflow's own SQLAlchemy code uses loader options SQLAlchemy 2.1 deprecates: MLflow's to fix, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)


@dataclass
class Tracking:
    uri: str
    client: MlflowClient
    experiment: str
    runs: dict[str, str]  # our name -> MLflow run id


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    """A tracking store with six runs of every status, three versions of one model and two aliases."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("DO_NOT_TRACK", "true")
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("bikes", artifact_location=(folder / "artifacts").as_uri())
        runs: dict[str, str] = {}

        def log(name: str, start: str, end: str | None, status: str, params: dict[str, Any],
                metrics: dict[str, float], tags: dict[str, str]) -> str:  # fmt: skip
            run = client.create_run(experiment, start_time=_ms(start), tags=tags, run_name=name)
            run_id = run.info.run_id
            for key, value in params.items():
                client.log_param(run_id, key, value)
            for key, value in metrics.items():
                client.log_metric(run_id, key, value, timestamp=_ms(start))
            if end is not None:
                client.set_terminated(run_id, status=status, end_time=_ms(end))
            runs[name] = run_id
            return run_id

        first = log("first", "2026-01-05T10:00:00", "2026-01-05T10:30:00", "FINISHED",
                    {"alpha": 0.1, "window_weeks": 8}, {"rmse": 2.0, "mae": 1.5},
                    {"mlflow.source.git.commit": "aaa111", "opslab.window_start": "2025-11-10T00:00:00",
                     "opslab.window_end": "2026-01-05T00:00:00"})  # fmt: skip
        client.log_inputs(first, [DatasetInput(Dataset("bikes-2026w1", "d1g35t", "local", "/data/w1.csv"),
                                               [InputTag("mlflow.data.context", "training")])])  # fmt: skip
        second = log("second", "2026-01-12T10:00:00", "2026-01-12T10:20:00", "FINISHED", {"alpha": 0.2},
                     {"rmse": 1.5}, {"mlflow.source.git.commit": "bbb222", "opslab.window_end": "2026-01-12T01:00:00+01:00"})  # fmt: skip
        log("failed", "2026-01-13T09:00:00", "2026-01-13T09:01:00", "FAILED", {"alpha": 9}, {}, {})
        log("killed", "2026-01-14T09:00:00", "2026-01-14T09:05:00", "KILLED", {}, {}, {})
        log("running", "2026-01-15T09:00:00", None, "RUNNING", {"alpha": 0.3}, {}, {})
        third = log("third", "2026-01-19T10:00:00", "2026-01-19T10:25:00", "FINISHED", {"alpha": 0.2},
                    {"rmse": 1.2}, {"mlflow.source.git.commit": "ccc333"})  # fmt: skip
        client.create_registered_model(MODEL)
        for run_id in (first, second, third):
            client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(MODEL, "champion", 1)
        client.set_registered_model_alias(MODEL, "challenger", 2)
        yield Tracking(uri, client, experiment, runs)


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store._read() as con:
        return con.execute(sql).fetchall()


def _count(store: Store, table: str) -> int:
    return int(_rows(store, f"SELECT count(*) FROM {table}")[0][0])


def test_runs_params_versions_and_aliases_are_imported(tracking: Tracking, store: Store) -> None:
    summary = import_mlflow(store, "ml", tracking.uri)
    ids = {name: f"mlflow:run:{run_id}" for name, run_id in tracking.runs.items()}
    runs = {r[0]: r[1:] for r in _rows(store, "SELECT run_id, kind, trigger, status, sim_time, input_fingerprint, "
                                              "label, duration_ms FROM runs")}  # fmt: skip
    assert runs[ids["first"]] == ("mlops", "initial", "succeeded", datetime(2026, 1, 5, 10), "aaa111", "first",
                                  1_800_000.0)  # fmt: skip
    assert runs[ids["second"]][1:4] == ("schedule", "succeeded", datetime(2026, 1, 12, 10))
    assert runs[ids["third"]][1:2] == ("schedule",)
    assert {name: runs[ids[name]][1:3] for name in ("failed", "killed", "running")} == {
        "failed": ("manual", "failed"), "killed": ("manual", "interrupted"), "running": ("manual", "running")
    }  # fmt: skip
    assert runs[ids["running"]][6] is None  # not finished: no duration, not a zero one
    params = _rows(store, f"SELECT key, value FROM run_params WHERE run_id = '{ids['first']}' ORDER BY key")
    assert params == [("alpha", "0.1"), ("window_weeks", "8")]
    steps = _rows(store, f"SELECT run_id, position, name, status, metrics FROM steps "
                         f"WHERE run_id IN ('{ids['first']}', '{ids['second']}') ORDER BY run_id = '{ids['second']}', "
                         "position")  # fmt: skip
    assert [s[1:4] for s in steps] == [(0, "ingest", "succeeded"), (1, "train", "succeeded"),
                                       (0, "train", "succeeded")]  # fmt: skip
    assert '"digest":"d1g35t"' in steps[0][4].replace(" ", "") and '"context":"training"' in steps[0][4]
    assert '"rmse":1.5' in steps[2][4].replace(" ", "")
    versions = _rows(store, "SELECT version, run_id, path, sha256, dataset, data_fingerprint, window_end "
                            "FROM model_versions ORDER BY version")  # fmt: skip
    source = f"runs:/{tracking.runs['first']}/model"
    assert versions[0] == (1, ids["first"], source, hashlib.sha256(source.encode()).hexdigest(), "bikes-2026w1",
                           "d1g35t", datetime(2026, 1, 5))  # fmt: skip
    assert [(v[0], v[1], v[4], v[6]) for v in versions[1:]] == [(2, ids["second"], None, datetime(2026, 1, 12)),
                                                                (3, ids["third"], None, None)]  # fmt: skip
    moves = _rows(store, "SELECT alias, version, previous_version FROM alias_moves ORDER BY alias")
    assert moves == [("challenger", 2, None), ("champion", 1, None)]
    deploys = _rows(store, "SELECT kind, ref, run_id, commit_sha, unplanned FROM deployments")
    assert deploys == [("model", "v1", ids["first"], "aaa111", False)]
    assert summary.records == 6 + 3 + 2 and summary.new_records == summary.records
    assert "keeps no alias history" in (summary.note or "")
    assert "1 of 3 model versions have no data window" in (summary.note or "")


def test_an_imported_running_run_is_not_taken_for_a_dead_opslab_run(
    tracking: Tracking, tmp_path: Path
) -> None:
    path = tmp_path / "history.duckdb"
    import_mlflow(Store(path), "ml", tracking.uri, experiments=["bikes"])
    reopened = Store(path)  # its first write recovers OpsLab's own runs whose process died
    reopened.ensure_workspace("other")
    running = f"mlflow:run:{tracking.runs['running']}"
    assert _rows(reopened, f"SELECT status FROM runs WHERE run_id = '{running}'") == [("running",)]


def test_alias_moves_between_imports_make_deployments_and_a_reimport_adds_nothing(
    tracking: Tracking, store: Store
) -> None:
    client = tracking.client
    try:
        import_mlflow(store, "ml", tracking.uri)
        client.set_registered_model_alias(MODEL, "champion", 3)  # a retrain reaches production
        client.delete_registered_model_alias(MODEL, "challenger")
        client.set_terminated(
            tracking.runs["running"], status="FINISHED", end_time=_ms("2026-01-15T09:30:00")
        )
        fourth = client.create_run(
            tracking.experiment, start_time=_ms("2026-01-26T10:00:00"), run_name="fourth"
        )
        client.set_terminated(fourth.info.run_id, end_time=_ms("2026-01-26T10:10:00"))
        client.set_tag(tracking.runs["killed"], "opslab.trigger", "drift")  # late, on a finished run
        second = import_mlflow(store, "ml", tracking.uri)
        # MLflow is asked only for runs started since the latest imported, and the unfinished one again:
        # the new run, the finished one, the moved alias, the removed one; the late tag waits for full
        assert second.new_records == 4
        killed = f"SELECT trigger FROM runs WHERE run_id = 'mlflow:run:{tracking.runs['killed']}'"
        assert _rows(store, killed) == [("manual",)]
        client.set_registered_model_alias(MODEL, "champion", 1)  # v3 was bad: back to v1
        third = import_mlflow(store, "ml", tracking.uri, full=True)
        assert third.new_records == 2 and _rows(store, killed) == [("drift",)]
        moves = _rows(
            store, "SELECT alias, version, previous_version FROM alias_moves ORDER BY moved_at, alias"
        )
        assert moves == [("challenger", 2, None), ("champion", 1, None), ("challenger", None, 2),
                         ("champion", 3, 1), ("champion", 1, 3)]  # fmt: skip
        deploys = _rows(store, "SELECT ref, unplanned, rolled_back, replaced_by IS NULL FROM deployments "
                               "ORDER BY sim_time")  # fmt: skip
        assert deploys == [("v1", False, False, False), ("v3", False, True, False), ("v1", True, False, True)]
        status = _rows(
            store,
            f"SELECT status, duration_ms FROM runs WHERE run_id = 'mlflow:run:{tracking.runs['running']}'",
        )
        assert status == [("succeeded", 1_800_000.0)]

        counts = {t: _count(store, t) for t in ("runs", "steps", "run_params", "model_versions", "alias_moves",
                                                  "deployments", "landing")}  # fmt: skip
        again = import_mlflow(store, "ml", tracking.uri)
        assert again.new_records == 0
        assert {t: _count(store, t) for t in counts} == counts
        assert list(imports_log(store, "ml")["new_records"]) == [0, 2, 4, 11]

        # the ML keys, counted by hand: two untagged runs registered a later version (retrains);
        # two planned production model deploys (v1 first seen, v3), v3 rolled back: 50 %.
        frequency = ml_keys.retraining_frequency(store, "ml")
        retrains = key_receipt(store, frequency)
        assert sorted(retrains["run_id"]) == sorted(
            f"mlflow:run:{tracking.runs[n]}" for n in ("second", "third")
        )
        failure = ml_keys.model_change_failure_rate(store, "ml")
        assert (failure.value, failure.n) == (50.0, 2)
        lead = ml_keys.data_to_production_lead_time(store, "ml")
        assert lead.n == 1  # only v1 says its data window
    finally:
        client.set_registered_model_alias(MODEL, "champion", 1)
        client.set_registered_model_alias(MODEL, "challenger", 2)
        client.update_run(tracking.runs["running"], status="RUNNING")
        client.delete_tag(tracking.runs["killed"], "opslab.trigger")
        if "fourth" in locals():
            client.delete_run(fourth.info.run_id)


def test_a_malformed_run_names_the_store_and_field_and_writes_nothing(
    tracking: Tracking, store: Store
) -> None:
    client = tracking.client
    experiment = client.create_experiment("broken")
    try:
        run = client.create_run(experiment, start_time=_ms("2026-02-01T00:00:00"),
                                tags={"opslab.window_end": "last tuesday"})  # fmt: skip
        with pytest.raises(ImportFormatError) as caught:
            import_mlflow(store, "ml", tracking.uri, experiments=["broken"])
        message = str(caught.value)
        assert message.startswith(tracking.uri) and f"run {run.info.run_id} tag opslab.window_end" in message
        assert message.endswith("nothing was imported.") and message.count(". ") == 0
        assert not store.exists() or _count(store, "landing") + _count(store, "runs") == 0
    finally:
        client.delete_experiment(experiment)


def test_a_tracking_uri_that_is_not_there_is_refused_without_creating_it(
    tmp_path: Path, store: Store
) -> None:
    missing = tmp_path / "typo" / "mlflow.db"
    with pytest.raises(OpsLabError, match="There is no MLflow database at"):
        import_mlflow(store, "ml", f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_without_mlflow_the_import_says_how_to_install_it(
    tracking: Tracking, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(OpsLabError, match=r"pip install 'opslab\[mlflow\]'"):
        import_mlflow(store, "ml", tracking.uri)


def test_the_cli_imports_into_the_workspace_given_after_the_source(
    tracking: Tracking, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main

    db = tmp_path / "history.duckdb"
    code = main(["--db", str(db), "import", "mlflow", tracking.uri, "--model", MODEL, "--workspace", "mine"])
    out = capsys.readouterr().out
    assert (
        code == 0 and "Imported mlflow into workspace 'mine'" in out and "Note: MLflow keeps no alias" in out
    )
    assert _count(Store(db), "model_versions") == 3
