//! `evaluate`: score every `ok` prediction whose horizon has matured, once.
//!
//! A prediction as of session D for horizon h matures at the close of the
//! h-th session after D on its exchange's calendar (a prediction made the
//! day before a holiday counts the holiday out). It is scored when both
//! daily bars exist (D's close — the prediction's base — and the target
//! session's close): realized return, realized class (flat = |return| ≤
//! the flat band of `jobs/predict.toml`), three-class hit, Brier, log loss,
//! band covered, width and Winkler score (`eval::metrics`). A prediction
//! whose target bar is still missing `grace_sessions` sessions after it
//! matured (a halt, a delisting) is recorded `unscorable` with the reason.
//!
//! Reads: `predictions` (status ok), `stocks`, daily `bars`,
//! `jobs/calendars/`, `jobs/predict.toml` (flat band).
//! Writes: `model_evaluations` (one row per prediction).
//! Schedule: after `ohlc_daily` on trading days.
//! Rerun safety: safe — a prediction with a `model_evaluations` row is
//! never selected again; the insert ignores a row a concurrent run wrote.

use super::{JobContext, JobError, Outcome};
use crate::eval::metrics::{self, Direction, Prediction};
use crate::news::impact::sessions_after;
use crate::on_db;
use crate::time::Calendars;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

/// Sessions after maturity before a missing bar makes a prediction
/// unscorable.
const DEFAULT_GRACE_SESSIONS: usize = 5;

struct Due {
    id: i64,
    stock_id: i64,
    exchange: String,
    horizon: u32,
    as_of_date: NaiveDate,
    pred: Prediction,
}

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let grace = ctx
        .params
        .get("grace_sessions")
        .and_then(|v| v.as_integer())
        .map_or(DEFAULT_GRACE_SESSIONS, |g| g.max(0) as usize);
    let flat_band = predict_flat_band(ctx);
    let (calendars, problems) = Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    let mut out = Outcome::default();
    for p in problems {
        out.warn(format!("calendar: {p}"));
    }
    let due = due(ctx).await?;
    out.count("candidates", due.len() as i64);
    let now: DateTime<Utc> = ctx.slot;
    for d in &due {
        let Some(cal) = calendars.get(&d.exchange) else {
            out.warn(format!("prediction {}: no calendar {}", d.id, d.exchange));
            continue;
        };
        let after = sessions_after(cal, d.as_of_date, d.horizon as usize + grace);
        let Some(&target) = after.get(d.horizon as usize - 1) else {
            out.count("beyond_calendar", 1);
            continue;
        };
        let closed = cal.session(target).is_some_and(|(_, close)| close <= now);
        if !closed {
            out.count("not_matured", 1);
            continue;
        }
        let base = close_on(ctx, d.stock_id, d.as_of_date).await?;
        let end = close_on(ctx, d.stock_id, target).await?;
        let (Some(base), Some(end)) = (base, end) else {
            let give_up = after
                .get(d.horizon as usize + grace - 1)
                .and_then(|g| cal.session(*g))
                .is_some_and(|(_, close)| close <= now);
            if give_up {
                let missing = if base.is_none() { d.as_of_date } else { target };
                insert(ctx, d.id, None, Some(format!(
                    "no daily bar for {missing} {grace} sessions after maturity (halt or delisting?)"
                )), target).await?;
                out.count("unscorable", 1);
            } else {
                out.count("waiting_for_bars", 1);
            }
            continue;
        };
        let realized = (end / base - 1.0) * 100.0;
        match metrics::score(&d.pred, realized, flat_band) {
            Ok(s) => {
                insert(ctx, d.id, Some((base, end, realized, s)), None, target).await?;
                out.count("scored", 1);
            }
            Err(e) => {
                insert(ctx, d.id, None, Some(format!("cannot score: {e}")), target).await?;
                out.count("unscorable", 1);
            }
        }
    }
    out.markdown = format!(
        "## Evaluation\n\n{} candidates: {} scored, {} unscorable, {} not matured, {} waiting for bars.\n",
        due.len(),
        out.counts.get("scored").copied().unwrap_or(0),
        out.counts.get("unscorable").copied().unwrap_or(0),
        out.counts.get("not_matured").copied().unwrap_or(0),
        out.counts.get("waiting_for_bars").copied().unwrap_or(0),
    );
    Ok(out)
}

