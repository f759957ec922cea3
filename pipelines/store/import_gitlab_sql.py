"""GitLab's landed records in the shared CI/CD columns (`pipelines/store/import_cicd_sql.py`).

The kinds landed by `pipelines.importers.gitlab`, each the REST API's (v4) own object: `pipeline`,
`job` (a pipeline's jobs are its steps: GitLab does not expose a job's script steps), `deployment`
(with its `deployable` job and that job's commit), `issue`, `commit` and `compare`.
"""

from __future__ import annotations

from pipelines.store.import_cicd_sql import cicd_transforms, landed_fields, ts
from pipelines.store.import_cicd_sql import fields as _fields

__all__ = ["GITLAB_STAGING", "gitlab_transforms"]

_TERMINAL = "('success', 'failed', 'canceled', 'skipped')"
_TEXT = "VARCHAR"
_COMMIT = {"id": _TEXT, "message": _TEXT, "authored_date": _TEXT, "created_at": _TEXT}
_PIPELINE = _fields(
    name=_TEXT, ref=_TEXT, sha=_TEXT, source=_TEXT, status=_TEXT, created_at=_TEXT, updated_at=_TEXT,
    started_at=_TEXT, finished_at=_TEXT,
)  # fmt: skip
_JOB = _fields(
    name=_TEXT, stage=_TEXT, status=_TEXT, started_at=_TEXT, finished_at=_TEXT, pipeline={"id": _TEXT},
    commit=_COMMIT,
)  # fmt: skip
_DEPLOYMENT = _fields(
    ref=_TEXT, sha=_TEXT, status=_TEXT, created_at=_TEXT, updated_at=_TEXT, environment={"name": _TEXT},
    deployable={"finished_at": _TEXT, "pipeline": {"id": _TEXT}, "commit": _COMMIT},
)  # fmt: skip
_ISSUE = _fields(
    iid=_TEXT, title=_TEXT, description=_TEXT, created_at=_TEXT, closed_at=_TEXT, labels="JSON",
    issue_type=_TEXT, type=_TEXT,
)  # fmt: skip


def _job_status(p: str) -> str:
    return f"""CASE {p}.status WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'failed'
            WHEN 'canceled' THEN 'interrupted' WHEN 'skipped' THEN 'skipped' WHEN 'manual' THEN 'skipped'
            ELSE 'running' END"""


GITLAB_STAGING: tuple[tuple[str, str], ...] = (
    ("gl_pipelines", landed_fields("pipeline", _PIPELINE)),
    (
        "gl_jobs",
        f"""SELECT source_id AS job_id, import_id, p, p.pipeline.id AS run_source_id
            FROM ({landed_fields("job", _JOB)})""",
    ),
    (
        "job_times",
        f"""SELECT run_source_id, min({ts("p.started_at")}) AS first_start, max({ts("p.finished_at")}) AS last_finish
            FROM gl_jobs GROUP BY 1""",
    ),
    (
        "src_runs",
        f"""
SELECT r.source_id, r.import_id, coalesce(r.p.name, r.p.ref) AS label,
       CASE WHEN r.p.source IN ('push', 'merge_request_event', 'external_pull_request_event') THEN 'commit'
            WHEN r.p.source = 'schedule' THEN 'schedule'
            WHEN r.p.source = 'web' THEN 'manual'
            ELSE r.p.source END AS trigger,
       CASE r.p.status WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'failed'
            WHEN 'canceled' THEN 'interrupted' WHEN 'skipped' THEN 'interrupted'
            ELSE 'running' END AS status,
       {ts("r.p.created_at")} AS created,
       coalesce({ts("r.p.started_at")}, t.first_start, {ts("r.p.created_at")}) AS started,
       CASE WHEN r.p.status IN {_TERMINAL}
            THEN coalesce({ts("r.p.finished_at")}, t.last_finish, {ts("r.p.updated_at")}) END AS finished,
       r.p.sha AS head_sha
FROM gl_pipelines r LEFT JOIN job_times t ON t.run_source_id = r.source_id""",
    ),
    (
        "src_steps",
        f"""
SELECT run_source_id, import_id, {ts("p.started_at")} AS job_started, TRY_CAST(job_id AS BIGINT) AS job_id,
       0 AS step_no, coalesce(p.stage || ': ', '') || p.name AS name, {_job_status("p")} AS status,
       {ts("p.started_at")} AS started, {ts("p.finished_at")} AS finished
FROM gl_jobs""",
    ),
    ("gl_deployments", landed_fields("deployment", _DEPLOYMENT)),
    (
        "src_deploys",
        f"""
SELECT source_id, p.environment.name AS environment,
       CASE WHEN p.ref = p.sha THEN left(p.sha, 7) ELSE p.ref || '@' || left(p.sha, 7) END AS ref,
       p.sha AS sha,
       CASE p.status WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failed' ELSE p.status END AS state,
       {ts("p.created_at")} AS created,
       coalesce({ts("p.deployable.finished_at")}, {ts("p.updated_at")}) AS status_at,
       p.deployable.pipeline.id AS run_source_id
FROM gl_deployments""",
    ),
    (
        "src_commits",
        f"""
-- a saved commit says more than a job's commit: prefer it
SELECT sha, arg_max(message, rank) AS message, arg_max(authored, rank) AS authored,
       bool_or(is_change) AS is_change
FROM (
    SELECT source_id AS sha, p.message AS message, {ts("coalesce(p.authored_date, p.created_at)")} AS authored,
           2 AS rank, true AS is_change
    FROM ({landed_fields("commit", _fields(**_COMMIT))})
    UNION ALL
    SELECT p.deployable.commit.id, p.deployable.commit.message,
           {ts("coalesce(p.deployable.commit.authored_date, p.deployable.commit.created_at)")}, 1, false
    FROM gl_deployments WHERE p.deployable.commit.id IS NOT NULL
    UNION ALL
    -- the commits pushed to the branch, as its pipelines' jobs name them
    SELECT j.p.commit.id, j.p.commit.message, {ts("coalesce(j.p.commit.authored_date, j.p.commit.created_at)")}, 1,
           coalesce(r.p.source = 'push' AND r.p.ref = $branch, false)
    FROM gl_jobs j LEFT JOIN gl_pipelines r ON r.source_id = j.run_source_id
    WHERE j.p.commit.id IS NOT NULL
)
GROUP BY sha""",
    ),
    (
        "src_compare",
        f"""SELECT source_id AS head_sha, unnest(p.commits).id AS commit_sha
            FROM ({landed_fields("compare", _fields(commits=[{"id": _TEXT}]))})""",
    ),
    (
        "src_issues",
        f"""
-- labels are names, or objects with a name (`with_labels_details`); GitLab's own incident type counts too
SELECT source_id, p.iid AS number, p.title AS title, p.description AS body,
       {ts("p.created_at")} AS created, {ts("p.closed_at")} AS closed,
       list_contains(list_transform(list_concat(json_extract_string(p.labels, '$[*].name'),
                                                json_extract_string(p.labels, '$[*]')),
                                    lambda x: lower(x)),
                     lower($incident_label))
       OR lower(coalesce(p.issue_type, p.type, '')) = 'incident' AS is_incident
FROM ({landed_fields("issue", _ISSUE)})""",
    ),
)


def gitlab_transforms() -> list[str]:
    """The statements that turn landed GitLab records into runs, steps, releases, changes, incidents."""
    return cicd_transforms(GITLAB_STAGING)
