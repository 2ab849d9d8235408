-- The ticker master: the key is (exchange, code); codes repeat across
-- exchanges. aliases (JSON array) feed news matching; symbols (JSON object)
-- maps provider name -> the provider's symbol.
CREATE TABLE stocks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    exchange   TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    currency   TEXT    NOT NULL,
    priority   INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
    active     INTEGER NOT NULL DEFAULT 1,
    aliases    TEXT    NOT NULL DEFAULT '[]',
    symbols    TEXT    NOT NULL DEFAULT '{}',
    source     TEXT    NOT NULL,
    run_id     INTEGER REFERENCES job_runs (id),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (exchange, code)
);

-- Bars of every interval. ts is the bar start in UTC; trading_date the
-- exchange-local session date. Raw (unadjusted) prices.
CREATE TABLE bars (
    stock_id      INTEGER NOT NULL REFERENCES stocks (id),
    interval      TEXT    NOT NULL CHECK (interval IN ('1m', '5m', '15m', '60m', '1d')),
    ts            TEXT    NOT NULL,
    trading_date  TEXT    NOT NULL,
    open          REAL    NOT NULL,
    high          REAL    NOT NULL,
    low           REAL    NOT NULL,
    close         REAL    NOT NULL,
    volume        INTEGER NOT NULL,
    flags         TEXT,
    source        TEXT    NOT NULL,
    run_id        INTEGER REFERENCES job_runs (id),
    first_seen_at TEXT    NOT NULL,
    revised_at    TEXT,
    revisions     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stock_id, interval, ts)
) WITHOUT ROWID;
CREATE INDEX bars_by_date ON bars (interval, trading_date);

-- Rows a provider sent that failed validation, with the payload row.
CREATE TABLE bar_quarantine (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER REFERENCES job_runs (id),
    stock_id   INTEGER REFERENCES stocks (id),
    provider   TEXT    NOT NULL,
    symbol     TEXT    NOT NULL,
    interval   TEXT    NOT NULL,
    ts         TEXT,
    reason     TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX bar_quarantine_by_run ON bar_quarantine (run_id);

-- OAuth tokens providers reuse across runs (KIS issues one a day).
CREATE TABLE provider_tokens (
    provider   TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
