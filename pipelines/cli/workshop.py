"""`opslab workshop prepare` (seats made from one played workspace) and `opslab workshop status`."""

from __future__ import annotations

import argparse
import sys
import time

from pipelines.cli.support import print_json, print_table
from pipelines.store import Store

__all__ = ["register"]


def _prepare(args: argparse.Namespace, store: Store) -> int:
    from pipelines.cli.scenario import _ScenarioBar
    from pipelines.scenario.engine import run_scenario
    from pipelines.scenario.presets import PRESETS
    from pipelines.workshop import lan_address, prepare_room, seat_link, seat_name

    started = time.perf_counter()
    if not args.history.single_file:  # (a single file is refused by prepare_room in a sentence)
        args.history.check_writable(seat_name(1))

    def play(seat: Store, workspace: str) -> None:
        bar = _ScenarioBar()
        try:
            run_scenario(seat, workspace, PRESETS[args.preset], replace=True, progress=bar)
        finally:
            bar.bar.close()

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    room = prepare_room(
        args.history, args.seats, args.preset, replace_seats=args.replace, progress=say, play=play
    )
    base = args.url or f"http://{lan_address()}:8501"
    links = [{"seat": s.workspace, "link": seat_link(base, s)} for s in room.seats]
    if args.json:
        print_json({"history": str(args.history.path), "preset": room.preset, "seats": links})
        return 0
    print(f"{len(room.seats)} seats ready in {time.perf_counter() - started:.1f} s in {args.history.path} "
          f"(each played {room.preset})")  # fmt: skip
    print("Give each participant their seat's link; the links are also in room.json (keep it private):")
    for link in links:
        print(f"  {link['seat']}  {link['link']}")
    print(
        f"Serve the room with `opslab --db {args.history.path} dashboard --host 0.0.0.0`, and follow it with "
        f"`opslab --db {args.history.path} dashboard --facilitator --port 8502` (this machine only)."
    )
    return 0


def _status(args: argparse.Namespace, store: Store) -> int:
    from pipelines.errors import OpsLabError
    from pipelines.workshop import load_room, room_status, status_frame

    room = load_room(args.history)
    if room is None:
        raise OpsLabError(
            f"There is no workshop room in {args.history.path}: make one with `opslab --db FOLDER workshop "
            "prepare --seats N`."
        )
    frame = status_frame(room_status(args.history, room))
    if args.json:
        print_json(frame.to_dict("records"))
    else:
        print(f"room in {args.history.path} ({len(room.seats)} seats, preset {room.preset})")
        print_table(frame)
    return 0


def _seats(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the number of seats must be a whole number, not {text!r}"
        ) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workshop", help="prepare a workshop room of seats and follow it")
    wsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    prep = wsub.add_parser(
        "prepare",
        help="make seat-01..N, each already played (one play, then copies)",
        description="Play a preset once into seat-01 and copy it to the other seats of the history folder "
        "(--db); print each seat's link.",
    )
    prep.add_argument("--seats", type=_seats, required=True, help="how many seats (1-99)")
    prep.add_argument(
        "--preset", default="workshop-drift", help="what every seat starts with (default workshop-drift)"
    )
    prep.add_argument("--replace", action="store_true", help="make seats that already have a history afresh")
    prep.add_argument("--url", help="the room's address for the links (default http://<this machine>:8501)")
    prep.add_argument("--json", action="store_true")
    prep.set_defaults(handler=_prepare)
    status = wsub.add_parser(
        "status", help="seats x exercises: not started, started, passed; each seat's latest run"
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)
