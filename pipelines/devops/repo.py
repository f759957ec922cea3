"""The workspace's git repository of the service, driven through the git CLI.

Commits carry author and committer dates from the scenario clock and a fixed identity, so
the same scenario gives the same commit shas and lead time comes from git itself. Each
scripted change is committed with ``Change-Id:`` and ``Change-Kind:`` trailers; that is how
a revert finds the commit it reverts and how the history says which changes it holds.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .changes import Change, render_edits
from .errors import ChangeError, GitError

AUTHOR_NAME = "OpsLab Scenario"
AUTHOR_EMAIL = "scenario@opslab.invalid"
INITIAL_MESSAGE = "Import the bike-demand service"
GITIGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n"
_MISSING_GIT = (
    "git is not installed or not on PATH: install git (for example `apt-get install git`) and run again."
)
_TRAILER = re.compile(r"^(Change-Id|Change-Kind):\s*(\S+)\s*$", re.MULTILINE)

__all__ = [
    "CommitDiff",
    "CommitInfo",
    "applied_changes",
    "apply_change",
    "checkout_tree",
    "commit_time",
    "head",
    "init_repo",
    "require_git",
    "show_commit",
    "tree_hash",
]

DIFF_MAX_BYTES = 200_000  # a page shows this much of a commit's diff; the --stat above it is whole


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    message: str
    authored_at: datetime
    change_id: str | None = None


@dataclass(frozen=True)
class CommitDiff:
    """`git show --stat -p` of one commit: its header, the files it touched, then the patch."""

    sha: str
    text: str
    truncated: bool  # the patch was cut at `max_bytes`


def show_commit(repo_dir: Path, sha: str, max_bytes: int = DIFF_MAX_BYTES) -> CommitDiff:
    """What a commit changed, as git shows it, cut after `max_bytes` (a commit adding data files
    could be megabytes). A missing repository or commit is a GitError with one sentence."""
    repo_dir = Path(repo_dir)
    if not (repo_dir / ".git").exists():
        raise GitError(
            f"The workspace's git repository is gone ({repo_dir}), so the commit's diff cannot be shown: "
            "replay the workspace to rebuild it."
        )
    if not re.fullmatch(r"[0-9a-fA-F]{4,64}", sha or ""):
        raise GitError(f"{sha!r} is not a commit sha.")
    argv = ["git", "-C", str(repo_dir), "show", "--stat", "-p", "--no-color", "--no-ext-diff", sha, "--"]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_git_env(None))
    except FileNotFoundError as exc:
        raise GitError(_MISSING_GIT) from exc
    with proc:
        assert proc.stdout is not None
        data = proc.stdout.read(max_bytes + 1)  # never more than the cap in memory
        truncated = len(data) > max_bytes
        if truncated:
            proc.kill()
        proc.communicate()
    if not truncated and proc.returncode != 0:
        raise GitError(f"Commit {sha[:12]} is not in the workspace's repository ({repo_dir}).")
    return CommitDiff(sha, data[:max_bytes].decode("utf-8", errors="replace"), truncated)


def require_git() -> None:
    """Fail early, in one sentence, when the git binary is missing."""
    if shutil.which("git") is None:
        raise GitError(_MISSING_GIT)


def init_repo(repo_dir: Path, template_dir: Path, when: datetime) -> str:
    """Create a repository holding a copy of the service template; return the first commit's sha."""
    require_git()
    repo_dir = Path(repo_dir)
    if repo_dir.exists() and any(repo_dir.iterdir()):
        raise GitError(f"{repo_dir} is not empty; reset the workspace to start its repository again.")
    shutil.copytree(
        template_dir,
        repo_dir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache"),
    )
    _normalise_modes(repo_dir)  # git records the exec bit: keep it out of the commit sha
    (repo_dir / ".gitignore").write_text(GITIGNORE)
    _git(repo_dir, "init", "-q", "-b", "main")
    _git(repo_dir, "add", "-A")
    _git(repo_dir, "commit", "-q", "-m", INITIAL_MESSAGE, when=when)
    return head(repo_dir)


