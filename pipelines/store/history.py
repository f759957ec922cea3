"""Reading a workspace's history back: the `opslab history` export and the frames pages use."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd

from pipelines.store.core import Store, from_json

__all__ = [
    "history_section",
    "jsonable",
    "runs_frame",
    "steps_frame",
    "stream_history_json",
    "weekly_frame",
    "workspace_history",
]


def jsonable(value: Any) -> Any:
    """Turn DuckDB/pandas values into plain JSON values (ISO times, None for missing)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame, json_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records") if not frame.empty else []
    for row in rows:
        for column in json_columns:
            if column in row:
                row[column] = from_json(row[column])
    return [jsonable(r) for r in rows]


def runs_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("runs", workspace, order_by="started_at, run_id")


def steps_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("steps", workspace, order_by="run_id, position")


def weekly_frame(store: Store, workspace: str) -> pd.DataFrame:
    return store.select("weekly", workspace, order_by="week")


_SECTION_ORDER = {"runs": "started_at, run_id", "deployments": "deployed_at", "incidents": "opened_sim_time",
                  "model_versions": "version", "weekly": "week"}  # fmt: skip


def history_section(store: Store, workspace: str, name: str) -> pd.DataFrame:
    """One table of `opslab history`'s text view, in its order (its rows only: no steps)."""
    return store.select(name, workspace, order_by=_SECTION_ORDER[name])


def workspace_history(store: Store, workspace: str) -> dict[str, Any]:
    """The whole history of a workspace as one JSON-ready object."""
    info = store.workspace_info(workspace)
    if info is None:
        return {
            "workspace": workspace,
            "exists": False,
            "runs": [],
            "deployments": [],
            "incidents": [],
            "model_versions": [],
            "alias_moves": [],
            "drift": [],
            "weekly": [],
            "scenario_runs": [],
        }
    steps = _records(steps_frame(store, workspace), ("metrics",))
    artifacts = _records(store.select("artifacts", workspace, order_by="created_at, artifact_id"))
    by_run: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for step in steps:
        by_run.setdefault(step["run_id"], {"steps": [], "artifacts": []})["steps"].append(
            {
                k: step[k]
                for k in (
                    "name",
                    "status",
                    "duration_ms",
                    "metrics",
                    "error",
                    "started_at",
                    "finished_at",
                    "cache_key",
                    "log_tail",
                )
            }
        )
    for art in artifacts:
        by_run.setdefault(art["run_id"], {"steps": [], "artifacts": []})["artifacts"].append(
            {k: art[k] for k in ("kind", "path", "sha256", "size_bytes", "step")}
        )
    runs = _records(runs_frame(store, workspace))
    for run in runs:
        run.update(by_run.get(run["run_id"], {"steps": [], "artifacts": []}))
    return {
        "workspace": workspace,
        "exists": True,
        "scenario": info.get("scenario"),
        "seed": jsonable(info.get("seed")),
        "settings": info.get("settings"),
        "runs": runs,
        "deployments": _records(store.select("deployments", workspace, order_by="deployed_at")),
        "incidents": _records(store.select("incidents", workspace, order_by="opened_sim_time")),
        "model_versions": _records(
            store.select("model_versions", workspace, order_by="version"), ("metrics",)
        ),
        "alias_moves": _records(store.select("alias_moves", workspace, order_by="moved_at")),
        "drift": _records(store.select("drift", workspace, order_by="sim_time, feature")),
        "weekly": _records(weekly_frame(store, workspace)),
        "scenario_runs": _records(
            store.scenario_runs(workspace) if store.exists() else pd.DataFrame(), ("settings",)
        ),
    }


# -- streaming: `opslab history --json` over a history of any size ---------------------------------
HISTORY_BATCH = 1000  # runs read at a time (with their steps and artifacts): memory stays flat

_STEP_KEYS = ("name", "status", "duration_ms", "metrics", "error", "started_at", "finished_at", "cache_key",
              "log_tail")  # fmt: skip
_ARTIFACT_KEYS = ("kind", "path", "sha256", "size_bytes", "step")
_RUNS_BATCH_SQL = """
SELECT * FROM runs
WHERE workspace = $workspace
  AND ($after_time IS NULL OR started_at > $after_time OR (started_at = $after_time AND run_id > $after_id))
ORDER BY started_at, run_id
LIMIT $limit
"""
_BATCH_CHILD_SQL = {
    "steps": """
SELECT s.* FROM steps s JOIN (SELECT unnest($run_ids) AS run_id) b USING (run_id)
WHERE s.workspace = $workspace ORDER BY s.run_id, s.position
""",
    "artifacts": """
SELECT a.* FROM artifacts a JOIN (SELECT unnest($run_ids) AS run_id) b USING (run_id)
WHERE a.workspace = $workspace ORDER BY a.created_at, a.artifact_id
""",
}
_SECTIONS = (  # after the runs, in workspace_history's order: (key, table, order, JSON columns)
    ("deployments", "deployments", "deployed_at", ()),
    ("incidents", "incidents", "opened_sim_time", ()),
    ("model_versions", "model_versions", "version", ("metrics",)),
    ("alias_moves", "alias_moves", "moved_at", ()),
    ("drift", "drift", "sim_time, feature", ()),
    ("weekly", "weekly", "week", ()),
    ("scenario_runs", "scenario_runs", "started_at", ("settings",)),
)


