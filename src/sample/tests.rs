//! The sample read back through tickerd's own readers: the `files`
//! provider and bar validation, the news parser, the linker and the
//! near-duplicate sketch, and the planted effect recovered from the files.

use super::*;
use crate::market::providers::files::Files;
use crate::market::providers::FetchRequest;
use crate::market::validate::{self, Context};
use crate::market::{Interval, RawBar};
use crate::news::config::{CrawlConfig, Location, SourceKind};
use crate::news::link::{ArticleText, LinkRules, Linker, StockEntry};
use crate::news::parse::{self, Entry};
use crate::news::{dedup, impact};
use crate::time::Calendar;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tempfile::TempDir;

fn calendars() -> Calendars {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/calendars");
    let (cals, problems) = Calendars::load_dir(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    cals
}

/// A generated sample in a fresh folder; `news_sources.toml` names the
/// folder by its absolute path.
fn generated(seed: u64) -> (TempDir, Summary) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().to_string_lossy().to_string();
    let summary = generate(
        &Options {
            seed,
            out: dir.path(),
            sources_prefix: &prefix,
        },
        &calendars(),
    )
    .unwrap();
    (dir, summary)
}

/// Every file under `root` (relative path → bytes).
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_does_not() {
    let cals = calendars();
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            seed,
            out: dir.path(),
            sources_prefix: "data/sample",
        };
        generate(&opts, &cals).unwrap();
        dir
    };
    let (a, b, c) = (run(42), run(42), run(43));
    let (ta, tb, tc) = (tree(a.path()), tree(b.path()), tree(c.path()));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (path, bytes) in &ta {
        assert!(
            tb[path] == *bytes,
            "{path} differs between two runs of seed 42"
        );
    }
    assert_ne!(ta, tc, "seed 43 wrote what seed 42 wrote");
    assert_ne!(
        ta["market/1d/XKRX/990010.csv"],
        tc["market/1d/XKRX/990010.csv"]
    );
    assert_ne!(ta["truth/news.csv"], tc["truth/news.csv"]);

    // A rerun into the same folder rewrites the same files, and removes
    // what the previous manifest listed that it no longer writes.
    std::fs::write(a.path().join("notes.txt"), "mine").unwrap();
    let stale = a.path().join("news/synth-wire-99.xml");
    std::fs::write(&stale, "old").unwrap();
    let manifest = std::fs::read_to_string(a.path().join("manifest.json")).unwrap();
    let manifest = manifest.replace(
        "\"files\": [",
        "\"files\": [\n    {\"path\": \"news/synth-wire-99.xml\", \"bytes\": 3},",
    );
    std::fs::write(a.path().join("manifest.json"), manifest).unwrap();
    generate(
        &Options {
            seed: 42,
            out: a.path(),
            sources_prefix: "data/sample",
        },
        &cals,
    )
    .unwrap();
    assert!(!stale.exists());
    let mut again = tree(a.path());
    assert_eq!(again.remove("notes.txt").as_deref(), Some(&b"mine"[..]));
    assert!(
        again == tb,
        "a rerun into the same folder wrote other bytes"
    );
}

/// The committed `data/sample/` is exactly what `tickerd sample generate
/// --seed 42` writes: a generator change that is not regenerated and
/// committed (or a hand edit of the data) fails here, not in a newcomer's
/// first run.
#[test]
fn the_committed_sample_is_seed_42s_output() {
    let dir = tempfile::tempdir().unwrap();
    generate(
        &Options {
            seed: 42,
            out: dir.path(),
            sources_prefix: "data/sample",
        },
        &calendars(),
    )
    .unwrap();
    let fresh = tree(dir.path());
    let committed = tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample"));
    let only_committed: Vec<_> = committed
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .collect();
    let only_fresh: Vec<_> = fresh
        .keys()
        .filter(|k| !committed.contains_key(*k))
        .collect();
    assert!(
        only_committed.is_empty() && only_fresh.is_empty(),
        "files only in data/sample: {only_committed:?}; only in seed 42's output: {only_fresh:?} \
         (run `tickerd sample generate --seed 42` and commit data/sample)"
    );
    let differ: Vec<_> = fresh
        .iter()
        .filter(|(path, bytes)| committed[*path] != **bytes)
        .map(|(path, _)| path)
        .collect();
    assert!(
        differ.is_empty(),
        "data/sample differs from seed 42's output in {differ:?} \
         (run `tickerd sample generate --seed 42` and commit data/sample)"
    );
}

