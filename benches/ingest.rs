//! Ingestion benchmark: 1,000,000 minute bars from the `files` provider into
//! PostgreSQL and SQLite, against `psql \copy` of the same rows.
//!
//! What it measures, as rows per second (1,000,000 valid 1-minute bars:
//! 100 XNYS stocks × 10,000 minutes, about 26 sessions of the real
//! `jobs/calendars/XNYS.toml` from 2026-01-02, a random walk in cents with
//! an occasional volume spike so some bars carry flags):
//!
//! * **tickerd → PostgreSQL**, what `ohlc_minute` does for each stock: the
//!   `files` provider reads the stock's CSV, `store::previous_close`, Polars
//!   validation (off the runtime), then `store::upsert_bars` with the run's
//!   lineage (a real `job_runs` row, so both foreign keys of `bars` are
//!   checked, as in production). Timed end to end and per phase (read,
//!   validate, store). Once as a *first load* into an empty `bars`, then as
//!   a *rerun* where every row already exists and nothing changed. The same
//!   again with `store::upsert_bars_many`: every stock read and validated
//!   first, then one call for all of them.
//! * **`psql \copy`**, the baseline: the same rows (exported from `bars`
//!   after the first load) as CSV into `bars_copy`, created `LIKE bars
//!   INCLUDING ALL` (same columns, primary key, index, check and defaults;
//!   `LIKE` copies no foreign keys, and `bars` has none since migration 3),
//!   timed around the `psql` process with `std::process::Command`. The same
//!   `\copy` into `bars` itself (emptied first) is shown too.
//! * **reference**: the plain "staging + `INSERT … ON CONFLICT DO UPDATE`"
//!   write (CSV `COPY` into a temporary table, one merge per stock; the
//!   original `store.rs`), behind the same read and validation.
//! * **tickerd → SQLite**: the per-stock path into a fresh SQLite file
//!   (WAL, `synchronous = NORMAL`, as `Storage::open` sets it).
//!
//! Every pass's counts are checked: all rows inserted on a first load, all
//! unchanged on a rerun.
//!
//! How: a fresh PostgreSQL database `tickerd_t_bench_*` (dropped at the end;
//! admin URL from `TICKERD_BENCH_POSTGRES_URL`, else `IT_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`) migrated by `Storage::open`.
//! Autovacuum is off on `bars` and `bars_copy` and a `CHECKPOINT` precedes
//! every timed phase, so no phase pays for another's dirty pages. Each round
//! runs every variant once (a first load after `TRUNCATE`, then its rerun);
//! `TICKERD_BENCH_ROUNDS` rounds (default 3), figures are medians over
//! rounds, and ratios are rows/s over `\copy`'s rows/s from the same run.
//!
//! Prints a Markdown table with the targets (PostgreSQL first load ≥ 0.5×
//! `\copy`, rerun ≥ 0.55×) and writes it to `target/bench-ingest.md`.
//!
//! Run with `cargo bench --bench ingest` (about 4 minutes on 2 cores).

use anyhow::{anyhow, bail, ensure, Context as _};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::Row;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tickerd::market::providers::files::Files;
use tickerd::market::providers::FetchRequest;
use tickerd::market::stocks::{self, Stock, UniverseRow};
use tickerd::market::store::{self, Lineage, UpsertCounts};
use tickerd::market::validate::{self, Bar};
use tickerd::market::Interval;
use tickerd::settings::Secret;
use tickerd::storage::{Db, Storage};
use tickerd::time::{Calendar, Calendars};

const STOCKS: usize = 100;
const MINUTES: usize = 10_000;
const ROWS: usize = STOCKS * MINUTES;
const FIRST_DAY: (i32, u32, u32) = (2026, 1, 2);
const EXCHANGE: &str = "XNYS";
const ROUNDS_ENV: &str = "TICKERD_BENCH_ROUNDS";
const DEFAULT_ROUNDS: usize = 3;
const TARGET_FIRST: f64 = 0.5;
const TARGET_RERUN: f64 = 0.55;
/// The columns `\copy` loads: what a writer supplies, the rest defaults.
const COLUMNS: &str =
    "stock_id, interval, ts, trading_date, open, high, low, close, volume, flags, source, run_id, first_seen_at";

