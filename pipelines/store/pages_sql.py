"""What the pages read of a big history: counts and buckets computed in SQL, tables a page at a time.

A workspace can hold 100k runs and 1M steps (a long play, an imported CI history). A page that reads
whole tables into pandas and counts there takes tens of seconds and ships megabytes to the browser,
so the pages ask these queries instead: each returns at most a few thousand rows whatever the size
of the history, and says how many rows there were, so a page that shows a part can say which.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.store.core import Store
from pipelines.store.queries import _query

__all__ = [
    "MAX_MARKERS",
    "TIMELINE_CLASSES",
    "deployment_run_labels",
    "quality_retrain_marks",
    "run_counts",
    "run_trigger_counts",
    "step_status_counts",
    "steps_of_runs",
    "timeline_class_counts",
    "timeline_density",
    "timeline_rows",
]

# Above this many markers of one kind a chart draws them as weekly counts: one marker per week
# (its size and hover give the count) instead of thousands nobody can tell apart, and that take a
# browser seconds to draw (a 100k-run history: 1,300 timeline markers took Chromium 4 s).
MAX_MARKERS = 300

STEP_STATUS_COUNTS_SQL = """
SELECT r.kind, s.name, s.status, count(*) AS runs
FROM steps s JOIN runs r USING (run_id)
WHERE r.workspace = $workspace
GROUP BY ALL
ORDER BY r.kind, s.name, s.status
"""

RUN_TRIGGER_COUNTS_SQL = """
SELECT kind, trigger, count(*) AS runs
FROM runs WHERE workspace = $workspace
GROUP BY ALL ORDER BY kind, trigger
"""

RUN_COUNTS_SQL = """
SELECT kind, count(*) AS runs FROM runs WHERE workspace = $workspace GROUP BY ALL ORDER BY kind
"""

STEPS_OF_RUNS_SQL = """
SELECT s.run_id, r.kind, r.sim_time, s.position, s.name, s.status, s.duration_ms
FROM steps s JOIN runs r USING (run_id)
WHERE r.workspace = $workspace AND list_contains($run_ids, s.run_id)
ORDER BY coalesce(r.sim_time, r.started_at), s.position
"""

DEPLOYMENT_RUN_LABELS_SQL = """
SELECT DISTINCT r.run_id, r.label
FROM deployments d JOIN runs r ON r.run_id = d.run_id
WHERE d.workspace = $workspace
"""

# The Timeline's kinds of marker, each a (lane, event) pair and the rows it is drawn from. The
# conditions match `timeline_events` (dashboard/figures/timeline.py) row for row.
TIMELINE_CLASSES: dict[tuple[str, str], tuple[str, str, str]] = {
    # (lane, event): (table, time column, condition)
    ("devops", "release"): ("deployments", "sim_time", "kind = 'release' AND NOT unplanned"),
    ("devops", "rollback"): ("deployments", "sim_time", "kind = 'release' AND unplanned"),
    ("devops", "failed"): ("runs", "sim_time", "kind = 'devops' AND status = 'failed'"),
    ("mlops", "retrain"): ("runs", "sim_time", "kind = 'mlops' AND status <> 'failed'"),
    ("mlops", "failed"): ("runs", "sim_time", "kind = 'mlops' AND status = 'failed'"),
    ("devops", "incident"): ("incidents", "opened_sim_time", "kind <> 'model'"),
    ("mlops", "incident"): ("incidents", "opened_sim_time", "kind = 'model'"),
}


def _class_count_sql() -> str:
    parts = [
        f"SELECT '{lane}' AS lane, '{event}' AS event, count(*) AS markers FROM {table} "
        f"WHERE workspace = $workspace AND {condition}"
        for (lane, event), (table, _, condition) in TIMELINE_CLASSES.items()
    ]
    return "\nUNION ALL\n".join(parts)


TIMELINE_CLASS_COUNTS_SQL = _class_count_sql()


def _density_sql() -> str:
    parts = []
    for (lane, event), (table, column, condition) in TIMELINE_CLASSES.items():
        detail = "trigger" if table == "runs" else ("kind" if table == "incidents" else "ref")
        if table == "deployments":
            detail = "'release'" if event == "release" else "'rollback'"
        parts.append(
            f"SELECT '{lane}' AS lane, '{event}' AS event, date_trunc('week', {column}) AS bucket, "
            f"{detail} AS detail, count(*) AS n FROM {table} "
            f"WHERE workspace = $workspace AND {condition} "
            f"AND list_contains($classes, '{lane}/{event}') GROUP BY ALL"
        )
    union = "\nUNION ALL\n".join(parts)
    return f"""
WITH counted AS ({union})
SELECT lane, event, bucket, sum(n) AS count,
       string_agg(n || ' ' || detail, ', ' ORDER BY n DESC, detail) AS detail
FROM counted GROUP BY lane, event, bucket ORDER BY lane, event, bucket
"""


TIMELINE_DENSITY_SQL = _density_sql()

# The rows the Timeline draws one by one: the runs of the kinds asked for (and the runs behind the
# releases, for their change's label), the deployments and the incidents.
TIMELINE_ROWS_SQL = {
    "runs": """
SELECT run_id, kind, trigger, status, sim_time, label, error
FROM runs r
WHERE workspace = $workspace AND (
    ($failed_devops AND kind = 'devops' AND status = 'failed')
    OR ($retrains AND kind = 'mlops' AND status <> 'failed')
    OR ($failed_mlops AND kind = 'mlops' AND status = 'failed')
    OR ($releases AND run_id IN (SELECT run_id FROM deployments WHERE workspace = $workspace)))
ORDER BY sim_time, started_at
""",
    "deployments": """
