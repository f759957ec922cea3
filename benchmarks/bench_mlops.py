"""One MLOps training run (ingest → ... → deploy) on the simulator, per step; drift: see bench_drift."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pipelines.mlops.pipeline import run_mlops_pipeline
from pipelines.mlops.sources import load_dataset
from pipelines.store import Store


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    dataset = load_dataset("simulated")
    print(f"simulate two years ({len(dataset.frame):,} hourly rows): {time.perf_counter() - started:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        for as_of in ("2011-03-01", "2011-09-01"):
            started = time.perf_counter()
            result = run_mlops_pipeline(store, "bench", dataset, as_of=as_of)
            total = time.perf_counter() - started
            steps = "  ".join(f"{s.name} {s.duration_ms:.0f}" for s in result.steps)
            print(f"training run to {as_of}: {total:.2f} s ({result.status})  steps (ms): {steps}")


if __name__ == "__main__":
    main()
