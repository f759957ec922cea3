"""Plays take turns for the cores: at most N at once per history, the others wait and say so."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines.scenario.slots import max_plays, play_slot, slot_free
from pipelines.store import RunHistory

REPO = Path(__file__).resolve().parents[1]


def test_a_slot_is_held_for_the_block_and_others_wait(tmp_path: Path) -> None:
    waited: list[float] = []
    with play_slot(tmp_path, 1) as first:
        assert first == 0
        done = threading.Event()

        def second() -> None:
            with play_slot(tmp_path, 1, on_wait=waited.append, poll_s=0.05):
                done.set()

        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.4)
        assert not done.is_set() and waited  # all slots taken: it waits, and says so
    worker.join(timeout=5)
    assert done.is_set()
    with play_slot(tmp_path, 2) as a, play_slot(tmp_path, 2) as b:
        assert {a, b} == {0, 1}


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSLAB_MAX_PLAYS", "3")
    assert max_plays() == 3
    monkeypatch.setenv("OPSLAB_MAX_PLAYS", "lots")
    with pytest.raises(ValueError, match="whole number"):
        max_plays()
    monkeypatch.delenv("OPSLAB_MAX_PLAYS")
    assert max_plays() == max(1, os.cpu_count() or 1)


def test_two_seats_with_one_slot_play_in_turn_and_both_succeed(tmp_path: Path) -> None:
    room = tmp_path / "room"
    env = {**os.environ, "OPSLAB_MAX_PLAYS": "1"}
    plays = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines",
                "--db",
                str(room),
                "--workspace",
                f"seat-{i}",
                "scenario",
                "run",
                "workshop-drift",
                "--weeks",
                "1",
                "--json",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=300) for p in plays]
    assert all(p.returncode == 0 for p in plays), [e[-400:] for _, e in outputs]
    assert all(json.loads(o)["status"] == "succeeded" for o, _ in outputs)
    assert any("waiting for a free play slot" in e for _, e in outputs)
    history = RunHistory(room)
    spans = sorted(
        (pd.Timestamp(r["started_at"]), pd.Timestamp(r["finished_at"]))
        for name in history.workspace_names()
        for r in history.store(name).scenario_runs(name).to_dict("records")
    )
    assert len(spans) == 2
    assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(spans))  # one at a time


def test_a_free_slot_is_seen_without_taking_it(tmp_path: Path) -> None:
    """A play starts its fork servers ahead only when it need not wait (`slot_free`)."""
    assert slot_free(tmp_path / "none yet", 1)
    with play_slot(tmp_path, 1):
        assert not slot_free(tmp_path, 1)
    assert slot_free(tmp_path, 1)
    with play_slot(tmp_path, 1):  # looking did not take it
        pass


def test_a_dashboard_play_gives_way_before_it_starts_its_fork_servers(tmp_path: Path) -> None:
    """OPSLAB_PLAY_NICE (the dashboard's plays) must reach the fork servers a play starts ahead:
    they are started with the play's priority, so the nice comes first."""
    code = (
        "import os, sys\n"
        "import pipelines.devops.warm as warm\n"
        "def ahead():\n"
        "    print(os.getpriority(os.PRIO_PROCESS, 0)); sys.exit(0)\n"
        "warm.prestart_for_play = ahead\n"
        "from pipelines.cli.scenario import play\n"
        "from pipelines.scenario.presets import PRESETS\n"
        "from pipelines.store import Store\n"
        "play(Store(sys.argv[1]), 'demo', PRESETS['workshop-drift'], replace=False, json_out=False)\n"
    )
    base = os.getpriority(os.PRIO_PROCESS, 0)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.duckdb")], capture_output=True, text=True,
                         env={**os.environ, "OPSLAB_PLAY_NICE": "7"}, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == min(base + 7, 19)
