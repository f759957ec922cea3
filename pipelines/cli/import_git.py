"""`opslab import git PATH`: a local repository's releases, changes and failed changes (see
`pipelines.importers.git`)."""

from __future__ import annotations

import argparse

from pipelines.cli.support import add_import_workspace, print_json, print_summary
from pipelines.store import Store

__all__ = ["register"]


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 24 * 366:
        raise argparse.ArgumentTypeError(f"give a number of hours above 0 and at most a year, not {text!r}")
    return value


def _import(args: argparse.Namespace, store: Store) -> int:
    from pipelines.importers.git import import_git

    summary = import_git(store, args.workspace, args.path, releases=args.releases, tag_pattern=args.tag_pattern,
                         branch=args.branch, window_hours=args.window_hours)  # fmt: skip
    if args.json:
        print_json(vars(summary))
    else:
        print_summary(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from pipelines.importers.git import DEFAULT_TAG_PATTERN, DEFAULT_WINDOW_HOURS, RELEASE_MODES

    parser = sub.add_parser(
        "git",
        help="a local git repository: releases (tags or merges), changes, reverts and patches",
        description="Import a local git repository: releases are tags matching --tag-pattern (semantic "
        "versions by default), else merges to --branch, else its commits; changes are commits at their author "
        "time; a revert or a quick patch release within --window-hours of a release makes it a failed change.",
    )
    parser.add_argument("path", help="the repository's folder (a clone or a bare repository)")
    parser.add_argument("--releases", choices=RELEASE_MODES, default="auto",
                        help="what a release is (auto: tags if any match, else merges, else commits)")  # fmt: skip
    parser.add_argument("--tag-pattern", default=DEFAULT_TAG_PATTERN,
                        help=f"regular expression a release tag's whole name matches (default: {DEFAULT_TAG_PATTERN})")  # fmt: skip
    parser.add_argument(
        "--branch", default="HEAD", help="the branch merges and commits are read from (default: HEAD)"
    )
    parser.add_argument("--window-hours", type=_hours, default=DEFAULT_WINDOW_HOURS,
                        help=f"a revert or patch this soon after a release makes it failed (default: {DEFAULT_WINDOW_HOURS:g})")  # fmt: skip
    add_import_workspace(parser)
    parser.add_argument("--json", action="store_true", help="print what the import did as JSON")
    parser.set_defaults(handler=_import)
