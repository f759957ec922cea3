"""GitHub's landed records in the shared CI/CD columns (`pipelines/store/import_cicd_sql.py`).

The kinds landed by `pipelines.importers.github`, each the REST API's own object (API version
2022-11-28): `workflow_run`, `job` (with its `steps`), `deployment`, `deployment_status`, `issue`,
`commit` (the commits endpoint's shape) and `compare` (a compare's commits, its head the last one).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from pipelines.store.core import Store
from pipelines.store.import_cicd_sql import cicd_transforms, fields, landed_fields, ts

__all__ = [
    "GITHUB_STAGING",
    "github_known_commits",
    "github_resume_time",
    "github_runs_with_jobs",
    "github_transforms",
    "github_unsettled_deployments",
]


def _status(p: str) -> str:
    """A run's or job's or step's status and conclusion in OpsLab's words."""
    return f"""CASE WHEN {p}.status IS DISTINCT FROM 'completed' THEN 'running'
                WHEN {p}.conclusion IN ('success', 'neutral') THEN 'succeeded'
                WHEN {p}.conclusion = 'skipped' THEN 'skipped'
                WHEN {p}.conclusion IN ('cancelled', 'stale') THEN 'interrupted'
                ELSE 'failed' END"""


_TEXT = "VARCHAR"
_RUN = fields(
    name=_TEXT, path=_TEXT, event=_TEXT, status=_TEXT, conclusion=_TEXT, created_at=_TEXT, updated_at=_TEXT,
    run_started_at=_TEXT, head_sha=_TEXT, head_branch=_TEXT, run_attempt=_TEXT,
    head_commit={"id": _TEXT, "message": _TEXT, "timestamp": _TEXT},
)  # fmt: skip
_STEP = {"name": _TEXT, "status": _TEXT, "conclusion": _TEXT, "number": "INTEGER", "started_at": _TEXT,
         "completed_at": _TEXT}  # fmt: skip
_JOB = fields(
    run_id=_TEXT, run_attempt=_TEXT, name=_TEXT, status=_TEXT, conclusion=_TEXT, started_at=_TEXT,
    completed_at=_TEXT, steps=[_STEP],
)  # fmt: skip
_DEPLOYMENT = fields(environment=_TEXT, ref=_TEXT, sha=_TEXT, created_at=_TEXT)
_STATUS = fields(
    id="BIGINT", state=_TEXT, created_at=_TEXT, deployment_url=_TEXT, log_url=_TEXT, target_url=_TEXT
)
_COMMIT = fields(sha=_TEXT, commit={"message": _TEXT, "author": {"date": _TEXT}})
_COMPARE = fields(commits=[{"sha": _TEXT}])
_ISSUE = fields(number=_TEXT, title=_TEXT, body=_TEXT, created_at=_TEXT, closed_at=_TEXT, labels="JSON")


GITHUB_STAGING: tuple[tuple[str, str], ...] = (
    (
        "gh_runs",
        f"""
{landed_fields("workflow_run", _RUN)}
""",
    ),
    (
        "gh_jobs",
        f"""
-- the jobs of each run's latest attempt (a re-run keeps the run's id and adds jobs)
SELECT j.source_id AS job_id, j.import_id, j.p, r.source_id AS run_source_id
FROM ({landed_fields("job", _JOB)}) j
JOIN gh_runs r ON r.source_id = j.p.run_id
 AND coalesce(j.p.run_attempt, '1') = coalesce(r.p.run_attempt, '1')
""",
    ),
    (
        "run_ends",
        f"""
SELECT run_source_id, max({ts("p.completed_at")}) AS last_completed FROM gh_jobs GROUP BY 1
""",
    ),
    (
        "src_runs",
        f"""
