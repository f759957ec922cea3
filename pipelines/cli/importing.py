"""`opslab import SOURCE ...`: bring a real history into a workspace (see `pipelines.importers`).

Each source is a module `pipelines/cli/import_<source>.py` with a `register(sub)` adding its
subcommand under `import`; its handler imports the importer when it runs.
"""

from __future__ import annotations

import argparse
from types import ModuleType

import pipelines.cli.import_git as import_git
import pipelines.cli.import_github as import_github
import pipelines.cli.import_gitlab as import_gitlab
import pipelines.cli.import_mlflow as import_mlflow

# A source's handler prints with `print_summary` from `support` (importing it from here would be a cycle:
# this module imports the sources' modules).
from pipelines.cli.support import print_summary

__all__ = ["print_summary", "register"]

# The sources, each a module with `register(sub)`; a new importer adds its module here.
SOURCES: tuple[ModuleType, ...] = (import_git, import_github, import_gitlab, import_mlflow)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import",
        help="import a real history (git, GitHub, GitLab, MLflow) into a workspace",
        description="Import a real CI/CD or MLflow history into a workspace of its own (--workspace). "
        "Re-running an import adds only what is new.",
    )
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    for module in SOURCES:
        module.register(sources)
