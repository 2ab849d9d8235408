-- Embeddings (issue #5). A collection is one (embedder, model, dimensions):
-- vectors of different models are never mixed. news_embeddings is the SQL
-- side's record of what is embedded where (for both stores); news_vectors
-- holds the vectors of the embedded store.
CREATE TABLE embedding_collections (
    name        TEXT        PRIMARY KEY,
    embedder    TEXT        NOT NULL,
    model       TEXT        NOT NULL,
    dimensions  INTEGER     NOT NULL CHECK (dimensions > 0),
    store       TEXT        NOT NULL CHECK (store IN ('embedded', 'milvus')),
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (embedder, model, dimensions, store)
);
COMMENT ON TABLE embedding_collections IS 'One vector collection per (embedder, model, dimensions) and store';

CREATE TABLE news_embeddings (
    collection   TEXT        NOT NULL REFERENCES embedding_collections (name),
    news_id      BIGINT      NOT NULL REFERENCES news (id),
    stock_ids    TEXT        NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    cluster_id   BIGINT      NOT NULL,
    tokens       INTEGER,
    embedded_at  TIMESTAMPTZ NOT NULL,
    run_id       BIGINT REFERENCES job_runs (id),
    PRIMARY KEY (collection, news_id)
);
COMMENT ON TABLE news_embeddings IS 'What is embedded in which collection, with the metadata sent to the vector store (to detect stale entries)';
COMMENT ON COLUMN news_embeddings.stock_ids IS 'JSON array of linked stock ids at embedding time';

CREATE TABLE news_vectors (
    collection TEXT   NOT NULL,
    news_id    BIGINT NOT NULL,
    vector     BYTEA  NOT NULL,
    PRIMARY KEY (collection, news_id),
    FOREIGN KEY (collection, news_id) REFERENCES news_embeddings (collection, news_id) ON DELETE CASCADE
);
COMMENT ON TABLE news_vectors IS 'The embedded store: little-endian f32 vectors, L2-normalised';

ALTER TABLE news ADD COLUMN embedding_id TEXT;
ALTER TABLE news ADD COLUMN embedding_model TEXT;
ALTER TABLE news ADD COLUMN embedding_dimensions INTEGER;
COMMENT ON COLUMN news.embedding_id IS 'COLLECTION/NEWS_ID of the latest embedding (the vector store key is the news id)';
