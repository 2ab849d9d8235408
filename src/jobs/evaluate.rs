//! `evaluate`: score every `ok` prediction whose horizon has matured, once.
//!
//! A prediction as of session D for horizon h matures at the close of the
//! h-th session after D on its exchange's calendar (a prediction made the
//! day before a holiday counts the holiday out). It is scored when the daily
//! bars exist (D's close — the prediction's base — and the target session's
//! close): realized return, realized class (flat = |return| ≤ the flat band
//! of `jobs/predict.toml`), three-class hit, Brier, log loss, band covered,
//! width and Winkler score (`eval::metrics`); the naive baselines on the same
//! item from the stock's closes up to D (`eval::baselines`); and, when the
//! prediction carries price levels (base, target, support), the original's
//! target/support family over the 5 sessions after D — such a prediction
//! waits for max(h, 5) sessions. A prediction whose bars are still missing
//! `grace_sessions` sessions after it matured (a halt, a delisting) is
//! recorded `unscorable` with the reason.
//!
//! Reads: `predictions` (status ok), `stocks`, daily `bars`,
//! `jobs/calendars/`, `jobs/predict.toml` (flat band).
//! Writes: `model_evaluations` (one row per prediction), in batches (on
//! SQLite staged and moved in prediction-id order, see `Sink`).
//! Schedule: after `ohlc_daily` on trading days.
//! Rerun safety: safe — a prediction with a `model_evaluations` row is
//! never selected again; the insert ignores a row a concurrent run wrote.

use super::{JobContext, JobError, Outcome, Phases};
use crate::eval::baselines::{self, LOOKBACK_SESSIONS};
use crate::eval::metrics::{self, Direction, Prediction, PriceTargets, TARGET_WINDOW_DAYS};
use crate::news::impact::sessions_after;
use crate::on_db;
use crate::time::Calendars;
use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::Row;

/// Sessions after maturity before a missing bar makes a prediction
/// unscorable.
const DEFAULT_GRACE_SESSIONS: usize = 5;
/// Rows per multi-row insert (SQLite allows 32,766 bound values).
const INSERT_CHUNK: usize = 500;

struct Due {
    id: i64,
    exchange: String,
    horizon: usize,
    as_of_date: NaiveDate,
    pred: Prediction,
    levels: Option<PriceTargets>,
}

/// One daily bar of a stock.
#[derive(Debug, Clone, Copy)]
struct Daily {
    date: NaiveDate,
    high: f64,
    low: f64,
    close: f64,
}

/// What one `model_evaluations` row says.
#[derive(Debug, Default)]
struct EvalRow {
    prediction_id: i64,
    reason: Option<String>,
    target_date: Option<NaiveDate>,
    base_close: Option<f64>,
    target_close: Option<f64>,
    realized: Option<f64>,
    scored: Option<metrics::Scored>,
    up: Option<metrics::Scored>,
    persist: Option<metrics::Scored>,
    targets: Option<metrics::TargetScore>,
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
    let now: DateTime<Utc> = ctx.slot;

