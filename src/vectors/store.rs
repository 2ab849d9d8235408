//! The SQL side of embeddings: the collection registry, what is embedded
//! where (`news_embeddings`), the embedded store's vectors (`news_vectors`),
//! and the articles still to embed.

use super::exact::VectorRecord;
use crate::on_db;
use crate::storage::BeginWrite as _;
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashMap;

/// Registers a collection (idempotent).
pub async fn ensure_collection(
    storage: &Storage,
    name: &str,
    embedder: &str,
    model: &str,
    dimensions: usize,
    store: &str,
) -> anyhow::Result<()> {
    let now = storage.now().await?;
    on_db!(&storage.db, pool => {
        sqlx::query(
            "INSERT INTO embedding_collections (name, embedder, model, dimensions, store, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(embedder)
        .bind(model)
        .bind(dimensions as i32)
        .bind(store)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// An article to embed, with the metadata its vector carries.
#[derive(Debug, Clone)]
pub struct ToEmbed {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub source: String,
    pub published_at: DateTime<Utc>,
    pub cluster_id: i64,
}

/// Live cluster representatives not yet in `collection`, oldest first.
/// Articles with no text at all are left out: nothing can embed them, and
/// they must not block the queue.
pub async fn to_embed(
    storage: &Storage,
    collection: &str,
    limit: i64,
) -> anyhow::Result<Vec<ToEmbed>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT n.id, n.title, n.summary, n.body, n.source, n.published_at, n.cluster_id FROM news n
             WHERE n.deleted_at IS NULL AND n.cluster_id = n.id
               AND TRIM(n.title || COALESCE(n.summary, '') || COALESCE(n.body, '')) <> ''
               AND NOT EXISTS (SELECT 1 FROM news_embeddings e WHERE e.collection = $1 AND e.news_id = n.id)
             ORDER BY n.id LIMIT $2",
        )
        .bind(collection)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ToEmbed {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                summary: r.try_get("summary")?,
                body: r.try_get("body")?,
                source: r.try_get("source")?,
                published_at: r.try_get("published_at")?,
                cluster_id: r.try_get("cluster_id")?,
            });
        }
        out
    }))
}

/// Near-duplicates the embed pass skips (counted in its report): live
/// articles that are not their cluster's representative.
pub async fn duplicates_count(storage: &Storage) -> anyhow::Result<i64> {
    Ok(on_db!(&storage.db, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM news WHERE deleted_at IS NULL AND cluster_id IS NOT NULL AND cluster_id <> id",
        )
        .fetch_one(pool)
        .await?
    }))
}

/// The stocks each article links to now.
pub async fn linked_stocks(
    storage: &Storage,
    ids: &[i64],
) -> anyhow::Result<HashMap<i64, Vec<i64>>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = crate::storage::placeholders(chunk.len(), 1);
        let sql = format!(
            "SELECT news_id, stock_id FROM news_stock_match WHERE news_id IN ({list}) ORDER BY news_id, stock_id"
        );
        on_db!(&storage.db, pool => {
            let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for (n, s) in q.fetch_all(pool).await? {
                out.entry(n).or_default().push(s);
            }
        });
    }
    Ok(out)
}

