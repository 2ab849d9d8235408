//! Writing bars and quarantined rows.
//!
//! An upsert never rewrites a bar that did not change; a provider's later
//! correction updates the row, bumps `revisions` and sets `revised_at`, and
//! is counted as a revision. A bar is unchanged when its open, high, low,
//! close and volume equal the stored ones (flags and lineage alone are no
//! revision). Each call is one transaction; [`upsert_bars_many`] writes
//! several stocks' (or intervals') bars in one call.
//!
//! PostgreSQL diffs before it writes, so a rerun writes nothing:
//!
//! 1. one binary `COPY (SELECT …) TO STDOUT` reads the stored bars in each
//!    group's time range (an index range scan per group);
//! 2. the incoming bars are compared with them in memory (a merge join by
//!    time): unchanged, new or changed;
//! 3. new bars, when there are many, are `COPY`ed (binary) straight into
//!    `bars`: no staging table, no merge, no conflict check. The few
//!    others and the changed ones go through `INSERT … SELECT FROM
//!    unnest(…) ON CONFLICT DO UPDATE … WHERE <changed>`, counted from
//!    `RETURNING revisions` (0: inserted, more: revised; rows the `WHERE`
//!    left alone return nothing and are unchanged).
//!
//! A concurrent writer that inserts one of the new keys between the read
//! and the `COPY` makes the `COPY` fail with a unique violation; the call
//! is then retried once with every new bar through the `ON CONFLICT`
//! statement, so the counts stay exact.
//!
//! Measured by `benches/ingest.rs` (1,000,000 minute bars, 100 stocks, the
//! store calls alone), against the previous CSV `COPY` into a temporary
//! staging table merged with `INSERT … ON CONFLICT`: a rerun (every bar
//! stored and unchanged) went from 7.7 s to 0.64 s — the merge locked, and
//! WAL-logged the lock of, every conflicting row; a first load from 15.5 s
//! to 8.7 s, as fast as `psql \copy` into `bars` itself, two thirds of which
//! were the two foreign-key checks PostgreSQL ran per inserted row. Those
//! keys are gone (migration 3: the referenced tables are append-only, and
//! `tickerd doctor` counts orphans with [`orphan_bars`]).
//!
//! SQLite takes multi-row upserts (1,000 rows, 13,000 parameters each) in
//! one transaction. Their parameters are anonymous `?`: sqlx looks each
//! parameter's name up with `sqlite3_bind_parameter_name`, a linear scan,
//! so numbered `$N` names made every statement quadratic (5,000 rows/s;
//! now about 165,000).

use super::validate::{Bar, Rejected};
use super::Interval;
use crate::storage::BeginWrite as _;
use crate::storage::{Db, Storage};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::HashSet;

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

/// One stock's bars of one interval, for [`upsert_bars_many`].
pub type BarGroup<'a> = (i64, Interval, &'a [Bar]);

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

/// Upserts one stock's bars of one interval.
pub async fn upsert_bars(
    storage: &Storage,
    stock_id: i64,
    interval: Interval,
    bars: &[Bar],
    lineage: &Lineage<'_>,
) -> anyhow::Result<UpsertCounts> {
    let counts = upsert_bars_many(storage, &[(stock_id, interval, bars)], lineage).await?;
    Ok(counts[0])
}