fn main() -> anyhow::Result<()> {
    let rounds = match std::env::var(ROUNDS_ENV) {
        Ok(v) => v.parse().with_context(|| format!("{ROUNDS_ENV}={v:?}"))?,
        Err(_) => DEFAULT_ROUNDS,
    };
    ensure!(rounds > 0, "{ROUNDS_ENV} must be at least 1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let md = rt.block_on(run(rounds))?;
    println!("{md}");
    let target_dir = Path::new(env!("CARGO_BIN_EXE_tickerd"))
        .parent()
        .and_then(Path::parent)
        .context("locating the target folder")?;
    let out = target_dir.join("bench-ingest.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

async fn run(rounds: usize) -> anyhow::Result<String> {
    let tmp = tempfile::Builder::new()
        .prefix("tickerd-bench-ingest-")
        .tempdir()?;
    let dir = tmp.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cal = Calendars::load_file(&repo.join("jobs/calendars").join(format!("{EXCHANGE}.toml")))
        .map_err(|p| anyhow!("{p:?}"))?;

    eprintln!("generating {ROWS} bars ({STOCKS} stocks × {MINUTES} minutes) ...");
    let data = Data::generate(dir, cal)?;

    let pg = PgBench::create().await?;
    let result = bench_all(&data, &pg, dir, rounds).await;
    pg.drop_database().await;
    let figures = result?;
    Ok(render(&figures, rounds))
}

// ------------------------------------------------------------------ data

/// The generated payload: one CSV per stock in the `files` layout.
struct Data {
    files: Files,
    cal: Calendar,
    codes: Vec<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sessions: usize,
}

impl Data {
    fn generate(dir: &Path, cal: Calendar) -> anyhow::Result<Data> {
        let mut minutes = Vec::with_capacity(MINUTES);
        let mut day =
            NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).context("first day")?;
        let mut sessions = 0;
        while minutes.len() < MINUTES {
            ensure!(cal.covers(day), "{EXCHANGE} calendar ends at {day}");
            if let Some((open, close)) = cal.session(day) {
                sessions += 1;
                let mut t = open;
                while t < close && minutes.len() < MINUTES {
                    minutes.push(t);
                    t += TimeDelta::minutes(1);
                }
            }
            day = day.succ_opt().context("date overflow")?;
        }
        let pattern = format!(
            "{}/bars/{{interval}}/{{exchange}}/{{code}}.csv",
            dir.display()
        );
        let files = Files { pattern };
        let mut codes = vec![];
        for i in 0..STOCKS {
            let code = format!("S{i:03}");
            let req = request(&cal, &code, minutes[0], minutes[MINUTES - 1]);
            let path = files.path_for(&req);
            std::fs::create_dir_all(path.parent().context("file folder")?)?;
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
            writeln!(w, "ts,open,high,low,close,volume")?;
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
            let mut cents: i64 = 5_000 + 300 * i as i64;
            for (k, t) in minutes.iter().enumerate() {
                let open = cents;
                cents = (cents + rng.below(21) as i64 - 10).max(100);
                let close = cents;
                let high = open.max(close) + rng.below(8) as i64;
                let low = (open.min(close) - rng.below(8) as i64).max(1);
                let mut volume = 1_000 + rng.below(9_000);
                if k % 997 == 996 {
                    volume *= 5; // a spike: flagged, still stored
                }
                writeln!(
                    w,
                    "{},{},{},{},{},{volume}",
                    t.format("%Y-%m-%dT%H:%M:%SZ"),
                    Cents(open),
                    Cents(high),
                    Cents(low),
                    Cents(close),
                )?;
            }
            w.flush()?;
            codes.push(code);
        }
        Ok(Data {
            files,
            cal,
            codes,
            from: minutes[0],
            to: minutes[MINUTES - 1],
            sessions,
        })
    }

    fn request(&self, code: &str) -> FetchRequest {
        request(&self.cal, code, self.from, self.to)
    }

    fn universe(&self) -> Vec<UniverseRow> {
        self.codes
            .iter()
            .enumerate()
            .map(|(i, code)| UniverseRow {
                line: i + 2,
                exchange: EXCHANGE.into(),
                code: code.clone(),
                name: format!("Bench stock {code}"),
                currency: "USD".into(),
                priority: 1,
                active: true,
                aliases: vec![],
                symbols: Default::default(),
            })
            .collect()
    }
}

fn request(cal: &Calendar, code: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> FetchRequest {
    FetchRequest {
        exchange: EXCHANGE.into(),
        code: code.into(),
        symbol: code.into(),
        tz: cal.tz,
        interval: Interval::M1,
        from,
        to,
    }
}

/// A price in cents as decimal text.
struct Cents(i64);

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Deterministic and dependency-free: the same files every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

// ------------------------------------------------------------ databases

struct PgBench {
    admin: String,
    name: String,
    url: String,
}

impl PgBench {
    async fn create() -> anyhow::Result<PgBench> {
        let admin = std::env::var("TICKERD_BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("IT_POSTGRES_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pool = sqlx::PgPool::connect(&admin).await.with_context(|| {
            format!(
                "PostgreSQL is required and is not reachable at {admin} (bash .ci/run starts it)"
            )
        })?;
        let name = format!("tickerd_t_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await?;
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Ok(PgBench { admin, name, url })
    }

    async fn drop_database(&self) {
        if let Ok(pool) = sqlx::PgPool::connect(&self.admin).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                eprintln!("could not drop {}: {e}", self.name);
            }
            pool.close().await;
        }
    }
}

/// A migrated database with the bench's stocks and one run for lineage.
struct Target {
    storage: Storage,
    stocks: Vec<Stock>,
    run_id: i64,
}

impl Target {
    async fn open(url: &str, data: &Data) -> anyhow::Result<Target> {
        let storage = Storage::open(&Secret::new(url)).await?;
        stocks::upsert(&storage, &data.universe(), "bench", None).await?;
        let stocks = stocks::load(&storage, true).await?;
        ensure!(stocks.len() == STOCKS, "{} stocks loaded", stocks.len());
        let now = Utc::now();
        let run_id: i64 = tickerd::on_db!(&storage.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO job_runs (job, slot, trigger, status, queued_at)
                 VALUES ('ohlc_minute', $1, 'manual', 'running', $1) RETURNING id",
            )
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        Ok(Target {
            storage,
            stocks,
            run_id,
        })
    }

    fn pg(&self) -> anyhow::Result<&sqlx::PgPool> {
        match &self.storage.db {
            Db::Postgres(pool) => Ok(pool),
            Db::Sqlite(_) => bail!("not PostgreSQL"),
        }
    }

    async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        tickerd::on_db!(&self.storage.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(pool).await?;
        });
        Ok(())
    }

    async fn count_bars(&self) -> anyhow::Result<i64> {
        Ok(tickerd::on_db!(&self.storage.db, pool => {
            sqlx::query_scalar("SELECT count(*) FROM bars").fetch_one(pool).await?
        }))
    }
}

// ---------------------------------------------------------------- passes

/// How a pass writes its validated bars.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// `store::upsert_bars` per stock, as the job does.
    PerStock,
    /// Every stock read and validated, then one `store::upsert_bars_many`.
    Batched,
    /// The plain staging + `ON CONFLICT` merge, per stock.
    Reference,
}

