//! Bar validation, in bulk with Polars (run it off the async runtime, with
//! `spawn_blocking`).
//!
//! Rejected (quarantined with a reason, never stored): a missing value, a
//! non-finite or non-positive price, high below max(open, close), low above
//! min(open, close), negative volume, a bar outside the exchange's session,
//! a second bar with the same timestamp in one payload.
//! Flagged (stored, and reported for review): a close-to-close move over
//! 50%, a volume over 3× its trailing median (20 bars, at least 5).

use super::{Interval, RawBar};
use crate::time::Calendar;
use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use std::collections::HashSet;

pub const FLAG_BIG_MOVE: &str = "big_move";
pub const FLAG_VOLUME_SPIKE: &str = "volume_spike";

/// A bar that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub ts: DateTime<Utc>,
    pub trading_date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: i64,
    /// Comma-separated review flags, if any.
    pub flags: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub ts: Option<DateTime<Utc>>,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Default)]
pub struct Validated {
    pub bars: Vec<Bar>,
    pub rejected: Vec<Rejected>,
}

/// What the checks need besides the payload.
pub struct Context<'a> {
    pub interval: Interval,
    pub calendar: Option<&'a Calendar>,
    /// The stock's zone, for trading dates when there is no calendar.
    pub tz: chrono_tz::Tz,
    /// The last stored close before the payload, for the first bar's move.
    pub previous_close: Option<f64>,
}

impl Context<'_> {
    fn trading_date(&self, ts: DateTime<Utc>) -> NaiveDate {
        ts.with_timezone(&self.tz).date_naive()
    }

    fn in_session(&self, ts: DateTime<Utc>) -> bool {
        let Some(cal) = self.calendar else {
            return true;
        };
        match self.interval {
            Interval::D1 => cal.is_trading_day(self.trading_date(ts)),
            // A bar starting at the close would lie after it.
            _ => {
                cal.in_session(ts)
                    && cal
                        .session(cal.local_date(ts))
                        .is_some_and(|(_, close)| ts < close)
            }
        }
    }
}

