"""The git importer's transforms: landed commits and releases -> deployments, changes, incidents.

`pipelines.importers.git` lands one record per commit (kind `commit`: its times in UTC, subject, the
commit it reverts, the release that first shipped it) and one per release (kind `tag`, `merge` or
`push`: name, commit, time, the version's numbers for a tag). These statements run in the import's
transaction (`land_and_transform`) over everything landed for the workspace, so a re-import recomputes
what a new release or revert changed, and derive every id from git's own (`git:tag:v1.2.3`,
`git:incident:tag:v1.2.3`), so nothing is inserted twice.

Rework and failure, as the importer's docstring says: a release is unplanned (rework) when it ships a
revert of a commit an earlier release shipped, or is a quick patch (same major.minor, a higher patch,
within `$window_hours` of the release before it on that line); a release failed when a revert of one of
its commits was committed within `$window_hours` of it, or a quick patch followed it.
"""

from __future__ import annotations

from typing import Any

from pipelines.store.core import Store, from_json

__all__ = [
    "GIT_CHANGES_SQL",
    "GIT_DEPLOYMENTS_SQL",
    "GIT_INCIDENTS_SQL",
    "GIT_STALE_INCIDENTS_SQL",
    "GIT_TRANSFORMS",
    "last_import",
]

# The landed history as tables, and the evidence of rework and failure; every statement starts with it.
_GIT_HISTORY = """
WITH releases AS (
    SELECT l.kind || ':' || l.source_id AS release,
           'git:' || l.kind || ':' || l.source_id AS deployment_id,
           l.kind AS release_kind,
           l.payload ->> 'name' AS ref,
           l.payload ->> 'sha' AS commit_sha,
           CAST(l.payload ->> 'released_at' AS TIMESTAMP) AS released_at,
           CAST(l.payload ->> 'major' AS INTEGER) AS major,
           CAST(l.payload ->> 'minor' AS INTEGER) AS minor,
           CAST(l.payload ->> 'patch' AS INTEGER) AS patch
    FROM landing l
    WHERE l.workspace = $workspace AND l.source = 'git' AND l.kind IN ('tag', 'merge', 'push')
), commits AS (
    SELECT l.source_id AS sha,
           l.payload ->> 'release' AS release,
           l.payload ->> 'reverts' AS reverts,
           l.payload ->> 'subject' AS subject,
           json_array_length(l.payload -> 'parents') AS parents,
           CAST(l.payload ->> 'author_time' AS TIMESTAMP) AS author_time,
           CAST(l.payload ->> 'commit_time' AS TIMESTAMP) AS commit_time
    FROM landing l
    WHERE l.workspace = $workspace AND l.source = 'git' AND l.kind = 'commit'
), window_span AS (
    SELECT to_microseconds(CAST($window_hours * 3600e6 AS BIGINT)) AS span
), quick_patches AS (
    -- a patch release on the same major.minor line, within the window after the release before it
    SELECT p.deployment_id AS fix_id, p.ref AS fix_ref, p.released_at AS fixed_at, p.previous_id AS failed_id
    FROM (SELECT *, lag(deployment_id) OVER line AS previous_id, lag(released_at) OVER line AS previous_at,
                 lag(patch) OVER line AS previous_patch
          FROM releases WHERE patch IS NOT NULL
          WINDOW line AS (PARTITION BY major, minor ORDER BY released_at, deployment_id)) p, window_span w
    WHERE p.previous_id IS NOT NULL AND p.patch > p.previous_patch
      AND p.released_at <= p.previous_at + w.span
), reverts AS (
    -- a revert of a commit that an earlier release shipped (not one reverted before it was released)
    SELECT c.sha AS revert_sha, c.commit_time AS reverted_at, c.release AS fix_release,
           shipped.deployment_id AS reverted_id, shipped.released_at AS reverted_release_at
    FROM commits c
    JOIN commits x ON x.sha = c.reverts
    JOIN releases shipped ON shipped.release = x.release
    WHERE c.release IS DISTINCT FROM x.release
), evidence AS (
    -- what made a release a failed change, and the release that shipped the fix (NULL: not yet)
    SELECT failed_id, 'git: patch release ' || fix_ref AS what, fix_id, fixed_at FROM quick_patches
    UNION ALL
    SELECT r.reverted_id, 'git: revert ' || left(r.revert_sha, 12), f.deployment_id, f.released_at
    FROM reverts r CROSS JOIN window_span w LEFT JOIN releases f ON f.release = r.fix_release
    WHERE r.reverted_at BETWEEN r.reverted_release_at AND r.reverted_release_at + w.span
), rework AS (
    SELECT fix_id AS deployment_id, 'quick patch' AS why FROM quick_patches
    UNION
    SELECT f.deployment_id, 'ships a revert' FROM reverts r JOIN releases f ON f.release = r.fix_release
)
"""

