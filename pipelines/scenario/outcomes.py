"""What a play did, told from its history, and whether it kept its preset's promises.

A preset's narrative is its intent. What the pages state as outcome comes from here: pure
functions over the workspace's history (frames read by `pipelines.store.queries.scenario_history`)
and its recorded settings, which say what was actually played (a `--set`, an injection or a CSV
makes a different play than the preset's name suggests).

Promises about an event (an upstream data bug, a drift injection) are judged on the weeks from the
event on against the weeks before it, so a signal that fires every week cannot pass for a warning.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipelines.keys import format_duration
from pipelines.scenario.settings import CALENDAR_COLUMNS, Expectation

__all__ = [
    "EVENT_FACTS",
    "BeforeAfter",
    "Outcome",
    "PlayedHistory",
    "PromiseCheck",
    "ScenarioEvent",
    "Story",
    "check_promises",
    "compare_event_facts",
    "describe_outcomes",
    "differences_from_preset",
    "scenario_events",
    "week_of",
]

# Settings that do not change the story a preset tells: its words, and the random draw.
_NOT_THE_STORY = frozenset({"name", "narrative", "expectations", "fallback_note"})
_FAILED_STEP_WORDS = {"test": "caught by tests", "build": "failed to build", "deploy": "failed at deploy"}


@dataclass(frozen=True)
class PlayedHistory:
    """A workspace's history as the story reads it; frames as `scenario_history` returns them."""

    weeks: pd.DataFrame  # week, sim_time (the week's end), quality, quality_never_retrained, ...
    runs: pd.DataFrame  # kind, trigger, status, sim_time, failed_step
    deployments: pd.DataFrame  # kind, ref, sim_time, unplanned, rolled_back
    incidents: pd.DataFrame  # kind, opened_sim_time, resolved_sim_time, detected_by, rolled_back
    feature_drift: pd.DataFrame  # week, feature, drifted
    datasets: tuple[str, ...] = ()  # what the models learnt from
    data_played: str | None = None  # the data the latest scenario run played
    data_note: str | None = None  # why it was not the data its settings name (a fallback), if so
    lower_is_better: bool = True  # the direction of weeks.quality

    @property
    def metric(self) -> str:
        metrics = self.weeks.get("quality_metric", pd.Series(dtype=object)).dropna()
        return str(metrics.iloc[0]) if not metrics.empty else "mae"

    @property
    def week_ends(self) -> pd.Series:
        return pd.to_datetime(self.weeks["sim_time"]).reset_index(drop=True)

    def retrains(self) -> pd.DataFrame:
        """MLOps runs after the first model: the initial training is not a retrain."""
        runs = self.runs[self.runs["kind"] == "mlops"]
        runs = runs[runs["trigger"] != "initial"]
        if not (self.runs["trigger"] == "initial").any() and not runs.empty:
            # Histories from before the `initial` trigger: the first training is the earliest run.
            runs = runs[runs["sim_time"] > runs["sim_time"].min()]
        return runs


@dataclass(frozen=True)
class Outcome:
    """One statement of what happened, with the number it rests on."""

    lifecycle: str  # devops | mlops
    topic: str
    text: str
    value: float | None = None


@dataclass(frozen=True)
class ScenarioEvent:
    """A change the recorded settings put into the play, placed in the scenario week it began."""

    kind: str  # upstream | injection
    column: str
    what: str
    week: int | None  # None: set for after the play ended
    drift_type: str | None = None

    def when(self) -> str:
        return f"week {self.week}" if self.week is not None else "after the play ended"