SELECT r.source_id, r.import_id, coalesce(r.p.name, r.p.path) AS label,
       CASE WHEN r.p.event IN ('push', 'pull_request', 'pull_request_target', 'merge_group') THEN 'commit'
            WHEN r.p.event = 'schedule' THEN 'schedule'
            WHEN r.p.event IN ('workflow_dispatch', 'repository_dispatch') THEN 'manual'
            ELSE r.p.event END AS trigger,
       {_status("r.p")} AS status,
       {ts("r.p.created_at")} AS created,
       {ts("coalesce(r.p.run_started_at, r.p.created_at)")} AS started,
       CASE WHEN r.p.status = 'completed' THEN coalesce(e.last_completed, {ts("r.p.updated_at")}) END
           AS finished,
       r.p.head_sha AS head_sha
FROM gh_runs r LEFT JOIN run_ends e ON e.run_source_id = r.source_id
""",
    ),
    (
        "job_steps",
        f"""
SELECT j.run_source_id, j.import_id, j.job_id, j.p.name AS job_name, {ts("j.p.started_at")} AS job_started,
       unnest(j.p.steps) AS s
FROM gh_jobs j
""",
    ),
    (
        "src_steps",
        f"""
SELECT run_source_id, import_id, job_started, TRY_CAST(job_id AS BIGINT) AS job_id, s.number AS step_no,
       job_name || ': ' || s.name AS name, {_status("s")} AS status, {ts("s.started_at")} AS started,
       {ts("s.completed_at")} AS finished
FROM job_steps
UNION ALL
-- a job without steps (queued, or skipped before it began) is one step of its own
SELECT j.run_source_id, j.import_id, {ts("j.p.started_at")}, TRY_CAST(j.job_id AS BIGINT), 0, j.p.name,
       {_status("j.p")}, {ts("j.p.started_at")}, {ts("j.p.completed_at")}
FROM gh_jobs j WHERE len(coalesce(j.p.steps, [])) = 0
""",
    ),
    (
        "statuses",
        f"""
-- 'inactive' is GitHub retiring a deployment when a newer one succeeds, not an outcome of it
SELECT regexp_extract(p.deployment_url, '/deployments/([0-9]+)$', 1) AS deployment_source_id,
       p.state AS state, {ts("p.created_at")} AS status_time, p.id AS id,
       regexp_extract(coalesce(p.log_url, p.target_url, ''), '/actions/runs/([0-9]+)', 1) AS run_source_id
FROM ({landed_fields("deployment_status", _STATUS)}) WHERE p.state <> 'inactive'
""",
    ),
    (
        "latest",
        """
SELECT deployment_source_id, arg_max(state, row(status_time, id)) AS state, max(status_time) AS status_time,
       max(nullif(run_source_id, '')) AS run_source_id
FROM statuses GROUP BY 1
""",
    ),
    (
        "src_deploys",
        f"""
SELECT d.source_id, d.p.environment AS environment,
       CASE WHEN d.p.ref = d.p.sha THEN left(d.p.sha, 7) ELSE d.p.ref || '@' || left(d.p.sha, 7) END AS ref,
       d.p.sha AS sha,
       CASE WHEN s.state = 'success' THEN 'success'
            WHEN s.state IN ('failure', 'error') THEN 'failed'
            ELSE coalesce(s.state, 'unknown') END AS state,
       {ts("d.p.created_at")} AS created, s.status_time AS status_at, s.run_source_id
FROM ({landed_fields("deployment", _DEPLOYMENT)}) d LEFT JOIN latest s ON s.deployment_source_id = d.source_id
""",
    ),
    (
        "src_commits",
        f"""
-- a saved commit says more than a run's head commit: prefer it
SELECT sha, arg_max(message, rank) AS message, arg_max(authored, rank) AS authored,
       bool_or(is_change) AS is_change
