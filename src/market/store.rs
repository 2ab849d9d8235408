//! Writing bars and quarantined rows.
//!
//! An upsert never rewrites a bar that did not change; a provider's later
//! correction updates the row, bumps `revisions` and sets `revised_at`, and
//! is counted as a revision. Counting uses what the statement returns:
//! `revisions = 0` means inserted, more means revised, and rows the `WHERE`
//! left alone return nothing (unchanged).
//!
//! PostgreSQL loads through `COPY` into a temporary staging table and merges
//! with one `INSERT … SELECT … ON CONFLICT`; SQLite takes batched multi-row
//! upserts in one transaction.

use super::validate::{Bar, Rejected};
use super::Interval;
use crate::storage::{Db, Storage};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::fmt::Write as _;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub revised: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.revised += o.revised;
        self.unchanged += o.unchanged;
    }
}

/// Lineage of the rows one call writes.
#[derive(Debug, Clone)]
pub struct Lineage<'a> {
    pub source: &'a str,
    pub run_id: Option<i64>,
}

const CONFLICT: &str = "ON CONFLICT (stock_id, interval, ts) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, flags = excluded.flags, trading_date = excluded.trading_date,
    source = excluded.source, run_id = excluded.run_id,
    revised_at = excluded.first_seen_at, revisions = bars.revisions + 1
  WHERE bars.open IS DISTINCT FROM excluded.open OR bars.high IS DISTINCT FROM excluded.high
     OR bars.low IS DISTINCT FROM excluded.low OR bars.close IS DISTINCT FROM excluded.close
     OR bars.volume IS DISTINCT FROM excluded.volume";

const COLUMNS: &str =
    "stock_id, interval, ts, trading_date, open, high, low, close, volume, flags, source, run_id, first_seen_at";

/// Rows per multi-row statement on SQLite (13 parameters each, well under
/// its 32,766-parameter limit).
const SQLITE_BATCH: usize = 1000;

pub async fn upsert_bars(
    storage: &Storage,
    stock_id: i64,
    interval: Interval,
    bars: &[Bar],
    lineage: &Lineage<'_>,
) -> anyhow::Result<UpsertCounts> {
    if bars.is_empty() {
        return Ok(UpsertCounts::default());
    }
    let now = storage.now().await?;
    let returned = match &storage.db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "CREATE TEMP TABLE IF NOT EXISTS bars_stage (LIKE bars INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
            )
            .execute(&mut *tx)
            .await?;
            let mut copy = tx
                .copy_in_raw(&format!(
                    "COPY bars_stage ({COLUMNS}) FROM STDIN (FORMAT csv)"
                ))
                .await?;
            let mut buf = String::with_capacity(bars.len().min(50_000) * 120);
            let (source, run_id) = (
                csv_text(lineage.source),
                lineage.run_id.map(|r| r.to_string()).unwrap_or_default(),
            );
            let now_text = now.to_rfc3339();
            for chunk in bars.chunks(50_000) {
                buf.clear();
                for b in chunk {
                    let _ = writeln!(
                        buf,
                        "{stock_id},{interval},{},{},{:?},{:?},{:?},{:?},{},{},{source},{run_id},{now_text}",
                        b.ts.to_rfc3339(),
                        b.trading_date,
                        b.open,
                        b.high,
                        b.low,
                        b.close,
                        b.volume,
                        b.flags.as_deref().map(csv_text).unwrap_or_default(),
                    );
                }
                copy.send(buf.as_bytes()).await?;
            }
            copy.finish().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH up AS (INSERT INTO bars ({COLUMNS}) SELECT {COLUMNS} FROM bars_stage {CONFLICT} RETURNING revisions)
                 SELECT count(*) FILTER (WHERE revisions = 0) AS inserted, count(*) FILTER (WHERE revisions > 0) AS revised FROM up"
            )))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            let (inserted, revised): (i64, i64) =
                (row.try_get("inserted")?, row.try_get("revised")?);
            (inserted as u64, revised as u64)
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin().await?;
            let (mut inserted, mut revised) = (0u64, 0u64);
            for chunk in bars.chunks(SQLITE_BATCH) {
                let mut sql = format!("INSERT INTO bars ({COLUMNS}) VALUES ");
                for i in 0..chunk.len() {
                    let p = i * 13;
                    if i > 0 {
                        sql.push(',');
                    }
                    let _ = write!(sql, "(${}", p + 1);
                    for k in 2..=13 {
                        let _ = write!(sql, ", ${}", p + k);
                    }
                    sql.push(')');
                }
                let _ = write!(sql, " {CONFLICT} RETURNING revisions");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in chunk {
                    q = q
                        .bind(stock_id)
                        .bind(interval.as_str())
                        .bind(b.ts)
                        .bind(b.trading_date)
                        .bind(b.open)
                        .bind(b.high)
                        .bind(b.low)
                        .bind(b.close)
                        .bind(b.volume)
                        .bind(b.flags.as_deref())
                        .bind(lineage.source)
                        .bind(lineage.run_id)
                        .bind(now);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    if row.try_get::<i64, _>("revisions")? == 0 {
                        inserted += 1;
                    } else {
                        revised += 1;
                    }
                }
            }
            tx.commit().await?;
            (inserted, revised)
        }
    };
    let (inserted, revised) = returned;
    Ok(UpsertCounts {
        inserted,
        revised,
        unchanged: bars.len() as u64 - inserted - revised,
    })
}

