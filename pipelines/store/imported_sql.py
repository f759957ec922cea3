"""What the pages read of an imported history: where it came from, what landed, and its Timeline.

A workspace is imported when it has a succeeded `imports` row (importers refuse a played workspace, and
a reset clears both). An imported history has no `weekly`, `drift` or `scenario_runs` rows: its clock
is the source's own times, so the Timeline of an import is drawn from its events alone, and its busy
kinds (commits, CI runs) as counts a week, computed here in SQL however many there are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.store.core import Store

__all__ = [
    "IMPORTED_MARKERS_MAX",
    "imported_activity",
    "imported_markers",
    "imported_sources",
    "landed_kinds",
    "model_deploy_windows",
]

# More markers of one kind than this are drawn as counts a week only (the page says so).
IMPORTED_MARKERS_MAX = 1500

_SOURCES_SQL = """
SELECT source,
       arg_max(location, started_at) AS location,
       arg_max(note, started_at) AS note,
       max(finished_at) AS last_import,
       count(*) AS imports
FROM imports
WHERE workspace = ? AND status = 'succeeded'
GROUP BY source
ORDER BY min(started_at), source
"""

_LANDED_SQL = """
SELECT source, kind, count(*) AS n FROM landing WHERE workspace = ? GROUP BY source, kind
"""

# One row a week (weeks start on Monday, UTC) and thing counted: the imported history's activity.
_ACTIVITY_SQL = """
WITH counted AS (
    SELECT 'devops' AS lane, 'change' AS what, committed_sim_time AS t FROM changes WHERE workspace = $ws
    UNION ALL
    SELECT 'devops', 'release', sim_time FROM deployments
    WHERE workspace = $ws AND environment = 'production' AND kind = 'release'
    UNION ALL
    SELECT kind, CASE WHEN status = 'failed' THEN 'failed run' ELSE 'run' END, sim_time FROM runs
    WHERE workspace = $ws
    UNION ALL
    SELECT 'mlops', 'model version', coalesce(sim_time, created_at) FROM model_versions WHERE workspace = $ws
    UNION ALL
    SELECT 'mlops', 'alias move', coalesce(sim_time, moved_at) FROM alias_moves WHERE workspace = $ws
)
SELECT date_trunc('week', t) AS week, lane, what, count(*) AS n
FROM counted WHERE t IS NOT NULL
GROUP BY ALL ORDER BY week, lane, what
"""

_MARKER_COUNTS_SQL = """
SELECT
    (SELECT count(*) FROM deployments WHERE workspace = $ws) AS deployments,
    (SELECT count(*) FROM runs WHERE workspace = $ws AND (kind = 'mlops' OR status = 'failed')) AS runs,
    (SELECT count(*) FROM incidents WHERE workspace = $ws) AS incidents,
    (SELECT count(*) FROM model_versions WHERE workspace = $ws) AS model_versions,
    (SELECT count(*) FROM alias_moves WHERE workspace = $ws) AS alias_moves
"""

# The rows the Timeline draws one by one: every deployment and incident, the runs with a marker of their
# own (a failed CI run, every model training run; a CI run that succeeded shows as its release or in
# the week's counts), the registered model versions and alias moves.
_MARKER_ROWS = {
    "deployments": "SELECT * FROM deployments WHERE workspace = $ws ORDER BY sim_time",
    "runs": "SELECT run_id, kind, trigger, status, sim_time, label, error FROM runs "
    "WHERE workspace = $ws AND (kind = 'mlops' OR status = 'failed') ORDER BY sim_time",
    "incidents": "SELECT * FROM incidents WHERE workspace = $ws ORDER BY opened_sim_time",
    "model_versions": "SELECT version, run_id, dataset, coalesce(sim_time, created_at) AS sim_time "
    "FROM model_versions WHERE workspace = $ws ORDER BY version",
    "alias_moves": "SELECT alias, version, previous_version, coalesce(sim_time, moved_at) AS sim_time, reason, "
    "run_id FROM alias_moves WHERE workspace = $ws ORDER BY moved_at",
}


def imported_sources(store: Store, workspace: str) -> list[dict[str, Any]]:
    """Each source imported into the workspace, oldest first: source, location and note (of its latest
    import), last_import, imports. Empty for a workspace that holds no import (a played one)."""
    if not store.exists():
        return []
    return [dict(row) for row in store._frame(_SOURCES_SQL, [workspace]).to_dict("records")]


def landed_kinds(store: Store, workspace: str) -> dict[tuple[str, str], int]:
    """How many records of each (source, kind) the workspace's imports landed."""
    if not store.exists():
        return {}
    frame = store._frame(_LANDED_SQL, [workspace])
    return {
        (str(s), str(k)): int(n) for s, k, n in zip(frame["source"], frame["kind"], frame["n"], strict=True)
    }


_WINDOWS_SQL = """
SELECT count(*) AS deploys, count(mv.window_end) AS with_window
FROM deployments d
LEFT JOIN model_versions mv ON mv.workspace = d.workspace AND mv.version = TRY_CAST(ltrim(d.ref, 'v') AS INTEGER)
WHERE d.workspace = ? AND d.environment = 'production' AND d.kind = 'model' AND NOT d.unplanned
"""


def model_deploy_windows(store: Store, workspace: str) -> tuple[int, int]:
    """(planned production model deploys, of those whose version records its data window)."""
    if not store.exists():
        return 0, 0
    row = store._frame(_WINDOWS_SQL, [workspace]).iloc[0]
    return int(row["deploys"]), int(row["with_window"])


def imported_activity(store: Store, workspace: str) -> pd.DataFrame:
    """week, lane, what, n: the imported history counted a week (changes, releases, runs, failed runs,
    model versions, alias moves), aggregated in SQL."""
    with store._read() as con:
        return con.execute(_ACTIVITY_SQL, {"ws": workspace}).df()


def imported_markers(store: Store, workspace: str, limit: int = IMPORTED_MARKERS_MAX) -> dict[str, Any]:
    """The rows the Timeline draws as markers, by table, and `counts` of each; a table with more than
    `limit` rows comes back empty (and is named in `too_many`): its rows are in the weekly counts."""
    with store._read() as con:
        counts = con.execute(_MARKER_COUNTS_SQL, {"ws": workspace}).df().iloc[0].astype(int).to_dict()
        rows = {
            name: (
                con.execute(sql, {"ws": workspace}).df()
                if counts[name] <= limit
                else con.execute(f"SELECT * FROM ({sql}) LIMIT 0", {"ws": workspace}).df()
            )
            for name, sql in _MARKER_ROWS.items()
        }
    return {**rows, "counts": counts, "too_many": [name for name, n in counts.items() if n > limit]}
