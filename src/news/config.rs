//! `jobs/news_crawl.toml`: sources, politeness, dedup and linking rules.
//!
//! Checked as a whole before anything is fetched: every problem is reported
//! with the source's name, and a bad source stops the run (an operator's
//! typo must not silently drop a source).

use super::fetch::Politeness;
use super::link::LinkRules;
use super::parse::{CompiledSelectors, ListSelectors};
use serde::Deserialize;
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlConfig {
    #[serde(default)]
    pub politeness: Politeness,
    /// Bits within which two articles' MinHash sketches make them one story
    /// (see `news::dedup`: 6 finds 97% of syndicated copies with no false
    /// merges in `benches/news.rs`).
    #[serde(default = "default_near_dup_distance")]
    pub near_dup_distance: u32,
    /// A new article joins only a story published within this many days
    /// of it (either side).
    #[serde(default = "default_near_dup_window_days")]
    pub near_dup_window_days: i64,
    /// Entries taken from one source per run (newest first as listed).
    #[serde(default = "default_max_items")]
    pub max_items_per_source: usize,
    #[serde(default)]
    pub linking: LinkRules,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}

fn default_near_dup_distance() -> u32 {
    super::dedup::MINHASH_MAX_DISTANCE
}
fn default_near_dup_window_days() -> i64 {
    3
}
fn default_max_items() -> usize {
    500
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed.
    Feed,
    /// An HTML list page described by CSS selectors (`[sources.list]`).
    Html,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Stored as `news.source`; also the report's row name.
    pub name: String,
    pub kind: SourceKind,
    /// Where the feed or list page is: `https://…`, or a local file
    /// (`file:` or a plain path, relative to the project) for offline data.
    pub url: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Fetch each article's page and extract its body.
    #[serde(default)]
    pub fetch_body: bool,
    /// CSS selector of the body on article pages (else a readability-style
    /// guess).
    pub body_selector: Option<String>,
    /// Language hint when detection is unsure (`ko`, `en`).
    pub language: Option<String>,
    /// This source's own host may be a private or loopback address (an
    /// intranet feed); links and redirects elsewhere still may not.
    #[serde(default)]
    pub allow_private: bool,
    /// Stocks this source is about (a per-stock news page): `EXCHANGE:CODE`.
    #[serde(default)]
    pub stocks: Vec<String>,
    /// Selectors for `kind = "html"`.
    pub list: Option<ListSelectors>,
}

fn yes() -> bool {
    true
}

/// Where a source's list lives.
#[derive(Debug, Clone)]
pub enum Location {
    Http(Url),
    File(PathBuf),
}

/// A source checked and ready to crawl.
#[derive(Debug, Clone)]
pub struct Source {
    pub cfg: SourceConfig,
    pub location: Location,
    pub selectors: Option<CompiledSelectors>,
    /// `body_selector`, parsed.
    pub body: Option<scraper::Selector>,
}

impl CrawlConfig {
    /// Parses the job's parameters.
    pub fn from_table(params: &toml::Table) -> anyhow::Result<CrawlConfig> {
        let text = toml::to_string(params)?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("jobs/news_crawl.toml: {}", e.message()))
    }

    /// Every enabled source, checked; all problems at once.
    pub fn sources(&self, project_root: &std::path::Path) -> anyhow::Result<Vec<Source>> {
        let (sources, problems) = self.check(project_root);
        if problems.is_empty() {
            Ok(sources)
        } else {
            anyhow::bail!("jobs/news_crawl.toml: {}", problems.join("; "))
        }
    }

    /// The enabled sources that are valid, and every problem found.
    pub fn check(&self, project_root: &std::path::Path) -> (Vec<Source>, Vec<String>) {
        let mut problems = vec![];
        let mut names = std::collections::HashSet::new();
        let mut out = vec![];
        for s in &self.sources {
            let at = format!("source {:?}", s.name);
            if s.name.trim().is_empty() {
                problems.push(format!("{at}: empty name"));
            }
            if !names.insert(s.name.clone()) {
                problems.push(format!("{at}: name used twice"));
            }
            for st in &s.stocks {
                if st.split_once(':').is_none() {
                    problems.push(format!("{at}: stocks entry {st:?} is not EXCHANGE:CODE"));
                }
            }
            let location = match location(&s.url, project_root) {
                Ok(l) => l,
                Err(e) => {
                    problems.push(format!("{at}: url {:?}: {e}", s.url));
                    continue;
                }
            };
            let selectors = match (s.kind, &s.list) {
                (SourceKind::Html, None) => {
                    problems.push(format!(
                        "{at}: kind = \"html\" needs a [sources.list] table"
                    ));
                    None
                }
                (SourceKind::Html, Some(l)) => match l.compile() {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(format!("{at}: {e}"));
                        None
                    }
                },
                (SourceKind::Feed, Some(_)) => {
                    problems.push(format!("{at}: [sources.list] is only for kind = \"html\""));
                    None
                }
                (SourceKind::Feed, None) => None,
            };
            let body = match s.body_selector.as_deref().map(scraper::Selector::parse) {
                None => None,
                Some(Ok(sel)) => Some(sel),
                Some(Err(e)) => {
                    problems.push(format!(
                        "{at}: body_selector {:?} is invalid: {e}",
                        s.body_selector.as_deref().unwrap_or("")
                    ));
                    None
                }
            };
            if s.enabled {
                out.push(Source {
                    cfg: s.clone(),
                    location,
                    selectors,
                    body,
                });
            }
        }
        (out, problems)
    }
}

fn location(raw: &str, root: &std::path::Path) -> anyhow::Result<Location> {
    if let Some(path) = raw.strip_prefix("file:") {
        let path = path.trim_start_matches("//");
        return Ok(Location::File(root.join(path)));
    }
    if raw.contains("://") {
        let url = Url::parse(raw)?;
        return match url.scheme() {
            "http" | "https" => Ok(Location::Http(url)),
            other => anyhow::bail!("scheme {other:?} is not http, https or file"),
        };
    }
    Ok(Location::File(root.join(raw)))
}
