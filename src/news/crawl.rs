//! One crawl pass: gather every source's new entries (concurrently, through
//! the polite fetcher), then store them one source at a time in config
//! order (dedup, near-duplicate clusters, links), so ids and reports are
//! deterministic.

use super::canon::canonical_url;
use super::charset;
use super::config::{CrawlConfig, Location, Source, SourceKind};
use super::dedup::{self, NearDupIndex};
use super::fetch::{FetchRequest, Fetched, Fetcher, Validators};
use super::link::{ArticleText, Link, Linker, StockEntry};
use super::parse::{self, Entry};
use super::store::{self, LinkDelta, NewArticle};
use crate::market::stocks::Stock;
use crate::storage::Storage;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use url::Url;

/// What one source did in one run: a row of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    pub source: String,
    /// Entries listed by the feed or page.
    pub fetched: u64,
    /// The list answered 304 Not Modified.
    pub not_modified: bool,
    /// Entries whose URL was stored by an earlier run.
    pub known: u64,
    pub new: u64,
    pub duplicates_exact: u64,
    pub duplicates_near: u64,
    /// Article pages that could not be fetched or read (stored without
    /// body).
    pub bodies_failed: u64,
    /// Entries dropped for a bad URL.
    pub invalid: u64,
    /// Why the source failed as a whole (nothing stored from it).
    pub failed: Option<String>,
}

/// An entry ready to store.
struct Candidate {
    entry: Entry,
    canonical: String,
    fetched_at: DateTime<Utc>,
}

/// What gathering one source produced.
struct Gathered {
    candidates: Vec<Candidate>,
    /// Validators to save once the entries are stored.
    validators: Option<(String, Validators, u16)>,
    report: SourceReport,
    warnings: Vec<String>,
}

/// The result of a whole pass.
#[derive(Debug, Default)]
pub struct CrawlResult {
    pub sources: Vec<SourceReport>,
    pub links: LinkDelta,
    /// Links made per stock (`EXCHANGE:CODE`), this run.
    pub links_per_stock: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    pub requests: u64,
}

/// The linker's view of the ticker master.
pub fn stock_entries(stocks: &[Stock]) -> Vec<StockEntry> {
    stocks
        .iter()
        .map(|s| StockEntry {
            id: s.id,
            exchange: s.exchange.clone(),
            code: s.code.clone(),
            name: s.name.clone(),
            aliases: s.aliases.clone(),
            active: s.active,
        })
        .collect()
}

pub struct Crawl<'a> {
    pub storage: &'a Storage,
    pub cfg: &'a CrawlConfig,
    pub sources: Vec<Source>,
    pub stocks: &'a [Stock],
    pub run_id: i64,
    pub now: DateTime<Utc>,
    pub cancel: tokio_util::sync::CancellationToken,
}

