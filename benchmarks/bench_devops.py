"""One cold and one cached DevOps pipeline run (checkout → build → test → deploy), per step."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from pipelines.devops.pipeline import run_devops_pipeline
from pipelines.devops.production import Production
from pipelines.devops.repo import head
from pipelines.devops.workflow import ensure_repo
from pipelines.store import Store


def main(argv: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        production = Production(store, "bench")
        try:
            when = datetime(2011, 3, 1, 9)
            repo = ensure_repo(store, "bench", when)
            print(f"{'run':<8} {'total s':>8}  steps (ms)")
            for label, offset in (("cold", 0), ("cached", 1)):
                started = time.perf_counter()
                result = run_devops_pipeline(store, "bench", production, repo=repo, commit=head(repo),
                                             sim_time=when + timedelta(days=offset))  # fmt: skip
                total = time.perf_counter() - started
                steps = "  ".join(f"{s.name} {s.status} {s.duration_ms:.0f}" for s in result.steps)
                print(f"{label:<8} {total:>8.2f}  {steps}")
        finally:
            production.close()
    print("(deploy includes starting the server and 20 smoke requests; with a scikit-learn champion the start "
          "costs ~1.2 s more, almost all of it importing scikit-learn)")  # fmt: skip


if __name__ == "__main__":
    main()
