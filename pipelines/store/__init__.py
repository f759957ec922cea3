"""OpsLab's run history in DuckDB. All SQL of the project lives in this package."""

from pipelines.store.connection import StoreError, StoreLocked, open_connection, query_interrupted
from pipelines.store.core import StepRecord, Store, from_json, new_id, now_utc, to_json
from pipelines.store.history import jsonable, workspace_history
from pipelines.store.location import RunHistory
from pipelines.store.schema import LATEST_VERSION, migrate

__all__ = [
    "LATEST_VERSION",
    "RunHistory",
    "StepRecord",
    "Store",
    "StoreError",
    "StoreLocked",
    "from_json",
    "jsonable",
    "migrate",
    "new_id",
    "now_utc",
    "open_connection",
    "query_interrupted",
    "to_json",
    "workspace_history",
]
