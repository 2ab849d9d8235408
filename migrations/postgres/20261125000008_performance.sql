-- Daily performance and regression detection (issue #7).

-- The naive baselines scored on the same items, and the original's
-- target/support family for predictions that carry price levels.
ALTER TABLE model_evaluations
    ADD COLUMN up_hit           BOOLEAN,
    ADD COLUMN up_brier         DOUBLE PRECISION,
    ADD COLUMN up_log_loss      DOUBLE PRECISION,
    ADD COLUMN persist_hit      BOOLEAN,
    ADD COLUMN persist_brier    DOUBLE PRECISION,
    ADD COLUMN persist_log_loss DOUBLE PRECISION,
    ADD COLUMN rw_covered       BOOLEAN,
    ADD COLUMN rw_width         DOUBLE PRECISION,
    ADD COLUMN rw_winkler       DOUBLE PRECISION,
    ADD COLUMN target_achieved  BOOLEAN,
    ADD COLUMN achieved_day     INTEGER,
    ADD COLUMN support_breached BOOLEAN,
    ADD COLUMN accuracy_score   DOUBLE PRECISION,
    ADD COLUMN timing_score     DOUBLE PRECISION,
    ADD COLUMN risk_score       DOUBLE PRECISION,
    ADD COLUMN final_score      DOUBLE PRECISION;
COMMENT ON COLUMN model_evaluations.up_brier IS 'Always-up baseline (trailing base rate of the stock) on this item';
COMMENT ON COLUMN model_evaluations.rw_covered IS 'Random-walk band ±z·σ·√h (σ of the trailing 60 daily returns) at the prediction''s coverage';
CREATE INDEX model_evaluations_by_target ON model_evaluations (target_date);

CREATE TABLE daily_performance (
    model_id            BIGINT           NOT NULL REFERENCES models (id),
    variant             TEXT             NOT NULL,
    horizon_days        INTEGER          NOT NULL,
    date                DATE             NOT NULL,
    n_made              INTEGER          NOT NULL,
    n_rejected          INTEGER          NOT NULL,
    n_matured           INTEGER          NOT NULL,
    n_scored            INTEGER          NOT NULL,
    n_unscorable        INTEGER          NOT NULL,
    n_called            INTEGER          NOT NULL,
    n_baseline          INTEGER          NOT NULL,
    hit_rate            DOUBLE PRECISION,
    mean_brier          DOUBLE PRECISION,
    brier_skill         DOUBLE PRECISION,
    mean_log_loss       DOUBLE PRECISION,
    ece                 DOUBLE PRECISION,
    picp                DOUBLE PRECISION,
    nominal_coverage    DOUBLE PRECISION,
    mean_width          DOUBLE PRECISION,
    mean_winkler        DOUBLE PRECISION,
    up_hit_rate         DOUBLE PRECISION,
    up_brier            DOUBLE PRECISION,
    persist_hit_rate    DOUBLE PRECISION,
    persist_brier       DOUBLE PRECISION,
    rw_picp             DOUBLE PRECISION,
    rw_width            DOUBLE PRECISION,
    rw_winkler          DOUBLE PRECISION,
    ic                  DOUBLE PRECISION,
    rank_ic             DOUBLE PRECISION,
    n_targets           INTEGER          NOT NULL,
    target_hit_rate     DOUBLE PRECISION,
    support_breach_rate DOUBLE PRECISION,
    mean_final_score    DOUBLE PRECISION,
    computed_at         TIMESTAMPTZ      NOT NULL,
    run_id              BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (model_id, variant, horizon_days, date)
);
COMMENT ON TABLE daily_performance IS 'KPI snapshot per (model, variant, horizon, day): made/rejected count predictions as of the day, the scores count items that matured on it';

CREATE TABLE evaluation_history (
    model_id     BIGINT           NOT NULL REFERENCES models (id),
    variant      TEXT             NOT NULL,
    horizon_days INTEGER          NOT NULL,
    date         DATE             NOT NULL,
    metric       TEXT             NOT NULL,
    window_days  INTEGER          NOT NULL,
    value        DOUBLE PRECISION,
    n            INTEGER          NOT NULL,
    computed_at  TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (model_id, variant, horizon_days, metric, window_days, date)
);
COMMENT ON TABLE evaluation_history IS 'Rolling item-weighted values over the last window_days days that have scored items';

CREATE TABLE ab_comparisons (
    experiment   TEXT             NOT NULL,
    variant_a    TEXT             NOT NULL,
    variant_b    TEXT             NOT NULL,
    horizon_days INTEGER          NOT NULL,
    metric       TEXT             NOT NULL,
    as_of        DATE             NOT NULL,
    window_start DATE,
    window_end   DATE,
    n_days       INTEGER          NOT NULL,
    n_a          INTEGER          NOT NULL,
    n_b          INTEGER          NOT NULL,
    mean_a       DOUBLE PRECISION,
    mean_b       DOUBLE PRECISION,
    effect       DOUBLE PRECISION,
    ci_low       DOUBLE PRECISION,
    ci_high      DOUBLE PRECISION,
    dm_stat      DOUBLE PRECISION,
    p_value      DOUBLE PRECISION,
    computed_at  TIMESTAMPTZ      NOT NULL,
    run_id       BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (experiment, variant_a, variant_b, horizon_days, metric, as_of)
);
COMMENT ON COLUMN ab_comparisons.effect IS 'mean_b − mean_a over days both variants have items (paired by day), with a 95% Newey-West interval';

CREATE TABLE regression_checks (
    model_id         BIGINT           NOT NULL REFERENCES models (id),
    variant          TEXT             NOT NULL,
    horizon_days     INTEGER          NOT NULL,
    metric           TEXT             NOT NULL,
    as_of            DATE             NOT NULL,
    verdict          TEXT             NOT NULL CHECK (verdict IN ('ok', 'regression', 'insufficient data')),
    reason           TEXT             NOT NULL,
    n_baseline       INTEGER          NOT NULL,
    n_recent         INTEGER          NOT NULL,
    baseline_mean    DOUBLE PRECISION,
    recent_mean      DOUBLE PRECISION,
    effect           DOUBLE PRECISION,
    p_value          DOUBLE PRECISION,
    always_up_recent DOUBLE PRECISION,
    inputs           TEXT             NOT NULL,
    computed_at      TIMESTAMPTZ      NOT NULL,
    run_id           BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (model_id, variant, horizon_days, metric, as_of)
);
COMMENT ON COLUMN regression_checks.inputs IS 'The whole check as JSON (windows, parameters, means, p, effect): enough to replay and explain it';