@dataclass(frozen=True)
class BeforeAfter:
    """A weekly measure in the weeks from an event on against the weeks before it."""

    key: str
    measure: str
    event: ScenarioEvent | None
    before: float | None = None
    before_weeks: int = 0
    after: float | None = None
    after_weeks: int = 0
    percent: bool = False
    ratio: bool = False  # judged as after / before (a score with no natural zero), else after - before
    missing: str | None = None  # why there is nothing to compare

    @property
    def change(self) -> float | None:
        """After against before. A difference with no week before is judged against zero; a ratio
        needs a week before it, since a drift score is never zero on its own."""
        if self.missing is not None or self.after is None:
            return None
        if self.ratio:
            return self.after / self.before if self.before else None
        return self.after - (self.before if self.before is not None else 0.0)

    def _number(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.0%}" if self.percent else f"{value:.3g}"

    def sentence(self) -> str:
        if self.missing is not None:
            return self.missing
        assert self.event is not None
        after = f"{self.measure}: {self._number(self.after)} over the {self.after_weeks} weeks"
        after += f" from {self.event.when()} on"
        if self.before_weeks == 0:
            against = "nothing to tell a rise by" if self.ratio else "judged against 0"
            return f"{after}, with no week before it to compare ({against})"
        before = f"{after}, {self._number(self.before)} over the {self.before_weeks} weeks before"
        return before + (
            f": {self.change:.2g} times as high" if self.change is not None and self.ratio else ""
        )


@dataclass(frozen=True)
class PromiseCheck:
    says: str
    held: bool
    reason: str
    value: Any = None


@dataclass(frozen=True)
class Story:
    """What a workspace's play was and did; the preset's narrative stays its intent."""

    scenario: str
    seed: int | None
    weeks: int
    preset: str | None  # the preset the play is named after, if it is one
    narrative: str
    differences: tuple[str, ...]  # how the recorded settings differ from the preset's
    notes: tuple[str, ...]  # variations that keep the story: fewer weeks, another seed
    events: tuple[ScenarioEvent, ...]
    outcomes: tuple[Outcome, ...]
    promises: tuple[PromiseCheck, ...] = field(default_factory=tuple)

    @property
    def follows_preset(self) -> bool:
        return self.preset is not None and not self.differences

    def outcomes_of(self, lifecycle: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.lifecycle == lifecycle]


# -- the clock ----------------------------------------------------------------------------------
def week_of(week_ends: pd.Series, when: Any) -> int:
    """The scenario week a moment falls in: week w runs up to and including its recorded end.

    0 is the set-up at the clock's start; len(week_ends) + 1 is after the play ended.
    """
    return int(weeks_of(week_ends, [when])[0])


def weeks_of(week_ends: pd.Series, moments: Iterable[Any]) -> list[int]:
    """`week_of` for many moments at once (one searchsorted: a big history has thousands)."""
    ends = pd.DatetimeIndex(pd.to_datetime(pd.Series(week_ends)))
    stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(moments), dtype=object)))
    if len(ends) == 0:
        return [0] * len(stamps)
    weeks = ends.searchsorted(stamps, side="left") + 1
    before = stamps <= ends[0] - pd.Timedelta(weeks=1)
    return [0 if early else int(w) for early, w in zip(before, weeks, strict=True)]


def _weeks_listed(weeks: Iterable[int], limit: int = 6) -> str:
    weeks = sorted(set(weeks))
    shown = ", ".join(str(w) for w in weeks[:limit]) + (", …" if len(weeks) > limit else "")
    return f"week{'s' if len(weeks) > 1 else ''} {shown}"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


# -- what the settings put into the play --------------------------------------------------------
def scenario_events(
    settings: Mapping[str, Any], week_ends: pd.Series, datasets: Sequence[str]
) -> list[ScenarioEvent]:
    """Upstream data bugs and drift injections of the recorded settings, with their scenario week.

    They act on the simulator's data only: a play on real or uploaded data has none of them.
    """
    simulator = settings.get("simulator") or {}
    simulated = settings.get("data") == "simulated" or "simulated" in datasets
    if not simulated or week_ends.empty:
        return []
    start = pd.Timestamp(simulator.get("start", "2011-01-01")).floor("h")
    played = len(week_ends)

    def place(onset_week: int) -> int | None:
        week = max(1, week_of(week_ends, start + pd.Timedelta(weeks=onset_week)))
        return week if week <= played else None

    events = [
        ScenarioEvent("upstream", u["column"], _upstream_words(u), place(u["onset_week"]))
        for u in simulator.get("upstream_changes") or ()
    ]
    events += [
        ScenarioEvent("injection", i["feature"], _injection_words(i), place(i["onset_week"]), i["type"])
        for i in simulator.get("injections") or ()
    ]
    return events


