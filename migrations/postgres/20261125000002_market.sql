CREATE TABLE stocks (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exchange   TEXT        NOT NULL,
    code       TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    currency   TEXT        NOT NULL,
    priority   INTEGER     NOT NULL CHECK (priority BETWEEN 1 AND 5),
    active     BOOLEAN     NOT NULL DEFAULT TRUE,
    aliases    TEXT        NOT NULL DEFAULT '[]',
    symbols    TEXT        NOT NULL DEFAULT '{}',
    source     TEXT        NOT NULL,
    run_id     BIGINT REFERENCES job_runs (id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (exchange, code)
);
COMMENT ON TABLE stocks IS 'Ticker master; key (exchange, code): codes repeat across exchanges';
COMMENT ON COLUMN stocks.exchange IS 'Exchange MIC, also the calendar name (XKRX, XNYS)';
COMMENT ON COLUMN stocks.priority IS '1 (most important) to 5; expensive jobs take priority <= 2';
COMMENT ON COLUMN stocks.aliases IS 'JSON array of names used to match news to the stock';
COMMENT ON COLUMN stocks.symbols IS 'JSON object: provider name -> provider symbol (yahoo: 005930.KS)';
COMMENT ON COLUMN stocks.source IS 'Lineage: the file or feed the row came from';
COMMENT ON COLUMN stocks.run_id IS 'Lineage: the run that last wrote the row';

CREATE TABLE bars (
    stock_id      BIGINT           NOT NULL REFERENCES stocks (id),
    interval      TEXT             NOT NULL CHECK (interval IN ('1m', '5m', '15m', '60m', '1d')),
    ts            TIMESTAMPTZ      NOT NULL,
    trading_date  DATE             NOT NULL,
    open          DOUBLE PRECISION NOT NULL,
    high          DOUBLE PRECISION NOT NULL,
    low           DOUBLE PRECISION NOT NULL,
    close         DOUBLE PRECISION NOT NULL,
    volume        BIGINT           NOT NULL,
    flags         TEXT,
    source        TEXT             NOT NULL,
    run_id        BIGINT REFERENCES job_runs (id),
    first_seen_at TIMESTAMPTZ      NOT NULL,
    revised_at    TIMESTAMPTZ,
    revisions     INTEGER          NOT NULL DEFAULT 0,
    PRIMARY KEY (stock_id, interval, ts)
);
CREATE INDEX bars_by_date ON bars (interval, trading_date);
COMMENT ON TABLE bars IS 'OHLCV bars of every interval, raw (unadjusted) prices';
COMMENT ON COLUMN bars.ts IS 'Bar start (UTC)';
COMMENT ON COLUMN bars.trading_date IS 'Exchange-local session date';
COMMENT ON COLUMN bars.flags IS 'Review flags stored with the bar: big_move (>50% close to close), volume_spike (>3x trailing median)';
COMMENT ON COLUMN bars.source IS 'Lineage: provider that delivered the bar (or derived:1m)';
COMMENT ON COLUMN bars.run_id IS 'Lineage: the run that last wrote the bar';
COMMENT ON COLUMN bars.revisions IS 'How often a provider corrected the bar after it was first stored';

CREATE TABLE bar_quarantine (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     BIGINT REFERENCES job_runs (id),
    stock_id   BIGINT REFERENCES stocks (id),
    provider   TEXT        NOT NULL,
    symbol     TEXT        NOT NULL,
    interval   TEXT        NOT NULL,
    ts         TIMESTAMPTZ,
    reason     TEXT        NOT NULL,
    payload    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX bar_quarantine_by_run ON bar_quarantine (run_id);
COMMENT ON TABLE bar_quarantine IS 'Provider rows rejected by validation, with the payload row and the reason';

CREATE TABLE provider_tokens (
    provider   TEXT PRIMARY KEY,
    token      TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE provider_tokens IS 'OAuth tokens reused across runs until near expiry (KIS)';
