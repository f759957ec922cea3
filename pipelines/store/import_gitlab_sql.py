"""GitLab's landed records in the shared CI/CD columns (`pipelines/store/import_cicd_sql.py`).

The kinds landed by `pipelines.importers.gitlab`, each the REST API's (v4) own object: `pipeline`,
`job` (a pipeline's jobs are its steps: GitLab does not expose a job's script steps), `deployment`
(with its `deployable` job and that job's commit), `issue`, `commit` and `compare`.
"""

from __future__ import annotations

from pipelines.store.import_cicd_sql import cicd_transforms, ts

__all__ = ["GITLAB_STAGING", "gitlab_transforms"]

_TERMINAL = "('success', 'failed', 'canceled', 'skipped')"


def _job_status(p: str) -> str:
    return f"""CASE {p} ->> 'status' WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'failed'
                WHEN 'canceled' THEN 'interrupted' WHEN 'skipped' THEN 'skipped' WHEN 'manual' THEN 'skipped'
                ELSE 'running' END"""


GITLAB_STAGING = f"""
WITH gl AS (
    SELECT kind, source_id, payload AS p, import_id FROM landing
    WHERE workspace = $workspace AND source = $source
), gl_pipelines AS (
    SELECT * FROM gl WHERE kind = 'pipeline'
), gl_jobs AS (
    SELECT j.source_id AS job_id, j.import_id, j.p, j.p -> 'pipeline' ->> 'id' AS run_source_id
    FROM gl j WHERE j.kind = 'job'
), job_times AS (
    SELECT run_source_id, min({ts("p ->> 'started_at'")}) AS first_start,
           max({ts("p ->> 'finished_at'")}) AS last_finish
    FROM gl_jobs GROUP BY 1
), src_runs AS (
    SELECT r.source_id, r.import_id, coalesce(r.p ->> 'name', r.p ->> 'ref') AS label,
           CASE WHEN r.p ->> 'source' IN ('push', 'merge_request_event', 'external_pull_request_event')
                    THEN 'commit'
                WHEN r.p ->> 'source' = 'schedule' THEN 'schedule'
                WHEN r.p ->> 'source' = 'web' THEN 'manual'
                ELSE r.p ->> 'source' END AS trigger,
           CASE r.p ->> 'status' WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'failed'
                WHEN 'canceled' THEN 'interrupted' WHEN 'skipped' THEN 'interrupted'
                ELSE 'running' END AS status,
           {ts("r.p ->> 'created_at'")} AS created,
           coalesce({ts("r.p ->> 'started_at'")}, t.first_start, {ts("r.p ->> 'created_at'")}) AS started,
           CASE WHEN r.p ->> 'status' IN {_TERMINAL}
                THEN coalesce({ts("r.p ->> 'finished_at'")}, t.last_finish, {ts("r.p ->> 'updated_at'")})
           END AS finished,
           r.p ->> 'sha' AS head_sha
    FROM gl_pipelines r LEFT JOIN job_times t ON t.run_source_id = r.source_id
), src_steps AS (
    SELECT run_source_id, import_id, {ts("p ->> 'started_at'")} AS job_started,
           TRY_CAST(job_id AS BIGINT) AS job_id, 0 AS step_no,
           coalesce((p ->> 'stage') || ': ', '') || (p ->> 'name') AS name, {_job_status("p")} AS status,
           {ts("p ->> 'started_at'")} AS started, {ts("p ->> 'finished_at'")} AS finished
    FROM gl_jobs
), src_deploys AS (
    SELECT d.source_id, d.p -> 'environment' ->> 'name' AS environment,
           CASE WHEN d.p ->> 'ref' = d.p ->> 'sha' THEN left(d.p ->> 'sha', 7)
                ELSE (d.p ->> 'ref') || '@' || left(d.p ->> 'sha', 7) END AS ref,
           d.p ->> 'sha' AS sha,
           CASE d.p ->> 'status' WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failed'
                ELSE d.p ->> 'status' END AS state,
           {ts("d.p ->> 'created_at'")} AS created,
           coalesce({ts("d.p -> 'deployable' ->> 'finished_at'")}, {ts("d.p ->> 'updated_at'")}) AS status_at,
           d.p -> 'deployable' -> 'pipeline' ->> 'id' AS run_source_id
    FROM gl d WHERE d.kind = 'deployment'
), src_commits AS (
    -- a saved commit says more than a job's commit: prefer it
    SELECT sha, arg_max(message, rank) AS message, arg_max(authored, rank) AS authored,
           bool_or(is_change) AS is_change
    FROM (
        SELECT source_id AS sha, p ->> 'message' AS message,
               {ts("coalesce(p ->> 'authored_date', p ->> 'created_at')")} AS authored, 2 AS rank,
               true AS is_change
        FROM gl WHERE kind = 'commit'
        UNION ALL
        SELECT p -> 'deployable' -> 'commit' ->> 'id', p -> 'deployable' -> 'commit' ->> 'message',
               {
    ts(
        "coalesce(p -> 'deployable' -> 'commit' ->> 'authored_date', "
        "p -> 'deployable' -> 'commit' ->> 'created_at')"
    )
}, 1, false
        FROM gl WHERE kind = 'deployment' AND p -> 'deployable' -> 'commit' ->> 'id' IS NOT NULL
        UNION ALL
        -- the commits pushed to the branch, as its pipelines' jobs name them
        SELECT j.p -> 'commit' ->> 'id', j.p -> 'commit' ->> 'message',
               {ts("coalesce(j.p -> 'commit' ->> 'authored_date', j.p -> 'commit' ->> 'created_at')")}, 1,
               coalesce(r.p ->> 'source' = 'push' AND r.p ->> 'ref' = $branch, false)
        FROM gl_jobs j LEFT JOIN gl_pipelines r ON r.source_id = j.run_source_id
        WHERE j.p -> 'commit' ->> 'id' IS NOT NULL
    )
    GROUP BY sha
), src_compare AS (
    SELECT source_id AS head_sha, unnest(json_extract_string(p, '$.commits[*].id')) AS commit_sha
    FROM gl WHERE kind = 'compare'
), src_issues AS (
    SELECT source_id, p ->> 'iid' AS number, p ->> 'title' AS title, p ->> 'description' AS body,
           {ts("p ->> 'created_at'")} AS created, {ts("p ->> 'closed_at'")} AS closed,
           -- labels are names, or objects with a name (`with_labels_details`); GitLab's own incident
           -- type counts too
           list_contains(list_transform(list_concat(json_extract_string(p, '$.labels[*].name'),
                                                    json_extract_string(p, '$.labels[*]')),
                                        lambda x: lower(x)),
                         lower($incident_label))
           OR lower(coalesce(p ->> 'issue_type', p ->> 'type', '')) = 'incident' AS is_incident
    FROM gl WHERE kind = 'issue'
)
"""


def gitlab_transforms() -> list[str]:
    """The statements that turn landed GitLab records into runs, steps, releases, changes, incidents."""
    return cicd_transforms(GITLAB_STAGING)
