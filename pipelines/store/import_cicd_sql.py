"""The transforms GitHub's and GitLab's landed records share: runs, steps, releases, changes, incidents.

Each source writes its staging (`pipelines/store/import_github_sql.py`, `import_gitlab_sql.py`): named
queries, made temporary tables of the import in order, that read its landed payloads into the same tables,

- `src_runs(source_id, import_id, label, trigger, status, created, started, finished, head_sha)`:
  a CI run (workflow run, pipeline) with a status in OpsLab's words;
- `src_steps(run_source_id, import_id, job_started, job_id, step_no, name, status, started, finished)`:
  its jobs and their steps;
- `src_deploys(source_id, environment, ref, sha, state, created, status_at, run_source_id)`: a
  deployment with its latest state (success | failed | other) and when it reached it;
- `src_commits(sha, message, authored, is_change)`: every commit the source tells a time of;
  `is_change` marks the branch's own commits (a pull request's head commit is not a change);
- `src_compare(head_sha, commit_sha)`: the commits a saved compare says a head shipped;
- `src_issues(source_id, number, title, body, created, closed, is_incident)`;

and the statements below turn them into the tables a played scenario writes, with ids
`<source>:<kind>:<source id>`. Every statement is idempotent (upserts keyed by those ids, or
recomputed from everything landed), so a re-import changes only what the source changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipelines.store.core import Store

__all__ = [
    "STAGED",
    "cicd_transforms",
    "fields",
    "landed_counts",
    "landed_fields",
    "landed_ids",
    "landed_updated",
    "landed_values",
    "ts",
]


def fields(**shape: object) -> str:
    """A `json_transform` shape: each payload is parsed once into the fields the transforms read
    (a `->>` per field would parse it once per field: seconds at 100k records)."""
    return json.dumps(shape, separators=(",", ":"))


def landed_fields(kind: str, shape: str) -> str:
    """One kind of landed record as (source_id, import_id, p): `p` the struct of `shape`'s fields."""
    return f"""SELECT source_id, import_id, json_transform(payload, '{shape}') AS p FROM landing
    WHERE workspace = $workspace AND source = $source AND kind = '{kind}'"""


def ts(expression: str) -> str:
    """SQL for an ISO 8601 text (with any offset) as a naive UTC timestamp, as every table stores time."""
    return f"timezone('UTC', CAST({expression} AS TIMESTAMPTZ))"


# The production environment's deployments that reached it, in the source's words.
_RELEASED = "d.state = 'success' AND lower(d.environment) = lower($environment)"

_RUNS = """
INSERT INTO runs (run_id, workspace, kind, trigger, status, sim_time, started_at, finished_at, duration_ms,
                  input_fingerprint, label)
SELECT $source || ':run:' || r.source_id, $workspace, 'devops', r.trigger, r.status, r.created, r.started,
       r.finished, epoch_ms(r.finished) - epoch_ms(r.started), r.head_sha, r.label
FROM src_runs r
ON CONFLICT (run_id) DO UPDATE SET
    trigger = excluded.trigger, status = excluded.status, sim_time = excluded.sim_time,
    started_at = excluded.started_at, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
    input_fingerprint = excluded.input_fingerprint, label = excluded.label
"""

# A deployment that failed to reach production shipped nothing: like a played pipeline whose deploy
# step failed, it is a failed run (Four Keys, too, counts only successful deployments).
_FAILED_DEPLOYS = """
INSERT INTO runs (run_id, workspace, kind, trigger, status, sim_time, started_at, finished_at, duration_ms,
                  input_fingerprint, label)
SELECT $source || ':deployment:' || d.source_id, $workspace, 'devops', 'deployment', 'failed', d.created,
       d.created, d.status_at, epoch_ms(d.status_at) - epoch_ms(d.created), d.sha,
       'deployment to ' || d.environment || ': ' || d.ref
FROM src_deploys d
WHERE d.state = 'failed' AND lower(d.environment) = lower($environment)
ON CONFLICT (run_id) DO UPDATE SET finished_at = excluded.finished_at, duration_ms = excluded.duration_ms
"""