impl Crawl<'_> {
    pub async fn run(self) -> anyhow::Result<CrawlResult> {
        let fetcher = Fetcher::new(self.cfg.politeness.clone())?;
        let linker = Linker::new(&stock_entries(self.stocks), &self.cfg.linking);
        let by_key: HashMap<String, i64> = self
            .stocks
            .iter()
            .map(|s| (format!("{}:{}", s.exchange, s.code), s.id))
            .collect();
        let window = Duration::days(self.cfg.near_dup_window_days);
        let mut clusters = Clusters::new(self.cfg.near_dup_distance, window);
        for r in store::recent_representatives(self.storage, self.now - window).await? {
            clusters.add(r.id, r.sketch, r.published_at, r.stocks);
        }

        // Gather concurrently (the fetcher enforces per-host politeness and
        // the global cap); `buffered` keeps config order for storing.
        let concurrency = self.cfg.politeness.concurrency.max(1);
        let gathered: Vec<(Source, Gathered)> = futures::stream::iter(self.sources.clone())
            .map(|s| {
                let fetcher = &fetcher;
                let storage = self.storage;
                let max = self.cfg.max_items_per_source;
                async move {
                    let g = gather(fetcher, storage, &s, max).await;
                    (s, g)
                }
            })
            .buffered(concurrency)
            .collect()
            .await;

        let mut result = CrawlResult::default();
        let names: HashMap<i64, String> = self
            .stocks
            .iter()
            .map(|s| (s.id, format!("{}:{}", s.exchange, s.code)))
            .collect();
        for (source, mut g) in gathered {
            if self.cancel.is_cancelled() {
                anyhow::bail!("cancelled");
            }
            result.warnings.append(&mut g.warnings);
            let mut prior = vec![];
            for key in &source.cfg.stocks {
                match by_key.get(key) {
                    Some(id) => prior.push(*id),
                    None => result.warnings.push(format!(
                        "source {}: stock {key} is not in the ticker master",
                        source.cfg.name
                    )),
                }
            }
            let mut report = g.report;
            for c in &g.candidates {
                let Some(links) = self
                    .store_one(&source, c, &linker, &prior, &mut clusters, &mut report)
                    .await?
                else {
                    continue;
                };
                for l in &links {
                    if let Some(n) = names.get(&l.stock_id) {
                        *result.links_per_stock.entry(n.clone()).or_default() += 1;
                    }
                }
                result.links.added += links.len() as u64;
            }
            if let Some((url, v, status)) = &g.validators {
                store::save_validators(self.storage, url, v, *status, &source.cfg.name).await?;
            }
            result.sources.push(report);
        }
        result.requests = fetcher.requests_made();
        Ok(result)
    }

    /// If a live article already has this content, records the URL as its
    /// exact copy and counts it; says whether it did.
    async fn record_exact_copy(
        &self,
        source: &Source,
        c: &Candidate,
        hash: &str,
        report: &mut SourceReport,
    ) -> anyhow::Result<bool> {
        let Some(owner) = store::live_hash_owner(self.storage, hash).await? else {
            return Ok(false);
        };
        store::insert_duplicate(
            self.storage,
            &c.canonical,
            owner,
            &source.cfg.name,
            self.run_id,
        )
        .await?;
        report.duplicates_exact += 1;
        Ok(true)
    }

    /// Stores one candidate with its links; returns the links if it was a
    /// new article.
    async fn store_one(
        &self,
        source: &Source,
        c: &Candidate,
        linker: &Linker,
        prior: &[i64],
        clusters: &mut Clusters,
        report: &mut SourceReport,
    ) -> anyhow::Result<Option<Vec<Link>>> {
        let e = &c.entry;
        let text_body = e.body.as_deref().or(e.summary.as_deref()).unwrap_or("");
        let hash = dedup::content_hash(&e.title, text_body);
        if self.record_exact_copy(source, c, &hash, report).await? {
            return Ok(None);
        }
        let links = linker.link(&ArticleText {
            title: &e.title,
            summary: e.summary.as_deref().unwrap_or(""),
            body: e.body.as_deref().unwrap_or(""),
            source_stocks: prior,
        });
        let mut stocks: Vec<i64> = links.iter().map(|l| l.stock_id).collect();
        stocks.sort_unstable();
        let sketch = dedup::minhash64(&format!("{} {}", e.title, text_body));
        // A time in the future is a source error; point-in-time retrieval
        // must never see an article before it was seen.
        let (published_at, inferred) = match e.published {
            Some(p) if p <= c.fetched_at + Duration::minutes(5) => (p, false),
            _ => (c.fetched_at, true),
        };
        let near = clusters.head_for(sketch, published_at, &stocks);
        let full = format!(
            "{} {} {}",
            e.title,
            e.summary.as_deref().unwrap_or(""),
            e.body.as_deref().unwrap_or("")
        );
        let (language, confidence) = detect_language(&full, e.language.as_deref(), source);
        let article = NewArticle {
            canonical_url: c.canonical.clone(),
            url: e.url.clone(),
            source: source.cfg.name.clone(),
            title: e.title.clone(),
            summary: e.summary.clone(),
            body: e.body.clone(),
            language,
            language_confidence: confidence,
            published_at,
            published_inferred: inferred,
            fetched_at: c.fetched_at,
            content_hash: hash.clone(),
            dup_sketch: sketch,
            near_duplicate_of: near,
        };
        let stored = store::insert_article(
            self.storage,
            &article,
            &links,
            super::link::RULES_VERSION,
            self.run_id,
        )
        .await?;
        match stored {
            Some(id) => {
                if near.is_some() {
                    report.duplicates_near += 1;
                } else {
                    clusters.add(id, sketch, published_at, stocks);
                }
                report.new += 1;
                Ok(Some(links))
            }
            None => {
                // Stored meanwhile (same URL or same content in this batch).
                if !self.record_exact_copy(source, c, &hash, report).await? {
                    report.known += 1;
                }
                Ok(None)
            }
        }
    }
}

/// The near-duplicate clusters a new article may join: their heads'
/// sketches, publication times and linked stocks.
///
/// Close text alone is not the same story. Wires write many briefs from
/// one template ("X beats estimates, shares rise"), and two of them can
/// sketch within the threshold. Merged, the later one would never be
/// embedded or predicted. So a head matches only when it was published
/// within the window of the article (either side: one pass over a backlog
/// stores sources in config order, not by time) and is about at least one
/// of the same stocks, or both are about none. A syndicated copy follows
/// its story within hours and names the stocks it names.
struct Clusters {
    index: NearDupIndex,
    window: Duration,
    heads: HashMap<i64, Head>,
}

