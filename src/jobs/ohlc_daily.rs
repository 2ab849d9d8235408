//! `ohlc_daily`: daily bars for every active stock.
//!
//! Reads: `jobs/ohlc_daily.toml` (universe, provider per exchange, provider
//! settings, `lookback_days`), the universe CSV, `jobs/calendars/`.
//! Writes: `stocks` (the universe), `bars` with interval `1d` (source =
//! provider, run_id), `bar_quarantine`, cache keys
//! `bars:EXCHANGE:CODE:1d:latest` and `…:closes60`.
//! Schedule: after the close on trading days (`calendar_gate =
//! "trading_day"`). Each run re-fetches the last `lookback_days`, which
//! picks up late corrections and fills gaps the provider can fill.
//! Rerun safety: safe — bars upsert on (stock, interval, ts), unchanged
//! bars are not rewritten, corrections are counted as revisions.

use super::{JobContext, JobError, Outcome};
use crate::market::ingest::{self, Pass};
use crate::market::session_ts;
use crate::market::Interval;
use chrono::{DateTime, Duration, Utc};

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = ingest::config(ctx)?;
    let slot = ctx.slot;
    let lookback = cfg.lookback_days.max(0);
    // Up to the last session closed by the slot: a bar still trading is
    // not final and is not stored.
    let range = move |_: &crate::market::stocks::Stock, cal: &crate::time::Calendar| {
        let today = cal.local_date(slot);
        let last = match cal.session(today) {
            Some((_, close)) if close > slot => today - Duration::days(1),
            _ => today,
        };
        Some((
            session_ts(cal.tz, today - Duration::days(lookback)),
            session_ts(cal.tz, last),
        ))
    };
    // A session's bar is expected once the session has closed by the slot.
    let expected = move |cal: &crate::time::Calendar, from: DateTime<Utc>, to: DateTime<Utc>| {
        let (mut d, last) = (cal.local_date(from), cal.local_date(to));
        let mut out = vec![];
        while d <= last {
            if let Some((_, close)) = cal.session(d) {
                if close <= slot {
                    out.push(session_ts(cal.tz, d));
                }
            }
            d += Duration::days(1);
        }
        out
    };
    let pass = Pass {
        ctx,
        interval: Interval::D1,
        range: &range,
        expected: &expected,
    };
    let (out, _) = pass.run(&cfg).await?;
    Ok(out)
}
