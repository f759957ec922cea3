"""The full-story preset, everything really executed: total time and where it goes (per stage).

Target (issue 5): at most 60 s on a 2-core machine. The history is kept in .bench/ for the
dashboard benchmark.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import get_preset
from pipelines.scenario.summary import summarize
from pipelines.store import Store

BENCH_DB = Path(__file__).resolve().parents[1] / ".bench" / "opslab.duckdb"


def main(argv: list[str] | None = None) -> None:
    store = Store(BENCH_DB)
    started = time.perf_counter()
    result = run_scenario(store, "demo", get_preset("full-story"), replace=True)
    total = time.perf_counter() - started
    print(f"full-story: {result.weeks} weeks in {total:.1f} s (target <= 60 s)")
    print("stage seconds (devops runs on a worker thread, overlapping the others):")
    for stage, seconds in sorted(result.stage_seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<8} {seconds:6.1f}")
    summary = summarize(store, "demo")
    print(f"  {summary['releases']} releases, {summary['retrains']} retrains, {summary['service_incidents']} "
          f"incidents; history in {BENCH_DB}")  # fmt: skip


if __name__ == "__main__":
    main()
