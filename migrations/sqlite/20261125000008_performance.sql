-- Daily performance and regression detection (issue #7).

-- The naive baselines scored on the same items, and the original's
-- target/support family for predictions that carry price levels.
ALTER TABLE model_evaluations ADD COLUMN up_hit           INTEGER;
ALTER TABLE model_evaluations ADD COLUMN up_brier         REAL;
ALTER TABLE model_evaluations ADD COLUMN up_log_loss      REAL;
ALTER TABLE model_evaluations ADD COLUMN persist_hit      INTEGER;
ALTER TABLE model_evaluations ADD COLUMN persist_brier    REAL;
ALTER TABLE model_evaluations ADD COLUMN persist_log_loss REAL;
ALTER TABLE model_evaluations ADD COLUMN rw_covered       INTEGER;
ALTER TABLE model_evaluations ADD COLUMN rw_width         REAL;
ALTER TABLE model_evaluations ADD COLUMN rw_winkler       REAL;
ALTER TABLE model_evaluations ADD COLUMN target_achieved  INTEGER;
ALTER TABLE model_evaluations ADD COLUMN achieved_day     INTEGER;
ALTER TABLE model_evaluations ADD COLUMN support_breached INTEGER;
ALTER TABLE model_evaluations ADD COLUMN accuracy_score   REAL;
ALTER TABLE model_evaluations ADD COLUMN timing_score     REAL;
ALTER TABLE model_evaluations ADD COLUMN risk_score       REAL;
ALTER TABLE model_evaluations ADD COLUMN final_score      REAL;
CREATE INDEX model_evaluations_by_target ON model_evaluations (target_date);

CREATE TABLE daily_performance (
    model_id            INTEGER           NOT NULL REFERENCES models (id),
    variant             TEXT             NOT NULL,
    horizon_days        INTEGER          NOT NULL,
    date                TEXT             NOT NULL,
    n_made              INTEGER          NOT NULL,
    n_rejected          INTEGER          NOT NULL,
    n_matured           INTEGER          NOT NULL,
    n_scored            INTEGER          NOT NULL,
    n_unscorable        INTEGER          NOT NULL,
    n_called            INTEGER          NOT NULL,
    n_baseline          INTEGER          NOT NULL,
    hit_rate            REAL,
    mean_brier          REAL,
    brier_skill         REAL,
    mean_log_loss       REAL,
    ece                 REAL,
    picp                REAL,
    nominal_coverage    REAL,
    mean_width          REAL,
    mean_winkler        REAL,
    up_hit_rate         REAL,
    up_brier            REAL,
    persist_hit_rate    REAL,
    persist_brier       REAL,
    rw_picp             REAL,
    rw_width            REAL,
    rw_winkler          REAL,
    ic                  REAL,
    rank_ic             REAL,
    n_targets           INTEGER          NOT NULL,
    target_hit_rate     REAL,
    support_breach_rate REAL,
    mean_final_score    REAL,
    computed_at         TEXT      NOT NULL,
    run_id              INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (model_id, variant, horizon_days, date)
);

CREATE TABLE evaluation_history (
    model_id     INTEGER           NOT NULL REFERENCES models (id),
    variant      TEXT             NOT NULL,
    horizon_days INTEGER          NOT NULL,
    date         TEXT             NOT NULL,
    metric       TEXT             NOT NULL,
    window_days  INTEGER          NOT NULL,
    value        REAL,
    n            INTEGER          NOT NULL,
    computed_at  TEXT      NOT NULL,
    PRIMARY KEY (model_id, variant, horizon_days, metric, window_days, date)
);

CREATE TABLE ab_comparisons (
    experiment   TEXT             NOT NULL,
    variant_a    TEXT             NOT NULL,
    variant_b    TEXT             NOT NULL,
    horizon_days INTEGER          NOT NULL,
    metric       TEXT             NOT NULL,
    as_of        TEXT             NOT NULL,
    window_start TEXT,
    window_end   TEXT,
    n_days       INTEGER          NOT NULL,
    n_a          INTEGER          NOT NULL,
    n_b          INTEGER          NOT NULL,
    mean_a       REAL,
    mean_b       REAL,
    effect       REAL,
    ci_low       REAL,
    ci_high      REAL,
    dm_stat      REAL,
    p_value      REAL,
    computed_at  TEXT      NOT NULL,
    run_id       INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (experiment, variant_a, variant_b, horizon_days, metric, as_of)
);

CREATE TABLE regression_checks (
    model_id         INTEGER           NOT NULL REFERENCES models (id),
    variant          TEXT             NOT NULL,
    horizon_days     INTEGER          NOT NULL,
    metric           TEXT             NOT NULL,
    as_of            TEXT             NOT NULL,
    verdict          TEXT             NOT NULL CHECK (verdict IN ('ok', 'regression', 'insufficient data')),
    reason           TEXT             NOT NULL,
    n_baseline       INTEGER          NOT NULL,
    n_recent         INTEGER          NOT NULL,
    baseline_mean    REAL,
    recent_mean      REAL,
    effect           REAL,
    p_value          REAL,
    always_up_recent REAL,
    inputs           TEXT             NOT NULL,
    computed_at      TEXT      NOT NULL,
    run_id           INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (model_id, variant, horizon_days, metric, as_of)
);
