"""Copy one workspace's DuckDB file to a new workspace (a workshop seat made from a played one).

DuckDB's `COPY FROM DATABASE` writes a clean copy of every table with its constraints; the copy's
rows are then renamed to the new workspace, and every text that names a file under the source's
files folder is pointed at the target's (artifacts, model files, cached step outputs).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.store.connection import open_connection
from pipelines.store.core import READ_ONLY_CONFIG

__all__ = ["copy_workspace_file"]

_TEXT_COLUMNS_SQL = """
SELECT table_name, column_name FROM information_schema.columns
WHERE table_catalog = 'target' AND table_schema = 'main' AND data_type = 'VARCHAR'
ORDER BY table_name, ordinal_position
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_workspace_file(
    source_file: Path, source: str, target_file: Path, target: str, *, old_prefix: str, new_prefix: str
) -> None:
    """Write `target_file` as a copy of `source_file` with workspace `source` renamed `target` and
    paths under `old_prefix` moved to `new_prefix`. The source is held read-only while it is read,
    so no play can write it half-way through the copy."""
    target_file.unlink(missing_ok=True)
    held = open_connection(source_file, read_only=True, config=READ_ONLY_CONFIG)
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH '{source_file}' AS source (READ_ONLY)")
            con.execute(f"ATTACH '{target_file}' AS target")
            con.execute("COPY FROM DATABASE source TO target")
            con.execute("DETACH source")
            con.execute("USE target")
            con.execute("BEGIN TRANSACTION")
            columns = con.execute(_TEXT_COLUMNS_SQL).fetchall()
            for table, column in columns:
                if column == "workspace" or (table, column) == ("workspaces", "name"):
                    sql, params = (
                        f"UPDATE {_quote(table)} SET {_quote(column)} = ? WHERE {_quote(column)} = ?",
                        [
                            target,
                            source,
                        ],
                    )
                else:
                    sql = (
                        f"UPDATE {_quote(table)} SET {_quote(column)} = replace({_quote(column)}, ?, ?) "
                        f"WHERE contains({_quote(column)}, ?)"
                    )
                    params = [old_prefix, new_prefix, old_prefix]
                con.execute(sql, params)
            con.execute("COMMIT")
        finally:
            con.close()
    except BaseException:
        target_file.unlink(missing_ok=True)
        raise
    finally:
        held.close()
