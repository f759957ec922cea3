"""Guided exercises for the Learn page: what to do, a Start, and a check of what the learner did since.

Pressing Start (`start_exercise`) records when the exercise began, in the learner's own workspace
(made when needed; the shared `demo` history is never used). Each check is a function
`(store, start) -> CheckResult` that reads, through named queries (`pipelines.store.exercise_sql`),
only what happened in that workspace after the Start, and checks the exercise's lesson itself: it
says passed or not yet with the evidence it saw, e.g. "run 3fa21c0… failed at test with 2 failing
tests". Commands are templates with a `{ws}` placeholder for the learner's workspace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.drift import DISTANCE_THRESHOLD
from pipelines.paths import DEFAULT_WORKSPACE, check_workspace_name
from pipelines.quality import metric_named
from pipelines.scenario.presets import PRESETS
from pipelines.scenario.settings import CALENDAR_COLUMNS
from pipelines.store import Store, from_json
from pipelines.store.exercise_sql import (
    ExerciseStart,
    drift_threshold_what_if,
    exercise_start,
    failed_at_step,
    record_exercise_start,
    retraining_comparison,
    retrains_since,
    rollback_incidents,
    runs_since,
    scenarios_played,
    without_retraining,
)

__all__ = [
    "EXERCISES",
    "LEARN_PREFIX",
    "CheckResult",
    "Exercise",
    "ExerciseStart",
    "check_break_the_build",
    "check_concept_drift",
    "check_drift_threshold",
    "check_escaped_bug_rollback",
    "check_retraining_off",
    "check_validation_stops_bad_data",
    "get_exercise",
    "learner_workspace",
    "run_check",
    "start_exercise",
    "started",
]

# Workspaces that Start makes for a learner working from the shared default workspace.
LEARN_PREFIX = "learn-"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    evidence: str


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    goal: str
    cli: tuple[str, ...]  # shell commands, `{ws}` stands for the learner's workspace
    control_room: tuple[str, ...]  # the same in the browser, one instruction per line
    watch: str  # where the outcome shows in the dashboard
    check: Callable[[Store, ExerciseStart], CheckResult]
    note: str = ""

    def commands(self, workspace: str, program: str = "opslab") -> tuple[str, ...]:
        """The exercise's shell commands for `workspace`, calling the CLI as `program` (its full path
        when `opslab` is not on the PATH, so the commands paste as they are)."""
        lines = (c.replace("{ws}", workspace) for c in self.cli)
        return tuple(
            program + line[len("opslab") :] if line.startswith("opslab ") else line for line in lines
        )

    def control_steps(self, workspace: str) -> tuple[str, ...]:
        return tuple(c.replace("{ws}", workspace) for c in self.control_room)


# -- small helpers -------------------------------------------------------------------------------
def _short(ident: object) -> str:
    return f"{str(ident)[:7]}…"


def _day(value: object) -> str:
    if value is None or pd.isna(value):
        return "?"
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def _text(value: object, default: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _since(start: ExerciseStart) -> str:
    return f"since you pressed Start ({start.started_at:%Y-%m-%d %H:%M:%S} UTC)"


def _runs_seen(store: Store, start: ExerciseStart, kind: str) -> str:
    """What ran since the Start, for a 'not yet' verdict: e.g. '2 DevOps runs (2 succeeded)'."""
    runs = runs_since(store, start)
    runs = runs[runs["kind"] == kind]
    name = "DevOps" if kind == "devops" else "MLOps"
    if runs.empty:
        return f"no {name} run"
    statuses = ", ".join(f"{n} {status}" for status, n in runs["status"].value_counts().sort_index().items())
    return f"{_plural(len(runs), name + ' run')} ({statuses})"


def _played_settings(store: Store, start: ExerciseStart) -> tuple[dict[str, Any], CheckResult | None]:
    """The settings of the scenario played since the Start, or the verdict saying why there are none.

    Playing into a workspace with a history empties it first, so once a scenario played since the
    Start, every weekly and drift row of the workspace comes from it."""
    played = scenarios_played(store, start)
    if played.empty:
        return {}, CheckResult(
            False, f"No scenario has been played in workspace {start.workspace} {_since(start)}."
        )
    row = played.iloc[0]
    if row["status"] == "running":
        return {}, CheckResult(
            False,
            f"Scenario {row['scenario']} is still playing in workspace {start.workspace} (week "
            f"{int(row['weeks_done'])} of {int(row['weeks_planned'])}): check again when it has finished.",
        )
    if row["status"] != "succeeded":
        return {}, CheckResult(
            False,
            f"Scenario {row['scenario']} {row['status']} in workspace {start.workspace}: play it again.",
        )
    return dict(from_json(row["settings"])), None


# -- the checks ----------------------------------------------------------------------------------
def check_break_the_build(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when a DevOps run since the Start failed at its `test` step (and so never reached deploy)."""
    failed = failed_at_step(store, start, kind="devops", step="test")
    if failed.empty:
        return CheckResult(
            False,
            f"No DevOps run in workspace {start.workspace} has failed at `test` {_since(start)}: "
            f"{_runs_seen(store, start, 'devops')}.",
        )
    row = failed.iloc[0]
    metrics: Mapping[str, Any] = from_json(row["metrics"]) if isinstance(row["metrics"], str) else {}
    failing = list(metrics.get("failing") or [])
    count = int(metrics.get("failed") or len(failing))
    names = ", ".join(name.rsplit("::", 1)[-1] for name in failing[:3])
    evidence = (
        f"run {_short(row['run_id'])} ({_text(row['label'], 'HEAD')}) failed at test with "
        f"{_plural(count, 'failing test')}"
        + (f" ({names})" if names else "")
        + f" on {_day(row['sim_time'])}, "
        "so it was never deployed."
    )
    if len(failed) > 1:
        evidence += f" {len(failed) - 1} more run(s) failed at test too."
    return CheckResult(True, evidence)


