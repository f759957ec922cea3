"""`opslab scenario ...` and `opslab init` (what `make run` calls before starting the dashboard).

The scenario's modules load scipy and scikit-learn; they are imported inside the handlers and the
actions' builders, so `opslab scenario --help` stays quick.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipelines.cli.support import LazyActions, ProgressPrinter, print_json
from pipelines.errors import OpsLabError
from pipelines.paths import DEFAULT_WORKSPACE
from pipelines.store import Store

if TYPE_CHECKING:
    from pipelines.mlops.simulator import DriftInjection
    from pipelines.scenario.engine import ScenarioProgress
    from pipelines.scenario.settings import ChangeAt, ScenarioSettings

__all__ = ["apply_knobs", "play", "register", "set_knob"]


def _convert(text: str, current: Any) -> Any:
    if text.lower() in ("none", "null"):
        return None
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise OpsLabError(f"{text!r} is not true or false")
        return text.lower() in ("true", "1", "yes")
    if isinstance(current, int) and not isinstance(current, bool):
        return int(text)
    if isinstance(current, float) or current is None:
        try:
            return float(text) if current is not None or "." in text else int(text)
        except ValueError:
            return text
    return text


def set_knob(settings: Any, path: str, text: str) -> Any:
    """A copy of frozen `settings` with the dotted field `path` set from `text` (typed like the field)."""
    head, _, rest = path.partition(".")
    names = {f.name for f in dataclasses.fields(settings)}
    if head not in names:
        raise OpsLabError(f"{head!r} is not a scenario knob; knobs are: {', '.join(sorted(names))}.")
    current = getattr(settings, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise OpsLabError(f"{head!r} has no sub-knob {rest!r}.")
        return dataclasses.replace(settings, **{head: set_knob(current, rest, text)})
    if dataclasses.is_dataclass(current):
        inner = ", ".join(f"{head}.{f.name}" for f in dataclasses.fields(current))
        raise OpsLabError(
            f"{head!r} is a group of knobs: set one of them ({inner}), e.g. {head}.{dataclasses.fields(current)[0].name}=..."
        )
    if isinstance(current, tuple):
        how = {"changes": "--changes id@week,id@week", "injections": "--inject type:pattern[:onset_week=N]"}
        raise OpsLabError(
            f"{head!r} is a list, not one value: use {how.get(head, 'a settings file (--from)')} instead."
        )
    try:
        value = _convert(text, current)
    except ValueError:
        raise OpsLabError(f"{path}={text!r}: expected a value like {current!r}.") from None
    try:
        return dataclasses.replace(settings, **{head: value})
    except (ValueError, TypeError) as exc:
        raise OpsLabError(f"{path}={text!r}: {exc}") from None


def _injection(text: str) -> DriftInjection:
    """`type:pattern[:key=value...]`, e.g. `concept:sudden:onset_week=50:magnitude=1:feature=hr`."""
    from pipelines.mlops.simulator import DriftInjection

    parts = text.split(":")
    if len(parts) < 2:
        raise OpsLabError(f"--inject {text!r}: write type:pattern[:onset_week=N:magnitude=X:...].")
    known = [f.name for f in dataclasses.fields(DriftInjection) if f.name not in ("type", "pattern")]
    options: dict[str, Any] = {}
    for item in parts[2:]:
        key, _, value = item.partition("=")
        if key not in known:
            raise OpsLabError(
                f"--inject {text!r}: {key!r} is not an option; the options are {', '.join(known)}."
            )
        try:
            options[key] = value if key == "feature" else float(value) if "." in value else int(value)
        except ValueError:
            raise OpsLabError(f"--inject {text!r}: {key}={value!r} is not a number.") from None
    try:
        return DriftInjection(type=parts[0], pattern=parts[1], **options)
    except (TypeError, ValueError) as exc:
        raise OpsLabError(f"--inject {text!r}: {exc}") from None


def _changes(text: str) -> tuple[ChangeAt, ...]:
    from pipelines.scenario.settings import ChangeAt

    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        change, _, week = item.partition("@")
        if not week.isdigit():
            raise OpsLabError(f"--changes {item!r}: write change-id@week, e.g. windchill-feature@6.")
        out.append(ChangeAt(change, int(week)))
    return tuple(out)


def apply_knobs(settings: ScenarioSettings, args: argparse.Namespace) -> ScenarioSettings:
    if args.seed is not None:
        settings = dataclasses.replace(
            settings,
            seed=args.seed,
            simulator=dataclasses.replace(settings.simulator, seed=args.seed),
            mlops=dataclasses.replace(settings.mlops, seed=args.seed),
        )
    if args.weeks is not None:
        if args.weeks < 1:  # before with_weeks, whose scaled change weeks would be named instead
            raise OpsLabError(f"--weeks {args.weeks}: a scenario needs at least 1 week, not {args.weeks}.")
        settings = settings.with_weeks(args.weeks)
    if args.changes is not None:
        settings = dataclasses.replace(settings, changes=_changes(args.changes))
    if args.release_every is not None:
        settings = settings.with_release_every(args.release_every)
    if args.inject:
        settings = dataclasses.replace(
            settings,
            simulator=dataclasses.replace(
                settings.simulator,
                injections=settings.simulator.injections + tuple(map(_injection, args.inject)),
            ),
        )
    for item in args.set or ():
        path, sep, value = item.partition("=")
        if not sep:
            raise OpsLabError(f"--set {item!r}: write knob=value, e.g. policy.kind=schedule.")
        settings = set_knob(settings, path.strip(), value.strip())
    return settings


def _list(args: argparse.Namespace, store: Store) -> int:
    from pipelines.scenario.presets import PRESETS

    rows = [
        {
            "name": p.name,
            "weeks": p.weeks,
            "data": p.data,
            "policy": p.policy.kind,
            "changes": len(p.changes),
            "narrative": p.narrative,
        }
        for p in PRESETS.values()
    ]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(
                f"{row['name']}  ({row['weeks']} weeks, {row['data']}, retrain: {row['policy']}, "
                f"{row['changes']} changes)\n  {row['narrative']}\n"
            )
    return 0


def _show(args: argparse.Namespace, store: Store) -> int:
    from pipelines.scenario.settings import settings_dict

    print_json(settings_dict(_settings(args)))
    return 0


def _settings(args: argparse.Namespace) -> ScenarioSettings:
    from pipelines.scenario.presets import get_preset
    from pipelines.scenario.settings import from_dict

    if getattr(args, "from_file", None):
        source = Path(args.from_file)
        if not source.is_file():
            raise OpsLabError(
                f"the settings file {source} does not exist (`opslab scenario show NAME > FILE` makes one)."
            )
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise OpsLabError(f"cannot read scenario settings from {source}: {exc}.") from None
        except ValueError as exc:
            raise OpsLabError(f"the settings file {source} is not JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise OpsLabError(
                f"the settings file {source} holds a JSON {type(data).__name__}, not the JSON object "
                "`opslab scenario show` prints."
            )
        try:
            settings = from_dict(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise OpsLabError(f"cannot read scenario settings from {source}: {exc}") from None
    else:
        settings = get_preset(args.name)
    return apply_knobs(settings, args)


class _ScenarioBar:
    """The play's progress by the clock's week. Releases are prepared weeks ahead of the clock (the
    release line), so their events name their own week but do not move the bar."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.bar = ProgressPrinter(stream)
        self.done = 0

    def __call__(self, event: ScenarioProgress) -> None:
        if event.stage == "devops":
            label = f"week {self.done}/{event.weeks} preparing a release: {event.message}"
        else:
            self.done = max(self.done, event.week)
            label = f"week {event.week}/{event.weeks} {event.stage}: {event.message}"
        self.bar.update(self.done, event.weeks, label)