#[test]
fn the_sample_is_a_few_megabytes_and_the_manifest_lists_every_file() {
    let (dir, summary) = generated(42);
    let files = tree(dir.path());
    let total: usize = files.values().map(Vec::len).sum();
    assert!(total < 7_000_000, "{total} bytes");
    assert_eq!(total as u64, summary.bytes());
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let listed: BTreeSet<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let on_disk: BTreeSet<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|p| *p != "manifest.json")
        .collect();
    assert_eq!(listed, on_disk);
    assert_eq!(manifest["seed"], 42);
    assert_eq!(manifest["planted"]["effect_pct"], 2.0);
    assert_eq!(manifest["planted"]["weaken_from"], "2026-10-05");
    let c = &summary.counts;
    assert_eq!(c.stocks, 20);
    assert!((4_000..=6_000).contains(&c.news_items), "{c:?}");
    assert!(c.duplicates > 100 && c.multi_stock_items > 100 && c.korean_items > 300);
    assert_eq!(manifest["counts"]["news_items"], c.news_items);
}

#[test]
fn the_universe_parses_as_a_ticker_master() {
    let (dir, _) = generated(42);
    let path = dir.path().join("universe.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (rows, problems) = crate::market::stocks::parse_universe(&path, &text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(rows.len(), 20);
    let krx: Vec<_> = rows.iter().filter(|r| r.exchange == "XKRX").collect();
    assert_eq!(krx.len(), 12);
    assert!(krx
        .iter()
        .all(|r| r.code.len() == 6 && r.code.bytes().all(|b| b.is_ascii_digit())));
    assert!(krx
        .iter()
        .all(|r| r.aliases.len() == 2 && r.currency == "KRW"));
    assert!(rows
        .iter()
        .all(|r| r.active && (1..=3).contains(&r.priority)));
}

fn request(stock: &SampleStock, cal: &Calendar, interval: Interval) -> FetchRequest {
    FetchRequest {
        exchange: stock.exchange.into(),
        code: stock.code.into(),
        symbol: stock.code.into(),
        tz: cal.tz,
        interval,
        from: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
    }
}

/// A stock's bars through the `files` provider, validated: none rejected.
async fn read_bars(
    dir: &Path,
    stock: &SampleStock,
    cal: &Calendar,
    interval: Interval,
) -> Vec<validate::Bar> {
    let files = Files {
        pattern: format!(
            "{}/market/{{interval}}/{{exchange}}/{{code}}.csv",
            dir.display()
        ),
    };
    let fetched = files.fetch(&request(stock, cal, interval)).await.unwrap();
    assert!(fetched.unparsed.is_empty(), "{:?}", fetched.unparsed);
    let raw: Vec<RawBar> = fetched.bars;
    let n = raw.len();
    let checked = validate::validate(
        raw,
        &Context {
            interval,
            calendar: Some(cal),
            tz: cal.tz,
            previous_close: None,
        },
    )
    .unwrap();
    assert!(
        checked.rejected.is_empty(),
        "{} {interval}: {:?}",
        stock.key(),
        &checked.rejected[..checked.rejected.len().min(3)]
    );
    assert_eq!(checked.bars.len(), n);
    checked.bars
}

#[tokio::test(flavor = "multi_thread")]
async fn bars_read_back_through_the_files_provider_and_validate() {
    let (dir, _) = generated(42);
    let cals = calendars();
    for stock in &STOCKS {
        let cal = cals.get(stock.exchange).unwrap();
        let daily = read_bars(dir.path(), stock, cal, Interval::D1).await;
        let dates: Vec<NaiveDate> = daily.iter().map(|b| b.trading_date).collect();
        // Every trading day of the calendar from its first day, and nothing else.
        let expected: Vec<NaiveDate> = cal
            .valid_from
            .iter_days()
            .take_while(|d| *d <= END_SESSION)
            .filter(|d| cal.is_trading_day(*d))
            .collect();
        assert_eq!(dates, expected, "{}", stock.key());
        assert!(dates.len() > 450);
        assert_eq!(dates.last(), Some(&END_SESSION));
        for b in &daily {
            assert!(b.low <= b.open.min(b.close) && b.open.max(b.close) <= b.high);
            assert!(b.volume > 0 && b.low > 0.0);
            if stock.is_krx() {
                assert_eq!(b.close.fract(), 0.0, "KRW prices are whole won");
            }
        }

        let minutes = read_bars(dir.path(), stock, cal, Interval::M1).await;
        let mut by_day: BTreeMap<NaiveDate, Vec<&validate::Bar>> = BTreeMap::new();
        for m in &minutes {
            by_day.entry(m.trading_date).or_default().push(m);
        }
        assert_eq!(
            by_day.keys().copied().collect::<Vec<_>>(),
            dates[dates.len() - MINUTE_SESSIONS..]
        );
        for (day, bars) in &by_day {
            let (open, close) = cal.session(*day).unwrap();
            assert_eq!(bars.len() as i64, (close - open).num_minutes());
            assert_eq!(bars[0].ts, open);
            let d = daily.iter().find(|b| b.trading_date == *day).unwrap();
            let high = bars.iter().map(|b| b.high).fold(f64::MIN, f64::max);
            let low = bars.iter().map(|b| b.low).fold(f64::MAX, f64::min);
            let volume: i64 = bars.iter().map(|b| b.volume).sum();
            let agg = (bars[0].open, high, low, bars[bars.len() - 1].close, volume);
            assert_eq!(
                agg,
                (d.open, d.high, d.low, d.close, d.volume),
                "{} {day}",
                stock.key()
            );
        }
    }
}

/// The generated news as the crawler reads it: every source of
/// `news_sources.toml`, parsed, in config order, with the answer key.
struct News {
    /// (source name, entry)
    entries: Vec<(String, Entry)>,
    truth: HashMap<String, Truth>,
    linker: Linker,
    /// Stock id (universe order) → `EXCHANGE:CODE`.
    keys: Vec<String>,
}

#[derive(Debug, Clone)]
struct Truth {
    story: usize,
    copy: bool,
    stocks: BTreeSet<String>,
    sentiment: i8,
    target: NaiveDate,
    published: DateTime<Utc>,
}

fn read_news(dir: &Path) -> News {
    let text = std::fs::read_to_string(dir.join("news_sources.toml")).unwrap();
    let cfg: CrawlConfig = toml::from_str(&text).unwrap();
    let sources = cfg.sources(Path::new("/")).unwrap();
    assert!(sources.len() >= 8, "{}", sources.len());
    assert!(sources.iter().any(|s| s.cfg.kind == SourceKind::Html));
    let mut entries = vec![];
    for s in &sources {
        let Location::File(path) = &s.location else {
            panic!("{} is not a file", s.cfg.name)
        };
        let bytes = std::fs::read(path).unwrap();
        let base = url::Url::from_file_path(path).unwrap();
        let parsed = match s.cfg.kind {
            SourceKind::Feed => parse::parse_feed(&bytes, &base).unwrap(),
            SourceKind::Html => {
                let text = String::from_utf8(bytes).unwrap();
                parse::parse_list(&text, &base, s.selectors.as_ref().unwrap()).unwrap()
            }
        };
        assert!(parsed.len() <= feeds::MAX_ITEMS_PER_FILE);
        entries.extend(parsed.into_iter().map(|e| (s.cfg.name.clone(), e)));
    }
    let universe = std::fs::read_to_string(dir.join("universe.csv")).unwrap();
    let (rows, _) = crate::market::stocks::parse_universe(Path::new("universe.csv"), &universe);
    let stock_entries: Vec<StockEntry> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| StockEntry {
            id: i as i64,
            exchange: r.exchange.clone(),
            code: r.code.clone(),
            name: r.name.clone(),
            aliases: r.aliases.clone(),
            active: r.active,
        })
        .collect();
    News {
        entries,
        truth: read_truth(&dir.join("truth/news.csv")),
        linker: Linker::new(&stock_entries, &LinkRules::default()),
        keys: rows
            .iter()
            .map(|r| format!("{}:{}", r.exchange, r.code))
            .collect(),
    }
}

