//! The sample's invented companies and `universe.csv` in the format of
//! `jobs/universe.csv` (see `market::stocks`).
//!
//! Names are made up so they cannot be mistaken for listed companies: no
//! group names the linker treats as ambiguous (삼성, 현대, SK…), Korean
//! names of four or more syllables (the linker matches those with particles
//! attached and without spaces), and codes and tickers that are not real
//! listings (KRX codes 9900x0, four-letter NYSE tickers).

use super::text::Sector;

/// One invented listed company.
#[derive(Debug, Clone, Copy)]
pub struct SampleStock {
    pub exchange: &'static str,
    pub code: &'static str,
    /// English name: the universe's `name` and the English news' name.
    pub name: &'static str,
    /// Korean name for XKRX stocks: Korean news use it; it is an alias.
    pub korean: Option<&'static str>,
    /// A short English form used in running text ("Bramblecrest said").
    pub short: Option<&'static str>,
    pub currency: &'static str,
    pub priority: u8,
    pub sector: Sector,
    /// First close, in currency units (KRW won, USD dollars).
    pub price: f64,
    /// Typical daily volume, shares.
    pub volume: u64,
}

impl SampleStock {
    /// `EXCHANGE:CODE`, the key used across tickerd.
    pub fn key(&self) -> String {
        format!("{}:{}", self.exchange, self.code)
    }

    pub fn is_krx(&self) -> bool {
        self.exchange == "XKRX"
    }

    /// The `aliases` column: Korean name first, then the English forms.
    fn aliases(&self) -> String {
        let mut a: Vec<&str> = self.korean.into_iter().collect();
        a.push(self.name);
        a.extend(self.short);
        a.join(";")
    }
}

const fn krx(
    code: &'static str,
    name: &'static str,
    korean: &'static str,
    priority: u8,
    sector: Sector,
    price: f64,
    volume: u64,
) -> SampleStock {
    SampleStock {
        exchange: "XKRX",
        code,
        name,
        korean: Some(korean),
        short: None,
        currency: "KRW",
        priority,
        sector,
        price,
        volume,
    }
}

const fn nyse(
    code: &'static str,
    name: &'static str,
    short: &'static str,
    priority: u8,
    sector: Sector,
    price: f64,
    volume: u64,
) -> SampleStock {
    SampleStock {
        exchange: "XNYS",
        code,
        name,
        korean: None,
        short: Some(short),
        currency: "USD",
        priority,
        sector,
        price,
        volume,
    }
}

/// The universe: 12 XKRX and 8 XNYS stocks, in `universe.csv` order.
pub const STOCKS: [SampleStock; 20] = [
    krx(
        "990010",
        "Daon Semiconductor",
        "다온반도체",
        1,
        Sector::Chips,
        78_000.0,
        4_200_000,
    ),
    krx(
        "990020",
        "Selim Mobility",
        "세림모빌리티",
        1,
        Sector::Autos,
        185_000.0,
        900_000,
    ),
    krx(
        "990030",
        "Hangyeol Bio",
        "한결바이오",
        2,
        Sector::Pharma,
        412_000.0,
        210_000,
    ),
    krx(
        "990040",
        "Onsaemiro Chemical",
        "온새미로화학",
        2,
        Sector::Chemicals,
        96_500.0,
        650_000,
    ),
    krx(
        "990050",
        "Byeolmuri Games",
        "별무리게임즈",
        2,
        Sector::Games,
        33_450.0,
        1_800_000,
    ),
    krx(
        "990060",
        "Yunseul Energy",
        "윤슬에너지",
        3,
        Sector::Energy,
        21_600.0,
        2_300_000,
    ),
    krx(
        "990070",
        "Dodam Foods",
        "도담식품",
        3,
        Sector::Food,
        12_480.0,
        950_000,
    ),
    krx(
        "990080",
        "Saebyeok Shipping",
        "새벽해운",
        2,
        Sector::Shipping,
        27_350.0,
        3_100_000,
    ),
    krx(
        "990090",
        "Areum Telecom",
        "아름통신",
        3,
        Sector::Telecom,
        48_900.0,
        1_200_000,
    ),
    krx(
        "990100",
        "Hanui Financial",
        "하늬금융지주",
        1,
        Sector::Banks,
        61_200.0,
        1_600_000,
    ),
    krx(
        "990110",
        "Yeoul Soft",
        "여울소프트",
        3,
        Sector::Software,
        143_500.0,
        420_000,
    ),
    krx(
        "990120",
        "Binari Pharma",
        "비나리제약",
        3,
        Sector::Pharma,
        8_960.0,
        2_700_000,
    ),
    nyse(
        "BRMF",
        "Bramblecrest Foods",
        "Bramblecrest",
        2,
        Sector::Food,
        48.20,
        3_400_000,
    ),
    nyse(
        "CRVN",
        "Corvane Energy",
        "Corvane",
        1,
        Sector::Energy,
        72.15,
        6_800_000,
    ),
    nyse(
        "HLVM",
        "Halvorsen Motors",
        "Halvorsen",
        2,
        Sector::Autos,
        23.40,
        9_500_000,
    ),
    nyse(
        "QMKB",
        "Quillmark Bancorp",
        "Quillmark",
        1,
        Sector::Banks,
        61.75,
        5_200_000,
    ),
    nyse(
        "TSPH",
        "Tessaline Pharmaceuticals",
        "Tessaline",
        3,
        Sector::Pharma,
        37.90,
        2_100_000,
    ),
    nyse(
        "NWKS",
        "Norwick Steel",
        "Norwick",
        3,
        Sector::Steel,
        35.60,
        1_900_000,
    ),
    nyse(
        "ADMR",
        "Aldermoor Retail",
        "Aldermoor",
        2,
        Sector::Retail,
        88.30,
        2_600_000,
    ),
    nyse(
        "PLCD",
        "Pellucid Networks",
        "Pellucid",
        1,
        Sector::Software,
        142.50,
        4_300_000,
    ),
];

/// The two exchanges, in output order.
pub const EXCHANGES: [&str; 2] = ["XKRX", "XNYS"];

/// `universe.csv`: header and one row per stock; `symbols` is left empty
/// (the `files` provider reads by code, and these are no real listings).
pub fn universe_csv(stocks: &[SampleStock]) -> String {
    let mut out = String::from("exchange,code,name,currency,priority,active,aliases,symbols\n");
    for s in stocks {
        out.push_str(&format!(
            "{},{},{},{},{},true,{},\n",
            s.exchange,
            s.code,
            s.name,
            s.currency,
            s.priority,
            s.aliases()
        ));
    }
    out
}
