"""Bring your own history: importers of real CI/CD and MLflow history into a workspace.

Every importer works the same way (`pipelines.store.landing_sql`):

- it **reads** its source into `LandedRecord`s (the source's raw records, keyed by the source's own ids),
  checking each field it needs as it goes: a malformed file raises `ImportFormatError` naming the file
  and the field, before anything is written;
- the records **land** in the `landing` table, and the source's **transform** statements
  (`pipelines/store/import_<source>_sql.py`) turn them into the same tables a played scenario writes
  (`runs`, `steps`, `deployments`, `changes`, `incidents`, `model_versions`, `alias_moves`,
  `run_params`), in one transaction: all or nothing;
- re-running an import adds only what is new: landing is keyed by source ids, and the transforms derive
  their row ids from them (`<source>:<kind>:<source id>`, e.g. `github:run:30433642`) and never insert a
  row twice.

Imported times are the source's real times; they go where a played scenario puts its clock
(`sim_time`, `committed_sim_time`, ...), so every key and page reads one time axis either way. What a
source cannot tell (incidents without a label, which model served when before OpsLab first looked) is
recorded in the import's `note` and shown as unknown, never as zero.

An import goes into a workspace of its own: a workspace holding a played scenario is refused.
"""

from __future__ import annotations

from pipelines.errors import OpsLabError
from pipelines.store import Store

__all__ = ["ImportFormatError", "check_importable"]


class ImportFormatError(OpsLabError):
    """A source's file or answer is not what its documented format says: names the file and field."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        super().__init__(f"{where}: {field} {problem}; nothing was imported.")
        self.where = where
        self.field = field


def check_importable(store: Store, workspace: str) -> None:
    """Refuse to mix an import into a played workspace (its keys would count both histories)."""
    info = store.workspace_info(workspace)
    if info is not None and info.get("scenario"):
        raise OpsLabError(
            f"Workspace {workspace!r} holds a played scenario ({info['scenario']}); import into a workspace "
            "of its own (--workspace NAME), so its keys count only the imported history."
        )
