"""Play times of the workshop presets and of full-story, everything really executed.

Each play is what a seat waits for: `opslab scenario run NAME` in a new process, timed from its
start to its exit (interpreter and imports included), beside the engine's own seconds as the CLI
prints them and the CPU seconds the play used (its servers and test runs included). Targets
(issue 9): a workshop preset in at most 10 s and full-story in at most 30 s on a quiet 2-core
machine; the load average is printed with the figures, since a busy machine makes every play
slower. The full-story history is kept in .bench/ for the dashboard benchmark.

`python -m benchmarks.bench_scenario [--runs N] [--full-runs N]`: plays per workshop preset (median,
default 3) and of full-story (default 1).
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.scenario.presets import DEFAULT_PRESET, WORKSHOP_PRESETS

BENCH_DB = Path(__file__).resolve().parents[1] / ".bench" / "opslab.duckdb"
WORKSHOP_TARGET_S = 10.0
FULL_STORY_TARGET_S = 30.0
_ENGINE_SECONDS = re.compile(r"weeks into workspace .* in ([0-9.]+) s$", re.MULTILINE)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def play(name: str, db: Path) -> tuple[float, float | None, float]:
    """Wall seconds of one `scenario run` process, the engine's seconds it printed, and the CPU
    seconds of the play and the processes it waited for (its servers and test runs): on a busy
    machine the wall time says more about the neighbours, the CPU time about the play."""
    command = [sys.executable, "-m", "pipelines", "--db", str(db), "scenario", "run", name, "--replace"]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    found = _ENGINE_SECONDS.search(done.stdout)
    return wall, float(found.group(1)) if found else None, cpu


def play_full_story() -> tuple[float, float | None, float]:
    """Play full-story into the benchmark history (the dashboard benchmark reads it)."""
    BENCH_DB.parent.mkdir(parents=True, exist_ok=True)
    return play(DEFAULT_PRESET, BENCH_DB)


def _option(argv: list[str], name: str, default: int) -> int:
    if name in argv and argv.index(name) + 1 < len(argv):
        return max(1, int(argv[argv.index(name) + 1]))
    return default


def _line(name: str, results: list[tuple[float, float | None, float]], target: float) -> str:
    wall = statistics.median(r[0] for r in results)
    engine = [r[1] for r in results if r[1] is not None]
    inside = f"engine {statistics.median(engine):5.1f} s" if engine else "engine    n/a"
    cpu = statistics.median(r[2] for r in results)
    verdict = "met" if wall <= target else "NOT met"
    runs = f"median of {len(results)}" if len(results) > 1 else "1 run"
    return (
        f"  {name:<22} {wall:5.1f} s ({runs}; {inside}; CPU {cpu:5.1f} s)  target <= {target:g} s: {verdict}"
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(argv or [])
    runs, full_runs = _option(argv, "--runs", 3), _option(argv, "--full-runs", 1)
    cores = os.cpu_count()
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f} at the start (quiet is below 0.5)")
    print("play time of `opslab scenario run`, process start to exit:")
    with tempfile.TemporaryDirectory(prefix="opslab-bench-") as tmp:
        for name in WORKSHOP_PRESETS:
            results = [play(name, Path(tmp) / f"{name}-{i}.duckdb") for i in range(runs)]
            print(_line(name, results, WORKSHOP_TARGET_S), flush=True)
    results = [play_full_story() for _ in range(full_runs)]
    print(_line(DEFAULT_PRESET, results, FULL_STORY_TARGET_S))
    print(f"load average {os.getloadavg()[0]:.1f} at the end; full-story history in {BENCH_DB}")


if __name__ == "__main__":
    main(sys.argv[1:])