GIT_DEPLOYMENTS_SQL = f"""
INSERT INTO deployments AS d (deployment_id, workspace, environment, kind, ref, sim_time, deployed_at, commit_sha,
                              commit_time, unplanned, reason, replaced_by, replaced_sim_time)
{_GIT_HISTORY}
SELECT r.deployment_id, $workspace, 'production', 'release', r.ref, r.released_at, r.released_at, r.commit_sha,
       c.author_time,
       EXISTS (SELECT 1 FROM rework w WHERE w.deployment_id = r.deployment_id),
       'git ' || r.release_kind || coalesce(' (rework: ' || (SELECT string_agg(DISTINCT w.why, ', ') FROM rework w
                                                             WHERE w.deployment_id = r.deployment_id) || ')', ''),
       lead(r.deployment_id) OVER line, lead(r.released_at) OVER line
FROM releases r LEFT JOIN commits c ON c.sha = r.commit_sha
WINDOW line AS (ORDER BY r.released_at, r.deployment_id)
ON CONFLICT (deployment_id) DO UPDATE SET
    ref = excluded.ref, sim_time = excluded.sim_time, deployed_at = excluded.deployed_at,
    commit_sha = excluded.commit_sha, commit_time = excluded.commit_time, unplanned = excluded.unplanned,
    reason = excluded.reason, replaced_by = excluded.replaced_by, replaced_sim_time = excluded.replaced_sim_time
"""

# Conventional-commit prefixes name a change's kind; any other subject leaves it unknown.
GIT_CHANGES_SQL = f"""
INSERT INTO changes AS ch (workspace, commit_sha, change_id, kind, message, committed_sim_time, deployment_id,
                           deployed_sim_time)
{_GIT_HISTORY}
SELECT $workspace, c.sha, 'git:commit:' || c.sha,
       CASE WHEN c.reverts IS NOT NULL OR starts_with(c.subject, 'Revert "') THEN 'revert'
            WHEN c.parents = 0 THEN 'initial'
            WHEN regexp_matches(c.subject, '^feat(\\(.*\\))?!?:') THEN 'feature'
            WHEN regexp_matches(c.subject, '^fix(\\(.*\\))?!?:') THEN 'fix'
            WHEN regexp_matches(c.subject, '^refactor(\\(.*\\))?!?:') THEN 'refactor'
       END,
       c.subject, c.author_time, r.deployment_id, r.released_at
FROM commits c LEFT JOIN releases r ON r.release = c.release
WHERE c.parents <= 1  -- a merge integrates changes; it is not one
ON CONFLICT (workspace, commit_sha) DO UPDATE SET
    kind = excluded.kind, message = excluded.message, committed_sim_time = excluded.committed_sim_time,
    deployment_id = excluded.deployment_id, deployed_sim_time = excluded.deployed_sim_time
"""

_FAILED = """
failed AS (
    SELECT 'git:incident:' || substr(e.failed_id, 5) AS incident_id, e.failed_id,
           min(e.fixed_at) AS resolved_at, arg_min(e.fix_id, e.fixed_at) AS fix_id,
           string_agg(e.what, ', ' ORDER BY e.what) AS detected_by
    FROM evidence e GROUP BY e.failed_id
)
"""

GIT_INCIDENTS_SQL = f"""
INSERT INTO incidents AS i (incident_id, workspace, kind, status, opened_sim_time, resolved_sim_time, opened_at,
                            resolved_at, cause, cause_deployment_id, detected_by, summary, rollback_deployment_id)
{_GIT_HISTORY}, {_FAILED.strip()}
SELECT f.incident_id, $workspace, 'service', CASE WHEN f.resolved_at IS NULL THEN 'open' ELSE 'resolved' END,
       r.released_at, f.resolved_at, r.released_at, f.resolved_at, r.ref, f.failed_id, f.detected_by,
       'release ' || r.ref || ' failed: followed within ' || printf('%g', $window_hours) || ' h by ' || f.detected_by,
       f.fix_id
FROM failed f JOIN releases r ON r.deployment_id = f.failed_id
ON CONFLICT (incident_id) DO UPDATE SET
    status = excluded.status, opened_sim_time = excluded.opened_sim_time,
    resolved_sim_time = excluded.resolved_sim_time, opened_at = excluded.opened_at,
    resolved_at = excluded.resolved_at, cause = excluded.cause, detected_by = excluded.detected_by,
    summary = excluded.summary, rollback_deployment_id = excluded.rollback_deployment_id
"""

# A re-import can take evidence away (a tag moved to another commit): its incident goes with it.
GIT_STALE_INCIDENTS_SQL = f"""
DELETE FROM incidents
WHERE workspace = $workspace AND starts_with(incident_id, 'git:incident:')
  AND incident_id NOT IN ({_GIT_HISTORY}, {_FAILED.strip()} SELECT incident_id FROM failed)
"""

GIT_TRANSFORMS = (GIT_DEPLOYMENTS_SQL, GIT_CHANGES_SQL, GIT_STALE_INCIDENTS_SQL, GIT_INCIDENTS_SQL)


def last_import(store: Store, workspace: str, source: str) -> dict[str, Any] | None:
    """The latest succeeded import of `source` into the workspace: where from and with which options."""
    if not store.exists():
        return None
    frame = store._frame(
        "SELECT location, options FROM imports WHERE workspace = ? AND source = ? AND status = 'succeeded' "
        "ORDER BY started_at DESC LIMIT 1",
        [workspace, source],
    )
    if frame.empty:
        return None
    return {"location": frame["location"].iloc[0], "options": from_json(frame["options"].iloc[0])}
