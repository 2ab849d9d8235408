-- The run ledger. One row per (job, slot): retries, re-runs of abandoned
-- runs, backfills and forced manual runs are further attempts on that row.
-- Timestamps are RFC 3339 text in UTC.
CREATE TABLE job_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job             TEXT    NOT NULL,
    slot            TEXT    NOT NULL,
    trigger         TEXT    NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual', 'backfill', 'retry')),
    attempt         INTEGER NOT NULL DEFAULT 0,
    fence           INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'abandoned', 'skipped')),
    queued_at       TEXT    NOT NULL,
    next_attempt_at TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    heartbeat_at    TEXT,
    owner           TEXT,
    host            TEXT,
    pid             INTEGER,
    counts          TEXT,
    warnings        TEXT,
    error           TEXT,
    report_path     TEXT,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_by_status ON job_runs (status, next_attempt_at);
CREATE INDEX job_runs_by_job ON job_runs (job, slot DESC);

-- Every finished attempt of a run (the current one lives in job_runs).
CREATE TABLE job_run_attempts (
    run_id      INTEGER NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    trigger     TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    started_at  TEXT,
    finished_at TEXT    NOT NULL,
    owner       TEXT,
    host        TEXT,
    pid         INTEGER,
    counts      TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, attempt)
);

-- Daemons that are (or were) running against this database.
CREATE TABLE daemon_instances (
    owner        TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    stopped_at   TEXT
);
