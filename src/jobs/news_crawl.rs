//! `news_crawl`: crawl the configured feeds and list pages, store new
//! articles, and link them to stocks.
//!
//! Reads: `jobs/news_crawl.toml` (sources, politeness, dedup, linking
//! rules), the ticker master (`stocks`), `http_validators` (ETag /
//! Last-Modified per list URL), recent cluster heads (`news`).
//! Writes: `news` (one row per canonical URL, near-duplicate `cluster_id`),
//! `news_duplicates` (exact copies under other URLs), `news_stock_match`
//! (relevance and evidence), `http_validators` (after a source's entries
//! are stored, so a crash never turns the next fetch into a skipping 304).
//! Schedule: any cadence (every 10 minutes is typical); the slot is only a
//! label — each run takes what the sources list now.
//! Rerun safety: safe — known URLs and live content hashes are never
//! stored twice, unchanged links are not rewritten; a rerun gets 304s or
//! known URLs and inserts nothing. A failing source is reported and
//! skipped; the run fails only when every source failed.

use super::{JobContext, JobError, Outcome};
use crate::market::stocks;
use crate::news::config::CrawlConfig;
use crate::news::crawl::{Crawl, CrawlResult};
use std::fmt::Write as _;

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = CrawlConfig::from_table(&ctx.params).map_err(JobError::permanent)?;
    let sources = cfg
        .sources(std::path::Path::new("."))
        .map_err(JobError::permanent)?;
    let stocks = stocks::load(&ctx.storage, true).await?;
    let n_sources = sources.len();
    let result = Crawl {
        storage: &ctx.storage,
        cfg: &cfg,
        sources,
        stocks: &stocks,
        run_id: ctx.run_id,
        now: ctx.slot,
        cancel: ctx.cancel.clone(),
    }
    .run()
    .await?;
    let failed = result.sources.iter().filter(|s| s.failed.is_some()).count();
    let out = outcome(&result);
    if n_sources > 0 && failed == n_sources {
        return Err(JobError::retryable(anyhow::anyhow!(
            "every source failed: {}",
            result
                .sources
                .iter()
                .filter_map(|s| s.failed.as_ref().map(|f| format!("{}: {f}", s.source)))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok(out)
}

fn outcome(r: &CrawlResult) -> Outcome {
    let mut out = Outcome::default();
    for s in &r.sources {
        out.count("sources", 1);
        out.count("entries_fetched", s.fetched as i64);
        out.count("sources_not_modified", i64::from(s.not_modified));
        out.count("articles_known", s.known as i64);
        out.count("articles_new", s.new as i64);
        out.count("duplicates_exact", s.duplicates_exact as i64);
        out.count("duplicates_near", s.duplicates_near as i64);
        out.count("bodies_failed", s.bodies_failed as i64);
        out.count("sources_failed", i64::from(s.failed.is_some()));
        if let Some(f) = &s.failed {
            out.warn(format!("source {} failed: {f}", s.source));
        }
    }
    out.count("links_added", r.links.added as i64);
    out.count("links_changed", r.links.changed as i64);
    out.count("http_requests", r.requests as i64);
    for w in &r.warnings {
        out.warn(w.clone());
    }
    out.details = serde_json::json!({
        "sources": r.sources,
        "links_per_stock": r.links_per_stock,
    });

    let mut md = String::from(
        "## Sources\n\n| source | fetched | not modified | known | new | exact dup | near dup | bodies failed | failed |\n|---|---:|---|---:|---:|---:|---:|---:|---|\n",
    );
    for s in &r.sources {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.source,
            s.fetched,
            if s.not_modified { "yes" } else { "" },
            s.known,
            s.new,
            s.duplicates_exact,
            s.duplicates_near,
            s.bodies_failed,
            s.failed.as_deref().unwrap_or("").replace('|', "\\|"),
        );
    }
    md.push_str("\n## Links made per stock\n\n");
    if r.links_per_stock.is_empty() {
        md.push_str("No new links.\n");
    } else {
        md.push_str("| stock | links |\n|---|---:|\n");
        for (stock, n) in &r.links_per_stock {
            let _ = writeln!(md, "| {stock} | {n} |");
        }
    }
    out.markdown = md;
    out
}
