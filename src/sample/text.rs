//! Headlines and summaries of the sample's news, in English and Korean.
//!
//! A story is a title plus a summary of two or three sentences, each picked
//! from a pool of templates and filled with the company, its product, a
//! client, amounts, a broker and the reporting quarter. The pools are large
//! enough that two stories about one company are rarely near copies of each
//! other (the crawler clusters near copies by MinHash, see `news::dedup`),
//! while a syndicated copy ([`syndicate`]) changes only a byline or a tag.
//!
//! Sentiment words come only from tickerd's lexicon (`news::sentiment`): a
//! positive story uses positive words and no negative ones, and vice versa;
//! every other word is neutral to it (a test renders every template and
//! scores it).
//!
//! Korean particles (이/가, 은/는, 을/를, 와/과, 으로/로) follow the final
//! consonant of the word they attach to: `{k:은}` renders `다온반도체는`
//! or `온새미로화학은`.

use super::universe::SampleStock;
use super::Rng64;
use chrono::{Datelike, NaiveDateTime};
use std::collections::HashMap;

/// Industry of a sample company: chooses its products and themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sector {
    Chips,
    Autos,
    Pharma,
    Chemicals,
    Games,
    Energy,
    Food,
    Shipping,
    Telecom,
    Banks,
    Software,
    Steel,
    Retail,
}

impl Sector {
    fn products_en(self) -> &'static [&'static str] {
        match self {
            Sector::Chips => &["memory chips", "image sensors", "power semiconductors"],
            Sector::Autos => &["electric SUVs", "hybrid sedans", "driver-assist modules"],
            Sector::Pharma => &["cancer drugs", "diabetes treatments", "biosimilars"],
            Sector::Chemicals => &["cathode materials", "specialty resins", "recycled plastics"],
            Sector::Games => &[
                "mobile role-playing games",
                "console titles",
                "esports leagues",
            ],
            Sector::Energy => &["solar modules", "grid batteries", "hydrogen fuel cells"],
            Sector::Food => &["instant noodles", "frozen dumplings", "snack bars"],
            Sector::Shipping => &["container ships", "LNG carriers", "bulk freighters"],
            Sector::Telecom => &["5G plans", "enterprise lines", "data-centre services"],
            Sector::Banks => &["corporate loans", "mortgages", "wealth management"],
            Sector::Software => &["cloud ERP", "security software", "network switches"],
            Sector::Steel => &["rebar", "hot-rolled coil", "pipeline steel"],
            Sector::Retail => &["private-label apparel", "home goods", "online grocery"],
        }
    }

    fn products_ko(self) -> &'static [&'static str] {
        match self {
            Sector::Chips => &["고대역폭 메모리", "이미지 센서", "전력 반도체"],
            Sector::Autos => &["전기 SUV", "하이브리드 세단", "자율주행 모듈"],
            Sector::Pharma => &["항암 신약", "당뇨 치료제", "바이오시밀러"],
            Sector::Chemicals => &["양극재", "특수 수지", "재생 플라스틱"],
            Sector::Games => &["모바일 RPG", "콘솔 신작", "e스포츠 리그"],
            Sector::Energy => &["태양광 모듈", "에너지저장장치", "수소 연료전지"],
            Sector::Food => &["즉석밥", "냉동 만두", "컵라면"],
            Sector::Shipping => &["컨테이너선", "LNG 운반선", "벌크선"],
            Sector::Telecom => &["5G 요금제", "기업용 회선", "데이터센터"],
            Sector::Banks => &["기업 대출", "주택담보대출", "자산관리"],
            Sector::Software => &["클라우드 ERP", "보안 솔루션", "네트워크 장비"],
            Sector::Steel => &["철근", "열연 강판", "파이프라인 강재"],
            Sector::Retail => &["자체 브랜드 의류", "생활용품", "온라인 장보기"],
        }
    }

    fn theme_en(self) -> &'static str {
        match self {
            Sector::Chips => "AI server",
            Sector::Autos => "electric-vehicle",
            Sector::Pharma => "obesity-drug",
            Sector::Chemicals => "battery-materials",
            Sector::Games => "mobile-gaming",
            Sector::Energy => "power-grid",
            Sector::Food => "food-export",
            Sector::Shipping => "container-freight",
            Sector::Telecom => "5G network",
            Sector::Banks => "lending",
            Sector::Software => "cloud",
            Sector::Steel => "infrastructure",
            Sector::Retail => "holiday-shopping",
        }
    }

    fn theme_ko(self) -> &'static str {
        match self {
            Sector::Chips => "AI 반도체",
            Sector::Autos => "전기차",
            Sector::Pharma => "비만 치료제",
            Sector::Chemicals => "배터리 소재",
            Sector::Games => "모바일 게임",
            Sector::Energy => "전력망",
            Sector::Food => "K-푸드 수출",
            Sector::Shipping => "컨테이너 운임",
            Sector::Telecom => "5G 투자",
            Sector::Banks => "대출",
            Sector::Software => "클라우드",
            Sector::Steel => "인프라",
            Sector::Retail => "연말 소비",
        }
    }
}

