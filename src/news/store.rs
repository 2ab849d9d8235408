//! News storage: articles (`news`), exact copies under other URLs
//! (`news_duplicates`), links to stocks (`news_stock_match`), forward price
//! impact (`news_impact`) and the conditional-GET state of crawled URLs
//! (`http_validators`). Same SQL on SQLite and PostgreSQL.
//!
//! Writes are keyed so that a rerun inserts nothing: a canonical URL is
//! stored once (in `news` or `news_duplicates`), a live content hash once,
//! a link once per (article, stock).

use super::fetch::Validators;
use super::link::Link;
use crate::on_db;
use crate::storage::BeginWrite as _;
use crate::storage::{placeholders, Storage};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// An article ready to store (dedup decided by the caller).
#[derive(Debug, Clone)]
pub struct NewArticle {
    pub canonical_url: String,
    pub url: String,
    pub source: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub language: Option<String>,
    pub language_confidence: Option<f64>,
    pub published_at: DateTime<Utc>,
    pub published_inferred: bool,
    pub fetched_at: DateTime<Utc>,
    pub content_hash: String,
    pub dup_sketch: u64,
    /// The representative of its near-duplicate cluster; `None`: it is one.
    pub near_duplicate_of: Option<i64>,
}

/// Of these canonical URLs, the ones already stored (as an article or as
/// an exact copy of one).
pub async fn known_urls(storage: &Storage, urls: &[String]) -> anyhow::Result<HashSet<String>> {
    let mut known = HashSet::new();
    // Chunked: SQLite allows 32,766 parameters, and lists stay short anyway.
    for chunk in urls.chunks(500) {
        let list = placeholders(chunk.len(), 1);
        let sql = format!(
            "SELECT canonical_url FROM news WHERE canonical_url IN ({list})
             UNION SELECT canonical_url FROM news_duplicates WHERE canonical_url IN ({list})"
        );
        on_db!(&storage.db, pool => {
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for u in chunk {
                q = q.bind(u);
            }
            known.extend(q.fetch_all(pool).await?);
        });
    }
    Ok(known)
}

/// The live article with this content hash, if any.
pub async fn live_hash_owner(storage: &Storage, hash: &str) -> anyhow::Result<Option<i64>> {
    Ok(on_db!(&storage.db, pool => {
        sqlx::query_scalar("SELECT id FROM news WHERE content_hash = $1 AND deleted_at IS NULL")
            .bind(hash)
            .fetch_optional(pool)
            .await?
    }))
}

/// A cluster head the near-duplicate index starts from.
#[derive(Debug, Clone)]
pub struct Representative {
    pub id: i64,
    pub sketch: u64,
    pub published_at: DateTime<Utc>,
    /// The stocks it is linked to, ascending.
    pub stocks: Vec<i64>,
}

/// Cluster heads (live) published since `since`, with their linked stocks.
pub async fn recent_representatives(
    storage: &Storage,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<Representative>> {
    Ok(on_db!(&storage.db, pool => {
        let heads: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, dup_sketch, published_at FROM news
             WHERE cluster_id = id AND deleted_at IS NULL AND published_at >= $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(pool)
        .await?;
        let links: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT m.news_id, m.stock_id FROM news_stock_match m JOIN news n ON n.id = m.news_id
             WHERE n.cluster_id = n.id AND n.deleted_at IS NULL AND n.published_at >= $1
             ORDER BY m.news_id, m.stock_id",
        )
        .bind(since)
        .fetch_all(pool)
        .await?;
        let mut stocks: HashMap<i64, Vec<i64>> = HashMap::new();
        for (news_id, stock_id) in links {
            stocks.entry(news_id).or_default().push(stock_id);
        }
        heads
            .into_iter()
            .map(|(id, h, published_at)| Representative {
                id,
                sketch: h as u64,
                published_at,
                stocks: stocks.remove(&id).unwrap_or_default(),
            })
            .collect()
    }))
}

