-- Embeddings (issue #5); see the PostgreSQL migration for notes.
CREATE TABLE embedding_collections (
    name        TEXT    PRIMARY KEY,
    embedder    TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    dimensions  INTEGER NOT NULL CHECK (dimensions > 0),
    store       TEXT    NOT NULL CHECK (store IN ('embedded', 'milvus')),
    created_at  TEXT    NOT NULL,
    UNIQUE (embedder, model, dimensions, store)
);

CREATE TABLE news_embeddings (
    collection   TEXT    NOT NULL REFERENCES embedding_collections (name),
    news_id      INTEGER NOT NULL REFERENCES news (id),
    stock_ids    TEXT    NOT NULL,
    published_at TEXT    NOT NULL,
    cluster_id   INTEGER NOT NULL,
    tokens       INTEGER,
    embedded_at  TEXT    NOT NULL,
    run_id       INTEGER REFERENCES job_runs (id),
    PRIMARY KEY (collection, news_id)
);

CREATE TABLE news_vectors (
    collection TEXT    NOT NULL,
    news_id    INTEGER NOT NULL,
    vector     BLOB    NOT NULL,
    PRIMARY KEY (collection, news_id),
    FOREIGN KEY (collection, news_id) REFERENCES news_embeddings (collection, news_id) ON DELETE CASCADE
);

ALTER TABLE news ADD COLUMN embedding_id TEXT;
ALTER TABLE news ADD COLUMN embedding_model TEXT;
ALTER TABLE news ADD COLUMN embedding_dimensions INTEGER;
