"""The MLOps pipeline on a temporary store: steps, gate, registry, deploy, monitoring, policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.mlops.monitoring import (
    PREDICTION,
    TARGET,
    ModelCache,
    monitor_batch,
    monitor_labels,
    realized_quality,
)
from pipelines.mlops.pipeline import gate_decision, production_model_path, run_mlops_pipeline
from pipelines.mlops.policy import PolicyState, RetrainPolicy, decide_retrain
from pipelines.mlops.simulator import SimulatorSettings, UpstreamChange
from pipelines.mlops.sources import load_dataset, window
from pipelines.runner import file_sha256
from pipelines.store import Store
from pipelines.store import records as rec
from tests.conftest import shared_path

SIM = SimulatorSettings(weeks=30, seed=3)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("simulated", simulator=SIM)


# -- the gate and the policies (pure) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("metric", "challenger", "champion", "promote"),
    [
        ("mae", 10.0, None, True),  # no champion yet
        ("mae", 9.7, 10.0, True),  # 3 % better than a 2 % margin
        ("mae", 9.9, 10.0, False),  # 1 % better: not enough
        ("accuracy", 0.83, 0.80, True),
        ("accuracy", 0.81, 0.80, False),
        ("mae", None, 10.0, False),
    ],
)
def test_gate_needs_the_margin(metric, challenger, champion, promote) -> None:
    decided, reason = gate_decision(metric, challenger, champion, 0.02)
    assert decided is promote and metric in reason


def _state(**kw) -> PolicyState:
    base = {
        "week": 10,
        "weeks_since_retrain": 5,
        "drift_streak": 0,
        "drift_share": 0.0,
        "quality": 30.0,
        "baseline": 30.0,
        "metric": "mae",
    }
    return PolicyState(**{**base, **kw})


def test_policies_decide_with_a_reason() -> None:
    assert not decide_retrain(RetrainPolicy("never"), _state(drift_streak=9)).retrain
    assert decide_retrain(RetrainPolicy("schedule", every_weeks=4), _state()).trigger == "schedule"
    assert not decide_retrain(RetrainPolicy("schedule", every_weeks=8), _state()).retrain
    drift = decide_retrain(RetrainPolicy("drift", drift_weeks=2), _state(drift_streak=2, drift_share=0.6))
    assert drift.trigger == "drift" and "60%" in drift.reason
    assert not decide_retrain(RetrainPolicy("drift", drift_weeks=2), _state(drift_streak=1)).retrain
    decayed = decide_retrain(RetrainPolicy("performance", quality_margin=0.2), _state(quality=37.0))
    assert decayed.trigger == "performance" and "37" in decayed.reason
    assert not decide_retrain(RetrainPolicy("performance", quality_margin=0.3), _state(quality=37.0)).retrain
    cooling = decide_retrain(
        RetrainPolicy("drift", cooldown_weeks=3), _state(weeks_since_retrain=1, drift_streak=5)
    )
    assert not cooling.retrain and "cooling" in cooling.reason
    with pytest.raises(ValueError, match="policy"):
        RetrainPolicy("sometimes")


def test_the_estimated_policy_acts_on_this_week_s_estimate_without_waiting_for_labels() -> None:
    policy = RetrainPolicy("estimated", quality_margin=0.2)
    # No labelled week yet (quality None): the estimate alone decides, the week it is made.
    decayed = decide_retrain(policy, _state(quality=None, estimated=37.0, estimated_baseline=30.0))
    assert decayed.retrain and decayed.trigger == "estimated" and "37" in decayed.reason
    # Realized quality fell, but the estimate did not (concept drift): this policy does not see it.
    blind = decide_retrain(policy, _state(quality=60.0, estimated=31.0, estimated_baseline=30.0))
    assert not blind.retrain and "within 20%" in blind.reason
    assert not decide_retrain(policy, _state(estimated=None)).retrain


# -- the whole pipeline ------------------------------------------------------------------------
def test_first_run_registers_and_deploys_the_champion(store: Store, dataset) -> None:
    result = run_mlops_pipeline(store, "demo", dataset, as_of="2011-03-01")
    assert result.ok, result.error
    assert [s.name for s in result.steps] == ["ingest", "validate", "train", "evaluate", "register", "deploy"]
    assert all(s.status == "succeeded" for s in result.steps)
    evaluate = result.step("evaluate").metrics
    assert {"mae", "rmse", "r2"} <= evaluate.keys() and evaluate["gate_decision"] == "promote"
    version = rec.model_version(store, "demo", 1)
    assert version["sha256"] == file_sha256(version["path"])
    assert version["metrics"]["mae"] == pytest.approx(evaluate["mae"])
    assert version["data_fingerprint"] == result.step("ingest").metrics["fingerprint"]
    assert rec.alias_version(store, "demo", "champion") == 1
    production = production_model_path(store, "demo")
    assert file_sha256(production) == version["sha256"]
    deployment = rec.current_deployment(store, "demo", "model")
    assert deployment["ref"] == "v1"
    run = store.run(result.run_id)
    assert run["input_fingerprint"] == version["data_fingerprint"] and run["kind"] == "mlops"


def test_a_challenger_that_is_not_better_is_registered_but_not_deployed(store: Store, dataset) -> None:
    run_mlops_pipeline(store, "demo", dataset, as_of="2011-03-01")
    # The same window again: the challenger equals the champion, so it cannot beat it by 2 %.
    second = run_mlops_pipeline(store, "demo", dataset, as_of="2011-03-01", trigger="schedule")
    assert second.ok
    assert second.step("evaluate").metrics["gate_decision"] == "keep"
    assert second.step("deploy").status == "skipped" and "keep the champion" in second.step("deploy").error
    assert rec.alias_version(store, "demo", "champion") == 1
    assert rec.alias_version(store, "demo", "challenger") == 2
    assert store.run(second.run_id)["trigger"] == "schedule"


def test_training_is_reproducible(tmp_path: Path, dataset) -> None:
    hashes = []
    for name in ("a", "b"):
        store = Store(tmp_path / f"{name}.duckdb")
        run_mlops_pipeline(store, "demo", dataset, as_of="2011-03-01")
        hashes.append(rec.model_version(store, "demo", 1)["sha256"])
    assert hashes[0] == hashes[1]


def test_validation_stops_a_fahrenheit_upstream_bug(store: Store) -> None:
    bugged = load_dataset(
        "simulated",
        simulator=SimulatorSettings(
            weeks=20, seed=3, upstream_changes=(UpstreamChange("fahrenheit", "temp", onset_week=10),)
        ),
    )
    result = run_mlops_pipeline(store, "demo", bugged, as_of="2011-05-01")
    assert result.status == "failed"
    validate = result.step("validate")
    assert validate.status == "failed" and "temp" in validate.error
    assert [s.status for s in result.steps[2:]] == ["skipped"] * 4
    assert rec.latest_model_version(store, "demo") is None  # nothing half-written


def test_too_few_rows_fail_at_ingest_with_the_counts(store: Store, dataset) -> None:
    result = run_mlops_pipeline(store, "demo", dataset, as_of="2010-01-01")
    assert result.step("ingest").status == "failed" and "holds 0 rows" in result.step("ingest").error


# -- monitoring -------------------------------------------------------------------------------
def test_monitoring_uses_a_cached_reference_and_reports_prediction_drift(store: Store, dataset) -> None:
    run_mlops_pipeline(store, "demo", dataset, as_of="2011-03-01")
    cache = ModelCache(store, "demo", dataset)
    handle = cache.get(1)
    assert handle.path.with_suffix(".profile-calibrated-k3.pkl").exists()
    assert handle.features.method == "calibrated" and handle.target is not None
    same_season = window(dataset, "2011-03-08", 1)
    summer = window(dataset, "2011-07-15", 1)
    calm = monitor_batch(handle, dataset, same_season)
    hot = monitor_batch(handle, dataset, summer)
    assert calm.drift["feature"].tolist()[-1] == PREDICTION
    temp = hot.drift.set_index("feature").loc["temp"]
    assert temp["drifted"] and temp["test"] == "wasserstein"
    assert temp["statistic"] > 3 * calm.drift.set_index("feature").loc["temp", "statistic"]
    prediction = hot.drift.set_index("feature").loc[PREDICTION]
    assert (
        prediction["drifted"]
        and prediction["statistic"] > calm.drift.set_index("feature").loc[PREDICTION, "statistic"]
    )
    assert realized_quality(handle, dataset, summer) > realized_quality(handle, dataset, same_season)
    # The labels, once they arrive: summer demand is far above March's (prior drift), March's is not.
    summer_labels, march_labels = (
        monitor_labels(handle, dataset, summer),
        monitor_labels(handle, dataset, same_season),
    )
    assert summer_labels["feature"].tolist() == [TARGET] and summer_labels["drifted"].item()
    assert not march_labels["drifted"].item()
    assert monitor_labels(handle, dataset, summer.assign(cnt=np.nan)) is None  # nothing labelled yet
    again = ModelCache(store, "demo", dataset).get(1)  # profile read back from disk
    pd.testing.assert_frame_equal(monitor_batch(again, dataset, summer).drift, hot.drift)
    fixed = ModelCache(store, "demo", dataset, method="evidently").get(1)  # Evidently's rule, its own file
    assert fixed.path.with_suffix(".profile-evidently.pkl").exists() and fixed.features.method == "evidently"
    assert (
        monitor_batch(fixed, dataset, same_season).drift.set_index("feature").loc["temp", "threshold"] == 0.1
    )


# -- the CLI ----------------------------------------------------------------------------------
def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _unprepared_csv(path: Path) -> Path:
    """A classification table the project never saw: sensor readings and an UP/DOWN label."""
    rng = np.random.default_rng(11)
    n = 3000
    times = pd.date_range("2020-01-01", periods=n, freq="30min")
    load = rng.normal(0.5, 0.15, n)
    price = 0.3 + 0.4 * load + rng.normal(0, 0.05, n)
    frame = pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "load": load,
            "price": price,
            "region": rng.choice(["north", "south"], n),
            "label": np.where(price > 0.5, "UP", "DOWN"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_cli_runs_and_monitors_a_csv_it_was_not_prepared_for(tmp_path: Path) -> None:
    csv = _unprepared_csv(tmp_path / "sensor.csv")
    db = tmp_path / "h.duckdb"
    data = ["--data", str(csv), "--time-column", "when", "--target", "label"]
    out = _cli(db, "mlops", "run", *data, "--window-weeks", "4", "--json")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    evaluate = next(s for s in run["steps"] if s["name"] == "evaluate")["metrics"]
    assert {"accuracy", "f1", "roc_auc"} <= evaluate.keys() and evaluate["accuracy"] > 0.8
    mon = _cli(db, "mlops", "monitor", *data, "--as-of", "2020-02-10", "--json")
    assert mon.returncode == 0, mon.stderr
    report = json.loads(mon.stdout)
    # Confidence-based: the accuracy its calibrated confidence expects, near the realized one.
    assert report["estimated_accuracy"] == pytest.approx(report["quality_accuracy"], abs=0.1)
    assert report["model_version"] == 1 and {r["feature"] for r in report["drift"]} >= {
        "load",
        "price",
        "region",
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--target", "lable"], "did you mean 'label'"),
        (["--target", "label", "--time-column", "whenn"], "whenn"),
    ],
)
def test_cli_bad_data_is_one_sentence(tmp_path: Path, args, needle) -> None:
    csv = _unprepared_csv(tmp_path / "sensor.csv")
    base = ["--data", str(csv), "--time-column", "when"]
    out = _cli(tmp_path / "h.duckdb", "mlops", "run", *base, *args)
    assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "h.duckdb.files").exists()  # nothing half-written


def test_monitor_without_a_champion_says_what_to_do(tmp_path: Path) -> None:
    out = _cli(tmp_path / "h.duckdb", "mlops", "monitor", "--as-of", "2011-06-01")
    assert out.returncode == 2 and "opslab mlops run" in out.stderr


@pytest.mark.shared
def test_the_pipeline_on_the_real_bike_sharing_data(tmp_path: Path, monkeypatch) -> None:
    data = shared_path("datasets")
    monkeypatch.setenv("OPSLAB_DATA_DIR", str(data))
    real = load_dataset("bike-sharing")
    store = Store(tmp_path / "h.duckdb")
    first = run_mlops_pipeline(store, "real", real, as_of="2011-04-01")
    assert first.ok, first.error
    cache = ModelCache(store, "real", real)
    late = window(real, "2012-09-01", 4)
    stale = realized_quality(cache.get(1), real, late)
    second = run_mlops_pipeline(store, "real", real, as_of="2012-08-31", trigger="drift")
    assert second.ok and second.step("evaluate").metrics["gate_decision"] == "promote"
    fresh = realized_quality(cache.get(2), real, late)
    assert fresh < stale / 2  # ridership grew 2011→2012: the first model is far off, retraining fixes it