def _upstream_words(change: Mapping[str, Any]) -> str:
    share = "" if change.get("share", 1.0) >= 1.0 else f" in {change['share']:.0%} of the rows"
    return {
        "fahrenheit": f"{change['column']} arrives in Fahrenheit{share}",
        "missing": f"{change['column']} arrives empty{share}",
        "scale": f"{change['column']} arrives multiplied by {change.get('factor', 1.0):g}{share}",
    }.get(change["kind"], f"{change['column']} changes upstream ({change['kind']}){share}")


def _injection_words(injection: Mapping[str, Any]) -> str:
    if injection["type"] == "prior":
        return f"{injection['pattern']} prior drift: demand × {1 + injection['magnitude']:g}"
    return f"{injection['pattern']} {injection['type']} drift on {injection['feature']}"


# -- before and after an event ------------------------------------------------------------------
def _first(events: Sequence[ScenarioEvent], kind: str, column: str | None = None) -> ScenarioEvent | None:
    return next((e for e in events if e.kind == kind and (column is None or e.column == column)), None)


def _temp_drift_score(history: PlayedHistory) -> pd.Series:
    rows = history.feature_drift[history.feature_drift["feature"] == "temp"]
    return rows.set_index("week")["statistic"].astype(float)


def _quality_retrains(history: PlayedHistory) -> pd.Series:
    retrains = history.retrains()
    weeks = {*weeks_of(history.week_ends, retrains.loc[retrains["trigger"] == "performance", "sim_time"])}
    return pd.Series({int(w): float(w in weeks) for w in history.weeks["week"]}, dtype=float)


def _retraining_gain(history: PlayedHistory) -> pd.Series:
    sign = 1.0 if history.lower_is_better else -1.0
    weeks = history.weeks.set_index("week")
    return (sign * (weeks["quality_never_retrained"] - weeks["quality"])).astype(float).dropna()


@dataclass(frozen=True)
class _EventFact:
    event_kind: str
    column: str | None
    event_words: str
    measure: str
    series: Callable[[PlayedHistory], pd.Series]
    percent: bool = False
    ratio: bool = False


# Each promise about an event: which event, and the weekly measure compared around it.
EVENT_FACTS: dict[str, _EventFact] = {
    # The drift flag cannot carry this promise: against a fixed training window, spring warming
    # already flags temp every week. The score (how far the week moved) can: it jumps at the bug.
    "temp_drift_score_ratio_after_upstream_change": _EventFact(
        "upstream",
        "temp",
        "upstream change to temp",
        "the mean weekly drift score of temp",
        _temp_drift_score,
        ratio=True,
    ),
    "retrains_performance_rise_after_shock": _EventFact(
        "injection",
        None,
        "drift injection",
        "share of weeks with a retrain on quality decay",
        _quality_retrains,
        True,
    ),
    "retraining_gain_after_shock": _EventFact(
        "injection", None, "drift injection", "{metric} saved a week by retraining", _retraining_gain
    ),
}