/// Language of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }
}

/// A stock named by a story, with the last close known when it appeared
/// (for price targets), in currency units.
#[derive(Debug, Clone, Copy)]
pub struct Mention<'a> {
    pub stock: &'a SampleStock,
    pub close: f64,
}

/// A headline and its summary (plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub title: String,
    pub summary: String,
}

// ---------------------------------------------------------------------------
// English templates
// ---------------------------------------------------------------------------

const TITLES_EN: [&[&str]; 2] = [
    &[
        "{n} shares tumble after hours on {q} miss",
        "{n} loses {amt} {p} contract with {c}",
        "{n} cuts full-year outlook as {p} sales shrink",
        "{firm} downgrades {n}, sees weak {p} demand",
        "{n} posts surprise {q} loss",
        "{n} slumps after hours on gloomy {p} outlook",
        "{n} sinks after hours as {c} ends {p} supply deal",
        "{n} misses {q} estimates as {p} sales drop {pct}%",
    ],
    &[
        "{n} shares jump after hours on {q} beat",
        "{n} wins {amt} {p} contract with {c}",
        "{n} raises full-year outlook as {p} sales grow",
        "{firm} upgrades {n}, sees strong {p} demand",
        "{n} posts record {q} profit",
        "{n} rallies after hours on upbeat {p} outlook",
        "{n} soars after hours as {c} signs {p} supply deal",
        "{n} beats {q} estimates as {p} sales gain {pct}%",
    ],
];

const LEADS_EN: [&[&str]; 2] = [
    &[
        "{n} ({tag}) said {q} operating profit fell {pct}% from a year earlier to {amt}, short of analysts' forecasts.",
        "{n} ({tag}) said late on {dow} that {c} had cancelled a {amt} order for {p}.",
        "{n} ({tag}) cut its full-year revenue forecast by {pct2}%, citing slowing demand for {p} in {region}.",
        "Shares of {n} ({tag}) lost {pct2}% in after-hours trade after the company reported weak {p} sales.",
    ],
    &[
        "{n} ({tag}) said {q} operating profit rose {pct}% from a year earlier to {amt}, ahead of analysts' forecasts.",
        "{n} ({tag}) said late on {dow} that {c} had placed a {amt} order for {p}.",
        "{n} ({tag}) lifted its full-year revenue forecast by {pct2}%, citing demand for {p} in {region}.",
        "Shares of {n} ({tag}) gained {pct2}% in after-hours trade after the company reported strong {p} sales.",
    ],
];

