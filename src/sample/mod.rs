//! `tickerd sample generate`: a deterministic, offline sample market with a
//! planted news signal (issue #8).
//!
//! # Why
//!
//! Every job from ingestion to regression detection needs data to run on,
//! and tests and demos need data whose truth is known. This module invents
//! a small market — 20 made-up companies on XKRX and XNYS — with daily and
//! minute bars and a few thousand news items in which news sentiment moves
//! the next session's return by a known amount, and then weakens on a known
//! date. A model that learns the news effect should look good and then
//! regress; `regression_detect` should notice.
//!
//! # What it writes (under the output folder)
//!
//! - `universe.csv` — the ticker master, in the format of `jobs/universe.csv`.
//! - `market/1d/{EXCHANGE}/{code}.csv` — daily bars, `date,open,high,low,close,volume`,
//!   every session of the exchange calendar from 2025-01-02 (where the
//!   shipped calendars begin; two years back would be before them) to
//!   [`END_SESSION`] (2026-11-20).
//! - `market/1m/{EXCHANGE}/{code}.csv` — minute bars of the last
//!   [`MINUTE_SESSIONS`] sessions, `ts,open,high,low,close,volume`, `ts` in
//!   the exchange's local time; they agree exactly with those days' daily
//!   bars (open, high, low, close, volume).
//! - `news/*.xml`, `news/*.html` — RSS 2.0 and Atom feeds and HTML list
//!   pages of four invented outlets (English and Korean), and
//!   `news_sources.toml`, their `[[sources]]` for `jobs/news_crawl.toml`.
//! - `truth/news.csv` — the answer key: every item's story, stocks, tone,
//!   target session and planted effect.
//! - `README.md` and `manifest.json` — the seed, counts, planted parameters
//!   and every file with its size.
//!
//! # The planted facts ([`PLANTED`])
//!
//! Each story is positive or negative, names one or two stocks of one
//! exchange, and is published after one session's close and before the next
//! session (its *target*). The target session's close-to-close return of
//! each named stock is
//!
//! ```text
//! r = β·2%·sentiment + market + own,   market ~ N(0, 0.6%²), own ~ N(0, 1.375%²)
//! ```
//!
//! (noise σ 1.5% in all), with β = 1 for target sessions before
//! 2026-10-05 and β = 0.2 from that date: +2% / −2% before, +0.4% /
//! −0.4% after. So the mean return after positive news minus after
//! negative news is 4 points before the weakening date and 0.8 after.
//! That is strong on purpose: with 20 stocks, a 20-session recent window
//! holds ~400 predictions, and a news-reading model's hit rate must fall
//! by well over the ~3-point standard error of such a window for the
//! regression to be visible (at 0.8% and one story in five sessions, a
//! simulation of the detector found the drop in 7% of draws; at 2% and
//! one in two, in all of them).
//! Half the effect already shows in the open. Tone is written with the
//! words of tickerd's lexicon (`news::sentiment`) only.
//!
//! How much news ([`news::PLAN`]): each stock gets a story before a session
//! with probability 0.5 (at most one), 12% of stories name a second stock,
//! 15% are syndicated to a second outlet 10–90 minutes later (an added
//! byline or headline tag, close enough for the crawler's MinHash to
//! cluster them), and 60% of XKRX stories are in Korean. Items appear
//! 20 minutes to ~3 (XKRX) or ~5½ (XNYS) hours after the close, so before
//! `predict`'s nightly 21:00 KST cut-off for the target session.
//!
//! `predict`'s `baseline` model reads the tone through
//! `NewsSignal::news_sentiment`, filled by `news::sentiment`, the lexicon
//! the templates are written with; `news_impact` and the LLM prompt's
//! `{{news}}` / `{{similar}}` see it too.
//!
//! # Determinism
//!
//! Everything comes from the seed through `rand::rngs::StdRng`, one named
//! stream per part (stories, each stock's prices, its minutes, the text),
//! so the same seed writes byte-identical files with the same build (the
//! `rand` version is pinned by `Cargo.lock`). Normal draws are sums of
//! twelve uniforms (Irwin–Hall) and prices use only `+ − × ÷`, rounding and
//! square roots, which IEEE 754 defines exactly: no platform-dependent
//! `exp`/`ln`. Nothing reads the clock or the network.

