"""The MLOps steps write to the history only through a narrow registry, so they run without a store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.mlops.pipeline import MLOpsSettings, mlops_steps
from pipelines.mlops.registry import NewVersion
from pipelines.mlops.simulator import SimulatorSettings
from pipelines.mlops.sources import load_dataset
from pipelines.runner import StepContext, StepSkipped


class FakeRegistry:
    """An in-memory registry: what the steps asked for, and nothing else."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions: dict[int, NewVersion] = {}
        self.aliases: dict[str, int] = {}
        self.deployed: list[tuple[int, Path]] = []

    def champion(self) -> tuple[int, Path] | None:
        version = self.aliases.get("champion")
        return (version, self.versions[version].path) if version is not None else None

    def models_dir(self) -> Path:
        return self.root / "models"

    def next_version(self) -> int:
        return max(self.versions, default=0) + 1

    def register(self, version: int, model: NewVersion, *, promote: bool, reason: str) -> None:
        self.versions[version] = model
        self.aliases["challenger"] = version
        if promote:
            self.aliases["champion"] = version

    def deploy(self, version: int, *, path: Path, **_: Any) -> tuple[str, Path]:
        self.deployed.append((version, path))
        return f"deployment-{len(self.deployed)}", path


def _run_steps(registry: FakeRegistry, as_of: pd.Timestamp, tmp_path: Path, run_id: str) -> dict[str, Any]:
    dataset = load_dataset("simulated", simulator=SimulatorSettings(weeks=12, seed=5))
    params = {"dataset": dataset, "settings": MLOpsSettings(window_weeks=4), "as_of": as_of,
              "registry": registry, "trigger": "manual", "reference": None}  # fmt: skip
    ctx = StepContext("demo", run_id, datetime(2011, 3, 1), tmp_path / run_id, params, {})
    for step in mlops_steps():
        try:
            ctx.outputs[step.name] = step.func(ctx).outputs
        except StepSkipped:
            ctx.outputs[step.name] = {}
    return ctx.outputs


def test_the_steps_train_register_and_deploy_through_the_registry_alone(tmp_path: Path) -> None:
    registry = FakeRegistry(tmp_path)
    outputs = _run_steps(registry, pd.Timestamp("2011-03-01"), tmp_path, "r1")
    assert outputs["evaluate"]["promote"]  # no champion yet: the first model is promoted
    assert registry.aliases == {"challenger": 1, "champion": 1}
    assert registry.deployed == [(1, tmp_path / "models" / "v1.pkl")]
    assert registry.versions[1].path.exists() and registry.versions[1].run_id == "r1"
    # A second training is gated against the champion the registry names.
    again = _run_steps(registry, pd.Timestamp("2011-03-01"), tmp_path, "r2")
    assert again["evaluate"]["promote"] is False  # the same window does not beat its twin by the margin
    assert registry.aliases == {"challenger": 2, "champion": 1} and len(registry.deployed) == 1
