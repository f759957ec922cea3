"""The MLflow import's transforms: landed MLflow records -> runs, steps, params, model versions, alias moves.

`pipelines.importers.mlflow` lands three kinds of record (source `mlflow`), each as MLflow gave it:

- `run`: `Run.to_dictionary()` (`info`, `data.params/metrics/tags`, `inputs.dataset_inputs`), keyed by run id;
- `model_version`: a registered version of the imported model, keyed by `<model>/<version>`;
- `alias`: what an alias of the model points at when the import looked, keyed by `<model>/<alias>`
  (`version` null once the alias is gone).

The statements below turn them into the tables a played scenario writes, idempotently: every row id
derives from an MLflow id (`mlflow:run:<run id>`), and a re-import updates rows instead of adding
them. Runs and their steps and params are transformed only when their record is new or changed in
this import (or a version registered from them is), so a re-import of a large history costs what
changed. MLflow keeps no alias history: `ALIAS_MOVES_SQL` compares each alias with the last move
recorded and records a move, at the import's time, when it points somewhere new.

Parameters: `$workspace`, `$source`, `$import_id`, `$now` (from `land_and_transform`), `$model` (the
registered model's name) and `$production_alias` (the alias production serves, e.g. champion).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.store.core import Store
from pipelines.store.keys_sql import RETRAIN_TRIGGERS

__all__ = [
    "ALIAS_MOVES_SQL",
    "MODEL_DEPLOYMENTS_SQL",
    "MODEL_VERSIONS_SQL",
    "REPLACED_DEPLOYMENTS_SQL",
    "RUNS_SQL",
    "RUN_PARAMS_SQL",
    "STEPS_SQL",
    "TRANSFORMS",
    "TRIGGERS",
    "TRIGGER_TAG",
    "WINDOW_END_TAG",
    "WINDOW_START_TAG",
    "read_before",
    "runs_with_tag",
]

# Tags a team may set on its MLflow runs to say what MLflow itself does not record: why the run
# started (one of TRIGGERS) and the window of data it learnt from (ISO times).
TRIGGER_TAG = "opslab.trigger"
WINDOW_START_TAG = "opslab.window_start"
WINDOW_END_TAG = "opslab.window_end"
TRIGGERS = ("initial", "manual", *RETRAIN_TRIGGERS)  # the run triggers a played scenario writes
_TRIGGERS_SQL = ", ".join(f"'{t}'" for t in TRIGGERS)

# The fields of a landed run the statements read, parsed once per run into a STRUCT (each `->` on
# the JSON text parses it again: five times slower at 100k runs).
_RUN_SHAPE = (
    '{"info": {"status": "VARCHAR", "start_time": "BIGINT", "end_time": "BIGINT", "run_name": "VARCHAR"}, '
    '"data": {"metrics": "JSON", "params": "MAP(VARCHAR, VARCHAR)", '
    f'"tags": {{"mlflow.source.git.commit": "VARCHAR", "{TRIGGER_TAG}": "VARCHAR"}}}}, '
    '"inputs": {"dataset_inputs": [{"dataset": {"name": "VARCHAR", "digest": "VARCHAR", "source_type": "VARCHAR", '
    '"source": "VARCHAR"}, "tags": {"mlflow.data.context": "VARCHAR"}}]}}'
)

# The runs to transform in this import, parsed: new or changed records, and runs a version landed
# in this import was registered from (their trigger depends on the versions).
_PARSED_RUNS = f"""
    SELECT 'mlflow:run:' || l.source_id AS run_id, l.source_id AS mlflow_run_id, l.workspace, r,
           r.info.status AS mlflow_status, epoch_ms(r.info.start_time) AS started,
           epoch_ms(r.info.end_time) AS ended, coalesce(len(r.inputs.dataset_inputs), 0) AS n_datasets
    FROM (SELECT *, from_json(payload, '{_RUN_SHAPE}') AS r FROM landing) l
    WHERE l.workspace = $workspace AND l.source = $source AND l.kind = 'run'
      AND (l.import_id = $import_id
           OR l.source_id IN (SELECT v.payload ->> 'run_id' FROM landing v
                              WHERE v.workspace = $workspace AND v.source = $source
                                AND v.kind = 'model_version' AND v.import_id = $import_id))"""

# The ready versions of the imported model, with the first one (training, not retraining).
_VERSIONS = """
    SELECT v.payload ->> 'run_id' AS mlflow_run_id,
           CAST(v.payload ->> 'version' AS INTEGER) AS version,
           CAST(v.payload ->> 'version' AS INTEGER)
               = min(CAST(v.payload ->> 'version' AS INTEGER)) OVER () AS first_version
    FROM landing v
    WHERE v.workspace = $workspace AND v.source = $source AND v.kind = 'model_version'
      AND v.payload ->> 'name' = $model AND v.payload ->> 'status' = 'READY'"""

_STATUS = """CASE mlflow_status WHEN 'FINISHED' THEN 'succeeded' WHEN 'FAILED' THEN 'failed'
                          WHEN 'KILLED' THEN 'interrupted' ELSE 'running' END"""

RUNS_SQL = f"""
-- MLflow runs -> runs (kind mlops). MLflow does not record why a run started: a run tagged
-- {TRIGGER_TAG} says so; else the run behind the model's first version is its initial training,
-- a run that registered a later version is a retrain (schedule), any other run is manual work.
INSERT INTO runs (run_id, workspace, kind, trigger, status, sim_time, started_at, finished_at,
                  duration_ms, input_fingerprint, label)
