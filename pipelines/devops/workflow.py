"""The workspace's service repository: created from the template on first use, changes committed
at scenario time and recorded for lead time. Shared by `opslab devops` and the scenario engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pipelines.devops.changes import Change
from pipelines.devops.repo import (
    CommitInfo,
    apply_change,
    commit_time,
    head,
    init_repo,
    require_git,
    tree_hash,
)
from pipelines.store import Store
from pipelines.store import records as rec

__all__ = ["TEMPLATE_DIR", "commit_change", "ensure_repo", "repo_dir"]

TEMPLATE_DIR = Path(__file__).parent / "service_template"


def repo_dir(store: Store, workspace: str) -> Path:
    return store.files_dir(workspace) / "repo"


def ensure_repo(store: Store, workspace: str, when: datetime) -> Path:
    """The workspace's git repository, created from the service template (first commit at `when`)."""
    require_git()
    repo = repo_dir(store, workspace)
    if (repo / ".git").is_dir():
        return repo
    sha = init_repo(repo, TEMPLATE_DIR, when)
    rec.record_change(
        store,
        workspace=workspace,
        commit_sha=sha,
        change_id=None,
        kind="initial",
        message="Initial import of the bike-demand service",
        committed_sim_time=commit_time(repo, sha).replace(tzinfo=None),
    )
    return repo


def commit_change(store: Store, workspace: str, repo: Path, change: Change, when: datetime) -> CommitInfo:
    info = apply_change(repo, change, when)
    rec.record_change(
        store,
        workspace=workspace,
        commit_sha=info.sha,
        change_id=change.id,
        kind=change.kind,
        message=change.message,
        committed_sim_time=info.authored_at.replace(tzinfo=None),
    )
    return info


def head_commit(repo: Path) -> tuple[str, str]:
    sha = head(repo)
    return sha, tree_hash(repo, sha)
