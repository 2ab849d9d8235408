//! Point-in-time retrieval of similar past news, for `predict`.
//!
//! A query is a text or a stored article; hits are articles published
//! strictly before the cut-off (the prediction's as-of instant), optionally
//! linked to given stocks, above a minimum similarity, never the query
//! article or its near-duplicates, each returned with its article and the
//! price impact measured after it.

use super::exact::{Hit, SearchFilter};
use super::VectorStore;
use crate::embed::Embedder;
use crate::news::store::StoredArticle;
use crate::on_db;
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone)]
pub enum Query {
    Text(String),
    /// A stored article: its text is embedded, and it and its cluster are
    /// excluded from the hits.
    Article(i64),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub query: Query,
    pub stock_ids: Option<Vec<i64>>,
    /// Only articles published strictly before this instant.
    pub cutoff: DateTime<Utc>,
    pub k: usize,
    pub min_similarity: f32,
}

/// Price change after an article, for one linked stock.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImpactRow {
    pub stock_id: i64,
    /// Percent after 1, 2, 3, 5, 10 and 20 sessions (None: not yet known).
    pub returns: [Option<f64>; 6],
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Retrieved {
    pub article: StoredArticle,
    pub similarity: f32,
    pub impacts: Vec<ImpactRow>,
}

pub struct Retriever<'a> {
    pub storage: &'a Storage,
    pub store: &'a VectorStore,
    pub embedder: &'a Embedder,
    /// The store's collection key (see `VectorStore::collection`).
    pub collection: String,
}

impl Retriever<'_> {
    pub async fn similar(&self, req: &Request) -> anyhow::Result<Vec<Retrieved>> {
        let dim = self.embedder.id().dimensions;
        let mut filter = SearchFilter {
            stock_ids: req.stock_ids.clone(),
            published_before: req.cutoff.timestamp(),
            exclude_ids: vec![],
            exclude_clusters: vec![],
            min_similarity: req.min_similarity,
        };
        // The store compares whole seconds (`published_at` truncated, and the
        // cut-off truncated the same way): `p < c` on seconds implies the
        // article came before the cut-off — at worst a hit within the
        // cut-off's own second is left out, never one after it.
        let text = match &req.query {
            Query::Text(t) => t.clone(),
            Query::Article(id) => {
                let a = crate::news::store::article(self.storage, *id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("news {id} does not exist"))?;
                filter.exclude_ids.push(*id);
                filter.exclude_clusters.push(a.1.unwrap_or(*id));
                article_text(&a.0.title, a.0.summary.as_deref(), a.0.body.as_deref())
            }
        };
        let (vectors, _) = self.embedder.embed(std::slice::from_ref(&text)).await?;
        let query = vectors
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the embedder returned no vector"))?;
        let hits = self
            .store
            .search(&self.collection, dim, &query, req.k, &filter)
            .await?;
        self.resolve(hits, req.cutoff).await
    }

    async fn resolve(
        &self,
        hits: Vec<Hit>,
        cutoff: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Retrieved>> {
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let Some((article, _)) = crate::news::store::article(self.storage, h.id).await? else {
                continue; // deleted since it was embedded: `vectors check` reports it
            };
            // Belt and braces: the store filtered by whole seconds.
            if article.published_at >= cutoff {
                continue;
            }
            let impacts = impacts(self.storage, h.id).await?;
            out.push(Retrieved {
                article,
                similarity: h.similarity,
                impacts,
            });
        }
        Ok(out)
    }
}

/// The text an article is embedded from.
pub fn article_text(title: &str, summary: Option<&str>, body: Option<&str>) -> String {
    let mut t = title.to_string();
    for part in [summary, body].into_iter().flatten() {
        if !part.is_empty() {
            t.push('\n');
            t.push_str(part);
        }
    }
    t
}

async fn impacts(storage: &Storage, news_id: i64) -> anyhow::Result<Vec<ImpactRow>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT stock_id, ret_1d, ret_2d, ret_3d, ret_5d, ret_10d, ret_20d, status
             FROM news_impact WHERE news_id = $1 ORDER BY stock_id",
        )
        .bind(news_id)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ImpactRow {
                stock_id: r.try_get("stock_id")?,
                returns: [
                    r.try_get("ret_1d")?,
                    r.try_get("ret_2d")?,
                    r.try_get("ret_3d")?,
                    r.try_get("ret_5d")?,
                    r.try_get("ret_10d")?,
                    r.try_get("ret_20d")?,
                ],
                status: r.try_get("status")?,
            });
        }
        out
    }))
}