/// One timed pass over every stock.
#[derive(Clone, Copy, Default)]
struct Pass {
    wall: Duration,
    read: Duration,
    validate: Duration,
    store: Duration,
    counts: UpsertCounts,
}

async fn ingest(target: &Target, data: &Data, writer: Writer) -> anyhow::Result<Pass> {
    let lineage = Lineage {
        source: "files",
        run_id: Some(target.run_id),
    };
    let mut pass = Pass::default();
    let mut batch: Vec<(i64, Vec<Bar>)> = vec![];
    let began = Instant::now();
    for stock in &target.stocks {
        let req = data.request(&stock.code);
        let t = Instant::now();
        let fetched = data.files.fetch(&req).await.map_err(|e| anyhow!(e))?;
        ensure!(
            fetched.unparsed.is_empty() && fetched.bars.len() == MINUTES,
            "{}: {} bars, {} unparsed",
            stock.code,
            fetched.bars.len(),
            fetched.unparsed.len()
        );
        pass.read += t.elapsed();

        let t = Instant::now();
        let previous =
            store::previous_close(&target.storage, stock.id, Interval::M1, req.from).await?;
        let cal = data.cal.clone();
        let validated = tokio::task::spawn_blocking(move || {
            let cx = validate::Context {
                interval: Interval::M1,
                calendar: Some(&cal),
                tz: cal.tz,
                previous_close: previous,
            };
            validate::validate(fetched.bars, &cx)
        })
        .await??;
        ensure!(
            validated.rejected.is_empty(),
            "{}: rejected {:?}",
            stock.code,
            validated.rejected.first()
        );
        pass.validate += t.elapsed();

        let t = Instant::now();
        match writer {
            Writer::PerStock => {
                pass.counts += store::upsert_bars(
                    &target.storage,
                    stock.id,
                    Interval::M1,
                    &validated.bars,
                    &lineage,
                )
                .await?;
            }
            Writer::Reference => {
                pass.counts +=
                    reference_upsert(target, stock.id, Interval::M1, &validated.bars, &lineage)
                        .await?;
            }
            Writer::Batched => batch.push((stock.id, validated.bars)),
        }
        pass.store += t.elapsed();
    }
    if writer == Writer::Batched {
        let t = Instant::now();
        let groups: Vec<(i64, Interval, &[Bar])> = batch
            .iter()
            .map(|(id, bars)| (*id, Interval::M1, bars.as_slice()))
            .collect();
        for c in store::upsert_bars_many(&target.storage, &groups, &lineage).await? {
            pass.counts += c;
        }
        pass.store += t.elapsed();
    }
    pass.wall = began.elapsed();
    Ok(pass)
}

