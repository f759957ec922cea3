"""History queries the dashboard uses, over a generated store of 100k runs.

Target (issue 2): at most 50 ms each. For comparison, MLflow 3.17's `search_runs` filtered and
sorted by a metric took 7 s over 10k runs on this kind of machine (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.store import Store
from pipelines.store.queries import runs_by_metric, runs_table, weekly_run_summary


def generate(store: Store, runs: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    kinds = np.where(rng.random(runs) < 0.5, "devops", "mlops")
    start = pd.Timestamp("2011-01-01")
    sim = start + pd.to_timedelta(np.sort(rng.integers(0, 104 * 7 * 24, runs)), unit="h")
    status = np.where(rng.random(runs) < 0.9, "succeeded", "failed")
    ids = [f"r{i:07d}" for i in range(runs)]
    store.ensure_workspace("bench")
    store.insert_frame("runs", pd.DataFrame({
        "run_id": ids, "workspace": "bench", "kind": kinds, "trigger": "schedule", "status": status,
        "sim_time": sim, "started_at": sim, "finished_at": sim, "duration_ms": rng.gamma(2, 400, runs),
    }))  # fmt: skip
    step_names = {"devops": ["checkout", "build", "test", "deploy"],
                  "mlops": ["ingest", "validate", "train", "evaluate", "register", "deploy"]}  # fmt: skip
    rows = []
    for kind, names in step_names.items():
        mask = kinds == kind
        for pos, name in enumerate(names):
            n = int(mask.sum())
            if name == "evaluate":
                metrics = [json.dumps({"mae": float(m), "rmse": float(m * 1.4)}) for m in rng.gamma(5, 8, n)]
            elif name == "test":
                metrics = [json.dumps({"passed": int(p), "failed": 0}) for p in rng.integers(10, 20, n)]
            else:
                metrics = ["{}"] * n
            rows.append(pd.DataFrame({
                "run_id": np.asarray(ids)[mask], "workspace": "bench", "position": pos, "name": name,
                "status": "succeeded", "duration_ms": rng.gamma(2, 50, n), "metrics": metrics,
            }))  # fmt: skip
    store.insert_frame("steps", pd.concat(rows, ignore_index=True))


def timed(fn, repeats: int = 7) -> tuple[float, int]:
    fn()  # warm: the first query parses the file's metadata
    times = []
    rows = 0
    for _ in range(repeats):
        t = time.perf_counter()
        rows = len(fn())
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        t = time.perf_counter()
        generate(store, args.runs)
        print(f"store: generated {args.runs:,} runs in {time.perf_counter() - t:.1f} s "
              f"({store.path.stat().st_size / 1e6:.0f} MB)")  # fmt: skip
        cases = {
            "top 100 mlops runs by evaluate.mae": lambda: runs_by_metric(
                store, "bench", kind="mlops", step="evaluate", metric="mae"),
            "top 100 devops runs by test.passed": lambda: runs_by_metric(
                store, "bench", kind="devops", step="test", metric="passed"),
            "weekly aggregates per pipeline": lambda: weekly_run_summary(store, "bench"),
            "runs table, devops (newest 1000)": lambda: runs_table(store, "bench", "devops"),
        }  # fmt: skip
        print(f"{'query':<40} {'median ms':>10} {'rows':>8}  (target <= 50 ms; incl. connection open)")
        for name, fn in cases.items():
            ms, rows = timed(fn)
            print(f"{name:<40} {ms:>10.1f} {rows:>8}")


if __name__ == "__main__":
    main()