def compare_event_facts(history: PlayedHistory, events: Sequence[ScenarioEvent]) -> dict[str, BeforeAfter]:
    """Each event promise's measure, from the event's week on against the weeks before it."""
    out = {}
    for key, fact in EVENT_FACTS.items():
        event = _first(events, fact.event_kind, fact.column)
        measure = fact.measure.format(metric=history.metric.upper())
        base = BeforeAfter(key, measure, event, percent=fact.percent, ratio=fact.ratio)
        if event is None:
            out[key] = dataclasses.replace(
                base, missing=f"the play had no {fact.event_words}: its settings hold none"
            )
            continue
        if event.week is None:
            out[key] = dataclasses.replace(
                base, missing=f"the {fact.event_words} was set for after the play's last week"
            )
            continue
        series = fact.series(history).dropna()
        before, after = series[series.index < event.week], series[series.index >= event.week]
        if after.empty:
            out[key] = dataclasses.replace(
                base, missing=f"no week from the {fact.event_words} ({event.when()}) on was measured"
            )
            continue
        out[key] = dataclasses.replace(
            base,
            before=float(before.mean()) if not before.empty else None,
            before_weeks=len(before),
            after=float(after.mean()),
            after_weeks=len(after),
        )
    return out


# -- what happened ------------------------------------------------------------------------------
def describe_outcomes(history: PlayedHistory) -> list[Outcome]:
    """Releases, caught and escaped bugs, incidents, retrains by trigger and what retraining saved."""
    return [*_devops_outcomes(history), *_mlops_outcomes(history)]


def _devops_outcomes(h: PlayedHistory) -> list[Outcome]:
    ends = h.week_ends
    deploys = h.deployments
    releases = deploys[(deploys["kind"] == "release") & ~deploys["unplanned"].astype(bool)]
    rolled = int(releases["rolled_back"].astype(bool).sum())
    text = f"{_count(len(releases), 'release')} reached production, the first one included"
    text += (
        f"; {rolled} {'was' if rolled == 1 else 'were'} rolled back." if rolled else "; none was rolled back."
    )
    out = [Outcome("devops", "releases", text, len(releases))]

    runs = h.runs[h.runs["kind"] == "devops"]
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        out.append(
            Outcome(
                "devops",
                "failed pipelines",
                "No pipeline failed: every change passed build, tests and deploy.",
                0,
            )
        )
    else:
        parts = []
        for step, rows in failed.groupby(failed["failed_step"].fillna("an unrecorded step"), sort=False):
            words = _FAILED_STEP_WORDS.get(str(step), f"failed at {step}")
            weeks = weeks_of(ends, rows["sim_time"])
            noun = "bug" if step == "test" else "pipeline"
            parts.append(f"{_count(len(rows), noun)} {words} ({_weeks_listed(weeks)})")
        out.append(Outcome("devops", "failed pipelines", "; ".join(parts) + ", never deployed.", len(failed)))

    incidents = h.incidents[h.incidents["kind"] == "service"]
    if incidents.empty:
        out.append(Outcome("devops", "incidents", "No incident in production.", 0))
    else:
        told = [_incident_words(ends, i) for i in incidents.head(4).itertuples()]  # the first four are told
        text = f"{_count(len(incidents), 'change')} escaped to production: " + "; ".join(told)
        out.append(
            Outcome("devops", "incidents", text + ("; …" if len(incidents) > 4 else "") + ".", len(incidents))
        )
    return out


def _incident_words(ends: pd.Series, incident: Any) -> str:
    words = f"incident in week {week_of(ends, incident.opened_sim_time)}"
    if incident.detected_by:
        words += f" ({incident.detected_by})"
    if pd.isna(incident.resolved_sim_time):
        return words + ", still open"
    hours = (
        pd.Timestamp(incident.resolved_sim_time) - pd.Timestamp(incident.opened_sim_time)
    ) / pd.Timedelta(hours=1)
    how = " by rollback" if bool(incident.rolled_back) else ""
    return words + f", recovered in {format_duration(hours / 24)}{how}"


