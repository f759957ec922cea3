"""The git importer (issue #12) on repositories the tests build, and on the project's own clone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.errors import OpsLabError
from pipelines.importers import git as git_importer
from pipelines.importers.git import import_git, read_git
from pipelines.store import Store
from pipelines.store.keys_sql import (
    change_failure_rate_counts,
    deployment_frequency_summary,
    deployment_rework_counts,
    failed_deployment_recovery_summary,
    lead_time_for_changes_summary,
)
from tests.conftest import REPO


class Repo:
    """A repository whose every commit and tag has a chosen time (UTC)."""

    def __init__(self, path: Path, *, new: bool = True) -> None:
        self.path = path
        if new:
            path.mkdir()
            self.git("init", "-q", "-b", "main")

    @classmethod
    def at(cls, path: Path) -> Repo:
        return cls(path, new=False)

    def git(self, *args: str, when: str = "2026-01-01T00:00:00") -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": f"{when}+0000", "GIT_COMMITTER_DATE": f"{when}+0000",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull}  # fmt: skip
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def commit(self, subject: str, when: str) -> str:
        name = subject.split(":")[-1].strip().replace(" ", "_")
        (self.path / f"{name}.txt").write_text(subject + "\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", subject, when=when)
        return self.git("rev-parse", "HEAD")

    def revert(self, sha: str, when: str) -> str:
        self.git("revert", "--no-edit", sha, when=when)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, when: str) -> None:
        self.git("tag", "-a", name, "-m", name, when=when)


def build_story(path: Path) -> Repo:
    """Five releases, counted by hand in `test_the_keys_are_the_ones_counted_by_hand`."""
    repo = Repo(path)
    repo.commit("init", "2026-01-01T10:00:00")
    repo.commit("feat: a", "2026-01-02T10:00:00")
    repo.tag("v1.0.0", "2026-01-03T10:00:00")
    b = repo.commit("feat: b", "2026-01-04T10:00:00")
    repo.commit("fix: c", "2026-01-05T10:00:00")
    repo.tag("v1.1.0", "2026-01-06T10:00:00")
    repo.revert(b, "2026-01-06T20:00:00")  # 10 h after v1.1.0: v1.1.0 failed
    repo.tag("v1.1.1", "2026-01-07T10:00:00")  # a quick patch shipping the revert: rework
    d = repo.commit("feat: d", "2026-01-10T10:00:00")
    repo.tag("v1.2.0", "2026-01-14T10:00:00")
    repo.revert(d, "2026-01-20T10:00:00")  # six days on: outside the 48 h window
    repo.tag("v1.3.0", "2026-01-21T10:00:00")  # ships a revert: rework
    repo.commit("feat: e", "2026-01-22T10:00:00")
    repo.tag("v2.0.0-rc1", "2026-01-23T10:00:00")  # not a release under the semver pattern
    return repo


@pytest.fixture(scope="module")
def story_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_story(tmp_path_factory.mktemp("template") / "story").path


@pytest.fixture
def story(tmp_path: Path, story_template: Path) -> Repo:
    """A copy of the story repository the test may change."""
    shutil.copytree(story_template, tmp_path / "story")
    return Repo.at(tmp_path / "story")


def _one(frame: pd.DataFrame) -> dict:
    return frame.iloc[0].to_dict()


def _count(store: Store, table: str, workspace: str) -> int:
    return len(store.select(table, workspace))


def test_the_keys_are_the_ones_counted_by_hand(story: Repo, store: Store) -> None:
    repo = story
    summary = import_git(store, "mine", repo.path)
    assert (summary.records, summary.new_records) == (13, 13)  # 5 releases and 8 commits
    assert "5 tags matching" in (summary.note or "")

    deployments = store.select("deployments", "mine", order_by="sim_time")
    assert list(deployments["ref"]) == ["v1.0.0", "v1.1.0", "v1.1.1", "v1.2.0", "v1.3.0"]
    assert list(deployments["unplanned"]) == [False, False, True, False, True]
    # planned releases: v1.0.0, v1.1.0, v1.2.0
    assert _one(deployment_frequency_summary(store, "mine"))["events"] == 3
    # v1.1.0 was reverted within 48 h (and patched): 1 of 3
    cfr = _one(change_failure_rate_counts(store, "mine"))
    assert (cfr["deploys"], cfr["failed"]) == (3, 1)
    # its incident: opened at v1.1.0 (Jan 6 10:00), resolved when v1.1.1 shipped the fix (Jan 7 10:00)
    recovery = _one(failed_deployment_recovery_summary(store, "mine"))
    assert (recovery["resolved"], recovery["still_open"], recovery["median_days"]) == (1, 0, 1.0)
    incident = _one(store.select("incidents", "mine"))
    assert incident["cause_deployment_id"] == "git:tag:v1.1.0"
    assert incident["rollback_deployment_id"] == "git:tag:v1.1.1"
    assert incident["detected_by"].startswith("git: patch release v1.1.1, git: revert ")
    # v1.1.1 (a quick patch) and v1.3.0 (ships a revert) of 5 releases
    rework = _one(deployment_rework_counts(store, "mine"))
    assert (rework["deploys"], rework["unplanned"]) == (5, 2)
    # leads in days: init 2, a 1, b 2, c 1, revert of b 14 h, d 4, revert of d 1; e not shipped
    lead = _one(lead_time_for_changes_summary(store, "mine"))
    assert (lead["changes"], lead["median_days"], lead["not_shipped"]) == (7, 1.0, 1)
    kinds = store.select("changes", "mine").set_index("message")["kind"].to_dict()
    assert kinds["feat: a"] == "feature" and kinds["fix: c"] == "fix" and kinds["init"] == "initial"
    assert kinds['Revert "feat: b"'] == "revert"


def test_the_window_is_configurable(story: Repo, store: Store) -> None:
    repo = story
    import_git(store, "week", repo.path, window_hours=24 * 7)
    # a week's window also counts v1.2.0, reverted six days after it; the v1.1.x line keeps its patch
    cfr = _one(change_failure_rate_counts(store, "week"))
    assert (cfr["deploys"], cfr["failed"]) == (3, 2)
    incidents = store.select("incidents", "week", order_by="opened_sim_time")
    assert list(incidents["cause"]) == ["v1.1.0", "v1.2.0"]
    assert list(incidents["rollback_deployment_id"]) == ["git:tag:v1.1.1", "git:tag:v1.3.0"]


def test_a_reimport_adds_only_what_is_new(story: Repo, store: Store) -> None:
    repo = story
    import_git(store, "mine", repo.path)
    tables = ("deployments", "changes", "incidents")
    before = {t: _count(store, t, "mine") for t in tables}
    again = import_git(store, "mine", repo.path)
    assert (again.records, again.new_records) == (13, 0)
    assert {t: _count(store, t, "mine") for t in tables} == before

    repo.tag("v2.0.0", "2026-01-24T10:00:00")  # ships feat: e
    third = import_git(store, "mine", repo.path)
    assert (third.records, third.new_records) == (14, 2)  # the tag, and feat: e now shipped
    assert _count(store, "deployments", "mine") == before["deployments"] + 1
    assert _count(store, "changes", "mine") == before["changes"]
    assert _one(lead_time_for_changes_summary(store, "mine"))["not_shipped"] == 0
    assert _count(store, "incidents", "mine") == before["incidents"]


def test_merges_to_a_branch_are_releases_when_no_tag_matches(tmp_path: Path, store: Store) -> None:
    repo = Repo(tmp_path / "merges")
    repo.commit("init", "2026-02-01T09:00:00")
    repo.git("checkout", "-q", "-b", "topic")
    x = repo.commit("feat: x", "2026-02-02T09:00:00")
    repo.commit("feat: y", "2026-02-02T12:00:00")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge topic", "topic", when="2026-02-03T09:00:00")
    repo.git("checkout", "-q", "-b", "undo")
    repo.revert(x, "2026-02-03T11:00:00")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge undo", "undo", when="2026-02-03T12:00:00")

    summary = import_git(store, "m", repo.path)
    assert "2 merges to HEAD" in (summary.note or "")
    deployments = store.select("deployments", "m", order_by="sim_time")
    assert list(deployments["unplanned"]) == [False, True]  # the second merge ships a revert
    first = deployments["deployment_id"].iloc[0]
    assert first.startswith("git:merge:")
    assert list(store.select("incidents", "m")["cause_deployment_id"]) == [first]
    # init, x, y by the first merge; the revert by the second; merge commits are not changes
    changes = store.select("changes", "m")
    assert sorted(changes["message"]) == ['Revert "feat: x"', "feat: x", "feat: y", "init"]
    assert changes["deployment_id"].notna().all()

    # a lightweight tag is released at its commit's date, and once a tag matches, auto reads tags
    repo.git("tag", "v0.1.0", x)
    history = read_git(repo.path)
    assert history.releases == "tags"
    assert [(r.source_id, r.payload["released_at"]) for r in history.records if r.kind == "tag"] == [
        ("v0.1.0", "2026-02-02T09:00:00")
    ]
    with pytest.raises(OpsLabError, match="releases=merges"):  # the workspace keeps its first reading
        import_git(store, "m", repo.path)
    assert import_git(store, "m", repo.path, releases="merges").new_records == 0


def test_the_projects_own_clone(store: Store) -> None:
    probe = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--is-inside-work-tree"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout (an unpacked archive): nothing of its own to import")

    def count(*args: str) -> int:
        return int(subprocess.run(["git", "-C", str(REPO), "rev-list", "--count", *args, "HEAD"],
                                  capture_output=True, text=True, check=True).stdout)  # fmt: skip

    history = read_git(REPO)
    summary = import_git(store, "self", REPO)
    assert summary.records == len(history.records) == history.release_count + history.commit_count
    assert history.commit_count >= count()  # every commit of HEAD (and of release tags)
    changes = store.select("changes", "self")
    assert len(changes) >= count("--no-merges")
    assert changes["committed_sim_time"].notna().all()
    releases = store.select("deployments", "self")
    if history.releases == "merges":
        assert len(releases) == count("--first-parent", "--merges")
    elif history.releases == "commits":
        assert len(releases) == count("--first-parent")
    assert len(releases) == history.release_count > 0
    # the newest release shipped its commits: they have a lead time
    assert _one(lead_time_for_changes_summary(store, "self"))["changes"] > 0


@pytest.mark.parametrize(
    ("where", "options", "says"),
    [
        ("nowhere", {}, "is not a folder"),
        ("plain", {}, "is not a git repository"),
        ("empty", {}, "has no commit"),
        ("story", {"branch": "no-such-branch"}, "the branch 'no-such-branch' has no commit"),
        ("story", {"tag_pattern": "v(1"}, "is not a regular expression"),
        ("story", {"releases": "weekly"}, "releases must be one of auto, tags, merges, commits"),
        ("story", {"window_hours": 0}, "The window must be more than 0"),
    ],
)
def test_bad_input_is_one_sentence_and_writes_nothing(
    tmp_path: Path, story: Repo, store: Store, where: str, options: dict, says: str
) -> None:
    (tmp_path / "plain").mkdir()
    Repo(tmp_path / "empty")
    with pytest.raises(OpsLabError, match=says) as caught:
        import_git(store, "mine", tmp_path / where, **options)
    assert "\n" not in str(caught.value)
    assert not store.exists() or store.workspace_info("mine") is None


def test_a_workspace_keeps_one_reading_of_one_repository(tmp_path: Path, story: Repo, store: Store) -> None:
    repo = story
    import_git(store, "mine", repo.path)
    with pytest.raises(OpsLabError, match="import with the same options, or into a new workspace"):
        import_git(store, "mine", repo.path, releases="commits")
    other = Repo(tmp_path / "other")
    other.commit("init", "2026-01-01T10:00:00")
    with pytest.raises(OpsLabError, match="holds the git history of"):
        import_git(store, "mine", other.path)
    assert len(store.select("imports", "mine")) == 1


def test_git_is_read_in_a_few_calls_whatever_the_history(
    story: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = story
    calls: list[list[str]] = []
    real = subprocess.run

    def counting(argv, *args, **kwargs):
        calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(git_importer.subprocess, "run", counting)
    read_git(repo.path)
    assert [argv[argv.index("-C") + 2] for argv in calls] == ["rev-parse", "for-each-ref", "log"]


def test_the_cli_imports_and_says_what_it_did(
    tmp_path: Path, story: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = story
    db = str(tmp_path / "history")
    assert main(["--db", db, "import", "git", str(repo.path), "--workspace", "mine", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["workspace"], said["records"], said["new_records"]) == ("mine", 13, 13)
    assert main(["--db", db, "--workspace", "mine", "import", "git", str(repo.path)]) == 0
    out = capsys.readouterr().out
    assert "13 records read, 0 new or changed" in out and "Note: git: releases are the 5 tags" in out
    assert main(["--db", db, "import", "git", str(tmp_path / "nowhere"), "--workspace", "x"]) == 2
    assert capsys.readouterr().err.startswith("opslab: ")


# -- the Control room's import form ----------------------------------------------------------------
def test_the_control_room_imports_a_repository(
    tmp_path: Path, story: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP

    monkeypatch.setenv("OPSLAB_DB", str(tmp_path / "history"))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/control_room.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="cr_import_source").value == "git"
    at.text_input(key="cr_import_location_git").input(str(story.path))
    at.text_input(key="cr_import_workspace_git").input("mine")
    assert _import_from_the_form(at) == "13 records read, 13 new or changed."
    assert at.info[0].value.startswith("git: releases are the 5 tags")
    assert _import_from_the_form(at) == "13 records read, 0 new or changed."

    at.text_input(key="cr_import_location_git").input(str(tmp_path / "nowhere"))
    assert (
        _import_from_the_form(at)
        == f"{tmp_path / 'nowhere'} is not a folder: give the path of a git repository on this machine."
    )


def _import_from_the_form(at, timeout_s: float = 60) -> str:
    """Press Import, follow the page while the import runs in the background, and return what it said."""
    import time

    at.button(key="cr_import_run").click().run()
    deadline = time.monotonic() + timeout_s
    while not (at.success or at.error) and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert not at.exception
    said = [*at.success, *at.error]
    assert len(said) == 1, [e.value for e in said]
    return said[0].value.split(": ", 1)[-1] if at.success else said[0].value


def test_the_form_finds_each_sources_importer_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import_<source>(store, workspace, location, **options)` in `pipelines.importers.<source>`: a source's
    module plugs into the Control room by that name alone."""
    import sys
    import types

    from dashboard import importing

    called: list[tuple] = []
    fake = types.ModuleType("pipelines.importers.github")
    fake.import_github = lambda store, workspace, location, **options: called.append(
        (workspace, location, options)
    )  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pipelines.importers.github", fake)
    importing.run_import(str(tmp_path / "h"), " gh ", "github", " /saved/pages ", {"since": "2026-01-01"})
    assert called == [("gh", "/saved/pages", {"since": "2026-01-01"})]

    with pytest.raises(OpsLabError, match="Give the repository folder"):
        importing.run_import(str(tmp_path / "h"), "w", "git", "  ")
    with pytest.raises(OpsLabError, match="no importer for 'svn'"):
        importing.run_import(str(tmp_path / "h"), "w", "svn", "/x")
    with pytest.raises(ValueError):
        importing.run_import(str(tmp_path / "h"), "../up", "git", "/x")
    with pytest.raises(OpsLabError, match=r"is not a \.json file"):
        importing.save_uploads(tmp_path, [("runs.json", b"{}"), ("notes.txt", b"hi")])
    folder = importing.save_uploads(tmp_path, [("runs.json", b"{}"), ("jobs.json", b"[]")])
    assert sorted(p.name for p in folder.iterdir()) == ["jobs.json", "runs.json"]
    assert importing.save_uploads(tmp_path, [("jobs.json", b"[]"), ("runs.json", b"{}")]) == folder
