//! `news_embed`: embed every article that has no vector yet in the
//! configured collection — one per near-duplicate cluster — and store the
//! vectors.
//!
//! Reads: `jobs/news_embed.toml` (`[embedder]`, `[store]`, `batch`,
//! `max_articles`), `news` (cluster representatives), `news_stock_match`
//! (stock ids carried with each vector for filtering), `news_embeddings`.
//! Writes: the vector store (Milvus collection or `news_vectors`),
//! `embedding_collections`, `news_embeddings`, and `news.embedding_id`,
//! `embedding_model`, `embedding_dimensions`.
//! Schedule: after `news_crawl` (any cadence; each run takes what is not
//! embedded yet, oldest first, up to `max_articles`).
//! Rerun safety: safe — an article is selected only while it has no
//! `news_embeddings` row for the collection; vectors are upserted by
//! article id, so a crash between the store write and the SQL record
//! re-embeds that batch and overwrites the same ids. A changed model or
//! dimension is another collection: vectors are never mixed.

use super::{JobContext, JobError, Outcome};
use crate::embed::{Embedder, EmbedderConfig, Usage};
use crate::vectors::exact::VectorRecord;
use crate::vectors::retrieve::article_text;
use crate::vectors::{store, StoreConfig, VectorStore};
use serde::Deserialize;
use std::time::Instant;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedJobConfig {
    /// Articles embedded per run at most (the rest wait for the next run).
    #[serde(default = "default_max_articles")]
    pub max_articles: i64,
    /// Articles per embed-and-store round.
    #[serde(default = "default_batch")]
    pub batch: usize,
    #[serde(default)]
    pub embedder: EmbedderConfig,
    #[serde(default)]
    pub store: StoreConfig,
}

fn default_max_articles() -> i64 {
    20_000
}
fn default_batch() -> usize {
    256
}

impl EmbedJobConfig {
    pub fn from_table(params: &toml::Table) -> anyhow::Result<EmbedJobConfig> {
        let text = toml::to_string(params)?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("jobs/news_embed.toml: {}", e.message()))
    }
}

/// The embedder and store a job file configures, with the environment's
/// credentials.
pub async fn open(
    cfg: &EmbedJobConfig,
    ctx_storage: &crate::storage::Storage,
    settings: &crate::settings::Settings,
) -> anyhow::Result<(Embedder, VectorStore, String)> {
    let embedder = Embedder::build(
        &cfg.embedder,
        settings.openai_api_key.as_ref().map(|k| k.expose()),
        settings.openai_base_url.as_deref(),
    )?;
    let store = VectorStore::open(&cfg.store, ctx_storage, settings.milvus_uri.as_deref()).await?;
    let collection = store.collection(&embedder.id().collection_name());
    Ok((embedder, store, collection))
}

/// What one embedding pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub embedded: u64,
    pub failed: u64,
    pub failure: Option<String>,
    pub warnings: Vec<String>,
    pub usage: Usage,
    pub embed_ms: u128,
    pub store_ms: u128,
    pub sql_ms: u128,
}

/// How much one pass may do: articles in all, and per embed-and-store
/// round.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_articles: i64,
    pub batch: usize,
}