/// The plain write the targets are set against: CSV `COPY` into a
/// temporary staging table and one `INSERT … SELECT … ON CONFLICT DO
/// UPDATE` per stock, counting what `RETURNING` gives back.
async fn reference_upsert(
    target: &Target,
    stock_id: i64,
    interval: Interval,
    bars: &[Bar],
    lineage: &Lineage<'_>,
) -> anyhow::Result<UpsertCounts> {
    let pool = target.pg()?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS ref_stage (LIKE bars INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    )
    .execute(&mut *tx)
    .await?;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY ref_stage ({COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .await?;
    let mut buf = String::with_capacity(bars.len() * 120);
    let run_id = lineage.run_id.map(|r| r.to_string()).unwrap_or_default();
    let now_text = now.to_rfc3339();
    for b in bars {
        let _ = writeln!(
            buf,
            "{stock_id},{interval},{},{},{:?},{:?},{:?},{:?},{},{},\"{}\",{run_id},{now_text}",
            b.ts.to_rfc3339(),
            b.trading_date,
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            b.flags
                .as_deref()
                .map(|f| format!("\"{f}\""))
                .unwrap_or_default(),
            lineage.source,
        );
    }
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH up AS (
           INSERT INTO bars ({COLUMNS}) SELECT {COLUMNS} FROM ref_stage
           ON CONFLICT (stock_id, interval, ts) DO UPDATE SET
             open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
             volume = excluded.volume, flags = excluded.flags, trading_date = excluded.trading_date,
             source = excluded.source, run_id = excluded.run_id,
             revised_at = excluded.first_seen_at, revisions = bars.revisions + 1
           WHERE bars.open IS DISTINCT FROM excluded.open OR bars.high IS DISTINCT FROM excluded.high
              OR bars.low IS DISTINCT FROM excluded.low OR bars.close IS DISTINCT FROM excluded.close
              OR bars.volume IS DISTINCT FROM excluded.volume
           RETURNING revisions)
         SELECT count(*) FILTER (WHERE revisions = 0) AS inserted,
                count(*) FILTER (WHERE revisions > 0) AS revised FROM up"
    )))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let (inserted, revised): (i64, i64) = (row.try_get("inserted")?, row.try_get("revised")?);
    Ok(UpsertCounts {
        inserted: inserted as u64,
        revised: revised as u64,
        unchanged: (bars.len() as i64 - inserted - revised) as u64,
    })
}