_UNFAILED_DEPLOYS = """
DELETE FROM runs WHERE workspace = $workspace AND run_id IN (
SELECT $source || ':deployment:' || source_id FROM src_deploys WHERE state <> 'failed')
"""

# Steps are rewritten only for the runs whose jobs changed in this import.
_STEPS_CLEAR = """
DELETE FROM steps WHERE workspace = $workspace AND run_id IN (
SELECT $source || ':run:' || run_source_id FROM src_steps WHERE import_id = $import_id)
"""

_STEPS = """
INSERT INTO steps (run_id, workspace, position, name, status, started_at, finished_at, duration_ms, metrics)
WITH changed AS (SELECT DISTINCT run_source_id FROM src_steps WHERE import_id = $import_id)
SELECT $source || ':run:' || s.run_source_id, $workspace,
       CAST(row_number() OVER (PARTITION BY s.run_source_id
                               ORDER BY s.job_started NULLS LAST, s.job_id, s.step_no) - 1 AS INTEGER),
       s.name, s.status, s.started, s.finished, epoch_ms(s.finished) - epoch_ms(s.started), '{}'
FROM src_steps s
WHERE s.run_source_id IN (SELECT run_source_id FROM changed)
  AND s.run_source_id IN (SELECT source_id FROM src_runs)
"""

_RELEASES = f"""
INSERT INTO deployments (deployment_id, workspace, environment, kind, ref, run_id, sim_time, deployed_at,
                         commit_sha, commit_time, unplanned, reason)
SELECT $source || ':deployment:' || d.source_id, $workspace, 'production', 'release', d.ref,
       CASE WHEN d.run_source_id IS NOT NULL THEN $source || ':run:' || d.run_source_id END,
       d.status_at, d.status_at, d.sha, c.authored, false,
       $source || ' deployment ' || d.source_id || ' to ' || d.environment
FROM src_deploys d LEFT JOIN src_commits c ON c.sha = d.sha
WHERE {_RELEASED}
ON CONFLICT (deployment_id) DO UPDATE SET
    ref = excluded.ref, run_id = excluded.run_id, sim_time = excluded.sim_time,
    deployed_at = excluded.deployed_at, commit_sha = excluded.commit_sha, commit_time = excluded.commit_time
"""

# The source's releases in order: each is replaced by the next; a release of a commit production already
# ran (not the one it replaces) is a rollback redeploy, unplanned, and rolls back the one it replaces; a
# release of a revert commit is rework too.
_RELEASE_CHAIN = """
UPDATE deployments SET replaced_by = x.next_id, replaced_sim_time = x.next_time, unplanned = x.unplanned,
       rolled_back = x.rolled_back,
       reason = CASE WHEN x.redeploy THEN 'rollback redeploy of ' || x.commit_sha
                     WHEN x.revert THEN 'revert release'
                     ELSE deployments.reason END
FROM (
    SELECT *, redeploy OR revert AS unplanned,
           coalesce(lead(redeploy) OVER w, false) AS rolled_back,
           lead(deployment_id) OVER w AS next_id, lead(sim_time) OVER w AS next_time
    FROM (
        SELECT d.deployment_id, d.sim_time, d.commit_sha,
               d.commit_sha IS NOT NULL
               AND count(*) OVER (PARTITION BY d.commit_sha ORDER BY d.sim_time, d.deployment_id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > 1
               AND d.commit_sha IS DISTINCT FROM lag(d.commit_sha) OVER (ORDER BY d.sim_time, d.deployment_id)
                   AS redeploy,
               coalesce(c.message ILIKE 'Revert%', false) AS revert
        FROM deployments d
        LEFT JOIN changes c ON c.workspace = d.workspace AND c.commit_sha = d.commit_sha
        WHERE d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'release'
          AND starts_with(d.deployment_id, $source || ':')
    )
    WINDOW w AS (ORDER BY sim_time, deployment_id)
) x
WHERE deployments.deployment_id = x.deployment_id
"""

