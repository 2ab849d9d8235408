//! Forward price impact of an article on a linked stock: the percent change
//! of the daily close 1, 2, 3, 5, 10 and 20 sessions after the article.
//!
//! Reference: the last close *known when the article appeared* — the close
//! of the latest session that had closed by `published_at` on the stock's
//! exchange calendar. So an article published during Tuesday's session is
//! measured from Monday's close (+1 = Tuesday's close, which already holds
//! the reaction); one published after Tuesday's close, overnight, or on a
//! holiday is measured from Tuesday's close (+1 = the next session's
//! close). Sessions are counted on the calendar, not on stored bars: a
//! missing bar (halt) leaves that horizon empty rather than shifting the
//! others.
//!
//! The join of (link, horizon session) with the stored closes is done in
//! bulk with Polars.

use super::store::{Impact, ImpactTodo};
use crate::time::Calendar;
use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use std::collections::HashMap;

/// Sessions after the reference close, in the order of `Impact::returns`.
pub const HORIZONS: [usize; 6] = [1, 2, 3, 5, 10, 20];

/// Sessions after the last horizon's session with its bar still missing
/// before a row stops being revisited (`expired`).
pub const GRACE_SESSIONS: usize = 10;

/// The session whose close was the last one known at `t`.
pub fn reference_session(cal: &Calendar, t: chrono::DateTime<chrono::Utc>) -> Option<NaiveDate> {
    let mut d = cal.local_date(t);
    for _ in 0..40 {
        if let Some((_, close)) = cal.session(d) {
            if close <= t {
                return Some(d);
            }
        }
        d -= Duration::days(1);
    }
    None
}

/// The `n` sessions after `d` (fewer past the calendar's end).
pub fn sessions_after(cal: &Calendar, d: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n);
    let mut day = d;
    while out.len() < n && cal.covers(day + Duration::days(1)) {
        day += Duration::days(1);
        if cal.session(day).is_some() {
            out.push(day);
        }
    }
    out
}

/// A link with its reference and horizon sessions laid out.
#[derive(Debug, Clone)]
pub struct Planned {
    pub news_id: i64,
    pub stock_id: i64,
    pub ref_date: NaiveDate,
    /// The session of each horizon (None past the calendar's end).
    pub sessions: [Option<NaiveDate>; 6],
    /// The session after which a still-missing bar means it never comes.
    pub expires_after: Option<NaiveDate>,
}

pub fn plan(todo: &ImpactTodo, cal: &Calendar) -> Option<Planned> {
    let ref_date = reference_session(cal, todo.published_at)?;
    let after = sessions_after(cal, ref_date, HORIZONS[5] + GRACE_SESSIONS);
    let mut sessions = [None; 6];
    for (i, h) in HORIZONS.iter().enumerate() {
        sessions[i] = after.get(h - 1).copied();
    }
    Some(Planned {
        news_id: todo.news_id,
        stock_id: todo.stock_id,
        ref_date,
        sessions,
        expires_after: after.get(HORIZONS[5] + GRACE_SESSIONS - 1).copied(),
    })
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// Computes impact rows for planned links from daily closes `(stock_id,
/// trading_date, close)`. `today` is the slot's date: a row whose last
/// horizon is still missing after its grace sessions is `expired`. Links
/// with no close at or before their reference session are left out (they
/// stay to do).
pub fn compute(
    planned: &[Planned],
    closes: &[(i64, NaiveDate, f64)],
    today: NaiveDate,
) -> PolarsResult<Vec<Impact>> {
    if planned.is_empty() {
        return Ok(vec![]);
    }
    // The reference close: the last close on or before the reference
    // session (a halt on that day keeps the previous close).
    let mut by_stock: HashMap<i64, Vec<(NaiveDate, f64)>> = HashMap::new();
    for (s, d, c) in closes {
        by_stock.entry(*s).or_default().push((*d, *c));
    }
    for v in by_stock.values_mut() {
        v.sort_by_key(|(d, _)| *d);
    }

    // Long form: one row per (link, horizon) with the session's date.
    let (mut link, mut stock, mut horizon, mut day) = (vec![], vec![], vec![], vec![]);
    for (i, p) in planned.iter().enumerate() {
        for (h, s) in p.sessions.iter().enumerate() {
            if let Some(s) = s {
                link.push(i as u32);
                stock.push(p.stock_id);
                horizon.push(h as u32);
                day.push(days(*s));
            }
        }
    }
    let wanted = df!(
        "link" => link,
        "stock_id" => stock,
        "horizon" => horizon,
        "day" => day,
    )?;
    let closes_df = df!(
        "stock_id" => closes.iter().map(|c| c.0).collect::<Vec<_>>(),
        "day" => closes.iter().map(|c| days(c.1)).collect::<Vec<_>>(),
        "close" => closes.iter().map(|c| c.2).collect::<Vec<_>>(),
    )?;
    let joined = wanted
        .lazy()
        .join(
            closes_df.lazy(),
            [col("stock_id"), col("day")],
            [col("stock_id"), col("day")],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("link"), col("horizon"), col("close")])
        .collect()?;
    let (l, h, c) = (
        joined.column("link")?.u32()?.clone(),
        joined.column("horizon")?.u32()?.clone(),
        joined.column("close")?.f64()?.clone(),
    );
    let mut found: Vec<[Option<f64>; 6]> = vec![[None; 6]; planned.len()];
    for i in 0..joined.height() {
        if let (Some(l), Some(h), Some(c)) = (l.get(i), h.get(i), c.get(i)) {
            found[l as usize][h as usize] = Some(c);
        }
    }

    let mut out = Vec::with_capacity(planned.len());
    for (p, closes_at) in planned.iter().zip(found) {
        let Some(series) = by_stock.get(&p.stock_id) else {
            continue;
        };
        let idx = series.partition_point(|(d, _)| *d <= p.ref_date);
        let Some(&(_, ref_close)) = idx.checked_sub(1).and_then(|i| series.get(i)) else {
            continue;
        };
        if ref_close <= 0.0 {
            continue;
        }
        let returns = closes_at.map(|c| c.map(|c| round4((c / ref_close - 1.0) * 100.0)));
        let status = if returns.iter().all(Option::is_some) {
            "complete"
        } else if p.expires_after.is_some_and(|e| e < today) {
            "expired"
        } else {
            "pending"
        };
        out.push(Impact {
            news_id: p.news_id,
            stock_id: p.stock_id,
            ref_date: p.ref_date,
            ref_close,
            returns,
            status,
        });
    }
    Ok(out)
}

/// Percent to four decimals: reruns compare equal.
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}