const DETAILS_EN: [&[&str]; 2] = [
    &[
        "{s} said margins shrank as prices for {p} slid in {region}.",
        "Chief executive {exec} warned that orders for {p} would stay soft for {m} months.",
        "The company expects {p} volumes in {region} to shrink by {pct3}% next year.",
        "{s} also suspended its share buyback and delayed a plant in {region}.",
    ],
    &[
        "{s} said margins widened as prices for {p} held firm in {region}.",
        "Chief executive {exec} said the order book for {p} had never been stronger.",
        "The company expects {p} volumes in {region} to grow by {pct3}% next year.",
        "{s} also announced a share buyback worth {amt2} and a new plant in {region}.",
    ],
];

const ANALYSTS_EN: [&[&str]; 2] = [
    &[
        "{firm} cut its price target to {tp}.",
        "{firm} downgraded the stock to sell, with a target of {tp}.",
        "Analysts at {firm} called the quarter a clear miss.",
    ],
    &[
        "{firm} raised its price target to {tp}.",
        "{firm} upgraded the stock to buy, with a target of {tp}.",
        "Analysts at {firm} called the quarter a clear beat.",
    ],
];

const PAIR_TITLES_EN: [&[&str]; 2] = [
    &[
        "{n} and {n2} slump after hours on {theme} worries",
        "{theme} downturn hits {n}, {n2}; analysts downgrade both",
        "{n}, {n2} lose {theme} supply deals",
    ],
    &[
        "{n} and {n2} rally after hours on {theme} hopes",
        "{theme} boom lifts {n}, {n2}; analysts upgrade both",
        "{n}, {n2} win {theme} supply deals",
    ],
];

const PAIR_LEADS_EN: [&[&str]; 2] = [
    &[
        "{n} ({tag}) and {n2} ({tag2}) lost ground in after-hours trade as {theme} demand faded in {region}.",
        "{theme} orders in {region} dried up in the {q} period, {n} ({tag}) and {n2} ({tag2}) said.",
    ],
    &[
        "{n} ({tag}) and {n2} ({tag2}) gained in after-hours trade as {theme} demand picked up in {region}.",
        "{theme} orders in {region} doubled in the {q} period, {n} ({tag}) and {n2} ({tag2}) said.",
    ],
];

const PAIR_ANALYSTS_EN: [&[&str]; 2] = [
    &[
        "Analysts at {firm} see weak earnings for both companies through {m} months.",
        "{firm} cut its targets for both stocks.",
    ],
    &[
        "Analysts at {firm} see strong earnings for both companies through {m} months.",
        "{firm} raised its targets for both stocks.",
    ],
];

// ---------------------------------------------------------------------------
// Korean templates
// ---------------------------------------------------------------------------

const TITLES_KO: [&[&str]; 2] = [
    &[
        "{k}, {q} 적자에 시간외 급락",
        "{k}, {amt} 규모 {p} 계약 해지에 약세",
        "{k:이} 적자전환…목표주가 하향 잇따라",
        "{k}, {p} 판매 부진에 약세 전망",
        "{firm}, {k} 목표주가 하향…\"{p} 회복 지연\"",
        "{k}, {p} 리콜에 신저가 우려",
    ],
    &[
        "{k}, {q} 호실적에 시간외 급등",
        "{k}, {c:으로}부터 {amt} 규모 {p} 수주",
        "{k:이} 흑자전환…목표주가 상향 잇따라",
        "{k}, {p} 판매 호조에 강세 전망",
        "{firm}, {k} 목표주가 상향…\"{p} 성장 본격화\"",
        "{k}, {p} 수출 호조에 신고가 기대",
    ],
];

const LEADS_KO: [&[&str]; 2] = [
    &[
        "{kc:은} {q} 영업손실이 {amt:으로} 전년 동기보다 {pct}% 커졌다고 {day}일 공시했다.",
        "{kc:은} {c:와} 맺은 {amt} 규모의 {p} 공급 계약이 해지됐다고 {day}일 밝혔다.",
        "{kc:이} {q} 부진한 실적을 내놓으면서 시간외 거래에서 주가가 {pct2}% 하락했다.",
    ],
    &[
        "{kc:은} {q} 영업이익이 {amt:으로} 전년 동기보다 {pct}% 늘었다고 {day}일 공시했다.",
        "{kc:은} {c:와} {amt} 규모의 {p} 공급 계약을 맺었다고 {day}일 밝혔다.",
        "{kc:이} {q} 호실적을 내놓으면서 시간외 거래에서 주가가 {pct2}% 상승했다.",
    ],
];

