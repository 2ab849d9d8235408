//! Links a news article to the stocks it is about (`news_stock_match`, the
//! relevance graph).
//!
//! # The cascade
//!
//! Every rule below produces *hits* (stock, rule, field, byte span); the
//! hits of one stock are then scored together.
//!
//! 1. **Source prior** – stocks the source itself attached to the article
//!    (a per-stock news page) each get one hit.
//! 2. **Explicit tokens**, checked against the ticker master:
//!    cashtags (`$AAPL`), exchange-prefixed symbols (`NASDAQ: AAPL`,
//!    `(NYSE: F)`, `KRX:005930`) and six-digit KRX codes that are not part
//!    of a longer number (`1,005,930`, phone numbers, `005930원`).
//!    A bare upper-case word is never read as a ticker (AI, CEO, IT…).
//! 3. **Alias dictionary** – every name and alias of every active stock in
//!    one Aho-Corasick automaton (leftmost-longest, ASCII case-insensitive),
//!    one pass per field. Longest wins, so `삼성전자우` beats `삼성전자` and
//!    `Samsung Electronics` beats `Samsung`. Boundary checks then reject
//!    matches inside longer words (see [`Edge`]).
//! 4. **Ambiguous names** – an alias listed in [`LinkRules::ambiguous`]
//!    (group names such as SK, LG, 삼성) or shared by several stocks is a
//!    *weak* hit: it never links a stock on its own, and only adds to a
//!    stock that has some other (strong) hit. A shared alias is never
//!    resolved to one of its owners.
//!
//! # The score
//!
//! Each stock's hits set up to five independent features, and
//! `relevance = 1 − Π(1 − w)` over the features present:
//!
//! | feature                                   | default weight        |
//! |-------------------------------------------|-----------------------|
//! | mentioned in the title                    | 0.6                   |
//! | cashtag, exchange symbol or KRX code      | 0.5                   |
//! | source prior                              | 0.5                   |
//! | in the lead (summary, or first 200 chars of the body) | 0.4       |
//! | `n` mentions in the body                  | 0.3 · (1 − e^(−0.5n)) |
//!
//! A stock is linked when `relevance ≥ threshold` (0.5). So a title
//! mention, an explicit code or the source prior links on its own; a lead
//! mention needs a second mention in the body; a passing mention deep in
//! the body never links. The lead weight was raised from 0.3 to 0.4 on the
//! labelled set (`tests/fixtures/news/linking.toml`): at 0.3 a stock named
//! in the summary and twice more in the body (typical when the headline
//! names no company) was never linked.
//!
//! Each feature is credited to the evidence item that first triggered it,
//! so the evidence weights multiply out to the relevance exactly.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, BuildError, Input, MatchKind};
use serde::{Deserialize, Serialize};

/// Version string stored with each link so relinking can tell old links apart.
pub const RULES_VERSION: &str = "1";

/// One row of the ticker master.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockEntry {
    pub id: i64,
    /// ISO 10383 MIC: "XKRX", "XNYS", "XNAS", ...
    pub exchange: String,
    /// "005930", "AAPL".
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default = "default_active")]
    pub active: bool,
}

fn default_active() -> bool {
    true
}

/// The text fields of one article.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArticleText<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub body: &'a str,
    /// stocks named by the source itself (a per-stock news page): the source prior
    pub source_stocks: &'a [i64],
}

/// Tunable rules; every field has a default, so a config only names what
/// it changes.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkRules {
    /// Minimum relevance for a link.
    pub threshold: f64,
    pub weights: Weights,
    /// names needing context (SK, LG, CJ, 삼성…): a hit on one of these
    /// never links a stock alone. Compared ASCII case-insensitively.
    pub ambiguous: Vec<String>,
    /// look-alike tokens never read as names (CEO, AI, IPO, ETF, USA, GDP …).
    /// Bare upper-case words are never read as tickers anyway; this list
    /// removes such words from the alias dictionary when a ticker master
    /// lists them as aliases (masters often list the ticker itself).
    /// Explicit forms still count: `$AI` and `(NYSE: AI)` are C3.ai.
    pub stop_tokens: Vec<String>,
    /// How many characters at the start of the body count as the lead.
    pub lead_chars: usize,
    /// Evidence items kept per link; items that carry weight are always
    /// kept, even past this cap.
    pub max_evidence: usize,
}

impl Default for LinkRules {
    fn default() -> Self {
        let words = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        LinkRules {
            threshold: 0.5,
            weights: Weights::default(),
            // Group (chaebol) names: each prefixes several listed companies,
            // and alone usually means the group. KT is deliberately absent:
            // it is KT Corp's registered name and how the press names it;
            // KT&G is told apart by leftmost-longest matching.
            ambiguous: words(&[
                "SK",
                "LG",
                "CJ",
                "GS",
                "LS",
                "HD",
                "DB",
                "HL",
                "삼성",
                "현대",
                "롯데",
                "한화",
                "포스코",
                "POSCO",
                "두산",
                "효성",
                "신세계",
                "코오롱",
                "Hyundai",
                "Lotte",
                "Hanwha",
                "Doosan",
            ]),
            stop_tokens: words(&[
                "AI", "CEO", "CFO", "COO", "CTO", "IT", "IPO", "ETF", "ETN", "USA", "US", "UK",
                "EU", "GDP", "CPI", "PPI", "FOMC", "FED", "SEC", "FDA", "IMF", "OPEC", "ESG", "EV",
                "ESS", "HBM", "GPU", "CPU", "PC", "TV", "IR", "M&A", "R&D", "EPS", "PER", "PBR",
                "ROE", "API", "NFT",
            ]),
            lead_chars: 200,
            max_evidence: 5,
        }
    }
}