mod docs;
pub mod feeds;
pub mod news;
pub mod prices;
pub mod text;
pub mod universe;

#[cfg(test)]
mod tests;

use crate::time::Calendars;
use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use news::{Market, Story};
use prices::{Bar, Minute, Quote};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use universe::{SampleStock, EXCHANGES, STOCKS};

/// Bumped whenever the same seed would write different files.
pub const GENERATOR_VERSION: &str = "1";
/// The last session of the sample (a Friday on both exchanges).
pub const END_SESSION: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 20) {
    Some(d) => d,
    None => panic!("valid date"),
};
/// How far back the sample reaches, at most (the calendars' start bounds it).
pub const HISTORY_DAYS: i64 = 730;
/// Sessions at the end that also get minute bars.
pub const MINUTE_SESSIONS: usize = 5;

/// The planted signal and the noise around it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Planted {
    /// Return (percent) a story adds to its target session: +E or −E.
    pub effect_pct: f64,
    /// The effect's multiplier for target sessions on or after `weaken_from`.
    pub weak_fraction: f64,
    pub weaken_from: NaiveDate,
    /// σ (percent) of the exchange-wide daily move.
    pub market_sd_pct: f64,
    /// σ (percent) of all daily noise (market and own together).
    pub noise_sd_pct: f64,
    /// Share of a story's effect already in the target session's open.
    pub open_gap_share: f64,
}

impl Planted {
    /// σ (percent) of a stock's own daily noise: √(noise² − market²).
    pub fn own_sd_pct(&self) -> f64 {
        (self.noise_sd_pct * self.noise_sd_pct - self.market_sd_pct * self.market_sd_pct).sqrt()
    }
}

pub const PLANTED: Planted = Planted {
    effect_pct: 2.0,
    weak_fraction: 0.2,
    weaken_from: match NaiveDate::from_ymd_opt(2026, 10, 5) {
        Some(d) => d,
        None => panic!("valid date"),
    },
    market_sd_pct: 0.6,
    noise_sd_pct: 1.5,
    open_gap_share: 0.5,
};

/// What to generate where.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub seed: u64,
    pub out: &'a Path,
    /// The output folder as `news_sources.toml` names it: the path the
    /// crawler will resolve (relative to where tickerd runs, or absolute).
    /// Kept apart from `out` so the files do not depend on where they were
    /// written.
    pub sources_prefix: &'a str,
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub stocks: usize,
    pub sessions_xkrx: usize,
    pub sessions_xnys: usize,
    pub daily_bars: usize,
    pub minute_bars: usize,
    pub minute_sessions: usize,
    pub stories: usize,
    pub positive_stories: usize,
    pub negative_stories: usize,
    pub news_items: usize,
    /// Syndicated copies (items that repeat another outlet's story).
    pub duplicates: usize,
    /// Items naming two stocks.
    pub multi_stock_items: usize,
    pub korean_items: usize,
    pub news_sources: usize,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub out: PathBuf,
    pub counts: Counts,
    /// Every file written (path under `out`, bytes), manifest.json last.
    pub files: Vec<(String, u64)>,
}

impl Summary {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, b)| b).sum()
    }
}