const DETAILS_KO: [&[&str]; 2] = [
    &[
        "회사 측은 {region} 시장에서 {p} 수요가 둔화됐다고 설명했다.",
        "{exec} 대표는 \"{p} 주문이 {m}개월째 줄고 있다\"고 말했다.",
        "{k:은} 자사주 매입 계획을 보류하고 {region} 공장 투자도 미뤘다.",
    ],
    &[
        "회사 측은 {region} 시장에서 {p} 수요가 견조하다고 설명했다.",
        "{exec} 대표는 \"{p} 주문이 {m}개월째 늘고 있다\"고 말했다.",
        "{k:은} {amt2} 규모의 자사주 매입과 {region} 공장 증설 계획도 내놨다.",
    ],
];

const ANALYSTS_KO: [&[&str]; 2] = [
    &[
        "{firm:은} 목표주가를 {tp:으로} 하향했다.",
        "{firm:은} 투자의견을 중립으로 낮추고 목표주가를 {tp:으로} 하향했다.",
    ],
    &[
        "{firm:은} 목표주가를 {tp:으로} 상향했다.",
        "{firm:은} 투자의견을 매수로 올리고 목표주가를 {tp:으로} 상향했다.",
    ],
];

const PAIR_TITLES_KO: [&[&str]; 2] = [
    &[
        "{k}·{k2}, {theme} 우려에 동반 약세",
        "{theme} 둔화 우려…{k}·{k2} 시간외 급락",
        "{k}·{k2}, {theme} 부진에 실적 악화 전망",
    ],
    &[
        "{k}·{k2}, {theme} 기대감에 동반 강세",
        "{theme} 수혜 기대…{k}·{k2} 시간외 급등",
        "{k}·{k2}, {theme} 호조에 실적 개선 전망",
    ],
];

const PAIR_LEADS_KO: [&[&str]; 2] = [
    &[
        "{kc:와} {kc2:이} {region} {theme} 수요 둔화 우려에 시간외 거래에서 나란히 하락했다.",
        "{q} {region} {theme} 주문이 줄면서 {kc:와} {kc2:의} 실적 눈높이도 낮아졌다.",
    ],
    &[
        "{kc:와} {kc2:이} {region} {theme} 수요 회복 기대에 시간외 거래에서 나란히 상승했다.",
        "{q} {region} {theme} 주문이 늘면서 {kc:와} {kc2:의} 실적 눈높이도 높아졌다.",
    ],
];

const PAIR_ANALYSTS_KO: [&[&str]; 2] = [
    &[
        "{firm:은} 두 회사의 실적 부진이 {m}개월가량 이어질 것으로 내다봤다.",
        "{firm:은} 두 회사의 목표주가를 나란히 하향했다.",
    ],
    &[
        "{firm:은} 두 회사의 실적 호조가 {m}개월가량 이어질 것으로 내다봤다.",
        "{firm:은} 두 회사의 목표주가를 나란히 상향했다.",
    ],
];

// ---------------------------------------------------------------------------
// Fillers
// ---------------------------------------------------------------------------