def apply_change(repo_dir: Path, change: Change, when: datetime) -> CommitInfo:
    """Apply one scripted change to the work tree and commit it at scenario time ``when``."""
    repo_dir = Path(repo_dir)
    if _git(repo_dir, "status", "--porcelain").strip():
        raise GitError(f"{repo_dir} has uncommitted edits; a change is only applied to a clean tree.")
    applied = applied_changes(repo_dir)
    if change.id in applied:
        raise ChangeError(f"change {change.id!r} is already committed in {repo_dir}.")
    for needed in change.requires:
        if needed not in applied:
            raise ChangeError(f"change {change.id!r} needs {needed!r} first.")

    if change.revert_of is not None:
        body = _revert_into_index(repo_dir, change)
    else:
        for relpath, text in render_edits(repo_dir, change).items():
            target = repo_dir / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        _git(repo_dir, "add", "-A")
        body = ""
    if not _git(repo_dir, "status", "--porcelain").strip():
        raise ChangeError(f"change {change.id!r} changes nothing in {repo_dir}.")

    message = f"{change.message}\n\n{body}Change-Id: {change.id}\nChange-Kind: {change.kind}\n"
    _git(repo_dir, "commit", "-q", "-F", "-", when=when, input=message)
    sha = head(repo_dir)
    return CommitInfo(sha, tree_hash(repo_dir, sha), message, _as_utc(when), change.id)


def applied_changes(repo_dir: Path) -> list[str]:
    """Ids of the scripted changes committed in the repository, oldest first."""
    return [change_id for _, change_id in _change_commits(repo_dir)]


def head(repo_dir: Path) -> str:
    return _git(repo_dir, "rev-parse", "HEAD").strip()


def tree_hash(repo_dir: Path, sha: str = "HEAD") -> str:
    """The commit's tree hash: the same code gives the same hash, whatever the history (build cache key)."""
    return _git(repo_dir, "rev-parse", f"{sha}^{{tree}}").strip()


def commit_time(repo_dir: Path, sha: str) -> datetime:
    """When the commit was made (committer date, scenario clock), timezone-aware."""
    return datetime.fromisoformat(_git(repo_dir, "show", "-s", "--format=%cI", sha).strip())


def checkout_tree(repo_dir: Path, sha: str, dest: Path) -> Path:
    """A clean copy of the commit's tree in ``dest``, via ``git archive``: no work-tree leftovers."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise GitError(f"checkout destination {dest} is not empty.")
    dest.mkdir(parents=True, exist_ok=True)
    data = _git_bytes(repo_dir, "archive", "--format=tar", sha)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(dest, filter="data")
    return dest


def _revert_into_index(repo_dir: Path, change: Change) -> str:
    target = change.revert_of
    shas = [sha for sha, change_id in _change_commits(repo_dir) if change_id == target]
    if not shas:
        raise ChangeError(f"change {change.id!r} reverts {target!r}, which is not committed.")
    try:
        _git(repo_dir, "revert", "--no-commit", shas[-1])
    except GitError as exc:
        _git(repo_dir, "reset", "-q", "--hard", "HEAD")  # leave the tree as it was
        raise ChangeError(
            f"change {change.id!r} cannot revert {target!r}: later commits touch the same lines."
        ) from exc
    return f"This reverts commit {shas[-1]}.\n\n"


def _change_commits(repo_dir: Path) -> list[tuple[str, str]]:
    out = _git(repo_dir, "log", "--reverse", "--format=%H%x1f%B%x1e")
    commits = []
    for record in out.split("\x1e"):
        if "\x1f" not in record:
            continue
        sha, body = record.strip().split("\x1f", 1)
        trailers = dict(_TRAILER.findall(body))
        if "Change-Id" in trailers:
            commits.append((sha, trailers["Change-Id"]))
    return commits


def _normalise_modes(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)


def _as_utc(when: datetime) -> datetime:
    """Naive scenario times are UTC; git gets them with an explicit offset."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _git_env(when: datetime | None) -> Mapping[str, str]:
    # No user or system config (hooks, signing, templates) and no inherited GIT_* variables:
    # the same scenario must give the same commits on every machine.
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
        GIT_AUTHOR_NAME=AUTHOR_NAME,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_COMMITTER_NAME=AUTHOR_NAME,
        GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
    )
    if when is not None:
        stamp = _as_utc(when).strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    return env


def _git_bytes(repo_dir: Path, *args: str, when: datetime | None = None, input: str | None = None) -> bytes:
    try:
        result = subprocess.run(
            ["git", "-C", str(repo_dir), *args],
            input=None if input is None else input.encode(),
            capture_output=True,
            env=_git_env(when),
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError(_MISSING_GIT) from exc
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo_dir}: {detail[-1] if detail else 'no message'}")
    return result.stdout


def _git(repo_dir: Path, *args: str, when: datetime | None = None, input: str | None = None) -> str:
    return _git_bytes(repo_dir, *args, when=when, input=input).decode()