fn read_truth(path: &Path) -> HashMap<String, Truth> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let t = Truth {
                story: r[0].parse().unwrap(),
                copy: &r[1] == "1",
                stocks: r[6].split(';').map(String::from).collect(),
                sentiment: r[7].parse().unwrap(),
                target: r[8].parse().unwrap(),
                published: r[4].parse().unwrap(),
            };
            (r[3].to_string(), t)
        })
        .collect()
}

impl News {
    fn linked(&self, e: &Entry) -> BTreeSet<String> {
        self.linker
            .link(&ArticleText {
                title: &e.title,
                summary: e.summary.as_deref().unwrap_or(""),
                body: e.body.as_deref().unwrap_or(""),
                source_stocks: &[],
            })
            .iter()
            .map(|l| self.keys[l.stock_id as usize].clone())
            .collect()
    }
}

fn full_text(e: &Entry) -> String {
    format!("{} {}", e.title, e.summary.as_deref().unwrap_or(""))
}

#[test]
fn feeds_parse_link_to_their_stocks_and_carry_their_tone_and_time() {
    let (dir, summary) = generated(42);
    let news = read_news(dir.path());
    let cals = calendars();
    assert_eq!(news.entries.len(), summary.counts.news_items);
    assert_eq!(news.truth.len(), summary.counts.news_items);
    let (mut exact, mut korean) = (0, 0);
    for (source, e) in &news.entries {
        let t = news
            .truth
            .get(&e.url)
            .unwrap_or_else(|| panic!("{source}: {} is not in the answer key", e.url));
        if news.linked(e) == t.stocks {
            exact += 1;
        }
        korean += usize::from(source.contains("-kr-"));
        // The tone is in the words, and only one tone.
        let score = crate::news::sentiment::score(&full_text(e));
        assert_eq!(score, Some(f64::from(t.sentiment)), "{}", full_text(e));
        // Published as the key says, after the last close before the
        // target session and before it opens.
        assert_eq!(e.published, Some(t.published), "{}", e.url);
        let exchange = t.stocks.iter().next().unwrap().split(':').next().unwrap();
        let cal = cals.get(exchange).unwrap();
        let reference = impact::reference_session(cal, t.published).unwrap();
        assert_eq!(impact::sessions_after(cal, reference, 1), vec![t.target]);
        assert!(t.published < cal.session(t.target).unwrap().0);
    }
    let share = exact as f64 / news.entries.len() as f64;
    assert!(
        share >= 0.9,
        "only {exact} of {} items link to exactly their stocks",
        news.entries.len()
    );
    assert_eq!(korean, summary.counts.korean_items);
    println!(
        "{exact} of {} items link to exactly their stocks",
        news.entries.len()
    );
}

