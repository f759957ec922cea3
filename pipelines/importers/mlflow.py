"""Import an MLflow tracking server's history: runs, registered model versions and aliases.

Read through `MlflowClient` on any tracking URI (`sqlite:///mlflow.db`, `http://host:5000`,
`databricks`, ...): every run of the chosen experiments (params, final metrics, tags, dataset
inputs), the versions of one registered model and where its aliases point. The records land as
MLflow gives them and `pipelines.store.import_mlflow_sql` turns them into runs (kind mlops), steps,
run params, model versions, alias moves and model deployments.

What MLflow cannot tell, and so the import's note says:
- it keeps no alias history: each import polls the aliases and records a move when one points
  somewhere new since the last import, at the import's time; where an alias pointed before the first
  import is unknown. The production alias's moves are the model deployments; a move back to an older
  version is a rollback.
- it does not record why a run started (tag a run `opslab.trigger` to say), nor the window of data a
  model learnt from (tags `opslab.window_start` / `opslab.window_end`), nor incidents.

MLflow is imported only when an import runs (it takes seconds to import): the CLI and the dashboard
start without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipelines.errors import OpsLabError
from pipelines.importers import ImportFormatError, check_importable
from pipelines.store import Store
from pipelines.store import import_mlflow_sql as sql
from pipelines.store.landing_sql import ImportSummary, LandedRecord, land_and_transform, landed

__all__ = [
    "DEFAULT_PRODUCTION_ALIAS",
    "INSTALL_HINT",
    "MlflowHistory",
    "alias_records",
    "import_mlflow",
    "read_mlflow",
    "run_record",
    "version_record",
]

SOURCE = "mlflow"
DEFAULT_PRODUCTION_ALIAS = "champion"
INSTALL_HINT = (
    "MLflow is not installed: install it with `pip install 'opslab[mlflow]'` (MLflow's client, "
    "mlflow-skinny, with what a SQLite tracking store needs), then import again."
)
_RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_PAGE = 1000


@dataclass(frozen=True)
class MlflowHistory:
    """What one look at a tracking server read, ready to land."""

    model: str | None  # the registered model imported (None: the server has none)
    records: tuple[LandedRecord, ...]
    runs: int  # runs read (new or maybe changed since the last import)
    untagged_runs: int  # of those, runs without an opslab.trigger tag: their trigger is inferred
    version_runs: tuple[str, ...]  # the run of each ready version ('' when it has none)
    window_runs: frozenset[str]  # runs read that say their data window (opslab.window_end)


# -- reading ----------------------------------------------------------------------------------
def _millis(value: Any, where: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ImportFormatError(where, field, f"is {value!r}, not a time in milliseconds")
    try:
        return int(value)
    except ValueError:
        raise ImportFormatError(where, field, f"is {value!r}, not a time in milliseconds") from None


def _at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None)


def run_record(run: Mapping[str, Any], where: str) -> LandedRecord:
    """One run, as `Run.to_dictionary()` gives it, checked for the fields the transforms read."""
    info = run.get("info") or {}
    run_id = info.get("run_id")
    if not run_id:
        raise ImportFormatError(where, "a run's info.run_id", "is missing")
    field = f"run {run_id} "
    start = _millis(info.get("start_time"), where, field + "info.start_time")
    end = info.get("end_time")
    end_ms = None if end is None else _millis(end, where, field + "info.end_time")
    if info.get("status") not in _RUN_STATUSES:
        raise ImportFormatError(
            where, field + "info.status", f"is {info.get('status')!r}, not one of {', '.join(_RUN_STATUSES)}"
        )
    tags = (run.get("data") or {}).get("tags") or {}
    trigger = tags.get(sql.TRIGGER_TAG)
    if trigger is not None and trigger not in sql.TRIGGERS:
        raise ImportFormatError(
            where, field + f"tag {sql.TRIGGER_TAG}", f"is {trigger!r}, not one of {', '.join(sql.TRIGGERS)}"
        )
    for tag in (sql.WINDOW_START_TAG, sql.WINDOW_END_TAG):
        if tags.get(tag) is not None:
            try:
                datetime.fromisoformat(str(tags[tag]))
            except ValueError:
                raise ImportFormatError(
                    where, field + f"tag {tag}", f"is {tags[tag]!r}, not an ISO time (2026-03-01T00:00)"
                ) from None
    return LandedRecord("run", str(run_id), run, _at(end_ms if end_ms is not None else start))


def version_record(version: Mapping[str, Any], where: str) -> LandedRecord:
    """One registered model version (its MLflow fields), checked for what the transforms read."""
    name, number = version.get("name"), version.get("version")
    field = f"model {name} version {number} "
    try:
        int(str(number))
    except ValueError:
        raise ImportFormatError(where, f"model {name} version", f"is {number!r}, not a number") from None
    created = _millis(version.get("creation_timestamp"), where, field + "creation_timestamp")
    updated = version.get("last_updated_timestamp")
    updated_ms = created if updated is None else _millis(updated, where, field + "last_updated_timestamp")
    return LandedRecord("model_version", f"{name}/{number}", version, _at(updated_ms))


def alias_records(
    model: str, aliases: Mapping[str, Any], known: Sequence[str], where: str
) -> list[LandedRecord]:
    """Where each alias of `model` points now; an alias seen by an earlier import and gone now
    points nowhere (version None), so its removal is recorded too."""
    records = []
    for alias in sorted(set(aliases) | set(known)):
        version = aliases.get(alias)
        if version is not None:
            try:
                version = int(str(version))
            except ValueError:
                raise ImportFormatError(
                    where, f"model {model} alias {alias}", f"points at {version!r}, not a version"
                ) from None
        records.append(
            LandedRecord("alias", f"{model}/{alias}", {"name": model, "alias": alias, "version": version})
        )
    return records


def _pages(search: Any, **kwargs: Any) -> Iterator[Any]:
    """Every item of an MLflow search, page after page."""
    token = None
    while True:
        page = search(page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def _choose_model(client: Any, where: str, model: str | None) -> str | None:
    if model is not None:
        from mlflow.exceptions import MlflowException

        try:
            client.get_registered_model(model)
        except MlflowException:
            raise OpsLabError(
                f"{where} has no registered model {model!r}; leave --model out to list the ones it has."
            ) from None
        return model
    names = sorted(m.name for m in _pages(client.search_registered_models, max_results=100))
    if len(names) > 1:
        raise OpsLabError(
            f"{where} has {len(names)} registered models ({', '.join(names)}): say which one this workspace "
            "follows with --model NAME (a workspace follows one model, as a played scenario does)."
        )
    return names[0] if names else None


def _experiment_ids(client: Any, where: str, experiments: Sequence[str] | None) -> list[str]:
    if not experiments:
        return [e.experiment_id for e in _pages(client.search_experiments, max_results=_PAGE)]
    ids = []
    for name in experiments:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise OpsLabError(f"{where} has no experiment {name!r}; check its name in the MLflow UI.")
        ids.append(found.experiment_id)
    return ids


def read_mlflow(
    client: Any,
    where: str,
    *,
    model: str | None = None,
    experiments: Sequence[str] | None = None,
    known_aliases: Sequence[str] = (),
    since: Mapping[str, int] | None = None,
    unfinished: Sequence[str] = (),
) -> MlflowHistory:
    """Read runs, the model's versions and its aliases through an `MlflowClient` (or anything with
    its methods). `known_aliases`: the aliases earlier imports saw, so a removed one is noticed.
    `since`: per experiment id, read only runs started at or after this time (ms; an earlier import
    has the rest); `unfinished`: runs an earlier import saw running, read again by id."""
    chosen = _choose_model(client, where, model)
    runs: dict[str, LandedRecord] = {}
    for experiment_id in _experiment_ids(client, where, experiments):
        start = (since or {}).get(experiment_id)
        search = "" if start is None else f"attributes.start_time >= {int(start)}"
        for run in _pages(client.search_runs, experiment_ids=[experiment_id], filter_string=search,
                          max_results=_PAGE):  # fmt: skip
            record = run_record(run.to_dictionary(), where)
            runs[record.source_id] = record
    for run_id in unfinished:
        if run_id not in runs:
            again = _run_by_id(client, run_id, where)
            if again is not None:
                runs[run_id] = again
    records = list(runs.values())
    tags = {r.source_id: r.payload.get("data", {}).get("tags", {}) for r in records}
    untagged = sum(sql.TRIGGER_TAG not in t for t in tags.values())
    version_runs: list[str] = []
    if chosen is not None:
        fields = ("name", "version", "creation_timestamp", "last_updated_timestamp", "run_id", "source",
                  "status", "tags", "description")  # fmt: skip
        for version in _pages(client.search_model_versions, filter_string=_name_filter(chosen)):
            payload = {f: _plain(getattr(version, f, None)) for f in fields}
            records.append(version_record(payload, where))
            if payload["status"] == "READY":
                version_runs.append(str(payload["run_id"] or ""))
        aliases = client.get_registered_model(chosen).aliases or {}
        records.extend(alias_records(chosen, aliases, known_aliases, where))
    windows = frozenset(r for r, t in tags.items() if sql.WINDOW_END_TAG in t)
    return MlflowHistory(chosen, tuple(records), len(runs), untagged, tuple(version_runs), windows)


def _name_filter(model: str) -> str:
    """MLflow's search filter for one model's versions (its quotes: a name may hold one kind)."""
    return f'name = "{model}"' if "'" in model else f"name = '{model}'"


def _run_by_id(client: Any, run_id: str, where: str) -> LandedRecord | None:
    """A run read again by id; None when it was deleted since (its imported record stays)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    return run_record(run.to_dictionary(), where)


