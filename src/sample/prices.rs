//! Daily and minute bars of the sample market, and their CSV files in the
//! layout the `files` provider reads (`market::providers::files`).
//!
//! Prices are kept in minor units (won; US cents) and always sit on the
//! exchange's tick (KRX's tick table; one cent in New York), so the CSVs
//! print them exactly: integers for XKRX, two decimals for XNYS.
//!
//! Daily model for stock `s` and session `d` (percent returns):
//!
//! ```text
//! r = β(d)·E·sent(s, d) + m(exchange, d) + ε(s, d)
//! close(d) = tick(close(d−1) · (1 + r/100))
//! open(d)  = tick(close(d−1) · (1 + (½·β(d)·E·sent(s, d) + g)/100))
//! ```
//!
//! with `sent` ∈ {−1, 0, +1} the story about `s` published before `d`,
//! `E` the planted effect, `β` 1 before the weakening date and the weak
//! fraction from it, `m` ~ N(0, market σ²) shared by an exchange's stocks,
//! `ε` ~ N(0, own σ²) and the opening gap noise `g` ~ N(0, 0.4²). Highs and
//! lows extend the open–close range by |N(0, 0.7²)| percent; volume is the
//! stock's typical volume times max(0.35, 1 + 0.25·N(0, 1)), 30% higher on
//! a news day.
//!
//! Minute bars (the last sessions only) run from the day's open to its
//! close along a Brownian bridge (0.08% per minute), so the day's open and
//! close are the first minute's open and the last minute's close; the
//! day's high, low and volume are then taken from the minutes, so the two
//! files agree exactly.

use super::universe::SampleStock;
use super::{Planted, Rng64};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

/// Percent σ of the opening gap's noise.
const GAP_SD_PCT: f64 = 0.4;
/// Percent σ of a daily high/low beyond the open–close range.
const WICK_SD_PCT: f64 = 0.7;
/// Percent σ of one minute's step on the bridge.
const MINUTE_SD_PCT: f64 = 0.08;
/// Percent σ of a minute's high/low beyond its open–close range.
const MINUTE_WICK_SD_PCT: f64 = 0.03;
/// Volume multiplier on a session with a story about the stock.
const NEWS_VOLUME: f64 = 1.3;

/// One bar, prices in minor units (won, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
}

/// A minute bar and its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    pub start: DateTime<Utc>,
    pub bar: Bar,
}

/// How a stock's prices are quoted.
#[derive(Debug, Clone, Copy)]
pub struct Quote {
    krx: bool,
}

impl Quote {
    pub fn of(s: &SampleStock) -> Quote {
        Quote { krx: s.is_krx() }
    }

    /// Minor units per currency unit.
    pub fn scale(self) -> f64 {
        if self.krx {
            1.0
        } else {
            100.0
        }
    }

    /// The tick at a price (minor units): KRX's 2023 table, else a cent.
    fn tick(self, price: f64) -> f64 {
        if !self.krx {
            return 1.0;
        }
        const TABLE: [(f64, f64); 6] = [
            (2_000.0, 1.0),
            (5_000.0, 5.0),
            (20_000.0, 10.0),
            (50_000.0, 50.0),
            (200_000.0, 100.0),
            (500_000.0, 500.0),
        ];
        TABLE
            .iter()
            .find(|(below, _)| price < *below)
            .map_or(1_000.0, |(_, tick)| *tick)
    }

    fn to_tick(self, price: f64, round: fn(f64) -> f64) -> i64 {
        let tick = self.tick(price);
        let p = round(price / tick) * tick;
        p.max(tick) as i64
    }

    pub fn nearest(self, price: f64) -> i64 {
        self.to_tick(price, f64::round)
    }

    fn up(self, price: f64) -> i64 {
        self.to_tick(price, f64::ceil)
    }

    fn down(self, price: f64) -> i64 {
        self.to_tick(price, f64::floor)
    }

    /// A price as the CSV prints it: `71500` or `48.20`.
    pub fn format(self, minor: i64) -> String {
        if self.krx {
            minor.to_string()
        } else {
            format!("{}.{:02}", minor / 100, minor % 100)
        }
    }
}

/// The planted multiplier of a session: 1, or the weak fraction from the
/// weakening date on.
pub fn beta(planted: &Planted, session: NaiveDate) -> f64 {
    if session >= planted.weaken_from {
        planted.weak_fraction
    } else {
        1.0
    }
}

/// The exchange-wide move of each session (percent), shared by its stocks.
pub fn market_moves(n: usize, planted: &Planted, rng: &mut Rng64) -> Vec<f64> {
    (0..n)
        .map(|_| planted.market_sd_pct * rng.normal())
        .collect()
}

