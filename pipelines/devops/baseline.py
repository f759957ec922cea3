"""A baseline model file the service can serve before the MLOps half deploys a champion.

Mean hourly rentals per (working day, hour): the model everyone should beat, and a JSON file
that needs neither pandas nor scikit-learn to load.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BaselineModel", "build_baseline_model", "default_baseline_table"]


@dataclass(frozen=True)
class BaselineModel:
    path: Path
    sha256: str
    version: str


def build_baseline_model(
    path: Path, rows: Iterable[Mapping[str, Any]] | Any | None = None, *, version: str | None = None
) -> BaselineModel:
    """Write a deterministic baseline model (JSON) to ``path``, atomically.

    ``rows`` (mappings, or a DataFrame) with ``workingday``, ``hr`` and ``cnt`` give the table
    its means; without rows a built-in daily profile shaped like the UCI data is used. The
    version defaults to a hash of the table, so the same data gives the same version.
    """
    table = default_baseline_table() if rows is None else _mean_table(rows)
    default = round(sum(table.values()) / len(table), 3)
    body: dict[str, Any] = {
        "kind": "baseline",
        "keys": ["workingday", "hr"],
        "table": table,
        "default": default,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["version"] = version or "baseline-" + hashlib.sha256(canonical.encode()).hexdigest()[:8]
    data = (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a running server never sees a half-written model
    return BaselineModel(path=path, sha256=hashlib.sha256(data).hexdigest(), version=body["version"])


def default_baseline_table() -> dict[str, float]:
    """A working-day profile with commuter peaks at 8 and 17-18 h, a weekend one peaking mid-afternoon."""
    table = {}
    for hr in range(24):
        night = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (hr - 5) / 19)) if hr >= 5 else 0.15
        commute = 2.2 * math.exp(-((hr - 8) ** 2) / 1.2) + 2.6 * math.exp(-((hr - 17.5) ** 2) / 1.5)
        leisure = math.exp(-((hr - 14) ** 2) / 12)
        table[f"1-{hr}"] = round(160 * night + 190 * commute, 1)
        table[f"0-{hr}"] = round(40 * night + 340 * leisure, 1)
    return table


def _mean_table(rows: Any) -> dict[str, float]:
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for record in records:
        key = f"{int(record['workingday'])}-{int(record['hr'])}"
        sums[key] = sums.get(key, 0.0) + float(record["cnt"])
        counts[key] = counts.get(key, 0) + 1
    if not sums:
        raise ValueError("a baseline needs at least one row with workingday, hr and cnt")
    return {key: round(sums[key] / counts[key], 3) for key in sorted(sums)}