pub fn validate(raw: Vec<RawBar>, cx: &Context<'_>) -> PolarsResult<Validated> {
    let mut raw = raw;
    raw.sort_by_key(|b| b.ts);
    // Duplicates within one payload: the first one stands.
    let mut seen = HashSet::with_capacity(raw.len());
    let duplicate: Vec<bool> = raw.iter().map(|b| !seen.insert(b.ts)).collect();
    let n = raw.len();
    let df = df!(
        "ts" => raw.iter().map(|b| b.ts.timestamp_micros()).collect::<Vec<_>>(),
        "open" => raw.iter().map(|b| b.open).collect::<Vec<_>>(),
        "high" => raw.iter().map(|b| b.high).collect::<Vec<_>>(),
        "low" => raw.iter().map(|b| b.low).collect::<Vec<_>>(),
        "close" => raw.iter().map(|b| b.close).collect::<Vec<_>>(),
        "volume" => raw.iter().map(|b| b.volume).collect::<Vec<_>>(),
        "in_session" => raw.iter().map(|b| cx.in_session(b.ts)).collect::<Vec<_>>(),
        "duplicate" => duplicate,
    )?;
    let prices = ["open", "high", "low", "close"];
    let any_null = prices
        .iter()
        .fold(col("volume").is_null(), |acc, c| acc.or(col(*c).is_null()));
    let bad_price = prices.iter().fold(lit(false), |acc, c| {
        acc.or(col(*c).is_finite().not())
            .or(col(*c).lt_eq(lit(0.0)))
    });
    let oc_max = when(col("open").gt(col("close")))
        .then(col("open"))
        .otherwise(col("close"));
    let oc_min = when(col("open").lt(col("close")))
        .then(col("open"))
        .otherwise(col("close"));
    let reason = when(any_null)
        .then(lit("missing or non-numeric value"))
        .when(bad_price)
        .then(lit("non-positive or non-finite price"))
        .when(col("high").lt(oc_max))
        .then(lit("high below max(open, close)"))
        .when(col("low").gt(oc_min))
        .then(lit("low above min(open, close)"))
        .when(col("volume").lt(lit(0)))
        .then(lit("negative volume"))
        .when(col("in_session").not())
        .then(lit("outside the exchange session"))
        .when(col("duplicate"))
        .then(lit("duplicate timestamp in payload"))
        .otherwise(lit(NULL).cast(DataType::String))
        .alias("reason");
    let judged = df
        .lazy()
        .with_row_index("row", None)
        .with_column(reason)
        .collect()?;

    // Flags over the accepted bars only, in time order.
    let accepted = judged.clone().lazy().filter(col("reason").is_null());
    let prev_close = col("close").shift(lit(1));
    let prev_close = match cx.previous_close {
        Some(p) => prev_close.fill_null(lit(p)),
        None => prev_close,
    };
    let median = col("volume")
        .cast(DataType::Float64)
        .shift(lit(1))
        .rolling_median(RollingOptionsFixedWindow {
            window_size: 20,
            min_periods: 5,
            ..Default::default()
        });
    let flagged = accepted
        .with_columns([
            ((col("close") / prev_close - lit(1.0)).abs().gt(lit(0.5)))
                .fill_null(lit(false))
                .alias(FLAG_BIG_MOVE),
            (col("volume").cast(DataType::Float64).gt(median * lit(3.0)))
                .fill_null(lit(false))
                .alias(FLAG_VOLUME_SPIKE),
        ])
        .collect()?;

    let mut out = Validated::default();
    let rows = judged.column("row")?.idx()?.clone();
    let reasons = judged.column("reason")?.str()?.clone();
    for (row, reason) in rows.iter().zip(reasons.iter()) {
        if let (Some(row), Some(reason)) = (row, reason) {
            let b = &raw[row as usize];
            out.rejected.push(Rejected {
                ts: Some(b.ts),
                reason: reason.to_string(),
                raw: b.raw.clone(),
            });
        }
    }
    let rows = flagged.column("row")?.idx()?.clone();
    let big = flagged.column(FLAG_BIG_MOVE)?.bool()?.clone();
    let spike = flagged.column(FLAG_VOLUME_SPIKE)?.bool()?.clone();
    for ((row, big), spike) in rows.iter().zip(big.iter()).zip(spike.iter()) {
        let b = &raw[row.expect("row index") as usize];
        let mut flags = vec![];
        if big == Some(true) {
            flags.push(FLAG_BIG_MOVE);
        }
        if spike == Some(true) {
            flags.push(FLAG_VOLUME_SPIKE);
        }
        // Checked non-null above.
        out.bars.push(Bar {
            ts: b.ts,
            trading_date: cx.trading_date(b.ts),
            open: b.open.unwrap_or_default(),
            high: b.high.unwrap_or_default(),
            low: b.low.unwrap_or_default(),
            close: b.close.unwrap_or_default(),
            volume: b.volume.unwrap_or_default(),
            flags: (!flags.is_empty()).then(|| flags.join(",")),
        });
    }
    debug_assert_eq!(out.bars.len() + out.rejected.len(), n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ts: &str, o: f64, h: f64, l: f64, c: f64, v: i64) -> RawBar {
        RawBar {
            ts: ts.parse().unwrap(),
            open: Some(o),
            high: Some(h),
            low: Some(l),
            close: Some(c),
            volume: Some(v),
            raw: format!("{ts},{o},{h},{l},{c},{v}"),
        }
    }

    #[test]
    fn rejects_bad_rows_keeps_good_ones_and_flags_moves() {
        let cx = Context {
            interval: Interval::D1,
            calendar: None,
            tz: chrono_tz::UTC,
            previous_close: Some(100.0),
        };
        let mut bars = vec![
            raw("2026-01-05T00:00:00Z", 100.0, 101.0, 99.0, 100.5, 1000),
            raw("2026-01-06T00:00:00Z", 100.0, 99.0, 98.0, 100.5, 1000), // high < close
            raw("2026-01-07T00:00:00Z", 100.0, 101.0, 100.6, 100.5, 1000), // low > close
            raw("2026-01-08T00:00:00Z", -1.0, 101.0, 99.0, 100.5, 1000),
            raw("2026-01-09T00:00:00Z", 100.0, 101.0, 99.0, 100.5, -5),
            raw("2026-01-12T00:00:00Z", 160.0, 170.0, 150.0, 160.0, 1000), // +59%
            raw("2026-01-12T00:00:00Z", 160.0, 170.0, 150.0, 160.0, 1000), // duplicate
        ];
        bars.push(RawBar {
            close: None,
            ..raw("2026-01-13T00:00:00Z", 1.0, 1.0, 1.0, 1.0, 1)
        });
        bars.push(raw("2026-01-14T00:00:00Z", f64::NAN, 1.0, 1.0, 1.0, 1));
        let v = validate(bars, &cx).unwrap();
        let reasons: Vec<&str> = v.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "high below max(open, close)",
                "low above min(open, close)",
                "non-positive or non-finite price",
                "negative volume",
                "duplicate timestamp in payload",
                "missing or non-numeric value",
                "non-positive or non-finite price",
            ]
        );
        assert_eq!(v.bars.len(), 2);
        assert_eq!(v.bars[0].flags, None);
        assert_eq!(v.bars[1].flags.as_deref(), Some(FLAG_BIG_MOVE));
    }
}