/// TEMPORARY (baseline): one call per group.
pub async fn upsert_bars_many(
    storage: &Storage,
    groups: &[(i64, Interval, &[Bar])],
    lineage: &Lineage<'_>,
) -> anyhow::Result<Vec<UpsertCounts>> {
    let mut out = Vec::with_capacity(groups.len());
    for (stock_id, interval, bars) in groups {
        out.push(upsert_bars(storage, *stock_id, *interval, bars, lineage).await?);
    }
    Ok(out)
}

/// CSV-quotes a text field.
fn csv_text(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Stores rejected payload rows with their reasons.
pub async fn quarantine(
    storage: &Storage,
    stock_id: Option<i64>,
    provider: &str,
    symbol: &str,
    interval: Interval,
    rows: &[Rejected],
    run_id: Option<i64>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now: DateTime<Utc> = storage.now().await?;
    crate::on_db!(&storage.db, pool => {
        let mut tx = pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO bar_quarantine (run_id, stock_id, provider, symbol, interval, ts, reason, payload, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(run_id)
            .bind(stock_id)
            .bind(provider)
            .bind(symbol)
            .bind(interval.as_str())
            .bind(r.ts)
            .bind(&r.reason)
            .bind(&r.raw)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// The last stored close strictly before `before` (for the first bar's
/// move check).
pub async fn previous_close(
    storage: &Storage,
    stock_id: i64,
    interval: Interval,
    before: DateTime<Utc>,
) -> anyhow::Result<Option<f64>> {
    Ok(crate::on_db!(&storage.db, pool => {
        sqlx::query_scalar(
            "SELECT close FROM bars WHERE stock_id = $1 AND interval = $2 AND ts < $3 ORDER BY ts DESC LIMIT 1",
        )
        .bind(stock_id)
        .bind(interval.as_str())
        .bind(before)
        .fetch_optional(pool)
        .await?
    }))
}

/// Bars of a stock in [from, to], oldest first.
pub async fn load_bars(
    storage: &Storage,
    stock_id: i64,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<Bar>> {
    Ok(crate::on_db!(&storage.db, pool => {
        let rows = sqlx::query(
            "SELECT ts, trading_date, open, high, low, close, volume, flags FROM bars
             WHERE stock_id = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts",
        )
        .bind(stock_id)
        .bind(interval.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(Bar {
                ts: r.try_get("ts")?,
                trading_date: r.try_get("trading_date")?,
                open: r.try_get("open")?,
                high: r.try_get("high")?,
                low: r.try_get("low")?,
                close: r.try_get("close")?,
                volume: r.try_get("volume")?,
                flags: r.try_get("flags")?,
            });
        }
        out
    }))
}
