"""GitHub: workflow runs with their jobs and steps, deployments with their statuses, incident issues.

Two ways in, one result:

- **saved pages** (offline): a folder (or one file) of JSON saved with `gh api --paginate`, e.g.
  `gh api --paginate 'repos/O/R/actions/runs?per_page=100' > runs.json`; each page is recognised by
  its shape (a page of workflow runs, of a run's jobs, of deployments, of a deployment's statuses, of
  issues, of commits, or a compare), so file names do not matter;
- **live**: `import_github(store, workspace, "OWNER/REPO")` with a token in `$GITHUB_TOKEN` (read from
  the environment only, never stored). Workflow runs are asked for by creation-date windows
  (`created=START..END`): GitHub returns at most 1,000 runs per query, so a window holding more is
  split in two until each fits. A second import asks only from where the first left off (the oldest
  run still unfinished, else the newest one landed), issues `since` the last one landed.

Deployments to the production environment (configurable) whose latest status (GitHub's automatic
`inactive` aside) is `success` are releases; `failure` or `error` make a failed deployment (a failed
run). Issues carrying the incident label (configurable, case-insensitive) are incidents, and a
"root cause: SHA" line names the change that caused them, as Four Keys reads them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.errors import OpsLabError
from pipelines.importers import ImportFormatError, check_importable
from pipelines.importers.pages import (
    ApiClient,
    check_time,
    iso_utc,
    newest_versions,
    read_pages,
    read_time,
    require,
    saved_files,
    unknowns_note,
)
from pipelines.store import Store
from pipelines.store.import_cicd_sql import landed_counts, landed_updated, landed_values
from pipelines.store.import_github_sql import (
    github_known_commits,
    github_resume_time,
    github_runs_with_jobs,
    github_transforms,
    github_unsettled_deployments,
)
from pipelines.store.landing_sql import ImportSummary, LandedRecord, land_and_transform, watermark

__all__ = ["DEFAULT_API_URL", "RESULT_CAP", "fetch_github", "import_github", "read_saved_github"]

SOURCE = "github"
DEFAULT_API_URL = "https://api.github.com"
RESULT_CAP = 1000  # GitHub's most results for one filtered workflow-runs query
EARLIEST = datetime(2018, 1, 1)  # before GitHub Actions: where a first live import starts
_REPO = re.compile(r"^(?:https?://[^/]+/(?:repos/)?)?([\w.-]+/[\w.-]+?)(?:\.git)?/?$")
_KINDS = "a workflow run, job, deployment, deployment status, issue, commit or compare"


# -- reading -------------------------------------------------------------------------------------
def _record(kind: str, item: Mapping[str, Any], where: str, path: str) -> LandedRecord:
    """One API object as a landed record, with the fields the transforms read checked."""
    if kind == "workflow_run":
        for name in ("id", "head_sha", "status"):
            require(item, name, where, path)
        check_time(item, "created_at", where, path, required=True)
        check_time(item, "run_started_at", where, path, required=False)
        updated = read_time(item, "updated_at", where, path, required=True)
        head = item.get("head_commit")
        if isinstance(head, Mapping):
            check_time(head, "timestamp", where, f"{path}.head_commit", required=False)
    elif kind == "job":
        for name in ("id", "run_id", "status", "name"):
            require(item, name, where, path)
        started = read_time(item, "started_at", where, path, required=False)
        completed = read_time(item, "completed_at", where, path, required=False)
        updated = completed or started
        steps = item.get("steps") or []
        if not isinstance(steps, list):
            raise ImportFormatError(where, f"{path}.steps", "is not a list")
        for i, step in enumerate(steps):
            for name in ("name", "status", "number"):
                require(step, name, where, f"{path}.steps[{i}]")
            for name in ("started_at", "completed_at"):
                check_time(step, name, where, f"{path}.steps[{i}]", required=False)
    elif kind == "deployment":
        for name in ("id", "sha", "ref", "environment"):
            require(item, name, where, path)
        check_time(item, "created_at", where, path, required=True)
        updated = read_time(item, "updated_at", where, path, required=False)
    elif kind == "deployment_status":
        for name in ("id", "state", "deployment_url"):
            require(item, name, where, path)
        updated = read_time(item, "created_at", where, path, required=True)
    elif kind == "issue":
        for name in ("number", "title"):
            require(item, name, where, path)
        check_time(item, "created_at", where, path, required=True)
        check_time(item, "closed_at", where, path, required=False)
        updated = read_time(item, "updated_at", where, path, required=False)
        if not isinstance(item.get("labels") or [], list):
            raise ImportFormatError(where, f"{path}.labels", "is not a list")
    elif kind == "commit":
        require(item, "sha", where, path)
        author = (item.get("commit") or {}).get("author") or {}
        updated = read_time(author, "date", where, f"{path}.commit.author", required=False)
    else:  # pragma: no cover - the classifier only returns the kinds above
        raise ValueError(kind)
    source_id = str(item["number"] if kind == "issue" else item["sha"] if kind == "commit" else item["id"])
    return LandedRecord(kind, source_id, item, updated)


def _kind_of(item: Any) -> str | None:
    """Which API object a list item is, by the fields only it has (None: not one the importer reads)."""
    if not isinstance(item, Mapping):
        return None
    if "workflow_id" in item and "head_sha" in item:
        return "workflow_run"
    if "run_id" in item and "head_sha" in item:  # a job (its `steps` are optional while it queues)
        return "job"
    if "statuses_url" in item and "sha" in item:
        return "deployment"
    if "deployment_url" in item and "state" in item:
        return "deployment_status"
    if "sha" in item and "commit" in item:
        return "commit"
    if "number" in item and "title" in item:
        return "issue"
    return None


def _items(items: Any, where: str, path: str) -> Iterator[LandedRecord]:
    if not isinstance(items, list):
        raise ImportFormatError(where, path, "is not a list")
    for i, item in enumerate(items):
        kind = _kind_of(item)
        if kind is None:
            raise ImportFormatError(where, f"{path}[{i}]", f"is not {_KINDS}")
        if kind == "issue" and "pull_request" in item:
            continue  # the issues endpoint lists pull requests too: they are not incidents
        yield _record(kind, item, where, f"{path}[{i}]")


def records_from_page(page: Any, where: str, page_no: int) -> Iterator[LandedRecord]:
    """The records of one saved (or fetched) page, whatever list endpoint it came from."""
    at = f"page {page_no}"
    if isinstance(page, list):
        if page and all(isinstance(p, Mapping) and ("workflow_runs" in p or "jobs" in p) for p in page):
            for i, inner in enumerate(page):  # `gh api --paginate --slurp`: an array of pages
                yield from records_from_page(inner, where, i + 1)
            return
        yield from _items(page, where, f"{at}, ")
    elif isinstance(page, Mapping) and "workflow_runs" in page:
        yield from _items(page["workflow_runs"], where, f"{at}, workflow_runs")
    elif isinstance(page, Mapping) and "jobs" in page:
        yield from _items(page["jobs"], where, f"{at}, jobs")
    elif (
        isinstance(page, Mapping)
        and "commits" in page
        and ("base_commit" in page or "merge_base_commit" in page)
    ):
        commits = list(_items(page["commits"], where, f"{at}, commits"))
        if commits:  # a compare's commits run oldest first: the head is the last
            kept = {k: v for k, v in page.items() if k != "files"}  # the diffs: large, and not needed
            yield LandedRecord("compare", commits[-1].source_id, kept, commits[-1].updated_at)
            yield from commits
    else:
        kind = _kind_of(page)
        if kind is None:
            raise ImportFormatError(where, at, f"is not a page of GitHub's API ({_KINDS})")
        yield from _items([page], where, at)


def read_saved_github(location: Path) -> list[LandedRecord]:
    """Every record in the saved pages under `location` (a folder or a file)."""
    records: list[LandedRecord] = []
    for path in saved_files(location):
        for page_no, page in enumerate(read_pages(path), 1):
            records.extend(records_from_page(page, str(path), page_no))
    return newest_versions(records)


# -- live ----------------------------------------------------------------------------------------
def repo_name(location: str) -> str:
    """`OWNER/REPO` from itself or a GitHub URL."""
    match = _REPO.match(location.strip())
    if not match:
        raise OpsLabError(
            f"{location!r} is neither a folder of saved pages nor a repository (OWNER/REPO or its URL)."
        )
    return match.group(1)


def _run_windows(client: ApiClient, repo: str, start: datetime, end: datetime) -> Iterator[tuple[Any, str]]:
    """Every page of workflow runs created in [start, end], each window small enough for the cap."""
    pending = [(start, end)]
    while pending:
        low, high = pending.pop()
        url = client.url(
            f"repos/{repo}/actions/runs", {"created": f"{iso_utc(low)}..{iso_utc(high)}", "per_page": 100}
        )
        page, next_url = client.get(url)
        total = int(page.get("total_count") or 0) if isinstance(page, Mapping) else 0
        if total > RESULT_CAP and high - low >= timedelta(seconds=2):
            middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
            pending.append((middle + timedelta(seconds=1), high))
            pending.append((low, middle))  # the older half first
            continue
        yield page, url
        while next_url is not None:
            url = next_url
            page, next_url = client.get(url)
            yield page, url


def fetch_github(
    client: ApiClient,
    repo: str,
    *,
    runs_from: datetime,
    issues_since: datetime | None,
    known_runs: Mapping[str, Any],
    known_deployments: Mapping[str, Any],
    unsettled: set[str],
    runs_with_jobs: set[str],
    environment: str,
    incident_label: str,
    jobs_limit: int,
    now: datetime,
) -> list[LandedRecord]:
    """Read a repository's history from the API (see the module's docstring for what and how)."""
    records: list[LandedRecord] = []
    runs: list[LandedRecord] = []
    for page_no, (page, url) in enumerate(_run_windows(client, repo, runs_from, now), 1):
        runs.extend(records_from_page(page, url, page_no))
    records.extend(runs)
    # jobs: for finished runs new or changed since the last import, or whose jobs were never read;
    # newest first, at most `jobs_limit` (one request each: the rate limit is 5,000 an hour)
    wanted = [
        r
        for r in runs
        if r.payload.get("status") == "completed"
        and (r.source_id not in runs_with_jobs or _changed(known_runs.get(r.source_id), r.updated_at))
    ]
    wanted.sort(key=lambda r: r.updated_at or datetime.min, reverse=True)
    for run in wanted[:jobs_limit]:
        for page_no, page in enumerate(
            client.pages(f"repos/{repo}/actions/runs/{run.source_id}/jobs", {"per_page": 100}), 1
        ):
            records.extend(records_from_page(page, f"{client.base_url} jobs of run {run.source_id}", page_no))
    # deployments, newest first: a new status changes a deployment's `updated_at`; the pages are read
    # until one holds nothing new or changed and no unsettled deployment (no final status landed yet)
    # is left to see, and statuses are read only for those deployments
    deployments: list[LandedRecord] = []
    params = {"environment": environment, "per_page": 100}
    waiting = set(unsettled)
    for page_no, page in enumerate(client.pages(f"repos/{repo}/deployments", params), 1):
        found = list(records_from_page(page, f"{client.base_url} deployments", page_no))
        fresh = [
            d
            for d in found
            if d.source_id in waiting or _changed(known_deployments.get(d.source_id), d.updated_at)
        ]
        waiting -= {d.source_id for d in found}
        deployments.extend(fresh)
        if found and not fresh and not waiting:
            break
    records.extend(deployments)
    for deployment in deployments:
        path = f"repos/{repo}/deployments/{deployment.source_id}/statuses"
        for page_no, page in enumerate(client.pages(path, {"per_page": 100}), 1):
            records.extend(
                records_from_page(
                    page, f"{client.base_url} statuses of deployment {deployment.source_id}", page_no
                )
            )
    # incident issues updated since the last import
    params = {"state": "all", "labels": incident_label, "per_page": 100}
    if issues_since is not None:
        params["since"] = iso_utc(issues_since)
    for page_no, page in enumerate(client.pages(f"repos/{repo}/issues", params), 1):
        records.extend(records_from_page(page, f"{client.base_url} issues", page_no))
    return newest_versions(records)  # a run listed twice while its pages were read


def _changed(before: Any, after: datetime | None) -> bool:
    return before is None or after is None or pd.Timestamp(before) != pd.Timestamp(after)


# -- the import ----------------------------------------------------------------------------------
def _note(
    store: Store, workspace: str, records: Iterable[LandedRecord], environment: str, incident_label: str
) -> str | None:
    """What this history cannot tell, in words the pages show beside the keys."""
    records = list(records)
    counts = landed_counts(store, workspace, SOURCE)
    for record in records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    known = github_known_commits(store, workspace) | {
        str(sha)
        for r in records
        for sha in (
            [r.source_id] if r.kind == "commit" else [(r.payload.get("head_commit") or {}).get("id")]
            if r.kind == "workflow_run" else []
        )
        if sha
    }  # fmt: skip
    released = {
        str(r.payload.get("sha"))
        for r in records
        if r.kind == "deployment" and str(r.payload.get("environment", "")).lower() == environment.lower()
    }
    finished = landed_values(store, workspace, SOURCE, "workflow_run", "$.id", status=["completed"]) | {
        r.source_id for r in records if r.kind == "workflow_run" and r.payload.get("status") == "completed"
    }
    with_jobs = github_runs_with_jobs(store, workspace) | {
        str(r.payload.get("run_id")) for r in records if r.kind == "job"
    }
    return unknowns_note(
        environment, incident_label, deployments=counts.get("deployment", 0), issues=counts.get("issue", 0),
        timeless_commits=len(released - known), where_times="save the commits or compare pages too",
        runs_without_steps=len(finished - with_jobs),
        where_steps="save their jobs pages, or raise --jobs-limit when importing live",
    )  # fmt: skip


def import_github(
    store: Store,
    workspace: str,
    location: str | Path,
    *,
    environment: str = "production",
    incident_label: str = "incident",
    branch: str = "main",
    api_url: str = DEFAULT_API_URL,
    since: datetime | None = None,
    jobs_limit: int = 500,
) -> ImportSummary:
    """Import a GitHub history into `workspace`: saved pages at `location`, or `OWNER/REPO` live.

    `environment`: the deployments that are production releases; `incident_label`: the issues that are
    incidents; `branch`: whose pushed head commits are changes; `since`: where a first live import
    starts (default: all of it); `jobs_limit`: at most this many runs' jobs are read live per import.
    """
    check_importable(store, workspace)
    path = Path(location).expanduser()
    options = {"environment": environment, "incident_label": incident_label, "branch": branch}
    if path.exists():
        records = read_saved_github(path)
        where = str(path.resolve())
    else:
        repo = repo_name(str(location))
        token = os.environ.get("GITHUB_TOKEN")
        if not token:
            raise OpsLabError(
                f"{location} is not a saved folder or file; to read {repo} from GitHub, put a token in "
                "$GITHUB_TOKEN (it is read from the environment only, never stored)."
            )
        client = ApiClient(
            api_url,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "opslab-import",
            },
            "GitHub",
            "GITHUB_TOKEN",
        )
        resume = github_resume_time(store, workspace)
        records = fetch_github(
            client,
            repo,
            runs_from=resume or since or EARLIEST,
            issues_since=watermark(store, workspace, SOURCE, "issue"),
            known_runs=landed_updated(store, workspace, SOURCE, "workflow_run"),
            known_deployments=landed_updated(store, workspace, SOURCE, "deployment"),
            unsettled=github_unsettled_deployments(store, workspace),
            runs_with_jobs=github_runs_with_jobs(store, workspace),
            environment=environment,
            incident_label=incident_label,
            jobs_limit=jobs_limit,
            now=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        )
        where = client.url(f"repos/{repo}")
    note = _note(store, workspace, records, environment, incident_label)
    return land_and_transform(
        store, workspace, SOURCE, records, github_transforms(), location=where, options=options, note=note
    )