const CLIENTS_EN: &[&str] = &[
    "a European customer",
    "a US distributor",
    "a Japanese trading house",
    "a Gulf state buyer",
    "a government agency",
    "a global logistics group",
    "an Indian conglomerate",
    "a Nordic partner",
];
const CLIENTS_KO: &[&str] = &[
    "유럽 고객사",
    "미국 유통사",
    "일본 종합상사",
    "중동 국영기업",
    "국내 공공기관",
    "글로벌 물류 기업",
    "인도 대기업",
    "북유럽 협력사",
];
const REGIONS_EN: &[&str] = &[
    "Europe",
    "North America",
    "Southeast Asia",
    "Japan",
    "the Middle East",
    "India",
];
const REGIONS_KO: &[&str] = &["유럽", "북미", "동남아", "일본", "중동", "인도"];
const FIRMS_EN: &[&str] = &[
    "Harlow & Finch",
    "Keswick Capital",
    "Marlowe Securities",
    "Ostrander Research",
    "Penwick Partners",
    "Trelawny Advisors",
];
const FIRMS_KO: &[&str] = &[
    "한울증권",
    "가람투자증권",
    "새솔증권",
    "여명리서치",
    "다래증권",
    "보람투자증권",
];
const EXECS_EN: &[&str] = &[
    "Maren Tolliver",
    "Jae-won Seo",
    "Ruth Abernathy",
    "Kwame Mensah",
    "Ines Calloway",
    "Henrik Vale",
];
const EXECS_KO: &[&str] = &["김도윤", "이하린", "박서진", "최지안", "한승우", "오예린"];
const REPORTERS_EN: &[&str] = &[
    "Dana Whitlock",
    "Omar Reyes",
    "Priya Natarajan",
    "Lena Hoffmann",
    "Tom Okafor",
    "Grace Lin",
];
const REPORTERS_KO: &[&str] = &["김하늘", "이서준", "박지우", "최민서", "정유나", "한도윤"];
const PRESS_KO: &[&str] = &["새솔경제", "한빛일보", "누리경제신문"];

