-- News (issue #4): articles with URL and content dedup, near-duplicate
-- clusters, links to stocks with evidence, forward price impact, and the
-- conditional-GET state of crawled URLs.
CREATE TABLE news (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    canonical_url       TEXT        NOT NULL UNIQUE,
    url                 TEXT        NOT NULL,
    source              TEXT        NOT NULL,
    title               TEXT        NOT NULL,
    summary             TEXT,
    body                TEXT,
    language            TEXT,
    language_confidence DOUBLE PRECISION,
    published_at        TIMESTAMPTZ NOT NULL,
    published_inferred  BOOLEAN     NOT NULL DEFAULT FALSE,
    fetched_at          TIMESTAMPTZ NOT NULL,
    content_hash        TEXT        NOT NULL,
    dup_sketch          BIGINT      NOT NULL,
    cluster_id          BIGINT,
    deleted_at          TIMESTAMPTZ,
    run_id              BIGINT REFERENCES job_runs (id)
);
CREATE UNIQUE INDEX news_live_content ON news (content_hash) WHERE deleted_at IS NULL;
CREATE INDEX news_by_published ON news (published_at);
CREATE INDEX news_by_cluster ON news (cluster_id);
COMMENT ON TABLE news IS 'Crawled articles: one row per canonical URL; exact copies under other URLs go to news_duplicates';
COMMENT ON COLUMN news.canonical_url IS 'Lowercase host, no fragment, no tracking parameters';
COMMENT ON COLUMN news.published_at IS 'UTC, parsed in the source''s zone; the fetch time when the source gives none (published_inferred)';
COMMENT ON COLUMN news.content_hash IS 'blake3 of the normalised title and body; unique among live (not deleted) articles';
COMMENT ON COLUMN news.dup_sketch IS '64-bit one-permutation MinHash of the normalised text: near copies differ in few bits';
COMMENT ON COLUMN news.cluster_id IS 'Near-duplicate cluster: the id of its first article (= id for that article); only representatives are embedded and predicted';

CREATE TABLE news_duplicates (
    canonical_url TEXT        PRIMARY KEY,
    news_id       BIGINT      NOT NULL REFERENCES news (id),
    source        TEXT        NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL,
    run_id        BIGINT REFERENCES job_runs (id)
);
COMMENT ON TABLE news_duplicates IS 'URLs whose content is an exact copy of a stored article (so a recrawl recognises them)';

CREATE TABLE news_stock_match (
    news_id       BIGINT           NOT NULL REFERENCES news (id),
    stock_id      BIGINT           NOT NULL REFERENCES stocks (id),
    relevance     DOUBLE PRECISION NOT NULL CHECK (relevance >= 0 AND relevance <= 1),
    evidence      TEXT             NOT NULL,
    rules_version TEXT             NOT NULL,
    linked_at     TIMESTAMPTZ      NOT NULL,
    run_id        BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (news_id, stock_id)
);
CREATE INDEX news_stock_match_by_stock ON news_stock_match (stock_id, news_id);
COMMENT ON TABLE news_stock_match IS 'The relevance graph: which article is about which stock, how strongly, and why';
COMMENT ON COLUMN news_stock_match.evidence IS 'JSON array: rule, field, byte offsets, matched text, weight';

CREATE TABLE news_impact (
    news_id    BIGINT      NOT NULL,
    stock_id   BIGINT      NOT NULL,
    ref_date   DATE        NOT NULL,
    ref_close  DOUBLE PRECISION NOT NULL,
    ret_1d     DOUBLE PRECISION,
    ret_2d     DOUBLE PRECISION,
    ret_3d     DOUBLE PRECISION,
    ret_5d     DOUBLE PRECISION,
    ret_10d    DOUBLE PRECISION,
    ret_20d    DOUBLE PRECISION,
    status     TEXT        NOT NULL CHECK (status IN ('pending', 'complete', 'expired')),
    updated_at TIMESTAMPTZ NOT NULL,
    run_id     BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (news_id, stock_id),
    FOREIGN KEY (news_id, stock_id) REFERENCES news_stock_match (news_id, stock_id) ON DELETE CASCADE
);
CREATE INDEX news_impact_pending ON news_impact (status);
COMMENT ON TABLE news_impact IS 'Percent close change 1/2/3/5/10/20 sessions after the last close known at publication';
COMMENT ON COLUMN news_impact.ref_date IS 'Session whose close was the last one known when the article appeared';
COMMENT ON COLUMN news_impact.status IS 'pending: horizons missing; complete: all filled; expired: bars never came (halt, delisting)';

CREATE TABLE http_validators (
    url           TEXT        PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    status        INTEGER     NOT NULL,
    fetched_at    TIMESTAMPTZ NOT NULL,
    source        TEXT        NOT NULL
);
COMMENT ON TABLE http_validators IS 'Conditional GET state per crawled URL (ETag / Last-Modified)';
