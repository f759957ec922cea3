"""The scripted change history: well-formed, applicable in order, committed as real git patches."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.devops import repo
from pipelines.devops.changes import KINDS, get_change, list_changes, render_edits, validate_change_sequence
from pipelines.devops.errors import ChangeError, DevOpsError, GitError

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "devops" / "service_template"
START = datetime(2011, 1, 3, 9, 0, tzinfo=UTC)
ALL_IDS = [change.id for change in list_changes()]


def commit_all(repo_dir: Path, ids: list[str]) -> list[repo.CommitInfo]:
    """Initial import plus ``ids``, one a day from START, as a scenario would."""
    repo.init_repo(repo_dir, TEMPLATE, START)
    return [
        repo.apply_change(repo_dir, get_change(change_id), START + timedelta(days=i + 1))
        for i, change_id in enumerate(ids)
    ]


def git(repo_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=True
    ).stdout


def with_requirements(ids: set[str]) -> list[str]:
    """``ids`` plus everything they require, in the scripted order."""
    wanted = set(ids)
    for change in reversed(list_changes()):
        if change.id in wanted:
            wanted.update(change.requires)
    return [change_id for change_id in ALL_IDS if change_id in wanted]


def apply_in_memory(root: Path, ids: list[str]) -> None:
    """Apply changes to a plain copy, reverts undone by hand: checks anchors without git."""
    for change_id in ids:
        change = get_change(change_id)
        if change.revert_of:
            for edit in get_change(change.revert_of).edits:
                path = root / edit.path
                if edit.content is not None:
                    path.unlink()
                else:
                    assert edit.replace is not None and edit.find is not None
                    text = path.read_text()
                    assert text.count(edit.replace) == 1, (change_id, edit.path)
                    path.write_text(text.replace(edit.replace, edit.find))
            continue
        for relpath, text in render_edits(root, change).items():
            (root / relpath).parent.mkdir(parents=True, exist_ok=True)
            (root / relpath).write_text(text)


def test_history_has_every_kind_and_enough_changes():
    changes = list_changes()
    assert len(changes) >= 12
    assert {change.kind for change in changes} == set(KINDS)
    assert len(set(ALL_IDS)) == len(ALL_IDS)
    for position, change in enumerate(changes):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", change.id)
        assert change.message and change.description
        assert set(change.requires) <= set(ALL_IDS[:position]), f"{change.id} requires a later change"


def test_fixes_and_reverts_name_what_they_repair():
    assert get_change("fix-windchill").requires == ("windchill-feature",)
    assert get_change("fix-hour-24").requires == ("hour-24-midnight",)
    revert = get_change("revert-model-reload")
    assert revert.revert_of == "reload-model-every-request" and not revert.edits


def test_sequence_validation_explains_what_is_wrong():
    assert [c.id for c in validate_change_sequence(["windchill-feature", "fix-windchill"])] == [
        "windchill-feature",
        "fix-windchill",
    ]
    with pytest.raises(ChangeError, match="change 'fix-windchill' needs 'windchill-feature' first"):
        validate_change_sequence(["fix-windchill"])
    with pytest.raises(ChangeError, match="unknown change 'nope'"):
        validate_change_sequence(["nope"])
    with pytest.raises(ChangeError, match="listed twice or already applied"):
        validate_change_sequence(["response-count"], already_applied=["response-count"])
    assert validate_change_sequence(["fix-windchill"], already_applied=["windchill-feature"])


@pytest.mark.parametrize("change_id", ALL_IDS)
def test_each_change_applies_with_only_its_requirements(tmp_path, change_id):
    root = Path(shutil.copytree(TEMPLATE, tmp_path / "tree"))
    apply_in_memory(root, with_requirements({change_id}))


def test_random_subsets_apply_in_order(tmp_path):
    rng = random.Random(7)
    for trial in range(25):
        root = Path(shutil.copytree(TEMPLATE, tmp_path / f"tree{trial}"))
        ids = with_requirements({c for c in ALL_IDS if rng.random() < 0.5})
        validate_change_sequence(ids)
        apply_in_memory(root, ids)


def test_whole_history_commits_as_real_patches(tmp_path):
    commits = commit_all(tmp_path / "repo", ALL_IDS)
    assert repo.applied_changes(tmp_path / "repo") == ALL_IDS
    assert repo.head(tmp_path / "repo") == commits[-1].sha
    shown = git(tmp_path / "repo", "show", "--format=%B", commits[ALL_IDS.index("windchill-feature")].sha)
    assert "Change-Id: windchill-feature" in shown and "+    return (temp - atemp) / windspeed" in shown
    revert = commits[ALL_IDS.index("revert-model-reload")]
    reverted = commits[ALL_IDS.index("reload-model-every-request")]
    assert f"This reverts commit {reverted.sha}." in revert.message
    before = commits[ALL_IDS.index("reload-model-every-request") - 1]
    model_at = [git(tmp_path / "repo", "show", f"{c.sha}:bikeservice/model.py") for c in (before, revert)]
    assert model_at[0] == model_at[1]
    assert git(tmp_path / "repo", "status", "--porcelain") == ""


def test_same_scenario_gives_the_same_commit_shas(tmp_path):
    ids = with_requirements({"fix-windchill", "revert-model-reload", "batch-size-limit"})
    first = commit_all(tmp_path / "one", ids)
    second = commit_all(tmp_path / "two", ids)
    assert [c.sha for c in first] == [c.sha for c in second]
    assert repo.commit_time(tmp_path / "one", first[-1].sha) == START + timedelta(days=len(ids))
    assert first[0].authored_at == START + timedelta(days=1)


def test_commit_times_come_from_the_scenario_clock(tmp_path):
    (info,) = commit_all(tmp_path / "repo", ["response-count"])
    assert repo.commit_time(tmp_path / "repo", info.sha) == START + timedelta(days=1)
    author = git(tmp_path / "repo", "show", "-s", "--format=%an <%ae> %aI", info.sha).strip()
    assert author == "OpsLab Scenario <scenario@opslab.invalid> 2011-01-04T09:00:00+00:00"


def test_apply_refuses_missing_requirements_and_repeats(tmp_path):
    commit_all(tmp_path / "repo", ["windchill-feature"])
    with pytest.raises(ChangeError, match="needs 'hour-24-midnight' first"):
        repo.apply_change(tmp_path / "repo", get_change("fix-hour-24"), START)
    with pytest.raises(ChangeError, match="already committed"):
        repo.apply_change(tmp_path / "repo", get_change("windchill-feature"), START)
    assert git(tmp_path / "repo", "status", "--porcelain") == ""


def test_checkout_is_a_clean_tree_of_the_commit(tmp_path):
    (info,) = commit_all(tmp_path / "repo", ["batch-size-limit"])
    (tmp_path / "repo" / "scratch.txt").write_text("not committed")
    tree = repo.checkout_tree(tmp_path / "repo", info.sha, tmp_path / "checkout")
    assert (tree / "tests" / "test_batch_limit.py").is_file()
    assert not (tree / "scratch.txt").exists() and not (tree / ".git").exists()
    assert repo.tree_hash(tmp_path / "repo", info.sha) == info.tree
    with pytest.raises(GitError, match="not empty"):
        repo.checkout_tree(tmp_path / "repo", info.sha, tmp_path / "checkout")


def test_missing_git_is_one_clear_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match=r"^git is not installed or not on PATH: install git .*\.$"):
        repo.require_git()
    with pytest.raises(DevOpsError, match="git is not installed"):
        repo.init_repo(tmp_path / "repo", TEMPLATE, START)