def check_escaped_bug_rollback(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when a release shipped since the Start (its tests passed, or it would not have been
    deployed) broke production: an incident opened and rolled production back."""
    incidents = rollback_incidents(store, start)
    if incidents.empty:
        return CheckResult(
            False,
            f"No release shipped in workspace {start.workspace} {_since(start)} has been rolled back by an "
            f"incident: {_runs_seen(store, start, 'devops')}.",
        )
    row = incidents.iloc[0]
    change = _text(row["cause_change"])
    resolved = row["resolved_sim_time"]
    evidence = (
        f"incident {_short(row['incident_id'])} ({_text(row['summary'])}) was opened on "
        f"{_day(row['opened_sim_time'])} by the {_text(row['detected_by'], 'monitoring')}, caused by release "
        f"{_text(row['cause'], '?')}" + (f" ({change})" if change else "") + "; production rolled back to "
        f"{_text(row['rolled_back_to'])} on {_day(row['rollback_sim_time'])}"
        + (
            f" and the incident was resolved on {_day(resolved)}."
            if not pd.isna(resolved)
            else ", still open."
        )
    )
    return CheckResult(True, evidence)


def check_concept_drift(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when a scenario played since the Start injects sudden concept drift and a retrain whose
    trigger is `performance` (realized quality, not feature drift) follows the onset."""
    settings, not_yet = _played_settings(store, start)
    if not_yet:
        return not_yet
    workspace = start.workspace
    simulator = settings.get("simulator") or {}
    injections = [
        i
        for i in simulator.get("injections") or ()
        if i.get("type") == "concept" and i.get("pattern") == "sudden"
    ]
    if not injections:
        return CheckResult(
            False, f"The scenario played in workspace {workspace} has no concept/sudden drift injection."
        )
    if settings.get("data", "simulated") != "simulated":
        return CheckResult(
            False,
            f"The injection only changes the simulated world, but this workspace played {settings['data']}.",
        )
    injection = min(injections, key=lambda i: i.get("onset_week", 0))
    origin = pd.Timestamp(simulator.get("start") or "2011-01-01").floor("h")
    onset = origin + pd.Timedelta(weeks=int(injection.get("onset_week", 0)))
    said = (
        f"concept/sudden injection on {injection.get('feature')} (magnitude {injection.get('magnitude')}) "
        f"from {onset:%Y-%m-%d} (simulator week {injection.get('onset_week')})"
    )
    retrains = retrains_since(store, start, onset.to_pydatetime(), ("performance",))
    if retrains.empty:
        others = retrains_since(store, start, onset.to_pydatetime(), ("drift", "schedule", "manual"))
        if not others.empty:
            other = others.iloc[0]
            return CheckResult(
                False,
                f"{said} was played, and run {_short(other['run_id'])} retrained on {_day(other['sim_time'])}, "
                f"but its trigger was {other['trigger']}: the lesson is a retrain triggered by performance "
                "(realized quality), which concept drift moves while the inputs stay put.",
            )
        policy = (settings.get("policy") or {}).get("kind", "?")
        return CheckResult(
            False,
            f"{said} was played, but no retrain triggered by performance followed it "
            f"(retraining policy: {policy}).",
        )
    first = retrains.iloc[0]
    days = (pd.Timestamp(first["sim_time"]) - onset).days
    return CheckResult(
        True,
        f"{said}; run {_short(first['run_id'])} retrained on {first['trigger']} on {_day(first['sim_time'])}, "
        f"{days} days after the onset ({_plural(len(retrains), 'such retrain')} in all).",
    )


def _mean_gain(metric: str | None, quality: float, never: float) -> float:
    """How much better production was than the never-retrained model (positive: retraining paid)."""
    return metric_named(metric or "mae").gain(quality, never)


def check_retraining_off(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when, since the Start, a preset that normally retrains was played with policy `never`:
    one model version, and production's quality equals the never-retrained model's every labelled week."""
    settings, not_yet = _played_settings(store, start)
    if not_yet:
        return not_yet
    workspace = start.workspace
    policy = (settings.get("policy") or {}).get("kind")
    if policy != "never":
        return CheckResult(
            False, f"Workspace {workspace} retrains with policy {policy or '?'}: set policy.kind=never."
        )
    preset = PRESETS.get(str(settings.get("name")))
    if preset is not None and preset.policy.kind == "never":
        return CheckResult(
            False,
            f"{preset.name} never retrains anyway: turn retraining off on a preset that does "
            "(seasons-change, sudden-shock, full-story).",
        )
    facts = without_retraining(store, workspace)
    versions, labelled = int(facts["model_versions"] or 0), int(facts["labelled_weeks"] or 0)
    if versions != 1:
        return CheckResult(
            False, f"Policy is never, but workspace {workspace} has {_plural(versions, 'model version')}."
        )
    if labelled == 0:
        return CheckResult(False, "Policy is never, but no week has realized quality yet: play more weeks.")
    gap = float(facts["max_gap"] or 0.0)
    if gap > 1e-9:
        return CheckResult(False, f"Production and the never-retrained model differ by up to {gap:.3g}.")
    metric = _text(facts["metric"], "quality")
    evidence = (
        f"policy never, 1 model version; in all {labelled} labelled weeks production's {metric} equals the "
        f"never-retrained model's (mean {float(facts['mean_quality']):.2f})."
    )
    others = retraining_comparison(store, workspace, str(settings.get("name") or ""))
    others = others[others["policy"] != "never"]
    if others.empty:
        evidence += " Play the same scenario with retraining in another workspace to compare."
    else:
        other = others.iloc[0]
        gain = _mean_gain(metric, float(other["mean_quality"]), float(other["mean_quality_never_retrained"]))
        evidence += (
            f" Compare workspace {other['workspace']} (policy {other['policy']}): mean {metric} "
            f"{float(other['mean_quality']):.2f} against {float(other['mean_quality_never_retrained']):.2f} "
            f"never-retrained, so retraining {'bought' if gain > 0 else 'cost'} {abs(gain):.2f}."
        )
    return CheckResult(True, evidence)


def check_drift_threshold(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when a scenario played since the Start judged drift by a fixed distance threshold other
    than Evidently's 0.1 and the drift verdicts moved with it (re-judged at 0.1 from the rows)."""
    settings, not_yet = _played_settings(store, start)
    if not_yet:
        return not_yet
    workspace = start.workspace
    default = DISTANCE_THRESHOLD
    chosen = settings.get("drift_threshold")
    if chosen is None:
        return CheckResult(
            False,
            f"This play judged drift by its {settings.get('drift_method') or 'calibrated'} thresholds: set "
            "drift_threshold to a fixed value, e.g. 0.3, to judge every feature by it.",
        )
    if math.isclose(float(chosen), float(default)):
        return CheckResult(
            False,
            f"The drift threshold is {chosen:g}, Evidently's default: set drift_threshold to another value.",
        )
    what = drift_threshold_what_if(
        store,
        workspace,
        other_threshold=float(default),
        share=float(settings.get("dataset_drift_share") or 0.5),
        excluded=sorted(CALENDAR_COLUMNS),
    )
    weeks = int(what["weeks"] or 0)
    if weeks == 0:
        return CheckResult(
            False, f"Threshold {chosen:g} is set, but no week has been monitored for drift yet."
        )
    mine, theirs = int(what["dataset_drift_weeks"]), int(what["dataset_drift_weeks_other"])
    cells, cells_default = int(what["drifted_cells"]), int(what["drifted_cells_other"])
    if cells == cells_default:
        return CheckResult(
            False,
            f"Threshold {chosen:g} (default {default:g}) flags the same {cells} feature-weeks: move it further.",
        )
    direction = "fewer" if cells < cells_default else "more"
    return CheckResult(
        True,
        f"drift threshold {chosen:g} (Evidently's default {default:g}): {mine} of {weeks} weeks with dataset "
        f"drift and {cells} drifted feature-weeks, against {theirs} weeks and {cells_default} at the default: "
        f"{direction} alarms.",
    )


def check_validation_stops_bad_data(store: Store, start: ExerciseStart) -> CheckResult:
    """Passed when an MLOps run since the Start stopped at `validate`, so broken data never reached training."""
    failed = failed_at_step(store, start, kind="mlops", step="validate")
    if failed.empty:
        return CheckResult(
            False,
            f"No MLOps run in workspace {start.workspace} has failed at `validate` {_since(start)}: "
            f"{_runs_seen(store, start, 'mlops')}.",
        )
    row = failed.iloc[0]
    error = _text(row["error"], "validation failed")
    if len(error) > 200:
        error = error[:200] + "…"
    return CheckResult(
        True,
        f"run {_short(row['run_id'])} (trigger {row['trigger']}) stopped at validate on {_day(row['sim_time'])}: "
        f"{error}",
    )


# -- the exercises -------------------------------------------------------------------------------
EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        id="break_the_build",
        title="Break the build",
        goal="Commit a change whose own tests fail, and watch CI stop it before it reaches production.",
        cli=(
            "opslab --workspace {ws} scenario run calm-seas --weeks 12 --changes hour-24-midnight@3 --replace",
            "# or, on a workspace that already has a history:",
            "opslab --workspace {ws} devops run --change hour-24-midnight",
        ),
        control_room=(
            "Control room → Run one pipeline → Change: hour-24-midnight (bug-caught) → Commit and run the pipeline.",
        ),
        watch="DevOps page: the run is red at test and names the failing tests; no deployment follows. "
        "Timeline: a failed-pipeline ✕ on the DevOps lane.",
        check=check_break_the_build,
    ),
    Exercise(
        id="escaped_bug",
        title="Ship an escaped bug and watch the rollback",
        goal="Ship a change whose tests pass but which breaks in production: the error-rate alarm opens an "
        "incident and production rolls back to the previous release.",
        cli=("opslab --workspace {ws} scenario run bad-friday-deploy --replace",),
        control_room=(
            "Control room → Play a scenario → Preset: bad-friday-deploy.",
            "Tick “Replace the history” if the workspace has one → Play it.",
        ),
        watch="Timeline: an incident ■ right after the Friday release and a rollback ▼. DevOps page: change "
        "failure rate, recovery time and rework rate move above zero.",
        check=check_escaped_bug_rollback,
    ),
    Exercise(
        id="concept_drift",
        title="Inject sudden concept drift",
        goal="Change the relation between inputs and demand overnight (commuting peaks two hours later) and "
        "see quality, not feature drift, trigger the retrain.",
        cli=(
            "opslab --workspace {ws} scenario run calm-seas --weeks 24 "
            "--inject concept:sudden:onset_week=20:magnitude=1:feature=hr --replace",
        ),
        control_room=(
            "Control room → Play a scenario → Preset: calm-seas, Weeks: 24.",
            "Drift injection: Type concept, Pattern sudden, Onset 20, Magnitude 1.0, Feature hr.",
            "Retraining policy: performance (the preset's) → Replace the history → Play it.",
        ),
        watch="Timeline: a week after the onset (labels arrive late) production's error jumps, a retrain ◆ "
        "with trigger performance follows and production recovers, while the never-retrained line stays "
        "high. Drift page: the input features barely move.",
        check=check_concept_drift,
        note="Onset is in simulator weeks, which include the 8-week warm-up: 20 falls in scenario week 13.",
    ),
    Exercise(
        id="retraining_off",
        title="Turn retraining off and compare",
        goal="Play a drifting world twice, with and without retraining, and measure what retraining buys.",
        cli=(
            "opslab --workspace {ws}-retrain scenario run seasons-change --weeks 24 --replace",
            "opslab --workspace {ws} scenario run seasons-change --weeks 24 --set policy.kind=never --replace",
        ),
        control_room=(
            "Sidebar → New workspace: {ws}-retrain → Control room → Preset seasons-change, Weeks 24 → Play it.",
            "Sidebar → back to {ws} → Preset seasons-change, Weeks 24, Retraining policy: never → Play it.",
        ),
        watch="Timeline: production's quality line lies on the never-retrained line. MLOps page: one model "
        "version; staleness grows every week. Switch to {ws}-retrain to see the gap retraining opens.",
        check=check_retraining_off,
    ),
    Exercise(
        id="drift_threshold",
        title="Tune a drift threshold",
        goal="Judge drift by one fixed distance threshold above Evidently's 0.1 and see how many weeks stop "
        "raising an alarm.",
        cli=(
            "opslab --workspace {ws} scenario run calm-seas --weeks 12 --set drift_threshold=0.3 --replace",
        ),
        control_room=(
            "Control room → Play a scenario → Preset calm-seas, Weeks 12.",
            "Retraining policy, drift threshold, label delay → Fixed drift distance threshold: 0.3 → Play it.",
        ),
        watch="Drift page: a fixed threshold replaces the thresholds learnt from the training weeks; the "
        "threshold what-if shows the same week judged at other thresholds, and at 0.1 (Evidently's) nearly "
        "every feature drifts in a calm week.",
        check=check_drift_threshold,
        note="The threshold applies to the distance tests (Wasserstein, Jensen–Shannon), which the calibrated "
        "method uses for every feature and the fixed rule above 1000 reference rows.",
    ),
    Exercise(
        id="silent_data_bug",
        title="Let validation stop a silent data bug",
        goal="An upstream feed switches temperature to Fahrenheit: nothing crashes, but the data's own unit "
        "tests refuse to train on it.",
        cli=("opslab --workspace {ws} scenario run silent-data-bug --weeks 16 --replace",),
        control_room=("Control room → Play a scenario → Preset: silent-data-bug, Weeks 16 → Play it.",),
        watch="MLOps page: the scheduled retrain stopped at validate and names the temp column. Drift page: "
        "temp drifts hard from the onset.",
        check=check_validation_stops_bad_data,
    ),
)