#[test]
fn syndicated_copies_cluster_with_their_story_and_other_stories_stay_apart() {
    let (dir, _) = generated(42);
    let news = read_news(dir.path());
    // As the crawler does: one sketch of title + summary per entry, in
    // crawl order, each joining the closest earlier representative.
    let sketches: Vec<(i64, u64)> = news
        .entries
        .iter()
        .enumerate()
        .map(|(i, (_, e))| (i as i64, dedup::minhash64(&full_text(e))))
        .collect();
    let clusters = dedup::cluster(&sketches, dedup::MINHASH_MAX_DISTANCE);
    let story = |i: i64| news.truth[&news.entries[i as usize].1.url].story;
    let (mut copies, mut clustered, mut merged) = (0, 0, 0);
    for (i, &c) in clusters.iter().enumerate() {
        let t = &news.truth[&news.entries[i].1.url];
        if c != i as i64 && story(c) != t.story {
            merged += 1;
        }
        if t.copy {
            copies += 1;
            // The copy and its original share a cluster, whichever came first.
            let original = news
                .entries
                .iter()
                .position(|(_, e)| {
                    let o = &news.truth[&e.url];
                    o.story == t.story && !o.copy
                })
                .unwrap();
            if clusters[original] == c {
                clustered += 1;
            }
        }
    }
    println!("{clustered} of {copies} copies clustered; {merged} items merged into another story");
    assert!(
        clustered as f64 >= 0.9 * copies as f64,
        "{clustered} of {copies}"
    );
    assert!(
        (merged as f64) < 0.02 * news.entries.len() as f64,
        "{merged}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planted_effect_is_recoverable_from_the_files() {
    let (dir, _) = generated(42);
    let news = read_news(dir.path());
    let cals = calendars();
    // Closes by stock and date, through the files provider.
    let mut closes: HashMap<String, BTreeMap<NaiveDate, f64>> = HashMap::new();
    for stock in &STOCKS {
        let cal = cals.get(stock.exchange).unwrap();
        let bars = read_bars(dir.path(), stock, cal, Interval::D1).await;
        closes.insert(
            stock.key(),
            bars.iter().map(|b| (b.trading_date, b.close)).collect(),
        );
    }
    // Each (stock, session after publication) once, with the tone the
    // words carry; copies and repeats collapse into one.
    let mut events: BTreeMap<(String, NaiveDate), (NaiveDate, i8)> = BTreeMap::new();
    for (_, e) in &news.entries {
        let tone = crate::news::sentiment::score(&full_text(e))
            .unwrap()
            .signum() as i8;
        for key in news.linked(e) {
            let cal = cals.get(key.split(':').next().unwrap()).unwrap();
            let reference = impact::reference_session(cal, e.published.unwrap()).unwrap();
            let next = impact::sessions_after(cal, reference, 1)[0];
            events.insert((key, next), (reference, tone));
        }
    }
    // Mean next-session return after positive minus after negative news.
    let spread = |after_weakening: bool| {
        let mut sums = [(0.0, 0usize); 2];
        for ((key, next), (reference, tone)) in &events {
            if (*next >= PLANTED.weaken_from) != after_weakening {
                continue;
            }
            let c = &closes[key];
            let r = (c[next] / c[reference] - 1.0) * 100.0;
            let side = usize::from(*tone > 0);
            sums[side].0 += r;
            sums[side].1 += 1;
        }
        let mean = |(s, n): (f64, usize)| s / n as f64;
        (mean(sums[1]) - mean(sums[0]), sums[0].1 + sums[1].1)
    };
    let (before, n_before) = spread(false);
    let (after, n_after) = spread(true);
    println!("positive − negative: {before:.3} points over {n_before} events before, {after:.3} over {n_after} after");
    // 2 × 2 = 4 before (standard error ≈ 0.05); 2 × 0.4 = 0.8 after
    // (standard error ≈ 0.15 on ~400 events).
    assert!((before - 4.0).abs() < 0.3, "{before}");
    assert!((after - 0.8).abs() < 0.6 && after < before / 2.0, "{after}");
    assert!(n_before > 1_500 && n_after > 80);
}

#[test]
fn every_template_renders_with_one_tone_and_no_placeholder_left() {
    let mut rng = Rng64::stream(1, "templates");
    let local = NaiveDate::from_ymd_opt(2026, 5, 12)
        .unwrap()
        .and_hms_opt(17, 30, 0)
        .unwrap();
    for (a, b) in [(0, 1), (12, 13), (2, 7)] {
        let mentions = [
            text::Mention {
                stock: &STOCKS[a],
                close: STOCKS[a].price,
            },
            text::Mention {
                stock: &STOCKS[b],
                close: STOCKS[b].price,
            },
        ];
        for lang in [text::Lang::En, text::Lang::Ko] {
            for n in [1, 2] {
                for positive in [true, false] {
                    for _ in 0..60 {
                        let t = text::render(lang, positive, &mentions[..n], local, &mut rng);
                        let copy = text::syndicate(lang, &t, &mut rng);
                        for t in [t, copy] {
                            let all = format!("{} {}", t.title, t.summary);
                            assert!(!all.contains('{') && !all.contains('}'), "{all}");
                            let want = if positive { 1.0 } else { -1.0 };
                            assert_eq!(crate::news::sentiment::score(&all), Some(want), "{all}");
                        }
                    }
                }
            }
        }
    }
}