/// Records embedded articles (and, for the embedded store, their vectors)
/// and stamps the news rows, in one transaction.
pub async fn record_embedded(
    storage: &Storage,
    collection: &str,
    model: &str,
    records: &[VectorRecord],
    keep_vectors: bool,
    run_id: Option<i64>,
) -> anyhow::Result<()> {
    let now = storage.now().await?;
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        for r in records {
            let published = DateTime::from_timestamp(r.published_at, 0)
                .ok_or_else(|| anyhow::anyhow!("news {}: bad published_at {}", r.id, r.published_at))?;
            sqlx::query(
                "INSERT INTO news_embeddings (collection, news_id, stock_ids, published_at, cluster_id, embedded_at, run_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (collection, news_id) DO UPDATE SET stock_ids = excluded.stock_ids,
                     published_at = excluded.published_at, cluster_id = excluded.cluster_id,
                     embedded_at = excluded.embedded_at, run_id = excluded.run_id",
            )
            .bind(collection)
            .bind(r.id)
            .bind(serde_json::to_string(&r.stock_ids)?)
            .bind(published)
            .bind(r.cluster_id)
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            if keep_vectors {
                sqlx::query(
                    "INSERT INTO news_vectors (collection, news_id, vector) VALUES ($1, $2, $3)
                     ON CONFLICT (collection, news_id) DO UPDATE SET vector = excluded.vector",
                )
                .bind(collection)
                .bind(r.id)
                .bind(to_bytes(&r.vector))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE news SET embedding_id = $1, embedding_model = $2, embedding_dimensions = $3 WHERE id = $4",
            )
            .bind(format!("{collection}/{}", r.id))
            .bind(model)
            .bind(r.vector.len() as i32)
            .bind(r.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Forgets embedded articles (repair of entries the store lacks, or of
/// articles that are gone).
pub async fn forget(storage: &Storage, collection: &str, ids: &[i64]) -> anyhow::Result<()> {
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        for id in ids {
            sqlx::query("DELETE FROM news_vectors WHERE collection = $1 AND news_id = $2")
                .bind(collection)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM news_embeddings WHERE collection = $1 AND news_id = $2")
                .bind(collection)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// One `news_embeddings` row: what the SQL side believes is in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub news_id: i64,
    pub stock_ids: Vec<i64>,
    pub published_at: i64,
    pub cluster_id: i64,
}

pub async fn embedded(storage: &Storage, collection: &str) -> anyhow::Result<Vec<Embedded>> {
    Ok(on_db!(&storage.db, pool => {
        let rows: Vec<(i64, String, DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT news_id, stock_ids, published_at, cluster_id FROM news_embeddings WHERE collection = $1 ORDER BY news_id",
        )
        .bind(collection)
        .fetch_all(pool)
        .await?;
        rows.into_iter()
            .map(|(id, s, p, c)| Embedded {
                news_id: id,
                stock_ids: serde_json::from_str(&s).unwrap_or_default(),
                published_at: p.timestamp(),
                cluster_id: c,
            })
            .collect()
    }))
}

/// Every vector of an embedded-store collection, with its metadata.
pub async fn load_vectors(
    storage: &Storage,
    collection: &str,
) -> anyhow::Result<Vec<VectorRecord>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT e.news_id, e.stock_ids, e.published_at, e.cluster_id, n.source, v.vector
             FROM news_vectors v
             JOIN news_embeddings e ON e.collection = v.collection AND e.news_id = v.news_id
             JOIN news n ON n.id = e.news_id
             WHERE v.collection = $1 ORDER BY e.news_id",
        )
        .bind(collection)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let stock_ids: String = r.try_get("stock_ids")?;
            let published: DateTime<Utc> = r.try_get("published_at")?;
            let bytes: Vec<u8> = r.try_get("vector")?;
            out.push(VectorRecord {
                id: r.try_get("news_id")?,
                vector: from_bytes(&bytes)?,
                stock_ids: serde_json::from_str(&stock_ids).unwrap_or_default(),
                published_at: published.timestamp(),
                source: r.try_get("source")?,
                cluster_id: r.try_get("cluster_id")?,
            });
        }
        out
    }))
}

/// Current metadata of live articles (for staleness checks and repair):
/// id → (stocks now, published_at, cluster, source, is representative).
pub async fn current_meta(
    storage: &Storage,
    ids: &[i64],
) -> anyhow::Result<HashMap<i64, (i64, i64, String)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let list = crate::storage::placeholders(chunk.len(), 1);
        let sql = format!(
            "SELECT id, published_at, cluster_id, source FROM news WHERE deleted_at IS NULL AND id IN ({list})"
        );
        on_db!(&storage.db, pool => {
            let mut q = sqlx::query_as::<_, (i64, DateTime<Utc>, Option<i64>, String)>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for (id, p, c, s) in q.fetch_all(pool).await? {
                out.insert(id, (p.timestamp(), c.unwrap_or(id), s));
            }
        });
    }
    Ok(out)
}

fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(b: &[u8]) -> anyhow::Result<Vec<f32>> {
    anyhow::ensure!(
        b.len().is_multiple_of(4),
        "vector of {} bytes is not f32s",
        b.len()
    );
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
