//! `tickerd vectors check | repair | search`: the SQL side against the
//! vector store, and retrieval from the command line.

use super::Cli;
use crate::jobs::news_embed::{self, EmbedJobConfig};
use crate::settings::Settings;
use crate::storage::Storage;
use crate::vectors::retrieve::{Query, Request, Retriever};
use crate::vectors::{store, VectorStore};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;

/// Differences between what SQL says is embedded and what the store has.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Consistency {
    /// Recorded in SQL, absent from the store.
    pub missing: Vec<i64>,
    /// In the store, not recorded in SQL.
    pub extra: Vec<i64>,
    /// Recorded, but the article changed since (links, cluster, time) or is
    /// gone (deleted, or no longer its cluster's first article).
    pub stale: Vec<i64>,
    /// Why each stale entry is stale.
    pub why: Vec<(i64, &'static str)>,
}

impl Consistency {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.stale.is_empty()
    }
}

pub async fn check(
    storage: &Storage,
    vstore: &VectorStore,
    collection: &str,
    dim: usize,
) -> anyhow::Result<Consistency> {
    let recorded = store::embedded(storage, collection).await?;
    let in_store: BTreeSet<i64> = vstore.ids(collection, dim).await?.into_iter().collect();
    let in_sql: BTreeSet<i64> = recorded.iter().map(|e| e.news_id).collect();
    let ids: Vec<i64> = in_sql.iter().copied().collect();
    let meta = store::current_meta(storage, &ids).await?;
    let links = store::linked_stocks(storage, &ids).await?;
    let mut c = Consistency {
        missing: in_sql.difference(&in_store).copied().collect(),
        extra: in_store.difference(&in_sql).copied().collect(),
        stale: vec![],
        why: vec![],
    };
    for e in &recorded {
        let why = match meta.get(&e.news_id) {
            None => Some("article gone"),
            Some((_, cluster, _)) if *cluster != e.news_id => Some("no longer its cluster's first"),
            Some((published, _, _)) if *published != e.published_at => {
                Some("published time changed")
            }
            Some(_) if links.get(&e.news_id).cloned().unwrap_or_default() != e.stock_ids => {
                Some("links changed")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            c.stale.push(e.news_id);
            c.why.push((e.news_id, why));
        }
    }
    Ok(c)
}

/// Fixes what `check` found: extra vectors deleted, stale and missing
/// entries forgotten and embedded again (articles that are gone are only
/// removed). Returns what was done.
pub async fn repair(
    storage: &Storage,
    vstore: &VectorStore,
    embedder: &crate::embed::Embedder,
    collection: &str,
    found: &Consistency,
) -> anyhow::Result<(usize, u64)> {
    let mut removed = 0;
    let to_forget: Vec<i64> = found.missing.iter().chain(&found.stale).copied().collect();
    let mut delete: Vec<i64> = found.extra.clone();
    delete.extend(&found.stale);
    if !delete.is_empty() {
        vstore.delete(collection, &delete).await?;
        removed = delete.len();
    }
    store::forget(storage, collection, &to_forget).await?;
    // Re-embed what is still a live representative (to_embed selects
    // exactly those).
    let cancel = tokio_util::sync::CancellationToken::new();
    let r = news_embed::embed_pass(
        storage,
        embedder,
        vstore,
        collection,
        news_embed::Budget {
            max_articles: to_forget.len() as i64,
            batch: 256,
        },
        None,
        &cancel,
    )
    .await?;
    if let Some(f) = r.failure {
        anyhow::bail!("re-embedding failed: {f}");
    }
    Ok((removed, r.embedded))
}

async fn open(cli: &Cli) -> anyhow::Result<(Storage, crate::embed::Embedder, VectorStore, String)> {
    let settings = Settings::load(cli.config.as_deref())?;
    let storage = Storage::open(&settings.database_url).await?;
    let params =
        crate::runner::load_job_params(&settings.jobs_dir, crate::jobs::JobName::NewsEmbed)
            .map_err(|e| anyhow::anyhow!(e))?;
    let cfg = EmbedJobConfig::from_table(&params)?;
    let (embedder, vstore, collection) = news_embed::open(&cfg, &storage, &settings).await?;
    Ok((storage, embedder, vstore, collection))
}

pub async fn run(cli: &Cli, command: &super::VectorsCommand) -> anyhow::Result<ExitCode> {
    let (storage, embedder, vstore, collection) = open(cli).await?;
    let dim = embedder.id().dimensions;
    match command {
        super::VectorsCommand::Check => {
            let c = check(&storage, &vstore, &collection, dim).await?;
            print_consistency(&collection, &c);
            Ok(if c.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        super::VectorsCommand::Repair => {
            let c = check(&storage, &vstore, &collection, dim).await?;
            print_consistency(&collection, &c);
            let (removed, embedded) = repair(&storage, &vstore, &embedder, &collection, &c).await?;
            let after = check(&storage, &vstore, &collection, dim).await?;
            println!(
                "repaired: {removed} vectors removed, {embedded} articles embedded again; now {}",
                if after.is_clean() {
                    "consistent"
                } else {
                    "still inconsistent"
                }
            );
            Ok(if after.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        super::VectorsCommand::Search {
            text,
            cutoff,
            stocks,
            k,
            min_similarity,
        } => {
            let stock_ids = stock_ids(&storage, stocks).await?;
            let retriever = Retriever {
                storage: &storage,
                store: &vstore,
                embedder: &embedder,
                collection: collection.clone(),
            };
            let cutoff: DateTime<Utc> = cutoff.unwrap_or_else(Utc::now);
            let hits = retriever
                .similar(&Request {
                    query: Query::Text(text.clone()),
                    stock_ids,
                    cutoff,
                    k: *k,
                    min_similarity: *min_similarity,
                })
                .await?;
            println!("{} hits in {collection} before {cutoff}", hits.len());
            for h in hits {
                println!(
                    "{:.3}  #{:<6} {}  {}  [{}]",
                    h.similarity,
                    h.article.id,
                    h.article.published_at.format("%Y-%m-%d %H:%M"),
                    h.article.title,
                    h.impacts
                        .iter()
                        .map(|i| format!(
                            "stock {}: +1d {}",
                            i.stock_id,
                            i.returns[0].map_or("?".into(), |r| format!("{r:+.2}%"))
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_consistency(collection: &str, c: &Consistency) {
    let show = |v: &[i64]| {
        let mut s = v
            .iter()
            .take(20)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if v.len() > 20 {
            s += ", …";
        }
        s
    };
    println!("collection {collection}:");
    println!(
        "  missing from the store: {} {}",
        c.missing.len(),
        show(&c.missing)
    );
    println!(
        "  extra in the store:     {} {}",
        c.extra.len(),
        show(&c.extra)
    );
    println!(
        "  stale:                  {} {}",
        c.stale.len(),
        show(&c.stale)
    );
    for (id, why) in c.why.iter().take(20) {
        println!("    {id}: {why}");
    }
}

/// `EXCHANGE:CODE` → stock ids.
async fn stock_ids(storage: &Storage, keys: &[String]) -> anyhow::Result<Option<Vec<i64>>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let all = crate::market::stocks::load(storage, false).await?;
    let by_key: HashMap<String, i64> = all
        .iter()
        .map(|s| (format!("{}:{}", s.exchange, s.code), s.id))
        .collect();
    keys.iter()
        .map(|k| {
            by_key.get(k).copied().ok_or_else(|| {
                anyhow::anyhow!("--stock {k}: not in the ticker master (EXCHANGE:CODE)")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}