def _plain(value: Any) -> Any:
    """`jsonable` for one value as DuckDB returns it (a million steps: the common types first)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float:
        return None if math.isnan(value) else value
    return jsonable(value)


def _row(columns: list[str], values: tuple[Any, ...], json_columns: tuple[str, ...] = ()) -> dict[str, Any]:
    row = {column: _plain(value) for column, value in zip(columns, values, strict=True)}
    for column in json_columns:
        if column in row:
            row[column] = jsonable(from_json(row[column]))
    return row


def _json_text(text: str | None) -> str:
    """A stored JSON value as it is to be printed: its own text unless it needs `jsonable` (NaN)."""
    if not text:
        return "{}"
    return text if "NaN" not in text and "Infinity" not in text else _dump(jsonable(json.loads(text)))


def _step_text(columns: list[str], values: tuple[Any, ...]) -> tuple[str, str]:
    """(run_id, the step as JSON) with its metrics' stored text spliced in, not parsed and re-dumped."""
    row = dict(zip(columns, values, strict=True))
    fields = {key: _plain(row[key]) for key in _STEP_KEYS if key != "metrics"}
    return row["run_id"], '{"metrics": ' + _json_text(row["metrics"]) + ", " + _dump(fields)[1:]


def _fetch(con: Any, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = con.execute(sql, params)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _dump(value: Any) -> str:
    return json.dumps(value, default=str)


def stream_history_json(store: Store, workspace: str) -> Iterator[str]:
    """`workspace_history` as JSON text, piece by piece: runs are read HISTORY_BATCH at a time with
    their steps and artifacts, the other tables row by row, so memory stays flat however long the
    history. Parsed, the text equals `workspace_history(store, workspace)`."""
    info = store.workspace_info(workspace)
    if info is None:
        yield json.dumps(workspace_history(store, workspace), indent=2, default=str) + "\n"
        return
    head = {"workspace": workspace, "exists": True, "scenario": info.get("scenario"),
            "seed": jsonable(info.get("seed")), "settings": info.get("settings")}  # fmt: skip
    yield "{\n" + "".join(f"{_dump(k)}: {_dump(v)},\n" for k, v in head.items()) + '"runs": ['
    first = True
    with store._read() as con:
        after: tuple[Any, Any] = (None, None)
        while True:
            params = {
                "workspace": workspace,
                "after_time": after[0],
                "after_id": after[1],
                "limit": HISTORY_BATCH,
            }
            columns, batch = _fetch(con, _RUNS_BATCH_SQL, params)
            if not batch:
                break
            runs = [_row(columns, values) for values in batch]
            ids = [run["run_id"] for run in runs]
            steps: dict[str, list[str]] = {i: [] for i in ids}
            artifacts: dict[str, list[str]] = {i: [] for i in ids}
            cols, rows = _fetch(con, _BATCH_CHILD_SQL["steps"], {"workspace": workspace, "run_ids": ids})
            for values in rows:
                run_id, text = _step_text(cols, values)
                steps[run_id].append(text)
            cols, rows = _fetch(con, _BATCH_CHILD_SQL["artifacts"], {"workspace": workspace, "run_ids": ids})
            for values in rows:
                art = _row(cols, values)
                artifacts[art["run_id"]].append(_dump({k: art[k] for k in _ARTIFACT_KEYS}))
            for run in runs:
                ident = run["run_id"]
                yield (("\n" if first else ",\n") + _dump(run)[:-1] + ', "steps": [' + ", ".join(steps[ident])
                       + '], "artifacts": [' + ", ".join(artifacts[ident]) + "]}")  # fmt: skip
                first = False
            last = batch[-1]
            after = (last[columns.index("started_at")], last[columns.index("run_id")])
        yield "\n]"
        for key, table, order, json_columns in _SECTIONS:
            yield f',\n"{key}": ['
            cursor = con.execute(f"SELECT * FROM {table} WHERE workspace = $workspace ORDER BY {order}",
                                 {"workspace": workspace})  # fmt: skip
            columns = [d[0] for d in cursor.description]
            first = True
            while rows := cursor.fetchmany(HISTORY_BATCH):
                for values in rows:
                    yield ("\n" if first else ",\n") + _dump(_row(columns, values, json_columns))
                    first = False
            yield "\n]"
    yield "\n}\n"
