//! Predictions' tables: `predictions` (one row per stock, model, variant,
//! horizon and as-of instant) and `stock_analysis` (history, never
//! overwritten); and what a prediction reads: daily bars and linked news,
//! strictly before its cut-off.

use super::features::DailyBars;
use crate::on_db;
use crate::storage::BeginWrite as _;
use crate::storage::Storage;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

/// One `predictions` row.
#[derive(Debug, Clone, Default)]
pub struct PredictionRow {
    pub stock_id: i64,
    pub model_id: i64,
    pub experiment: Option<String>,
    pub variant: String,
    pub horizon_days: u32,
    pub as_of: DateTime<Utc>,
    pub as_of_date: NaiveDate,
    /// ok | rejected | failed | skipped
    pub status: &'static str,
    pub reason: Option<String>,
    pub p_up: Option<f64>,
    pub p_flat: Option<f64>,
    pub p_down: Option<f64>,
    pub expected_return: Option<f64>,
    pub band_low: Option<f64>,
    pub band_high: Option<f64>,
    pub coverage: Option<f64>,
    pub base_price: Option<f64>,
    pub price_target: Option<f64>,
    pub support: Option<f64>,
    pub prompt_hash: Option<String>,
    pub news_ids: Vec<i64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// How many horizons of this (stock, model, variant, as-of) are already
/// `ok`: a rerun does not pay for them again.
pub async fn ok_count(
    storage: &Storage,
    stock_id: i64,
    model_id: i64,
    variant: &str,
    as_of: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(on_db!(&storage.db, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM predictions WHERE stock_id = $1 AND model_id = $2 AND variant = $3
               AND as_of = $4 AND status = 'ok'",
        )
        .bind(stock_id)
        .bind(model_id)
        .bind(variant)
        .bind(as_of)
        .fetch_one(pool)
        .await?
    }))
}

/// Stores a stock's rows (all horizons) and its analysis in one
/// transaction. An `ok` row is never replaced; other statuses are (a rerun
/// retries failures and skips). The analysis keeps the first explanation
/// of an as-of: history is appended, never rewritten.
pub async fn save(
    storage: &Storage,
    rows: &[PredictionRow],
    analysis: Option<(&str, &serde_json::Value, &serde_json::Value)>,
    run_id: i64,
) -> anyhow::Result<()> {
    let now = storage.now().await?;
    on_db!(&storage.db, pool => {
        let mut tx = pool.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO predictions (stock_id, model_id, experiment, variant, horizon_days, as_of, as_of_date,
                     status, reason, p_up, p_flat, p_down, expected_return, band_low, band_high, coverage,
                     base_price, price_target, support, prompt_hash, news_ids, input_tokens, output_tokens,
                     cost_usd, run_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                     $20, $21, $22, $23, $24, $25, $26)
                 ON CONFLICT (stock_id, model_id, variant, horizon_days, as_of) DO UPDATE SET
                     experiment = excluded.experiment, status = excluded.status, reason = excluded.reason,
                     p_up = excluded.p_up, p_flat = excluded.p_flat, p_down = excluded.p_down,
                     expected_return = excluded.expected_return, band_low = excluded.band_low,
                     band_high = excluded.band_high, coverage = excluded.coverage,
                     base_price = excluded.base_price, price_target = excluded.price_target,
                     support = excluded.support, prompt_hash = excluded.prompt_hash,
                     news_ids = excluded.news_ids, input_tokens = excluded.input_tokens,
                     output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd,
                     run_id = excluded.run_id, created_at = excluded.created_at
                 WHERE predictions.status <> 'ok'",
            )
            .bind(r.stock_id)
            .bind(r.model_id)
            .bind(&r.experiment)
            .bind(&r.variant)
            .bind(r.horizon_days as i32)
            .bind(r.as_of)
            .bind(r.as_of_date)
            .bind(r.status)
            .bind(&r.reason)
            .bind(r.p_up)
            .bind(r.p_flat)
            .bind(r.p_down)
            .bind(r.expected_return)
            .bind(r.band_low)
            .bind(r.band_high)
            .bind(r.coverage)
            .bind(r.base_price)
            .bind(r.price_target)
            .bind(r.support)
            .bind(&r.prompt_hash)
            .bind(serde_json::to_string(&r.news_ids)?)
            .bind(r.input_tokens as i32)
            .bind(r.output_tokens as i32)
            .bind(r.cost_usd)
            .bind(run_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if let (Some((explanation, drivers, features)), Some(first)) = (analysis, rows.first()) {
            sqlx::query(
                "INSERT INTO stock_analysis (stock_id, model_id, variant, as_of, explanation, drivers, features,
                     news_ids, run_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            )
            .bind(first.stock_id)
            .bind(first.model_id)
            .bind(&first.variant)
            .bind(first.as_of)
            .bind(explanation)
            .bind(drivers.to_string())
            .bind(features.to_string())
            .bind(serde_json::to_string(&first.news_ids)?)
            .bind(run_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Daily bars of these stocks with trading_date in [from, to].
pub async fn daily_bars(
    storage: &Storage,
    stock_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<DailyBars> {
    let mut out = DailyBars::default();
    for chunk in stock_ids.chunks(500) {
        let list = crate::storage::placeholders(chunk.len(), 3);
        let sql = format!(
            "SELECT stock_id, trading_date, close, volume FROM bars
             WHERE interval = '1d' AND trading_date >= $1 AND trading_date <= $2 AND stock_id IN ({list})
             ORDER BY stock_id, trading_date"
        );
        on_db!(&storage.db, pool => {
            let mut q = sqlx::query_as::<_, (i64, NaiveDate, f64, i64)>(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(to);
            for id in chunk {
                q = q.bind(id);
            }
            for (s, d, c, v) in q.fetch_all(pool).await? {
                out.stock_id.push(s);
                out.date.push(d);
                out.close.push(c);
                out.volume.push(v);
            }
        });
    }
    Ok(out)
}

/// A linked article a prompt shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecentNews {
    pub id: i64,
    pub title: String,
    pub summary: Option<String>,
    pub published_at: DateTime<Utc>,
    pub relevance: f64,
}

/// Articles linked to a stock, published in [from, cutoff) — strictly
/// before the cut-off — most relevant and newest first.
pub async fn recent_news(
    storage: &Storage,
    stock_id: i64,
    from: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<RecentNews>> {
    Ok(on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT n.id, n.title, n.summary, n.published_at, m.relevance FROM news_stock_match m
             JOIN news n ON n.id = m.news_id
             WHERE m.stock_id = $1 AND n.deleted_at IS NULL AND n.published_at >= $2 AND n.published_at < $3
               AND (n.cluster_id IS NULL OR n.cluster_id = n.id)
             ORDER BY n.published_at DESC, n.id DESC LIMIT $4",
        )
        .bind(stock_id)
        .bind(from)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(RecentNews {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                summary: r.try_get("summary")?,
                published_at: r.try_get("published_at")?,
                relevance: r.try_get("relevance")?,
            });
        }
        out
    }))
}