/// One stock's daily bars over `sessions`; `sent[i]` is the planted
/// sentiment (−1, 0, +1) of session `i`.
pub fn daily(
    stock: &SampleStock,
    sessions: &[NaiveDate],
    sent: &[i8],
    market: &[f64],
    planted: &Planted,
    rng: &mut Rng64,
) -> Vec<Bar> {
    let q = Quote::of(stock);
    let own_sd = planted.own_sd_pct();
    let mut prev = q.nearest(stock.price * q.scale()) as f64;
    let mut out = Vec::with_capacity(sessions.len());
    for (i, &day) in sessions.iter().enumerate() {
        let effect = beta(planted, day) * planted.effect_pct * f64::from(sent[i]);
        let r = effect + market[i] + own_sd * rng.normal();
        let g = planted.open_gap_share * effect + GAP_SD_PCT * rng.normal();
        let close = q.nearest(prev * (1.0 + r / 100.0));
        let open = q.nearest(prev * (1.0 + g / 100.0));
        let top = open.max(close) as f64 * (1.0 + WICK_SD_PCT * rng.normal().abs() / 100.0);
        let bottom = open.min(close) as f64 * (1.0 - WICK_SD_PCT * rng.normal().abs() / 100.0);
        let news = if sent[i] != 0 { NEWS_VOLUME } else { 1.0 };
        let volume = stock.volume as f64 * (1.0 + 0.25 * rng.normal()).max(0.35) * news;
        out.push(Bar {
            open,
            high: q.up(top).max(open.max(close)),
            low: q.down(bottom).min(open.min(close)),
            close,
            volume: (volume.round() as u64).max(1),
        });
        prev = close as f64;
    }
    out
}

/// The minute bars of one session, from `open` (UTC) for `minutes`
/// minutes, running from the daily bar's open to its close. Returns the
/// minutes and the daily bar with its high, low and volume taken from them.
pub fn minutes(
    stock: &SampleStock,
    day: Bar,
    open: DateTime<Utc>,
    minutes: usize,
    rng: &mut Rng64,
) -> (Vec<Minute>, Bar) {
    let q = Quote::of(stock);
    let path = bridge(day.open as f64, day.close as f64, minutes, rng);
    let weights = volume_weights(minutes, rng);
    let total: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(minutes);
    let mut prev = day.open;
    for (k, w) in weights.iter().enumerate() {
        let close = if k + 1 == minutes {
            day.close
        } else {
            q.nearest(path[k + 1])
        };
        let wick = |rng: &mut Rng64| MINUTE_WICK_SD_PCT * rng.normal().abs() / 100.0;
        let top = prev.max(close) as f64 * (1.0 + wick(rng));
        let bottom = prev.min(close) as f64 * (1.0 - wick(rng));
        let bar = Bar {
            open: prev,
            high: q.up(top).max(prev.max(close)),
            low: q.down(bottom).min(prev.min(close)),
            close,
            volume: ((day.volume as f64 * w / total).round() as u64).max(1),
        };
        out.push(Minute {
            start: open + Duration::minutes(k as i64),
            bar,
        });
        prev = close;
    }
    let daily = Bar {
        open: day.open,
        high: out.iter().map(|m| m.bar.high).max().unwrap_or(day.high),
        low: out.iter().map(|m| m.bar.low).min().unwrap_or(day.low),
        close: day.close,
        volume: out.iter().map(|m| m.bar.volume).sum(),
    };
    (out, daily)
}

/// `n + 1` points from `from` to `to`: a random walk with the straight line
/// added and its end pulled back to `to` (a Brownian bridge).
fn bridge(from: f64, to: f64, n: usize, rng: &mut Rng64) -> Vec<f64> {
    let step = from * MINUTE_SD_PCT / 100.0;
    let mut walk = Vec::with_capacity(n + 1);
    walk.push(0.0);
    for k in 0..n {
        walk.push(walk[k] + step * rng.normal());
    }
    let end = walk[n];
    (0..=n)
        .map(|k| {
            let t = k as f64 / n as f64;
            from + (to - from) * t + walk[k] - t * end
        })
        .map(|p| p.max(from * 0.5))
        .collect()
}

/// Intraday volume shape: heavier at the open and the close (a U), with
/// noise.
fn volume_weights(n: usize, rng: &mut Rng64) -> Vec<f64> {
    (0..n)
        .map(|k| {
            let u = 2.0 * (k as f64 + 0.5) / n as f64 - 1.0;
            (1.0 + 1.5 * u * u) * (1.0 + 0.3 * rng.normal()).max(0.3)
        })
        .collect()
}

/// `date,open,high,low,close,volume`, one row per session.
pub fn daily_csv(stock: &SampleStock, sessions: &[NaiveDate], bars: &[Bar]) -> String {
    let q = Quote::of(stock);
    let mut out = String::from("date,open,high,low,close,volume\n");
    for (day, b) in sessions.iter().zip(bars) {
        out.push_str(&row(q, &day.format("%Y-%m-%d").to_string(), b));
    }
    out
}

/// `ts,open,high,low,close,volume` with `ts` the minute's start in the
/// exchange's local time (`2026-11-20 09:00`), as the provider reads it.
pub fn minute_csv(stock: &SampleStock, tz: Tz, minutes: &[Minute]) -> String {
    let q = Quote::of(stock);
    let mut out = String::from("ts,open,high,low,close,volume\n");
    for m in minutes {
        let ts = m
            .start
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        out.push_str(&row(q, &ts, &m.bar));
    }
    out
}

fn row(q: Quote, ts: &str, b: &Bar) -> String {
    format!(
        "{ts},{},{},{},{},{}\n",
        q.format(b.open),
        q.format(b.high),
        q.format(b.low),
        q.format(b.close),
        b.volume
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krx_prices_sit_on_the_tick_table() {
        let q = Quote { krx: true };
        assert_eq!(q.nearest(71_234.0), 71_200);
        assert_eq!(q.up(71_201.0), 71_300);
        assert_eq!(q.down(19_999.0), 19_990);
        assert_eq!(q.nearest(612_345.0), 612_000);
        assert_eq!(q.format(71_200), "71200");
        let us = Quote { krx: false };
        assert_eq!(us.format(4_820), "48.20");
        assert_eq!(us.nearest(4_820.4), 4_820);
    }
}
