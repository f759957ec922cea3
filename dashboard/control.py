"""What the Control room asks the CLI to do: the chosen preset plus the user's edits, as one value.

The browser never runs a pipeline in the Streamlit process: it starts the same CLI a terminal
user would (see dashboard/jobs.py), so both paths are one code path and the CLI's checks apply.
A scenario crosses over as the JSON of its `ScenarioSettings` (`scenario run --from FILE`), never
as knobs turned into argv and parsed back: that round trip lost the preset's values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.mlops.simulator import DriftInjection
from pipelines.scenario.settings import ScenarioSettings, settings_dict

__all__ = [
    "PRESET_DATA",
    "Edits",
    "build_settings",
    "devops_args",
    "edits_of",
    "knob_state",
    "mlops_args",
    "reset_args",
    "save_upload",
    "scenario_args",
    "settings_changes",
    "write_settings",
]

PRESET_DATA = "the preset's"  # the data-source choice that keeps the preset's own data


@dataclass(frozen=True)
class Edits:
    """The scenario knobs as the user left them; `edits_of(preset)` is the preset untouched."""

    seed: int
    weeks: int
    policy: str
    every_weeks: int
    drift_weeks: int
    quality_margin: float
    drift_threshold: float | None  # None: the drift rule's own thresholds
    label_delay_weeks: int
    release_every: int = 0  # 0: the preset's own release schedule
    injection: DriftInjection | None = None  # added to the simulator's own injections
    data: str | None = None  # None: the preset's; simulated | bike-sharing | a file path
    time_column: str | None = None
    target: str | None = None
    drift_method: str = "calibrated"  # calibrated | evidently (pipelines.drift)


def edits_of(preset: ScenarioSettings) -> Edits:
    p = preset.policy
    return Edits(seed=preset.seed, weeks=preset.weeks, policy=p.kind, every_weeks=p.every_weeks,
                 drift_weeks=p.drift_weeks, quality_margin=p.quality_margin,
                 drift_threshold=preset.drift_threshold, label_delay_weeks=preset.label_delay_weeks,
                 drift_method=preset.drift_method)  # fmt: skip


def build_settings(preset: ScenarioSettings, edits: Edits) -> ScenarioSettings:
    """The preset with the user's edits, in the order the CLI applies its knobs (seed, weeks, cadence,
    injection, then the rest), so `scenario show` with the same knobs gives the same value."""
    settings = dataclasses.replace(preset, seed=edits.seed).with_weeks(edits.weeks)
    if edits.release_every:
        settings = settings.with_release_every(edits.release_every)
    if edits.injection is not None:
        injections = (*settings.simulator.injections, edits.injection)
        settings = dataclasses.replace(
            settings, simulator=dataclasses.replace(settings.simulator, injections=injections)
        )
    if edits.data is not None:
        settings = dataclasses.replace(
            settings, data=edits.data, time_column=edits.time_column, target=edits.target
        )
    policy = dataclasses.replace(settings.policy, kind=edits.policy, every_weeks=edits.every_weeks,
                                 drift_weeks=edits.drift_weeks, quality_margin=edits.quality_margin)  # fmt: skip
    return dataclasses.replace(settings, policy=policy, drift_threshold=edits.drift_threshold,
                               drift_method=edits.drift_method, label_delay_weeks=edits.label_delay_weeks)  # fmt: skip


def knob_state(preset: ScenarioSettings) -> dict[str, Any]:
    """The Control room's widget values (by key) for `preset` untouched: what a preset change shows."""
    e = edits_of(preset)
    return {
        "cr_seed": e.seed, "cr_weeks": e.weeks, "cr_cadence": e.release_every, "cr_source": PRESET_DATA,
        "cr_drift_type": "none", "cr_drift_pattern": "sudden", "cr_drift_feature": "temp",
        "cr_drift_onset": int(preset.warmup_weeks) + preset.weeks // 2, "cr_drift_magnitude": 1.0,
        "cr_drift_duration": 0, "cr_policy": e.policy, "cr_every": e.every_weeks, "cr_drift_weeks": e.drift_weeks,
        "cr_margin": e.quality_margin, "cr_threshold": e.drift_threshold, "cr_delay": e.label_delay_weeks,
        "cr_drift_method": e.drift_method,
    }  # fmt: skip


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def settings_changes(preset: ScenarioSettings, settings: ScenarioSettings) -> pd.DataFrame:
    """Each setting that differs from the preset, by dotted name, with both values as JSON."""
    before, after = _flat(settings_dict(preset)), _flat(settings_dict(settings))
    rows = [{"setting": k, "preset": json.dumps(before.get(k)), "played": json.dumps(v)}
            for k, v in after.items() if before.get(k) != v]  # fmt: skip
    return pd.DataFrame(rows, columns=["setting", "preset", "played"])


def write_settings(directory: Path, settings: ScenarioSettings) -> Path:
    """Write `settings` as the JSON `scenario run --from` reads, named by its content."""
    text = json.dumps(settings_dict(settings), indent=2, sort_keys=True)
    target = directory / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    directory.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(target)
    return target


def scenario_args(settings_file: Path, *, replace: bool) -> list[str]:
    return ["scenario", "run", "--from", str(settings_file), "--json", *(["--replace"] if replace else [])]


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
