//! The sample's own documentation: `README.md` (for people),
//! `manifest.json` (for tools) and `truth/news.csv` (the answer key).
//! All three are rendered from the same constants the generator uses, so
//! the numbers they state are the numbers planted.

use super::feeds::SourceFile;
use super::news::{self, Item, Market, Story, PLAN};
use super::universe::STOCKS;
use super::{prices, Counts, END_SESSION, GENERATOR_VERSION, MINUTE_SESSIONS, PLANTED};
use crate::news::sentiment as lexicon;
use chrono::{Duration, NaiveDate, SecondsFormat};
use serde::Serialize;

/// `manifest.json`'s `generator`: how a later run knows the folder holds
/// a sample it may clean up.
pub const GENERATOR: &str = "tickerd sample generate";

/// What the documents describe.
pub struct About<'a> {
    pub seed: u64,
    pub counts: &'a Counts,
    pub markets: &'a [Market<'a>],
    pub sources: &'a [SourceFile],
}

/// One row per item: `story,copy,source,url,published,language,stocks,
/// sentiment,target_session,effect_pct` (published in UTC, RFC 3339).
pub fn truth_csv(stories: &[Story], items: &[Item], markets: &[Market<'_>]) -> String {
    let mut rows: Vec<&Item> = items.iter().collect();
    rows.sort_by(|a, b| a.published.cmp(&b.published).then(a.url.cmp(&b.url)));
    let mut out = String::from(
        "story,copy,source,url,published,language,stocks,sentiment,target_session,effect_pct\n",
    );
    for item in rows {
        let story = &stories[item.story];
        let target = markets[story.market].sessions[story.target];
        let stocks: Vec<String> = story.stocks.iter().map(|&s| STOCKS[s].key()).collect();
        let effect =
            prices::beta(&PLANTED, target) * PLANTED.effect_pct * f64::from(story.sentiment());
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{:+},{},{:+.2}\n",
            story.id,
            u8::from(item.copy),
            item.outlet.name(),
            item.url,
            item.published.to_rfc3339_opts(SecondsFormat::Secs, true),
            item.outlet.lang().code(),
            stocks.join(";"),
            story.sentiment(),
            target,
            effect
        ));
    }
    out
}

#[derive(Serialize)]
struct Manifest<'a> {
    generator: &'static str,
    generator_version: &'static str,
    seed: u64,
    counts: &'a Counts,
    sessions: Vec<SessionSpan>,
    planted: &'static super::Planted,
    own_sd_pct: f64,
    news: news::NewsPlan,
    publish_windows: std::collections::BTreeMap<&'static str, news::PublishWindow>,
    copy_delay_minutes: (u64, u64),
    sources: Vec<SourceEntry<'a>>,
    files: Vec<FileEntry<'a>>,
}

#[derive(Serialize)]
struct SessionSpan {
    exchange: &'static str,
    first: NaiveDate,
    last: NaiveDate,
    sessions: usize,
    minute_sessions: Vec<NaiveDate>,
}

#[derive(Serialize)]
struct SourceEntry<'a> {
    name: &'a str,
    path: &'a str,
    items: usize,
}

#[derive(Serialize)]
struct FileEntry<'a> {
    path: &'a str,
    bytes: u64,
}

fn spans(markets: &[Market<'_>]) -> Vec<SessionSpan> {
    markets
        .iter()
        .map(|m| SessionSpan {
            exchange: m.exchange,
            first: m.sessions.first().copied().unwrap_or_default(),
            last: m.sessions.last().copied().unwrap_or_default(),
            sessions: m.sessions.len(),
            minute_sessions: m.sessions[m.sessions.len().saturating_sub(MINUTE_SESSIONS)..]
                .to_vec(),
        })
        .collect()
}

/// `manifest.json`: seed, counts, planted parameters and every file
/// written before it, with its size.
pub fn manifest(about: &About<'_>, files: &[(String, u64)]) -> anyhow::Result<String> {
    let m = Manifest {
        generator: GENERATOR,
        generator_version: GENERATOR_VERSION,
        seed: about.seed,
        counts: about.counts,
        sessions: spans(about.markets),
        planted: &PLANTED,
        own_sd_pct: (PLANTED.own_sd_pct() * 1e4).round() / 1e4,
        news: PLAN,
        publish_windows: about
            .markets
            .iter()
            .map(|m| (m.exchange, news::window(m.exchange)))
            .collect(),
        copy_delay_minutes: news::COPY_DELAY_MINUTES,
        sources: about
            .sources
            .iter()
            .map(|s| SourceEntry {
                name: &s.name,
                path: &s.path,
                items: s.items,
            })
            .collect(),
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path,
                bytes: *bytes,
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&m)? + "\n")
}

