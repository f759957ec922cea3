"""`opslab datasets ...`: the named data sources, and fetching the public ones."""

from __future__ import annotations

import argparse

import pandas as pd

from pipelines.cli.support import print_json, print_table
from pipelines.errors import OpsLabError
from pipelines.paths import data_dir
from pipelines.store import Store

__all__ = ["register"]


def _datasets_list(args: argparse.Namespace, store: Store) -> int:
    from pipelines.mlops.sources import list_datasets

    rows = list_datasets(data_dir())
    if args.json:
        print_json(rows)
    else:
        print_table(pd.DataFrame(rows))
    return 0


def _datasets_fetch(args: argparse.Namespace, store: Store) -> int:
    from pipelines.mlops.sources import DataSourceError, fetch_dataset

    target = data_dir()
    print(f"downloading {args.name} into {target} ...")
    try:
        path = fetch_dataset(args.name, target)
    except DataSourceError as exc:
        raise OpsLabError(str(exc)) from exc
    print(f"saved {path} (sha256 verified)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the data sources, fetch public datasets")
    dsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = dsub.add_parser("list", help="named sources and whether each is available here")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_datasets_list)
    fetch = dsub.add_parser("fetch", help="download a public dataset (needs internet) and verify its sha256")
    fetch.add_argument("name", help="dataset name, e.g. bike-sharing")
    fetch.set_defaults(handler=_datasets_fetch)