/// Stores an article together with its links, in one transaction: a
/// crash cannot leave an article without its links (a later crawl skips a
/// known URL, so links written separately could be lost for good).
/// Returns the article's id, or `None` if its URL or live content hash was
/// stored meanwhile (a concurrent crawl): nothing is lost, the other
/// writer has it.
pub async fn insert_article(
    storage: &Storage,
    a: &NewArticle,
    links: &[Link],
    rules_version: &str,
    run_id: i64,
) -> anyhow::Result<Option<i64>> {
    let now = storage.now().await?;
    Ok(on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO news (canonical_url, url, source, title, summary, body, language, language_confidence,
                 published_at, published_inferred, fetched_at, content_hash, dup_sketch, cluster_id, run_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&a.canonical_url)
        .bind(&a.url)
        .bind(&a.source)
        .bind(&a.title)
        .bind(&a.summary)
        .bind(&a.body)
        .bind(&a.language)
        .bind(a.language_confidence)
        .bind(a.published_at)
        .bind(a.published_inferred)
        .bind(a.fetched_at)
        .bind(&a.content_hash)
        .bind(a.dup_sketch as i64)
        .bind(a.near_duplicate_of)
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            if a.near_duplicate_of.is_none() {
                sqlx::query("UPDATE news SET cluster_id = id WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            for l in links {
                sqlx::query(UPSERT_LINK)
                    .bind(id)
                    .bind(l.stock_id)
                    .bind(round6(l.relevance))
                    .bind(serde_json::to_string(&l.evidence)?)
                    .bind(rules_version)
                    .bind(now)
                    .bind(Some(run_id))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        id
    }))
}

/// Inserts or updates one `news_stock_match` row.
const UPSERT_LINK: &str = "INSERT INTO news_stock_match (news_id, stock_id, relevance, evidence, rules_version, linked_at, run_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (news_id, stock_id) DO UPDATE SET relevance = excluded.relevance,
         evidence = excluded.evidence, rules_version = excluded.rules_version,
         linked_at = excluded.linked_at, run_id = excluded.run_id";

/// Records a URL whose content is an exact copy of article `news_id`.
pub async fn insert_duplicate(
    storage: &Storage,
    canonical_url: &str,
    news_id: i64,
    source: &str,
    run_id: i64,
) -> anyhow::Result<bool> {
    let now = storage.now().await?;
    Ok(on_db!(&storage.db, pool => {
        sqlx::query(
            "INSERT INTO news_duplicates (canonical_url, news_id, source, seen_at, run_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(canonical_url)
        .bind(news_id)
        .bind(source)
        .bind(now)
        .bind(run_id)
        .execute(pool)
        .await?
        .rows_affected()
            == 1
    }))
}

/// The stored ETag / Last-Modified for a URL.
pub async fn validators(storage: &Storage, url: &str) -> anyhow::Result<Option<Validators>> {
    Ok(on_db!(&storage.db, pool => {
        sqlx::query("SELECT etag, last_modified FROM http_validators WHERE url = $1")
            .bind(url)
            .fetch_optional(pool)
            .await?
            .map(|r| -> anyhow::Result<Validators> {
                Ok(Validators {
                    etag: r.try_get("etag")?,
                    last_modified: r.try_get("last_modified")?,
                })
            })
            .transpose()?
    }))
}

/// Saves a URL's validators, once its content has been processed: a crash
/// before that must not turn the next fetch into a 304 that skips it.
pub async fn save_validators(
    storage: &Storage,
    url: &str,
    v: &Validators,
    status: u16,
    source: &str,
) -> anyhow::Result<()> {
    let now = storage.now().await?;
    on_db!(&storage.db, pool => {
        sqlx::query(
            "INSERT INTO http_validators (url, etag, last_modified, status, fetched_at, source)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                 status = excluded.status, fetched_at = excluded.fetched_at, source = excluded.source",
        )
        .bind(url)
        .bind(&v.etag)
        .bind(&v.last_modified)
        .bind(i32::from(status))
        .bind(now)
        .bind(source)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// An article as the linker and the impact job read it.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    pub id: i64,
    pub source: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub published_at: DateTime<Utc>,
}

/// Live articles published at or after `since` (relinking), oldest first.
pub async fn articles_since(
    storage: &Storage,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<StoredArticle>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT id, source, title, summary, body, published_at FROM news
             WHERE deleted_at IS NULL AND published_at >= $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(StoredArticle {
                id: r.try_get("id")?,
                source: r.try_get("source")?,
                title: r.try_get("title")?,
                summary: r.try_get("summary")?,
                body: r.try_get("body")?,
                published_at: r.try_get("published_at")?,
            });
        }
        out
    }))
}