/// Generates the sample into `opts.out`. Files a previous run listed in
/// its `manifest.json` are removed first; nothing else there is touched.
pub fn generate(opts: &Options<'_>, calendars: &Calendars) -> anyhow::Result<Summary> {
    let markets = markets(calendars)?;
    let stories = news::select(&markets, &mut Rng64::stream(opts.seed, "stories"));
    let sent = news::sentiments(&stories, &markets, STOCKS.len());
    let mut bars = daily_bars(opts.seed, &markets, &sent);
    let minutes = minute_bars(opts.seed, &markets, &mut bars);
    let close = |s: usize, t: usize| bars[s][t].close as f64 / Quote::of(&STOCKS[s]).scale();
    let items = news::items(
        &stories,
        &markets,
        &STOCKS,
        close,
        &mut Rng64::stream(opts.seed, "text"),
    );
    let sources = feeds::files(&items);
    let counts = count(&markets, &stories, &items, &bars, &minutes, sources.len());

    let mut w = Writer::open(opts.out)?;
    w.write("universe.csv", &universe::universe_csv(&STOCKS))?;
    for (s, stock) in STOCKS.iter().enumerate() {
        let m = &markets[market_of(stock)];
        w.write(
            &bar_path("1d", stock),
            &prices::daily_csv(stock, &m.sessions, &bars[s]),
        )?;
        w.write(
            &bar_path("1m", stock),
            &prices::minute_csv(stock, m.cal.tz, &minutes[s]),
        )?;
    }
    for f in &sources {
        w.write(&f.path, &f.content)?;
    }
    w.write(
        "news_sources.toml",
        &feeds::sources_toml(opts.sources_prefix, &sources, opts.seed),
    )?;
    w.write(
        "truth/news.csv",
        &docs::truth_csv(&stories, &items, &markets),
    )?;
    let about = docs::About {
        seed: opts.seed,
        counts: &counts,
        markets: &markets,
        sources: &sources,
    };
    w.write("README.md", &docs::readme(&about))?;
    let manifest = docs::manifest(&about, &w.files)?;
    w.write("manifest.json", &manifest)?;
    Ok(Summary {
        out: opts.out.to_path_buf(),
        counts,
        files: w.files,
    })
}

/// The two exchanges with their sessions, from `END_SESSION` back to
/// `HISTORY_DAYS` or the calendar's first day, whichever is later.
fn markets(calendars: &Calendars) -> anyhow::Result<Vec<Market<'_>>> {
    EXCHANGES
        .iter()
        .map(|&exchange| {
            let cal = calendars.get(exchange).with_context(|| {
                format!("no {exchange} calendar ({exchange}.toml among the calendars)")
            })?;
            anyhow::ensure!(
                cal.covers(END_SESSION) && cal.is_trading_day(END_SESSION),
                "calendar {exchange} does not have {END_SESSION} as a session"
            );
            let start = cal
                .valid_from
                .max(END_SESSION - Duration::days(HISTORY_DAYS));
            let sessions: Vec<NaiveDate> = start
                .iter_days()
                .take_while(|d| *d <= END_SESSION)
                .filter(|d| cal.is_trading_day(*d))
                .collect();
            let stocks = (0..STOCKS.len())
                .filter(|&s| STOCKS[s].exchange == exchange)
                .collect();
            Ok(Market {
                exchange,
                cal,
                sessions,
                stocks,
            })
        })
        .collect()
}

/// Where the `files` provider finds a stock's bars: the pattern
/// `market/{interval}/{exchange}/{code}.csv` under the output folder.
pub fn bar_path(interval: &str, stock: &SampleStock) -> String {
    format!("market/{interval}/{}/{}.csv", stock.exchange, stock.code)
}

fn market_of(stock: &SampleStock) -> usize {
    EXCHANGES
        .iter()
        .position(|e| *e == stock.exchange)
        .expect("every sample stock is on a sample exchange")
}