FROM (
    SELECT source_id AS sha, p.commit.message AS message, {ts("p.commit.author.date")} AS authored,
           2 AS rank, true AS is_change
    FROM ({landed_fields("commit", _COMMIT)})
    UNION ALL
    SELECT p.head_commit.id, p.head_commit.message, {ts("p.head_commit.timestamp")}, 1,
           coalesce(p.event = 'push' AND p.head_branch = $branch, false)
    FROM gh_runs WHERE p.head_commit.id IS NOT NULL
)
GROUP BY sha
""",
    ),
    (
        "src_compare",
        f"""
SELECT source_id AS head_sha, unnest(p.commits).sha AS commit_sha FROM ({landed_fields("compare", _COMPARE)})
""",
    ),
    (
        "src_issues",
        f"""
SELECT source_id, p.number AS number, p.title AS title, p.body AS body,
       {ts("p.created_at")} AS created, {ts("p.closed_at")} AS closed,
       -- a label is an object with a name, or (the schema allows it) just the name
       list_contains(list_transform(list_concat(json_extract_string(p.labels, '$[*].name'),
                                                json_extract_string(p.labels, '$[*]')),
                                    lambda x: lower(x)),
                     lower($incident_label)) AS is_incident
FROM ({landed_fields("issue", _ISSUE)})
""",
    ),
)


def github_transforms() -> list[str]:
    """The statements that turn landed GitHub records into runs, steps, releases, changes, incidents."""
    return cicd_transforms(GITHUB_STAGING)


_CREATED = ts("payload ->> 'created_at'")


def github_resume_time(store: Store, workspace: str) -> datetime | None:
    """Where a live import asks for runs from: the oldest landed run still unfinished (it may have
    finished since), else the newest run landed (None: nothing landed yet)."""
    if not store.exists():
        return None
    frame = store._frame(
        "SELECT coalesce(min(created) FILTER (WHERE status IS DISTINCT FROM 'completed'), max(created)) AS t "
        f"FROM (SELECT {_CREATED} AS created, payload ->> 'status' AS status "
        "      FROM landing WHERE workspace = ? AND source = 'github' AND kind = 'workflow_run')",
        [workspace],
    )
    value = frame["t"].iloc[0] if not frame.empty else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def github_runs_with_jobs(store: Store, workspace: str) -> set[str]:
    """The runs whose jobs were landed already."""
    if not store.exists():
        return set()
    frame = store._frame(
        "SELECT DISTINCT payload ->> 'run_id' AS run_id FROM landing "
        "WHERE workspace = ? AND source = 'github' AND kind = 'job'",
        [workspace],
    )
    return set(frame["run_id"].dropna().astype(str))


def github_known_commits(store: Store, workspace: str) -> set[str]:
    """The commits whose time a landed record tells: saved commits and runs' head commits."""
    if not store.exists():
        return set()
    frame = store._frame(
        "SELECT CASE kind WHEN 'commit' THEN source_id ELSE payload -> 'head_commit' ->> 'id' END AS sha "
        "FROM landing WHERE workspace = ? AND source = 'github' AND kind IN ('commit', 'workflow_run')",
        [workspace],
    )
    return set(frame["sha"].dropna().astype(str))


def github_unsettled_deployments(store: Store, workspace: str) -> set[str]:
    """Landed deployments with no final status landed yet (success, failure, error, inactive): a live
    import asks for their statuses again."""
    if not store.exists():
        return set()
    frame = store._frame(
        "SELECT d.source_id FROM landing d WHERE d.workspace = ? AND d.source = 'github' AND d.kind = 'deployment' "
        "AND NOT EXISTS (SELECT 1 FROM landing s WHERE s.workspace = d.workspace AND s.source = 'github' "
        "  AND s.kind = 'deployment_status' "
        "  AND s.payload ->> 'state' IN ('success', 'failure', 'error', 'inactive') "
        "  AND regexp_extract(s.payload ->> 'deployment_url', '/deployments/([0-9]+)$', 1) = d.source_id)",
        [workspace],
    )
    return set(frame["source_id"].astype(str))
