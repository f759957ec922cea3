"""What the Control room asks the CLI to do: pure functions from knobs to `opslab` arguments.

The browser never runs a pipeline in the Streamlit process: it starts the same CLI a terminal
user would (see dashboard/jobs.py), so both paths are one code path and the CLI's checks apply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Injection",
    "ScenarioKnobs",
    "devops_args",
    "mlops_args",
    "reset_args",
    "save_upload",
    "scenario_args",
]


@dataclass(frozen=True)
class Injection:
    type: str  # covariate | prior | concept
    pattern: str  # sudden | gradual | incremental | recurring
    onset_week: int
    magnitude: float
    feature: str = "temp"
    duration_weeks: int | None = None


@dataclass(frozen=True)
class ScenarioKnobs:
    preset: str
    seed: int
    weeks: int
    release_every: int | None = None
    injection: Injection | None = None
    policy: str | None = None
    every_weeks: int | None = None
    drift_weeks: int | None = None
    quality_margin: float | None = None
    drift_threshold: float | None = None
    label_delay_weeks: int | None = None
    data: str | None = None  # None: the preset's; simulated | bike-sharing | a file path
    time_column: str | None = None
    target: str | None = None
    replace: bool = False


def scenario_args(k: ScenarioKnobs) -> list[str]:
    args = ["scenario", "run", k.preset, "--seed", str(k.seed), "--weeks", str(k.weeks), "--json"]
    if k.release_every:
        args += ["--release-every", str(k.release_every)]
    if k.injection is not None:
        i = k.injection
        spec = f"{i.type}:{i.pattern}:onset_week={i.onset_week}:magnitude={i.magnitude}:feature={i.feature}"
        if i.duration_weeks:
            spec += f":duration_weeks={i.duration_weeks}"
        args += ["--inject", spec]
    sets = {
        "policy.kind": k.policy, "policy.every_weeks": k.every_weeks, "policy.drift_weeks": k.drift_weeks,
        "policy.quality_margin": k.quality_margin, "drift_threshold": k.drift_threshold,
        "label_delay_weeks": k.label_delay_weeks,
    }  # fmt: skip
    if k.data:
        sets.update({"data": k.data, "time_column": k.time_column, "target": k.target})
    for knob, value in sets.items():
        if value is not None:
            args += ["--set", f"{knob}={value}"]
    if k.replace:
        args.append("--replace")
    return args


def devops_args(change: str | None) -> list[str]:
    return ["devops", "run", "--json", *(["--change", change] if change else [])]


def mlops_args(*, as_of: str, window_weeks: float, trigger: str) -> list[str]:
    return ["mlops", "run", "--data", "workspace", "--as-of", as_of, "--window-weeks", f"{window_weeks:g}",
            "--trigger", trigger, "--json"]  # fmt: skip


def reset_args(workspace: str) -> list[str]:
    return ["workspace", "reset", workspace]


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def save_upload(directory: Path, name: str, content: bytes) -> Path:
    """Keep an uploaded file beside the database, named by its content (a re-upload is the same file)."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"{name} is not a .csv or .parquet file")
    digest = hashlib.sha256(content).hexdigest()[:12]
    target = directory / f"{digest}-{_SAFE.sub('_', Path(name).stem)[:40]}{suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(suffix + ".tmp")
        tmp.write_bytes(content)
        tmp.replace(target)
    return target