/// Embeds up to `budget.max_articles` articles not yet in `collection`,
/// `budget.batch` at a time.
pub async fn embed_pass(
    storage: &crate::storage::Storage,
    embedder: &Embedder,
    store: &VectorStore,
    collection: &str,
    budget: Budget,
    run_id: Option<i64>,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<PassReport> {
    let (max, batch) = (budget.max_articles, budget.batch);
    let id = embedder.id();
    store::ensure_collection(
        storage,
        collection,
        &id.embedder,
        &id.model,
        id.dimensions,
        store.kind(),
    )
    .await?;
    store.ensure(collection, id.dimensions).await?;
    let mut r = PassReport::default();
    let mut remaining = max.max(0);
    while remaining > 0 && !cancel.is_cancelled() {
        let todo = store::to_embed(storage, collection, remaining.min(batch.max(1) as i64)).await?;
        if todo.is_empty() {
            break;
        }
        remaining -= todo.len() as i64;
        let texts: Vec<String> = todo
            .iter()
            .map(|a| article_text(&a.title, a.summary.as_deref(), a.body.as_deref()))
            .collect();
        let t = Instant::now();
        let (vectors, u) = match embedder.embed(&texts).await {
            Ok(v) => v,
            Err(e) => {
                // The embedder already retried what can be retried; the
                // batch waits for the next run, nothing half-stored.
                r.failed += todo.len() as u64;
                r.warnings.push(format!(
                    "articles {}..{}: {e}",
                    todo[0].id,
                    todo[todo.len() - 1].id
                ));
                r.failure = Some(e.to_string());
                break;
            }
        };
        r.embed_ms += t.elapsed().as_millis();
        r.usage.requests += u.requests;
        r.usage.prompt_tokens += u.prompt_tokens;
        r.usage.retries += u.retries;

        let ids: Vec<i64> = todo.iter().map(|a| a.id).collect();
        let stocks = store::linked_stocks(storage, &ids).await?;
        let records: Vec<VectorRecord> = todo
            .iter()
            .zip(vectors)
            .map(|(a, v)| VectorRecord {
                id: a.id,
                vector: v,
                stock_ids: stocks.get(&a.id).cloned().unwrap_or_default(),
                published_at: a.published_at.timestamp(),
                source: a.source.clone(),
                cluster_id: a.cluster_id,
            })
            .collect();
        let t = Instant::now();
        store.upsert(collection, &records).await?;
        r.store_ms += t.elapsed().as_millis();
        let t = Instant::now();
        store::record_embedded(
            storage,
            collection,
            &id.model,
            &records,
            matches!(store, VectorStore::Embedded { .. }),
            run_id,
        )
        .await?;
        r.sql_ms += t.elapsed().as_millis();
        r.embedded += records.len() as u64;
    }
    Ok(r)
}

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = EmbedJobConfig::from_table(&ctx.params).map_err(JobError::permanent)?;
    let (embedder, store, collection) = open(&cfg, &ctx.storage, &ctx.settings)
        .await
        .map_err(JobError::permanent)?;
    let id = embedder.id();
    let r = embed_pass(
        &ctx.storage,
        &embedder,
        &store,
        &collection,
        Budget {
            max_articles: cfg.max_articles,
            batch: cfg.batch,
        },
        Some(ctx.run_id),
        &ctx.cancel,
    )
    .await?;
    let mut out = Outcome::default();
    out.count("embedded", r.embedded as i64);
    out.count("failed", r.failed as i64);
    out.count(
        "skipped_duplicates",
        store::duplicates_count(&ctx.storage).await?,
    );
    out.count("requests", r.usage.requests as i64);
    out.count("tokens", r.usage.prompt_tokens as i64);
    out.count("retries", r.usage.retries as i64);
    out.count("embed_ms", r.embed_ms as i64);
    out.count("store_ms", r.store_ms as i64);
    out.count("sql_ms", r.sql_ms as i64);
    out.warnings = r.warnings.clone();
    out.details = serde_json::json!({
        "collection": collection,
        "embedder": id,
        "store": store.kind(),
    });
    out.markdown = format!(
        "## Embedding\n\nCollection `{collection}` ({} store; {} `{}`, {} dimensions): {} embedded, {} near-duplicates skipped (their cluster's first article stands for them), {} failed. {} requests, {} tokens, {} retries. Time: embed {} ms, vector store {} ms, SQL {} ms.\n",
        store.kind(),
        id.embedder,
        id.model,
        id.dimensions,
        r.embedded,
        out.counts["skipped_duplicates"],
        r.failed,
        r.usage.requests,
        r.usage.prompt_tokens,
        r.usage.retries,
        r.embed_ms,
        r.store_ms,
        r.sql_ms,
    );
    match r.failure {
        Some(f) if r.embedded == 0 => Err(JobError::retryable(anyhow::anyhow!(
            "embedding failed: {f}"
        ))),
        _ => Ok(out),
    }
}
