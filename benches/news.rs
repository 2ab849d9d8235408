//! News benchmark: stock linking and near-duplicate detection at backlog
//! scale, on one core, against the literal approaches they replace.
//!
//! Targets (issue #4): link 100,000 articles against 2,000 stocks with
//! aliases at ≥ 10,000 articles/s on one core; the near-duplicate pass
//! (SimHash + clustering) over 100,000 articles in ≤ 10 s.
//!
//! Data, generated from a fixed seed so every run measures the same thing:
//! * 2,000 stocks: 1,000 Korean (names from syllable lists plus a business
//!   suffix, 1–3 aliases: the English name, sometimes an abbreviation like
//!   `삼전`, sometimes a former name) and 1,000 US (ticker, `Name Inc.`,
//!   the short name and sometimes a Hangul transliteration); 2% inactive.
//! * 100,000 articles of ~1,500 characters (title, summary, body with a
//!   byline and an outlet footer), 60% Korean, 40% English, from a
//!   vocabulary of real finance words and seeded pseudo-words, mentioning
//!   0–4 stocks the way news does (`이름이`, `이름(005930)`, `$TICK`,
//!   `(NASDAQ: TICK)`, aliases). 10% are syndicated near-copies of an
//!   earlier original: another outlet's byline and footer, and sometimes a
//!   sentence added or dropped or the title tagged (`[속보]`, `UPDATE 1-`).
//!
//! Measured, each on this one thread:
//! * **linking**: `Linker::new`, then `Linker::link` over every article.
//!   Baseline: the original Python system ported literally (for each
//!   article, for each stock, for each of its name and aliases,
//!   `text.contains(alias)`, first hit wins) on the first 2,000 articles,
//!   as a rate. Quality, for both: planted stocks the rules should link on
//!   their own (active, named in the title by a name no other stock shares,
//!   or anywhere by code, cashtag or exchange symbol) and how many of them
//!   are linked; stocks only mentioned once in passing in the body (which
//!   `link.rs` deliberately does not link); links to stocks never planted.
//! * **near duplicates**, for `simhash` and for `minhash64` (the same
//!   features, one-permutation MinHash bits instead of SimHash's majority
//!   vote): the sketch of `title + " " + body` (what the crawler hashes)
//!   for every article, then `cluster` at the sketch's threshold, with
//!   recall of the planted copy → original pairs and false merges (an
//!   article put in the cluster of a different story), the distances of
//!   planted copies and of random unrelated pairs, and a sweep of
//!   thresholds. Baseline: all-pairs Hamming on the first 10,000 sketches,
//!   extrapolated quadratically to 100,000 (and checked to cluster exactly
//!   like `cluster`).
//! * **`content_hash`** over all articles, against raw BLAKE3 of the same
//!   bytes; **`canonical_url`** over 100,000 URLs (tracking parameters,
//!   fragments, relative links), against `Url::join` alone.
//!
//! One round each; the machine is shared, so rates move by ±30% between
//! runs while ratios within a run hold.
//!
//! Prints a Markdown table (ratios are against the baseline from the same
//! run) and writes it to `target/bench-news.md`.
//!
//! Run with `cargo bench --bench news` (about a minute on 2 cores).