_CHANGES = f"""
INSERT INTO changes (workspace, commit_sha, change_id, kind, message, committed_sim_time)
SELECT $workspace, c.sha, $source || ':commit:' || c.sha,
       CASE WHEN c.message ILIKE 'Revert%' THEN 'revert' ELSE 'commit' END, c.message, c.authored
FROM src_commits c
WHERE c.authored IS NOT NULL
  AND (c.is_change
       OR c.sha IN (SELECT d.sha FROM src_deploys d WHERE {_RELEASED})
       OR c.sha IN (SELECT commit_sha FROM src_compare))
ON CONFLICT (workspace, commit_sha) DO UPDATE SET
    kind = excluded.kind, message = excluded.message, committed_sim_time = excluded.committed_sim_time
"""

# Which release shipped a change: the first whose saved compare lists it; without one, the first release
# whose commit is at least as new as the change (the branch read as linear: a release ships everything
# committed before its commit). `reach` is the newest commit production has run so far, so it never
# goes back with a rollback; the first release reaching a change's time (and deployed after it) ships it.
_SHIPPED = """
UPDATE changes SET deployment_id = x.deployment_id, deployed_sim_time = x.deployed
FROM (
WITH releases AS (
    SELECT deployment_id, sim_time,
           least(sim_time, max(commit_time) OVER (ORDER BY sim_time, deployment_id
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS reach
    FROM deployments
    WHERE workspace = $workspace AND environment = 'production' AND kind = 'release'
      AND starts_with(deployment_id, $source || ':')
), first_reach AS (
    SELECT reach, arg_min(deployment_id, sim_time) AS deployment_id, min(sim_time) AS sim_time
    FROM releases WHERE reach IS NOT NULL GROUP BY reach
), exact AS (
    SELECT cmp.commit_sha, arg_min(d.deployment_id, d.sim_time) AS deployment_id, min(d.sim_time) AS sim_time
    FROM src_compare cmp
    JOIN deployments d ON d.workspace = $workspace AND d.commit_sha = cmp.head_sha
                      AND d.environment = 'production' AND d.kind = 'release'
                      AND starts_with(d.deployment_id, $source || ':')
    GROUP BY cmp.commit_sha
), mine AS (
    SELECT commit_sha, committed_sim_time FROM changes
    WHERE workspace = $workspace AND starts_with(change_id, $source || ':')
), linear AS (
    SELECT m.commit_sha, f.deployment_id, f.sim_time
    FROM mine m ASOF LEFT JOIN first_reach f ON m.committed_sim_time <= f.reach
)
SELECT l.commit_sha, coalesce(e.deployment_id, l.deployment_id) AS deployment_id,
       coalesce(e.sim_time, l.sim_time) AS deployed
FROM linear l LEFT JOIN exact e USING (commit_sha)
) x
WHERE changes.workspace = $workspace AND changes.commit_sha = x.commit_sha
"""

# Four Keys' incidents (dora-team/fourkeys, queries/incidents.sql): an issue with the incident label
# is an incident from its creation to its closing; a "root cause: SHA" line in it names the change that
# caused it, and so the release that shipped that change.
_INCIDENTS = r"""
INSERT INTO incidents (incident_id, workspace, kind, status, opened_sim_time, resolved_sim_time, opened_at,
                       resolved_at, cause, cause_deployment_id, detected_by, summary)
WITH roots AS (
    SELECT i.*, lower(regexp_extract(coalesce(i.title, '') || chr(10) || coalesce(i.body, ''),
                                     '(?i)root cause:\s*([[:alnum:]]+)', 1)) AS root
    FROM src_issues i WHERE i.is_incident
), shipped AS (
    SELECT commit_sha, deployment_id FROM changes
    WHERE workspace = $workspace AND deployment_id IS NOT NULL
    UNION ALL
    SELECT commit_sha, deployment_id FROM deployments
    WHERE workspace = $workspace AND environment = 'production' AND kind = 'release' AND commit_sha IS NOT NULL
), causes AS (
    SELECT r.source_id, arg_min(d.deployment_id, d.sim_time) AS deployment_id, arg_min(d.ref, d.sim_time) AS ref
    FROM roots r
    JOIN shipped s ON length(r.root) >= 7 AND starts_with(lower(s.commit_sha), r.root)
    JOIN deployments d ON d.deployment_id = s.deployment_id
    GROUP BY r.source_id
)
SELECT $source || ':issue:' || r.source_id, $workspace, 'service',
       CASE WHEN r.closed IS NULL THEN 'open' ELSE 'resolved' END,
       r.created, r.closed, r.created, r.closed, c.ref, c.deployment_id,
       $source || ' issue #' || r.number, r.title
FROM roots r LEFT JOIN causes c USING (source_id)
ON CONFLICT (incident_id) DO UPDATE SET
    status = excluded.status, opened_sim_time = excluded.opened_sim_time,
    resolved_sim_time = excluded.resolved_sim_time, opened_at = excluded.opened_at,
    resolved_at = excluded.resolved_at, cause = excluded.cause, cause_deployment_id = excluded.cause_deployment_id,
    summary = excluded.summary
"""

