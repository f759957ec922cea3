"""The preset scenarios: values of `ScenarioSettings`, each with a narrative and promised outcomes.

The clock starts after the first model's 8-week warm-up window, so 96 scenario weeks cover the
simulated world's two years (and the UCI data's 2011-2012).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipelines.mlops.policy import RetrainPolicy
from pipelines.mlops.simulator import DriftInjection, SimulatorSettings, UpstreamChange
from pipelines.scenario.settings import ChangeAt, Expectation, ScenarioSettings

__all__ = ["DEFAULT_PRESET", "PRESETS", "WORKSHOP_PRESETS", "get_preset"]

DEFAULT_PRESET = "full-story"

# All twelve scripted changes, roughly every seven weeks; the caught bug and its fix a week apart,
# the slow model reload reverted after two weeks, the escaped bug fixed the week after its incident.
_FULL_CHANGES = (
    ChangeAt("batch-size-limit", 4),
    ChangeAt("refactor-cli-args", 11),
    ChangeAt("health-request-counter", 18),
    ChangeAt("hour-24-midnight", 25),
    ChangeAt("fix-hour-24", 26),
    ChangeAt("refactor-model-loaders", 34),
    ChangeAt("reload-model-every-request", 42),
    ChangeAt("input-clamping", 44, weekday=0),
    ChangeAt("revert-model-reload", 44, weekday=2),
    ChangeAt("windchill-feature", 58, weekday=4, hour=15),
    ChangeAt("fix-windchill", 59),
    ChangeAt("response-count", 72),
)
_QUIET_CHANGES = (
    ChangeAt("batch-size-limit", 6),
    ChangeAt("refactor-cli-args", 18),
    ChangeAt("health-request-counter", 30),
    ChangeAt("refactor-model-loaders", 42),
    ChangeAt("input-clamping", 54),
    ChangeAt("response-count", 66),
)

PRESETS: dict[str, ScenarioSettings] = {
    p.name: p
    for p in (
        ScenarioSettings(
            name="full-story",
            narrative=(
                "Two years of the bike-demand world. The service ships a change every few weeks: one bug "
                "is caught by its tests, another escapes them on a Friday, breaks production and is rolled "
                "back. Meanwhile the seasons turn and ridership grows, the model drifts away from the data "
                "it learnt, and drift alarms trigger retraining. The never-retrained line shows what that bought."
            ),
            simulator=SimulatorSettings(weeks=105),
            changes=_FULL_CHANGES,
            # Calibrated drift alarms are rare enough to act on the first one; a short cooldown lets
            # retraining keep up with spring and autumn, when the weather moves every week.
            policy=RetrainPolicy("drift", drift_weeks=1, cooldown_weeks=2),
            expectations=(
                Expectation(
                    "devops_runs_failed_at_test", ">=", 1, "the caught bug fails at test and is not deployed"
                ),
                Expectation("service_incidents", ">=", 1, "the escaped bug opens an incident"),
                Expectation("rollbacks", ">=", 1, "production rolls back to the previous release"),
                Expectation("retrains_drift", ">=", 1, "drift triggers retraining"),
                Expectation("retraining_gain", ">", 0, "retrained models beat the never-retrained one"),
                Expectation(
                    "temp_drift_weeks_pct", "<", 50, "temperature drifts with the seasons, not every week"
                ),
            ),
        ),
        ScenarioSettings(
            name="calm-seas",
            narrative=(
                "A world without seasons or growth: the weather wobbles, nothing moves for good. Releases go "
                "out steadily and none breaks. The model trained at the start keeps its quality, so retraining "
                "on quality decay never fires: both lifecycles stay quiet."
            ),
            simulator=SimulatorSettings(weeks=105, seasonal=False, growth_per_year=0.0),
            changes=_QUIET_CHANGES,
            # One week's realized error wobbles up to ~1.5x the holdout's in a calm world (seeds 0-11,
            # 12 weeks), while a concept shock doubles it or more: a 50 % margin tells them apart.
            policy=RetrainPolicy("performance", quality_margin=0.5, cooldown_weeks=4),
            expectations=(
                Expectation("service_incidents", "==", 0, "no incident"),
                Expectation("retrains", "==", 0, "retraining is not needed"),
                Expectation("devops_runs_failed", "==", 0, "every release is green"),
                Expectation("dataset_drift_weeks_pct", "<=", 10, "drift alarms stay quiet in a calm world"),
            ),
        ),
        ScenarioSettings(
            name="seasons-change",
            narrative=(
                "The real UCI bike-sharing data of Washington D.C., 2011-2012: the seasons turn and ridership "
                "grows by about 60 % from one year to the next. A model trained on the first winter is soon "
                "far off; retraining on drift keeps production close to the truth and earns its keep."
            ),
            data="bike-sharing",
            fallback_note="The UCI file is not here, so the simulator's seasonal world stands in for it",
            simulator=SimulatorSettings(weeks=105),
            changes=_QUIET_CHANGES[:3],
            policy=RetrainPolicy("drift", drift_weeks=2, cooldown_weeks=4),
            expectations=(
                Expectation("retrains_drift", ">=", 2, "drift with the seasons triggers retraining"),
                Expectation("retraining_gain", ">", 0, "retraining beats the never-retrained model"),
            ),
        ),
        ScenarioSettings(
            name="sudden-shock",
            narrative=(
                "Halfway through, the city changes its habits overnight: commuting peaks move two hours "
                "later (sudden concept drift). The inputs look the same, so feature drift barely moves; "
                "the realized error jumps when labels arrive, the quality policy retrains, and production "
                "recovers while the never-retrained model stays broken."
            ),
            simulator=SimulatorSettings(
                weeks=105,
                seasonal=False,
                growth_per_year=0.0,
                injections=(DriftInjection("concept", "sudden", onset_week=56, magnitude=1.0, feature="hr"),),
            ),
            changes=_QUIET_CHANGES[:2],
            policy=RetrainPolicy("performance", quality_margin=0.25, cooldown_weeks=2),
            expectations=(
                Expectation(
                    "retrains_performance_rise_after_shock",
                    ">",
                    0,
                    "quality decay after the shock triggers a retrain",
                ),
                Expectation(
                    "retraining_gain_after_shock", ">", 0, "production recovers, never-retrained does not"
                ),
            ),
        ),
        ScenarioSettings(
            name="bad-friday-deploy",
            narrative=(
                "A Friday-afternoon release adds a wind-chill feature. Its tests pass, but calm hours "
                "(wind speed 0) crash it: the error-rate alarm opens an incident, production rolls back to "
                "the previous release, and the fix ships the week after. Watch change failure rate, "
                "recovery time and rework rate move."
            ),
            weeks=16,
            simulator=SimulatorSettings(weeks=25),
            changes=(
                ChangeAt("batch-size-limit", 2),
                ChangeAt("windchill-feature", 6, weekday=4, hour=16),
                ChangeAt("fix-windchill", 7, weekday=1),
                ChangeAt("response-count", 10),
            ),
            review_hours=1.0,
            policy=RetrainPolicy("never"),
            expectations=(
                Expectation("service_incidents", "==", 1, "one incident, caused by the Friday deploy"),
                Expectation("rollbacks", "==", 1, "one rollback"),
                Expectation("change_failure_rate", ">", 0, "change failure rate moves above zero"),
                Expectation("deployment_rework_rate", ">", 0, "the rollback is rework"),
            ),
        ),
        ScenarioSettings(
            name="silent-data-bug",
            narrative=(
                "An upstream feed starts sending temperature in Fahrenheit. Nothing crashes, and the service "
                "keeps answering with confident nonsense. Drift on temperature jumps at once, and the "
                "scheduled retrain refuses to learn from the broken data: validation fails and names the column."
            ),
            weeks=30,
            simulator=SimulatorSettings(
                weeks=39,
                upstream_changes=(UpstreamChange("fahrenheit", "temp", onset_week=28),),
            ),
            changes=(ChangeAt("batch-size-limit", 4),),
            policy=RetrainPolicy("schedule", every_weeks=4, cooldown_weeks=1),
            expectations=(
                Expectation(
                    "mlops_runs_failed_at_validate", ">=", 1, "validation stops the retrain on broken data"
                ),
                # Judged against the weeks before the change: spring warming alone moves temp's score
                # too (ratio about 1.2 without the bug, 7 to 9.5 with it, seeds 1-3 and 7).
                Expectation(
                    "temp_drift_score_ratio_after_upstream_change", ">=", 3, "drift on temp flags the bug"
                ),
            ),
        ),
    )
}


def _cut(
    story: str, name: str, weeks: int, narrative: str, *, keep_changes: tuple[str, ...] = (), **replace: Any
) -> ScenarioSettings:
    """A workshop cut of the preset `story`: told in `weeks` (changes and onsets scaled), keeping only
    the scripted changes named in `keep_changes` (every release is a real build, test suite and
    server start), with its own name and narrative."""
    told = PRESETS[story].with_weeks(weeks)
    changes = tuple(c for c in told.changes if c.change in keep_changes)
    return dataclasses.replace(told, name=name, narrative=narrative, changes=changes, **replace)


# Workshop cuts: one lesson each in 12-20 weeks, short enough for a room to play them side by side
# (each plays in seconds).
_WORKSHOP = (
    _cut(
        "bad-friday-deploy",
        "workshop-bad-friday",
        12,
        "The Friday deploy in twelve weeks. A wind-chill feature ships on a Friday afternoon; its tests "
        "pass, but calm hours crash it. The error-rate alarm opens an incident, production rolls back, "
        "and the fix ships the next Tuesday.",
        keep_changes=("windchill-feature", "fix-windchill"),
    ),
    _cut(
        "full-story",
        "workshop-drift",
        20,
        "Spring in twenty weeks: the weather warms and riders come back, while no line of code changes. "
        "The model learnt on late winter drifts away from the data, drift alarms trigger retraining, and "
        "the never-retrained line shows what retraining bought.",
        expectations=(
            Expectation("retrains_drift", ">=", 1, "drift triggers retraining"),
            Expectation("retraining_gain", ">", 0, "retrained models beat the never-retrained one"),
            Expectation("temp_drift_weeks_pct", "<", 50, "temperature drifts with spring, not every week"),
        ),
    ),
    _cut(
        "sudden-shock",
        "workshop-shock",
        20,
        "The sudden shock in twenty weeks: in week 10 commuting peaks move two hours later. The inputs "
        "look the same, the realized error jumps when labels arrive, the quality policy retrains, and "
        "production recovers while the never-retrained model stays broken.",
    ),
    _cut(
        "silent-data-bug",
        "workshop-data-bug",
        16,
        "The silent data bug in sixteen weeks: from week 11 an upstream feed sends temperature in "
        "Fahrenheit. Nothing crashes, drift on temperature jumps at once, and the scheduled retrain "
        "refuses the broken data: validation fails and names the column.",
    ),
)
PRESETS.update({p.name: p for p in _WORKSHOP})

# The presets a workshop plays: each a short cut of one story above.
WORKSHOP_PRESETS = tuple(p.name for p in _WORKSHOP)


def get_preset(name: str) -> ScenarioSettings:
    try:
        return PRESETS[name]
    except KeyError:
        from pipelines.scenario.engine import ScenarioError

        raise ScenarioError(f"unknown scenario {name!r}; the presets are: {', '.join(PRESETS)}.") from None