/// What replacing an article's links changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkDelta {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for LinkDelta {
    fn add_assign(&mut self, o: LinkDelta) {
        self.added += o.added;
        self.changed += o.changed;
        self.removed += o.removed;
        self.unchanged += o.unchanged;
    }
}

/// Makes an article's stored links exactly `links`: new ones inserted,
/// changed ones (relevance or evidence) updated, vanished ones deleted
/// (their impact rows go with them). Identical links are not rewritten.
pub async fn replace_links(
    storage: &Storage,
    news_id: i64,
    links: &[Link],
    rules_version: &str,
    run_id: Option<i64>,
) -> anyhow::Result<LinkDelta> {
    let now = storage.now().await?;
    let mut delta = LinkDelta::default();
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        let stored: Vec<(i64, f64, String)> = sqlx::query_as(
            "SELECT stock_id, relevance, evidence FROM news_stock_match WHERE news_id = $1",
        )
        .bind(news_id)
        .fetch_all(&mut *tx)
        .await?;
        let stored: HashMap<i64, (f64, String)> =
            stored.into_iter().map(|(s, r, e)| (s, (r, e))).collect();
        let mut keep = HashSet::new();
        for l in links {
            keep.insert(l.stock_id);
            let evidence = serde_json::to_string(&l.evidence)?;
            let relevance = round6(l.relevance);
            match stored.get(&l.stock_id) {
                Some((r, e)) if (*r - relevance).abs() < 1e-9 && *e == evidence => {
                    delta.unchanged += 1;
                    continue;
                }
                Some(_) => delta.changed += 1,
                None => delta.added += 1,
            }
            sqlx::query(UPSERT_LINK)
            .bind(news_id)
            .bind(l.stock_id)
            .bind(relevance)
            .bind(&evidence)
            .bind(rules_version)
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        }
        for stock_id in stored.keys().filter(|s| !keep.contains(s)) {
            // news_impact has ON DELETE CASCADE, but SQLite enforces it only
            // with foreign keys on; delete explicitly on both.
            sqlx::query("DELETE FROM news_impact WHERE news_id = $1 AND stock_id = $2")
                .bind(news_id)
                .bind(stock_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM news_stock_match WHERE news_id = $1 AND stock_id = $2")
                .bind(news_id)
                .bind(stock_id)
                .execute(&mut *tx)
                .await?;
            delta.removed += 1;
        }
        tx.commit().await?;
    });
    Ok(delta)
}

/// Relevance is stored rounded so that a float wobble is not a "change".
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A link whose impact row is missing or still pending.
#[derive(Debug, Clone)]
pub struct ImpactTodo {
    pub news_id: i64,
    pub stock_id: i64,
    pub exchange: String,
    pub published_at: DateTime<Utc>,
}

/// Links with no impact row yet, or a pending one.
pub async fn impact_todo(storage: &Storage) -> anyhow::Result<Vec<ImpactTodo>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT m.news_id, m.stock_id, s.exchange, n.published_at
             FROM news_stock_match m
             JOIN news n ON n.id = m.news_id
             JOIN stocks s ON s.id = m.stock_id
             LEFT JOIN news_impact i ON i.news_id = m.news_id AND i.stock_id = m.stock_id
             WHERE n.deleted_at IS NULL AND (i.status IS NULL OR i.status = 'pending')
             ORDER BY m.news_id, m.stock_id",
        )
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ImpactTodo {
                news_id: r.try_get("news_id")?,
                stock_id: r.try_get("stock_id")?,
                exchange: r.try_get("exchange")?,
                published_at: r.try_get("published_at")?,
            });
        }
        out
    }))
}