def _plain(value: Any) -> Any:
    """A field of an MLflow entity as JSON (tags come as a dict, numbers as numbers)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


# -- the import ---------------------------------------------------------------------------------
def _safe_location(uri: str) -> str:
    """The tracking URI without a user or password in it (the imports log is shown on the pages)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _check_local_store(uri: str) -> None:
    """MLflow creates a new, empty store at a local path that does not exist: a typo would import
    nothing and leave a stray file. Refuse instead."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///")
        if path and path != ":memory:" and not Path(path).exists():
            raise OpsLabError(f"There is no MLflow database at {path} (from {uri}): check the tracking URI.")
        return
    parts = urlsplit(uri)
    if parts.scheme in ("", "file") and not uri.startswith("databricks"):  # a file store's folder
        path = parts.path if parts.scheme else uri
        if not Path(path).exists():
            raise OpsLabError(f"There is no MLflow store at {path}: check the tracking URI.")


def _client(tracking_uri: str, registry_uri: str | None) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise OpsLabError(INSTALL_HINT) from None
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)


def _note(history: MlflowHistory, production_alias: str, versions_without_window: int) -> str:
    parts = [
        "MLflow keeps no alias history: alias moves (and so model deployments, the moves of "
        f"{production_alias!r}) are recorded from the first import on, each at the time an import saw it; "
        "earlier moves are unknown.",
        "MLflow records no incidents: a model deployment counts as failed only when "
        f"{production_alias!r} was seen moving back to an older version.",
    ]
    if history.model is None:
        parts.append("The server has no registered model: no model versions or deployments.")
    if history.untagged_runs:
        parts.append(
            f"MLflow does not record why a run started: {history.untagged_runs} of the {history.runs} runs read "
            f"have no {sql.TRIGGER_TAG} tag; of those, a run that registered a later model version counts as a "
            "retrain (schedule), the rest as manual."
        )
    if versions_without_window:
        parts.append(
            f"{versions_without_window} of {len(history.version_runs)} model versions have no data window "
            f"({sql.WINDOW_START_TAG}/{sql.WINDOW_END_TAG} tags on their run): their data-to-production "
            "lead time and staleness are unknown."
        )
    if history.version_runs:
        parts.append("A version's sha256 is that of its source URI (MLflow keeps no hash of model files).")
    return " ".join(parts)


def import_mlflow(
    store: Store,
    workspace: str,
    tracking_uri: str,
    *,
    model: str | None = None,
    experiments: Sequence[str] | None = None,
    production_alias: str = DEFAULT_PRODUCTION_ALIAS,
    registry_uri: str | None = None,
    full: bool = False,
    client: Any = None,
) -> ImportSummary:
    """Import an MLflow tracking server's history into `workspace` (see the module's docstring).

    `model`: the registered model the workspace follows (default: the server's only one);
    `experiments`: experiment names whose runs to import (default: all active ones);
    `production_alias`: the alias production serves; `client`: an `MlflowClient` already open.
    Re-running asks MLflow only for runs started since the last import's latest (per experiment) and
    the runs it saw unfinished (`full`: every run again, to catch tags or metrics added to finished
    runs), adds only what is new and records the aliases' moves since the last import.
    """
    check_importable(store, workspace)
    if client is None:
        _check_local_store(tracking_uri)
        client = _client(tracking_uri, registry_uri)
    where = _safe_location(tracking_uri)
    chosen = _choose_model(client, where, model)
    known = [p["alias"] for p in landed(store, workspace, SOURCE, "alias") if p.get("name") == chosen]
    since, unfinished = ({}, []) if full else sql.read_before(store, workspace)
    history = read_mlflow(client, where, model=chosen, experiments=experiments, known_aliases=known,
                          since=since, unfinished=unfinished)  # fmt: skip
    unread = [r for r in history.version_runs if r and r not in history.window_runs]
    said_before = sql.runs_with_tag(store, workspace, unread, sql.WINDOW_END_TAG)
    without_window = sum(r not in history.window_runs and r not in said_before for r in history.version_runs)
    return land_and_transform(
        store,
        workspace,
        SOURCE,
        history.records,
        sql.TRANSFORMS,
        location=where,
        options={
            "model": history.model,
            "experiments": list(experiments or []),
            "production_alias": production_alias,
        },
        note=_note(history, production_alias, without_window),
    )