    // One stock at a time: its due predictions, one read of its bars, then
    // the scores; memory stays bounded by the largest stock, not the table.
    let mut rows: Vec<EvalRow> = Vec::new();
    let mut written = 0u64;
    let mut candidates = 0usize;
    // Where the time goes (reported in ms): reading, scoring, writing.
    let mut phases = Phases::start();
    let mut sink = Sink::open(ctx).await?;
    for stock_id in stocks_with_due(ctx).await? {
        if ctx.cancel.is_cancelled() {
            // What is written stays written; the rest is picked up next run.
            out.warn("cancelled: the remaining stocks wait for the next run");
            break;
        }
        let due = due(ctx, stock_id).await?;
        candidates += due.len();
        let mut items: Vec<(&Due, Plan)> = Vec::new();
        for d in &due {
            let Some(cal) = calendars.get(&d.exchange) else {
                out.warn(format!("prediction {}: no calendar {}", d.id, d.exchange));
                continue;
            };
            match plan(cal, d, grace, now) {
                Ok(plan) => items.push((d, plan)),
                Err(skip) => {
                    out.count(skip, 1);
                }
            }
        }
        if items.is_empty() {
            continue;
        }
        let from = items
            .iter()
            .map(|(d, _)| d.as_of_date)
            .min()
            .expect("non-empty");
        let to = items
            .iter()
            .map(|(_, p)| p.last_needed)
            .max()
            .expect("non-empty");
        // Enough calendar days back for the baselines' lookback (~1.5 weeks
        // of slack for holidays).
        let max_h = items.iter().map(|(d, _)| d.horizon).max().unwrap_or(1);
        let back = ((LOOKBACK_SESSIONS + max_h) as i64 * 7) / 5 + 14;
        let bars = daily_bars(ctx, stock_id, from - Duration::days(back), to).await?;
        phases.lap("read");
        for (d, plan) in &items {
            if let Some(row) = evaluate_one(d, plan, &bars, flat_band, &mut out) {
                rows.push(row);
            }
        }
        phases.lap("score");
        if rows.len() >= INSERT_CHUNK {
            written += sink.write(ctx, &rows).await?;
            rows.clear();
            phases.lap("write");
        }
    }
    out.count("candidates", candidates as i64);
    written += sink.write(ctx, &rows).await?;
    written += sink.close().await?;
    phases.lap("write");
    out.count("written", written as i64);
    phases.report(&mut out);
    let c = |k: &str| out.counts.get(k).copied().unwrap_or(0);
    out.markdown = format!(
        "## Evaluation\n\n{} candidates: {} scored, {} unscorable, {} not matured, {} waiting for bars.\n\
         Baselines unavailable (under {} sessions of history): {}. Target/support family scored: {}.\n",
        candidates,
        c("scored"),
        c("unscorable"),
        c("not_matured"),
        c("waiting_for_bars"),
        baselines::MIN_HISTORY,
        c("baselines_unavailable"),
        c("targets_scored"),
    );
    Ok(out)
}

/// The sessions a prediction needs, if it has matured; else the counter
/// that says why not.
fn plan(
    cal: &crate::time::Calendar,
    d: &Due,
    grace: usize,
    now: DateTime<Utc>,
) -> Result<Plan, &'static str> {
    // Target-carrying predictions also need the target window's bars.
    let need = if d.levels.is_some() {
        d.horizon.max(TARGET_WINDOW_DAYS)
    } else {
        d.horizon
    };
    let after = sessions_after(cal, d.as_of_date, need + grace);
    let (Some(&target), Some(&last_needed)) = (after.get(d.horizon - 1), after.get(need - 1))
    else {
        return Err("beyond_calendar");
    };
    if cal
        .session(last_needed)
        .is_none_or(|(_, close)| close > now)
    {
        return Err("not_matured");
    }
    let give_up = after
        .get(need + grace - 1)
        .and_then(|g| cal.session(*g))
        .is_some_and(|(_, close)| close <= now);
    Ok(Plan {
        target,
        last_needed,
        window: after.iter().take(TARGET_WINDOW_DAYS).copied().collect(),
        give_up,
    })
}

/// The sessions a ready prediction needs.
struct Plan {
    target: NaiveDate,
    last_needed: NaiveDate,
    /// The first `TARGET_WINDOW_DAYS` sessions after the as-of date.
    window: Vec<NaiveDate>,
    /// The grace period has passed: missing bars make it unscorable.
    give_up: bool,
}

