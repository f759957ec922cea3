"""What a scenario's history says, in numbers its presets' expectations are checked against."""

from __future__ import annotations

from typing import Any

from pipelines.devops.metrics import change_failure_rate, deployment_rework_rate
from pipelines.quality import metric_named
from pipelines.scenario.settings import ScenarioSettings
from pipelines.store import Store
from pipelines.store.queries import scenario_counts

__all__ = ["check_expectations", "summarize"]


def summarize(store: Store, workspace: str) -> dict[str, Any]:
    summary: dict[str, Any] = dict(scenario_counts(store, workspace))
    metric = summary.get("quality_metric") or "mae"
    sign = 1 if metric_named(metric).lower_is_better else -1
    never, production = summary.get("mean_quality_never_retrained"), summary.get("mean_quality")
    # Positive when production (with retraining) did better than the never-retrained first model.
    summary["retraining_gain"] = (
        sign * (never - production) if never is not None and production is not None else None
    )
    second = summary.pop("gain_second_half")
    summary["retraining_gain_after_shock"] = sign * second if second is not None else None
    summary["change_failure_rate"] = change_failure_rate(store, workspace).value
    summary["deployment_rework_rate"] = deployment_rework_rate(store, workspace).value
    return summary


def check_expectations(settings: ScenarioSettings, summary: dict[str, Any]) -> list[tuple[str, bool, Any]]:
    """Each promised outcome, whether it held, and the number it was judged on."""
    return [(e.says, e.holds(summary), summary.get(e.key)) for e in settings.expectations]