def _mlops_outcomes(h: PlayedHistory) -> list[Outcome]:
    ends = h.week_ends
    retrains = h.retrains()
    out = []
    # A retrain is a succeeded one, as the retraining-frequency key counts it; stopped ones are told apart.
    done = retrains[retrains["status"] != "failed"]
    stopped = retrains[retrains["status"] == "failed"]
    if retrains.empty:
        out.append(Outcome("mlops", "retrains", "No retrain: production kept the first model all along.", 0))
    else:
        by_trigger = done["trigger"].value_counts()
        words = {
            "performance": "on quality decay",
            "estimated": "on estimated quality decay",
            "drift": "on drift",
            "schedule": "on schedule",
        }
        parts = ", ".join(f"{n} {words.get(str(t), str(t))}" for t, n in by_trigger.items())
        text = _count(len(done), "retrain") + (f": {parts}" if parts else "")
        for step, rows in stopped.groupby(stopped["failed_step"].fillna("an unrecorded step"), sort=False):
            weeks = weeks_of(ends, rows["sim_time"])
            text += f"; {rows.shape[0]} more stopped at {step} ({_weeks_listed(weeks)})"
        deploys = h.deployments
        models = deploys[(deploys["kind"] == "model") & ~deploys["unplanned"].astype(bool)]
        text += f"; {_count(max(len(models) - 1, 0), 'new model')} deployed."
        out.append(Outcome("mlops", "retrains", text, len(done)))

    incidents = h.incidents[h.incidents["kind"] == "model"]
    if not incidents.empty:
        weeks = weeks_of(ends, incidents["opened_sim_time"])
        whose = "its predecessor and was" if len(incidents) == 1 else "their predecessors and were"
        text = f"{_count(len(incidents), 'new model')} did worse than {whose} rolled back"
        text += f" ({_weeks_listed(weeks)})."
        out.append(Outcome("mlops", "model incidents", text, len(incidents)))

    out.append(_saved_by_retraining(h))

    played = h.weeks
    drifted = int(played["dataset_drift"].eq(True).sum()) if "dataset_drift" in played else 0
    text = f"Dataset drift in {drifted} of {len(played)} weeks"
    # Calendar columns drift by construction against a fixed window and stay out of the share.
    features = h.feature_drift[~h.feature_drift["feature"].isin(CALENDAR_COLUMNS | {"prediction", "target"})]
    flags = features[features["drifted"].astype(bool)].groupby("feature")["week"].nunique()
    if not flags.empty:
        top = flags.sort_values(ascending=False, kind="stable")
        text += f"; {top.index[0]} drifted most often ({_count(int(top.iloc[0]), 'week')})"
    out.append(Outcome("mlops", "drift", text + ".", drifted))
    return out


def _saved_by_retraining(h: PlayedHistory) -> Outcome:
    metric = h.metric.upper()
    gain = _retraining_gain(h)
    weeks = h.weeks.dropna(subset=["quality", "quality_never_retrained"])
    if gain.empty:
        return Outcome("mlops", "retraining saved", "No week's labels arrived yet: quality is not measured.")
    if (weeks["quality"] == weeks["quality_never_retrained"]).all():
        return Outcome(
            "mlops", "retraining saved",
            "Production served the never-retrained model every measured week: retraining saved nothing "
            f"({metric} {weeks['quality'].mean():.3g}).",
            0.0,
        )  # fmt: skip
    saved = float(gain.mean())
    verb = "saved" if saved >= 0 else "cost"
    text = (
        f"Retraining {verb} {abs(saved):.3g} {metric} a week on average against the model never retrained "
        f"({weeks['quality'].mean():.3g} vs {weeks['quality_never_retrained'].mean():.3g}, "
        f"{'lower' if h.lower_is_better else 'higher'} is better)."
    )
    return Outcome("mlops", "retraining saved", text, saved)


# -- the preset and its promises ----------------------------------------------------------------
def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def _describe(path: str, value: Any) -> str:
    if value in (None, [], ()):
        return "none"
    if path == "changes":
        return ", ".join(f"{c['change']}@{c['week']}" for c in value)
    if path == "simulator.injections":
        return ", ".join(f"{_injection_words(i)} from simulator week {i['onset_week']}" for i in value)
    if path == "simulator.upstream_changes":
        return ", ".join(f"{_upstream_words(u)} from simulator week {u['onset_week']}" for u in value)
    return str(value)


