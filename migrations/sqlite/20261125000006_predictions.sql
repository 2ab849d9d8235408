-- Predictions (issue #6): the model registry (synced from jobs/models.toml),
-- A/B experiments, predictions per (stock, model, variant, horizon, as-of),
-- and the per-stock analysis history (never overwritten).
CREATE TABLE models (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT        NOT NULL UNIQUE,
    provider    TEXT        NOT NULL CHECK (provider IN ('openai', 'baseline')),
    model       TEXT        NOT NULL,
    temperature REAL,
    max_tokens  INTEGER,
    prompt_file TEXT,
    prompt_hash TEXT,
    active      INTEGER     NOT NULL DEFAULT 1,
    prices      TEXT        NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);

CREATE TABLE ab_test_config (
    name       TEXT        PRIMARY KEY,
    variants   TEXT        NOT NULL,
    active     INTEGER     NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);

CREATE TABLE predictions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    stock_id        INTEGER           NOT NULL REFERENCES stocks (id),
    model_id        INTEGER           NOT NULL REFERENCES models (id),
    experiment      TEXT,
    variant         TEXT             NOT NULL DEFAULT '',
    horizon_days    INTEGER          NOT NULL CHECK (horizon_days > 0),
    as_of           TEXT      NOT NULL,
    as_of_date      TEXT             NOT NULL,
    status          TEXT             NOT NULL CHECK (status IN ('ok', 'rejected', 'failed', 'skipped')),
    reason          TEXT,
    p_up            REAL,
    p_flat          REAL,
    p_down          REAL,
    expected_return REAL,
    band_low        REAL,
    band_high       REAL,
    coverage        REAL,
    base_price      REAL,
    price_target    REAL,
    support         REAL,
    prompt_hash     TEXT,
    news_ids        TEXT             NOT NULL DEFAULT '[]',
    input_tokens    INTEGER          NOT NULL DEFAULT 0,
    output_tokens   INTEGER          NOT NULL DEFAULT 0,
    cost_usd        REAL NOT NULL DEFAULT 0,
    run_id          INTEGER REFERENCES job_runs (id),
    created_at      TEXT      NOT NULL,
    UNIQUE (stock_id, model_id, variant, horizon_days, as_of),
    CHECK (status <> 'ok' OR (p_up IS NOT NULL AND p_flat IS NOT NULL AND p_down IS NOT NULL
                              AND band_low <= expected_return AND expected_return <= band_high))
);
CREATE INDEX predictions_by_as_of ON predictions (as_of_date, model_id);

CREATE TABLE stock_analysis (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stock_id    INTEGER      NOT NULL REFERENCES stocks (id),
    model_id    INTEGER      NOT NULL REFERENCES models (id),
    variant     TEXT        NOT NULL DEFAULT '',
    as_of       TEXT NOT NULL,
    explanation TEXT        NOT NULL,
    drivers     TEXT        NOT NULL,
    features    TEXT        NOT NULL,
    news_ids    TEXT        NOT NULL DEFAULT '[]',
    run_id      INTEGER REFERENCES job_runs (id),
    created_at  TEXT NOT NULL,
    UNIQUE (stock_id, model_id, variant, as_of)
);