WITH versions AS ({_VERSIONS}
), registered AS (
    SELECT mlflow_run_id, bool_or(first_version) AS first_version FROM versions GROUP BY mlflow_run_id
), p AS ({_PARSED_RUNS}
)
SELECT p.run_id, p.workspace, 'mlops',
       CASE WHEN p.r.data.tags."{TRIGGER_TAG}" IN ({_TRIGGERS_SQL}) THEN p.r.data.tags."{TRIGGER_TAG}"
            WHEN g.first_version THEN 'initial'
            WHEN g.mlflow_run_id IS NOT NULL THEN 'schedule'
            ELSE 'manual' END,
       {_STATUS},
       p.started, p.started, p.ended, CAST(epoch_ms(p.ended) - epoch_ms(p.started) AS DOUBLE),
       p.r.data.tags."mlflow.source.git.commit", coalesce(p.r.info.run_name, p.mlflow_run_id)
FROM p LEFT JOIN registered g ON g.mlflow_run_id = p.mlflow_run_id
ON CONFLICT (run_id) DO UPDATE SET
    trigger = excluded.trigger, status = excluded.status, finished_at = excluded.finished_at,
    duration_ms = excluded.duration_ms, input_fingerprint = excluded.input_fingerprint, label = excluded.label
"""

STEPS_SQL = f"""
-- each run's steps: 'ingest' holding its dataset inputs (name, digest, source, context) when it
-- logged any, then 'train' holding its final metrics. MLflow times only the whole run: the train
-- step carries the run's times, the ingest step none.
INSERT INTO steps (run_id, workspace, position, name, status, started_at, finished_at, duration_ms, metrics)
WITH p AS ({_PARSED_RUNS}
)
SELECT run_id, workspace, 0, 'ingest', 'succeeded', NULL, NULL, NULL,
       json_object('datasets', to_json(list_transform(r.inputs.dataset_inputs,
           lambda d: struct_pack(name := d.dataset.name, digest := d.dataset.digest,
                                 source_type := d.dataset.source_type, source := d.dataset.source,
                                 context := d.tags."mlflow.data.context"))))
FROM p WHERE n_datasets > 0
UNION ALL
SELECT run_id, workspace, CASE WHEN n_datasets > 0 THEN 1 ELSE 0 END, 'train',
       CASE mlflow_status WHEN 'FINISHED' THEN 'succeeded' WHEN 'FAILED' THEN 'failed'
                          WHEN 'KILLED' THEN 'failed' ELSE 'running' END,
       started, ended, CAST(epoch_ms(ended) - epoch_ms(started) AS DOUBLE), coalesce(r.data.metrics, '{{}}')
FROM p
ON CONFLICT (run_id, position) DO UPDATE SET
    name = excluded.name, status = excluded.status, started_at = excluded.started_at,
    finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, metrics = excluded.metrics