def play(
    store: Store,
    workspace: str,
    settings: ScenarioSettings,
    *,
    replace: bool,
    json_out: bool,
    slots: Path | None = None,
) -> int:
    """Play `settings` into `workspace`, in one of the history's play slots (`slots`, a folder)."""
    from pipelines.scenario.slots import max_plays, play_slot, slot_free

    # First, so that the fork servers started below give way too
    if nice := os.environ.get("OPSLAB_PLAY_NICE"):  # the dashboard's plays give way to its pages
        with contextlib.suppress(ValueError, OSError, AttributeError):
            os.nice(int(nice))

    # A play of the sample service's data (DevOps plays too) that need not wait for a slot starts its
    # fork servers now, so that they import while this process imports the engine. A waiting seat
    # starts them later, as before, rather than burn the busy cores on imports that can wait.
    if settings.data in ("simulated", "bike-sharing") and (slots is None or slot_free(slots)):
        from pipelines.devops.warm import prestart_for_play

        prestart_for_play()
    from pipelines.devops.changes import validate_change_sequence
    from pipelines.scenario.engine import check_playable, load_scenario_data, run_scenario, scenario_clock
    from pipelines.scenario.summary import summarize_and_tell

    # Everything the play was given is checked before the first line of progress and the first
    # write (the callers check that the history can be written): the workspace may be played into,
    # and a file's data loads. The engine checks the workspace again inside its write session.
    validate_change_sequence([c.change for c in settings.changes])
    data = load_scenario_data(settings)
    scenario_clock(settings, data[0])  # data enough for at least one week after the warm-up
    check_playable(store, workspace, replace=replace)
    bar = _ScenarioBar()
    limit = max_plays()

    told: list[bool] = []

    def waiting(seconds: float) -> None:
        if not told:  # once: onlookers (the Facilitator page) read it from the play file
            store.note_waiting(workspace, settings.name, settings.weeks)
            told.append(True)
        bar.bar.update(
            0, settings.weeks, f"waiting for a free play slot ({limit} plays at once): {seconds:.0f} s"
        )

    # Ctrl-C (and a terminal's SIGTERM) stop between two records: the history stays consistent.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with play_slot(slots, limit, on_wait=waiting) if slots is not None else contextlib.nullcontext():
            result = run_scenario(store, workspace, settings, replace=replace, progress=bar, data=data)
    finally:
        bar.bar.close()
        signal.signal(signal.SIGTERM, previous)
    # The report's dozens of queries share one connection (one each cost ~1 s of a play's wall time).
    with store.reading():
        summary, story = summarize_and_tell(store, workspace)
    promises = story.promises if story is not None else ()
    if json_out:
        print_json(
            {
                "workspace": workspace,
                "scenario": settings.name,
                "status": result.status,
                "weeks": result.weeks,
                "seconds": round(result.seconds, 2),
                "stage_seconds": {k: round(v, 2) for k, v in result.stage_seconds.items()},
                "note": result.note,
                "summary": summary,
                "expectations": [
                    {"says": p.says, "held": p.held, "value": p.value, "reason": p.reason} for p in promises
                ],
                "outcomes": [o.text for o in story.outcomes] if story is not None else [],
            }
        )
        return 0
    if result.note:
        print(f"note: {result.note}")
    print(f"{settings.name}: {result.weeks} weeks into workspace {workspace!r} in {result.seconds:.1f} s")
    print(
        f"  {summary['releases']} releases, {summary['devops_runs_failed']} failed pipelines, "
        f"{summary['service_incidents']} incidents, {summary['rollbacks']} rollbacks; "
        f"{summary['retrains']} retrains ({summary['retrains_drift']} on drift, "
        f"{summary['retrains_performance']} on quality), {summary['model_deploys']} model deploys"
    )
    for promise in promises:  # what the play did, judged against what its preset promised
        print(f"  [{'ok' if promise.held else '--'}] {promise.says}: {promise.reason}")
    print("Read it with `opslab history` or in the dashboard (`make run`).")
    return 0


