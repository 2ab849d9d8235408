//! The sample's news: which stock gets a story before which session, when
//! it is published, in which outlet and language, and its syndicated copy.
//!
//! A *story* is one event: one or two stocks of one exchange, one tone
//! (positive or negative) and one *target session*, the session after its
//! publication. A stock has at most one story per target session, so the
//! planted effect on a session is exactly ±E or nothing. A story appears as
//! one item in its outlet and, for some stories, as a lightly edited copy
//! in the partner outlet of the same language; copies carry no extra
//! effect.
//!
//! Publication: between 20 minutes after the close of the session before
//! the target and [`PublishWindow::minutes`] later (XKRX 15:50–19:00 KST,
//! XNYS 16:20–21:50 New York time), the copy 10–90 minutes after the
//! original. So every item is published after the last close and before
//! the target session opens, and before `predict`'s nightly 21:00 KST
//! cut-off that predicts the target session (`schedules.toml`).

use super::text::{self, Lang, Mention, Text};
use super::universe::SampleStock;
use super::Rng64;
use crate::time::Calendar;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Story rates and shares (see the module docs).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct NewsPlan {
    /// Chance that a stock gets a story before a given session.
    pub story_rate: f64,
    /// Chance that a story also names a second stock of its exchange.
    pub pair_rate: f64,
    /// Chance that a story is syndicated to the partner outlet.
    pub copy_rate: f64,
    /// Share of XKRX stories written in Korean (the rest in English).
    pub korean_share: f64,
    /// Share of English stories in the RSS wire (the rest in the Atom feed).
    pub wire_share: f64,
    /// Share of Korean stories in the RSS feed (the rest on the list pages).
    pub kr_feed_share: f64,
}

pub const PLAN: NewsPlan = NewsPlan {
    story_rate: 0.5,
    pair_rate: 0.12,
    copy_rate: 0.15,
    korean_share: 0.6,
    wire_share: 0.55,
    kr_feed_share: 0.5,
};

/// When an original item may appear: `after_close` minutes after the
/// previous session's close, plus up to `minutes`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PublishWindow {
    pub after_close: i64,
    pub minutes: i64,
}

pub fn window(exchange: &str) -> PublishWindow {
    match exchange {
        "XKRX" => PublishWindow {
            after_close: 20,
            minutes: 190,
        },
        _ => PublishWindow {
            after_close: 20,
            minutes: 330,
        },
    }
}

/// A syndicated copy appears this many minutes after the original.
pub const COPY_DELAY_MINUTES: (u64, u64) = (10, 90);

/// Where an item appears: four invented outlets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outlet {
    /// English RSS 2.0 wire.
    Wire,
    /// English Atom business feed.
    Biz,
    /// Korean RSS economy feed.
    KrEcon,
    /// Korean HTML list pages.
    KrList,
}

/// A source file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Html,
}

impl Outlet {
    pub const ALL: [Outlet; 4] = [Outlet::Wire, Outlet::Biz, Outlet::KrEcon, Outlet::KrList];

    /// Source name prefix (files and `[[sources]]` names add `-01`, …).
    pub fn name(self) -> &'static str {
        match self {
            Outlet::Wire => "synth-wire",
            Outlet::Biz => "synth-biz",
            Outlet::KrEcon => "synth-kr-econ",
            Outlet::KrList => "synth-kr-list",
        }
    }

    /// The feed's or page's own title.
    pub fn title(self) -> &'static str {
        match self {
            Outlet::Wire => "Synthetic Markets Wire",
            Outlet::Biz => "Synthetic Business Daily",
            Outlet::KrEcon => "합성경제 증권 뉴스",
            Outlet::KrList => "합성금융 주요뉴스",
        }
    }

    pub fn lang(self) -> Lang {
        match self {
            Outlet::Wire | Outlet::Biz => Lang::En,
            Outlet::KrEcon | Outlet::KrList => Lang::Ko,
        }
    }

    pub fn format(self) -> Format {
        match self {
            Outlet::Wire | Outlet::KrEcon => Format::Rss,
            Outlet::Biz => Format::Atom,
            Outlet::KrList => Format::Html,
        }
    }

    /// The outlet that syndicates this one's stories.
    fn partner(self) -> Outlet {
        match self {
            Outlet::Wire => Outlet::Biz,
            Outlet::Biz => Outlet::Wire,
            Outlet::KrEcon => Outlet::KrList,
            Outlet::KrList => Outlet::KrEcon,
        }
    }

    fn url(self, story: usize, published: DateTime<Utc>, code: &str) -> String {
        let day = published.format("%Y/%m/%d");
        let compact = published.format("%Y%m%d");
        let code = code.to_ascii_lowercase();
        match self {
            Outlet::Wire => {
                format!("https://wire.synth-market.example/markets/{day}/{code}-{story:05}")
            }
            Outlet::Biz => format!("https://biz.synth-market.example/news/{story:05}-{code}"),
            Outlet::KrEcon => format!("https://econ.synth-kr.example/article/{compact}{story:05}"),
            Outlet::KrList => {
                format!("https://list.synth-kr.example/news/read?aid={story:07}&utm_source=list")
            }
        }
    }
}

