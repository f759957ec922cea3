"""The scripted change history of the sample service.

Each change is data (``changes/NN-<id>.toml``): an id, a kind, a commit message, the ids it
needs first, and its edits, either ``{path, find, replace}`` (the text must occur exactly
once) or ``{path, content}`` (a whole file). Edits are applied in Python and committed with
git by :mod:`pipelines.devops.repo`, so every change is a real patch (``git show`` shows it).
A ``revert`` change has no edits: it names the change whose commit ``git revert`` undoes.
Edits anchor on text no other independent change touches, so a scenario can apply any
subset in the scripted order as long as each change's ``requires`` come before it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import ChangeError

KINDS: tuple[str, ...] = (
    "feature",
    "refactor",
    "fix",
    "perf-regression",
    "bug-caught",
    "bug-escaped",
    "revert",
)
CHANGES_DIR = Path(__file__).parent / "changes"

__all__ = [
    "KINDS",
    "Change",
    "Edit",
    "get_change",
    "list_changes",
    "render_edits",
    "validate_change_sequence",
]


@dataclass(frozen=True)
class Edit:
    """One file edit: replace ``find`` by ``replace``, or write ``content`` as the whole file."""

    path: str
    find: str | None = None
    replace: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class Change:
    id: str
    kind: str
    message: str
    description: str
    requires: tuple[str, ...] = ()
    edits: tuple[Edit, ...] = ()
    revert_of: str | None = None


def list_changes() -> list[Change]:
    """Every scripted change, in the scripted order."""
    return list(_load_all())


def get_change(change_id: str) -> Change:
    for change in _load_all():
        if change.id == change_id:
            return change
    known = ", ".join(change.id for change in _load_all())
    raise ChangeError(f"unknown change {change_id!r}; the scripted changes are: {known}.")


def validate_change_sequence(ids: Iterable[str], already_applied: Iterable[str] = ()) -> list[Change]:
    """The changes for ``ids`` if they can be applied in this order on top of ``already_applied``.

    Raises ChangeError naming the first problem: an unknown id, a change listed twice, a change
    whose ``requires`` have not come before it, a revert of a change already reverted.
    """
    done = list(already_applied)
    sequence = []
    for change_id in ids:
        change = get_change(change_id)
        if change_id in done:
            raise ChangeError(f"change {change_id!r} is listed twice or already applied.")
        for needed in change.requires:
            if needed not in done:
                raise ChangeError(f"change {change_id!r} needs {needed!r} first.")
        reverted = {get_change(c).revert_of for c in done if get_change(c).revert_of}
        if change.revert_of in reverted:
            raise ChangeError(
                f"change {change_id!r} reverts {change.revert_of!r}, which is already reverted."
            )
        done.append(change_id)
        sequence.append(change)
    return sequence


def render_edits(root: Path, change: Change) -> dict[str, str]:
    """The new text of every file ``change`` edits under ``root``, computed before anything is written.

    Nothing is written here: a change whose text is not where it expects fails as a whole.
    """
    new_text: dict[str, str] = {}
    for edit in change.edits:
        if edit.content is not None:
            new_text[edit.path] = edit.content
            continue
        assert edit.find is not None and edit.replace is not None  # checked when loading
        if edit.path in new_text:
            text = new_text[edit.path]
        else:
            try:
                text = (Path(root) / edit.path).read_text(encoding="utf-8")
            except FileNotFoundError as exc:
                raise ChangeError(f"change {change.id!r} edits {edit.path}, which does not exist.") from exc
        count = text.count(edit.find)
        if count != 1:
            where = "is not there" if count == 0 else f"occurs {count} times"
            raise ChangeError(
                f"change {change.id!r} cannot be applied: the text it replaces in {edit.path} {where} "
                f"(was a change it depends on skipped?)."
            )
        new_text[edit.path] = text.replace(edit.find, edit.replace)
    return new_text


@cache
def _load_all() -> tuple[Change, ...]:
    changes = tuple(_load_change(path) for path in sorted(CHANGES_DIR.glob("*.toml")))
    ids = [change.id for change in changes]
    if len(set(ids)) != len(ids):
        raise ChangeError("two scripted changes share an id.")
    return changes


def _load_change(path: Path) -> Change:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    kind = data["kind"]
    if kind not in KINDS:
        raise ChangeError(f"{path.name}: kind {kind!r} is not one of {', '.join(KINDS)}.")
    edits = []
    for raw in data.get("edits", []):
        edit = Edit(raw["path"], raw.get("find"), raw.get("replace"), raw.get("content"))
        whole = edit.content is not None
        if whole == (edit.find is not None) or (edit.find is None) != (edit.replace is None):
            raise ChangeError(f"{path.name}: an edit needs either find and replace, or content.")
        edits.append(edit)
    revert_of = data.get("revert_of")
    requires = tuple(data.get("requires", ()))
    if revert_of is not None and revert_of not in requires:
        requires = (*requires, revert_of)
    if (kind == "revert") != (revert_of is not None) or (revert_of is None and not edits):
        raise ChangeError(f"{path.name}: a revert names revert_of and has no edits; other kinds have edits.")
    return Change(
        id=data["id"],
        kind=kind,
        message=data["message"],
        description=data.get("description", ""),
        requires=requires,
        edits=tuple(edits),
        revert_of=revert_of,
    )
