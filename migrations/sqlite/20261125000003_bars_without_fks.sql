-- Same schema as PostgreSQL: bars carries no foreign keys (see the
-- PostgreSQL migration for why). SQLite cannot drop a constraint, so the
-- table is rebuilt.
CREATE TABLE bars_new (
    stock_id      INTEGER NOT NULL,
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
    run_id        INTEGER,
    first_seen_at TEXT    NOT NULL,
    revised_at    TEXT,
    revisions     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stock_id, interval, ts)
) WITHOUT ROWID;
INSERT INTO bars_new SELECT stock_id, interval, ts, trading_date, open, high, low, close, volume,
    flags, source, run_id, first_seen_at, revised_at, revisions FROM bars;
DROP TABLE bars;
ALTER TABLE bars_new RENAME TO bars;
CREATE INDEX bars_by_date ON bars (interval, trading_date);
