"""What a scenario's history says, in numbers its presets' expectations are checked against."""

from __future__ import annotations

from typing import Any

from pipelines.devops.metrics import change_failure_rate, deployment_rework_rate
from pipelines.quality import metric_named
from pipelines.scenario.outcomes import (
    BeforeAfter,
    PlayedHistory,
    ScenarioEvent,
    Story,
    check_promises,
    compare_event_facts,
    describe_outcomes,
    differences_from_preset,
    scenario_events,
)
from pipelines.scenario.presets import PRESETS
from pipelines.scenario.settings import Expectation, ScenarioSettings, settings_dict
from pipelines.store import Store
from pipelines.store.queries import scenario_counts, scenario_history

__all__ = ["check_expectations", "played_history", "summarize", "summarize_and_tell", "tell_story"]


def summarize(store: Store, workspace: str) -> dict[str, Any]:
    return _read(store, workspace)[0]


def _read(
    store: Store, workspace: str, recorded: dict[str, Any] | None = None
) -> tuple[dict[str, Any], PlayedHistory, list[ScenarioEvent], dict[str, BeforeAfter]]:
    summary: dict[str, Any] = dict(scenario_counts(store, workspace))
    metric = summary.get("quality_metric") or "mae"
    sign = 1 if metric_named(metric).lower_is_better else -1
    never, production = summary.get("mean_quality_never_retrained"), summary.get("mean_quality")
    # Positive when production (with retraining) did better than the never-retrained first model.
    summary["retraining_gain"] = (
        sign * (never - production) if never is not None and production is not None else None
    )
    summary.pop("gain_second_half")  # a shock is placed by its recorded onset instead (below)
    weeks = summary.get("weeks") or 0
    for key in ("dataset_drift_weeks", "temp_drift_weeks"):  # in percent of the weeks played
        summary[f"{key}_pct"] = 100.0 * (summary.get(key) or 0) / weeks if weeks else None
    summary["change_failure_rate"] = change_failure_rate(store, workspace).value
    summary["deployment_rework_rate"] = deployment_rework_rate(store, workspace).value
    history = played_history(store, workspace, lower_is_better=sign == 1)
    if recorded is None:
        recorded = dict((store.workspace_info(workspace) or {}).get("settings") or {})
    events = scenario_events(recorded, history.week_ends, history.datasets)
    comparisons = compare_event_facts(history, events)
    summary.update({key: comparison.change for key, comparison in comparisons.items()})
    return summary, history, events, comparisons


def played_history(store: Store, workspace: str, *, lower_is_better: bool | None = None) -> PlayedHistory:
    """The workspace's history as the story reads it; the metric's direction from its weeks unless given."""
    frames = scenario_history(store, workspace)
    if lower_is_better is None:
        metrics = frames["weeks"]["quality_metric"].dropna()
        lower_is_better = metric_named(str(metrics.iloc[0]) if not metrics.empty else "mae").lower_is_better
    return PlayedHistory(
        weeks=frames["weeks"],
        runs=frames["runs"],
        deployments=frames["deployments"],
        incidents=frames["incidents"],
        feature_drift=frames["feature_drift"],
        datasets=tuple(frames["datasets"]["dataset"]),
        data_played=_first_value(frames["played"], "data_played"),
        data_note=_first_value(frames["played"], "data_note"),
        lower_is_better=lower_is_better,
    )


def _first_value(frame: Any, column: str) -> str | None:
    if frame.empty or column not in frame or frame[column].isna().iloc[0]:
        return None
    return str(frame[column].iloc[0])


def check_expectations(settings: ScenarioSettings, summary: dict[str, Any]) -> list[tuple[str, bool, Any]]:
    """Each promised outcome, whether it held, and the number it was judged on."""
    return [(e.says, e.holds(summary), summary.get(e.key)) for e in settings.expectations]


def tell_story(store: Store, workspace: str) -> Story | None:
    """What the workspace's play was (its recorded settings), what it did, and which promises held."""
    return summarize_and_tell(store, workspace)[1]


def summarize_and_tell(store: Store, workspace: str) -> tuple[dict[str, Any], Story | None]:
    """`summarize` and `tell_story` from one reading of the history (a play's report)."""
    info = store.workspace_info(workspace)
    if info is None:
        return summarize(store, workspace), None
    recorded = dict(info.get("settings") or {})
    summary, history, events, comparisons = _read(store, workspace, recorded)
    # Only recorded settings name a preset: single runs in a workspace called `calm-seas` do not.
    name = str(recorded.get("name") or info.get("scenario") or "no scenario")
    preset = PRESETS.get(name) if recorded else None
    weeks = int(recorded.get("weeks") or len(history.weeks))
    notes, differences = [], []
    if preset is not None:
        told = preset.with_weeks(weeks)
        differences = differences_from_preset(recorded, settings_dict(told))
        if weeks != preset.weeks:
            notes.append(
                f"told in {weeks} weeks instead of the preset's {preset.weeks}, its changes and onsets scaled"
            )
        if info.get("seed") is not None and info.get("seed") != preset.seed:
            notes.append(
                f"seed {info['seed']} instead of the preset's {preset.seed}: another draw of the same world"
            )
        expectations = preset.expectations
    else:
        expectations = tuple(Expectation(**e) for e in recorded.get("expectations") or ())
    if history.data_note:  # the data its settings name was not there: another world was played
        differences.append(f"it played {history.data_played} data instead: {history.data_note}")
    if len(history.weeks) < weeks:
        notes.append(f"only {len(history.weeks)} of its {weeks} weeks were played")
    return summary, Story(
        scenario=name,
        seed=info.get("seed"),
        weeks=len(history.weeks),
        preset=preset.name if preset is not None else None,
        narrative=preset.narrative if preset is not None else str(recorded.get("narrative") or ""),
        differences=tuple(differences),
        notes=tuple(notes),
        events=tuple(events),
        outcomes=tuple(describe_outcomes(history)),
        promises=tuple(check_promises(expectations, summary, comparisons)),
    )
