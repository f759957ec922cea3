"""The played story as steps a presenter walks a room through, each one moment of the history.

A step has a title, an annotation in plain words carrying the history's own numbers (which release,
which tests caught it, how long the incident lasted, the retrain's version and trigger, the gap in the
metric's units), the time range the Timeline zooms to and where its marker goes. Steps come from the
workspace's rows (`scenario_history` and `story_moments`), never from a preset's narrative, so a
custom play gets its own steps; a moment the play did not have is no step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.keys import format_duration
from pipelines.quality import metric_named
from pipelines.scenario.outcomes import PlayedHistory, describe_outcomes, week_of
from pipelines.scenario.settings import CALENDAR_COLUMNS
from pipelines.scenario.summary import played_history
from pipelines.store import Store
from pipelines.store.moments_sql import story_moments

__all__ = ["STEP_KEYS", "StoryStep", "read_story_steps", "story_steps"]

# The moments in the order a presenter tells them.
STEP_KEYS = ("play", "caught-bug", "escaped-bug", "retrain", "gap")
_AROUND = pd.Timedelta(weeks=2)  # how much of the weeks around a moment its zoom shows
_TRIGGER_WORDS = {
    "drift": "on drift",
    "performance": "on quality decay",
    "estimated": "on estimated quality decay",
    "schedule": "on schedule",
    "manual": "by hand",
}


@dataclass(frozen=True)
class StoryStep:
    """One moment of the story: what to say, where the Timeline zooms and where its marker sits."""

    key: str  # one of STEP_KEYS
    title: str
    annotation: str
    start: pd.Timestamp  # the zoom's range on the scenario clock
    end: pd.Timestamp
    at: pd.Timestamp | None  # the marker; None for the whole play
    lane: str  # devops | mlops: the half of the Timeline the marker labels
    marker: str  # the marker's few words on the chart
    facts: Mapping[str, Any] = field(default_factory=dict)  # the numbers the annotation states


def _when(moment: Any) -> str:
    stamp = pd.Timestamp(moment)
    return (
        stamp.strftime("%a %d %b %Y %H:%M") if stamp.hour or stamp.minute else stamp.strftime("%a %d %b %Y")
    )


def _listed(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _gate_words(reason: str) -> str:
    """The gate's reason without its own verdict ("keep the champion: challenger mae 20.5 vs ...")."""
    verdict, _, why = reason.partition(": ")
    return why if why and verdict in {"keep the champion", "promote"} else reason


