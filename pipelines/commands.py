"""The pipeline command groups of `opslab`, registered into the CLI's frame.

Each registrar adds one subcommand group (`devops`, `mlops`, `scenario`, `datasets`). They live
beside the pipelines they drive; this list is the one place that wires them into the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["REGISTRARS"]

Registrar = Callable[[argparse._SubParsersAction], None]


def _mlops(sub: argparse._SubParsersAction) -> None:
    from pipelines.mlops.commands import add_mlops

    add_mlops(sub)


def _datasets(sub: argparse._SubParsersAction) -> None:
    from pipelines.mlops.commands import add_datasets

    add_datasets(sub)


def _devops(sub: argparse._SubParsersAction) -> None:
    from pipelines.devops.commands import add_devops

    add_devops(sub)


def _scenario(sub: argparse._SubParsersAction) -> None:
    from pipelines.scenario.commands import add_init, add_scenario

    add_scenario(sub)
    add_init(sub)


REGISTRARS: tuple[Registrar, ...] = (_devops, _mlops, _scenario, _datasets)