/// Feature weights of the score (see the module docs).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub title_mention: f64,
    pub code_or_cashtag: f64,
    pub source_prior: f64,
    pub lead_mention: f64,
    /// Limit of the body-mention weight as mentions grow.
    pub body_mention: f64,
    /// Rate at which body mentions approach `body_mention`.
    pub body_decay: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            title_mention: 0.6,
            code_or_cashtag: 0.5,
            source_prior: 0.5,
            lead_mention: 0.4,
            body_mention: 0.3,
            body_decay: 0.5,
        }
    }
}

impl Weights {
    /// Weight of `n` mentions in the body: `body_mention · (1 − e^(−decay·n))`.
    pub fn body(&self, n: usize) -> f64 {
        self.body_mention * (1.0 - (-self.body_decay * n as f64).exp())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Link {
    pub stock_id: i64,
    pub relevance: f64,
    pub evidence: Vec<Evidence>,
}

/// First occurrence of one rule in one field, with how often it occurred.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    pub rule: Rule,
    pub field: Field,
    /// Byte offsets in that field (0..0 for the source prior).
    pub start: usize,
    pub end: usize,
    /// The matched text; for the source prior, the stock as `EXCHANGE:CODE`.
    pub text: String,
    /// Share of the relevance credited to this item: `1 − Π(1 − w)` over
    /// the features it was first to trigger (0 when it only confirms).
    pub weight: f64,
    /// Occurrences of this rule in this field.
    pub count: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    SourcePrior,
    Cashtag,
    /// NASDAQ: AAPL, (NYSE: X), KRX:005930
    ExchangeSymbol,
    /// six-digit code
    KrxCode,
    /// name or alias via Aho-Corasick
    Alias,
}

impl Rule {
    fn is_explicit(self) -> bool {
        matches!(self, Rule::Cashtag | Rule::ExchangeSymbol | Rule::KrxCode)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Source,
    Title,
    Summary,
    Body,
}

/// Markets whose symbols the explicit-token rules understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Market {
    Us,
    Kr,
}

fn market_of_mic(mic: &str) -> Option<Market> {
    const US: [&str; 8] = [
        "XNYS", "XNAS", "XASE", "ARCX", "BATS", "XNGS", "XNMS", "XNCM",
    ];
    const KR: [&str; 3] = ["XKRX", "XKOS", "XKON"];
    if US.iter().any(|m| m.eq_ignore_ascii_case(mic)) {
        Some(Market::Us)
    } else if KR.iter().any(|m| m.eq_ignore_ascii_case(mic)) {
        Some(Market::Kr)
    } else {
        None
    }
}

/// The exchange word before the colon in `NASDAQ: AAPL`, `NasdaqGS:MSFT`,
/// `NYSEArca: X`, `KOSPI: 005930`.
fn market_of_prefix(word: &[u8]) -> Option<Market> {
    let starts = |p: &[u8]| word.len() >= p.len() && word[..p.len()].eq_ignore_ascii_case(p);
    let is = |p: &[u8]| word.eq_ignore_ascii_case(p);
    if starts(b"NASDAQ") || starts(b"NYSE") || is(b"AMEX") || is(b"BATS") {
        Some(Market::Us)
    } else if is(b"KRX") || is(b"KOSPI") || is(b"KOSDAQ") || is(b"KSE") || is(b"KONEX") {
        Some(Market::Kr)
    } else {
        None
    }
}

/// What the text next to one end of an alias must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edge {
    /// The alias ends in an ASCII letter or digit: the neighbour must not be
    /// one ("Pineapple", "Applebee's", "KTX" do not match). Hangul may
    /// follow directly: Korean particles attach to Latin names too (KT의).
    Word,
    /// A two-syllable Hangul alias (기아, 애플, 메타): such short words turn
    /// up inside ordinary words (애플리케이션, 메타버스, 증기아), so a
    /// neighbouring Hangul syllable must be a particle (기아가, 현대차와기아).
    Syllable,
    /// Longer Hangul names are distinctive: particles and compounds attach
    /// freely (삼성전자가, 카카오톡), and text without spaces still matches.
    Free,
}

impl Edge {
    fn of(c: char, alias_chars: usize) -> Edge {
        if c.is_ascii_alphanumeric() {
            Edge::Word
        } else if is_hangul_syllable(c) && alias_chars <= 2 {
            Edge::Syllable
        } else {
            Edge::Free
        }
    }

    fn allows(self, neighbour: Option<char>, particles: &[char]) -> bool {
        match (self, neighbour) {
            (_, None) | (Edge::Free, _) => true,
            (Edge::Word, Some(c)) => !c.is_ascii_alphanumeric(),
            (Edge::Syllable, Some(c)) => !is_hangul_syllable(c) || particles.contains(&c),
        }
    }
}