fn evaluate_one(
    d: &Due,
    plan: &Plan,
    bars: &[Daily],
    flat_band: f64,
    out: &mut Outcome,
) -> Option<EvalRow> {
    let at = |date: NaiveDate| bars.binary_search_by_key(&date, |b| b.date).ok();
    let mut row = EvalRow {
        prediction_id: d.id,
        target_date: Some(plan.target),
        ..EvalRow::default()
    };
    let missing = [d.as_of_date, plan.target]
        .into_iter()
        .chain(if d.levels.is_some() {
            plan.window.clone()
        } else {
            Vec::new()
        })
        .find(|date| at(*date).is_none());
    if let Some(missing) = missing {
        if !plan.give_up {
            out.count("waiting_for_bars", 1);
            return None;
        }
        row.reason = Some(format!(
            "no daily bar for {missing} after the grace period (halt or delisting?)"
        ));
        out.count("unscorable", 1);
        return Some(row);
    }
    let base_idx = at(d.as_of_date).expect("checked");
    let (base, end) = (
        bars[base_idx].close,
        bars[at(plan.target).expect("checked")].close,
    );
    let realized = (end / base - 1.0) * 100.0;
    row.base_close = Some(base);
    row.target_close = Some(end);
    row.realized = Some(realized);
    match metrics::score(&d.pred, realized, flat_band) {
        Ok(s) => row.scored = Some(s),
        Err(e) => {
            row.reason = Some(format!("cannot score: {e}"));
            out.count("unscorable", 1);
            return Some(row);
        }
    }
    out.count("scored", 1);
    let closes: Vec<f64> = bars[..=base_idx].iter().map(|b| b.close).collect();
    match baselines::naive_baselines(&closes, base_idx, d.horizon, d.pred.coverage, flat_band) {
        Some((up, persist)) => {
            row.up = metrics::score_baseline(&up, realized, flat_band).ok();
            row.persist = metrics::score_baseline(&persist, realized, flat_band).ok();
        }
        None => {
            out.count("baselines_unavailable", 1);
        }
    }
    if let Some(levels) = &d.levels {
        let window: Vec<metrics::Bar> = plan
            .window
            .iter()
            .filter_map(|date| {
                at(*date).map(|i| metrics::Bar {
                    high: bars[i].high,
                    low: bars[i].low,
                })
            })
            .collect();
        match metrics::score_targets(levels, &window) {
            Ok(t) => {
                row.targets = Some(t);
                out.count("targets_scored", 1);
            }
            // Bad levels do not void the main score; they are counted.
            Err(_) => {
                out.count("targets_invalid", 1);
            }
        }
    }
    Some(row)
}

/// The flat band predictions were made with (`jobs/predict.toml`).
fn predict_flat_band(ctx: &JobContext) -> f64 {
    crate::runner::load_job_params(&ctx.settings.jobs_dir, super::JobName::Predict)
        .ok()
        .and_then(|t| crate::predict::PredictConfig::from_table(&t).ok())
        .map_or(0.5, |c| c.flat_band_pct)
}

/// Stocks with at least one `ok` prediction not evaluated yet.
async fn stocks_with_due(ctx: &JobContext) -> anyhow::Result<Vec<i64>> {
    Ok(on_db!(&ctx.storage.db, pool => {
        sqlx::query_scalar(
            "SELECT DISTINCT p.stock_id FROM predictions p
             LEFT JOIN model_evaluations e ON e.prediction_id = p.id
             WHERE p.status = 'ok' AND e.prediction_id IS NULL ORDER BY p.stock_id",
        )
        .fetch_all(pool)
        .await?
    }))
}