/// One exchange's sessions and stocks.
pub struct Market<'a> {
    pub exchange: &'static str,
    pub cal: &'a Calendar,
    pub sessions: Vec<NaiveDate>,
    /// Indexes into the universe.
    pub stocks: Vec<usize>,
}

/// One event: see the module docs.
#[derive(Debug, Clone)]
pub struct Story {
    pub id: usize,
    /// Index into the markets.
    pub market: usize,
    /// Indexes into the universe; one or two.
    pub stocks: Vec<usize>,
    pub positive: bool,
    /// Index of the target session in the market's sessions (≥ 1).
    pub target: usize,
    pub published: DateTime<Utc>,
    pub lang: Lang,
    pub outlet: Outlet,
    /// When the syndicated copy appears (in the partner outlet), if any.
    pub copy: Option<DateTime<Utc>>,
}

impl Story {
    pub fn sentiment(&self) -> i8 {
        if self.positive {
            1
        } else {
            -1
        }
    }
}

/// One item as a source shows it.
#[derive(Debug, Clone)]
pub struct Item {
    pub story: usize,
    /// A syndicated copy (not the original).
    pub copy: bool,
    pub outlet: Outlet,
    pub url: String,
    pub published: DateTime<Utc>,
    pub text: Text,
}

/// Draws every story, market by market and session by session.
pub fn select(markets: &[Market<'_>], rng: &mut Rng64) -> Vec<Story> {
    let mut stories = Vec::new();
    for (m, market) in markets.iter().enumerate() {
        for target in 1..market.sessions.len() {
            let Some((_, close)) = market.cal.session(market.sessions[target - 1]) else {
                continue;
            };
            let mut order = market.stocks.clone();
            rng.shuffle(&mut order);
            let mut used = vec![false; order.len()];
            for i in 0..order.len() {
                if used[i] || !rng.chance(PLAN.story_rate) {
                    continue;
                }
                used[i] = true;
                let mut stocks = vec![order[i]];
                if rng.chance(PLAN.pair_rate) {
                    if let Some(j) = (i + 1..order.len()).find(|&j| !used[j]) {
                        used[j] = true;
                        stocks.push(order[j]);
                    }
                }
                let story = draw(stories.len(), m, market, stocks, target, close, rng);
                stories.push(story);
            }
        }
    }
    stories
}

fn draw(
    id: usize,
    m: usize,
    market: &Market<'_>,
    stocks: Vec<usize>,
    target: usize,
    prev_close: DateTime<Utc>,
    rng: &mut Rng64,
) -> Story {
    let w = window(market.exchange);
    let published =
        prev_close + Duration::minutes(w.after_close + rng.range(0, w.minutes as u64 - 1) as i64);
    let lang = if market.exchange == "XKRX" && rng.chance(PLAN.korean_share) {
        Lang::Ko
    } else {
        Lang::En
    };
    let outlet = match lang {
        Lang::En if rng.chance(PLAN.wire_share) => Outlet::Wire,
        Lang::En => Outlet::Biz,
        Lang::Ko if rng.chance(PLAN.kr_feed_share) => Outlet::KrEcon,
        Lang::Ko => Outlet::KrList,
    };
    let copy = rng.chance(PLAN.copy_rate).then(|| {
        let (lo, hi) = COPY_DELAY_MINUTES;
        published + Duration::minutes(rng.range(lo, hi) as i64)
    });
    Story {
        id,
        market: m,
        stocks,
        positive: rng.chance(0.5),
        target,
        published,
        lang,
        outlet,
        copy,
    }
}

/// The planted sentiment per stock and session: `out[stock][session]`.
pub fn sentiments(stories: &[Story], markets: &[Market<'_>], stocks: usize) -> Vec<Vec<i8>> {
    let mut out: Vec<Vec<i8>> = vec![Vec::new(); stocks];
    for m in markets {
        for &s in &m.stocks {
            out[s] = vec![0; m.sessions.len()];
        }
    }
    for story in stories {
        for &s in &story.stocks {
            out[s][story.target] = story.sentiment();
        }
    }
    out
}

/// Every item: each story's original and its copy, with their text.
/// `close(stock, session)` is a close in currency units (price targets).
pub fn items(
    stories: &[Story],
    markets: &[Market<'_>],
    universe: &[SampleStock],
    close: impl Fn(usize, usize) -> f64,
    rng: &mut Rng64,
) -> Vec<Item> {
    let mut out = Vec::with_capacity(stories.len() * 6 / 5);
    for story in stories {
        let market = &markets[story.market];
        let mentions: Vec<Mention<'_>> = story
            .stocks
            .iter()
            .map(|&s| Mention {
                stock: &universe[s],
                close: close(s, story.target - 1),
            })
            .collect();
        let local = story.published.with_timezone(&market.cal.tz).naive_local();
        let text = text::render(story.lang, story.positive, &mentions, local, rng);
        let code = universe[story.stocks[0]].code;
        let copy = story.copy.map(|at| {
            let partner = story.outlet.partner();
            Item {
                story: story.id,
                copy: true,
                outlet: partner,
                url: partner.url(story.id, at, code),
                published: at,
                text: text::syndicate(story.lang, &text, rng),
            }
        });
        out.push(Item {
            story: story.id,
            copy: false,
            outlet: story.outlet,
            url: story.outlet.url(story.id, story.published, code),
            published: story.published,
            text,
        });
        out.extend(copy);
    }
    out
}