class _Clock:
    """The play's weeks: where a moment falls and a zoom clipped to what was played."""

    def __init__(self, history: PlayedHistory) -> None:
        self.ends = history.week_ends
        self.first = self.ends.iloc[0] - pd.Timedelta(weeks=1)
        self.last = self.ends.iloc[-1]

    def week(self, moment: Any) -> int:
        return week_of(self.ends, moment)

    def around(self, start: Any, end: Any | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
        lo = max(pd.Timestamp(start) - _AROUND, self.first)
        hi = min(pd.Timestamp(end if end is not None else start) + _AROUND, self.last)
        return lo, max(hi, lo + pd.Timedelta(days=1))


def story_steps(
    history: PlayedHistory, moments: Mapping[str, pd.DataFrame], scenario: str = ""
) -> list[StoryStep]:
    """The steps of a played history (frames of `scenario_history` and `story_moments`), in order;
    empty when no week was played."""
    if history.weeks.empty:
        return []
    clock = _Clock(history)
    found = [
        _play_step(history, clock, scenario),
        _caught_bug_step(moments, clock),
        _escaped_bug_step(moments, clock),
        _retrain_step(history, moments, clock),
        _gap_step(history, clock),
    ]
    return [step for step in found if step is not None]


def _play_step(history: PlayedHistory, clock: _Clock, scenario: str) -> StoryStep:
    outcomes = {o.topic: o for o in describe_outcomes(history)}
    said = [outcomes[t].text for t in ("releases", "incidents", "retrains") if t in outcomes]
    weeks = len(history.weeks)
    name = f"{scenario}, " if scenario else ""
    return StoryStep(
        key="play",
        title=f"The play: {name}{weeks} weeks on one clock",
        annotation=f"{weeks} scenario weeks, from {_when(clock.first)} to {_when(clock.last)}. "
        + " ".join(said),
        start=clock.first,
        end=clock.last,
        at=None,
        lane="devops",
        marker="",
        facts={"weeks": weeks, "releases": outcomes["releases"].value},
    )


def _caught_bug_step(moments: Mapping[str, pd.DataFrame], clock: _Clock) -> StoryStep | None:
    caught = moments["caught"]
    if caught.empty:
        return None
    run = caught.iloc[0]
    at, names = pd.Timestamp(run["sim_time"]), [str(n) for n in run["failing"]]
    count = int(run["failing_count"]) or len(names)
    releases = moments["releases"]
    before = releases[pd.to_datetime(releases["sim_time"]) <= at]
    serving = str(before["ref"].iloc[-1]) if not before.empty else None
    # A test's own name (test_hour_24_is_midnight) says what it checks; its module path adds nothing.
    short = [name.rsplit("::", 1)[-1] for name in names]
    tests = f"{count} failing test{'s' if count != 1 else ''}" if count else "a failing test run"
    tests += f" ({_listed(short)})" if short else ""
    text = (
        f"Week {clock.week(at)}, {_when(at)}: the pipeline for the change “{run['label']}” stopped at "
        f"its test step with {tests}. The change never reached production"
        + (f": production stayed on release {serving}." if serving else ".")
        + " DevOps catches a code bug before users see it when a test checks the behaviour."
    )
    return StoryStep(
        key="caught-bug",
        title="A bug the tests caught",
        annotation=text,
        start=clock.around(at)[0],
        end=clock.around(at)[1],
        at=at,
        lane="devops",
        marker=f"stopped at test: {tests.split(' (')[0]}",
        facts={"run_id": run["run_id"], "week": clock.week(at), "failing_count": count, "failing": names,
               "serving": serving},
    )  # fmt: skip


def _escaped_bug_step(moments: Mapping[str, pd.DataFrame], clock: _Clock) -> StoryStep | None:
    incidents = moments["incidents"]
    incidents = incidents[incidents["kind"] == "service"]
    if incidents.empty:
        return None
    inc = incidents.iloc[0]
    opened = pd.Timestamp(inc["opened_sim_time"])
    shipped = pd.Timestamp(inc["cause_sim_time"]) if pd.notna(inc["cause_sim_time"]) else opened
    resolved = pd.Timestamp(inc["resolved_sim_time"]) if pd.notna(inc["resolved_sim_time"]) else None
    lasted_days = (resolved - opened) / pd.Timedelta(days=1) if resolved is not None else None
    change = (
        f" (“{inc['cause_label']}”)" if isinstance(inc["cause_label"], str) and inc["cause_label"] else ""
    )
    text = (
        f"Release {inc['cause']}{change} passed its tests and went live {_when(shipped)}, in week "
        f"{clock.week(shipped)}. At {_when(opened)} the {inc['detected_by'] or 'monitoring'} opened an "
        f"incident: {inc['summary']}."
    )
    rolled_back = isinstance(inc["rollback_ref"], str) and bool(inc["rollback_ref"])
    if rolled_back:
        text += f" Production rolled back to release {inc['rollback_ref']}"
    if lasted_days is None:
        text += "; the incident is still open." if rolled_back else " The incident is still open."
    else:
        text += ("; the" if rolled_back else " The") + f" incident lasted {format_duration(lasted_days)}."
    releases = moments["releases"]
    planned = releases[~releases["unplanned"].astype(bool)]
    fixes = planned[pd.to_datetime(planned["sim_time"]) > (resolved or opened)]
    if not fixes.empty:
        fix = fixes.iloc[0]
        text += f" The next release, {fix['ref']} (“{fix['label']}”), shipped {_when(fix['sim_time'])}."
    start, end = clock.around(shipped, resolved or opened)
    return StoryStep(
        key="escaped-bug",
        title="A bug that escaped the tests",
        annotation=text + " Tests check what someone thought to test; production finds the rest.",
        start=start,
        end=end,
        at=opened,
        lane="devops",
        marker=f"incident: release {inc['cause']}" + (f" → rollback to {inc['rollback_ref']}" if rolled_back else ""),
        facts={"release": inc["cause"], "week": clock.week(opened), "lasted_days": lasted_days,
               "rollback_to": inc["rollback_ref"] if rolled_back else None},
    )  # fmt: skip


def _retrain_step(
    history: PlayedHistory, moments: Mapping[str, pd.DataFrame], clock: _Clock
) -> StoryStep | None:
    trainings = moments["trainings"]
    retrains = trainings[(trainings["trigger"] != "initial") & (trainings["status"] == "succeeded")]
    if retrains.empty:
        return None
    on_drift = retrains[retrains["trigger"] == "drift"]
    run = (on_drift if not on_drift.empty else retrains).iloc[0]
    at, trigger = pd.Timestamp(run["sim_time"]), str(run["trigger"])
    week = clock.week(at)
    decisions = moments["decisions"].set_index("week")
    reason = decisions["retrain_reason"].get(week) if week in decisions.index else None
    text = f"Week {week}, {_when(at)}: the retraining policy retrained {_TRIGGER_WORDS.get(trigger, trigger)}"
    text += f" ({reason})." if isinstance(reason, str) and reason else "."
    drifting: list[str] = []
    if trigger == "drift":
        rows = history.feature_drift
        rows = rows[(rows["week"] == week) & rows["drifted"].astype(bool)]
        drifting = sorted(set(rows["feature"]) - CALENDAR_COLUMNS - {"prediction", "target"})
        if drifting:
            text += f" Drifting that week: {_listed(drifting, 4)}."
    version = int(run["version"]) if pd.notna(run["version"]) else None
    trained = f"model v{version}" if version is not None else "a challenger"
    verdict = "promoted it to production" if bool(run["deployed"]) else "kept the champion"
    text += f" The pipeline trained {trained} and the gate {verdict}"
    text += f": {_gate_words(run['gate_reason'])}." if isinstance(run["gate_reason"], str) else "."
    text += " No line of code changed: the data did."
    first = (
        "The first retrain on drift"
        if trigger == "drift"
        else f"The first retrain ({_TRIGGER_WORDS.get(trigger, trigger)})"
    )
    start, end = clock.around(at)
    return StoryStep(
        key="retrain",
        title=first,
        annotation=text,
        start=start,
        end=end,
        at=at,
        lane="mlops",
        marker=f"retrain {_TRIGGER_WORDS.get(trigger, trigger)}: {trained}",
        facts={"run_id": run["run_id"], "week": week, "trigger": trigger, "version": version,
               "promoted": bool(run["deployed"]), "drifting": drifting},
    )  # fmt: skip


def _gap_step(history: PlayedHistory, clock: _Clock) -> StoryStep | None:
    metric = metric_named(history.metric)
    weeks = history.weeks.dropna(subset=["quality", "quality_never_retrained"])
    gain = pd.Series(
        [metric.gain(q, n) for q, n in zip(weeks["quality"], weeks["quality_never_retrained"], strict=True)],
        index=weeks["week"].to_numpy(),
        dtype=float,
    )
    if gain.empty or (gain == 0).all():
        return None  # production served the never-retrained model every measured week: no gap to show
    widest = int(gain.abs().idxmax())
    row = weeks.set_index("week").loc[widest]
    mean_gain, mean_never = float(gain.mean()), float(weeks["quality_never_retrained"].mean())
    share = abs(mean_gain) / mean_never if mean_never else None
    label = metric.label
    saved = "saved" if gain[widest] >= 0 else "cost"
    text = (
        f"Week {widest}: the production model's {label} was {metric.format(row['quality'])} against "
        f"{metric.format(row['quality_never_retrained'])} for the first model never retrained, so retraining "
        f"{saved} {metric.format(abs(gain[widest]))} {label} that week ({metric.direction_text}). Over the "
        f"{len(gain)} weeks whose labels arrived it {'saved' if mean_gain >= 0 else 'cost'} "
        f"{metric.format(abs(mean_gain))} {label} a week on average"
        + (f", {share:.0%} of the never-retrained model's {label}." if share is not None else ".")
        + " A model decays while the world drifts, even when no line of code changes."
    )
    changed = gain[gain != 0]
    at = pd.Timestamp(row["sim_time"])
    start = max(
        pd.Timestamp(weeks.set_index("week").loc[int(changed.index[0]), "sim_time"]) - _AROUND, clock.first
    )
    return StoryStep(
        key="gap",
        title="What retraining bought: the never-retrained gap",
        annotation=text,
        start=start,
        end=clock.last,
        at=at,
        lane="mlops",
        marker=f"gap {metric.format(abs(gain[widest]))} {label}",
        facts={"week": widest, "metric": history.metric, "quality": float(row["quality"]),
               "never_retrained": float(row["quality_never_retrained"]), "gap": float(gain[widest]),
               "mean_gap": mean_gain, "weeks": len(gain), "share": share},
    )  # fmt: skip


def read_story_steps(store: Store, workspace: str) -> list[StoryStep]:
    """The steps of the workspace's play, read from its rows (empty when nothing was played)."""
    history = played_history(store, workspace)
    info = store.workspace_info(workspace) or {}
    scenario = str((info.get("settings") or {}).get("name") or info.get("scenario") or "")
    return story_steps(history, story_moments(store, workspace), scenario)