struct Head {
    published_at: DateTime<Utc>,
    /// Ascending.
    stocks: Vec<i64>,
}

impl Clusters {
    fn new(max_distance: u32, window: Duration) -> Clusters {
        Clusters {
            index: NearDupIndex::new(max_distance),
            window,
            heads: HashMap::new(),
        }
    }

    /// Adds a cluster head; `stocks` ascending.
    fn add(&mut self, id: i64, sketch: u64, published_at: DateTime<Utc>, stocks: Vec<i64>) {
        self.index.insert(id, sketch);
        self.heads.insert(
            id,
            Head {
                published_at,
                stocks,
            },
        );
    }

    /// The closest head within the threshold and the window about the
    /// same stocks.
    fn head_for(&self, sketch: u64, published_at: DateTime<Utc>, stocks: &[i64]) -> Option<i64> {
        self.index
            .find_where(sketch, |id| {
                self.heads.get(&id).is_some_and(|h| {
                    (h.published_at - published_at).abs() <= self.window
                        && shares_a_stock(&h.stocks, stocks)
                })
            })
            .map(|(id, _)| id)
    }
}

/// Both about no stock, or about at least one common stock (both sorted).
fn shares_a_stock(a: &[i64], b: &[i64]) -> bool {
    if a.is_empty() && b.is_empty() {
        return true;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// whatlang's guess when it is reliable, else the source's hint.
fn detect_language(
    text: &str,
    entry_hint: Option<&str>,
    source: &Source,
) -> (Option<String>, Option<f64>) {
    match whatlang::detect(text) {
        Some(info) if info.is_reliable() => (
            Some(iso639_1(info.lang()).to_string()),
            Some(info.confidence()),
        ),
        guess => (
            entry_hint
                .or(source.cfg.language.as_deref())
                .map(str::to_string)
                .or_else(|| guess.as_ref().map(|g| iso639_1(g.lang()).to_string())),
            guess.as_ref().map(|g| g.confidence()),
        ),
    }
}

/// Two-letter codes for the languages our sources write in; whatlang's
/// three-letter code for the rest.
fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang;
    match lang {
        Lang::Kor => "ko",
        Lang::Eng => "en",
        Lang::Jpn => "ja",
        Lang::Cmn => "zh",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        other => other.code(),
    }
}

/// Lists one source and reads its new articles.
async fn gather(fetcher: &Fetcher, storage: &Storage, source: &Source, max: usize) -> Gathered {
    let mut g = Gathered {
        candidates: vec![],
        validators: None,
        report: SourceReport {
            source: source.cfg.name.clone(),
            ..Default::default()
        },
        warnings: vec![],
    };
    if let Err(e) = gather_into(fetcher, storage, source, max, &mut g).await {
        g.candidates.clear();
        g.validators = None;
        g.report.failed = Some(format!("{e:#}"));
    }
    g
}

async fn gather_into(
    fetcher: &Fetcher,
    storage: &Storage,
    source: &Source,
    max: usize,
    g: &mut Gathered,
) -> anyhow::Result<()> {
    let name = &source.cfg.name;
    let (entries, base) = match &source.location {
        Location::Http(url) => {
            let validators = store::validators(storage, url.as_str()).await?;
            let fetched = fetcher
                .fetch(FetchRequest {
                    url,
                    validators: validators.as_ref(),
                    allow_private_host: source.cfg.allow_private,
                })
                .await?;
            match fetched {
                Fetched::NotModified => {
                    g.report.not_modified = true;
                    return Ok(());
                }
                Fetched::Page {
                    final_url,
                    status,
                    text,
                    validators,
                    ..
                } => {
                    let entries = parse_list_or_feed(source, text.as_bytes(), &text, &final_url)?;
                    g.validators = Some((url.to_string(), validators, status));
                    (entries, final_url)
                }
            }
        }
        Location::File(path) => {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let abs = std::path::absolute(path)?;
            let base = Url::from_file_path(&abs)
                .map_err(|()| anyhow::anyhow!("{}: not an absolute path", abs.display()))?;
            let text = charset::decode(&bytes, None).text;
            (parse_list_or_feed(source, &bytes, &text, &base)?, base)
        }
    };
    g.report.fetched = entries.len() as u64;

    // Canonical URLs; drop bad ones, repeats within the list and known ones.
    let mut seen = HashSet::new();
    let mut fresh = vec![];
    for e in entries.into_iter().take(max) {
        match canonical_url(&e.url, Some(&base)) {
            Ok(c) if seen.insert(c.clone()) => fresh.push((c, e)),
            Ok(_) => {}
            Err(err) => {
                g.report.invalid += 1;
                g.warnings.push(format!("source {name}: {err}"));
            }
        }
    }
    let urls: Vec<String> = fresh.iter().map(|(c, _)| c.clone()).collect();
    let known = store::known_urls(storage, &urls).await?;
    for (canonical, mut entry) in fresh {
        if known.contains(&canonical) {
            g.report.known += 1;
            continue;
        }
        if source.cfg.fetch_body && entry.body.is_none() {
            match article_body(fetcher, source, &base, &entry.url).await {
                Ok(Some(body)) => entry.body = Some(body),
                Ok(None) => {
                    g.report.bodies_failed += 1;
                    g.warnings.push(format!(
                        "source {name}: {}: no article body found",
                        entry.url
                    ));
                }
                Err(e) => {
                    // The entry is kept (title and summary are news too).
                    g.report.bodies_failed += 1;
                    g.warnings.push(format!("source {name}: {e:#}"));
                }
            }
        }
        g.candidates.push(Candidate {
            entry,
            canonical,
            fetched_at: Utc::now(),
        });
    }
    Ok(())
}

fn parse_list_or_feed(
    source: &Source,
    bytes: &[u8],
    text: &str,
    base: &Url,
) -> anyhow::Result<Vec<Entry>> {
    Ok(match (source.cfg.kind, &source.selectors) {
        (SourceKind::Feed, _) => parse::parse_feed(bytes, base)?,
        (SourceKind::Html, Some(sel)) => parse::parse_list(text, base, sel)?,
        (SourceKind::Html, None) => anyhow::bail!("no list selectors"),
    })
}

/// An article page's body, over HTTP(S) only; only an `allow_private`
/// source's own host may be a private address. (A file source's links
/// point at live sites: its bodies are fetched like any other.)
async fn article_body(
    fetcher: &Fetcher,
    source: &Source,
    base: &Url,
    link: &str,
) -> anyhow::Result<Option<String>> {
    let url = base
        .join(link)
        .map_err(|e| anyhow::anyhow!("{link}: bad article URL: {e}"))?;
    let selector = source.body.as_ref();
    match url.scheme() {
        "http" | "https" => {
            let same_host = match &source.location {
                Location::Http(list) => url.host_str() == list.host_str(),
                Location::File(_) => false,
            };
            match fetcher
                .fetch(FetchRequest {
                    url: &url,
                    validators: None,
                    allow_private_host: source.cfg.allow_private && same_host,
                })
                .await?
            {
                Fetched::Page { text, .. } => Ok(parse::extract_body(&text, selector)),
                Fetched::NotModified => Ok(None),
            }
        }
        scheme => anyhow::bail!("{url}: {scheme} links are not followed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_near_copy_joins_a_head_only_about_the_same_stocks_and_time() {
        let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap();
        let mut c = Clusters::new(6, Duration::days(3));
        let sketch = dedup::minhash64("Samsung Electronics beats estimates as chip sales rise");
        c.add(10, sketch, day(10), vec![1]);
        c.add(11, sketch ^ 0b11, day(10), vec![]);
        // Same text shape, another company: a story of its own.
        assert_eq!(c.head_for(sketch, day(10), &[2]), None);
        // A copy naming the same stock (and one more) is the same story,
        // published after it or (crawled out of order) before it.
        assert_eq!(c.head_for(sketch, day(11), &[1, 3]), Some(10));
        assert_eq!(c.head_for(sketch, day(7), &[1]), Some(10));
        // The same brief about the same stock a week later: another story.
        assert_eq!(c.head_for(sketch, day(17), &[1]), None);
        // About no stock: only a head about no stock matches.
        assert_eq!(c.head_for(sketch, day(10), &[]), Some(11));
        // Beyond the threshold nothing matches, stocks or not.
        assert_eq!(c.head_for(!sketch, day(10), &[1]), None);
    }

    #[test]
    fn shares_a_stock_walks_both_sorted_lists() {
        assert!(shares_a_stock(&[], &[]));
        assert!(!shares_a_stock(&[], &[1]));
        assert!(!shares_a_stock(&[1, 3, 5], &[2, 4, 6]));
        assert!(shares_a_stock(&[1, 3, 5], &[0, 5]));
        assert!(shares_a_stock(&[7], &[1, 2, 7]));
    }
}