/// Syllables that end the word before a name written without a space
/// (현대차와기아, 그리고애플).
const PARTICLES_BEFORE: &[char] = &[
    '와', '과', '의', '는', '은', '가', '이', '를', '을', '도', '에', '및', '고', '며', '서', '로',
    '랑', '나',
];
/// Syllables that start a particle or suffix after a name (기아가, 애플의,
/// 구글보다, 애플측, 애플사).
const PARTICLES_AFTER: &[char] = &[
    '가', '이', '은', '는', '을', '를', '의', '와', '과', '도', '에', '로', '만', '보', '처', '까',
    '부', '랑', '측', '사', '께', '서', '으',
];

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// One automaton pattern: an alias, deduplicated across stocks.
#[derive(Debug)]
struct AliasPattern {
    /// Indexes into `Linker::stocks`.
    owners: Vec<u32>,
    /// Ambiguous, or owned by several stocks: never links alone.
    weak: bool,
    /// The alias starts with a capital letter, and so must the text: the
    /// automaton is case-insensitive ("NVIDIA" matches "Nvidia"), but
    /// "apple", "meta-analysis" or "alphabet" are ordinary words.
    capital: bool,
    left: Edge,
    right: Edge,
}

impl AliasPattern {
    fn fits(&self, text: &str, start: usize, end: usize) -> bool {
        if self.capital
            && !text
                .as_bytes()
                .get(start)
                .is_some_and(u8::is_ascii_uppercase)
        {
            return false;
        }
        let before = text.get(..start).and_then(|s| s.chars().next_back());
        let after = text.get(end..).and_then(|s| s.chars().next());
        self.left.allows(before, PARTICLES_BEFORE) && self.right.allows(after, PARTICLES_AFTER)
    }
}

/// Who a symbol or code belongs to; a symbol listed twice in one market is
/// a master error and is never resolved.
#[derive(Clone, Copy, Debug)]
enum Owner {
    One(u32),
    Several,
}

#[derive(Debug)]
struct Listed {
    id: i64,
    exchange: String,
    code: String,
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    stock: u32,
    field: Field,
    rule: Rule,
    start: usize,
    end: usize,
    weak: bool,
}

/// The compiled ticker master: build once, link many articles.
#[derive(Debug)]
pub struct Linker {
    weights: Weights,
    threshold: f64,
    lead_chars: usize,
    max_evidence: usize,
    /// Active stocks only; hits refer to them by index.
    stocks: Vec<Listed>,
    by_id: HashMap<i64, u32>,
    us_symbols: HashMap<String, Owner>,
    kr_codes: HashMap<String, Owner>,
    /// `None` when the master has no usable alias.
    automaton: Option<AhoCorasick>,
    patterns: Vec<AliasPattern>,
}

impl Linker {
    /// Compiles the active stocks of `stocks` with `rules`.
    ///
    /// # Panics
    ///
    /// If the alias automaton cannot be built, which aho-corasick reports
    /// only when its state IDs overflow — far beyond any ticker master. Use
    /// [`Linker::try_new`] to handle that as an error.
    pub fn new(stocks: &[StockEntry], rules: &LinkRules) -> Linker {
        match Linker::try_new(stocks, rules) {
            Ok(linker) => linker,
            Err(e) => panic!("alias automaton for {} stocks: {e}", stocks.len()),
        }
    }

