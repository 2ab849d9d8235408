//! News: crawling feeds and list pages politely ([`fetch`], [`parse`],
//! [`charset`]), canonical URLs and duplicates ([`canon`], [`dedup`]),
//! linking articles to stocks ([`link`]), forward price impact
//! ([`impact`]), and their tables ([`store`]).

pub mod canon;
pub mod charset;
pub mod config;
pub mod crawl;
pub mod dedup;
pub mod fetch;
pub mod impact;
pub mod link;
pub mod parse;
pub mod sentiment;
pub mod store;

use crate::market::stocks::{self, Stock};
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use config::CrawlConfig;
use link::{ArticleText, Linker};
use std::collections::HashMap;
use store::LinkDelta;

/// The stock ids each configured source names (its source prior), by
/// source name; unknown stocks are skipped.
pub fn source_priors(cfg: &CrawlConfig, stocks: &[Stock]) -> HashMap<String, Vec<i64>> {
    let by_key: HashMap<String, i64> = stocks
        .iter()
        .map(|s| (format!("{}:{}", s.exchange, s.code), s.id))
        .collect();
    cfg.sources
        .iter()
        .map(|s| {
            let ids = s.stocks.iter().filter_map(|k| by_key.get(k)).copied();
            (s.name.clone(), ids.collect())
        })
        .collect()
}

/// What a relink did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Relinked {
    pub articles: u64,
    pub delta: LinkDelta,
}

/// Links every live article published since `since` again with the
/// current ticker master and rules: new links added, changed ones
/// updated, vanished ones removed (with their impact rows). Unchanged
/// links are not rewritten, so a second relink reports no change.
pub async fn relink(
    storage: &Storage,
    cfg: &CrawlConfig,
    since: DateTime<Utc>,
    run_id: Option<i64>,
) -> anyhow::Result<Relinked> {
    let stocks = stocks::load(storage, false).await?;
    let linker = Linker::new(&crawl::stock_entries(&stocks), &cfg.linking);
    let priors = source_priors(cfg, &stocks);
    let mut out = Relinked::default();
    for a in store::articles_since(storage, since).await? {
        let links = linker.link(&ArticleText {
            title: &a.title,
            summary: a.summary.as_deref().unwrap_or(""),
            body: a.body.as_deref().unwrap_or(""),
            source_stocks: priors.get(&a.source).map_or(&[], Vec::as_slice),
        });
        out.delta +=
            store::replace_links(storage, a.id, &links, link::RULES_VERSION, run_id).await?;
        out.articles += 1;
    }
    Ok(out)
}