/// Checks a pass wrote what it should have: every row new on a first load,
/// every row unchanged on a rerun.
fn check(what: &str, pass: &Pass, first: bool) -> anyhow::Result<()> {
    let rows = ROWS as u64;
    let want = if first {
        UpsertCounts {
            inserted: rows,
            ..Default::default()
        }
    } else {
        UpsertCounts {
            unchanged: rows,
            ..Default::default()
        }
    };
    ensure!(
        pass.counts == want,
        "{what}: counted {:?}, expected {want:?}",
        pass.counts
    );
    Ok(())
}

// ----------------------------------------------------------------- rounds

/// Every variant's passes over all rounds.
struct Figures {
    copy: Vec<Duration>,
    /// `\copy` into `bars` itself: the floor for any write into `bars`.
    copy_fk: Vec<Duration>,
    variants: Vec<Variant>,
    notes: Vec<String>,
}

struct Variant {
    name: &'static str,
    postgres: bool,
    first: Vec<Pass>,
    rerun: Vec<Pass>,
}

impl Variant {
    fn new(name: &'static str, postgres: bool) -> Variant {
        Variant {
            name,
            postgres,
            first: vec![],
            rerun: vec![],
        }
    }
}

async fn bench_all(
    data: &Data,
    pg: &PgBench,
    dir: &Path,
    rounds: usize,
) -> anyhow::Result<Figures> {
    let target = Target::open(&pg.url, data).await?;
    let pool = target.pg()?.clone();
    target
        .exec("CREATE TABLE bars_copy (LIKE bars INCLUDING ALL)")
        .await?;
    for table in ["bars", "bars_copy"] {
        target
            .exec(&format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = off)"
            ))
            .await?;
    }
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let mut settings = vec![];
    for name in [
        "shared_buffers",
        "max_wal_size",
        "synchronous_commit",
        "wal_level",
    ] {
        let v: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {name}")))
            .fetch_one(&pool)
            .await?;
        settings.push(format!("{name} = {v}"));
    }
    let checkpoint = || async {
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        anyhow::Ok(())
    };
    let copy_csv = dir.join("copy.csv");

    let mut variants = [
        Variant::new("tickerd → PostgreSQL, `upsert_bars` per stock", true),
        Variant::new("tickerd → PostgreSQL, one `upsert_bars_many`", true),
        Variant::new("reference: staging + `ON CONFLICT` per stock", true),
        Variant::new("tickerd → SQLite, `upsert_bars` per stock", false),
    ];
    let writers = [Writer::PerStock, Writer::Batched, Writer::Reference];
    let (mut copy, mut copy_fk) = (vec![], vec![]);
    for round in 1..=rounds {
        for (variant, writer) in variants.iter_mut().zip(writers) {
            eprintln!(
                "[round {round}/{rounds}] {}: first load, rerun ...",
                variant.name
            );
            target.exec("TRUNCATE bars").await?;
            checkpoint().await?;
            let first = ingest(&target, data, writer).await?;
            check(variant.name, &first, true)?;
            ensure!(target.count_bars().await? == ROWS as i64, "bars not loaded");
            checkpoint().await?;
            let rerun = ingest(&target, data, writer).await?;
            check(variant.name, &rerun, false)?;
            variant.first.push(first);
            variant.rerun.push(rerun);
        }
        if round == 1 {
            psql(
                &pg.url,
                &format!(
                    "\\copy (SELECT {COLUMNS} FROM bars ORDER BY stock_id, interval, ts) TO '{}' CSV",
                    copy_csv.display()
                ),
            )?;
        }
        eprintln!("[round {round}/{rounds}] psql \\copy ...");
        target.exec("TRUNCATE bars_copy").await?;
        checkpoint().await?;
        copy.push(psql(
            &pg.url,
            &format!(
                "\\copy bars_copy ({COLUMNS}) FROM '{}' CSV",
                copy_csv.display()
            ),
        )?);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bars_copy")
            .fetch_one(&pool)
            .await?;
        ensure!(n == ROWS as i64, "\\copy loaded {n} rows");

        eprintln!("[round {round}/{rounds}] psql \\copy into bars ...");
        target.exec("TRUNCATE bars").await?;
        checkpoint().await?;
        copy_fk.push(psql(
            &pg.url,
            &format!("\\copy bars ({COLUMNS}) FROM '{}' CSV", copy_csv.display()),
        )?);
        ensure!(
            target.count_bars().await? == ROWS as i64,
            "\\copy into bars"
        );

        let sqlite = &mut variants[3];
        eprintln!(
            "[round {round}/{rounds}] {}: first load, rerun ...",
            sqlite.name
        );
        let file = dir.join(format!("bench-{round}.db"));
        let lite = Target::open(&format!("sqlite://{}", file.display()), data).await?;
        let first = ingest(&lite, data, Writer::PerStock).await?;
        check(sqlite.name, &first, true)?;
        let rerun = ingest(&lite, data, Writer::PerStock).await?;
        check(sqlite.name, &rerun, false)?;
        sqlite.first.push(first);
        sqlite.rerun.push(rerun);
        lite.storage.close().await;
        let _ = std::fs::remove_file(&file);
    }
    target.storage.close().await;

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut notes = vec![
        format!(
            "PostgreSQL {version} on {} ({}), {cpus} CPUs shared with the client",
            redact(&pg.url),
            settings.join(", ")
        ),
        format!(
            "data: {STOCKS} stocks × {MINUTES} minutes in {} {EXCHANGE} sessions ({} .. {}), {} MB of `files` CSV; `\\copy` file {} MB",
            data.sessions,
            data.from.format("%Y-%m-%d"),
            data.to.format("%Y-%m-%d"),
            dir_size(&dir.join("bars"))? / 1_000_000,
            std::fs::metadata(&copy_csv)?.len() / 1_000_000
        ),
    ];
    let list = |v: &mut dyn Iterator<Item = Duration>| {
        v.map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    notes.push(format!(
        "per round, s: `\\copy` into `bars_copy` {}; into `bars` {}",
        list(&mut copy.iter().copied()),
        list(&mut copy_fk.iter().copied()),
    ));
    for v in &variants {
        notes.push(format!(
            "per round, store s (first load / rerun): {}: {} / {}",
            v.name,
            list(&mut v.first.iter().map(|p| p.store)),
            list(&mut v.rerun.iter().map(|p| p.store)),
        ));
    }
    Ok(Figures {
        copy,
        copy_fk,
        variants: variants.into_iter().collect(),
        notes,
    })
}