/// One computed impact row.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    pub news_id: i64,
    pub stock_id: i64,
    pub ref_date: NaiveDate,
    pub ref_close: f64,
    /// Percent close change after 1, 2, 3, 5, 10 and 20 sessions.
    pub returns: [Option<f64>; 6],
    pub status: &'static str,
}

/// Upserts impact rows; returns how many changed (a row recomputed to the
/// same values is not rewritten).
pub async fn upsert_impacts(
    storage: &Storage,
    rows: &[Impact],
    run_id: i64,
) -> anyhow::Result<u64> {
    let now = storage.now().await?;
    let mut changed = 0;
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        for r in rows {
            let n = sqlx::query(
                "INSERT INTO news_impact (news_id, stock_id, ref_date, ref_close, ret_1d, ret_2d, ret_3d,
                     ret_5d, ret_10d, ret_20d, status, updated_at, run_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (news_id, stock_id) DO UPDATE SET ref_date = excluded.ref_date,
                     ref_close = excluded.ref_close, ret_1d = excluded.ret_1d, ret_2d = excluded.ret_2d,
                     ret_3d = excluded.ret_3d, ret_5d = excluded.ret_5d, ret_10d = excluded.ret_10d,
                     ret_20d = excluded.ret_20d, status = excluded.status,
                     updated_at = excluded.updated_at, run_id = excluded.run_id
                 WHERE news_impact.ref_date IS DISTINCT FROM excluded.ref_date
                    OR news_impact.ref_close IS DISTINCT FROM excluded.ref_close
                    OR news_impact.ret_1d IS DISTINCT FROM excluded.ret_1d
                    OR news_impact.ret_2d IS DISTINCT FROM excluded.ret_2d
                    OR news_impact.ret_3d IS DISTINCT FROM excluded.ret_3d
                    OR news_impact.ret_5d IS DISTINCT FROM excluded.ret_5d
                    OR news_impact.ret_10d IS DISTINCT FROM excluded.ret_10d
                    OR news_impact.ret_20d IS DISTINCT FROM excluded.ret_20d
                    OR news_impact.status IS DISTINCT FROM excluded.status",
            )
            .bind(r.news_id)
            .bind(r.stock_id)
            .bind(r.ref_date)
            .bind(r.ref_close)
            .bind(r.returns[0])
            .bind(r.returns[1])
            .bind(r.returns[2])
            .bind(r.returns[3])
            .bind(r.returns[4])
            .bind(r.returns[5])
            .bind(r.status)
            .bind(now)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            changed += n;
        }
        tx.commit().await?;
    });
    Ok(changed)
}

/// Daily closes of these stocks in [from, to] by trading date: what the
/// impact computation reads (one query, not one per link).
pub async fn daily_closes(
    storage: &Storage,
    stock_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<(i64, NaiveDate, f64)>> {
    let mut out = vec![];
    for chunk in stock_ids.chunks(500) {
        let sql = format!(
            "SELECT stock_id, trading_date, close FROM bars
             WHERE interval = '1d' AND trading_date >= $1 AND trading_date <= $2
               AND stock_id IN ({}) ORDER BY stock_id, trading_date",
            placeholders(chunk.len(), 3)
        );
        on_db!(&storage.db, pool => {
            let mut q = sqlx::query_as::<_, (i64, NaiveDate, f64)>(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(to);
            for id in chunk {
                q = q.bind(id);
            }
            out.extend(q.fetch_all(pool).await?);
        });
    }
    Ok(out)
}

/// One live article and its cluster id.
pub async fn article(
    storage: &Storage,
    id: i64,
) -> anyhow::Result<Option<(StoredArticle, Option<i64>)>> {
    Ok(on_db!(&storage.db, pool => {
        match sqlx::query(
            "SELECT id, source, title, summary, body, published_at, cluster_id FROM news
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        {
            None => None,
            Some(r) => Some((
                StoredArticle {
                    id: r.try_get("id")?,
                    source: r.try_get("source")?,
                    title: r.try_get("title")?,
                    summary: r.try_get("summary")?,
                    body: r.try_get("body")?,
                    published_at: r.try_get("published_at")?,
                },
                r.try_get("cluster_id")?,
            )),
        }
    }))
}
