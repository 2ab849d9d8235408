//! Market data: the ticker master, OHLC bars, their providers, validation
//! and storage. Jobs `ohlc_daily` and `ohlc_minute` drive it.
//!
//! One canonical bar type for every provider. Prices are f64: providers
//! send decimal text with at most 4–6 significant decimals, well inside
//! f64's 15–17 digits, and Polars (validation, derived bars, evaluation)
//! computes in f64; revision checks compare values parsed the same way from
//! the same text, so equality is exact. Volume is i64 (the original's i32
//! overflowed on busy days).

pub mod derive;
pub mod ingest;
pub mod providers;
pub mod stocks;
pub mod store;
pub mod validate;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bar length. Derived intervals (5m, 15m, 60m) are computed from 1m bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "60m")]
    M60,
    #[serde(rename = "1d")]
    D1,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M60 => "60m",
            Interval::D1 => "1d",
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Interval::M1 => 1,
            Interval::M5 => 5,
            Interval::M15 => 15,
            Interval::M60 => 60,
            Interval::D1 => 1440,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bar as a provider delivered it, before validation. Fields are
/// optional because payloads have holes; validation decides what a hole
/// means. `raw` is the payload row, kept for the quarantine table.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBar {
    /// Bar start, UTC. For daily bars: the session date at 00:00 in the
    /// exchange's zone, converted to UTC.
    pub ts: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: Option<i64>,
    pub raw: String,
}

/// A payload row that could not even be read as a bar (no usable
/// timestamp): quarantined with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    pub raw: String,
    pub reason: String,
}

/// What one provider call returned for one symbol.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub bars: Vec<RawBar>,
    pub unparsed: Vec<Unparsed>,
    /// Bars not final yet (a live, partial last bar): never stored as final.
    pub partial: usize,
    /// Minutes with no trade (all fields null): not bars, not errors.
    pub no_trade: usize,
    /// Requests made (pages, token refreshes excluded).
    pub requests: usize,
}

/// A daily bar's `ts`: 00:00 of its session date in the exchange's zone, in
/// UTC (the day's first instant where a DST change skips midnight). Every
/// provider and the validator use this one definition, so the same session
/// always gets the same key.
pub fn session_ts(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(h, 0, 0)?))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

/// Volumes arrive as integers, sometimes as floats with a zero fraction.
pub fn parse_volume(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| {
        let f: f64 = s.parse().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}
