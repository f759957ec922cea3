"""Evidently's DataDriftPreset on Parquet frames, timed: run by bench_drift.py in Evidently's own venv.

Usage: <evidently venv>/bin/python evidently_runner.py SPEC.json

SPEC.json: {"numerical": [...], "categorical": [...], "cases": [{"rows": n, "reference": path,
"current": path, "repeats": r}, ...]}. Prints one JSON object: {"evidently": version, "cases": [{"rows":
n, "seconds": [...], "cpu_seconds": [...], "columns": {name: {"method": ..., "drifted": bool, "score": float}}}, ...]}.

Only building the report and running it is timed (the pandas frames become Evidently datasets with
the given column types, every column's drift is computed, and its test gives the verdict: Evidently
computes the verdict either way, the test only reports it); reading the Parquet files is not. This file runs in
another interpreter and imports nothing from OpsLab.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.presets import DataDriftPreset


def _verdicts(snapshot: Any, columns: list[str]) -> dict[str, dict[str, Any]]:
    """Each column's method and score (its ValueDrift metric) and Evidently's own verdict (the metric's
    test: FAIL means drift detected), from the snapshot's dict as 0.7 lays it out."""
    result = snapshot.dict()
    verdicts: dict[str, dict[str, Any]] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift") and config["column"] in columns:
            verdicts[config["column"]] = {
                "method": config["method"],
                "threshold": float(config["threshold"]),
                "score": float(metric["value"]),
                "drifted": None,
            }
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift") and params["column"] in verdicts:
            verdicts[params["column"]]["drifted"] = test["status"] == "FAIL"
    return verdicts


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    definition = DataDefinition(numerical_columns=spec["numerical"], categorical_columns=spec["categorical"])
    columns = spec["numerical"] + spec["categorical"]
    cases = []
    for case in spec["cases"]:
        reference = pd.read_parquet(case["reference"])
        current = pd.read_parquet(case["current"])
        seconds, cpu_seconds, snapshot = [], [], None
        for _ in range(case["repeats"]):
            start, cpu_start = time.perf_counter(), time.process_time()
            report = Report([DataDriftPreset()], include_tests=True)
            snapshot = report.run(
                Dataset.from_pandas(current, data_definition=definition),
                Dataset.from_pandas(reference, data_definition=definition),
            )
            seconds.append(time.perf_counter() - start)
            cpu_seconds.append(time.process_time() - cpu_start)
        verdicts = _verdicts(snapshot, columns)
        cases.append(
            {"rows": case["rows"], "seconds": seconds, "cpu_seconds": cpu_seconds, "columns": verdicts}
        )
    print(json.dumps({"evidently": evidently_version, "cases": cases}))


if __name__ == "__main__":
    main(sys.argv[1])
