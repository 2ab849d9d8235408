-- Evaluation (issue #7): every matured `ok` prediction scored once.
CREATE TABLE model_evaluations (
    prediction_id    INTEGER          PRIMARY KEY REFERENCES predictions (id),
    status           TEXT             NOT NULL CHECK (status IN ('scored', 'unscorable')),
    reason           TEXT,
    target_date      TEXT,
    base_close       REAL,
    target_close     REAL,
    realized_return  REAL,
    realized_class   TEXT CHECK (realized_class IN ('up', 'flat', 'down')),
    hit              INTEGER,
    brier            REAL,
    brier_up         REAL,
    log_loss         REAL,
    covered          INTEGER,
    width            REAL,
    winkler          REAL,
    evaluated_at     TEXT      NOT NULL,
    run_id           INTEGER REFERENCES job_runs (id)
);
