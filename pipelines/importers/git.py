"""The git importer: releases, changes and failed changes from a local repository on disk.

Git is read in three subprocess calls whatever the repository's size (`git rev-parse` to check the
path and find the branch, `git for-each-ref` for the tags, one `git log` for every commit), never one
call per commit, so 100k commits import in seconds (`python -m benchmarks import`).

What git tells, and how it is read:

- **Releases** are tags whose name matches a pattern (semantic versions by default: `v1.2.3` or
  `1.2.3`), else merges to a branch (its first-parent line), else every commit on that line (a team
  that deploys each push). A release's time is its tag's (an annotated tag's own date, a lightweight
  tag's commit date) or the merge's commit date.
- **Changes** are the commits (merge commits integrate changes and are not changes themselves), at
  their author time; each is shipped by the first release whose history reaches it.
- **Rework**: a release that ships a revert of a commit an earlier release shipped, or a quick patch
  release (`1.2.4` within the window after `1.2.3`).
- **A failed change**: a release followed within the window by a revert of one of its commits, or by a
  quick patch. Its incident opens at the release and resolves at the release that shipped the revert or
  the patch (still open while that is not released).

The records land as git gave them (times in UTC) plus which release shipped each commit, a walk of
the commit graph done here; `pipelines/store/import_git_sql.py` turns them into deployments, changes
and incidents.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import OpsLabError
from pipelines.importers import ImportFormatError, check_importable
from pipelines.store import Store
from pipelines.store.import_git_sql import GIT_TRANSFORMS, last_import
from pipelines.store.landing_sql import ImportSummary, LandedRecord, land_and_transform

__all__ = [
    "DEFAULT_TAG_PATTERN",
    "DEFAULT_WINDOW_HOURS",
    "RELEASE_MODES",
    "GitHistory",
    "GitImportOptions",
    "import_git",
    "read_git",
]

DEFAULT_TAG_PATTERN = r"v?\d+\.\d+\.\d+"  # a full match: release candidates (1.2.0-rc1) are not releases
DEFAULT_WINDOW_HOURS = 48.0
RELEASE_MODES = ("auto", "tags", "merges", "commits")
# Landing kinds of the three ways a release is read; a deployment's id is `git:<kind>:<source id>`.
_RELEASE_KIND = {"tags": "tag", "merges": "merge", "commits": "push"}
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,64})")
_FIELD = "\x1f"


@dataclass(frozen=True)
class GitImportOptions:
    """How releases are read from a repository, and how soon a revert or patch marks a failure."""

    releases: str = "auto"  # auto | tags | merges | commits
    tag_pattern: str = DEFAULT_TAG_PATTERN
    branch: str = "HEAD"  # the line merges and commits are read from, and where unreleased changes sit
    window_hours: float = DEFAULT_WINDOW_HOURS

    def __post_init__(self) -> None:
        if self.releases not in RELEASE_MODES:
            raise OpsLabError(f"releases must be one of {', '.join(RELEASE_MODES)}, not {self.releases!r}.")
        try:
            re.compile(self.tag_pattern)
        except re.error as exc:
            raise OpsLabError(
                f"The tag pattern {self.tag_pattern!r} is not a regular expression: {exc}."
            ) from None
        if not self.branch or self.branch.startswith("-"):
            raise OpsLabError(f"The branch {self.branch!r} is not a branch name.")
        if not (isinstance(self.window_hours, int | float) and 0 < self.window_hours <= 24 * 366):
            raise OpsLabError(
                f"The window must be more than 0 and at most a year of hours, not {self.window_hours!r}."
            )


@dataclass(frozen=True)
class GitHistory:
    """A repository read: its records, how releases were read, and what git could not tell."""

    records: tuple[LandedRecord, ...]
    releases: str  # the mode used (auto resolved)
    release_count: int
    commit_count: int
    options: Mapping[str, Any]
    note: str


@dataclass
class _Commit:
    sha: str
    parents: list[str]
    author_epoch: int
    commit_epoch: int
    subject: str
    reverts: str | None
    release: str | None = None  # `<kind>:<source id>` of the release that first shipped it


def _utc(epochs: Sequence[int]) -> list[str]:
    """Seconds since the epoch as UTC ISO times, all at once (strftime per commit took seconds at 100k)."""
    return np.asarray(epochs, dtype="datetime64[s]").astype(str).tolist()


def _git(path: Path, args: Sequence[str], stdin: str | None = None) -> str:
    """One git command in `path`; its failure becomes one sentence naming the repository."""
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            [
                "git",
                "-c",
                "log.showSignature=false",
                "-c",
                "i18n.logOutputEncoding=UTF-8",
                "-C",
                str(path),
                *args,
            ],
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise OpsLabError(
            "git is not installed: install git (e.g. apt install git) and import again."
        ) from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise OpsLabError(
            f"{path}: git {args[0]} failed ({said[0] if said else f'exit {done.returncode}'}); nothing was imported."
        )
    return done.stdout.decode("utf-8", errors="replace")


def _locate(path: Path, branch: str) -> tuple[str, bool]:
    """The branch's commit and whether the clone is shallow; one sentence if `path` is no repository."""
    if not path.is_dir():
        raise OpsLabError(f"{path} is not a folder: give the path of a git repository on this machine.")
    try:
        lines = _git(
            path, ["rev-parse", "--is-shallow-repository", "--verify", "--quiet", f"{branch}^{{commit}}"]
        )
    except OpsLabError as exc:
        text = str(exc)
        if "not a git repository" in text:
            raise OpsLabError(f"{path} is not a git repository (no .git found there or above).") from None
        if "dubious ownership" in text:
            raise OpsLabError(
                f"git refuses to read {path}: it belongs to another user (trust it with `git config --global "
                f"--add safe.directory {path}`, then import again)."
            ) from None
        if "(exit 1)" not in text:  # `--verify --quiet` says nothing when the revision is missing
            raise
        raise OpsLabError(
            f"{path}: the branch {branch!r} has no commit (an empty repository, or a mistyped branch); "
            "nothing was imported."
        ) from None
    shallow, tip = lines.split()
    return tip, shallow == "true"


