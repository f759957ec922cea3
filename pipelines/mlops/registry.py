"""What the MLOps steps may do to the run history: a narrow model registry, not the whole store.

The steps read the champion, register a new version with its aliases and deploy a version through
this interface; `StoreRegistry` is the real one over a `Store`, and a test can hand the steps any
object of the same shape (see tests/test_mlops_registry.py), so the steps need no database.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipelines.store import Store
from pipelines.store import records as rec

__all__ = [
    "ModelRegistry",
    "NewVersion",
    "StoreRegistry",
    "install_production_model",
    "production_model_path",
]


@dataclass(frozen=True)
class NewVersion:
    """A trained model as the register step hands it over."""

    run_id: str
    path: Path
    sha256: str
    metrics: dict[str, Any]
    dataset: str
    task: str
    window_start: datetime
    window_end: datetime
    data_fingerprint: str
    settings_hash: str
    sim_time: datetime | None


class ModelRegistry(Protocol):
    def champion(self) -> tuple[int, Path] | None:
        """The version the `champion` alias points at, and its model file."""

    def models_dir(self) -> Path:
        """Where registered model files are kept."""

    def next_version(self) -> int: ...

    def register(self, version: int, model: NewVersion, *, promote: bool, reason: str) -> None:
        """Record `version` as the challenger, and as the champion when `promote`, in one transaction."""

    def deploy(
        self,
        version: int,
        *,
        path: Path,
        sha256: str,
        run_id: str | None,
        sim_time: datetime | None,
        commit_time: datetime | None,
        reason: str,
        unplanned: bool = False,
    ) -> tuple[str, Path]:
        """Put `version` into production (`unplanned`: a rollback); the deployment's id and the
        production model's path."""


def production_model_path(store: Store, workspace: str) -> Path:
    """The file the service loads; a model deploy replaces it atomically."""
    return store.files_dir(workspace) / "production" / "model.pkl"


def install_production_model(store: Store, workspace: str, source: Path) -> Path:
    """Make the model file at `source` the one production serves, atomically (the running service
    never reads half a model and picks the new one up on its next request)."""
    production = production_model_path(store, workspace)
    production.parent.mkdir(parents=True, exist_ok=True)
    tmp = production.with_suffix(".pkl.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(production)
    return production


class StoreRegistry:
    """The model registry of one workspace in a `Store`.

    `before_install`, when given, is called before a deploy replaces the production model file:
    the scenario holds a week's-end deploy until the traffic of that week has been answered.
    """

    def __init__(
        self, store: Store, workspace: str, *, before_install: Callable[[int], None] | None = None
    ) -> None:
        self.store, self.workspace = store, workspace
        self.before_install = before_install

    def champion(self) -> tuple[int, Path] | None:
        version = rec.alias_version(self.store, self.workspace, "champion")
        row = rec.model_version(self.store, self.workspace, version) if version is not None else None
        return (int(row["version"]), Path(row["path"])) if row is not None else None

    def models_dir(self) -> Path:
        return self.store.files_dir(self.workspace) / "models"

    def next_version(self) -> int:
        return rec.next_model_version(self.store, self.workspace)

    def register(self, version: int, model: NewVersion, *, promote: bool, reason: str) -> None:
        with self.store.session():
            rec.add_model_version(
                self.store,
                workspace=self.workspace,
                version=version,
                run_id=model.run_id,
                path=str(model.path),
                sha256=model.sha256,
                metrics=model.metrics,
                dataset=model.dataset,
                task=model.task,
                window_start=model.window_start,
                window_end=model.window_end,
                data_fingerprint=model.data_fingerprint,
                settings_hash=model.settings_hash,
                sim_time=model.sim_time,
            )
            aliases = [("challenger", "newly trained")] + ([("champion", reason)] if promote else [])
            for alias, why in aliases:
                rec.move_alias(
                    self.store,
                    workspace=self.workspace,
                    alias=alias,
                    version=version,
                    sim_time=model.sim_time,
                    reason=why,
                    run_id=model.run_id,
                )

    def deploy(
        self,
        version: int,
        *,
        path: Path,
        sha256: str,
        run_id: str | None,
        sim_time: datetime | None,
        commit_time: datetime | None,
        reason: str,
        unplanned: bool = False,
    ) -> tuple[str, Path]:
        if self.before_install is not None:
            self.before_install(version)
        production = install_production_model(self.store, self.workspace, path)
        deployment_id = rec.record_deployment(
            self.store,
            workspace=self.workspace,
            kind="model",
            ref=f"v{version}",
            run_id=run_id,
            sim_time=sim_time,
            artifact_sha256=sha256,
            commit_time=commit_time,
            unplanned=unplanned,
            reason=reason,
        )
        return deployment_id, production