# An issue that lost its incident label is no longer an incident.
_NOT_INCIDENTS = """
DELETE FROM incidents WHERE workspace = $workspace AND incident_id IN (
SELECT $source || ':issue:' || source_id FROM src_issues WHERE NOT is_incident)
"""

# In order: runs before their steps; releases, then the changes they and the commits name, then the
# release chain (a revert is known from its change's message), then what shipped what, then incidents.
_TEMPLATES = (
    _RUNS,
    _FAILED_DEPLOYS,
    _UNFAILED_DEPLOYS,
    _STEPS_CLEAR,
    _STEPS,
    _RELEASES,
    _CHANGES,
    _RELEASE_CHAIN,
    _SHIPPED,
    _INCIDENTS,
    _NOT_INCIDENTS,
)


STAGED = ("src_runs", "src_steps", "src_deploys", "src_commits", "src_compare", "src_issues")


def cicd_transforms(staging: Sequence[tuple[str, str]]) -> list[str]:
    """The shared statements after a source's staging: each staged query, in order, becomes a
    temporary table of the import's connection (so each payload is parsed once, however many
    statements read it; later ones read earlier ones by name), dropped at the end."""
    names = [name for name, _ in staging]
    missing = set(STAGED) - set(names)
    if missing:
        raise ValueError(f"the staging does not make {', '.join(sorted(missing))}")
    create = [f"CREATE OR REPLACE TEMP TABLE {name} AS {sql.strip()}" for name, sql in staging]
    drop = [f"DROP TABLE IF EXISTS {name}" for name in reversed(names)]
    return [*create, *_TEMPLATES, *drop]


def landed_counts(store: Store, workspace: str, source: str) -> dict[str, int]:
    """How many records of each kind a source has landed in the workspace."""
    if not store.exists():
        return {}
    frame = store._frame(
        "SELECT kind, count(*) AS n FROM landing WHERE workspace = ? AND source = ? GROUP BY kind",
        [workspace, source],
    )
    return {str(k): int(n) for k, n in zip(frame["kind"], frame["n"], strict=True)}


def landed_updated(store: Store, workspace: str, source: str, kind: str) -> dict[str, Any]:
    """Each landed record's `updated_at` by source id: a live import re-reads only what changed."""
    if not store.exists():
        return {}
    frame = store._frame(
        "SELECT source_id, updated_at FROM landing WHERE workspace = ? AND source = ? AND kind = ?",
        [workspace, source, kind],
    )
    return dict(zip(frame["source_id"], frame["updated_at"], strict=True))


def landed_ids(store: Store, workspace: str, source: str, kind: str) -> set[str]:
    """The source ids of one kind of record a source has landed in the workspace."""
    return set(landed_updated(store, workspace, source, kind))


def landed_values(
    store: Store, workspace: str, source: str, kind: str, path: str, *, status: Sequence[str] = ()
) -> set[str]:
    """A JSON path's values (e.g. `$.pipeline.id`) over a kind of landed record; with `status`, only of
    the records whose `status` is one of them (`path` is the importer's own constant, never input)."""
    if not store.exists():
        return set()
    sql = "SELECT json_extract_string(payload, ?) AS v FROM landing WHERE workspace = ? AND source = ? AND kind = ?"
    params: list[Any] = [path, workspace, source, kind]
    if status:
        sql += " AND payload ->> 'status' IN (SELECT unnest(?))"
        params.append(list(status))
    frame = store._frame(sql, params)
    return set(frame["v"].dropna().astype(str))