use anyhow::{ensure, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
use tickerd::news::canon::canonical_url;
use tickerd::news::dedup::{
    cluster, content_hash, hamming, minhash64, simhash, DEFAULT_MAX_DISTANCE, MINHASH_MAX_DISTANCE,
};
use tickerd::news::link::{ArticleText, LinkRules, Linker, StockEntry};
use url::Url;

const SEED: u64 = 0x7469_636b_6572_6421;
const KOREAN_STOCKS: usize = 1_000;
const US_STOCKS: usize = 1_000;
const ARTICLES: usize = 100_000;
/// Share of articles that are syndicated near-copies of an earlier one.
const COPY_SHARE: f64 = 0.10;
/// Copies are of one of this many most recent originals (a day's news).
const COPY_WINDOW: usize = 5_000;
/// Target length of title + summary + body, in characters.
const ARTICLE_CHARS: usize = 1_500;
const LINK_BASELINE_SAMPLE: usize = 2_000;
const BRUTE_SAMPLE: usize = 10_000;
const TARGET_LINK_RATE: f64 = 10_000.0;
const TARGET_NEAR_DUP: Duration = Duration::from_secs(10);
/// Distances tried besides the default, to show the recall/precision trade.
const SWEEP: &[u32] = &[3, 4, 5, 6, 7, 8];

fn main() -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut report = Report::default();
    report.note(format!(
        "CPUs on this machine: {cpus}; everything below runs on one thread"
    ));

    let t = Instant::now();
    let mut gen = Gen::new(SEED);
    let stocks = gen.stocks();
    let articles = gen.articles(&stocks);
    let chars: usize = articles.iter().map(Article::chars).sum();
    report.note(format!(
        "generated {} stocks and {} articles ({} near-copies, {:.0} characters on average) in {:.1} s",
        stocks.len(),
        articles.len(),
        articles.iter().filter(|a| a.copy_of.is_some()).count(),
        chars as f64 / articles.len() as f64,
        t.elapsed().as_secs_f64()
    ));

    bench_linking(&stocks, &articles, &mut report);
    bench_near_dups(&articles, &mut report)?;
    bench_content_hash(&articles, &mut report);
    bench_canonical_url(&articles, &mut report)?;

    let md = report.markdown();
    println!("{md}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("locating the target folder")?
        .join("bench-news.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

// ---------------------------------------------------------------- linking

fn bench_linking(stocks: &[StockEntry], articles: &[Article], report: &mut Report) {
    let t = Instant::now();
    let linker = Linker::new(stocks, &LinkRules::default());
    let build = t.elapsed();
    report.row(Row::new("linker build (2,000 stocks)", secs(build), "s"));

    let t = Instant::now();
    let found: Vec<Vec<i64>> = articles
        .iter()
        .map(|a| {
            let links = linker.link(&a.text());
            links.iter().map(|l| l.stock_id).collect()
        })
        .collect();
    let elapsed = t.elapsed();
    let link_rate = rate(articles.len(), elapsed);

    let sample = &articles[..LINK_BASELINE_SAMPLE];
    let t = Instant::now();
    let base_found: Vec<Vec<i64>> = sample.iter().map(|a| contains_loop(stocks, a)).collect();
    let base_rate = rate(sample.len(), t.elapsed());

    report.row(
        Row::new("link 100,000 articles", count(link_rate), "articles/s")
            .baseline(format!(
                "{} articles/s (contains loop, 2,000 sample)",
                count(base_rate)
            ))
            .ratio(link_rate / base_rate)
            .target(
                "≥ 10,000 articles/s",
                link_rate >= TARGET_LINK_RATE,
                link_rate / TARGET_LINK_RATE,
            ),
    );
    report.row(Row::new(
        "link 100,000 articles: wall time",
        secs(elapsed),
        "s",
    ));
    link_quality(report, "tickerd", articles, &found);
    link_quality(report, "baseline (2,000 sample)", sample, &base_found);
    link_quality(
        report,
        "tickerd (same 2,000 sample)",
        sample,
        &found[..sample.len()],
    );
}

/// The original system, literally: every alias of every stock searched in
/// the whole text; a stock is linked by its first alias found.
fn contains_loop(stocks: &[StockEntry], a: &Article) -> Vec<i64> {
    let text = format!("{}\n{}\n{}", a.title, a.summary, a.body);
    let mut out = Vec::new();
    for s in stocks {
        for alias in std::iter::once(&s.name).chain(&s.aliases) {
            if text.contains(alias.as_str()) {
                out.push(s.id);
                break;
            }
        }
    }
    out
}

fn link_quality(report: &mut Report, who: &str, articles: &[Article], found: &[Vec<i64>]) {
    let (mut strong, mut strong_hit, mut weak, mut weak_hit) = (0usize, 0usize, 0usize, 0usize);
    let (mut links, mut unplanted) = (0usize, 0usize);
    for (a, f) in articles.iter().zip(found) {
        for m in &a.mentions {
            let linked = usize::from(f.contains(m));
            if a.strong.contains(m) {
                strong += 1;
                strong_hit += linked;
            } else {
                weak += 1;
                weak_hit += linked;
            }
        }
        links += f.len();
        unplanted += f.iter().filter(|id| !a.mentions.contains(id)).count();
    }
    report.row(Row::new(
        &format!("{who}: links made"),
        format!(
            "{} ({:.2}/article)",
            count(links as f64),
            links as f64 / articles.len() as f64
        ),
        "links",
    ));
    report.row(Row::new(
        &format!("{who}: title/code/cashtag mentions linked"),
        format!(
            "{} of {} ({})",
            count(strong_hit as f64),
            count(strong as f64),
            pct(strong_hit, strong)
        ),
        "stocks",
    ));
    report.row(Row::new(
        &format!("{who}: one-passing-body-mention stocks linked"),
        format!(
            "{} of {} ({})",
            count(weak_hit as f64),
            count(weak as f64),
            pct(weak_hit, weak)
        ),
        "stocks",
    ));
    report.row(Row::new(
        &format!("{who}: links to stocks not planted"),
        format!(
            "{} ({} of links)",
            count(unplanted as f64),
            pct(unplanted, links)
        ),
        "links",
    ));
}

// ------------------------------------------------------- near duplicates

/// A 64-bit sketch compared by Hamming distance.
struct Sketch {
    name: &'static str,
    hash: fn(&str) -> u64,
    max_distance: u32,
}

const SKETCHES: &[Sketch] = &[
    Sketch {
        name: "simhash",
        hash: simhash,
        max_distance: DEFAULT_MAX_DISTANCE,
    },
    Sketch {
        name: "minhash64",
        hash: minhash64,
        max_distance: MINHASH_MAX_DISTANCE,
    },
];

fn bench_near_dups(articles: &[Article], report: &mut Report) -> anyhow::Result<()> {
    for sketch in SKETCHES {
        near_dup_pass(sketch, articles, report)?;
    }
    Ok(())
}

fn near_dup_pass(sketch: &Sketch, articles: &[Article], report: &mut Report) -> anyhow::Result<()> {
    let name = sketch.name;
    let t = Instant::now();
    let items: Vec<(i64, u64)> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| (id_of(i), (sketch.hash)(&format!("{} {}", a.title, a.body))))
        .collect();
    let hashing = t.elapsed();

    let k = sketch.max_distance;
    let t = Instant::now();
    let clusters = cluster(&items, k);
    let clustering = t.elapsed();
    let total = hashing + clustering;

    let brute_items = &items[..BRUTE_SAMPLE];
    let t = Instant::now();
    let brute = brute_force_cluster(brute_items, k);
    let brute_time = t.elapsed();
    ensure!(
        brute == cluster(brute_items, k),
        "{name}: all-pairs and LSH clustering disagree on the sample"
    );
    let scale = (ARTICLES as f64 / BRUTE_SAMPLE as f64).powi(2);
    let brute_full = brute_time.as_secs_f64() * scale;

    report.row(
        Row::new(
            &format!("{name}: hash 100,000 articles"),
            secs(hashing),
            "s",
        )
        .baseline(format!(
            "{} articles/s",
            count(rate(articles.len(), hashing))
        )),
    );
    report.row(
        Row::new(
            &format!("{name}: cluster 100,000 (distance ≤ {k})"),
            secs(clustering),
            "s",
        )
        .baseline(format!("{brute_full:.1} s all-pairs (10,000 sample × 100)"))
        .ratio(brute_full / clustering.as_secs_f64()),
    );
    report.row(
        Row::new(
            &format!("{name}: near-duplicate pass (hash + cluster)"),
            secs(total),
            "s",
        )
        .baseline(format!(
            "{:.1} s (hash + all-pairs)",
            hashing.as_secs_f64() + brute_full
        ))
        .ratio((hashing.as_secs_f64() + brute_full) / total.as_secs_f64())
        .target(
            "≤ 10 s",
            total <= TARGET_NEAR_DUP,
            TARGET_NEAR_DUP.as_secs_f64() / total.as_secs_f64(),
        ),
    );
    let q = ClusterQuality::of(articles, &items, &clusters);
    report.row(Row::new(
        &format!("{name}: clusters / stories"),
        format!("{} / {}", count(q.clusters as f64), count(q.stories as f64)),
        "clusters",
    ));
    report.row(Row::new(
        &format!("{name}: planted copies found (≤ {k})"),
        format!(
            "{} of {} ({})",
            count(q.recalled as f64),
            count(q.planted as f64),
            pct(q.recalled, q.planted)
        ),
        "pairs",
    ));
    report.row(Row::new(
        &format!("{name}: false merges (≤ {k})"),
        count(q.false_merges as f64),
        "articles",
    ));
    report.row(Row::new(
        &format!("{name}: copy ↔ original distance p50 / p90 / p99 / max"),
        planted_distances(articles, &items),
        "bits",
    ));
    report.row(Row::new(
        &format!("{name}: unrelated same-language pairs p0.1 / p1 / p50"),
        unrelated_distances(articles, &items),
        "bits",
    ));
    sweep(sketch, articles, &items, report);
    Ok(())
}

/// Recall and false merges at other thresholds: what choosing another
/// `near_dup_distance` would trade.
fn sweep(sketch: &Sketch, articles: &[Article], items: &[(i64, u64)], report: &mut Report) {
    let cells: Vec<String> = SWEEP
        .iter()
        .map(|&k| {
            let q = ClusterQuality::of(articles, items, &cluster(items, k));
            format!(
                "≤{k}: {} / {}",
                pct(q.recalled, q.planted),
                count(q.false_merges as f64)
            )
        })
        .collect();
    report.row(Row::new(
        &format!("{}: sweep, copies found / false merges", sketch.name),
        cells.join("; "),
        "",
    ));
}

/// The pairwise scan the index replaces: every hash against every earlier
/// one, keeping the closest earlier representative (ties: smallest id).
fn brute_force_cluster(items: &[(i64, u64)], k: u32) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(items.len());
    let mut is_rep = Vec::with_capacity(items.len());
    for (j, &(id, hash)) in items.iter().enumerate() {
        let mut best: Option<(u32, i64)> = None;
        for (i, &(other_id, other)) in items[..j].iter().enumerate() {
            let d = hamming(hash, other);
            if d <= k && is_rep[i] && best.is_none_or(|b| (d, other_id) < b) {
                best = Some((d, other_id));
            }
        }
        is_rep.push(best.is_none());
        out.push(best.map_or(id, |(_, rep)| rep));
    }
    out
}

struct ClusterQuality {
    stories: usize,
    clusters: usize,
    planted: usize,
    recalled: usize,
    false_merges: usize,
}

impl ClusterQuality {
    fn of(articles: &[Article], items: &[(i64, u64)], clusters: &[i64]) -> Self {
        let mut q = ClusterQuality {
            stories: 0,
            clusters: 0,
            planted: 0,
            recalled: 0,
            false_merges: 0,
        };
        for (i, (a, &c)) in articles.iter().zip(clusters).enumerate() {
            let (id, _) = items[i];
            q.stories += usize::from(a.copy_of.is_none());
            q.clusters += usize::from(c == id);
            if let Some(orig) = a.copy_of {
                q.planted += 1;
                q.recalled += usize::from(clusters[orig] == c);
            }
            if c != id && root(articles, index_of(c)) != root(articles, i) {
                q.false_merges += 1;
            }
        }
        q
    }
}

fn root(articles: &[Article], i: usize) -> usize {
    articles[i].copy_of.unwrap_or(i)
}

fn planted_distances(articles: &[Article], items: &[(i64, u64)]) -> String {
    let mut d: Vec<u32> = articles
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.copy_of.map(|o| hamming(items[i].1, items[o].1)))
        .collect();
    d.sort_unstable();
    let at = |q: f64| {
        d.get(((d.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    format!("{} / {} / {} / {}", at(0.5), at(0.9), at(0.99), at(1.0))
}

/// How far apart different stories are: the floor the threshold must stay
/// under. 100,000 random pairs of originals in the same language.
fn unrelated_distances(articles: &[Article], items: &[(i64, u64)]) -> String {
    let mut rng = StdRng::seed_from_u64(SEED ^ 1);
    let mut d = Vec::with_capacity(100_000);
    while d.len() < 100_000 {
        let (i, j) = (
            rng.random_range(0..items.len()),
            rng.random_range(0..items.len()),
        );
        let (a, b) = (&articles[i], &articles[j]);
        if i != j && a.copy_of.is_none() && b.copy_of.is_none() && a.lang == b.lang {
            d.push(hamming(items[i].1, items[j].1));
        }
    }
    d.sort_unstable();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q) as usize];
    format!("{} / {} / {}", at(0.001), at(0.01), at(0.5))
}

fn id_of(index: usize) -> i64 {
    index as i64 + 1
}

fn index_of(id: i64) -> usize {
    (id - 1) as usize
}

// ------------------------------------------------- content hash and URLs

fn bench_content_hash(articles: &[Article], report: &mut Report) {
    let bytes: usize = articles
        .iter()
        .map(|a| a.title.len() + 1 + a.body.len())
        .sum();
    let t = Instant::now();
    for a in articles {
        black_box(content_hash(&a.title, &a.body));
    }
    let ours = t.elapsed();
    let t = Instant::now();
    for a in articles {
        let mut h = blake3::Hasher::new();
        h.update(a.title.as_bytes());
        h.update(b"\n");
        h.update(a.body.as_bytes());
        black_box(h.finalize().to_hex());
    }
    let raw = t.elapsed();
    report.row(
        Row::new(
            "content_hash 100,000 articles",
            format!(
                "{} ({:.0} MB/s)",
                count(rate(articles.len(), ours)),
                mb_per_s(bytes, ours)
            ),
            "articles/s",
        )
        .baseline(format!(
            "{:.0} MB/s raw BLAKE3, no normalize",
            mb_per_s(bytes, raw)
        ))
        .ratio(raw.as_secs_f64() / ours.as_secs_f64()),
    );
}

fn bench_canonical_url(articles: &[Article], report: &mut Report) -> anyhow::Result<()> {
    let base = Url::parse("https://finance.example.co.kr/news/list?page=3")?;
    let t = Instant::now();
    let mut ok = 0usize;
    for a in articles {
        ok += usize::from(black_box(canonical_url(&a.url, Some(&base))).is_ok());
    }
    let ours = t.elapsed();
    let t = Instant::now();
    for a in articles {
        black_box(base.join(&a.url).map(String::from).ok());
    }
    let parse_only = t.elapsed();
    ensure!(
        ok == articles.len(),
        "{} generated URLs failed",
        articles.len() - ok
    );
    report.row(
        Row::new(
            "canonical_url 100,000 URLs",
            count(rate(articles.len(), ours)),
            "URLs/s",
        )
        .baseline(format!(
            "{} URLs/s Url::join alone",
            count(rate(articles.len(), parse_only))
        ))
        .ratio(parse_only.as_secs_f64() / ours.as_secs_f64()),
    );
    Ok(())
}

// ------------------------------------------------------------- the data

struct Article {
    url: String,
    title: String,
    summary: String,
    body: String,
    /// Stock ids planted in the text.
    mentions: Vec<i64>,
    /// The planted stocks that the linking rules link on their own: active,
    /// and named in the title by a distinctive name, or anywhere by code,
    /// cashtag or exchange symbol. The
    /// others are one passing mention in the body, which by design is not
    /// enough (see `link.rs`).
    strong: Vec<i64>,
    /// Index of the original this is a syndicated copy of.
    copy_of: Option<usize>,
    lang: Lang,
    /// The body's sentences (originals only: what copies are made from).
    sentences: Vec<Sentence>,
}

#[derive(Clone)]
struct Sentence {
    text: String,
    /// Names a stock: copies never cut it.
    mention: bool,
}

impl Article {
    fn text(&self) -> ArticleText<'_> {
        ArticleText {
            title: &self.title,
            summary: &self.summary,
            body: &self.body,
            source_stocks: &[],
        }
    }

    fn chars(&self) -> usize {
        self.title.chars().count() + self.summary.chars().count() + self.body.chars().count()
    }
}

/// One planted mention of a stock.
struct Mention {
    text: String,
    /// By code, cashtag or exchange symbol: links on its own anywhere.
    explicit: bool,
    /// By a name or alias that only this stock has and that is not on the
    /// linker's ambiguous list: links on its own in the title.
    distinctive: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    Ko,
    En,
}

/// Korean name syllables with their romanization (for English aliases).
#[rustfmt::skip]
const KO_NAME_SYLLABLES: &[(&str, &str)] = &[
    ("한", "Han"), ("대", "Dae"), ("삼", "Sam"), ("성", "Sung"), ("동", "Dong"), ("신", "Shin"),
    ("세", "Se"), ("현", "Hyun"), ("금", "Geum"), ("우", "Woo"), ("진", "Jin"), ("광", "Gwang"),
    ("태", "Tae"), ("영", "Young"), ("미", "Mi"), ("래", "Rae"), ("코", "Ko"), ("솔", "Sol"),
    ("넥", "Nek"), ("케", "Ke"), ("엘", "El"), ("포", "Po"), ("효", "Hyo"), ("두", "Doo"), ("산", "San"),
    ("아", "A"), ("모", "Mo"), ("롯", "Lot"), ("유", "Yu"), ("일", "Il"), ("화", "Hwa"), ("경", "Kyung"),
    ("남", "Nam"), ("서", "Seo"), ("원", "Won"), ("풍", "Poong"), ("국", "Kook"), ("제", "Je"),
    ("오", "O"), ("리", "Ri"),
];

#[rustfmt::skip]
const KO_SUFFIXES: &[(&str, &str)] = &[
    ("전자", "Electronics"), ("화학", "Chemical"), ("바이오", "Bio"), ("제약", "Pharm"), ("건설", "E&C"),
    ("증권", "Securities"), ("금융지주", "Financial Group"), ("에너지", "Energy"),
    ("중공업", "Heavy Industries"), ("물산", "C&T"), ("홀딩스", "Holdings"), ("테크", "Tech"),
    ("반도체", "Semiconductor"), ("엔터", "Entertainment"), ("식품", "Foods"), ("통신", "Telecom"),
    ("조선", "Shipbuilding"), ("소재", "Materials"), ("로보틱스", "Robotics"), ("디스플레이", "Display"),
    ("생명", "Life"), ("화재", "Fire & Marine"), ("해운", "Shipping"), ("항공", "Airlines"),
    ("전기", "Electric"), ("정밀", "Precision"), ("게임즈", "Games"), ("제철", "Steel"),
    ("케미칼", "Chemicals"), ("시스템", "Systems"),
];

/// US name pieces with a Hangul transliteration.
#[rustfmt::skip]
const US_HEADS: &[(&str, &str)] = &[
    ("Vel", "벨"), ("Nor", "노르"), ("Quan", "퀀"), ("Zen", "젠"), ("Aro", "애로"), ("Bright", "브라이트"),
    ("Core", "코어"), ("Lumi", "루미"), ("Nex", "넥스"), ("Omni", "옴니"), ("Pax", "팩스"), ("Sol", "솔"),
    ("Tera", "테라"), ("Vita", "비타"), ("Hel", "헬"), ("Astra", "아스트라"), ("Blue", "블루"),
    ("Cyber", "사이버"), ("Data", "데이터"), ("Echo", "에코"), ("Flux", "플럭스"), ("Giga", "기가"),
    ("Hyper", "하이퍼"), ("Iron", "아이언"), ("Jade", "제이드"), ("Kine", "키네"), ("Lyra", "라이라"),
    ("Meta", "메타"), ("Nova", "노바"), ("Orbi", "오르비"), ("Pulse", "펄스"), ("Quest", "퀘스트"),
    ("Rho", "로"), ("Sky", "스카이"), ("Tri", "트라이"), ("Ultra", "울트라"), ("Vox", "복스"), ("Wave", "웨이브"),
    ("Xeno", "제노"), ("Zeta", "제타"),
];

#[rustfmt::skip]
const US_TAILS: &[(&str, &str)] = &[
    ("tron", "트론"), ("gen", "젠"), ("dyne", "다인"), ("ix", "익스"), ("ora", "오라"), ("stream", "스트림"),
    ("field", "필드"), ("works", "웍스"), ("point", "포인트"), ("lab", "랩"), ("cast", "캐스트"),
    ("logic", "로직"), ("path", "패스"), ("soft", "소프트"), ("med", "메드"), ("net", "넷"), ("stone", "스톤"),
    ("grid", "그리드"), ("mark", "마크"), ("vue", "뷰"),
];

#[rustfmt::skip]
const US_ENDINGS: &[&str] = &[
    "", "a", "ex", "is", "on",
];

#[rustfmt::skip]
const US_KINDS: &[&str] = &[
    "Technologies", "Therapeutics", "Energy", "Holdings", "Systems", "Semiconductor", "Networks",
    "Pharmaceuticals", "Motors", "Financial", "Software", "Robotics",
];

#[rustfmt::skip]
const KO_FINANCE: &[&str] = &[
    "실적", "영업이익", "매출", "분기", "반도체", "주가", "투자", "시장", "증권가", "전망", "수요", "공급", "수출", "환율", "금리",
    "외국인", "기관", "개인", "순매수", "순매도", "목표주가", "배당", "자사주", "인수", "합병", "공시", "계약", "수주", "설비", "생산",
    "가격", "원가", "마진", "점유율", "경쟁", "규제", "정책", "정부", "금융당국", "코스피", "코스닥", "지수", "상승", "하락", "거래량",
    "시가총액", "업황", "회복", "둔화", "성장", "신제품", "출시", "고객사", "협력사", "해외", "중국", "미국", "유럽", "글로벌", "리스크",
    "변동성", "연구원", "애널리스트", "보고서", "컨센서스", "전년", "동기", "대비", "올해", "내년", "하반기", "상반기",
];

#[rustfmt::skip]
const KO_WORD_SYLLABLES: &[&str] = &[
    "가", "간", "감", "강", "개", "거", "건", "결", "경", "고", "공", "관", "교", "구", "국", "규", "금", "기", "나",
    "내", "노", "능", "다", "단", "담", "당", "대", "도", "동", "라", "력", "로", "료", "류", "리", "마", "만", "매",
    "면", "명", "모", "목", "무", "문", "물", "미", "민", "반", "발", "방", "배", "변", "보", "복", "부", "분", "비",
    "사", "산", "상", "생", "서", "선", "설", "성", "세", "소", "속", "수", "시", "식", "신", "실", "심", "안", "양",
    "업", "여", "역", "연", "영", "예", "외", "요", "용", "운", "원", "위", "유", "의", "이", "인", "일", "입", "자",
    "작", "장", "재", "적", "전", "정", "제", "조", "종", "주", "준", "중", "지", "진", "차", "책", "처", "체", "초",
    "총", "추", "출", "치", "통", "투", "특", "판", "평", "표", "품", "하", "한", "해", "행", "현", "형", "화", "확",
    "활", "회", "효",
];

#[rustfmt::skip]
const KO_PARTICLES: &[&str] = &[
    "이", "가", "은", "는", "을", "를", "의", "에", "에서", "으로", "과", "와", "도", "만",
];

#[rustfmt::skip]
const KO_ENDINGS: &[&str] = &[
    "했다", "밝혔다", "전망했다", "나타났다", "기록했다", "설명했다", "분석했다", "예정이다", "것으로 보인다", "말했다", "강조했다", "덧붙였다",
    "집계됐다", "평가된다",
];

#[rustfmt::skip]
const KO_OUTLETS: &[(&str, &str)] = &[
    ("연합뉴스", "yna.co.kr"), ("뉴스1", "news1.kr"), ("뉴시스", "newsis.com"), ("한국경제", "hankyung.com"),
    ("매일경제", "mk.co.kr"), ("이데일리", "edaily.co.kr"), ("머니투데이", "mt.co.kr"), ("뉴스핌", "newspim.com"),
    ("서울경제", "sedaily.com"), ("파이낸셜뉴스", "fnnews.com"),
];

#[rustfmt::skip]
const KO_SURNAMES: &[&str] = &[
    "김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오",
];

#[rustfmt::skip]
const EN_FUNCTION: &[&str] = &[
    "the", "of", "to", "and", "in", "a", "for", "on", "with", "as", "that", "by", "its", "at",
    "from", "is", "was", "said", "after", "while", "than", "more", "its", "their", "which",
];

#[rustfmt::skip]
const EN_FINANCE: &[&str] = &[
    "revenue", "earnings", "quarter", "profit", "shares", "investors", "analysts", "estimates",
    "guidance", "forecast", "demand", "supply", "margin", "growth", "sales", "market", "stock",
    "billion", "million", "percent", "outlook", "dividend", "buyback", "acquisition", "deal",
    "regulators", "chip", "chips", "cloud", "data", "center", "consumer", "spending", "prices",
    "inflation", "rates", "federal", "reserve", "trading", "index", "gains", "losses", "rally",
    "selloff", "valuation", "expectations", "results", "fiscal", "annual", "executive", "chief",
    "officer", "company", "companies", "industry", "production", "orders", "shipments",
];

#[rustfmt::skip]
const EN_WORD_SYLLABLES: &[&str] = &[
    "ab", "ac", "ad", "al", "an", "ar", "at", "ba", "be", "bi", "bo", "ca", "ce", "ci", "co", "da",
    "de", "di", "do", "el", "en", "er", "es", "fa", "fe", "fi", "ga", "ge", "gi", "ha", "he", "hi",
    "in", "is", "it", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "or",
    "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to",
    "un", "ur", "va", "ve", "vi", "tion", "ment", "ness", "ing", "ed", "ly", "ive", "ous", "al",
];

#[rustfmt::skip]
const EN_OUTLETS: &[(&str, &str)] = &[
    ("Reuters", "reuters.com"), ("Bloomberg", "bloomberg.com"), ("AP", "apnews.com"),
    ("MarketWatch", "marketwatch.com"), ("CNBC", "cnbc.com"),
    ("Yahoo Finance", "finance.yahoo.com"), ("Investing.com", "investing.com"),
    ("Barron's", "barrons.com"),
];

#[rustfmt::skip]
const EN_NAMES: &[&str] = &[
    "Stephen Nellis", "Jane Lanhee Lee", "Max Cherney", "Noel Randewich", "Sinéad Carew",
    "Lewis Krauskopf", "Echo Wang", "Anna Tong", "David French", "Akash Sriram",
];

#[rustfmt::skip]
const TRACKING: &[&str] = &[
    "utm_source=naver&utm_medium=referral", "fbclid=IwAR0xyz", "gclid=Cj0KCQ",
    "mc_cid=9f&mc_eid=e1",
];

/// Seeded generator of the benchmark's stocks and articles.
struct Gen {
    rng: StdRng,
    ko_words: Vec<String>,
    en_words: Vec<String>,
    /// Lowercased names that never link alone: shared by several stocks,
    /// or on the linker's ambiguous list.
    weak_names: HashSet<String>,
}

impl Gen {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let ko_words = pseudo_words(&mut rng, KO_WORD_SYLLABLES, 20_000);
        let en_words = pseudo_words(&mut rng, EN_WORD_SYLLABLES, 20_000);
        Self {
            rng,
            ko_words,
            en_words,
            weak_names: HashSet::new(),
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// Zipf-like: low indexes much more often, as word frequencies are.
    fn pick_skewed<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.skewed_index(items.len())]
    }

    // ------------------------------------------------------------ stocks

    /// Names and distinctive aliases are unique across the master (a
    /// former name equal to another company's name would be a master
    /// error); two-syllable abbreviations may be shared, as in real life.
    /// Remembers which names cannot link alone (shared, or on the linker's
    /// ambiguous list) for the quality figures.
    fn stocks(&mut self) -> Vec<StockEntry> {
        let mut taken = HashSet::new();
        let mut codes = HashSet::new();
        let mut out = Vec::with_capacity(KOREAN_STOCKS + US_STOCKS);
        while out.len() < KOREAN_STOCKS + US_STOCKS {
            let id = out.len() as i64 + 1;
            let s = if out.len() < KOREAN_STOCKS {
                self.korean_stock(id, &mut codes)
            } else {
                self.us_stock(id, &mut codes)
            };
            if let Some(s) = admit(s, &mut taken) {
                out.push(s);
            }
        }
        let mut owners: HashMap<String, usize> = HashMap::new();
        for s in &out {
            for n in std::iter::once(&s.name).chain(&s.aliases) {
                *owners.entry(n.to_lowercase()).or_default() += 1;
            }
        }
        self.weak_names = owners
            .into_iter()
            .filter(|&(_, n)| n > 1)
            .map(|(k, _)| k)
            .collect();
        self.weak_names.extend(
            LinkRules::default()
                .ambiguous
                .iter()
                .map(|a| a.to_lowercase()),
        );
        out
    }

    fn korean_stock(&mut self, id: i64, codes: &mut HashSet<String>) -> StockEntry {
        let (a, ra) = *self.pick(KO_NAME_SYLLABLES);
        let (b, rb) = *self.pick(KO_NAME_SYLLABLES);
        let (suffix, en_suffix) = *self.pick(KO_SUFFIXES);
        let name = format!("{a}{b}{suffix}");
        let mut aliases = vec![format!("{ra}{} {en_suffix}", rb.to_lowercase())];
        if self.rng.random_bool(0.4) {
            let first_of_suffix = suffix.chars().next().map(String::from).unwrap_or_default();
            aliases.push(format!("{a}{first_of_suffix}"));
        }
        if self.rng.random_bool(0.3) {
            let (old, _) = *self.pick(KO_SUFFIXES);
            if old != suffix {
                aliases.push(format!("{a}{b}{old}"));
            }
        }
        let code = loop {
            let c = format!("{:06}", self.rng.random_range(0..1_000_000));
            if codes.insert(c.clone()) {
                break c;
            }
        };
        let active = self.rng.random_bool(0.98);
        StockEntry {
            id,
            exchange: "XKRX".into(),
            code,
            name,
            aliases,
            active,
        }
    }

    fn us_stock(&mut self, id: i64, codes: &mut HashSet<String>) -> StockEntry {
        let (h, kh) = *self.pick(US_HEADS);
        let (t, kt) = *self.pick(US_TAILS);
        let e = *self.pick(US_ENDINGS);
        let short = format!("{h}{t}{e}");
        let form = if self.rng.random_bool(0.5) {
            "Inc."
        } else {
            "Corp."
        };
        let name = format!("{short} {} {form}", self.pick(US_KINDS));
        let mut aliases = vec![short];
        if self.rng.random_bool(0.5) {
            aliases.push(format!("{kh}{kt}"));
        }
        let ticker = loop {
            let len = self.rng.random_range(2..=4);
            let t: String = (0..len)
                .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
                .collect();
            if codes.insert(t.clone()) {
                break t;
            }
        };
        let exchange = if self.rng.random_bool(0.6) {
            "XNAS"
        } else {
            "XNYS"
        };
        let active = self.rng.random_bool(0.98);
        StockEntry {
            id,
            exchange: exchange.into(),
            code: ticker,
            name,
            aliases,
            active,
        }
    }

    // ---------------------------------------------------------- articles

    fn articles(&mut self, stocks: &[StockEntry]) -> Vec<Article> {
        let mut out: Vec<Article> = Vec::with_capacity(ARTICLES);
        let mut originals: Vec<usize> = Vec::new();
        for i in 0..ARTICLES {
            let article = if !originals.is_empty() && self.rng.random_bool(COPY_SHARE) {
                let from = originals.len().saturating_sub(COPY_WINDOW);
                let orig = originals[self.rng.random_range(from..originals.len())];
                self.near_copy(&out[orig], orig, i)
            } else {
                originals.push(i);
                self.original(stocks, i)
            };
            out.push(article);
        }
        out
    }

    fn original(&mut self, stocks: &[StockEntry], i: usize) -> Article {
        let lang = if self.rng.random_bool(0.6) {
            Lang::Ko
        } else {
            Lang::En
        };
        let mentions = self.choose_mentions(stocks, lang);
        let mut strong = Vec::new();
        let mut title = String::new();
        if let Some(&first) = mentions.first() {
            let s = &stocks[(first - 1) as usize];
            let m = self.mention(s, lang);
            title.push_str(&m.text);
            title.push_str(if lang == Lang::Ko { ", " } else { ": " });
            if s.active && (m.explicit || m.distinctive) {
                strong.push(s.id);
            }
        }
        title.push_str(&self.phrase(lang, 5, 9));
        let summary = self.sentence(lang);
        let mut sentences: Vec<Sentence> = Vec::new();
        let mut chars = title.chars().count() + summary.chars().count();
        for &m in &mentions {
            let s = &stocks[(m - 1) as usize];
            let m = self.mention(s, lang);
            if m.explicit && s.active && !strong.contains(&s.id) {
                strong.push(s.id);
            }
            let text = self.sentence_with(lang, &m.text);
            chars += text.chars().count();
            sentences.push(Sentence {
                text,
                mention: true,
            });
        }
        while chars < ARTICLE_CHARS - 100 {
            let text = self.sentence(lang);
            chars += text.chars().count() + 1;
            let at = self.rng.random_range(0..=sentences.len());
            sentences.insert(
                at,
                Sentence {
                    text,
                    mention: false,
                },
            );
        }
        let outlet = self.outlet(lang);
        let body = self.assemble(lang, &outlet, &sentences);
        let url = self.url(&outlet, i);
        Article {
            url,
            title,
            summary,
            body,
            sentences,
            lang,
            mentions,
            strong,
            copy_of: None,
        }
    }

    /// Another outlet's syndicated copy: its byline and footer, and
    /// sometimes a sentence added or dropped or the title tagged.
    fn near_copy(&mut self, orig: &Article, orig_index: usize, i: usize) -> Article {
        let lang = orig.lang;
        let mut sentences = orig.sentences.clone();
        if self.rng.random_bool(0.2) {
            // Copies cut filler, never the sentence naming a stock.
            let at = self.rng.random_range(0..sentences.len());
            if !sentences[at].mention {
                sentences.remove(at);
            }
        }
        if self.rng.random_bool(0.5) {
            let text = self.sentence(lang);
            let at = self.rng.random_range(0..=sentences.len());
            sentences.insert(
                at,
                Sentence {
                    text,
                    mention: false,
                },
            );
        }
        let mut title = orig.title.clone();
        if self.rng.random_bool(0.3) {
            let tag = match lang {
                Lang::Ko => *self.pick(&["[속보] ", "(종합) ", "[마켓뷰] "]),
                Lang::En => *self.pick(&["UPDATE 1-", "UPDATE 2-", "BRIEF-"]),
            };
            title.insert_str(0, tag);
        }
        let outlet = self.outlet(lang);
        let body = self.assemble(lang, &outlet, &sentences);
        Article {
            url: self.url(&outlet, i),
            title,
            summary: orig.summary.clone(),
            body,
            sentences: Vec::new(),
            lang,
            mentions: orig.mentions.clone(),
            strong: orig.strong.clone(),
            copy_of: Some(orig_index),
        }
    }

    /// 0–4 distinct stocks, mostly of the article's own market.
    fn choose_mentions(&mut self, stocks: &[StockEntry], lang: Lang) -> Vec<i64> {
        let n = match self.rng.random_range(0..100) {
            0..15 => 0,
            15..55 => 1,
            55..80 => 2,
            80..92 => 3,
            _ => 4,
        };
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let home = self.rng.random_bool(0.8);
            let korean = (lang == Lang::Ko) == home;
            let range = if korean {
                0..KOREAN_STOCKS
            } else {
                KOREAN_STOCKS..stocks.len()
            };
            let id = stocks[self.rng.random_range(range)].id;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// How news names a stock: name with a particle, name with its code,
    /// an alias, a cashtag; see [`Mention`].
    fn mention(&mut self, s: &StockEntry, lang: Lang) -> Mention {
        let (text, explicit, named) = self.mention_form(s, lang);
        let distinctive = !self.weak_names.contains(&named.to_lowercase());
        Mention {
            text,
            explicit,
            distinctive,
        }
    }

    /// The text, whether it is explicit (code, cashtag, exchange symbol)
    /// and the name or alias it uses.
    fn mention_form(&mut self, s: &StockEntry, lang: Lang) -> (String, bool, String) {
        let korean_stock = s.exchange == "XKRX";
        let alias = if s.aliases.is_empty() {
            s.name.clone()
        } else {
            self.pick(&s.aliases).clone()
        };
        let short = s.aliases.first().unwrap_or(&s.name).clone();
        match (lang, korean_stock, self.rng.random_range(0..4)) {
            (Lang::Ko, true, 0) => (format!("{}({})", s.name, s.code), true, s.name.clone()),
            (Lang::Ko, true, 1) => (format!("{alias}{}", self.pick(KO_PARTICLES)), false, alias),
            (Lang::Ko, true, _) => (
                format!("{}{}", s.name, self.pick(KO_PARTICLES)),
                false,
                s.name.clone(),
            ),
            // A bare ticker in parentheses is not explicit: `(AI)` is no symbol.
            (Lang::Ko, false, 0) => (format!("{short}({})", s.code), false, short),
            (Lang::Ko, false, _) => (format!("{alias}{}", self.pick(KO_PARTICLES)), false, alias),
            (Lang::En, false, 0) => (format!("${}", s.code), true, s.code.clone()),
            (Lang::En, false, 1) => {
                let market = if s.exchange == "XNAS" {
                    "NASDAQ"
                } else {
                    "NYSE"
                };
                (
                    format!("{} ({market}: {})", s.name, s.code),
                    true,
                    s.name.clone(),
                )
            }
            (Lang::En, false, _) => (short.clone(), false, short),
            (Lang::En, true, 0) => (format!("{short} (KRX: {})", s.code), true, short),
            (Lang::En, true, _) => (short.clone(), false, short),
        }
    }

    fn word(&mut self, lang: Lang) -> String {
        let roll = self.rng.random_range(0..100);
        match lang {
            Lang::Ko => {
                if roll < 12 {
                    return self.number(lang);
                }
                let w = if roll < 30 {
                    self.pick(KO_FINANCE).to_string()
                } else {
                    let i = self.skewed_index(self.ko_words.len());
                    self.ko_words[i].clone()
                };
                if self.rng.random_bool(0.6) {
                    return format!("{w}{}", self.pick(KO_PARTICLES));
                }
                w
            }
            Lang::En => match roll {
                0..8 => self.number(lang),
                8..35 => self.pick_skewed(EN_FUNCTION).to_string(),
                35..55 => self.pick(EN_FINANCE).to_string(),
                _ => {
                    let i = self.skewed_index(self.en_words.len());
                    self.en_words[i].clone()
                }
            },
        }
    }

    fn skewed_index(&mut self, len: usize) -> usize {
        let u: f64 = self.rng.random();
        (((len as f64) * u * u) as usize).min(len - 1)
    }

    fn number(&mut self, lang: Lang) -> String {
        let a = self.rng.random_range(1..1000);
        let b = self.rng.random_range(0..10);
        match (lang, self.rng.random_range(0..3)) {
            (Lang::Ko, 0) => format!("{a}.{b}%"),
            (Lang::Ko, 1) => format!("{a}억{b}000만원"),
            (Lang::Ko, _) => format!("{a}만{b}00원"),
            (Lang::En, 0) => format!("{a}.{b}%"),
            (Lang::En, 1) => format!("${a}.{b} billion"),
            (Lang::En, _) => format!("{a}.{b} million"),
        }
    }

    fn phrase(&mut self, lang: Lang, min: usize, max: usize) -> String {
        let n = self.rng.random_range(min..=max);
        let words: Vec<String> = (0..n).map(|_| self.word(lang)).collect();
        words.join(" ")
    }

    fn sentence(&mut self, lang: Lang) -> String {
        let phrase = self.phrase(lang, 6, 14);
        self.finish(lang, phrase)
    }

    fn sentence_with(&mut self, lang: Lang, mention: &str) -> String {
        let before = self.phrase(lang, 0, 3);
        let after = self.phrase(lang, 4, 10);
        let phrase = [before.as_str(), mention, after.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        self.finish(lang, phrase)
    }

    fn finish(&mut self, lang: Lang, phrase: String) -> String {
        match lang {
            Lang::Ko => format!("{phrase} {}.", self.pick(KO_ENDINGS)),
            Lang::En => {
                let mut chars = phrase.chars();
                match chars.next() {
                    Some(c) => format!("{}{}.", c.to_uppercase(), chars.as_str()),
                    None => phrase,
                }
            }
        }
    }

    /// (outlet name, domain, reporter) for a byline and footer.
    fn outlet(&mut self, lang: Lang) -> (String, String, String) {
        match lang {
            Lang::Ko => {
                let (name, domain) = *self.pick(KO_OUTLETS);
                let reporter = format!(
                    "{}{}{}",
                    self.pick(KO_SURNAMES),
                    self.pick(KO_WORD_SYLLABLES),
                    self.pick(KO_WORD_SYLLABLES)
                );
                (name.into(), domain.into(), reporter)
            }
            Lang::En => {
                let (name, domain) = *self.pick(EN_OUTLETS);
                (name.into(), domain.into(), self.pick(EN_NAMES).to_string())
            }
        }
    }

    /// Byline, paragraphs of four sentences, footer.
    fn assemble(
        &mut self,
        lang: Lang,
        outlet: &(String, String, String),
        sentences: &[Sentence],
    ) -> String {
        let (name, domain, reporter) = outlet;
        let mut body = match lang {
            Lang::Ko => format!("[서울={name}] {reporter} 기자 = "),
            Lang::En => format!("By {reporter}, {name}\n"),
        };
        for (n, s) in sentences.iter().enumerate() {
            if n > 0 {
                body.push(if n % 4 == 0 { '\n' } else { ' ' });
            }
            body.push_str(&s.text);
        }
        let _ = match lang {
            Lang::Ko => write!(
                body,
                "\nreporter@{domain} 저작권자(c) {name}, 무단 전재-재배포 금지"
            ),
            Lang::En => write!(
                body,
                "\n(Reporting by {reporter}; editing by the {name} desk) © {name}"
            ),
        };
        body
    }

    /// Mostly absolute URLs with tracking junk, some relative to the list
    /// page, some in the Korean portal style with ids in the query.
    fn url(&mut self, outlet: &(String, String, String), i: usize) -> String {
        let domain = &outlet.1;
        match self.rng.random_range(0..5) {
            0 => format!("/news/read?article_id={i:010}&office_id={:03}", i % 997),
            1 => format!(
                "https://n.news.{domain}/mnews/article/{:03}/{i:010}?sid=101#comment",
                i % 997
            ),
            2 => format!(
                "HTTPS://WWW.{}:443/markets/{i}/?{}",
                domain.to_uppercase(),
                self.pick(TRACKING)
            ),
            3 => format!(
                "https://{domain}/article/{i}?{}&page=1#top",
                self.pick(TRACKING)
            ),
            _ => format!("https://www.{domain}/news/{i}.html"),
        }
    }
}

/// `s` if its name and first alias are new; later aliases are dropped when
/// taken, except short Hangul abbreviations.
fn admit(mut s: StockEntry, taken: &mut HashSet<String>) -> Option<StockEntry> {
    let first = s
        .aliases
        .first()
        .map(|a| a.to_lowercase())
        .unwrap_or_default();
    if taken.contains(&s.name.to_lowercase()) || taken.contains(&first) {
        return None;
    }
    s.aliases
        .retain(|a| a.chars().count() <= 2 || !taken.contains(&a.to_lowercase()));
    for n in std::iter::once(&s.name).chain(&s.aliases) {
        taken.insert(n.to_lowercase());
    }
    Some(s)
}

fn pseudo_words(rng: &mut StdRng, syllables: &[&str], n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    while seen.len() < n {
        let len = rng.random_range(2..=3);
        let w: Vec<&str> = (0..len)
            .map(|_| syllables[rng.random_range(0..syllables.len())])
            .collect();
        seen.insert(w.concat());
    }
    let mut words: Vec<String> = seen.into_iter().collect();
    words.sort_unstable();
    // Shuffle deterministically so frequency rank is not alphabetical.
    for i in (1..words.len()).rev() {
        words.swap(i, rng.random_range(0..=i));
    }
    words
}

// ----------------------------------------------------------------- report

#[derive(Default)]
struct Report {
    notes: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    what: String,
    value: String,
    unit: String,
    baseline: String,
    ratio: String,
    target: String,
    met: String,
}

impl Row {
    fn new(what: &str, value: String, unit: &str) -> Self {
        Row {
            what: what.into(),
            value,
            unit: unit.into(),
            baseline: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: String::new(),
        }
    }

    fn baseline(mut self, b: String) -> Self {
        self.baseline = b;
        self
    }

    /// How many times better than the baseline (higher is better).
    fn ratio(mut self, r: f64) -> Self {
        self.ratio = format!("{r:.2}×");
        self
    }

    fn target(mut self, t: &str, met: bool, margin: f64) -> Self {
        self.target = t.into();
        self.met = format!("{} ({margin:.2}× target)", if met { "yes" } else { "no" });
        self
    }
}

impl Report {
    fn note(&mut self, n: String) {
        eprintln!("{n}");
        self.notes.push(n);
    }

    fn row(&mut self, r: Row) {
        eprintln!("{}: {} {}", r.what, r.value, r.unit);
        self.rows.push(r);
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        for n in &self.notes {
            let _ = writeln!(md, "{n}  ");
        }
        md.push('\n');
        md.push_str(
            "| measure | value | unit | baseline (same run) | vs baseline | target | met |\n",
        );
        md.push_str("|---|---:|---|---|---:|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.what, r.value, r.unit, r.baseline, r.ratio, r.target, r.met
            );
        }
        md
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "n/a".into();
    }
    format!("{:.2}%", 100.0 * part as f64 / whole as f64)
}

/// Thousands separated, no decimals.
fn count(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
