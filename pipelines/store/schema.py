"""The one owner of OpsLab's DuckDB schema: numbered migrations, applied in order.

Opening a file written by an older OpsLab upgrades it; opening a current one changes nothing.
A migration is never edited once released: a change to the schema is a new, higher number.
Every table carries `workspace` so that several demos or workshop participants share one file.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from pipelines.quality import METRICS
from pipelines.store.connection import StoreError

__all__ = ["LATEST_VERSION", "MIGRATIONS", "TABLES", "current_version", "migrate"]

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE workspaces (
            name VARCHAR PRIMARY KEY,
            created_at TIMESTAMP NOT NULL,
            scenario VARCHAR,
            seed INTEGER,
            settings JSON,
            settings_hash VARCHAR
        )""",
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- devops | mlops
            trigger VARCHAR NOT NULL,         -- commit | schedule | drift | performance | manual
            status VARCHAR NOT NULL,          -- running | succeeded | failed | interrupted
            sim_time TIMESTAMP,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            duration_ms DOUBLE,
            input_fingerprint VARCHAR,        -- commit sha or data window hash
            config_hash VARCHAR,
            label VARCHAR,
            pid INTEGER,
            host VARCHAR,
            error VARCHAR
        )""",
        """CREATE TABLE steps (
            run_id VARCHAR NOT NULL,
            workspace VARCHAR NOT NULL,
            position INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- succeeded | failed | skipped | cached
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            duration_ms DOUBLE,
            metrics JSON,
            log_tail VARCHAR,
            error VARCHAR,
            cache_key VARCHAR,
            PRIMARY KEY (run_id, position)
        )""",
        """CREATE TABLE artifacts (
            artifact_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            run_id VARCHAR,
            step VARCHAR,
            kind VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            size_bytes BIGINT,
            created_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE step_cache (
            workspace VARCHAR NOT NULL,
            step VARCHAR NOT NULL,
            cache_key VARCHAR NOT NULL,
            run_id VARCHAR,
            outputs JSON,
            metrics JSON,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace, step, cache_key)
        )""",
        """CREATE TABLE deployments (
            deployment_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            environment VARCHAR NOT NULL,     -- production
            kind VARCHAR NOT NULL,            -- release | model
            ref VARCHAR NOT NULL,             -- release version or model version
            run_id VARCHAR,
            sim_time TIMESTAMP,
            deployed_at TIMESTAMP NOT NULL,
            commit_sha VARCHAR,
            commit_time TIMESTAMP,            -- scenario time of the change (lead time)
            artifact_sha256 VARCHAR,
            unplanned BOOLEAN NOT NULL DEFAULT false,  -- caused by an incident (rework)
            reason VARCHAR,
            replaced_by VARCHAR,
            replaced_sim_time TIMESTAMP,
            rolled_back BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE incidents (
            incident_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- service | model
            status VARCHAR NOT NULL,          -- open | resolved
            opened_sim_time TIMESTAMP NOT NULL,
            resolved_sim_time TIMESTAMP,
            opened_at TIMESTAMP NOT NULL,
            resolved_at TIMESTAMP,
            cause VARCHAR,                    -- release version or model version
            cause_deployment_id VARCHAR,
            detected_by VARCHAR,
            summary VARCHAR,
            rollback_deployment_id VARCHAR
        )""",
        """CREATE TABLE model_versions (
            workspace VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            run_id VARCHAR,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            metrics JSON,
            dataset VARCHAR,
            task VARCHAR,
            window_start TIMESTAMP,
            window_end TIMESTAMP,
            data_fingerprint VARCHAR,
            settings_hash VARCHAR,
            sim_time TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (workspace, version)
        )""",
        """CREATE TABLE alias_moves (
            move_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,           -- champion | challenger
            version INTEGER,
            previous_version INTEGER,
            sim_time TIMESTAMP,
            moved_at TIMESTAMP NOT NULL,
            reason VARCHAR,
            run_id VARCHAR
        )""",
        """CREATE TABLE weekly (
            workspace VARCHAR NOT NULL,
            week INTEGER NOT NULL,
            sim_time TIMESTAMP NOT NULL,
            release VARCHAR,
            model_version INTEGER,
            requests INTEGER,
            errors INTEGER,
            error_rate DOUBLE,
            latency_p50_ms DOUBLE,
            latency_p95_ms DOUBLE,
            quality DOUBLE,
            quality_never_retrained DOUBLE,
            drift_share DOUBLE,
            PRIMARY KEY (workspace, week)
        )""",
        """CREATE TABLE drift (
            workspace VARCHAR NOT NULL,
            week INTEGER,
            sim_time TIMESTAMP NOT NULL,
            run_id VARCHAR,
            model_version INTEGER,
            feature VARCHAR NOT NULL,
            test VARCHAR NOT NULL,
            statistic DOUBLE,
            threshold DOUBLE,
            drifted BOOLEAN NOT NULL,
            p_value DOUBLE,
            psi DOUBLE,
            reason VARCHAR,
            n_reference INTEGER,
            n_current INTEGER
        )""",
    ),
    # v2: scenario runs became first-class (Ctrl-C marks them interrupted, the dashboard shows
    # progress), and the weekly row learned what monitoring and the retraining policy decided.
    2: (
        """CREATE TABLE scenario_runs (
            scenario_run_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            scenario VARCHAR NOT NULL,
            seed INTEGER,
            settings JSON,
            status VARCHAR NOT NULL,          -- running | succeeded | failed | interrupted
            weeks_planned INTEGER,
            weeks_done INTEGER NOT NULL DEFAULT 0,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            pid INTEGER,
            host VARCHAR,
            error VARCHAR
        )""",
        "ALTER TABLE weekly ADD COLUMN quality_metric VARCHAR",
        "ALTER TABLE weekly ADD COLUMN dataset_drift BOOLEAN",
        "ALTER TABLE weekly ADD COLUMN retrain_decision VARCHAR",
        "ALTER TABLE weekly ADD COLUMN retrain_reason VARCHAR",
        "ALTER TABLE weekly ADD COLUMN rows INTEGER",
        "ALTER TABLE weekly ADD COLUMN latency_mean_ms DOUBLE",
    ),
    # v3: lead time is per change, as Four Keys counts it (a deploy can ship several commits), and
    # the weekly row records the monitoring alarm and the quality it is judged against.
    3: (
        """CREATE TABLE changes (
            workspace VARCHAR NOT NULL,
            commit_sha VARCHAR NOT NULL,
            change_id VARCHAR,
            kind VARCHAR,                     -- feature | refactor | fix | perf-regression | bug-caught | bug-escaped | revert | initial
            message VARCHAR,
            committed_sim_time TIMESTAMP NOT NULL,
            deployment_id VARCHAR,            -- the first production deploy that shipped it
            deployed_sim_time TIMESTAMP,
            PRIMARY KEY (workspace, commit_sha)
        )""",
        "ALTER TABLE weekly ADD COLUMN alarm VARCHAR",  # drift | quality | NULL
        "ALTER TABLE weekly ADD COLUMN quality_baseline DOUBLE",
        "ALTER TABLE weekly ADD COLUMN served_rows_quality INTEGER",
    ),
    # v4: the weekly row stores which way its quality metric is better, so every reader takes the
    # direction from the data; rows written before learn it from the metric's name.
    4: (
        "ALTER TABLE weekly ADD COLUMN quality_direction VARCHAR",  # lower | higher
        f"""UPDATE weekly SET quality_direction = CASE quality_metric
                {" ".join(f"WHEN '{m.name}' THEN '{m.direction}'" for m in METRICS.values())}
            END
            WHERE quality_direction IS NULL AND quality_metric IS NOT NULL""",
    ),
    # v5: a guided exercise's check looks only at what happened after the learner pressed Start.
    # `seen_until` is the latest wall-clock time any record of the workspace had at Start, so a row
    # counts as new only when it is later than both, however fast the machine. Not in TABLES: a
    # workspace reset (`--replace`, part of most exercises) must not forget that the exercise began.
    5: (
        """CREATE TABLE exercise_starts (
            workspace VARCHAR NOT NULL,
            exercise VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            seen_until TIMESTAMP,
            PRIMARY KEY (workspace, exercise)
        )""",
    ),
    # v8: the data a scenario actually played (a preset's real data may be missing and the simulator
    # stand in), so pages state what was played rather than what the preset names.
    8: (
        "ALTER TABLE scenario_runs ADD COLUMN data_played VARCHAR",
        "ALTER TABLE scenario_runs ADD COLUMN data_note VARCHAR",
    ),
    # Issue #14: the champion's quality estimated from the unlabelled batch (DLE or CBPE), beside the
    # realized `quality` that needs the labels.
    10: ("ALTER TABLE weekly ADD COLUMN quality_estimated DOUBLE",),
    # Issue #10: a run's parameters as key/value rows, as MLflow records them (the config hash alone
    # cannot say which knob two runs differ in). Runs recorded before have none; pages say so.
    11: (
        """CREATE TABLE run_params (
            workspace VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,             -- dotted for nested settings: model.learning_rate
            value VARCHAR,                    -- a string as is, anything else as JSON (MLflow keeps strings)
            PRIMARY KEY (run_id, key)
        )""",
    ),
    # Issue #12: bring your own history. Every importer lands the source's records as raw JSON first
    # (one row per source id: a re-import replaces a record only when the source changed it), then
    # the store's SQL turns the landed rows into runs, deployments, changes, incidents, model versions
    # and alias moves. `imports` is the log of each import: what was read, from where, what was new.
    12: (
        """CREATE TABLE landing (
            workspace VARCHAR NOT NULL,
            source VARCHAR NOT NULL,          -- git | github | gitlab | mlflow
            kind VARCHAR NOT NULL,            -- the source's record type: commit, tag, workflow_run, job, ...
            source_id VARCHAR NOT NULL,       -- the source's own id for the record (sha, run id, ...)
            payload JSON NOT NULL,            -- the record as the source gave it
            updated_at TIMESTAMP,             -- the source's last change of the record (incremental)
            landed_at TIMESTAMP NOT NULL,
            import_id VARCHAR NOT NULL,       -- the import that landed (or last changed) it
            PRIMARY KEY (workspace, source, kind, source_id)
        )""",
        """CREATE TABLE imports (
            import_id VARCHAR PRIMARY KEY,
            workspace VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            location VARCHAR,                 -- a path, a URL or a tracking URI (never a token)
            options JSON,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status VARCHAR NOT NULL,          -- succeeded | failed
            records INTEGER,                  -- records read from the source
            new_records INTEGER,              -- of those, new or changed since the last import
            note VARCHAR,                     -- what the source cannot tell (shown on the pages)
            error VARCHAR
        )""",
    ),
}
LATEST_VERSION = max(MIGRATIONS)
TABLES = (
    "workspaces",
    "runs",
    "steps",
    "artifacts",
    "step_cache",
    "deployments",
    "incidents",
    "model_versions",
    "alias_moves",
    "weekly",
    "drift",
    "scenario_runs",
    "changes",
    "run_params",
    "landing",
    "imports",
)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database; 0 for a new, empty file."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def refuse_newer(version: int, path: object = "This run history") -> None:
    """A file written by a newer OpsLab has tables this code would misread or break: refuse it."""
    if version > LATEST_VERSION:
        raise StoreError(
            f"{path} was written by a newer OpsLab (schema version {version}; this one knows up to "
            f"{LATEST_VERSION}): update OpsLab (git pull, then make run) to open it. Nothing was changed."
        )


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> int:
    """Apply every migration above the file's version up to `target`, each in one transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    version = current_version(con)
    refuse_newer(version)
    for number in sorted(MIGRATIONS):
        if version < number <= target:
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in MIGRATIONS[number]:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?)",
                    [number, datetime.now(UTC).replace(tzinfo=None)],
                )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            version = number
    return version
