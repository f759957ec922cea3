"""The release line runs a train's checks while the train before it waits for its traffic
(issue #9: full-story in 30 s): releases still ship exactly the changes committed before them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pipelines.store import Store


def test_each_change_ships_with_the_first_release_of_a_commit_at_or_after_it(scenario_db: Path) -> None:
    # bad-friday's Friday feature and Tuesday's fix are a week apart: the fix is committed and tested
    # while the feature's release still waits for the traffic of the week before it.
    with duckdb.connect(str(scenario_db), read_only=True) as con:
        rows = con.execute(
            """SELECT c.commit_sha, c.committed_sim_time, d.commit_sha, d.commit_time
               FROM changes c JOIN deployments d USING (workspace, deployment_id)
               WHERE c.workspace = 'demo' ORDER BY c.committed_sim_time"""
        ).fetchall()
        releases = con.execute(
            """SELECT commit_sha FROM deployments
               WHERE workspace = 'demo' AND kind = 'release' AND NOT unplanned ORDER BY sim_time"""
        ).fetchall()
    assert len(rows) >= 3  # the initial commit, the feature and its fix
    for change, committed, shipped_commit, shipped_commit_time in rows:
        assert committed <= shipped_commit_time, (change, shipped_commit)
    # every planned release shipped its own commit's change (none shipped a later one early)
    shipped = {shipped for _, _, shipped, _ in rows}
    assert {sha for (sha,) in releases} <= shipped | {None}
    own = {change for change, _, shipped, _ in rows if change == shipped}
    assert len(own) == len({sha for (sha,) in releases})


def test_a_release_does_not_ship_a_change_committed_after_its_commit(store: Store) -> None:
    # The next train's commit is recorded while this release still waits to be promoted.
    from datetime import datetime

    from pipelines.store import records as rec

    for sha, day in (("a" * 40, 1), ("b" * 40, 8)):
        rec.record_change(
            store, workspace="w", commit_sha=sha, change_id=sha[:1], kind="feature", message=sha[:1],
            committed_sim_time=datetime(2026, 1, day, 10),
        )  # fmt: skip
    first = rec.record_deployment(
        store, workspace="w", kind="release", ref="aaaaaaa", run_id=None, sim_time=datetime(2026, 1, 9),
        commit_sha="a" * 40, commit_time=datetime(2026, 1, 1, 10),
    )  # fmt: skip
    shipped = rec.mark_changes_shipped(
        store, "w", first, datetime(2026, 1, 9), committed_until=datetime(2026, 1, 1, 10)
    )
    assert shipped == 1
    frame = rec.changes_frame(store, "w").set_index("commit_sha")
    assert frame.loc["a" * 40, "deployment_id"] == first
    assert pd.isna(frame.loc["b" * 40, "deployment_id"])