def _read_tags(path: Path, pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    fmt = _FIELD.join(
        ["%(refname:strip=2)", "%(objecttype)", "%(objectname)", "%(*objectname)", "%(creatordate:unix)"]
    )
    tags = []
    for line in _git(path, ["for-each-ref", f"--format={fmt}", "refs/tags"]).splitlines():
        name, objecttype, objectname, peeled, created = line.split(_FIELD)
        if not pattern.fullmatch(name):
            continue
        sha = peeled if objecttype == "tag" else objectname
        if not peeled and objecttype != "commit":
            continue  # a tag of a tree or a blob ships no commit
        if not created.isdigit():
            raise ImportFormatError(f"{path} tag {name}", "date", f"is not a time ({created!r})")
        tags.append({"name": name, "sha": sha, "epoch": int(created)})
    return tags


def _read_commits(path: Path, revisions: Sequence[str]) -> dict[str, _Commit]:
    """Every commit reachable from `revisions`, newest first, from one `git log`."""
    fmt = _FIELD.join(["%H", "%P", "%at", "%ct", "%s", "%B"])
    out = _git(
        path, ["log", "-z", "--no-color", f"--format={fmt}", "--stdin"], stdin="\n".join(revisions) + "\n"
    )
    commits: dict[str, _Commit] = {}
    for record in out.split("\0"):
        if not record.strip():
            continue
        fields = record.split(_FIELD, 5)
        if len(fields) != 6 or not fields[2].isdigit() or not fields[3].isdigit():
            where = fields[0][:12] if fields else "?"
            raise ImportFormatError(f"{path} commit {where}", "author or commit date", "is not a time")
        sha, parents, authored, committed, subject, body = fields
        found = _REVERTS.search(body)
        commits[sha] = _Commit(sha, parents.split(), int(authored), int(committed), subject,
                               found.group(1) if found else None)  # fmt: skip
    # `git revert` writes the full sha; a hand-written short one is resolved when it is unambiguous
    short = [c for c in commits.values() if c.reverts and c.reverts not in commits]
    if short:
        by_prefix = {c.reverts: [s for s in commits if s.startswith(c.reverts)] for c in short if c.reverts}
        for c in short:
            match = by_prefix.get(c.reverts or "", [])
            c.reverts = match[0] if len(match) == 1 else None
    return commits


def _first_parent_line(commits: Mapping[str, _Commit], tip: str) -> list[_Commit]:
    """The branch's own line, oldest first: each commit's first parent back to the root."""
    line = []
    sha: str | None = tip
    while sha is not None and sha in commits:
        commit = commits[sha]
        line.append(commit)
        sha = commit.parents[0] if commit.parents else None
    return line[::-1]


def _ship(commits: Mapping[str, _Commit], releases: Sequence[dict[str, Any]]) -> None:
    """Each commit is shipped by the first release (in time) whose history reaches it.

    Releases are walked oldest first; a walk stops at commits already shipped, whose ancestors were
    all shipped by then, so the whole graph is walked once.
    """
    for release in releases:
        stack = [release["sha"]]
        while stack:
            commit = commits.get(stack.pop())
            if commit is None or commit.release is not None:
                continue
            commit.release = release["id"]
            stack.extend(commit.parents)


def read_git(path: Path, options: GitImportOptions | None = None) -> GitHistory:
    """Read a repository into landing records (see the module's docstring); writes nothing."""
    options = options or GitImportOptions()
    path = path.expanduser().resolve()
    tip, shallow = _locate(path, options.branch)
    pattern = re.compile(options.tag_pattern)
    tags = _read_tags(path, pattern) if options.releases in ("auto", "tags") else []
    commits = _read_commits(path, [tip, *sorted({t["sha"] for t in tags})])
    line = _first_parent_line(commits, tip)

    mode = options.releases
    if mode == "auto":
        mode = "tags" if tags else "merges" if any(len(c.parents) > 1 for c in line) else "commits"
    kind = _RELEASE_KIND[mode]
    if mode == "tags":
        releases = [
            {"id": f"tag:{t['name']}", "name": t["name"], "sha": t["sha"], "epoch": t["epoch"]} for t in tags
        ]
    else:
        chosen = [c for c in line if mode == "commits" or len(c.parents) > 1]
        releases = [
            {"id": f"{kind}:{c.sha}", "name": c.sha[:12], "sha": c.sha, "epoch": c.commit_epoch}
            for c in chosen
        ]
    releases.sort(key=lambda r: (r["epoch"], r["id"]))
    _ship(commits, releases)

    records: list[LandedRecord] = []
    for release in releases:
        version = _VERSION.search(release["name"]) if mode == "tags" else None
        major, minor, patch = (int(v) for v in version.groups()) if version else (None, None, None)
        payload = {"name": release["name"], "sha": release["sha"], "released_at": _utc([release["epoch"]])[0],
                   "major": major, "minor": minor, "patch": patch}  # fmt: skip
        records.append(LandedRecord(kind, release["id"].split(":", 1)[1], payload))
    authored = _utc([c.author_epoch for c in commits.values()])
    committed = _utc([c.commit_epoch for c in commits.values()])
    for commit, author_time, commit_time in zip(commits.values(), authored, committed, strict=True):
        payload = {"sha": commit.sha, "parents": commit.parents, "author_time": author_time,
                   "commit_time": commit_time, "subject": commit.subject,
                   "reverts": commit.reverts, "release": commit.release}  # fmt: skip
        records.append(LandedRecord("commit", commit.sha, payload))

    used = {"releases": mode, "branch": options.branch, "window_hours": float(options.window_hours)}
    if mode == "tags":
        used["tag_pattern"] = options.tag_pattern
    return GitHistory(tuple(records), mode, len(releases), len(commits), used,
                      _note(mode, options, shallow, len(releases)))  # fmt: skip


def _note(mode: str, options: GitImportOptions, shallow: bool, releases: int) -> str:
    read = {
        "tags": f"releases are the {releases} tags matching `{options.tag_pattern}`",
        "merges": f"releases are the {releases} merges to {options.branch} (no tag matched `{options.tag_pattern}`)"
        if options.releases == "auto"
        else f"releases are the {releases} merges to {options.branch}",
        "commits": f"releases are the {releases} commits on {options.branch} (no matching tag and no merge: "
        "each push taken as a deploy)",
    }[mode]
    window = f"{options.window_hours:g} h"
    parts = [
        f"git: {read}.",
        f"A release counts as failed when a revert of one of its commits or a quick patch release follows within "
        f"{window}; failures fixed forward by an ordinary commit are invisible to git, so the change failure rate "
        "counts only reverts and patches.",
        "Git cannot tell when a failure was noticed or fixed in production: an incident opens at the failed "
        "release and resolves at the release that shipped the revert or patch.",
        "Git records no pipeline runs, serving or models: import GitHub or GitLab for runs, MLflow for models.",
    ]
    if shallow:
        parts.append(
            "This is a shallow clone: commits before its depth are unknown, so early lead times are missing."
        )
    return " ".join(parts)


def _check_same_reading(store: Store, workspace: str, location: str, options: Mapping[str, Any]) -> None:
    """A workspace's git history is read one way from one repository: a re-import that changed either
    would leave the first reading's releases beside the second's."""
    last = last_import(store, workspace, "git")
    if last is None:
        return
    if last["location"] != location:
        raise OpsLabError(
            f"Workspace {workspace!r} holds the git history of {last['location']}: import {location} into a "
            "workspace of its own (--workspace NAME)."
        )
    if dict(last["options"]) != dict(options):
        said = ", ".join(f"{k}={v}" for k, v in sorted(last["options"].items()))
        raise OpsLabError(
            f"Workspace {workspace!r} read this repository's history with {said}; import with the same options, "
            "or into a new workspace (--workspace NAME) to read it another way."
        )


def import_git(
    store: Store,
    workspace: str,
    location: str | Path,
    *,
    releases: str = "auto",
    tag_pattern: str = DEFAULT_TAG_PATTERN,
    branch: str = "HEAD",
    window_hours: float = DEFAULT_WINDOW_HOURS,
) -> ImportSummary:
    """Import a repository's releases, changes and failed changes into `workspace` (idempotent)."""
    options = GitImportOptions(releases, tag_pattern, branch, window_hours)
    check_importable(store, workspace)
    path = Path(location).expanduser().resolve()
    history = read_git(path, options)
    _check_same_reading(store, workspace, str(path), history.options)
    return land_and_transform(store, workspace, "git", history.records, GIT_TRANSFORMS,
                              location=str(path), options=history.options, note=history.note)  # fmt: skip