/// A story's title and summary. `mentions` has one or two stocks;
/// `local` is the publication time in the first stock's exchange zone.
pub fn render(
    lang: Lang,
    positive: bool,
    mentions: &[Mention<'_>],
    local: NaiveDateTime,
    rng: &mut Rng64,
) -> Text {
    let vars = fillers(lang, positive, mentions, local, rng);
    let ix = usize::from(positive);
    let (titles, leads, rest): (&[&str], &[&str], Vec<&[&str]>) = match (lang, mentions.len()) {
        (Lang::En, 1) => (
            TITLES_EN[ix],
            LEADS_EN[ix],
            vec![DETAILS_EN[ix], ANALYSTS_EN[ix]],
        ),
        (Lang::En, _) => (
            PAIR_TITLES_EN[ix],
            PAIR_LEADS_EN[ix],
            vec![PAIR_ANALYSTS_EN[ix]],
        ),
        (Lang::Ko, 1) => (
            TITLES_KO[ix],
            LEADS_KO[ix],
            vec![DETAILS_KO[ix], ANALYSTS_KO[ix]],
        ),
        (Lang::Ko, _) => (
            PAIR_TITLES_KO[ix],
            PAIR_LEADS_KO[ix],
            vec![PAIR_ANALYSTS_KO[ix]],
        ),
    };
    let title = fill(rng.pick::<&str>(titles), &vars);
    let mut sentences = vec![fill(rng.pick::<&str>(leads), &vars)];
    for pool in rest {
        sentences.push(fill(rng.pick::<&str>(pool), &vars));
    }
    let sentences: Vec<String> = sentences.iter().map(|s| capitalize(s)).collect();
    Text {
        title: capitalize(&title),
        summary: sentences.join(" "),
    }
}

/// A syndicated copy: the same story under another outlet's byline, with
/// the headline sometimes tagged. Near enough for the crawler's MinHash to
/// cluster it with the original, never byte-identical.
pub fn syndicate(lang: Lang, original: &Text, rng: &mut Rng64) -> Text {
    match lang {
        Lang::En => {
            let title = if rng.chance(0.5) {
                format!("UPDATE 1-{}", original.title)
            } else {
                original.title.clone()
            };
            let summary = format!("{} (By {})", original.summary, rng.pick(REPORTERS_EN));
            Text { title, summary }
        }
        Lang::Ko => {
            let title = if rng.chance(0.5) {
                format!("[{}] {}", rng.pick(PRESS_KO), original.title)
            } else {
                original.title.clone()
            };
            let summary = format!("{} {} 기자", original.summary, rng.pick(REPORTERS_KO));
            Text { title, summary }
        }
    }
}

/// The values the templates name.
fn fillers(
    lang: Lang,
    positive: bool,
    mentions: &[Mention<'_>],
    local: NaiveDateTime,
    rng: &mut Rng64,
) -> HashMap<&'static str, String> {
    let first = mentions[0];
    let second = mentions.get(1).copied().unwrap_or(first);
    let sector = first.stock.sector;
    let mut v = HashMap::new();
    let quarter = reported_quarter(local);
    match lang {
        Lang::En => {
            v.insert("n", first.stock.name.to_string());
            v.insert(
                "s",
                first.stock.short.unwrap_or(first.stock.name).to_string(),
            );
            v.insert("n2", second.stock.name.to_string());
            v.insert("tag", tag(first.stock, rng));
            v.insert("tag2", tag(second.stock, rng));
            v.insert("p", rng.pick(sector.products_en()).to_string());
            v.insert("c", rng.pick(CLIENTS_EN).to_string());
            v.insert("region", rng.pick(REGIONS_EN).to_string());
            v.insert("firm", rng.pick(FIRMS_EN).to_string());
            v.insert("exec", rng.pick(EXECS_EN).to_string());
            v.insert("theme", sector.theme_en().to_string());
            v.insert("q", quarter_en(quarter).to_string());
            v.insert("dow", weekday_en(local.weekday()).to_string());
            v.insert("amt", amount_en(first.stock, rng));
            v.insert("amt2", amount_en(first.stock, rng));
            v.insert("tp", target_en(first, positive, rng));
        }
        Lang::Ko => {
            let korean = |m: Mention<'_>| m.stock.korean.unwrap_or(m.stock.name).to_string();
            v.insert("k", korean(first));
            v.insert("k2", korean(second));
            v.insert("kc", format!("{}({})", korean(first), first.stock.code));
            v.insert("kc2", format!("{}({})", korean(second), second.stock.code));
            v.insert("p", rng.pick(sector.products_ko()).to_string());
            v.insert("c", rng.pick(CLIENTS_KO).to_string());
            v.insert("region", rng.pick(REGIONS_KO).to_string());
            v.insert("firm", rng.pick(FIRMS_KO).to_string());
            v.insert("exec", rng.pick(EXECS_KO).to_string());
            v.insert("theme", sector.theme_ko().to_string());
            v.insert("q", format!("{quarter}분기"));
            v.insert("day", local.day().to_string());
            v.insert("amt", format!("{}억원", thousands(rng.range(120, 9_800))));
            v.insert("amt2", format!("{}억원", thousands(rng.range(100, 3_000))));
            v.insert("tp", target_ko(first, positive, rng));
        }
    }
    v.insert("pct", rng.range(4, 48).to_string());
    v.insert("pct2", rng.range(2, 15).to_string());
    v.insert("pct3", rng.range(3, 25).to_string());
    v.insert("m", rng.range(3, 18).to_string());
    v
}

/// How the lead names the listing: `KRX: 990010`, `NYSE: BRMF` or `$BRMF`.
fn tag(s: &SampleStock, rng: &mut Rng64) -> String {
    if s.is_krx() {
        format!("KRX: {}", s.code)
    } else if rng.chance(0.5) {
        format!("NYSE: {}", s.code)
    } else {
        format!("${}", s.code)
    }
}

/// The quarter a company reports in the weeks after `local` (the previous
/// calendar quarter), 1..4.
fn reported_quarter(local: NaiveDateTime) -> u32 {
    match local.month() {
        1..=3 => 4,
        4..=6 => 1,
        7..=9 => 2,
        _ => 3,
    }
}

fn quarter_en(q: u32) -> &'static str {
    [
        "first-quarter",
        "second-quarter",
        "third-quarter",
        "fourth-quarter",
    ][q as usize - 1]
}

