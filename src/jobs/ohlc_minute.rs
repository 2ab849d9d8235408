//! `ohlc_minute`: 1-minute bars of the current session, and the 5-, 15-
//! and 60-minute bars derived from them.
//!
//! Reads: `jobs/ohlc_minute.toml`, the universe CSV, `jobs/calendars/`.
//! Writes: `bars` with interval `1m` (source = provider) and `5m`, `15m`,
//! `60m` (source `derived:1m`), `bar_quarantine`, cache key
//! `bars:EXCHANGE:CODE:1m:latest`.
//! Schedule: every minute inside the exchange's sessions (`calendar =
//! "XKRX"`). Each run asks for the whole session from the open up to the
//! slot — never just "up to 09:00", the original's bug — so a missed run is
//! repaired by the next one; the last minute is only stored once complete.
//! Rerun safety: safe — upserts on (stock, interval, ts); derived windows
//! are recomputed from stored 1-minute bars, so reruns converge.

use super::{JobContext, JobError, Outcome};
use crate::market::derive;
use crate::market::ingest::{self, Pass};
use crate::market::stocks;
use crate::market::store::{self, Lineage};
use crate::market::Interval;
use crate::time::{Calendar, Calendars};
use chrono::{DateTime, Duration, DurationRound, Utc};

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = ingest::config(ctx)?;
    let slot = ctx.slot;
    // Bars that have closed by the slot: starts in [open, slot - 1 min].
    let range = move |_: &stocks::Stock, cal: &Calendar| {
        let (open, close) = cal.session(cal.local_date(slot))?;
        let last =
            slot.min(close).duration_trunc(Duration::minutes(1)).ok()? - Duration::minutes(1);
        (last >= open).then_some((open, last))
    };
    let expected = |_: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>| {
        let mut out = vec![];
        let mut t = from;
        while t <= to {
            out.push(t);
            t += Duration::minutes(1);
        }
        out
    };
    let pass = Pass {
        ctx,
        interval: Interval::M1,
        range: &range,
        expected: &expected,
    };
    let (mut out, reports) = pass.run(&cfg).await?;

    // Derived bars for stocks whose 1-minute bars changed in this run.
    let (calendars, _) = Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    let all = stocks::load(&ctx.storage, true)
        .await
        .map_err(JobError::retryable)?;
    for r in reports.iter().filter(|r| r.inserted + r.revised > 0) {
        let (Some(stock), Some(cal)) = (
            all.iter()
                .find(|s| s.exchange == r.exchange && s.code == r.code),
            calendars.get(&r.exchange),
        ) else {
            continue;
        };
        let date = cal.local_date(slot);
        let Some((open, close)) = cal.session(date) else {
            continue;
        };
        let minutes = store::load_bars(&ctx.storage, stock.id, Interval::M1, open, close)
            .await
            .map_err(JobError::retryable)?;
        for interval in [Interval::M5, Interval::M15, Interval::M60] {
            let bars = {
                let minutes = minutes.clone();
                tokio::task::spawn_blocking(move || {
                    derive::aggregate(&minutes, interval, open, date)
                })
                .await
                .map_err(|e| JobError::permanent(anyhow::anyhow!(e)))?
                .map_err(|e| JobError::permanent(anyhow::anyhow!(e)))?
            };
            let counts = store::upsert_bars(
                &ctx.storage,
                stock.id,
                interval,
                &bars,
                &Lineage {
                    source: "derived:1m",
                    run_id: Some(ctx.run_id),
                },
            )
            .await
            .map_err(JobError::retryable)?;
            out.count(
                &format!("derived_{interval}_written"),
                (counts.inserted + counts.revised) as i64,
            );
        }
    }
    Ok(out)
}
