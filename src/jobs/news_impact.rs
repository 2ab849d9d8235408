//! `news_impact`: for each (article, stock) link, the percent close change
//! 1, 2, 3, 5, 10 and 20 sessions after the last close known at
//! publication (see `news::impact` for the reference-close rule).
//!
//! Reads: `news_stock_match` with `news.published_at` and the stock's
//! exchange, daily `bars` (interval `1d`), `jobs/calendars/`.
//! Writes: `news_impact` (one row per link; `pending` until every horizon
//! is filled, then `complete`; `expired` when a bar is still missing ten
//! sessions after the last horizon — a halt or delisting).
//! Schedule: after `ohlc_daily` on trading days; rows are revisited on
//! every run until they are complete or expired.
//! Rerun safety: safe — rows upsert on (news, stock) and are rewritten only
//! when a value changed.

use super::{JobContext, JobError, Outcome};
use crate::news::impact::{self, Planned};
use crate::news::store;
use crate::time::Calendars;
use chrono::Duration;
use std::collections::BTreeSet;

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let mut out = Outcome::default();
    let (calendars, problems) = Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    for p in problems {
        out.warn(format!("calendar: {p}"));
    }
    let todo = store::impact_todo(&ctx.storage).await?;
    out.count("links_to_do", todo.len() as i64);

    let mut planned: Vec<Planned> = vec![];
    let mut unknown = BTreeSet::new();
    let mut today = None;
    for t in &todo {
        let Some(cal) = calendars.get(&t.exchange) else {
            unknown.insert(t.exchange.clone());
            continue;
        };
        today.get_or_insert_with(|| cal.local_date(ctx.slot));
        match impact::plan(t, cal) {
            Some(p) => planned.push(p),
            None => {
                out.warn(format!(
                    "news {} / stock {}: no session before {} on {}",
                    t.news_id, t.stock_id, t.published_at, t.exchange
                ));
            }
        }
    }
    for e in unknown {
        out.warn(format!(
            "no calendar for exchange {e}: its links are skipped"
        ));
    }
    let (Some(from), Some(to)) = (
        planned.iter().map(|p| p.ref_date).min(),
        planned
            .iter()
            .flat_map(|p| p.sessions.iter().flatten())
            .max()
            .copied(),
    ) else {
        return Ok(out);
    };
    let mut ids: Vec<i64> = planned.iter().map(|p| p.stock_id).collect();
    ids.sort_unstable();
    ids.dedup();
    // From a month before the earliest reference: a halted stock's last
    // close still serves as the reference.
    let closes = store::daily_closes(&ctx.storage, &ids, from - Duration::days(31), to).await?;
    let today = today.unwrap_or_else(|| ctx.slot.date_naive());
    let rows = tokio::task::spawn_blocking(move || impact::compute(&planned, &closes, today))
        .await
        .map_err(|e| anyhow::anyhow!("impact computation panicked: {e}"))?
        .map_err(|e| anyhow::anyhow!("impact computation: {e}"))?;
    let changed = store::upsert_impacts(&ctx.storage, &rows, ctx.run_id).await?;
    for r in &rows {
        out.count(&format!("rows_{}", r.status), 1);
    }
    out.count("rows_written", changed as i64);
    out.count("waiting_for_bars", todo.len() as i64 - rows.len() as i64);
    out.markdown = format!(
        "## Impact rows\n\n{} links to do; {} rows computed ({} complete, {} pending, {} expired), {} written; {} links wait for their reference bar.\n",
        todo.len(),
        rows.len(),
        out.counts.get("rows_complete").copied().unwrap_or(0),
        out.counts.get("rows_pending").copied().unwrap_or(0),
        out.counts.get("rows_expired").copied().unwrap_or(0),
        changed,
        out.counts.get("waiting_for_bars").copied().unwrap_or(0),
    );
    Ok(out)
}
