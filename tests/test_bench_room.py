"""The room benchmark's own judgement: what it calls a recorded seat, and the bounds on its load.
(The benchmark itself runs in `make bench`; it times nothing here.)"""

from __future__ import annotations

from benchmarks.bench_room import SEATS_MAX, arguments, check_recorded, refresh_spells
from pipelines.store import RunHistory


def test_check_recorded_names_a_missing_seat_and_a_play_left_running(tmp_path):
    folder = tmp_path / "room"
    folder.mkdir()
    store = RunHistory(folder).store("seat-01")
    store.ensure_workspace("seat-01")
    play = store.start_scenario_run(
        workspace="seat-01", scenario="workshop-drift", seed=0, settings={}, weeks=20
    )
    store.progress_scenario_run(play, 7)

    problems = check_recorded(folder, ["seat-01", "seat-02"])

    assert problems["seat-02"] == ["no file"]
    assert problems["seat-01"] == [
        "last play running at week 7 of 20",
        "no pipeline run recorded",
        "1 run(s) still read running",
    ]
    store.progress_scenario_run(play, 20)
    store.finish_scenario_run(play, "succeeded")
    assert check_recorded(folder, ["seat-01"]) == {"seat-01": ["no pipeline run recorded"]}


def test_the_room_stays_bounded():
    assert arguments(["--seats", "50"]).seats == SEATS_MAX
    assert arguments([]).seats == SEATS_MAX
    quick = arguments(["--quick"])
    assert (quick.seats, quick.contexts) == (4, 2)
    # one context on the observer seat, at least one on the playing seats, never more than the seats
    assert arguments(["--seats", "1", "--contexts", "9"]).contexts == 2
    assert arguments(["--contexts", "1"]).contexts == 2


def test_refresh_spells_times_each_rerun_and_the_gap_between_them():
    page = [(0.0, "running"), (0.5, "notRunning"), (3.0, "running"), (3.25, "rerunRequested"), (3.5, "running"),
            (4.0, "notRunning"), (6.5, "running")]  # fmt: skip
    spells, gaps = refresh_spells([page, [(1.0, "notRunning")]])
    assert spells == [0.5, 0.25, 0.5]  # the last one never finished: not counted
    assert gaps == [3.0, 0.5, 3.0]