    pub fn try_new(stocks: &[StockEntry], rules: &LinkRules) -> Result<Linker, BuildError> {
        let lower = |list: &[String]| -> HashSet<String> {
            list.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
        };
        let ambiguous = lower(&rules.ambiguous);
        let stop = lower(&rules.stop_tokens);

        let mut listed = Vec::new();
        let mut by_id = HashMap::new();
        let mut us_symbols = HashMap::new();
        let mut kr_codes = HashMap::new();
        let mut patterns: Vec<AliasPattern> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut pattern_of: HashMap<String, usize> = HashMap::new();

        for stock in stocks.iter().filter(|s| s.active) {
            let Ok(ix) = u32::try_from(listed.len()) else {
                break;
            };
            listed.push(Listed {
                id: stock.id,
                exchange: stock.exchange.clone(),
                code: stock.code.clone(),
            });
            by_id.insert(stock.id, ix);

            let code = stock.code.trim();
            let symbols = match market_of_mic(stock.exchange.trim()) {
                Some(Market::Us) => Some((&mut us_symbols, code.to_ascii_uppercase())),
                Some(Market::Kr) => Some((&mut kr_codes, code.to_string())),
                None => None,
            };
            if let Some((map, key)) = symbols {
                map.entry(key)
                    .and_modify(|o| *o = Owner::Several)
                    .or_insert(Owner::One(ix));
            }

            for alias in std::iter::once(&stock.name).chain(&stock.aliases) {
                let alias = alias.trim();
                let Some(first) = alias.chars().next() else {
                    continue;
                };
                let key = alias.to_ascii_lowercase();
                if stop.contains(&key) {
                    continue;
                }
                let p = *pattern_of.entry(key.clone()).or_insert_with(|| {
                    let chars = alias.chars().count();
                    let last = alias.chars().next_back().unwrap_or(first);
                    texts.push(alias.to_string());
                    patterns.push(AliasPattern {
                        owners: Vec::new(),
                        weak: ambiguous.contains(&key),
                        capital: true,
                        left: Edge::of(first, chars),
                        right: Edge::of(last, chars),
                    });
                    patterns.len() - 1
                });
                let pattern = &mut patterns[p];
                // Spelled once with a lower-case start: no capital needed.
                pattern.capital &= first.is_ascii_uppercase();
                if !pattern.owners.contains(&ix) {
                    pattern.owners.push(ix);
                }
            }
        }
        for p in &mut patterns {
            p.weak |= p.owners.len() > 1;
        }

        let automaton = if texts.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .ascii_case_insensitive(true)
                    .build(&texts)?,
            )
        };
        Ok(Linker {
            weights: rules.weights.clone(),
            threshold: rules.threshold,
            lead_chars: rules.lead_chars,
            max_evidence: rules.max_evidence,
            stocks: listed,
            by_id,
            us_symbols,
            kr_codes,
            automaton,
            patterns,
        })
    }

    /// Stocks the article is about, by relevance (highest first), then id.
    pub fn link(&self, a: &ArticleText<'_>) -> Vec<Link> {
        let mut hits = Vec::new();
        for &id in a.source_stocks {
            if let Some(&stock) = self.by_id.get(&id) {
                hits.push(Hit {
                    stock,
                    field: Field::Source,
                    rule: Rule::SourcePrior,
                    start: 0,
                    end: 0,
                    weak: false,
                });
            }
        }
        for (field, text) in [
            (Field::Title, a.title),
            (Field::Summary, a.summary),
            (Field::Body, a.body),
        ] {
            self.scan_aliases(field, text, &mut hits);
            self.scan_explicit(field, text, &mut hits);
        }
        if hits.is_empty() {
            return Vec::new();
        }
        hits.sort_unstable_by_key(|h| (h.stock, h.field, h.start, h.end));

        let lead_end = a
            .body
            .char_indices()
            .nth(self.lead_chars)
            .map_or(a.body.len(), |(i, _)| i);
        let mut links: Vec<Link> = hits
            .chunk_by(|x, y| x.stock == y.stock)
            .filter_map(|group| self.score(group, a, lead_end))
            .collect();
        links.sort_by(|x, y| {
            y.relevance
                .total_cmp(&x.relevance)
                .then(x.stock_id.cmp(&y.stock_id))
        });
        links
    }

    /// All dictionary names in `text`, leftmost-longest, one pass.
    fn scan_aliases(&self, field: Field, text: &str, hits: &mut Vec<Hit>) {
        let Some(automaton) = &self.automaton else {
            return;
        };
        let mut at = 0;
        while at < text.len() {
            let Some(m) = automaton.find(Input::new(text).range(at..)) else {
                break;
            };
            let Some(pattern) = self.patterns.get(m.pattern().as_usize()) else {
                break;
            };
            if pattern.fits(text, m.start(), m.end()) {
                for &stock in &pattern.owners {
                    hits.push(Hit {
                        stock,
                        field,
                        rule: Rule::Alias,
                        start: m.start(),
                        end: m.end(),
                        weak: pattern.weak,
                    });
                }
                at = m.end();
            } else {
                // Rejected (e.g. "apple" in "Pineapple"): a valid name may
                // still start inside it, so resume one character later.
                let step = text
                    .get(m.start()..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                at = m.start() + step;
            }
        }
    }

    /// Cashtags, exchange-prefixed symbols and six-digit KRX codes: one
    /// byte scan (all three are ASCII), no regex.
    fn scan_explicit(&self, field: Field, text: &str, hits: &mut Vec<Hit>) {
        let b = text.as_bytes();
        let mut push = |owner: Option<&Owner>, rule, start, end| {
            if let Some(&Owner::One(stock)) = owner {
                hits.push(Hit {
                    stock,
                    field,
                    rule,
                    start,
                    end,
                    weak: false,
                });
            }
        };
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'$' => {
                    if let Some(end) = cashtag(b, i) {
                        push(
                            self.us_symbols.get(&text[i + 1..end]),
                            Rule::Cashtag,
                            i,
                            end,
                        );
                        i = end;
                        continue;
                    }
                }
                b':' => {
                    if let Some((market, start, sym, end)) = exchange_symbol(b, i) {
                        let symbol = &text[sym..end];
                        let owner = match market {
                            Market::Us => self.us_symbols.get(symbol),
                            Market::Kr => self.kr_codes.get(symbol),
                        };
                        push(owner, Rule::ExchangeSymbol, start, end);
                        // Skip the symbol: its digits are not a second hit.
                        i = end;
                        continue;
                    }
                }
                b'0'..=b'9' => {
                    let end = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if end - i == 6 && krx_code_stands_alone(text, i, end) {
                        push(self.kr_codes.get(&text[i..end]), Rule::KrxCode, i, end);
                    }
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// Scores one stock's hits (sorted by field, then offset).
    fn score(&self, hits: &[Hit], a: &ArticleText<'_>, lead_end: usize) -> Option<Link> {
        if hits.iter().all(|h| h.weak) {
            return None;
        }
        let first = hits.first()?;
        let stock = self.stocks.get(first.stock as usize)?;
        let w = &self.weights;

        // One item per (rule, field); `miss` is Π(1 − w) of the features
        // credited to it.
        struct Item {
            hit: Hit,
            count: usize,
            miss: f64,
        }
        let mut items: Vec<Item> = Vec::new();
        let (mut title, mut code, mut source, mut lead) = (false, false, false, false);
        let (mut body_item, mut body_n) = (None, 0);
        for h in hits {
            let ix = match items
                .iter()
                .position(|it| it.hit.rule == h.rule && it.hit.field == h.field)
            {
                Some(ix) => ix,
                None => {
                    items.push(Item {
                        hit: *h,
                        count: 0,
                        miss: 1.0,
                    });
                    items.len() - 1
                }
            };
            let item = &mut items[ix];
            item.count += 1;
            let mut credit = |done: &mut bool, weight: f64| {
                if !*done {
                    *done = true;
                    item.miss *= 1.0 - weight;
                }
            };
            if h.rule == Rule::SourcePrior {
                credit(&mut source, w.source_prior);
            }
            if h.rule.is_explicit() {
                credit(&mut code, w.code_or_cashtag);
            }
            match h.field {
                Field::Title => credit(&mut title, w.title_mention),
                Field::Summary => credit(&mut lead, w.lead_mention),
                Field::Body => {
                    if h.start < lead_end {
                        credit(&mut lead, w.lead_mention);
                    }
                    body_n += 1;
                    body_item.get_or_insert(ix);
                }
                Field::Source => {}
            }
        }
        if let Some(item) = body_item.and_then(|ix| items.get_mut(ix)) {
            item.miss *= 1.0 - w.body(body_n);
        }

        let relevance = 1.0 - items.iter().map(|it| it.miss).product::<f64>();
        // The 1e-9 absorbs float noise: 1 − (1 − 0.5) must link at 0.5.
        if relevance + 1e-9 < self.threshold {
            return None;
        }
        // Items that carry weight first, then confirmations, up to the cap.
        items.sort_by_key(|it| it.miss >= 1.0);
        let keep = self
            .max_evidence
            .max(items.iter().filter(|it| it.miss < 1.0).count());
        items.truncate(keep);
        items.sort_by_key(|it| (it.hit.field, it.hit.start));

        let evidence = items
            .into_iter()
            .map(|it| {
                let text = match it.hit.field {
                    Field::Source => format!("{}:{}", stock.exchange, stock.code),
                    Field::Title => slice(a.title, &it.hit),
                    Field::Summary => slice(a.summary, &it.hit),
                    Field::Body => slice(a.body, &it.hit),
                };
                Evidence {
                    rule: it.hit.rule,
                    field: it.hit.field,
                    start: it.hit.start,
                    end: it.hit.end,
                    text,
                    weight: 1.0 - it.miss,
                    count: it.count,
                }
            })
            .collect();
        Some(Link {
            stock_id: stock.id,
            relevance,
            evidence,
        })
    }
}

fn slice(text: &str, h: &Hit) -> String {
    text.get(h.start..h.end).unwrap_or_default().to_string()
}

/// `$AAPL`, `$BRK.B` at `i` (the `$`): returns the end of the tag. Upper
/// case only, so prices (`$5`) and words after a dollar sign do not count.
fn cashtag(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    us_symbol(b, i + 1)
}

/// `NASDAQ: AAPL`, `(NYSE:F)`, `KRX: 005930` around the colon at `i`:
/// returns (market, start of the exchange word, start of the symbol, end).
fn exchange_symbol(b: &[u8], i: usize) -> Option<(Market, usize, usize, usize)> {
    let start = i - b[..i]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if start == i || (start > 0 && b[start - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let market = market_of_prefix(&b[start..i])?;
    let sym = i
        + 1
        + b[i + 1..]
            .iter()
            .take(2)
            .take_while(|&&c| c == b' ')
            .count();
    let end = match market {
        Market::Us => us_symbol(b, sym)?,
        Market::Kr => {
            let end = sym + b[sym..].iter().take_while(|c| c.is_ascii_digit()).count();
            let alone = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
            (end - sym == 6 && alone).then_some(end)?
        }
    };
    Some((market, start, sym, end))
}

/// A US symbol at `i`: 1–5 capitals, optionally a share-class suffix
/// (`BRK.B`), not followed by a letter or digit. Returns its end.
fn us_symbol(b: &[u8], i: usize) -> Option<usize> {
    let caps = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase())
            .count()
    };
    let n = caps(i);
    if !(1..=5).contains(&n) {
        return None;
    }
    let mut end = i + n;
    if b.get(end) == Some(&b'.') {
        let class = caps(end + 1);
        if (1..=2).contains(&class) {
            end += 1 + class;
        }
    }
    b.get(end)
        .is_none_or(|c| !c.is_ascii_alphanumeric())
        .then_some(end)
}

/// Units after a number: a six-digit number followed by one is an amount.
const UNITS: &[char] = &[
    '원', '주', '명', '개', '건', '억', '만', '천', '달', '대', '톤', '회', '번', '년', '월', '일',
    '%',
];

/// Is the six-digit run `start..end` a code rather than part of a number
/// (1,005,930 / 3.005930 / 02-005930-1), an amount (005930원) or a word?
/// `A005930` (the KRX data-feed form) is accepted.
fn krx_code_stands_alone(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let digit_at = |i: Option<usize>| i.and_then(|i| b.get(i)).is_some_and(u8::is_ascii_digit);
    if let Some(&p) = start.checked_sub(1).and_then(|i| b.get(i)) {
        let joined = matches!(p, b',' | b'.' | b'-') && digit_at(start.checked_sub(2));
        let a_prefix = p == b'A'
            && !start
                .checked_sub(2)
                .and_then(|i| b.get(i))
                .is_some_and(u8::is_ascii_alphanumeric);
        if joined || (p.is_ascii_alphabetic() && !a_prefix) {
            return false;
        }
    }
    if let Some(&n) = b.get(end) {
        let joined = matches!(n, b',' | b'.' | b'-') && digit_at(Some(end + 1));
        let unit = text[end..]
            .chars()
            .next()
            .is_some_and(|c| UNITS.contains(&c));
        if joined || n.is_ascii_alphanumeric() || unit {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(id: i64, exchange: &str, code: &str, name: &str, aliases: &[&str]) -> StockEntry {
        StockEntry {
            id,
            exchange: exchange.into(),
            code: code.into(),
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            active: true,
        }
    }

    fn master() -> Vec<StockEntry> {
        vec![
            stock(
                1,
                "XKRX",
                "005930",
                "삼성전자",
                &["Samsung Electronics", "Samsung", "삼성"],
            ),
            stock(2, "XKRX", "005935", "삼성전자우", &[]),
            stock(3, "XKRX", "000660", "SK하이닉스", &["SK hynix"]),
            stock(6, "XKRX", "034730", "SK", &["SK㈜"]),
            stock(15, "XKRX", "000270", "기아", &["Kia"]),
            stock(16, "XKRX", "035720", "카카오", &[]),
            stock(14, "XKRX", "005380", "현대차", &[]),
            stock(101, "XNAS", "AAPL", "Apple", &["애플"]),
            stock(106, "XNAS", "META", "Meta Platforms", &["Meta", "메타"]),
            stock(108, "XNYS", "AI", "C3.ai", &["AI"]),
            stock(109, "XNAS", "INTC", "Intel", &["인텔"]),
            stock(110, "XNYS", "F", "Ford Motor", &["Ford"]),
            stock(201, "XKRX", "000880", "한화", &["Hanwha Group"]),
            stock(202, "XKRX", "009830", "한화솔루션", &["Hanwha Group"]),
        ]
    }

    fn linker() -> Linker {
        Linker::new(&master(), &LinkRules::default())
    }

    fn title(l: &Linker, t: &str) -> Vec<Link> {
        l.link(&ArticleText {
            title: t,
            ..Default::default()
        })
    }

    fn body(l: &Linker, t: &str) -> Vec<Link> {
        l.link(&ArticleText {
            body: t,
            ..Default::default()
        })
    }

    fn ids(links: &[Link]) -> Vec<i64> {
        links.iter().map(|l| l.stock_id).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn source_prior_alone_links_at_threshold() {
        let l = linker();
        let links = l.link(&ArticleText {
            source_stocks: &[1, 999],
            ..Default::default()
        });
        assert_eq!(ids(&links), [1]);
        let e = &links[0].evidence[0];
        assert_eq!(
            (e.rule, e.field, e.text.as_str()),
            (Rule::SourcePrior, Field::Source, "XKRX:005930")
        );
        assert!(close(links[0].relevance, 0.5) && close(e.weight, 0.5));
    }

    #[test]
    fn cashtags_resolve_us_symbols_with_offsets() {
        let l = linker();
        let links = body(&l, "Buy $AAPL now, $AI too; not $5, $aapl, $AAPLX or $FOO");
        assert_eq!(ids(&links), [101, 108]);
        let e = &links[0].evidence[0];
        assert_eq!(
            (e.rule, e.start, e.end, e.text.as_str()),
            (Rule::Cashtag, 4, 9, "$AAPL")
        );
        assert_eq!(links[1].evidence[0].text, "$AI");
    }

    #[test]
    fn exchange_prefixed_symbols() {
        let l = linker();
        let t =
            "Apple Inc (NASDAQ: AAPL) and (NYSE:F), (NasdaqGS: INTC), KRX:005930, KOSPI: 000270";
        let links = body(&l, t);
        let mut got = ids(&links);
        got.sort();
        assert_eq!(got, [1, 15, 101, 109, 110]);
        let ford = links.iter().find(|l| l.stock_id == 110).unwrap();
        let e = &ford.evidence[0];
        assert_eq!(
            (e.rule, &t[e.start..e.end]),
            (Rule::ExchangeSymbol, "NYSE:F")
        );
        let samsung = &links.iter().find(|l| l.stock_id == 1).unwrap().evidence;
        assert_eq!(samsung.len(), 1, "the code after KRX: is not a second hit");
        assert_eq!(samsung[0].text, "KRX:005930");
        // Unknown exchange, lower-case symbol, a word that starts with a symbol.
        assert!(body(&l, "TSX: AAPL, NYSE: aapl, NYSE: Fortune, 10:30").is_empty());
    }

    #[test]
    fn krx_codes_only_when_standing_alone() {
        let l = linker();
        for yes in ["삼성(005930)", "005930.KS", "A005930", "코드 005930 참조"] {
            assert_eq!(ids(&body(&l, yes)), [1], "{yes}");
        }
        for no in [
            "1,005,930억원",
            "3.005930",
            "1005930",
            "02-005930-1",
            "005930원",
            "X005930",
            "123456",
        ] {
            assert!(body(&l, no).is_empty(), "{no}");
        }
        let links = body(&l, "기아(000270)");
        let code = links[0]
            .evidence
            .iter()
            .find(|e| e.rule == Rule::KrxCode)
            .unwrap();
        assert_eq!(
            (code.start, code.end, code.text.as_str()),
            (7, 13, "000270")
        );
    }

    #[test]
    fn bare_tickers_and_stop_tokens_are_not_names() {
        let l = linker();
        // "AI" is listed as an alias of C3.ai but is a stop token; AAPL,
        // META-in-capitals-as-ticker and F are never bare tickers.
        assert!(title(&l, "AI boom: CEO says AAPL and F are cheap").is_empty());
        let rules = LinkRules {
            stop_tokens: vec![],
            ..LinkRules::default()
        };
        let no_stop = Linker::new(&master(), &rules);
        assert_eq!(ids(&title(&no_stop, "AI boom")), [108]);
    }

    #[test]
    fn korean_particles_and_no_spaces() {
        let l = linker();
        let links = title(&l, "삼성전자가 카카오의 지분을");
        assert_eq!(ids(&links), [1, 16]);
        let e = &links[0].evidence[0];
        assert_eq!((e.start, e.end, e.text.as_str()), (0, 12, "삼성전자"));
        assert_eq!(ids(&title(&l, "현대차와기아가美관세대응")), [14, 15]);
    }

    #[test]
    fn leftmost_longest_prefers_the_full_name() {
        let l = linker();
        assert_eq!(ids(&title(&l, "삼성전자우 급등")), [2]);
        let links = title(&l, "Samsung Electronics beats");
        assert_eq!(links[0].evidence[0].text, "Samsung Electronics");
        assert_eq!(ids(&title(&l, "SK하이닉스 신고가")), [3], "not SK Inc");
    }

    #[test]
    fn latin_aliases_need_word_boundaries_and_a_capital() {
        let l = linker();
        for no in [
            "Pineapple prices",
            "Applebee's menu",
            "an apple a day",
            "Metaverse land",
            "meta-analysis",
        ] {
            assert!(title(&l, no).is_empty(), "{no}");
        }
        for yes in [
            "Apple's results",
            "APPLE 실적",
            "애플·Apple",
            "Apple의 실적",
        ] {
            assert_eq!(ids(&title(&l, yes)), [101], "{yes}");
        }
    }

    #[test]
    fn short_hangul_aliases_need_particles_around_them() {
        let l = linker();
        for no in [
            "애플리케이션 시장",
            "메타버스 플랫폼",
            "증기아",
            "인텔리전스",
        ] {
            assert!(title(&l, no).is_empty(), "{no}");
        }
        for (yes, id) in [
            ("애플의 실적", 101),
            ("기아가 출시", 15),
            ("구매와기아", 15),
            ("메타, 신모델", 106),
        ] {
            assert_eq!(ids(&title(&l, yes)), [id], "{yes}");
        }
    }

    #[test]
    fn ambiguous_names_need_other_evidence() {
        let l = linker();
        assert!(title(&l, "SK그룹 리밸런싱").is_empty());
        assert!(title(&l, "삼성 총수 출장").is_empty());
        // With the code, the group name counts as a title mention too.
        let links = l.link(&ArticleText {
            title: "SK 지배구조 개편",
            body: "SK(034730)는",
            ..Default::default()
        });
        assert_eq!(ids(&links), [6]);
        assert!(links[0]
            .evidence
            .iter()
            .any(|e| e.field == Field::Title && e.rule == Rule::Alias));
        // A name shared by two stocks picks neither...
        assert!(title(&l, "Hanwha Group expands").is_empty());
        // ...and only helps the one with its own evidence.
        let links = l.link(&ArticleText {
            title: "Hanwha Group expands",
            body: "(KRX: 009830)",
            ..Default::default()
        });
        assert_eq!(ids(&links), [202]);
    }

    #[test]
    fn inactive_stocks_are_ignored() {
        let mut stocks = master();
        stocks.retain(|s| s.id == 101);
        stocks[0].active = false;
        let l = Linker::new(&stocks, &LinkRules::default());
        let a = ArticleText {
            title: "Apple $AAPL (NASDAQ: AAPL)",
            source_stocks: &[101],
            ..Default::default()
        };
        assert!(l.link(&a).is_empty());
    }

    #[test]
    fn score_follows_the_formula() {
        let l = linker();
        let w = Weights::default();
        // Title only.
        assert!(close(
            title(&l, "Intel cuts jobs")[0].relevance,
            w.title_mention
        ));
        // One mention deep in the body: n = 1, not in the lead.
        let deep = format!("{}Intel", "x ".repeat(150));
        let links = l.link(&ArticleText {
            body: &deep,
            ..Default::default()
        });
        assert!(links.is_empty());
        // Lead + three body mentions + title + cashtag.
        let a = ArticleText {
            title: "Intel",
            body: "Intel, Intel and $INTC",
            ..Default::default()
        };
        let links = l.link(&a);
        let expect = 1.0
            - (1.0 - w.title_mention)
                * (1.0 - w.lead_mention)
                * (1.0 - w.body(3))
                * (1.0 - w.code_or_cashtag);
        assert!(close(links[0].relevance, expect));
        // The evidence weights multiply out to the relevance.
        let miss: f64 = links[0].evidence.iter().map(|e| 1.0 - e.weight).product();
        assert!(close(1.0 - miss, expect));
        let alias_body = links[0]
            .evidence
            .iter()
            .find(|e| e.field == Field::Body && e.rule == Rule::Alias)
            .unwrap();
        assert_eq!(alias_body.count, 2);
        assert!(close(w.body(1), 0.3 * (1.0 - (-0.5f64).exp())));
    }

    #[test]
    fn evidence_is_capped_but_keeps_every_contributing_rule() {
        let l = linker();
        let a = ArticleText {
            title: "Intel $INTC",
            summary: "Intel (NASDAQ: INTC)",
            body: "Intel $INTC (NASDAQ: INTC)",
            source_stocks: &[109],
        };
        let links = l.link(&a);
        let ev = &links[0].evidence;
        assert_eq!(ev.len(), 5);
        let weighted = ev.iter().filter(|e| e.weight > 0.0).count();
        assert_eq!(weighted, 5, "source, title, code, lead, body");
        let tight = Linker::new(
            &master(),
            &LinkRules {
                max_evidence: 1,
                ..LinkRules::default()
            },
        );
        assert_eq!(
            tight.link(&a)[0].evidence.len(),
            5,
            "weighted items survive the cap"
        );
    }

    #[test]
    fn links_sorted_by_relevance_then_id() {
        let l = linker();
        let a = ArticleText {
            title: "Ford and Intel",
            body: "$F",
            ..Default::default()
        };
        assert_eq!(ids(&l.link(&a)), [110, 109]);
        assert_eq!(ids(&title(&l, "Intel and Ford")), [109, 110]);
    }

    #[test]
    fn rules_deserialize_with_defaults() {
        let rules: LinkRules =
            toml::from_str("threshold = 0.6\n[weights]\ntitle_mention = 0.7\n").unwrap();
        assert_eq!((rules.threshold, rules.weights.title_mention), (0.6, 0.7));
        assert_eq!(rules.weights.source_prior, 0.5);
        assert!(rules.ambiguous.iter().any(|s| s == "SK"));
        assert!(toml::from_str::<LinkRules>("treshold = 0.6").is_err());
    }

    #[test]
    fn evidence_serializes_in_snake_case() {
        let links = title(&linker(), "Intel");
        let json = serde_json::to_value(&links[0]).unwrap();
        assert_eq!(json["evidence"][0]["rule"], "alias");
        assert_eq!(json["evidence"][0]["field"], "title");
    }

    // ---------------------------------------------------- the labelled set

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fixture {
        stock: Vec<StockEntry>,
        article: Vec<LabelledArticle>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct LabelledArticle {
        id: String,
        title: String,
        #[serde(default)]
        summary: String,
        #[serde(default)]
        body: String,
        #[serde(default)]
        source: Vec<String>,
        expect: Vec<String>,
        #[serde(default)]
        hard: bool,
    }

    #[test]
    fn labelled_set_precision_and_recall() {
        let fixture: Fixture =
            toml::from_str(include_str!("../../tests/fixtures/news/linking.toml")).unwrap();
        let key_of: HashMap<i64, String> = fixture
            .stock
            .iter()
            .map(|s| (s.id, format!("{}:{}", s.exchange, s.code)))
            .collect();
        let id_of: HashMap<&str, i64> = key_of.iter().map(|(id, k)| (k.as_str(), *id)).collect();
        let l = Linker::new(&fixture.stock, &LinkRules::default());

        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for art in &fixture.article {
            let source: Vec<i64> = art.source.iter().map(|k| id_of[k.as_str()]).collect();
            let a = ArticleText {
                title: &art.title,
                summary: &art.summary,
                body: &art.body,
                source_stocks: &source,
            };
            let links = l.link(&a);
            let got: HashSet<&str> = links.iter().map(|x| key_of[&x.stock_id].as_str()).collect();
            let want: HashSet<&str> = art.expect.iter().map(String::as_str).collect();
            assert!(
                want.iter().all(|k| id_of.contains_key(k)),
                "{}: unknown label",
                art.id
            );
            tp += got.intersection(&want).count();
            let hard = if art.hard { " (hard)" } else { "" };
            for k in got.difference(&want) {
                fp += 1;
                let link = links.iter().find(|x| key_of[&x.stock_id] == *k).unwrap();
                println!(
                    "FP {}{hard}: {k} relevance {:.3} {:?}",
                    art.id, link.relevance, link.evidence
                );
            }
            for k in want.difference(&got) {
                fn_ += 1;
                // Show the sub-threshold score, if there was any hit.
                let probe = Linker::new(
                    &fixture.stock,
                    &LinkRules {
                        threshold: 0.0,
                        ..LinkRules::default()
                    },
                );
                let below = probe
                    .link(&a)
                    .into_iter()
                    .find(|x| key_of[&x.stock_id] == *k);
                println!(
                    "FN {}{hard}: {k} relevance {:?}",
                    art.id,
                    below.map(|x| x.relevance)
                );
            }
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / (tp + fn_) as f64;
        println!(
            "labelled set: {} articles, tp {tp} fp {fp} fn {fn_}: precision {precision:.3} recall {recall:.3}",
            fixture.article.len()
        );
        assert!(fixture.article.len() >= 50);
        assert!(
            precision >= 0.9 && recall >= 0.9,
            "precision {precision:.3} recall {recall:.3}"
        );
    }
}