def _run(args: argparse.Namespace, store: Store) -> int:
    settings = _settings(args)
    args.history.check_writable(args.workspace)
    return play(store, args.workspace, settings, replace=args.replace, json_out=args.json,
                slots=args.history.files_dir("plays"))  # fmt: skip


def _add_knobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, help="seed of the simulator and the models")
    p.add_argument("--weeks", type=int, help="tell the same story in N weeks (schedule and drift scaled)")
    p.add_argument("--changes", help="the change list: id@week,id@week,... (see `opslab devops changes`)")
    p.add_argument("--release-every", type=int, help="ship the preset's changes one every N weeks")
    p.add_argument(
        "--inject",
        action="append",
        help="add a drift injection type:pattern[:onset_week=N:magnitude=X:feature=F]",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KNOB=VALUE",
        help="any knob, e.g. policy.kind=schedule, policy.every_weeks=4, label_delay_weeks=2, "
        "drift_method=evidently, drift_threshold=0.2, data=bike-sharing, simulator.growth_per_year=0",
    )
    p.add_argument(
        "--from", dest="from_file", help="start from settings saved with `scenario show` instead of a preset"
    )


def _add_show(show: argparse.ArgumentParser) -> None:
    from pipelines.scenario.presets import DEFAULT_PRESET, PRESETS

    show.add_argument("name", nargs="?", default=DEFAULT_PRESET, choices=list(PRESETS))
    _add_knobs(show)
    show.set_defaults(handler=_show)


def _add_run(run: argparse.ArgumentParser) -> None:
    from pipelines.scenario.presets import DEFAULT_PRESET

    run.add_argument(
        "name", nargs="?", default=DEFAULT_PRESET, help=f"preset name (default {DEFAULT_PRESET})"
    )
    _add_knobs(run)
    run.add_argument("--replace", action="store_true", help="empty a workspace that already has a history")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)


def _init(args: argparse.Namespace, store: Store) -> int:
    from pipelines.scenario.presets import DEFAULT_PRESET, PRESETS

    workspace = args.workspace or DEFAULT_WORKSPACE
    if not store.workspace_is_empty(workspace):
        print(f"workspace {workspace!r} in {store.path} has a history; starting the dashboard")
        return 0
    args.history.check_writable(workspace)
    print(f"first start: playing the {DEFAULT_PRESET} scenario into workspace {workspace!r} ({store.path})")
    return play(store, workspace, PRESETS[DEFAULT_PRESET], replace=False, json_out=False,
                slots=args.history.files_dir("plays"))  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    """`opslab scenario ...`, then `opslab init`."""
    p = sub.add_parser("scenario", help="play a scenario: both lifecycles week by week on one clock")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION", action=LazyActions)
    lst = ssub.add_parser("list", help="the preset scenarios and their narratives")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)
    ssub.add_parser(
        "show", help="print a preset's settings as JSON (edit and pass back with --from)", build=_add_show
    )
    ssub.add_parser("run", help="play a preset (or your variation) into the workspace", build=_add_run)
    init = sub.add_parser(
        "init", help="make sure the default workspace has a history (what `make run` calls)"
    )
    init.set_defaults(handler=_init)
