"""The pipeline command groups of `opslab`, registered into the CLI's frame.

Each registrar adds one subcommand group (`devops`, `mlops`, `scenario`, `datasets`). They live
beside the pipelines they drive; this list is the one place that wires them into the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["REGISTRARS"]

Registrar = Callable[[argparse._SubParsersAction], None]

REGISTRARS: tuple[Registrar, ...] = ()
