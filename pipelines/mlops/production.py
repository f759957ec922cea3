"""Model production: the champion that answers the week's data, watched, judged and replaced.

The model's counterpart of `pipelines.devops.production.Production`. The scenario clock calls it
once a week: `serve_week` notes which champion serves the batch, `monitor_week` measures drift
against that champion's reference, `maybe_retrain` lets the retraining policy decide (and runs the
MLOps pipeline when it says so), and `labels_arrive` scores the batch whose labels have come in,
for the champion that served it and for the never-retrained first model, and rolls a new champion
back when its first labelled week shows it worse than its predecessor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.mlops.monitoring import (
    BatchReport,
    ModelCache,
    drift_rows,
    monitor_batch,
    monitor_labels,
    realized_quality,
    what_users_got,
)
from pipelines.mlops.pipeline import MLOpsSettings, run_mlops_pipeline
from pipelines.mlops.policy import Decision, PolicyState, RetrainPolicy, decide_retrain, quality_decayed
from pipelines.mlops.registry import StoreRegistry
from pipelines.mlops.sources import Dataset
from pipelines.mlops.training import PRIMARY_METRIC, evaluate_predictions, predict
from pipelines.quality import metric_named
from pipelines.runner import RunResult
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = ["ModelProduction"]


class ModelProduction:
    """The models of one workspace in production, week by week on the scenario clock."""

    def __init__(
        self,
        store: Store,
        workspace: str,
        dataset: Dataset,
        *,
        training: MLOpsSettings,
        policy: RetrainPolicy,
        label_delay_weeks: int = 1,
        rollback_margin: float = 0.1,
        drift_share: float = 0.5,
        drift_threshold: float | None = None,
        share_columns: Sequence[str] | None = None,
        drift_method: str = "calibrated",
        drift_k: float = 3.0,
    ) -> None:
        self.store, self.workspace, self.dataset = store, workspace, dataset
        self.training, self.policy = training, policy
        self.label_delay_weeks, self.rollback_margin = label_delay_weeks, rollback_margin
        self.drift_share, self.drift_threshold = drift_share, drift_threshold
        self.share_columns = list(share_columns) if share_columns is not None else None
        # Recorded with every run this production triggers: what it was retrained under.
        self.monitoring = {
            "drift.method": drift_method,
            "drift.k": drift_k,
            "drift.threshold": drift_threshold,
            "drift.dataset_share": drift_share,
            "policy": asdict(policy),
            "label_delay_weeks": label_delay_weeks,
            "rollback_margin": rollback_margin,
        }
        self.models = ModelCache(
            store,
            workspace,
            dataset,
            method=drift_method,
            k=drift_k,
            holdout_fraction=training.holdout_fraction,
            seed=training.seed,
        )
        self.metric = PRIMARY_METRIC[dataset.task]
        self.first_version: int | None = None  # the never-retrained counterfactual
        self.batches: dict[int, pd.DataFrame] = {}  # week -> the batch it served
        self.served_by: dict[int, int | None] = {}  # week -> model version serving it
        self.predictions: dict[int, np.ndarray] = {}  # week -> its champion's predictions on it
        self.failed: dict[int, np.ndarray] = {}  # week -> per batch row, the service gave no answer
        self._judged: dict[int, float | None] = {}  # week -> its model's quality, judged before recorded
        self.new_model_week: dict[int, int] = {}  # model version -> first week it served
        self.week_ends: dict[int, datetime] = {}  # week -> the end of its monitoring, its drift rows' time
        self.last_retrain_week = 0
        self.drift_streak = 0
        self.labels_drifted = False  # the labels that arrived since the last monitoring drifted
        self.drift_known = False  # this week's monitoring saw drift (in the batch or in arrived labels)
        # The latest labelled week: (week, realized quality, the serving model's holdout baseline).
        self.latest_quality: tuple[int, float | None, float | None] | None = None

    # -- week 0 ----------------------------------------------------------------------------
    def train_first(self, as_of: datetime) -> RunResult:
        """The first model, on the window before the clock starts; it stays the counterfactual."""
        result = run_mlops_pipeline(
            self.store,
            self.workspace,
            self.dataset,
            as_of=as_of,
            settings=self.training,
            trigger="initial",
            monitoring=self.monitoring,
        )
        if result.ok:
            self.first_version = rec.alias_version(self.store, self.workspace, "champion")
        return result

    # -- one week ----------------------------------------------------------------------------
    def serve_week(self, week: int, batch: pd.DataFrame) -> int | None:
        """The current champion serves `batch`; returns its version (None before any model)."""
        self.batches[week] = batch
        champion = rec.alias_version(self.store, self.workspace, "champion")
        self.served_by[week] = champion
        if champion is not None:
            self.new_model_week.setdefault(champion, week)
        return champion

    def monitor_week(self, week: int, week_end: datetime) -> dict[str, Any]:
        """Drift of the week's batch against its champion's reference, recorded; the weekly row's
        monitoring part."""
        row: dict[str, Any] = {
            "quality_metric": self.metric,
            "quality_direction": metric_named(self.metric).direction,
        }
        batch, champion = self.batches[week], self.served_by[week]
        self.drift_known = False
        if champion is None or batch.empty:
            return row
        handle = self.models.get(champion)
        self.week_ends[week] = week_end
        report = monitor_batch(
            handle,
            self.dataset,
            batch,
            share=self.drift_share,
            share_columns=self.share_columns,
            distance_threshold=self.drift_threshold,
        )
        rec.record_drift(
            self.store,
            drift_rows(
                report, workspace=self.workspace, week=week, sim_time=pd.Timestamp(week_end), version=champion
            ),
        )
        # What monitoring knows this week: this batch's inputs and predictions, and the labels of an
        # earlier batch that arrived since (drift of the target shows nowhere else).
        known = report.dataset_drift or self.labels_drifted
        self.labels_drifted = False
        self.drift_known = known
        self.drift_streak = self.drift_streak + 1 if known else 0
        self.predictions[week] = report.predictions
        row.update(
            {
                "drift_share": report.drift_share,
                "dataset_drift": report.dataset_drift,
                "quality_baseline": handle.baseline,
                "quality_estimated": report.quality_estimated,
            }
        )
        return row

    def maybe_retrain(
        self,
        week: int,
        week_end: datetime,
        row: dict[str, Any],
        on_retrain: Callable[[Decision], None] | None = None,
        before_install: Callable[[], None] | None = None,
    ) -> Decision:
        """The policy decides on this week's monitoring `row` (updated with the decision and the
        alarm); a retrain runs the MLOps pipeline on what is labelled by `week_end`.
        `before_install` is called before a new champion replaces the production model file (the
        scenario waits there until the week's traffic is answered by the champion that served it)."""
        quality, baseline = (
            (self.latest_quality[1], self.latest_quality[2]) if self.latest_quality else (None, None)
        )
        state = PolicyState(
            week=week,
            weeks_since_retrain=week - self.last_retrain_week,
            drift_streak=self.drift_streak,
            drift_share=row.get("drift_share"),
            quality=quality,
            baseline=baseline,
            metric=self.metric,
            estimated=row.get("quality_estimated"),
            estimated_baseline=row.get("quality_baseline"),
        )
        decision = decide_retrain(self.policy, state)
        alarm = "drift" if row.get("dataset_drift") or self.drift_known else None
        if quality_decayed(self.metric, quality, baseline, self.policy.quality_margin):
            alarm = "quality"
        row.update(
            {
                "retrain_decision": "retrain" if decision.retrain else "keep",
                "retrain_reason": decision.reason,
                "alarm": alarm,
            }
        )
        trigger = decision.trigger
        if not decision.retrain or trigger is None:
            return decision
        if on_retrain is not None:
            on_retrain(decision)
        # Train on what is labelled by now: rows older than the label delay.
        labelled_until = week_end - timedelta(weeks=self.label_delay_weeks)
        result = run_mlops_pipeline(
            self.store,
            self.workspace,
            self.dataset,
            as_of=labelled_until,
            sim_time=week_end,
            settings=self.training,
            trigger=trigger,
            data_arrived_at=week_end,
            extra_params={
                "registry": StoreRegistry(
                    self.store,
                    self.workspace,
                    before_install=functools.partial(self._installing, before_install),
                )
            },
            monitoring=self.monitoring,
        )
        self.last_retrain_week = week
        if result.ok:
            self.drift_streak = 0
        return decision

    def _installing(self, before_install: Callable[[], None] | None, version: int) -> None:
        """A new champion is about to be installed: its monitoring handle starts loading meanwhile
        (the next week's monitoring needs it), then the caller's `before_install` is waited for."""
        self.models.prefetch(version)
        if before_install is not None:
            before_install()

    def note_failures(self, week: int, failed: Sequence[bool]) -> None:
        """Which rows of `week`'s batch the service failed to answer (the rows of failed requests,
        or of requests no server took): realized quality counts them as failures."""
        mask = np.asarray(failed, dtype=bool)
        batch = self.batches.get(week)
        if batch is not None and len(mask) == len(batch) and mask.any():
            self.failed[week] = mask

    def labels_arrive(self, week: int) -> None:
        """Labels of the batch served `label_delay_weeks` ago arrive: its realized quality, for the
        model that served it and for the never-retrained first model; a new champion worse than its
        predecessor on its first labelled week is rolled back (`judge_labels`, then `record_labels`).

        The recorded quality is what users got: rows the service failed count as failures
        (`what_users_got`), for the never-retrained model too (the same service would have failed
        them). The retraining policy and the rollback judge the model alone: a retrain or a model
        rollback cannot mend a broken service, DevOps' rollback does."""
        self.judge_labels(week)
        self.record_labels(week)

    def judge_labels(self, week: int) -> None:
        """The part of `labels_arrive` the next week's serving waits for: the serving model's quality
        on the arrived labels, and the rollback of a new champion that does worse than its predecessor."""
        labelled_week = week - self.label_delay_weeks
        batch = self.batches.get(labelled_week)
        version = self.served_by.get(labelled_week)
        if batch is None or batch.empty or version is None:
            return
        model_quality = self._quality(version, batch, self.predictions.get(labelled_week))
        self._judged[labelled_week] = model_quality
        if self.new_model_week.get(version) == labelled_week and model_quality is not None:
            self._roll_back_if_worse(labelled_week, version, batch, model_quality)

    def record_labels(self, week: int) -> None:
        """The rest of `labels_arrive`, which the next week's serving does not wait for: the week's
        realized quality as users got it and the never-retrained model's, and the labels' drift.
        Recorded before the next week is monitored (its policy reads `latest_quality`)."""
        labelled_week = week - self.label_delay_weeks
        batch = self.batches.get(labelled_week)
        version = self.served_by.get(labelled_week)
        if batch is None or batch.empty or version is None:
            return
        predictions = self.predictions.pop(labelled_week, None)
        failed = self.failed.pop(labelled_week, None)
        if labelled_week in self._judged:
            model_quality = self._judged.pop(labelled_week)
        else:
            model_quality = self._quality(version, batch, predictions)
        quality = self._quality(version, batch, predictions, failed) if failed is not None else model_quality
        if self.first_version == version:  # production still serves the never-retrained model
            never = quality
        elif self.first_version:
            never = self._quality(self.first_version, batch, None, failed)
        else:
            never = None
        self.store.update_rows(
            "weekly",
            {"workspace": self.workspace, "week": labelled_week},
            quality=quality,
            quality_never_retrained=never,
        )
        self.latest_quality = (labelled_week, model_quality, self.models.get(version).baseline)
        self._target_drift(labelled_week, version, batch)

    def _target_drift(self, week: int, version: int, batch: pd.DataFrame) -> None:
        """Drift of the labels that arrived, recorded with the week they belong to; calibrated
        monitoring counts it as that week's dataset drift (prior drift shows nowhere else)."""
        handle = self.models.get(version)
        table = monitor_labels(handle, self.dataset, batch)
        if table is None or week not in self.week_ends:
            return
        report = BatchReport(table, 0.0, False, np.empty(0))
        rec.record_drift(
            self.store,
            drift_rows(report, workspace=self.workspace, week=week, sim_time=pd.Timestamp(self.week_ends[week]),
                       version=version),
        )  # fmt: skip
        if handle.features.method == "calibrated" and bool(table["drifted"].iloc[0]):
            self.store.update_rows("weekly", {"workspace": self.workspace, "week": week}, dataset_drift=True)
            self.labels_drifted = True

    def _quality(
        self,
        version: int,
        batch: pd.DataFrame,
        predictions: np.ndarray | None,
        failed: np.ndarray | None = None,
    ) -> float | None:
        """The realized quality of model `version` on the labelled rows of `batch`, from the
        predictions monitoring made (the same model on the same rows: the same numbers without
        predicting again) or anew; with `failed` rows scored as what users got."""
        handle = self.models.get(version)
        labelled = batch[self.dataset.target].notna().to_numpy()
        if not labelled.any():
            return None
        if predictions is None:
            predictions = predict(handle.model, batch)
        got = what_users_got(self.dataset.task, predictions, failed)
        truth = batch.loc[labelled, self.dataset.target]
        if failed is not None and self.dataset.task == "classification":
            # "no answer" beside number-coded classes: compare as text, so it matches no label.
            truth, got = truth.astype(str), got.astype(str)
        value = evaluate_predictions(self.dataset.task, truth, got[labelled]).get(self.metric)
        if value is None and failed is None:  # a metric that needs probabilities
            return realized_quality(handle, self.dataset, batch)
        return value

    # -- rollback --------------------------------------------------------------------------
    def _roll_back_if_worse(
        self, labelled_week: int, version: int, batch: pd.DataFrame, quality: float
    ) -> None:
        """If the champion's predecessor does better by the margin on the same labelled batch, the
        predecessor is redeployed: an incident opened and resolved by the rollback."""
        previous = self.served_by.get(labelled_week - 1)
        if (
            previous is None
            or previous == version
            or rec.alias_version(self.store, self.workspace, "champion") != version
        ):
            return
        before = realized_quality(self.models.get(previous), self.dataset, batch)
        if not quality_decayed(self.metric, quality, before, self.rollback_margin):
            return
        sim_time = batch[self.dataset.time_column].max().to_pydatetime()
        summary = (
            f"model v{version} {self.metric} {quality:.4g} vs its predecessor v{previous} {before:.4g} "
            f"on the same labelled week"
        )
        self.roll_back(version, previous, sim_time=sim_time, summary=summary)

    def roll_back(self, version: int, previous: int, *, sim_time: datetime, summary: str) -> None:
        """Replace champion `version` by `previous` in production, recorded as an incident it resolves."""
        current = rec.current_deployment(self.store, self.workspace, "model")
        incident = rec.open_incident(
            self.store,
            workspace=self.workspace,
            kind="model",
            sim_time=sim_time,
            cause=f"v{version}",
            cause_deployment_id=current["deployment_id"] if current else None,
            detected_by="quality check on arrived labels",
            summary=summary,
        )
        row = rec.model_version(self.store, self.workspace, previous)
        if row is None:
            raise OpsLabError(f"model v{previous} is not in the registry of {self.workspace!r}")
        rec.move_alias(
            self.store,
            workspace=self.workspace,
            alias="champion",
            version=previous,
            sim_time=sim_time,
            reason=f"rollback: {summary}",
        )
        rollback, _ = StoreRegistry(self.store, self.workspace).deploy(
            previous,
            path=Path(row["path"]),
            sha256=row["sha256"],
            run_id=None,
            sim_time=sim_time,
            commit_time=None,
            reason=f"rollback: {summary}",
            unplanned=True,
        )
        if current is not None:
            rec.mark_deployment_rolled_back(self.store, current["deployment_id"])
        rec.resolve_incident(self.store, incident, sim_time=sim_time, rollback_deployment_id=rollback)