/// Upserts several groups of bars in one transaction: the counts of each
/// group, in order. Groups must name distinct (stock, interval) pairs, and
/// a group must not hold two bars with the same timestamp.
pub async fn upsert_bars_many(
    storage: &Storage,
    groups: &[BarGroup<'_>],
    lineage: &Lineage<'_>,
) -> anyhow::Result<Vec<UpsertCounts>> {
    let mut keys = HashSet::with_capacity(groups.len());
    for (stock_id, interval, _) in groups {
        anyhow::ensure!(
            keys.insert((*stock_id, *interval)),
            "upsert_bars_many: stock {stock_id}, interval {interval} given twice"
        );
    }
    if groups.iter().all(|(_, _, bars)| bars.is_empty()) {
        return Ok(vec![UpsertCounts::default(); groups.len()]);
    }
    match &storage.db {
        Db::Postgres(pool) => match pg::upsert(pool, groups, lineage, true).await {
            Err(e) if pg::is_unique_violation(&e) => pg::upsert(pool, groups, lineage, false).await,
            done => done,
        },
        Db::Sqlite(pool) => {
            let now = storage.now().await?;
            sqlite_upsert(pool, groups, lineage, now).await
        }
    }
}

async fn sqlite_upsert(
    pool: &sqlx::SqlitePool,
    groups: &[BarGroup<'_>],
    lineage: &Lineage<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<UpsertCounts>> {
    let row = format!("({})", vec!["?"; 13].join(", "));
    let statement = |rows: usize| {
        format!(
            "INSERT INTO bars ({COLUMNS}) VALUES {} {CONFLICT} RETURNING revisions",
            vec![row.as_str(); rows].join(", ")
        )
    };
    let full = statement(SQLITE_BATCH);
    let mut out = Vec::with_capacity(groups.len());
    let mut tx = pool.begin_write().await?;
    for (stock_id, interval, bars) in groups {
        let mut counts = UpsertCounts::default();
        for chunk in bars.chunks(SQLITE_BATCH) {
            let sql = if chunk.len() == SQLITE_BATCH {
                full.clone()
            } else {
                statement(chunk.len())
            };
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
                    counts.inserted += 1;
                } else {
                    counts.revised += 1;
                }
            }
        }
        counts.unchanged = bars.len() as u64 - counts.inserted - counts.revised;
        out.push(counts);
    }
    tx.commit().await?;
    Ok(out)
}

/// The PostgreSQL write path (see the module documentation).
mod pg {
    use super::{BarGroup, Lineage, UpsertCounts, COLUMNS, CONFLICT};
    use crate::market::validate::Bar;
    use chrono::{DateTime, NaiveDate, Utc};
    use futures::TryStreamExt;
    use sqlx::{PgConnection, PgPool, Row};
    use std::collections::HashMap;
    use std::fmt::Write as _;

    /// From this many new bars in one call on, they are `COPY`ed into
    /// `bars`; fewer take the `ON CONFLICT` statement (one round trip, and
    /// safe against a concurrent insert without a retry).
    const COPY_MIN: usize = 500;
    /// Rows per `INSERT … SELECT FROM unnest(…)` statement.
    const MERGE_CHUNK: usize = 10_000;
    /// Rows per `COPY` into `bars`. The foreign-key checks are queued per
    /// row and run at the end of each statement: this bounds the server's
    /// queue (10,000 or 50,000 rows measured the same).
    const COPY_ROWS: usize = 50_000;
    /// Bytes of `COPY` data per send.
    const SEND_BYTES: usize = 1 << 20;
    const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    /// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds.
    const PG_EPOCH_US: i64 = 946_684_800_000_000;

    /// A stored bar's values, as the diff needs them.
    struct Stored {
        ts: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: i64,
    }

    impl Stored {
        /// `IS DISTINCT FROM` on each value, as the `ON CONFLICT … WHERE`.
        fn differs(&self, b: &Bar) -> bool {
            let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
            !(same(self.open, b.open)
                && same(self.high, b.high)
                && same(self.low, b.low)
                && same(self.close, b.close)
                && self.volume == b.volume)
        }
    }

    /// Microseconds since PostgreSQL's epoch (what it stores).
    fn pg_micros(t: DateTime<Utc>) -> i64 {
        t.timestamp_micros() - PG_EPOCH_US
    }

    fn pg_days(d: NaiveDate) -> i32 {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
        (d - epoch).num_days() as i32
    }

    pub(super) fn is_unique_violation(e: &anyhow::Error) -> bool {
        e.chain().any(|c| {
            c.downcast_ref::<sqlx::Error>()
                .and_then(|e| e.as_database_error())
                .is_some_and(|d| d.code().as_deref() == Some("23505"))
        })
    }

    /// One attempt; `copy_new`: many new bars go straight into `bars`.
    pub(super) async fn upsert(
        pool: &PgPool,
        groups: &[BarGroup<'_>],
        lineage: &Lineage<'_>,
        copy_new: bool,
    ) -> anyhow::Result<Vec<UpsertCounts>> {
        let mut tx = pool.begin().await?;
        // The database's clock, as everywhere (first_seen_at, revised_at).
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut *tx)
            .await?;
        let stored = read_stored(&mut tx, groups).await?;

        let mut counts = vec![UpsertCounts::default(); groups.len()];
        let mut fresh: Vec<(usize, &Bar)> = vec![];
        let mut merge: Vec<(usize, &Bar)> = vec![];
        for (g, ((stock_id, interval, bars), stored)) in groups.iter().zip(stored).enumerate() {
            let diffed = diff(bars, &stored)
                .map_err(|e| anyhow::anyhow!("stock {stock_id}, interval {interval}: {e}"))?;
            for (b, change) in diffed {
                match change {
                    Change::New => fresh.push((g, b)),
                    Change::Changed => merge.push((g, b)),
                    Change::Same => {}
                }
            }
        }

        if copy_new && fresh.len() >= COPY_MIN {
            copy_into_bars(&mut tx, groups, &fresh, lineage, now).await?;
            for (g, _) in &fresh {
                counts[*g].inserted += 1;
            }
        } else {
            merge.extend(fresh);
        }
        if !merge.is_empty() {
            let index: HashMap<(i64, &str), usize> = groups
                .iter()
                .enumerate()
                .map(|(g, (stock_id, interval, _))| ((*stock_id, interval.as_str()), g))
                .collect();
            for chunk in merge.chunks(MERGE_CHUNK) {
                let returned = merge_rows(&mut tx, groups, chunk, lineage, now).await?;
                for (stock_id, interval, inserted, revised) in returned {
                    let g = *index.get(&(stock_id, interval.as_str())).ok_or_else(|| {
                        anyhow::anyhow!("upsert returned stock {stock_id}, interval {interval}")
                    })?;
                    counts[g].inserted += inserted as u64;
                    counts[g].revised += revised as u64;
                }
            }
        }
        tx.commit().await?;
        // The rest: equal to what was stored, or left alone by the ON
        // CONFLICT's WHERE (a concurrent writer stored the same values).
        for (c, (_, _, bars)) in counts.iter_mut().zip(groups) {
            c.unchanged = bars.len() as u64 - c.inserted - c.revised;
        }
        Ok(counts)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Change {
        New,
        Changed,
        Same,
    }

    /// Each bar against the stored ones (sorted by time), in time order:
    /// both sides sorted, a merge join.
    fn diff<'b>(bars: &'b [Bar], stored: &[Stored]) -> anyhow::Result<Vec<(&'b Bar, Change)>> {
        let mut order: Vec<&Bar> = bars.iter().collect();
        if !order.windows(2).all(|w| w[0].ts < w[1].ts) {
            order.sort_by_key(|b| b.ts);
            if let Some(w) = order.windows(2).find(|w| w[0].ts == w[1].ts) {
                anyhow::bail!("two bars at {} in one upsert", w[0].ts);
            }
        }
        let mut stored = stored.iter().peekable();
        Ok(order
            .into_iter()
            .map(|b| {
                let ts = pg_micros(b.ts);
                while stored.next_if(|s| s.ts < ts).is_some() {}
                let change = match stored.next_if(|s| s.ts == ts) {
                    None => Change::New,
                    Some(s) if s.differs(b) => Change::Changed,
                    Some(_) => Change::Same,
                };
                (b, change)
            })
            .collect())
    }

    /// The stored bars in each group's time range, sorted by time.
    async fn read_stored(
        conn: &mut PgConnection,
        groups: &[BarGroup<'_>],
    ) -> anyhow::Result<Vec<Vec<Stored>>> {
        let mut out: Vec<Vec<Stored>> = groups.iter().map(|_| vec![]).collect();
        // COPY takes no parameters: the ranges are written as literals,
        // from numbers, an enum's names and formatted instants only.
        let mut values = String::new();
        for (g, (stock_id, interval, bars)) in groups.iter().enumerate() {
            let (Some(lo), Some(hi)) = (
                bars.iter().map(|b| b.ts).min(),
                bars.iter().map(|b| b.ts).max(),
            ) else {
                continue;
            };
            let fmt = "%Y-%m-%dT%H:%M:%S%.6fZ";
            let _ = write!(
                values,
                "{}({g}, {stock_id}::int8, '{}', '{}'::timestamptz, '{}'::timestamptz)",
                if values.is_empty() { "" } else { ", " },
                interval.as_str(),
                lo.format(fmt),
                hi.format(fmt),
            );
        }
        let sql = format!(
            "COPY (SELECT g.i, b.ts, b.open, b.high, b.low, b.close, b.volume
                   FROM (VALUES {values}) AS g (i, stock_id, interval, lo, hi)
                   JOIN bars b ON b.stock_id = g.stock_id AND b.interval = g.interval
                              AND b.ts BETWEEN g.lo AND g.hi)
             TO STDOUT (FORMAT binary)"
        );
        let mut stream = conn.copy_out_raw(&sql).await?;
        let mut parser = CopyParser::default();
        while let Some(chunk) = stream.try_next().await? {
            parser.feed(&chunk, |row| {
                let g = usize::try_from(row.i32()?)?;
                let s = Stored {
                    ts: row.i64()?,
                    open: row.f64()?,
                    high: row.f64()?,
                    low: row.f64()?,
                    close: row.f64()?,
                    volume: row.i64()?,
                };
                out.get_mut(g)
                    .ok_or_else(|| anyhow::anyhow!("COPY returned group {g}"))?
                    .push(s);
                Ok(())
            })?;
        }
        parser.finish()?;
        for stored in &mut out {
            // Index order already, as a rule: a cheap check then.
            if !stored.windows(2).all(|w| w[0].ts <= w[1].ts) {
                stored.sort_by_key(|s| s.ts);
            }
        }
        Ok(out)
    }

    /// Binary `COPY` of new bars straight into `bars`, one statement per
    /// [`COPY_ROWS`].
    async fn copy_into_bars(
        conn: &mut PgConnection,
        groups: &[BarGroup<'_>],
        rows: &[(usize, &Bar)],
        lineage: &Lineage<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let now = pg_micros(now).to_be_bytes();
        let run_id = lineage.run_id.map(i64::to_be_bytes);
        let mut buf: Vec<u8> = Vec::with_capacity(SEND_BYTES + 1024);
        for chunk in rows.chunks(COPY_ROWS) {
            let mut copy = conn
                .copy_in_raw(&format!("COPY bars ({COLUMNS}) FROM STDIN (FORMAT binary)"))
                .await?;
            buf.clear();
            buf.extend_from_slice(COPY_SIGNATURE);
            buf.extend_from_slice(&0i32.to_be_bytes()); // flags
            buf.extend_from_slice(&0i32.to_be_bytes()); // header extension
            for (g, b) in chunk {
                let (stock_id, interval, _) = groups[*g];
                buf.extend_from_slice(&13i16.to_be_bytes());
                put(&mut buf, Some(&stock_id.to_be_bytes()));
                put(&mut buf, Some(interval.as_str().as_bytes()));
                put(&mut buf, Some(&pg_micros(b.ts).to_be_bytes()));
                put(&mut buf, Some(&pg_days(b.trading_date).to_be_bytes()));
                for v in [b.open, b.high, b.low, b.close] {
                    put(&mut buf, Some(&v.to_be_bytes()));
                }
                put(&mut buf, Some(&b.volume.to_be_bytes()));
                put(&mut buf, b.flags.as_deref().map(str::as_bytes));
                put(&mut buf, Some(lineage.source.as_bytes()));
                put(&mut buf, run_id.as_ref().map(|r| &r[..]));
                put(&mut buf, Some(&now));
                if buf.len() >= SEND_BYTES {
                    copy.send(buf.as_slice()).await?;
                    buf.clear();
                }
            }
            buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
            copy.send(buf.as_slice()).await?;
            copy.finish().await?;
        }
        Ok(())
    }

    /// One binary `COPY` field: its length and bytes, or -1 for NULL.
    fn put(buf: &mut Vec<u8>, field: Option<&[u8]>) {
        match field {
            Some(f) => {
                buf.extend_from_slice(&(f.len() as i32).to_be_bytes());
                buf.extend_from_slice(f);
            }
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// `INSERT … ON CONFLICT DO UPDATE … WHERE <changed>` of `rows`; per
    /// (stock, interval) the rows inserted and revised.
    async fn merge_rows(
        conn: &mut PgConnection,
        groups: &[BarGroup<'_>],
        rows: &[(usize, &Bar)],
        lineage: &Lineage<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(i64, String, i64, i64)>> {
        let stock_ids: Vec<i64> = rows.iter().map(|(g, _)| groups[*g].0).collect();
        let intervals: Vec<&str> = rows.iter().map(|(g, _)| groups[*g].1.as_str()).collect();
        let ts: Vec<DateTime<Utc>> = rows.iter().map(|(_, b)| b.ts).collect();
        let dates: Vec<NaiveDate> = rows.iter().map(|(_, b)| b.trading_date).collect();
        let open: Vec<f64> = rows.iter().map(|(_, b)| b.open).collect();
        let high: Vec<f64> = rows.iter().map(|(_, b)| b.high).collect();
        let low: Vec<f64> = rows.iter().map(|(_, b)| b.low).collect();
        let close: Vec<f64> = rows.iter().map(|(_, b)| b.close).collect();
        let volume: Vec<i64> = rows.iter().map(|(_, b)| b.volume).collect();
        let flags: Vec<Option<&str>> = rows.iter().map(|(_, b)| b.flags.as_deref()).collect();
        let returned = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH up AS (
               INSERT INTO bars ({COLUMNS})
               SELECT u.stock_id, u.interval, u.ts, u.trading_date, u.open, u.high, u.low, u.close,
                      u.volume, u.flags, $11, $12, $13
               FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::date[], $5::float8[],
                           $6::float8[], $7::float8[], $8::float8[], $9::int8[], $10::text[])
                    AS u (stock_id, interval, ts, trading_date, open, high, low, close, volume, flags)
               {CONFLICT}
               RETURNING stock_id, interval, revisions)
             SELECT stock_id, interval, count(*) FILTER (WHERE revisions = 0) AS inserted,
                    count(*) FILTER (WHERE revisions > 0) AS revised
             FROM up GROUP BY stock_id, interval"
        )))
        .bind(stock_ids)
        .bind(intervals)
        .bind(ts)
        .bind(dates)
        .bind(open)
        .bind(high)
        .bind(low)
        .bind(close)
        .bind(volume)
        .bind(flags)
        .bind(lineage.source)
        .bind(lineage.run_id)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
        returned
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("stock_id")?,
                    r.try_get("interval")?,
                    r.try_get("inserted")?,
                    r.try_get("revised")?,
                ))
            })
            .collect()
    }

    /// Incremental parser of binary `COPY … TO STDOUT` data, whatever the
    /// chunking.
    #[derive(Default)]
    struct CopyParser {
        pending: Vec<u8>,
        header_done: bool,
        trailer_seen: bool,
    }

    /// The fields of one tuple, read in order.
    struct Fields<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl Fields<'_> {
        fn field<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
            let len = i32::from_be_bytes(self.take::<4>()?);
            anyhow::ensure!(len as usize == N, "COPY field of {len} bytes, expected {N}");
            self.take::<N>()
        }

        fn take<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
            let bytes = self
                .data
                .get(self.pos..self.pos + N)
                .ok_or_else(|| anyhow::anyhow!("truncated COPY tuple"))?;
            self.pos += N;
            Ok(bytes.try_into().expect("N bytes"))
        }

        fn i32(&mut self) -> anyhow::Result<i32> {
            Ok(i32::from_be_bytes(self.field()?))
        }

        fn i64(&mut self) -> anyhow::Result<i64> {
            Ok(i64::from_be_bytes(self.field()?))
        }

        fn f64(&mut self) -> anyhow::Result<f64> {
            Ok(f64::from_be_bytes(self.field()?))
        }
    }

    impl CopyParser {
        /// Appends a chunk and hands every complete tuple to `row`.
        fn feed(
            &mut self,
            chunk: &[u8],
            mut row: impl FnMut(&mut Fields<'_>) -> anyhow::Result<()>,
        ) -> anyhow::Result<()> {
            self.pending.extend_from_slice(chunk);
            let mut pos = 0;
            let data = &self.pending;
            if !self.header_done {
                let fixed = COPY_SIGNATURE.len() + 8;
                if data.len() < fixed {
                    return Ok(());
                }
                anyhow::ensure!(data.starts_with(COPY_SIGNATURE), "not binary COPY data");
                let ext = i32::from_be_bytes(data[fixed - 4..fixed].try_into()?) as usize;
                if data.len() < fixed + ext {
                    return Ok(());
                }
                pos = fixed + ext;
                self.header_done = true;
            }
            while !self.trailer_seen && data.len() >= pos + 2 {
                let n = i16::from_be_bytes(data[pos..pos + 2].try_into()?);
                if n == -1 {
                    self.trailer_seen = true;
                    pos += 2;
                    break;
                }
                // The tuple's length: walk its fields.
                let mut end = pos + 2;
                let mut complete = true;
                for _ in 0..n {
                    let Some(len) = data.get(end..end + 4) else {
                        complete = false;
                        break;
                    };
                    let len = i32::from_be_bytes(len.try_into()?);
                    end += 4 + len.max(0) as usize;
                }
                if !complete || data.len() < end {
                    break;
                }
                row(&mut Fields {
                    data: &data[pos + 2..end],
                    pos: 0,
                })?;
                pos = end;
            }
            self.pending.drain(..pos);
            Ok(())
        }

        fn finish(&self) -> anyhow::Result<()> {
            anyhow::ensure!(
                self.trailer_seen && self.pending.is_empty(),
                "binary COPY data ended early"
            );
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn bar(minute: i64, close: f64) -> Bar {
            let t0: DateTime<Utc> = "2026-01-05T14:30:00Z".parse().unwrap();
            Bar {
                ts: t0 + chrono::Duration::minutes(minute),
                trading_date: t0.date_naive(),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close,
                volume: 100,
                flags: None,
            }
        }

        fn stored(b: &Bar) -> Stored {
            Stored {
                ts: pg_micros(b.ts),
                open: b.open,
                high: b.high,
                low: b.low,
                close: b.close,
                volume: b.volume,
            }
        }

        #[test]
        fn diff_classifies_bars_in_time_order() {
            let have = [bar(0, 1.5), bar(1, 1.5), bar(2, f64::NAN), bar(5, 1.5)];
            let have: Vec<Stored> = have.iter().map(stored).collect();
            let bars = [bar(3, 1.5), bar(1, 1.25), bar(0, 1.5), bar(2, f64::NAN)];
            let got: Vec<(i64, Change)> = diff(&bars, &have)
                .unwrap()
                .into_iter()
                .map(|(b, c)| ((b.ts - bars[2].ts).num_minutes(), c))
                .collect();
            assert_eq!(
                got,
                [
                    (0, Change::Same),
                    (1, Change::Changed),
                    (2, Change::Same), // NaN is not distinct from NaN
                    (3, Change::New),
                ]
            );
            let twice = [bar(1, 1.5), bar(0, 1.5), bar(1, 1.5)];
            assert!(diff(&twice, &[]).is_err());
        }

        /// A binary COPY stream of (int4, int8, float8 ×4, int8) tuples.
        fn stream(rows: &[(i32, i64, f64, i64)]) -> Vec<u8> {
            let mut buf = COPY_SIGNATURE.to_vec();
            buf.extend_from_slice(&0i32.to_be_bytes());
            buf.extend_from_slice(&3i32.to_be_bytes()); // a header extension
            buf.extend_from_slice(b"ext");
            for (i, ts, px, v) in rows {
                buf.extend_from_slice(&7i16.to_be_bytes());
                put(&mut buf, Some(&i.to_be_bytes()));
                put(&mut buf, Some(&ts.to_be_bytes()));
                for _ in 0..4 {
                    put(&mut buf, Some(&px.to_be_bytes()));
                }
                put(&mut buf, Some(&v.to_be_bytes()));
            }
            buf.extend_from_slice(&(-1i16).to_be_bytes());
            buf
        }

        fn parse(data: &[u8], chunk: usize) -> anyhow::Result<Vec<(i32, i64, f64, i64)>> {
            let mut parser = CopyParser::default();
            let mut out = vec![];
            for c in data.chunks(chunk) {
                parser.feed(c, |f| {
                    let (i, ts, px) = (f.i32()?, f.i64()?, f.f64()?);
                    let _ = (f.f64()?, f.f64()?, f.f64()?);
                    out.push((i, ts, px, f.i64()?));
                    Ok(())
                })?;
            }
            parser.finish()?;
            Ok(out)
        }

        #[test]
        fn copy_parser_reads_tuples_however_chunked() {
            let rows = [(0, 1, 1.5, 100), (7, -5, 2.25, i64::MAX)];
            let data = stream(&rows);
            for chunk in [1, 2, 5, 13, data.len()] {
                assert_eq!(parse(&data, chunk).unwrap(), rows, "chunks of {chunk}");
            }
            assert!(parse(&data[..data.len() - 3], 4).is_err(), "truncated");
            assert!(parse(b"not a COPY stream at all", 4).is_err());
        }

        #[test]
        fn put_writes_length_prefixed_fields_and_null() {
            let mut buf = vec![];
            put(&mut buf, Some(b"1m"));
            put(&mut buf, None);
            assert_eq!(buf, [0, 0, 0, 2, b'1', b'm', 255, 255, 255, 255]);
            assert_eq!(
                pg_micros("2000-01-01T00:00:01Z".parse().unwrap()),
                1_000_000
            );
            assert_eq!(pg_days(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()), -1);
        }
    }
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
        let mut tx = pool.begin_write().await?;
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

/// Bars that point at no stock, and bars whose `run_id` names no run.
/// `bars` has no foreign keys (they cost two thirds of a bulk load); this
/// is the check `tickerd doctor` runs instead. Both are anti-joins over the
/// primary key, a few hundred milliseconds per million bars.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Orphans {
    pub without_stock: i64,
    pub without_run: i64,
}

pub async fn orphan_bars(storage: &Storage) -> anyhow::Result<Orphans> {
    Ok(crate::on_db!(&storage.db, pool => {
        let without_stock: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bars b WHERE NOT EXISTS (SELECT 1 FROM stocks s WHERE s.id = b.stock_id)",
        )
        .fetch_one(pool)
        .await?;
        let without_run: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bars b WHERE b.run_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM job_runs r WHERE r.id = b.run_id)",
        )
        .fetch_one(pool)
        .await?;
        Orphans { without_stock, without_run }
    }))
}
