"""`opslab scenario ...` and `opslab init` (what `make run` calls before starting the dashboard)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.cli_support import ProgressPrinter, print_json
from pipelines.errors import OpsLabError
from pipelines.mlops.simulator import DriftInjection
from pipelines.paths import DEFAULT_WORKSPACE
from pipelines.scenario.engine import ScenarioProgress, run_scenario
from pipelines.scenario.presets import DEFAULT_PRESET, PRESETS, get_preset
from pipelines.scenario.settings import ChangeAt, ScenarioSettings, from_dict, settings_dict
from pipelines.scenario.summary import check_expectations, summarize
from pipelines.store import Store

__all__ = ["add_init", "add_scenario", "apply_knobs", "set_knob"]


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
    parts = text.split(":")
    if len(parts) < 2:
        raise OpsLabError(f"--inject {text!r}: write type:pattern[:onset_week=N:magnitude=X:...].")
    options: dict[str, Any] = {}
    for item in parts[2:]:
        key, _, value = item.partition("=")
        options[key] = value if key == "feature" else float(value) if "." in value else int(value)
    try:
        return DriftInjection(type=parts[0], pattern=parts[1], **options)
    except (TypeError, ValueError) as exc:
        raise OpsLabError(f"--inject {text!r}: {exc}") from None


def _changes(text: str) -> tuple[ChangeAt, ...]:
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
    print_json(settings_dict(_settings(args)))
    return 0


def _settings(args: argparse.Namespace) -> ScenarioSettings:
    if getattr(args, "from_file", None):
        try:
            data = json.loads(Path(args.from_file).read_text())
            settings = from_dict(data)
        except (OSError, ValueError, TypeError) as exc:
            raise OpsLabError(f"cannot read scenario settings from {args.from_file}: {exc}") from None
    else:
        settings = get_preset(args.name)
    return apply_knobs(settings, args)


class _ScenarioBar:
    def __init__(self) -> None:
        self.bar = ProgressPrinter()

    def __call__(self, event: ScenarioProgress) -> None:
        self.bar.update(
            event.week, event.weeks, f"week {event.week}/{event.weeks} {event.stage}: {event.message}"
        )


def play(store: Store, workspace: str, settings: ScenarioSettings, *, replace: bool, json_out: bool) -> int:
    bar = _ScenarioBar()
    # Ctrl-C (and a terminal's SIGTERM) stop between two records: the history stays consistent.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = run_scenario(store, workspace, settings, replace=replace, progress=bar)
    finally:
        bar.bar.close()
        signal.signal(signal.SIGTERM, previous)
    summary = summarize(store, workspace)
    checks = check_expectations(settings, summary)
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
                "expectations": [{"says": s, "held": h, "value": v} for s, h, v in checks],
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
    for says, held, value in checks:
        print(f"  [{'ok' if held else '--'}] {says} ({value if value is not None else 'n/a'})")
    print("Read it with `opslab history` or in the dashboard (`make run`).")
    return 0


def _run(args: argparse.Namespace, store: Store) -> int:
    return play(store, args.workspace, _settings(args), replace=args.replace, json_out=args.json)


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
        "drift_threshold=0.2, data=bike-sharing, simulator.growth_per_year=0",
    )
    p.add_argument(
        "--from", dest="from_file", help="start from settings saved with `scenario show` instead of a preset"
    )


def add_scenario(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="play a scenario: both lifecycles week by week on one clock")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = ssub.add_parser("list", help="the preset scenarios and their narratives")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)
    show = ssub.add_parser("show", help="print a preset's settings as JSON (edit and pass back with --from)")
    show.add_argument("name", nargs="?", default=DEFAULT_PRESET, choices=list(PRESETS))
    _add_knobs(show)
    show.set_defaults(handler=_show)
    run = ssub.add_parser("run", help="play a preset (or your variation) into the workspace")
    run.add_argument(
        "name", nargs="?", default=DEFAULT_PRESET, help=f"preset name (default {DEFAULT_PRESET})"
    )
    _add_knobs(run)
    run.add_argument("--replace", action="store_true", help="empty a workspace that already has a history")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)


def _init(args: argparse.Namespace, store: Store) -> int:
    workspace = args.workspace or DEFAULT_WORKSPACE
    if not store.workspace_is_empty(workspace):
        print(f"workspace {workspace!r} in {store.path} has a history; starting the dashboard")
        return 0
    print(f"first start: playing the {DEFAULT_PRESET} scenario into workspace {workspace!r} ({store.path})")
    return play(store, workspace, PRESETS[DEFAULT_PRESET], replace=False, json_out=False)


def add_init(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="make sure the default workspace has a history (what `make run` calls)")
    p.set_defaults(handler=_init)


def summary_frame(store: Store, workspace: str) -> pd.DataFrame:
    return pd.DataFrame([summarize(store, workspace)])
