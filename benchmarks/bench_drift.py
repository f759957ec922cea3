"""Drift table speed: N vs N rows × 16 columns, and weekly batches against a cached reference.

Run: .venv/bin/python benchmarks/bench_drift.py [--quick]

Prints figures only, no assertions. The Evidently figures are DESIGN.md's measurements of
Evidently 0.7.23's DataDriftPreset on a 2-core machine; the target is 50× faster at every size.
Each size also checks that the verdicts equal a plain scipy implementation of the same rule.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.drift import ReferenceProfile, detect_drift

EVIDENTLY_SECONDS = {10_000: 1.4, 100_000: 6.2, 1_000_000: 62.0}
TARGET_SPEEDUP = 50
WEEKLY_ROWS = 168
WEEKLY_BATCHES = 100
SEASONS = np.array(["spring", "summer", "fall", "winter"])
WEATHER = np.array(["clear", "mist", "light rain", "heavy rain"])


def make_frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """16 bike-demand-like columns: 12 numeric (8 continuous, 4 discrete) and 4 categorical.

    ``shift`` moves five of them (three numeric, two categorical), so some columns drift.
    """
    season_p = np.array([0.25, 0.25, 0.25, 0.25]) + shift * np.array([0.1, -0.1, 0.05, -0.05])
    return pd.DataFrame(
        {
            "temp": rng.normal(15 + 3 * shift, 8, n),
            "atemp": rng.normal(16, 9, n),
            "humidity": rng.beta(5, 3, n),
            "windspeed": rng.gamma(2.0, 6.0 + 2 * shift, n),
            "pressure": rng.normal(1013, 7, n),
            "rain_mm": rng.exponential(1.0, n),
            "lag_demand": rng.lognormal(5 + 0.3 * shift, 0.6, n),
            "trend": rng.uniform(0, 1, n),
            "hour": rng.integers(0, 24, n),
            "weekday": rng.integers(0, 7, n),
            "visibility_km": rng.integers(1, 21, n).astype(float),
            "weathersit": rng.choice([1, 2, 3, 4], n, p=[0.6, 0.25, 0.1, 0.05]),
            "season": rng.choice(SEASONS, n, p=season_p / season_p.sum()),
            "weather": pd.Categorical(rng.choice(WEATHER, n, p=[0.55, 0.25, 0.15, 0.05])),
            "holiday": rng.random(n) < 0.03 + 0.05 * shift,
            "station": rng.choice(np.array([f"S{i:02d}" for i in range(30)]), n),
        }
    )


def scipy_reference(reference: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The same rule written plainly with scipy, column by column, as Evidently's stattests do."""
    rows = []
    for name in reference.columns:
        ref, cur = reference[name].dropna(), current[name].dropna()
        numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        few = not numeric or ref.nunique() <= 5
        large = len(ref) > 1000
        if not few:
            if large:
                test = "wasserstein"
                statistic = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
                drifted = statistic >= 0.1
            else:
                test = "ks"
                statistic = stats.ks_2samp(ref, cur).pvalue
                drifted = statistic < 0.05
        else:
            keys = list(set(ref.unique()) | set(cur.unique()))
            ref_counts = ref.value_counts().reindex(keys, fill_value=0).to_numpy(dtype=float)
            cur_counts = cur.value_counts().reindex(keys, fill_value=0).to_numpy(dtype=float)
            if large:
                test = "jensenshannon"
                statistic = distance.jensenshannon(ref_counts / len(ref), cur_counts / len(cur))
                drifted = statistic >= 0.1
            else:
                test = "chisquare"
                statistic = stats.chisquare(cur_counts, ref_counts * len(cur) / len(ref)).pvalue
                drifted = statistic < 0.05
        rows.append({"feature": name, "test": test, "statistic": float(statistic), "drifted": bool(drifted)})
    return pd.DataFrame(rows)


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows only")
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    repeats = {10_000: 15, 100_000: 7, 1_000_000: 3}

    print("Drift table, N vs N rows × 16 columns (12 numeric, 4 categorical); medians")
    print(f"(load average before: {load_average()}; other processes on this machine slow every figure)")
    header = (
        f"{'rows':>9}  {'detect_drift':>12}  {'1 thread':>9}  {'profile':>9}  {'Evidently':>9}  "
        f"{'speed-up':>8}  {'target':>8}  {'scipy rule':>10}  verdicts"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        rng = np.random.default_rng(n)
        reference, current = make_frame(rng, n, 0.0), make_frame(rng, n, 1.0)
        result = detect_drift(reference, current)  # warm-up, and the verdicts to check
        auto = median_seconds(lambda r=reference, c=current: detect_drift(r, c), repeats[n])
        serial = median_seconds(lambda r=reference, c=current: detect_drift(r, c, workers=1), repeats[n])
        build = median_seconds(lambda r=reference: ReferenceProfile.from_frame(r), repeats[n])
        start = time.perf_counter()
        expected = scipy_reference(reference, current)
        scipy_seconds = time.perf_counter() - start
        same = (result["test"].tolist() == expected["test"].tolist()) and (
            result["drifted"].tolist() == expected["drifted"].tolist()
        )
        evidently = EVIDENTLY_SECONDS[n]
        print(
            f"{n:>9,}  {auto * 1e3:>9.1f} ms  {serial * 1e3:>6.1f} ms  {build * 1e3:>6.1f} ms  "
            f"{evidently:>7.1f} s  {evidently / auto:>7.0f}×  {evidently / TARGET_SPEEDUP * 1e3:>5.0f} ms  "
            f"{scipy_seconds:>8.2f} s  {'identical' if same else 'DIFFER'} "
            f"({int(result['drifted'].sum())}/16 drifted)"
        )
    print(
        "detect_drift = profile the reference + compare; default threads: one per core from 250k rows "
        "('1 thread' forces workers=1)."
    )

    rng = np.random.default_rng(168)
    profile = ReferenceProfile.from_frame(make_frame(rng, 10_000, 0.0))
    batches = [make_frame(rng, WEEKLY_ROWS, 0.5 * (week % 3)) for week in range(WEEKLY_BATCHES)]
    for batch in batches[:5]:
        profile.compare(batch)  # warm-up
    times = []
    for batch in batches:
        start = time.perf_counter()
        profile.compare(batch)
        times.append(time.perf_counter() - start)
    print(f"(load average after: {load_average()})")
    print()
    print(
        f"Weekly batch: {WEEKLY_ROWS} rows × 16 columns against a cached 10,000-row profile: "
        f"median {statistics.median(times) * 1e3:.2f} ms, p95 {np.percentile(times, 95) * 1e3:.2f} ms "
        f"over {WEEKLY_BATCHES} batches"
    )


if __name__ == "__main__":
    main()
