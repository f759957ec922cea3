"""GitLab: pipelines and their jobs, deployments, incident issues; the same shape as GitHub's import.

- **saved pages** (offline): a folder (or one file) of JSON saved from the REST API v4, e.g.
  `glab api --paginate 'projects/GROUP%2FPROJECT/pipelines?per_page=100' > pipelines.json`; each page
  is recognised by its shape (pipelines, jobs, deployments, issues, commits, a compare);
- **live**: `import_gitlab(store, workspace, "GROUP/PROJECT")` (or the project's URL, whose host is the
  API's) with a token in `$GITLAB_TOKEN` (read from the environment only, never stored). A second
  import asks only for what was updated after the last one (`updated_after`).

A pipeline is a run and its jobs are its steps (the API does not split a job into script steps).
Deployments to the production environment (configurable) with status `success` are releases;
`failed` ones are failed deployments (failed runs). Issues with the incident label (configurable,
case-insensitive) or of GitLab's own type `incident` are incidents; a "root cause: SHA" line names
the change that caused them, as Four Keys reads them.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

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
from pipelines.store.import_cicd_sql import landed_counts, landed_ids, landed_values
from pipelines.store.import_gitlab_sql import gitlab_transforms
from pipelines.store.landing_sql import ImportSummary, LandedRecord, land_and_transform, watermark

__all__ = ["DEFAULT_BASE_URL", "fetch_gitlab", "import_gitlab", "read_saved_gitlab"]

SOURCE = "gitlab"
DEFAULT_BASE_URL = "https://gitlab.com"
_KINDS = "a pipeline, job, deployment, issue, commit or compare"


# -- reading -------------------------------------------------------------------------------------
def _kind_of(item: Any) -> str | None:
    """Which API object a list item is, by the fields only it has (None: not one the importer reads)."""
    if not isinstance(item, Mapping):
        return None
    if "deployable" in item:
        return "deployment"
    if "stage" in item and "pipeline" in item:
        return "job"
    if "parent_ids" in item or ("short_id" in item and "authored_date" in item):
        return "commit"
    if "source_branch" in item:
        return "merge_request"
    if "iid" in item and "title" in item and "state" in item:
        return "issue"
    if "sha" in item and "ref" in item and "status" in item:
        return "pipeline"
    return None


def _record(kind: str, item: Mapping[str, Any], where: str, path: str) -> LandedRecord:
    """One API object as a landed record, with the fields the transforms read checked."""
    if kind == "pipeline":
        for name in ("id", "sha", "ref", "status"):
            require(item, name, where, path)
        check_time(item, "created_at", where, path, required=True)
        for name in ("started_at", "finished_at"):
            check_time(item, name, where, path, required=False)
        updated = read_time(item, "updated_at", where, path, required=False)
    elif kind == "job":
        for name in ("id", "name", "status"):
            require(item, name, where, path)
        require(item["pipeline"], "id", where, f"{path}.pipeline")
        started = read_time(item, "started_at", where, path, required=False)
        finished = read_time(item, "finished_at", where, path, required=False)
        updated = finished or started
        commit = item.get("commit")
        if isinstance(commit, Mapping):
            for name in ("authored_date", "created_at"):
                check_time(commit, name, where, f"{path}.commit", required=False)
    elif kind == "deployment":
        for name in ("id", "sha", "ref", "status"):
            require(item, name, where, path)
        require(item.get("environment") or {}, "name", where, f"{path}.environment")
        check_time(item, "created_at", where, path, required=True)
        updated = read_time(item, "updated_at", where, path, required=False)
        deployable = item.get("deployable") or {}
        check_time(deployable, "finished_at", where, f"{path}.deployable", required=False)
        commit = deployable.get("commit")
        if isinstance(commit, Mapping):
            for name in ("authored_date", "created_at"):
                check_time(commit, name, where, f"{path}.deployable.commit", required=False)
    elif kind == "issue":
        for name in ("id", "iid", "title"):
            require(item, name, where, path)
        check_time(item, "created_at", where, path, required=True)
        check_time(item, "closed_at", where, path, required=False)
        updated = read_time(item, "updated_at", where, path, required=False)
        if not isinstance(item.get("labels") or [], list):
            raise ImportFormatError(where, f"{path}.labels", "is not a list")
    elif kind == "commit":
        require(item, "id", where, path)
        updated = read_time(item, "authored_date", where, path, required=False)
        check_time(item, "created_at", where, path, required=False)
    else:  # pragma: no cover - the classifier only returns the kinds above
        raise ValueError(kind)
    return LandedRecord(kind, str(item["id"]), item, updated)


def _items(items: Any, where: str, path: str) -> Iterator[LandedRecord]:
    if not isinstance(items, list):
        raise ImportFormatError(where, path, "is not a list")
    for i, item in enumerate(items):
        kind = _kind_of(item)
        if kind is None:
            raise ImportFormatError(where, f"{path}[{i}]", f"is not {_KINDS}")
        if kind == "merge_request":
            continue  # not an incident, and its pipelines come with the pipelines
        yield _record(kind, item, where, f"{path}[{i}]")


def records_from_page(page: Any, where: str, page_no: int) -> Iterator[LandedRecord]:
    """The records of one saved (or fetched) page, whatever list endpoint it came from."""
    at = f"page {page_no}"
    if isinstance(page, list):
        yield from _items(page, where, f"{at}, ")
    elif isinstance(page, Mapping) and "commits" in page and ("diffs" in page or "compare_timeout" in page):
        commits = list(_items(page["commits"], where, f"{at}, commits"))
        if commits:  # a compare's commits run oldest first: the head is the last
            kept = {k: v for k, v in page.items() if k != "diffs"}  # the diffs: large, and not needed
            yield LandedRecord("compare", commits[-1].source_id, kept, commits[-1].updated_at)
            yield from commits
    else:
        if _kind_of(page) is None:
            raise ImportFormatError(where, at, f"is not a page of GitLab's API ({_KINDS})")
        yield from _items([page], where, at)


def read_saved_gitlab(location: Path) -> list[LandedRecord]:
    """Every record in the saved pages under `location` (a folder or a file)."""
    records: list[LandedRecord] = []
    for path in saved_files(location):
        for page_no, page in enumerate(read_pages(path), 1):
            records.extend(records_from_page(page, str(path), page_no))
    return newest_versions(records)


# -- live ----------------------------------------------------------------------------------------
def project_and_base(location: str, base_url: str | None) -> tuple[str, str]:
    """(`GROUP/PROJECT`, the instance's base URL) from a project path or the project's URL."""
    text = location.strip().rstrip("/").removesuffix(".git")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        project, base = parts.path.strip("/"), f"{parts.scheme}://{parts.netloc}"
    else:
        project, base = text.strip("/"), DEFAULT_BASE_URL
    if "/" not in project:
        raise OpsLabError(
            f"{location!r} is neither a folder of saved pages nor a project (GROUP/PROJECT or its URL)."
        )
    return project, (base_url or base).rstrip("/")


def _since(value: datetime | None) -> dict[str, str]:
    return {"updated_after": iso_utc(value)} if value is not None else {}


def fetch_gitlab(
    client: ApiClient,
    project: str,
    *,
    since: Mapping[str, datetime | None],
    environment: str,
    incident_label: str,
    jobs_limit: int,
) -> list[LandedRecord]:
    """Read a project's history updated after `since[kind]` (see the module's docstring)."""
    base = f"projects/{urllib.parse.quote(project, safe='')}"
    records: list[LandedRecord] = []

    def read(path: str, params: dict[str, Any], what: str) -> list[LandedRecord]:
        found: list[LandedRecord] = []
        for page_no, page in enumerate(client.pages(f"{base}/{path}", {**params, "per_page": 100}), 1):
            found.extend(records_from_page(page, f"{client.base_url} {what}", page_no))
        return found

    by_update = {"order_by": "updated_at", "sort": "asc"}
    pipelines = read("pipelines", {**by_update, **_since(since.get("pipeline"))}, "pipelines")
    records.extend(pipelines)
    # jobs of the finished pipelines updated since (newest first, at most `jobs_limit` requests)
    done = [p for p in pipelines if p.payload.get("status") in ("success", "failed", "canceled", "skipped")]
    done.sort(key=lambda r: r.updated_at or datetime.min, reverse=True)
    for pipeline in done[:jobs_limit]:
        records.extend(
            read(f"pipelines/{pipeline.source_id}/jobs", {}, f"jobs of pipeline {pipeline.source_id}")
        )
    records.extend(
        read(
            "deployments",
            {"environment": environment, **by_update, **_since(since.get("deployment"))},
            "deployments",
        )
    )
    records.extend(
        read("issues", {"labels": incident_label, "scope": "all", **_since(since.get("issue"))}, "issues")
    )
    return newest_versions(records)  # a run listed twice while its pages were read


# -- the import ----------------------------------------------------------------------------------
def _note(
    store: Store, workspace: str, records: Iterable[LandedRecord], environment: str, incident_label: str
) -> str | None:
    records = list(records)
    counts = landed_counts(store, workspace, SOURCE)
    for record in records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    known = landed_ids(store, workspace, SOURCE, "commit") | {
        r.source_id for r in records if r.kind == "commit"
    }
    timeless = set()
    for r in records:
        if r.kind != "deployment" or str(r.payload["environment"]["name"]).lower() != environment.lower():
            continue
        commit = (r.payload.get("deployable") or {}).get("commit") or {}
        if (
            not (commit.get("authored_date") or commit.get("created_at"))
            and str(r.payload["sha"]) not in known
        ):
            timeless.add(str(r.payload["sha"]))
    terminal = ["success", "failed", "canceled", "skipped"]
    finished = landed_values(store, workspace, SOURCE, "pipeline", "$.id", status=terminal) | {
        r.source_id for r in records if r.kind == "pipeline" and r.payload.get("status") in terminal
    }
    with_jobs = landed_values(store, workspace, SOURCE, "job", "$.pipeline.id") | {
        str(r.payload["pipeline"]["id"]) for r in records if r.kind == "job"
    }
    return unknowns_note(
        environment, incident_label, deployments=counts.get("deployment", 0), issues=counts.get("issue", 0),
        timeless_commits=len(timeless), where_times="save the commits or compare pages too",
        runs_without_steps=len(finished - with_jobs),
        where_steps="save their jobs pages, or raise --jobs-limit when importing live",
    )  # fmt: skip


def import_gitlab(
    store: Store,
    workspace: str,
    location: str | Path,
    *,
    environment: str = "production",
    incident_label: str = "incident",
    branch: str = "main",
    api_url: str | None = None,
    jobs_limit: int = 500,
) -> ImportSummary:
    """Import a GitLab history into `workspace`: saved pages at `location`, or a project live.

    `environment`: the deployments that are production releases; `incident_label`: the issues that are
    incidents; `branch`: whose pushed commits are changes; `api_url`: the instance (default: the
    project URL's host, else gitlab.com); `jobs_limit`: at most this many pipelines' jobs per import.
    """
    check_importable(store, workspace)
    path = Path(location).expanduser()
    options = {"environment": environment, "incident_label": incident_label, "branch": branch}
    if path.exists():
        records = read_saved_gitlab(path)
        where = str(path.resolve())
    else:
        project, base = project_and_base(str(location), api_url)
        token = os.environ.get("GITLAB_TOKEN")
        if not token:
            raise OpsLabError(
                f"{location} is not a saved folder or file; to read {project} from {base}, put a token in "
                "$GITLAB_TOKEN (it is read from the environment only, never stored)."
            )
        client = ApiClient(
            f"{base}/api/v4",
            {"PRIVATE-TOKEN": token, "User-Agent": "opslab-import"},
            "GitLab",
            "GITLAB_TOKEN",
        )
        records = fetch_gitlab(
            client,
            project,
            since={k: watermark(store, workspace, SOURCE, k) for k in ("pipeline", "deployment", "issue")},
            environment=environment,
            incident_label=incident_label,
            jobs_limit=jobs_limit,
        )
        where = client.url(f"projects/{urllib.parse.quote(project, safe='')}")
    note = _note(store, workspace, records, environment, incident_label)
    return land_and_transform(
        store, workspace, SOURCE, records, gitlab_transforms(), location=where, options=options, note=note
    )