/// Runs one `psql` command against `url`, timing the whole process.
fn psql(url: &str, command: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            command,
        ])
        .output()
        .context("running psql (is the PostgreSQL client installed?)")?;
    let took = t.elapsed();
    if !out.status.success() {
        bail!(
            "psql {command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

fn redact(url: &str) -> String {
    tickerd::settings::redact_url(url)
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            } else {
                total += e.metadata()?.len();
            }
        }
    }
    Ok(total)
}

// ---------------------------------------------------------------- figures

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn secs(passes: &[Pass], f: impl Fn(&Pass) -> Duration) -> f64 {
    median(passes.iter().map(|p| f(p).as_secs_f64()).collect())
}

fn rate(s: f64) -> String {
    let r = (ROWS as f64 / s).round() as u64;
    let digits = r.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rows/s of `s` seconds over rows/s of `base` seconds.
fn ratio(s: f64, base: f64) -> String {
    format!("{:.2}×", base / s)
}

fn render(f: &Figures, rounds: usize) -> String {
    let mut s = String::new();
    let copy = median(f.copy.iter().map(Duration::as_secs_f64).collect());
    let _ = writeln!(
        s,
        "## Ingestion benchmark: {ROWS} minute bars, `files` provider\n"
    );
    let _ = writeln!(
        s,
        "Median of {rounds} rounds. *End to end* = read (files provider) + validate (Polars, with the \
         previous-close query) + store, stock by stock as the job runs; *store* = the write calls alone. \
         Ratios are rows/s over `psql \\copy`'s rows/s in the same run (`\\copy` of the same rows as CSV into \
         `bars_copy`, same primary key and index, no foreign keys). First load: into an empty `bars`; \
         rerun: the same bars again, all present and unchanged.\n"
    );
    let _ = writeln!(
        s,
        "| path | first load s | rows/s | × \\copy | store only rows/s | × \\copy | rerun s | rows/s | × \\copy | store only rows/s | × \\copy |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| `psql \\copy` (CSV) into `bars_copy` | {copy:.2} | {} | 1.00× | | | | | | | |",
        rate(copy)
    );
    let copy_fk = median(f.copy_fk.iter().map(Duration::as_secs_f64).collect());
    let _ = writeln!(
        s,
        "| `psql \\copy` (CSV) into `bars` itself | {copy_fk:.2} | {} | {} | | | | | | | |",
        rate(copy_fk),
        ratio(copy_fk, copy)
    );
    for v in &f.variants {
        let (fw, fs) = (secs(&v.first, |p| p.wall), secs(&v.first, |p| p.store));
        let (rw, rs) = (secs(&v.rerun, |p| p.wall), secs(&v.rerun, |p| p.store));
        let _ = writeln!(
            s,
            "| {} | {fw:.2} | {} | {} | {} | {} | {rw:.2} | {} | {} | {} | {} |",
            v.name,
            rate(fw),
            ratio(fw, copy),
            rate(fs),
            ratio(fs, copy),
            rate(rw),
            ratio(rw, copy),
            rate(rs),
            ratio(rs, copy),
        );
    }
    s.push('\n');

    let _ = writeln!(s, "Phases (median s; first load / rerun):\n");
    let _ = writeln!(s, "| path | read | validate | store | total |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for v in &f.variants {
        let both = |g: fn(&Pass) -> Duration| {
            format!("{:.2} / {:.2}", secs(&v.first, g), secs(&v.rerun, g))
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            v.name,
            both(|p| p.read),
            both(|p| p.validate),
            both(|p| p.store),
            both(|p| p.wall),
        );
    }
    s.push('\n');

    let verdict = |ok: bool| if ok { "**met**" } else { "**MISSED**" };
    let _ = writeln!(s, "Targets (PostgreSQL, end to end):\n");
    for v in f.variants.iter().filter(|v| v.postgres).take(2) {
        let (fw, rw) = (secs(&v.first, |p| p.wall), secs(&v.rerun, |p| p.wall));
        let _ = writeln!(
            s,
            "- {}: first load ≥ {TARGET_FIRST}× `\\copy`: {} ({}); rerun ≥ {TARGET_RERUN}×: {} ({})",
            v.name,
            verdict(copy / fw >= TARGET_FIRST),
            ratio(fw, copy),
            verdict(copy / rw >= TARGET_RERUN),
            ratio(rw, copy),
        );
    }
    s.push('\n');
    let _ = writeln!(s, "Notes:\n");
    for n in &f.notes {
        let _ = writeln!(s, "- {n}");
    }
    s
}