/// One stock's `ok` predictions not evaluated yet.
async fn due(ctx: &JobContext, stock_id: i64) -> anyhow::Result<Vec<Due>> {
    Ok(on_db!(&ctx.storage.db, pool => {
        let rows = sqlx::query(
            "SELECT p.id, s.exchange, p.horizon_days, p.as_of_date, p.p_up, p.p_flat, p.p_down,
                    p.expected_return, p.band_low, p.band_high, p.coverage,
                    p.base_price, p.price_target, p.support
             FROM predictions p JOIN stocks s ON s.id = p.stock_id
             LEFT JOIN model_evaluations e ON e.prediction_id = p.id
             WHERE p.stock_id = $1 AND p.status = 'ok' AND e.prediction_id IS NULL ORDER BY p.id",
        )
        .bind(stock_id)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let h: i32 = r.try_get("horizon_days")?;
            let base: Option<f64> = r.try_get("base_price")?;
            let target: Option<f64> = r.try_get("price_target")?;
            let support: Option<f64> = r.try_get("support")?;
            out.push(Due {
                id: r.try_get("id")?,
                exchange: r.try_get("exchange")?,
                horizon: h.max(1) as usize,
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
                levels: match (base, target, support) {
                    (Some(base), Some(target), Some(support)) => {
                        Some(PriceTargets { base, target, support })
                    }
                    _ => None,
                },
            });
        }
        out
    }))
}