/// `README.md`: the layout, the planted facts with their numbers, what
/// tickerd's models read, and how to point the jobs at the sample.
pub fn readme(about: &About<'_>) -> String {
    let c = about.counts;
    let p = &PLANTED;
    let weak = p.effect_pct * p.weak_fraction;
    let spans = spans(about.markets);
    let mut s = format!(
        "# tickerd sample market (seed {seed})\n\n\
         Written by `tickerd sample generate --seed {seed}` (generator version \
         {GENERATOR_VERSION}). Everything here is invented — companies, codes, \
         prices, news — and the same seed writes the same bytes. Nothing is \
         real market data.\n\n",
        seed = about.seed
    );
    s.push_str("## Layout\n\n| path | what |\n|---|---|\n");
    s.push_str("| `universe.csv` | the ticker master, format of `jobs/universe.csv` |\n");
    s.push_str("| `market/1d/{EXCHANGE}/{code}.csv` | daily bars `date,open,high,low,close,volume` (the `files` provider) |\n");
    s.push_str(&format!(
        "| `market/1m/{{EXCHANGE}}/{{code}}.csv` | minute bars `ts,open,high,low,close,volume` of the last {MINUTE_SESSIONS} sessions, `ts` local to the exchange |\n"
    ));
    s.push_str("| `news/synth-*.xml`, `news/synth-kr-list-*.html` | RSS 2.0 (`synth-wire`, `synth-kr-econ`), Atom (`synth-biz`) and HTML list pages (`synth-kr-list`) |\n");
    s.push_str(
        "| `news_sources.toml` | those files as `[[sources]]` for `jobs/news_crawl.toml` |\n",
    );
    s.push_str("| `truth/news.csv` | answer key: each item's story, stocks, sentiment, target session, planted effect |\n");
    s.push_str("| `manifest.json` | seed, counts, parameters, every file and its size |\n\n");

    s.push_str("## Counts\n\n");
    s.push_str(&format!(
        "- {} stocks (12 XKRX, 8 XNYS), all active, priorities 1–3.\n",
        c.stocks
    ));
    for span in &spans {
        s.push_str(&format!(
            "- {}: {} sessions, {} to {} (the shipped calendars begin on 2025-01-01, so \
             the history is ~23 months rather than two years); minute bars for {}.\n",
            span.exchange,
            span.sessions,
            span.first,
            span.last,
            span.minute_sessions
                .iter()
                .map(NaiveDate::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push_str(&format!(
        "- {} daily bars, {} minute bars.\n\
         - {} stories ({} positive, {} negative) in {} news items: {} syndicated copies, \
         {} items naming two stocks, {} items in Korean; {} source files.\n\n",
        c.daily_bars,
        c.minute_bars,
        c.stories,
        c.positive_stories,
        c.negative_stories,
        c.news_items,
        c.duplicates,
        c.multi_stock_items,
        c.korean_items,
        c.news_sources
    ));

    s.push_str(&format!(
        "## Planted facts\n\n\
         - A **story** names one stock (or, {pair:.0}% of stories, two stocks of the same exchange) \
         and is positive or negative (even odds). Each stock gets a story before a session with \
         probability {rate:.2}, at most one per session.\n\
         - It is published after the close of the session before its **target session** and \
         before the target opens: XKRX 15:50–19:00 Asia/Seoul, XNYS 16:20–21:50 America/New_York \
         (20 minutes after the close, plus up to 190 / 330 minutes). {copy:.0}% of stories also \
         appear, lightly edited (a byline, an `UPDATE 1-` or `[press]` tag), in the partner outlet \
         10–90 minutes later; a copy adds no effect.\n\
         - The target session's close-to-close return (percent) of every stock the story names is\n\n\
         ```text\n\
         r = β · {e}% · sentiment + market + own\n\
         sentiment = +1 (positive) or −1 (negative); 0 on sessions without a story\n\
         market ~ N(0, {m}²)  shared by the exchange's stocks that session\n\
         own    ~ N(0, {own:.3}²)  per stock  (noise σ = {n}% in all)\n\
         β = 1 for target sessions before {w}, β = {f} from {w} on\n\
         ```\n\n\
         So a positive story adds **+{e}%** and a negative one **−{e}%** before {w}, and \
         **+{weak:.2}% / −{weak:.2}%** from then on. The mean target-session return after positive \
         news minus after negative news is **{d:.1} points** before {w} and **{dw:.2}** after: a model \
         that trades on news sentiment does well, then regresses after {w}. \
         {gap:.0}% of the effect is already in the target session's open.\n\
         - Normal draws are sums of twelve uniforms (tails end at ±6σ). Prices sit on the tick \
         (KRX's tick table; one cent in New York). Volume is 30% higher on story sessions.\n\
         - Tone is written only with words of tickerd's finance lexicon (`src/news/sentiment.rs`; \
         English as whole words, Korean as substrings), which has: positive {pos}; negative {neg}. \
         Every other word is neutral, so the lexicon recovers each item's sentiment.\n\n",
        pair = PLAN.pair_rate * 100.0,
        rate = PLAN.story_rate,
        copy = PLAN.copy_rate * 100.0,
        e = p.effect_pct,
        m = p.market_sd_pct,
        own = p.own_sd_pct(),
        n = p.noise_sd_pct,
        w = p.weaken_from,
        f = p.weak_fraction,
        d = 2.0 * p.effect_pct,
        dw = 2.0 * weak,
        gap = p.open_gap_share * 100.0,
        pos = words(lexicon::POSITIVE_EN, lexicon::POSITIVE_KO),
        neg = words(lexicon::NEGATIVE_EN, lexicon::NEGATIVE_KO),
    ));

    s.push_str(
        "## What tickerd's models read from it\n\n\
         - `baseline` (`src/predict/baseline.rs`) takes news as `NewsSignal { news_count, \
         news_sentiment }`. `predict` (`src/predict/pass.rs`) fills `news_count` with the number of \
         linked articles (first of each near-duplicate cluster) published in the \
         `news_lookback_days` before the cut-off, at most `max_news`, and `news_sentiment` with \
         their relevance-weighted tone from tickerd's finance lexicon (`src/news/sentiment.rs`, \
         which knows every tone word below). The baseline adds its news term (weight 0.30 × \
         sentiment × min(count / 5, 1)), so it reads the planted tone.\n\
         - `openai` models see each article's title and summary in `{{news}}` (the tone words) and \
         similar past articles with their `news_impact` returns in `{{similar}}` (a positive \
         article's 1-session return is +2% on average before the weakening date).\n\
         - `news_impact` measures from the last close known at publication, so its `ret_1d` is \
         exactly the planted target-session return.\n\n",
    );

    s.push_str("## Pointing tickerd at it\n\n");
    s.push_str(
        "With this folder at `data/sample` (the default `--out`), in the job files:\n\n\
         ```toml\n\
         # jobs/ohlc_daily.toml and jobs/ohlc_minute.toml\n\
         universe = \"data/sample/universe.csv\"\n\
         provider = \"files\"\n\
         [providers.files]\n\
         path = \"data/sample/market/{interval}/{exchange}/{code}.csv\"\n\
         ```\n\n\
         and the `[[sources]]` of `news_sources.toml` in `jobs/news_crawl.toml`. Then:\n\n",
    );
    // A slot the day after the last session, after both closes, reaching
    // back to the calendars' first day (so no gap is reported before it).
    let slot_day = END_SESSION + Duration::days(1);
    let first_day = about
        .markets
        .iter()
        .map(|m| m.cal.valid_from)
        .min()
        .unwrap_or(slot_day);
    s.push_str(&format!(
        "- daily bars: one run reaching back over the whole history: `lookback_days = {}` \
         in `jobs/ohlc_daily.toml` and `tickerd run ohlc_daily --slot {slot_day}T12:00:00Z`;\n",
        (slot_day - first_day).num_days()
    ));
    s.push_str("- minute bars: `ohlc_minute` reads the slot's session only, so one run per minute session at its close:");
    for m in about.markets {
        for d in &m.sessions[m.sessions.len().saturating_sub(MINUTE_SESSIONS)..] {
            if let Some((_, close)) = m.cal.session(*d) {
                s.push_str(&format!(
                    " `--slot {}`",
                    close.to_rfc3339_opts(SecondsFormat::Secs, true)
                ));
            }
        }
    }
    s.push_str(";\n- news: `tickerd run news_crawl` then `tickerd run news_impact` (after the daily bars).\n");
    s
}

fn words(en: &[&str], ko: &[&str]) -> String {
    en.iter()
        .chain(ko)
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