SELECT * FROM deployments
WHERE workspace = $workspace AND (
    ($releases AND kind = 'release' AND NOT unplanned) OR ($rollbacks AND kind = 'release' AND unplanned)
    OR kind = 'model'
    -- the release a rollback undid (its title names it), the deployment an incident blamed
    OR ($rollbacks AND replaced_by IN (SELECT deployment_id FROM deployments
                                       WHERE workspace = $workspace AND unplanned))
    OR ($incidents AND deployment_id IN (SELECT cause_deployment_id FROM incidents WHERE workspace = $workspace)))
ORDER BY deployed_at
""",
    "incidents": """
SELECT * FROM incidents
WHERE workspace = $workspace AND (($service AND kind <> 'model') OR ($model AND kind = 'model'))
ORDER BY opened_sim_time
""",
}

QUALITY_RETRAIN_MARKS_SQL = """
WITH marks AS (
    SELECT CASE WHEN $dense THEN date_trunc('week', sim_time) + INTERVAL 3 DAY ELSE sim_time END AS sim_time,
           trigger, CASE WHEN status = 'failed' THEN 'failed' ELSE 'succeeded' END AS status
    FROM runs
    WHERE workspace = $workspace AND kind = 'mlops' AND trigger <> 'initial'
), counted AS (
    SELECT sim_time, status, trigger, count(*) AS n FROM marks GROUP BY ALL
)
SELECT sim_time, status, sum(n) AS count,
       CASE WHEN $dense THEN sum(n) || ' runs: ' || string_agg(n || ' ' || trigger, ', ' ORDER BY n DESC, trigger)
            ELSE any_value(trigger) END AS trigger
FROM counted GROUP BY sim_time, status ORDER BY sim_time, status
"""


def step_status_counts(store: Store, workspace: str) -> pd.DataFrame:
    """How often each step of each lifecycle ended in each status: kind, name, status, runs."""
    return _query(store, STEP_STATUS_COUNTS_SQL, {"workspace": workspace})


def run_trigger_counts(store: Store, workspace: str) -> pd.DataFrame:
    """Runs per lifecycle and trigger: kind, trigger, runs."""
    return _query(store, RUN_TRIGGER_COUNTS_SQL, {"workspace": workspace})


def run_counts(store: Store, workspace: str) -> dict[str, int]:
    """How many runs each lifecycle has: {'devops': n, 'mlops': m} (a kind without runs is absent)."""
    frame = _query(store, RUN_COUNTS_SQL, {"workspace": workspace})
    return {str(k): int(n) for k, n in zip(frame["kind"], frame["runs"], strict=True)}


def steps_of_runs(store: Store, workspace: str, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """The steps of the named runs only (a page's runs), in step_durations' shape."""
    return _query(store, STEPS_OF_RUNS_SQL, {"workspace": workspace, "run_ids": list(run_ids)})


def deployment_run_labels(store: Store, workspace: str) -> pd.DataFrame:
    """run_id, label of the runs that deployed something (a deployments table's change column)."""
    return _query(store, DEPLOYMENT_RUN_LABELS_SQL, {"workspace": workspace})


def timeline_class_counts(store: Store, workspace: str) -> dict[tuple[str, str], int]:
    """How many markers of each Timeline kind the history has, {(lane, event): n}."""
    frame = _query(store, TIMELINE_CLASS_COUNTS_SQL, {"workspace": workspace})
    return {(str(r.lane), str(r.event)): int(r.markers) for r in frame.itertuples()}


def timeline_density(store: Store, workspace: str, classes: list[tuple[str, str]]) -> pd.DataFrame:
    """Weekly counts of the Timeline kinds in `classes`: lane, event, bucket (the week's Monday),
    count and detail (the count split by trigger, ref or kind: '12 schedule, 3 drift')."""
    wanted = [f"{lane}/{event}" for lane, event in classes]
    return _query(store, TIMELINE_DENSITY_SQL, {"workspace": workspace, "classes": wanted})


def timeline_rows(store: Store, workspace: str, individual: set[tuple[str, str]]) -> dict[str, pd.DataFrame]:
    """The runs, deployments and incidents behind the Timeline kinds drawn one by one."""
    flags: dict[str, Any] = {
        "failed_devops": ("devops", "failed") in individual,
        "retrains": ("mlops", "retrain") in individual,
        "failed_mlops": ("mlops", "failed") in individual,
        "releases": ("devops", "release") in individual,
        "rollbacks": ("devops", "rollback") in individual,
        "service": ("devops", "incident") in individual,
        "model": ("mlops", "incident") in individual,
    }
    flags["incidents"] = flags["service"] or flags["model"]
    needs = {
        "runs": ("failed_devops", "retrains", "failed_mlops", "releases"),
        "deployments": ("releases", "rollbacks", "incidents"),
        "incidents": ("service", "model"),
    }
    with store._read() as con:
        return {
            name: con.execute(sql, {"workspace": workspace, **{k: flags[k] for k in needs[name]}}).df()
            for name, sql in TIMELINE_ROWS_SQL.items()
        }


def quality_retrain_marks(store: Store, workspace: str) -> pd.DataFrame:
    """The MLOps quality chart's retrain marks: one per run (sim_time, trigger, status) when there are
    at most MAX_MARKERS, else one per week and outcome whose trigger text counts them; `count` too."""
    counted = _query(store, RUN_TRIGGER_COUNTS_SQL, {"workspace": workspace})
    retrains = int(
        counted.loc[(counted["kind"] == "mlops") & (counted["trigger"] != "initial"), "runs"].sum()
    )
    return _query(store, QUALITY_RETRAIN_MARKS_SQL, {"workspace": workspace, "dense": retrains > MAX_MARKERS})
