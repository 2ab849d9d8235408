-- Evaluation (issue #7): every matured `ok` prediction scored once.
CREATE TABLE model_evaluations (
    prediction_id    BIGINT           PRIMARY KEY REFERENCES predictions (id),
    status           TEXT             NOT NULL CHECK (status IN ('scored', 'unscorable')),
    reason           TEXT,
    target_date      DATE,
    base_close       DOUBLE PRECISION,
    target_close     DOUBLE PRECISION,
    realized_return  DOUBLE PRECISION,
    realized_class   TEXT CHECK (realized_class IN ('up', 'flat', 'down')),
    hit              BOOLEAN,
    brier            DOUBLE PRECISION,
    brier_up         DOUBLE PRECISION,
    log_loss         DOUBLE PRECISION,
    covered          BOOLEAN,
    width            DOUBLE PRECISION,
    winkler          DOUBLE PRECISION,
    evaluated_at     TIMESTAMPTZ      NOT NULL,
    run_id           BIGINT REFERENCES job_runs (id)
);
COMMENT ON TABLE model_evaluations IS 'One row per matured prediction: its scores, or why it cannot be scored';
COMMENT ON COLUMN model_evaluations.realized_return IS 'Percent close change from the as-of session to the horizon''s session';
COMMENT ON COLUMN model_evaluations.brier IS 'Three-class Brier (up, flat, down), 0..2';
