-- Predictions (issue #6): the model registry (synced from jobs/models.toml),
-- A/B experiments, predictions per (stock, model, variant, horizon, as-of),
-- and the per-stock analysis history (never overwritten).
CREATE TABLE models (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE,
    provider    TEXT        NOT NULL CHECK (provider IN ('openai', 'baseline')),
    model       TEXT        NOT NULL,
    temperature DOUBLE PRECISION,
    max_tokens  INTEGER,
    prompt_file TEXT,
    prompt_hash TEXT,
    active      BOOLEAN     NOT NULL DEFAULT TRUE,
    prices      TEXT        NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN models.prompt_hash IS 'blake3 of the prompt template file: every prediction records the hash it was made with';

CREATE TABLE ab_test_config (
    name       TEXT        PRIMARY KEY,
    variants   TEXT        NOT NULL,
    active     BOOLEAN     NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE ab_test_config IS 'Experiments: variants (model and/or prompt) with weights; assignment is per (experiment, stock, as-of date) and stored on each prediction';

CREATE TABLE predictions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stock_id        BIGINT           NOT NULL REFERENCES stocks (id),
    model_id        BIGINT           NOT NULL REFERENCES models (id),
    experiment      TEXT,
    variant         TEXT             NOT NULL DEFAULT '',
    horizon_days    INTEGER          NOT NULL CHECK (horizon_days > 0),
    as_of           TIMESTAMPTZ      NOT NULL,
    as_of_date      DATE             NOT NULL,
    status          TEXT             NOT NULL CHECK (status IN ('ok', 'rejected', 'failed', 'skipped')),
    reason          TEXT,
    p_up            DOUBLE PRECISION,
    p_flat          DOUBLE PRECISION,
    p_down          DOUBLE PRECISION,
    expected_return DOUBLE PRECISION,
    band_low        DOUBLE PRECISION,
    band_high       DOUBLE PRECISION,
    coverage        DOUBLE PRECISION,
    base_price      DOUBLE PRECISION,
    price_target    DOUBLE PRECISION,
    support         DOUBLE PRECISION,
    prompt_hash     TEXT,
    news_ids        TEXT             NOT NULL DEFAULT '[]',
    input_tokens    INTEGER          NOT NULL DEFAULT 0,
    output_tokens   INTEGER          NOT NULL DEFAULT 0,
    cost_usd        DOUBLE PRECISION NOT NULL DEFAULT 0,
    run_id          BIGINT REFERENCES job_runs (id),
    created_at      TIMESTAMPTZ      NOT NULL,
    UNIQUE (stock_id, model_id, variant, horizon_days, as_of),
    CHECK (status <> 'ok' OR (p_up IS NOT NULL AND p_flat IS NOT NULL AND p_down IS NOT NULL
                              AND band_low <= expected_return AND expected_return <= band_high))
);
CREATE INDEX predictions_by_as_of ON predictions (as_of_date, model_id);
COMMENT ON COLUMN predictions.status IS 'ok; rejected (invalid answer after one repair); failed (provider error after retries); skipped (budget). Never a neutral placeholder';
COMMENT ON COLUMN predictions.expected_return IS 'Percent over the horizon; band_low/band_high at nominal coverage';

CREATE TABLE stock_analysis (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stock_id    BIGINT      NOT NULL REFERENCES stocks (id),
    model_id    BIGINT      NOT NULL REFERENCES models (id),
    variant     TEXT        NOT NULL DEFAULT '',
    as_of       TIMESTAMPTZ NOT NULL,
    explanation TEXT        NOT NULL,
    drivers     TEXT        NOT NULL,
    features    TEXT        NOT NULL,
    news_ids    TEXT        NOT NULL DEFAULT '[]',
    run_id      BIGINT REFERENCES job_runs (id),
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (stock_id, model_id, variant, as_of)
);
COMMENT ON TABLE stock_analysis IS 'Explanation per stock and as-of: history kept, never overwritten';