fn amount_en(s: &SampleStock, rng: &mut Rng64) -> String {
    if s.is_krx() {
        format!("{} billion won", thousands(rng.range(30, 980)))
    } else {
        format!("${} million", rng.range(40, 950))
    }
}

/// A price target 8–35% above the last close for a positive story, 8–30%
/// below it for a negative one.
fn target_factor(positive: bool, rng: &mut Rng64) -> f64 {
    if positive {
        1.0 + rng.range(8, 35) as f64 / 100.0
    } else {
        1.0 - rng.range(8, 30) as f64 / 100.0
    }
}

fn target_en(m: Mention<'_>, positive: bool, rng: &mut Rng64) -> String {
    let price = m.close * target_factor(positive, rng);
    if m.stock.is_krx() {
        format!("{} won", thousands(round_to(price, 1000.0) as u64))
    } else {
        format!("${}", round_to(price, 1.0) as u64)
    }
}

fn target_ko(m: Mention<'_>, positive: bool, rng: &mut Rng64) -> String {
    let price = m.close * target_factor(positive, rng);
    format!("{}원", thousands(round_to(price, 1000.0) as u64))
}

fn weekday_en(d: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match d {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

fn round_to(x: f64, step: f64) -> f64 {
    ((x / step).round() * step).max(step)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Replaces `{name}` with its value and `{name:j}` with the value followed
/// by the Korean particle `j` (이, 은, 을, 와, 으로, 의) in the form its
/// last syllable takes.
///
/// # Panics
///
/// On a name the template set does not define: templates are constants,
/// and the unit tests render every one of them.
pub fn fill(template: &str, vars: &HashMap<&'static str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or_else(|| panic!("unclosed placeholder in {template:?}"));
        let inner = &rest[open + 1..close];
        let (name, particle) = match inner.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (inner, None),
        };
        let value = vars
            .get(name)
            .unwrap_or_else(|| panic!("template {template:?} names unknown {name:?}"));
        out.push_str(value);
        if let Some(p) = particle {
            out.push_str(josa(value, p));
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The form of particle `p` after `word`, from the final consonant
/// (batchim) of its last Hangul syllable; `으로` takes `로` after a vowel
/// or ㄹ.
pub fn josa(word: &str, p: &str) -> &'static str {
    let last = word
        .chars()
        .rev()
        .find(|c| ('\u{AC00}'..='\u{D7A3}').contains(c));
    let batchim = last.map_or(0, |c| (u32::from(c) - 0xAC00) % 28);
    let has = batchim != 0;
    match p {
        "이" | "가" => ["가", "이"][usize::from(has)],
        "은" | "는" => ["는", "은"][usize::from(has)],
        "을" | "를" => ["를", "을"][usize::from(has)],
        "와" | "과" => ["와", "과"][usize::from(has)],
        // ㄹ (batchim 8) takes 로 like a vowel.
        "으로" | "로" => ["로", "으로"][usize::from(has && batchim != 8)],
        "의" => "의",
        other => panic!("unknown particle {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particles_follow_the_final_consonant() {
        assert_eq!(josa("다온반도체", "은"), "는");
        assert_eq!(josa("온새미로화학", "은"), "은");
        assert_eq!(josa("다온반도체(990010)", "이"), "가");
        assert_eq!(josa("도담식품(990070)", "이"), "이");
        assert_eq!(josa("95,000원", "으로"), "으로");
        assert_eq!(josa("유럽 완성차 업체", "와"), "와");
        assert_eq!(josa("미국 클라우드 기업", "와"), "과");
        assert_eq!(josa("일본 유통사", "으로"), "로");
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