/// One stock's daily bars in `[from, to]`, by date.
async fn daily_bars(
    ctx: &JobContext,
    stock_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<Daily>> {
    use crate::storage::Db;
    // SQLite without statistics picks `bars_by_date (interval, trading_date)`
    // for this range and scans every stock's bars (1.1 s a stock at 500k
    // bars); `+interval` takes that index out of the running so the primary
    // key's (stock_id, interval) prefix is used. PostgreSQL plans it right.
    const PG: &str = "SELECT trading_date, high, low, close FROM bars
         WHERE stock_id = $1 AND interval = '1d' AND trading_date >= $2 AND trading_date <= $3
         ORDER BY trading_date";
    const SQLITE: &str = "SELECT trading_date, high, low, close FROM bars
         WHERE stock_id = $1 AND +interval = '1d' AND trading_date >= $2 AND trading_date <= $3
         ORDER BY trading_date";
    let rows: Vec<(NaiveDate, f64, f64, f64)> = match &ctx.storage.db {
        Db::Postgres(pool) => {
            sqlx::query_as(PG)
                .bind(stock_id)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(SQLITE)
                .bind(stock_id)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
        }
    }
    .with_context(|| format!("reading daily bars of stock {stock_id}"))?;
    Ok(rows
        .into_iter()
        .map(|(date, high, low, close)| Daily {
            date,
            high,
            low,
            close,
        })
        .collect())
}

/// The columns an evaluation row writes, in the order `insert_values!` binds.
const COLUMNS: &str = "prediction_id, status, reason, target_date, base_close, target_close,
    realized_return, realized_class, hit, brier, brier_up, log_loss, covered, width, winkler,
    up_hit, up_brier, up_log_loss, persist_hit, persist_brier, persist_log_loss, rw_covered,
    rw_width, rw_winkler, target_achieved, achieved_day, support_breached, accuracy_score,
    timing_score, risk_score, final_score, evaluated_at, run_id";

/// Staged rows moved into `model_evaluations` at once on SQLite (see
/// [`Sink`]); bounds the temporary table at a few hundred MB.
const STAGE_FLUSH_ROWS: usize = 1_000_000;

/// Staged rows moved per transaction by default (`sqlite_rows_per_transaction`
/// in `jobs/evaluate.toml`). One transaction for a whole flush held SQLite's
/// write lock for ~20 s per million rows, longer than the 15 s busy timeout of
/// everyone else's writes (the runner's heartbeat among them). Consecutive
/// id ranges keep the one-write-per-page order.
const DEFAULT_STAGE_MOVE_ROWS: i64 = 50_000;

/// A multi-row `INSERT INTO $table (COLUMNS) VALUES …` of `$chunk`, for
/// whichever backend the surrounding `on_db!` arm picked.
macro_rules! insert_values {
    ($table:expr, $chunk:expr, $now:expr, $run_id:expr) => {{
        let class = |d: Direction| match d {
            Direction::Up => "up",
            Direction::Flat => "flat",
            Direction::Down => "down",
        };
        let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO {} ({COLUMNS}) ", $table));
        q.push_values($chunk, |mut b, r: &EvalRow| {
            let s = r.scored.as_ref();
            let t = r.targets.as_ref();
            // The random-walk band is the one both baselines carry.
            let rw = r.up.as_ref().or(r.persist.as_ref());
            b.push_bind(r.prediction_id)
                .push_bind(if s.is_some() { "scored" } else { "unscorable" })
                .push_bind(r.reason.clone())
                .push_bind(r.target_date)
                .push_bind(r.base_close)
                .push_bind(r.target_close)
                .push_bind(s.and(r.realized).map(|x| (x * 1e6).round() / 1e6))
                .push_bind(s.map(|s| class(s.direction)))
                .push_bind(s.and_then(|s| s.hit))
                .push_bind(s.map(|s| s.brier))
                .push_bind(s.map(|s| s.brier_up))
                .push_bind(s.map(|s| s.log_loss))
                .push_bind(s.map(|s| s.covered))
                .push_bind(s.map(|s| s.width))
                .push_bind(s.map(|s| s.winkler))
                .push_bind(r.up.as_ref().and_then(|u| u.hit))
                .push_bind(r.up.as_ref().map(|u| u.brier))
                .push_bind(r.up.as_ref().map(|u| u.log_loss))
                .push_bind(r.persist.as_ref().and_then(|p| p.hit))
                .push_bind(r.persist.as_ref().map(|p| p.brier))
                .push_bind(r.persist.as_ref().map(|p| p.log_loss))
                .push_bind(rw.map(|x| x.covered))
                .push_bind(rw.map(|x| x.width))
                .push_bind(rw.map(|x| x.winkler))
                .push_bind(t.map(|t| t.target_achieved))
                .push_bind(t.and_then(|t| t.achieved_day).map(|d| d as i32))
                .push_bind(t.map(|t| t.support_breached))
                .push_bind(t.map(|t| t.accuracy))
                .push_bind(t.map(|t| t.timing))
                .push_bind(t.map(|t| t.risk))
                .push_bind(t.map(|t| t.final_score))
                .push_bind($now)
                .push_bind($run_id);
        });
        q
    }};
}

/// Where scored rows go.
///
/// The job walks stock by stock, so consecutive rows carry prediction ids
/// from all over the table. Inserted as they come, every 500-row statement
/// rewrote ~500 random pages of `model_evaluations` (SQLite's B-tree is
/// keyed by prediction id): 76 of 99 s at 1M predictions. On SQLite the
/// rows are therefore staged in a temporary table on one connection and
/// moved over in prediction-id order every `STAGE_FLUSH_ROWS` rows and at
/// the end, in short transactions of consecutive ids — each page is then
/// written about once per flush (4.3× faster on a 200k-row model of the
/// job). A crash loses at most the unmoved rows, which the next run scores
/// again. PostgreSQL takes the rows directly.
enum Sink {
    Direct,
    Staged {
        conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
        staged: usize,
        /// Rows moved per transaction.
        move_rows: i64,
    },
}

impl Sink {
    async fn open(ctx: &JobContext) -> Result<Sink, JobError> {
        let move_rows = match ctx.params.get("sqlite_rows_per_transaction") {
            None => DEFAULT_STAGE_MOVE_ROWS,
            Some(toml::Value::Integer(n)) if *n > 0 => *n,
            Some(other) => {
                return Err(JobError::permanent(anyhow::anyhow!(
                    "jobs/evaluate.toml: sqlite_rows_per_transaction must be a positive integer, not {other}"
                )))
            }
        };
        let crate::storage::Db::Sqlite(pool) = &ctx.storage.db else {
            return Ok(Sink::Direct);
        };
        let mut conn = pool.acquire().await.map_err(anyhow::Error::from)?;
        sqlx::query("DROP TABLE IF EXISTS temp.eval_stage")
            .execute(&mut *conn)
            .await
            .map_err(anyhow::Error::from)?;
        // A constant column list: nothing from outside goes into the SQL.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TEMP TABLE eval_stage AS SELECT {COLUMNS} FROM main.model_evaluations WHERE 0"
        )))
        .execute(&mut *conn)
        .await
        .context("cannot create the staging table")?;
        // Flushes walk the staged rows by id range.
        sqlx::query("CREATE INDEX temp.eval_stage_by_prediction ON eval_stage (prediction_id)")
            .execute(&mut *conn)
            .await
            .context("cannot index the staging table")?;
        Ok(Sink::Staged {
            conn,
            staged: 0,
            move_rows,
        })
    }

    /// Takes rows; returns how many reached `model_evaluations` now.
    async fn write(&mut self, ctx: &JobContext, rows: &[EvalRow]) -> anyhow::Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let now = ctx.storage.now().await?;
        match self {
            Sink::Direct => {
                let mut written = 0;
                for chunk in rows.chunks(INSERT_CHUNK) {
                    written += on_db!(&ctx.storage.db, pool => {
                        let mut q = insert_values!("model_evaluations", chunk, now, ctx.run_id);
                        q.push(" ON CONFLICT (prediction_id) DO NOTHING");
                        q.build().execute(pool).await?.rows_affected()
                    });
                }
                Ok(written)
            }
            Sink::Staged { conn, staged, .. } => {
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let mut q = insert_values!("temp.eval_stage", chunk, now, ctx.run_id);
                    q.build().execute(&mut **conn).await?;
                }
                *staged += rows.len();
                if *staged >= STAGE_FLUSH_ROWS {
                    self.flush().await
                } else {
                    Ok(0)
                }
            }
        }
    }

    /// Moves staged rows into `model_evaluations` in prediction-id order,
    /// `move_rows` consecutive ids per transaction, so that other
    /// writers get the lock in between; returns how many were new. A crash
    /// midway keeps the ranges already moved; the rest is scored again by
    /// the next run.
    async fn flush(&mut self) -> anyhow::Result<u64> {
        let Sink::Staged {
            conn,
            staged,
            move_rows,
        } = self
        else {
            return Ok(0);
        };
        if *staged == 0 {
            return Ok(0);
        }
        let mut written = 0;
        let mut after = i64::MIN;
        loop {
            // The last id of the next range (or of what is left).
            let upto: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(prediction_id) FROM (SELECT prediction_id FROM temp.eval_stage
                 WHERE prediction_id > $1 ORDER BY prediction_id LIMIT $2)",
            )
            .bind(after)
            .bind(*move_rows)
            .fetch_one(&mut **conn)
            .await?;
            let Some(upto) = upto else { break };
            let mut tx = sqlx::Connection::begin(&mut **conn).await?;
            // (The SELECT must have a WHERE, or SQLite reads ON CONFLICT as
            // a join's.)
            written += sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO main.model_evaluations ({COLUMNS}) SELECT {COLUMNS} FROM temp.eval_stage \
                 WHERE prediction_id > $1 AND prediction_id <= $2 ORDER BY prediction_id \
                 ON CONFLICT (prediction_id) DO NOTHING"
            )))
            .bind(after)
            .bind(upto)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            after = upto;
        }
        sqlx::query("DELETE FROM temp.eval_stage")
            .execute(&mut **conn)
            .await?;
        *staged = 0;
        Ok(written)
    }

    /// Flushes and drops the staging table (the connection goes back to
    /// the pool clean).
    async fn close(mut self) -> anyhow::Result<u64> {
        let written = self.flush().await?;
        if let Sink::Staged { mut conn, .. } = self {
            sqlx::query("DROP TABLE IF EXISTS temp.eval_stage")
                .execute(&mut *conn)
                .await?;
        }
        Ok(written)
    }
}