"""

RUN_PARAMS_SQL = f"""
-- each run's params as key/value rows (MLflow keeps them as strings, and never changes one)
INSERT INTO run_params (workspace, run_id, key, value)
WITH p AS ({_PARSED_RUNS}
)
SELECT workspace, run_id, param.key, param.value
FROM (SELECT workspace, run_id, unnest(map_entries(r.data.params)) AS param FROM p)
ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
"""


def _utc(text: str) -> str:
    """An ISO time as naive UTC: an offset (2026-03-01T00:00+01:00, ...Z) is honoured, a time
    without one is read as UTC (as MLflow's own times are)."""
    return (
        f"CASE WHEN regexp_matches({text}, '(Z|[+-][0-9][0-9](:?[0-9][0-9])?)$') "
        f"THEN timezone('UTC', CAST({text} AS TIMESTAMPTZ)) ELSE CAST({text} AS TIMESTAMP) END"
    )


_VERSION_RUN_SHAPE = (
    f'{{"data": {{"metrics": "JSON", "tags": {{"{WINDOW_START_TAG}": "VARCHAR", "{WINDOW_END_TAG}": "VARCHAR"}}}}, '
    '"inputs": {"dataset_inputs": [{"dataset": {"name": "VARCHAR", "digest": "VARCHAR"}, '
    '"tags": {"mlflow.data.context": "VARCHAR"}}]}}'
)

MODEL_VERSIONS_SQL = f"""
-- the model's ready versions -> model_versions. MLflow keeps no hash of a model's files: sha256 is
-- the hash of the version's source URI (same source, same artifact). The dataset is the run's
-- training dataset input (else its first), its digest the data fingerprint; the data window comes
-- only from the run's {WINDOW_START_TAG} / {WINDOW_END_TAG} tags (MLflow records none).
INSERT INTO model_versions (workspace, version, run_id, path, sha256, metrics, dataset, task,
                            window_start, window_end, data_fingerprint, settings_hash, sim_time, created_at)
WITH v AS (
    SELECT workspace, payload ->> 'run_id' AS mlflow_run_id, CAST(payload ->> 'version' AS INTEGER) AS version,
           coalesce(payload ->> 'source', '') AS source,
           epoch_ms(CAST(payload ->> 'creation_timestamp' AS BIGINT)) AS created
    FROM landing
    WHERE workspace = $workspace AND source = $source AND kind = 'model_version'
      AND payload ->> 'name' = $model AND payload ->> 'status' = 'READY'
), r AS (
    -- the runs the versions came from, parsed once
    SELECT l.source_id AS mlflow_run_id, from_json(l.payload, '{_VERSION_RUN_SHAPE}') AS r
    FROM landing l
    WHERE l.workspace = $workspace AND l.source = $source AND l.kind = 'run'
      AND l.source_id IN (SELECT mlflow_run_id FROM v)
), d AS (
    SELECT mlflow_run_id, arg_min(d.dataset, (coalesce(d.tags."mlflow.data.context", '') <> 'training',
                                             d.dataset.name)) AS dataset
    FROM (SELECT mlflow_run_id, unnest(r.inputs.dataset_inputs) AS d FROM r)
    GROUP BY mlflow_run_id
)
SELECT v.workspace, v.version,
       CASE WHEN v.mlflow_run_id IS NOT NULL THEN 'mlflow:run:' || v.mlflow_run_id END,
       v.source, sha256(v.source), coalesce(r.r.data.metrics, '{{}}'), d.dataset.name, NULL,
       {_utc(f'r.r.data.tags."{WINDOW_START_TAG}"')},
       {_utc(f'r.r.data.tags."{WINDOW_END_TAG}"')},
       d.dataset.digest, NULL, v.created, v.created
FROM v
LEFT JOIN r ON r.mlflow_run_id = v.mlflow_run_id
LEFT JOIN d ON d.mlflow_run_id = v.mlflow_run_id
ON CONFLICT (workspace, version) DO UPDATE SET
    run_id = excluded.run_id, path = excluded.path, sha256 = excluded.sha256, metrics = excluded.metrics,
    dataset = excluded.dataset, window_start = excluded.window_start, window_end = excluded.window_end,
    data_fingerprint = excluded.data_fingerprint
"""

ALIAS_MOVES_SQL = """
-- MLflow keeps only where each alias points now: a move is recorded when an alias points somewhere
-- new since the last move recorded (the first import records where it points), at the import's time
WITH last AS (
    SELECT alias, version FROM alias_moves WHERE workspace = $workspace
    QUALIFY row_number() OVER (PARTITION BY alias ORDER BY moved_at DESC, move_id DESC) = 1
), seen AS (
    SELECT a.workspace, a.payload ->> 'alias' AS alias, TRY_CAST(a.payload ->> 'version' AS INTEGER) AS version
    FROM landing a
    WHERE a.workspace = $workspace AND a.source = $source AND a.kind = 'alias' AND a.payload ->> 'name' = $model
)
INSERT INTO alias_moves (move_id, workspace, alias, version, previous_version, sim_time, moved_at, reason, run_id)
SELECT 'mlflow:alias:' || s.alias || ':' || $import_id, s.workspace, s.alias, s.version, last.version,
       $now, $now,
       CASE WHEN last.alias IS NULL
            THEN 'first seen by an import: where it pointed before is unknown (MLflow keeps no alias history)'
            WHEN s.version IS NULL THEN 'removed since the last import'
            ELSE 'moved since the last import (when exactly is unknown: MLflow keeps no alias history)' END,
       mv.run_id
FROM seen s
LEFT JOIN last ON last.alias = s.alias
LEFT JOIN model_versions mv ON mv.workspace = s.workspace AND mv.version = s.version
WHERE (last.alias IS NULL AND s.version IS NOT NULL) OR last.version IS DISTINCT FROM s.version
"""

MODEL_DEPLOYMENTS_SQL = """
-- a move of the production alias in this import is a model deployment; a move back to an older
-- version is a rollback (unplanned, as a played scenario records its model rollbacks)
INSERT INTO deployments (deployment_id, workspace, environment, kind, ref, run_id, sim_time, deployed_at,
                         commit_sha, artifact_sha256, unplanned, reason)
SELECT 'mlflow:deploy:' || m.alias || ':' || $import_id, m.workspace, 'production', 'model', 'v' || m.version,
       mv.run_id, m.sim_time, m.moved_at, r.input_fingerprint, mv.sha256,
       coalesce(m.version < m.previous_version, false),
       'alias ' || m.alias || ' -> v' || m.version || ': ' || m.reason
FROM alias_moves m
LEFT JOIN model_versions mv ON mv.workspace = m.workspace AND mv.version = m.version
LEFT JOIN runs r ON r.run_id = mv.run_id
WHERE m.workspace = $workspace AND m.move_id = 'mlflow:alias:' || $production_alias || ':' || $import_id
  AND m.version IS NOT NULL
ON CONFLICT (deployment_id) DO NOTHING
"""

REPLACED_DEPLOYMENTS_SQL = """
-- the production model deployment a new one replaced; a rollback marks it rolled back (failed)
UPDATE deployments AS d
SET replaced_by = n.deployment_id, replaced_sim_time = n.sim_time, rolled_back = d.rolled_back OR n.unplanned
FROM deployments AS n
WHERE n.deployment_id = 'mlflow:deploy:' || $production_alias || ':' || $import_id
  AND d.workspace = $workspace AND d.environment = 'production' AND d.kind = 'model'
  AND d.replaced_by IS NULL AND d.deployment_id <> n.deployment_id
"""

# In order: versions before runs (a run's trigger reads them), moves before the deployments they make.
TRANSFORMS = (
    MODEL_VERSIONS_SQL,
    RUNS_SQL,
    STEPS_SQL,
    RUN_PARAMS_SQL,
    ALIAS_MOVES_SQL,
    MODEL_DEPLOYMENTS_SQL,
    REPLACED_DEPLOYMENTS_SQL,
)


# -- what earlier imports read: the next one asks MLflow only for what may have changed -------------
_READ_BEFORE_SQL = """
SELECT payload -> 'info' ->> 'experiment_id' AS experiment_id,
       max(CAST(payload -> 'info' ->> 'start_time' AS BIGINT)) AS last_start,
       list(source_id) FILTER (WHERE payload -> 'info' ->> 'status' IN ('RUNNING', 'SCHEDULED')) AS unfinished
FROM landing
WHERE workspace = ? AND source = 'mlflow' AND kind = 'run'
GROUP BY ALL
"""


def read_before(store: Store, workspace: str) -> tuple[dict[str, int], list[str]]:
    """Per experiment id, the latest run start an import landed (ms), and the runs landed unfinished."""
    if not store.exists():
        return {}, []
    frame = store._frame(_READ_BEFORE_SQL, [workspace])
    last = {str(e): int(t) for e, t in zip(frame["experiment_id"], frame["last_start"], strict=True)}
    unfinished = [str(r) for runs in frame["unfinished"] if not pd.api.types.is_scalar(runs) for r in runs]
    return last, unfinished


_RUNS_WITH_TAG_SQL = """
SELECT source_id FROM landing
WHERE workspace = ? AND source = 'mlflow' AND kind = 'run' AND list_contains(?, source_id)
  AND payload -> 'data' -> 'tags' ->> ? IS NOT NULL
"""


def runs_with_tag(store: Store, workspace: str, run_ids: Sequence[str], tag: str) -> set[str]:
    """Of these MLflow runs landed before, the ones that carry `tag`."""
    if not run_ids or not store.exists():
        return set()
    return set(store._frame(_RUNS_WITH_TAG_SQL, [workspace, list(run_ids), tag])["source_id"])
