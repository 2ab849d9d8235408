-- News (issue #4); see the PostgreSQL migration for column notes.
CREATE TABLE news (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    canonical_url       TEXT    NOT NULL UNIQUE,
    url                 TEXT    NOT NULL,
    source              TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    summary             TEXT,
    body                TEXT,
    language            TEXT,
    language_confidence REAL,
    published_at        TEXT    NOT NULL,
    published_inferred  INTEGER NOT NULL DEFAULT 0,
    fetched_at          TEXT    NOT NULL,
    content_hash        TEXT    NOT NULL,
    dup_sketch          INTEGER NOT NULL,
    cluster_id          INTEGER,
    deleted_at          TEXT,
    run_id              INTEGER REFERENCES job_runs (id)
);
CREATE UNIQUE INDEX news_live_content ON news (content_hash) WHERE deleted_at IS NULL;
CREATE INDEX news_by_published ON news (published_at);
CREATE INDEX news_by_cluster ON news (cluster_id);

CREATE TABLE news_duplicates (
    canonical_url TEXT    PRIMARY KEY,
    news_id       INTEGER NOT NULL REFERENCES news (id),
    source        TEXT    NOT NULL,
    seen_at       TEXT    NOT NULL,
    run_id        INTEGER REFERENCES job_runs (id)
);

CREATE TABLE news_stock_match (
    news_id       INTEGER NOT NULL REFERENCES news (id),
    stock_id      INTEGER NOT NULL REFERENCES stocks (id),
    relevance     REAL    NOT NULL CHECK (relevance >= 0 AND relevance <= 1),
    evidence      TEXT    NOT NULL,
    rules_version TEXT    NOT NULL,
    linked_at     TEXT    NOT NULL,
    run_id        INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (news_id, stock_id)
);
CREATE INDEX news_stock_match_by_stock ON news_stock_match (stock_id, news_id);

CREATE TABLE news_impact (
    news_id    INTEGER NOT NULL,
    stock_id   INTEGER NOT NULL,
    ref_date   TEXT    NOT NULL,
    ref_close  REAL    NOT NULL,
    ret_1d     REAL,
    ret_2d     REAL,
    ret_3d     REAL,
    ret_5d     REAL,
    ret_10d    REAL,
    ret_20d    REAL,
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'complete', 'expired')),
    updated_at TEXT    NOT NULL,
    run_id     INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (news_id, stock_id),
    FOREIGN KEY (news_id, stock_id) REFERENCES news_stock_match (news_id, stock_id) ON DELETE CASCADE
);
CREATE INDEX news_impact_pending ON news_impact (status);

CREATE TABLE http_validators (
    url           TEXT    PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    status        INTEGER NOT NULL,
    fetched_at    TEXT    NOT NULL,
    source        TEXT    NOT NULL
);
