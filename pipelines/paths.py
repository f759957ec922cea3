"""Where OpsLab keeps its files.

- The run history: `--db PATH` when given, else `$OPSLAB_DB`, else the folder `history/` in the
  per-user data directory (`$XDG_DATA_HOME/opslab`, `~/.local/share/opslab` on Linux,
  `~/Library/Application Support/opslab` on macOS, `%LOCALAPPDATA%\\opslab` on Windows). A folder
  holds one DuckDB file per workspace (`<workspace>.duckdb`); a path ending in `.duckdb` is one
  file for every workspace (see `pipelines.store.location`). An `opslab.duckdb` that an older
  OpsLab left in the data directory stays the default while there is no `history/` folder.
- Files the pipelines produce (git repositories, build artifacts, models) live beside the database
  file, in `<db name>.files/<workspace>/`, so copying or deleting a database takes its files along.
- Public datasets: `$OPSLAB_DATA_DIR`, else `datasets/` in the per-user data directory.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

__all__ = [
    "DEFAULT_WORKSPACE",
    "check_workspace_name",
    "data_dir",
    "default_db_path",
    "resolve_db_path",
    "user_data_dir",
    "workspace_dir",
]

DEFAULT_WORKSPACE = "demo"
_WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def user_data_dir() -> Path:
    """The per-user data directory OpsLab writes to when nothing else is said."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "opslab"


def default_db_path() -> Path:
    """The per-user history folder; a single file an older OpsLab wrote there, until the folder exists."""
    folder, legacy = user_data_dir() / "history", user_data_dir() / "opslab.duckdb"
    return legacy if legacy.is_file() and not folder.exists() else folder


def resolve_db_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """`--db` beats `$OPSLAB_DB`, which beats the per-user default."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get("OPSLAB_DB")
    if env:
        return Path(env).expanduser().resolve()
    return default_db_path()


def check_workspace_name(name: str) -> str:
    """Workspace names become directory names, so they are kept to a safe alphabet."""
    if not _WORKSPACE_NAME.match(name or ""):
        raise ValueError(
            f"Workspace name {name!r} is not valid: use 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def workspace_dir(db_path: Path, workspace: str) -> Path:
    """The directory of files a workspace's pipelines produce, beside the database file."""
    return db_path.parent / f"{db_path.name}.files" / check_workspace_name(workspace)


def data_dir() -> Path:
    """Where public datasets are looked up and fetched to."""
    env = os.environ.get("OPSLAB_DATA_DIR")
    return Path(env).expanduser() if env else user_data_dir() / "datasets"