def get_exercise(exercise_id: str) -> Exercise:
    for exercise in EXERCISES:
        if exercise.id == exercise_id:
            return exercise
    raise KeyError(f"no exercise {exercise_id!r}; they are: {', '.join(e.id for e in EXERCISES)}")


def learner_workspace(workspace: str, exercise_id: str) -> str:
    """Where a learner in `workspace` does an exercise: their own workspace, except the shared default
    (`demo`) and the exercise workspaces Start makes, which give way to `learn-<exercise>`."""
    if workspace == DEFAULT_WORKSPACE or workspace.startswith(LEARN_PREFIX):
        return check_workspace_name(LEARN_PREFIX + get_exercise(exercise_id).id.replace("_", "-"))
    return check_workspace_name(workspace)


def start_exercise(store: Store, workspace: str, exercise_id: str) -> ExerciseStart:
    """Begin (or begin again) an exercise: make the learner's workspace if needed and record the Start.

    Only what happens in that workspace from now on counts for the exercise's check."""
    target = learner_workspace(workspace, exercise_id)
    with store.session():
        store.ensure_workspace(target)
        return record_exercise_start(store, target, exercise_id)


def started(store: Store, workspace: str, exercise_id: str) -> ExerciseStart | None:
    """When the exercise was started in `workspace`, or None (also when there is no history file)."""
    if not store.exists():
        return None
    return exercise_start(store, workspace, get_exercise(exercise_id).id)


def run_check(store: Store, workspace: str, exercise_id: str) -> CheckResult:
    """Run one exercise's check on what happened in `workspace` since its Start."""
    exercise = get_exercise(exercise_id)
    start = started(store, workspace, exercise.id)
    if start is None:
        return CheckResult(
            False,
            f"Press Start first: “{exercise.title}” has not been started in workspace {workspace}, and its "
            "check looks only at what happens after the Start.",
        )
    return exercise.check(store, start)