def differences_from_preset(recorded: Mapping[str, Any], preset: Mapping[str, Any]) -> list[str]:
    """Each setting the play had that its preset (told in as many weeks) does not, in words.

    Seeds are left out: another seed is another draw of the same story, not another story.
    """
    mine, theirs = _flatten(recorded), _flatten(preset)
    out = []
    for path in sorted(set(mine) | set(theirs)):
        if path.split(".")[0] in _NOT_THE_STORY or path.rsplit(".", 1)[-1] == "seed":
            continue
        if mine.get(path) != theirs.get(path):
            out.append(
                f"{path} is {_describe(path, mine.get(path))} "
                f"(the preset: {_describe(path, theirs.get(path))})"
            )
    return out


_OPS = {">=": "at least", "<=": "at most", "==": "exactly", ">": "more than", "<": "less than"}
# How a summary number reads in a sentence: singular, plural, and whether it is in percent.
_FACT_WORDS: dict[str, tuple[str, str, bool]] = {
    "devops_runs_failed_at_test": ("pipeline failed at test", "pipelines failed at test", False),
    "devops_runs_failed": ("failed pipeline", "failed pipelines", False),
    "service_incidents": ("incident in production", "incidents in production", False),
    "model_incidents": ("model rollback", "model rollbacks", False),
    "rollbacks": ("rollback", "rollbacks", False),
    "releases": ("release", "releases", False),
    "retrains": ("retrain", "retrains", False),
    "retrains_drift": ("retrain on drift", "retrains on drift", False),
    "retrains_performance": ("retrain on quality decay", "retrains on quality decay", False),
    "mlops_runs_failed_at_validate": (
        "retrain stopped by validation",
        "retrains stopped by validation",
        False,
    ),
    "dataset_drift_weeks_pct": ("of weeks with dataset drift", "of weeks with dataset drift", True),
    "temp_drift_weeks_pct": ("of weeks with temp drifting", "of weeks with temp drifting", True),
    "change_failure_rate": ("change failure rate", "change failure rate", True),
    "deployment_rework_rate": ("deployment rework rate", "deployment rework rate", True),
    "retraining_gain": ("quality gained a week by retraining", "quality gained a week by retraining", False),
}


def _plain_reason(expectation: Expectation, actual: Any, held: bool) -> str:
    singular, plural, share = _FACT_WORDS.get(expectation.key, (expectation.key, expectation.key, False))

    def number(value: Any) -> str:
        if value is None:
            return "none measured"
        if share:  # the DORA keys' values are already percentages
            return f"{float(value):.3g}%"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    noun = singular if expectation.value == 1 else plural
    expected = f"{_OPS.get(expectation.op, expectation.op)} {number(expectation.value)} {noun}"
    verdict = "as promised" if held else "not as promised"
    return f"expected {expected}; the play had {number(actual)} ({verdict})."


def check_promises(
    expectations: Sequence[Expectation], facts: Mapping[str, Any], comparisons: Mapping[str, BeforeAfter]
) -> list[PromiseCheck]:
    """Each promise: held or not, and why, in a sentence with the play's own numbers."""
    out = []
    for expectation in expectations:
        actual = facts.get(expectation.key)
        held = expectation.holds(dict(facts))
        if expectation.key in comparisons:
            comparison = comparisons[expectation.key]
            reason = comparison.sentence()
            promised = f"{_OPS.get(expectation.op, expectation.op)} {expectation.value:g}"
            if comparison.missing is not None or comparison.before_weeks == 0:
                reason += "."
            elif comparison.ratio:
                reason += (
                    ", as promised." if held else f", where {promised} was promised: it does not stand out."
                )
            else:
                reason += (
                    ": a rise, as promised."
                    if held
                    else ": no rise over the weeks before, so it tells nothing."
                )
            actual = None if actual is None or (isinstance(actual, float) and math.isnan(actual)) else actual
        else:
            reason = _plain_reason(expectation, actual, held)
        out.append(PromiseCheck(expectation.says, held, reason[0].upper() + reason[1:], actual))
    return out
