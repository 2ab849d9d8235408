-- The run ledger. One row per (job, slot): retries, re-runs of abandoned
-- runs, backfills and forced manual runs are further attempts on that row.
CREATE TABLE job_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job             TEXT        NOT NULL,
    slot            TIMESTAMPTZ NOT NULL,
    trigger         TEXT        NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual', 'backfill', 'retry')),
    attempt         INTEGER     NOT NULL DEFAULT 0,
    fence           BIGINT      NOT NULL DEFAULT 0,
    status          TEXT        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'abandoned', 'skipped')),
    queued_at       TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    heartbeat_at    TIMESTAMPTZ,
    owner           TEXT,
    host            TEXT,
    pid             BIGINT,
    counts          TEXT,
    warnings        TEXT,
    error           TEXT,
    report_path     TEXT,
    UNIQUE (job, slot)
);
CREATE INDEX job_runs_by_status ON job_runs (status, next_attempt_at);
CREATE INDEX job_runs_by_job ON job_runs (job, slot DESC);

COMMENT ON TABLE job_runs IS 'Run ledger: one row per (job, scheduled slot); further attempts update the row';
COMMENT ON COLUMN job_runs.job IS 'Job name, as in schedules.toml';
COMMENT ON COLUMN job_runs.slot IS 'Scheduled instant the run is for (UTC)';
COMMENT ON COLUMN job_runs.trigger IS 'What started the current attempt: schedule, catch_up, manual, backfill, retry';
COMMENT ON COLUMN job_runs.attempt IS 'Number of the current attempt, from 1';
COMMENT ON COLUMN job_runs.fence IS 'Fencing token: bumped on every claim and abandonment; writes must match it';
COMMENT ON COLUMN job_runs.status IS 'queued, running, succeeded, failed, abandoned or skipped';
COMMENT ON COLUMN job_runs.next_attempt_at IS 'When a queued run becomes due (retries, manual triggers)';
COMMENT ON COLUMN job_runs.heartbeat_at IS 'Last heartbeat of the running attempt (database clock)';
COMMENT ON COLUMN job_runs.owner IS 'Daemon or command instance holding the run (host:pid:nonce)';
COMMENT ON COLUMN job_runs.counts IS 'JSON object of the run''s counters';
COMMENT ON COLUMN job_runs.error IS 'Error chain of the last failed attempt';
COMMENT ON COLUMN job_runs.report_path IS 'Markdown report of the last attempt, relative to the reports folder';

CREATE TABLE job_run_attempts (
    run_id      BIGINT      NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    attempt     INTEGER     NOT NULL,
    trigger     TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ NOT NULL,
    owner       TEXT,
    host        TEXT,
    pid         BIGINT,
    counts      TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, attempt)
);
COMMENT ON TABLE job_run_attempts IS 'History of finished attempts of each run';
COMMENT ON COLUMN job_run_attempts.status IS 'How the attempt ended: succeeded, failed, abandoned, skipped, or retry_scheduled';

CREATE TABLE daemon_instances (
    owner        TEXT PRIMARY KEY,
    host         TEXT        NOT NULL,
    pid          BIGINT      NOT NULL,
    version      TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    stopped_at   TIMESTAMPTZ
);
COMMENT ON TABLE daemon_instances IS 'Daemons that run or ran against this database, with their heartbeats';