/// The flat band predictions were made with (`jobs/predict.toml`).
fn predict_flat_band(ctx: &JobContext) -> f64 {
    crate::runner::load_job_params(&ctx.settings.jobs_dir, super::JobName::Predict)
        .ok()
        .and_then(|t| crate::predict::PredictConfig::from_table(&t).ok())
        .map_or(0.5, |c| c.flat_band_pct)
}

async fn due(ctx: &JobContext) -> anyhow::Result<Vec<Due>> {
    Ok(on_db!(&ctx.storage.db, pool => {
        let rows = sqlx::query(
            "SELECT p.id, p.stock_id, s.exchange, p.horizon_days, p.as_of_date, p.p_up, p.p_flat, p.p_down,
                    p.expected_return, p.band_low, p.band_high, p.coverage
             FROM predictions p JOIN stocks s ON s.id = p.stock_id
             LEFT JOIN model_evaluations e ON e.prediction_id = p.id
             WHERE p.status = 'ok' AND e.prediction_id IS NULL ORDER BY p.id",
        )
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let h: i32 = r.try_get("horizon_days")?;
            out.push(Due {
                id: r.try_get("id")?,
                stock_id: r.try_get("stock_id")?,
                exchange: r.try_get("exchange")?,
                horizon: h.max(1) as u32,
                as_of_date: r.try_get("as_of_date")?,
                pred: Prediction {
                    p_up: r.try_get("p_up")?,
                    p_flat: r.try_get("p_flat")?,
                    p_down: r.try_get("p_down")?,
                    expected_return: r.try_get("expected_return")?,
                    band_low: r.try_get("band_low")?,
                    band_high: r.try_get("band_high")?,
                    coverage: r.try_get("coverage")?,
                },
            });
        }
        out
    }))
}

async fn close_on(ctx: &JobContext, stock_id: i64, date: NaiveDate) -> anyhow::Result<Option<f64>> {
    Ok(on_db!(&ctx.storage.db, pool => {
        sqlx::query_scalar(
            "SELECT close FROM bars WHERE stock_id = $1 AND interval = '1d' AND trading_date = $2",
        )
        .bind(stock_id)
        .bind(date)
        .fetch_optional(pool)
        .await?
    }))
}

async fn insert(
    ctx: &JobContext,
    prediction_id: i64,
    scored: Option<(f64, f64, f64, metrics::Scored)>,
    reason: Option<String>,
    target: NaiveDate,
) -> anyhow::Result<()> {
    let now = ctx.storage.now().await?;
    let class = |d: Direction| match d {
        Direction::Up => "up",
        Direction::Flat => "flat",
        Direction::Down => "down",
    };
    on_db!(&ctx.storage.db, pool => {
        sqlx::query(
            "INSERT INTO model_evaluations (prediction_id, status, reason, target_date, base_close, target_close,
                 realized_return, realized_class, hit, brier, brier_up, log_loss, covered, width, winkler,
                 evaluated_at, run_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (prediction_id) DO NOTHING",
        )
        .bind(prediction_id)
        .bind(if scored.is_some() { "scored" } else { "unscorable" })
        .bind(&reason)
        .bind(target)
        .bind(scored.as_ref().map(|s| s.0))
        .bind(scored.as_ref().map(|s| s.1))
        .bind(scored.as_ref().map(|s| (s.2 * 1e6).round() / 1e6))
        .bind(scored.as_ref().map(|s| class(s.3.direction)))
        .bind(scored.as_ref().and_then(|s| s.3.hit))
        .bind(scored.as_ref().map(|s| s.3.brier))
        .bind(scored.as_ref().map(|s| s.3.brier_up))
        .bind(scored.as_ref().map(|s| s.3.log_loss))
        .bind(scored.as_ref().map(|s| s.3.covered))
        .bind(scored.as_ref().map(|s| s.3.width))
        .bind(scored.as_ref().map(|s| s.3.winkler))
        .bind(now)
        .bind(ctx.run_id)
        .execute(pool)
        .await?;
    });
    Ok(())
}