/// Daily bars of every stock (universe order).
fn daily_bars(seed: u64, markets: &[Market<'_>], sent: &[Vec<i8>]) -> Vec<Vec<Bar>> {
    let moves: Vec<Vec<f64>> = markets
        .iter()
        .map(|m| {
            let mut rng = Rng64::stream(seed, &format!("market/{}", m.exchange));
            prices::market_moves(m.sessions.len(), &PLANTED, &mut rng)
        })
        .collect();
    STOCKS
        .iter()
        .enumerate()
        .map(|(s, stock)| {
            let m = market_of(stock);
            let mut rng = Rng64::stream(seed, &format!("prices/{}", stock.key()));
            prices::daily(
                stock,
                &markets[m].sessions,
                &sent[s],
                &moves[m],
                &PLANTED,
                &mut rng,
            )
        })
        .collect()
}

/// Minute bars of the last sessions of every stock; those days' daily bars
/// take their high, low and volume from the minutes.
fn minute_bars(seed: u64, markets: &[Market<'_>], bars: &mut [Vec<Bar>]) -> Vec<Vec<Minute>> {
    STOCKS
        .iter()
        .enumerate()
        .map(|(s, stock)| {
            let m = &markets[market_of(stock)];
            let mut rng = Rng64::stream(seed, &format!("minutes/{}", stock.key()));
            let first = m.sessions.len().saturating_sub(MINUTE_SESSIONS);
            let mut out = Vec::new();
            for (t, &day) in m.sessions.iter().enumerate().skip(first) {
                let Some((open, close)) = m.cal.session(day) else {
                    continue;
                };
                let n = (close - open).num_minutes() as usize;
                let (day, daily) = prices::minutes(stock, bars[s][t], open, n, &mut rng);
                bars[s][t] = daily;
                out.extend(day);
            }
            out
        })
        .collect()
}

fn count(
    markets: &[Market<'_>],
    stories: &[Story],
    items: &[news::Item],
    bars: &[Vec<Bar>],
    minutes: &[Vec<Minute>],
    sources: usize,
) -> Counts {
    let positive = stories.iter().filter(|s| s.positive).count();
    Counts {
        stocks: STOCKS.len(),
        sessions_xkrx: markets[0].sessions.len(),
        sessions_xnys: markets[1].sessions.len(),
        daily_bars: bars.iter().map(Vec::len).sum(),
        minute_bars: minutes.iter().map(Vec::len).sum(),
        minute_sessions: MINUTE_SESSIONS,
        stories: stories.len(),
        positive_stories: positive,
        negative_stories: stories.len() - positive,
        news_items: items.len(),
        duplicates: items.iter().filter(|i| i.copy).count(),
        multi_stock_items: items
            .iter()
            .filter(|i| stories[i.story].stocks.len() > 1)
            .count(),
        korean_items: items
            .iter()
            .filter(|i| i.outlet.lang() == text::Lang::Ko)
            .count(),
        news_sources: sources,
    }
}

/// Writes files under one folder and remembers what it wrote.
struct Writer {
    root: PathBuf,
    files: Vec<(String, u64)>,
}

impl Writer {
    /// Creates the folder and removes the files a previous run's manifest
    /// lists (so a rerun with other settings leaves nothing stale).
    fn open(root: &Path) -> anyhow::Result<Writer> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        remove_previous(root)?;
        Ok(Writer {
            root: root.to_path_buf(),
            files: Vec::new(),
        })
    }

    fn write(&mut self, rel: &str, content: &str) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        self.files.push((rel.to_string(), content.len() as u64));
        Ok(())
    }
}

fn remove_previous(root: &Path) -> anyhow::Result<()> {
    let manifest = root.join("manifest.json");
    let text = match std::fs::read_to_string(&manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", manifest.display())),
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    anyhow::ensure!(
        value["generator"] == docs::GENERATOR,
        "{} is not a sample manifest, so the folder holds something else (choose another --out)",
        manifest.display()
    );
    let listed = value["files"].as_array().cloned().unwrap_or_default();
    for f in listed {
        let Some(rel) = f["path"].as_str() else {
            continue;
        };
        let rel = Path::new(rel);
        // Only plain paths inside the folder: a hand-edited manifest must
        // not make us delete anything else.
        if rel.is_absolute() || rel.components().any(|c| c.as_os_str() == "..") {
            continue;
        }
        let path = root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    Ok(())
}

/// A seeded random stream with the few draws the generator needs.
pub struct Rng64(StdRng);

impl Rng64 {
    /// The stream `name` of `seed`: independent streams per part, so a
    /// change in how one part draws leaves the others as they were.
    pub fn stream(seed: u64, name: &str) -> Rng64 {
        // FNV-1a of the name, mixed into the seed.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Rng64(StdRng::seed_from_u64(seed ^ h))
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.random_range(lo..=hi)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.random_range(0..items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.0.random_range(0..=i);
            items.swap(i, j);
        }
    }

    /// Standard normal, as the sum of twelve uniforms minus six (exact
    /// arithmetic only; tails end at ±6, which suits invented prices).
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}
