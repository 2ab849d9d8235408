//! Benchmark of issue #7: `evaluate` + `performance_daily` at 1M and 10M
//! predictions, and the in-memory KPI computation against pandas and
//! Polars-from-Python on the same rows in the same run.
//!
//! 1. KPIs in memory: `benches/kpi_python/gen.py` writes N scored items
//!    (16 series × ~2,000 stocks per day, with the edge cases its docstring
//!    lists); this bench loads the same files into `ItemColumns` (untimed,
//!    as on the Python side) and times `daily_kpis` + `rolling_history`
//!    (20/60), median of 3; `kpi_pandas.py` and `kpi_polars.py` time the same
//!    computation on the same files; the checksums must agree.
//! 2. Whole jobs: an embedded SQLite database with 2,000 stocks, their
//!    daily bars and N one-day predictions (inserted by SQL); then
//!    `tickerd run evaluate` and `tickerd run performance_daily` as child
//!    processes, each timed with its peak RSS (`wait4`'s `ru_maxrss`).
//!
//! `cargo bench --bench evaluation`. Environment: `EVAL_BENCH_ROWS`
//! (default `1000000,10000000`), `EVAL_BENCH_SKIP_JOBS=1`,
//! `EVAL_BENCH_SKIP_PYTHON=1`, `EVAL_BENCH_SKIP_KPIS=1`, `EVAL_BENCH_JOB_ROWS`
//! (sizes of the whole-job part; default the same as `EVAL_BENCH_ROWS`),
//! `EVAL_BENCH_MOVE_ROWS` (e.g. `1000000,50000`: `evaluate` runs once per
//! value of `sqlite_rows_per_transaction`, each on the same seeded
//! database; default: once, with the job's default). Needs `bash benches/kpi_python/setup.sh`
//! (run here when `.venv-bench` is missing). Prints Markdown and writes it to
//! `target/bench-evaluation.md`.

use anyhow::{bail, Context};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;
use tickerd::eval::performance::{self, ItemColumns};

const REPEAT: usize = 3;
const STOCKS: usize = 2000;

fn main() -> anyhow::Result<()> {
    let rows: Vec<usize> = std::env::var("EVAL_BENCH_ROWS")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().context("EVAL_BENCH_ROWS"))
        .collect::<anyhow::Result<_>>()?;
    let skip_jobs = std::env::var("EVAL_BENCH_SKIP_JOBS").is_ok();
    // The whole-job part can run on other sizes (it seeds a database).
    let job_rows: Vec<usize> = match std::env::var("EVAL_BENCH_JOB_ROWS") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().context("EVAL_BENCH_JOB_ROWS"))
            .collect::<anyhow::Result<_>>()?,
        Err(_) => rows.clone(),
    };
    let skip_python = std::env::var("EVAL_BENCH_SKIP_PYTHON").is_ok();
    let skip_kpis = std::env::var("EVAL_BENCH_SKIP_KPIS").is_ok();
    let move_rows: Vec<Option<i64>> = match std::env::var("EVAL_BENCH_MOVE_ROWS") {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().map(Some).context("EVAL_BENCH_MOVE_ROWS"))
            .collect::<anyhow::Result<_>>()?,
        Err(_) => vec![None],
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = repo.join("target");
    let python = repo.join(".venv-bench/bin/python");
    if !python.exists() && !skip_kpis {
        run(Command::new("bash").arg(repo.join("benches/kpi_python/setup.sh")))?;
    }
    let mut md = String::from("## Evaluation benchmark (issue #7)\n\n");
    let _ = writeln!(
        md,
        "Machine: {} cores. Medians of {REPEAT} repetitions; loading never timed.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    md.push_str("### In-memory KPIs (daily KPIs + ECE + IC/Rank IC + rolling 20/60)\n\n| rows | groups | pandas | Polars (Python, lazy) | tickerd (Polars, Rust) | vs pandas | vs Polars-Python |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    for &n in rows.iter().filter(|_| !skip_kpis) {
        let dir = target.join(format!("bench-kpi-{n}"));
        if !dir.join("meta.json").exists() {
            run(Command::new(&python)
                .arg(repo.join("benches/kpi_python/gen.py"))
                .args(["--rows", &n.to_string(), "--seed", "42", "--out"])
                .arg(&dir))?;
        }
        let (rust_s, groups, checksum) = rust_kpis(&dir)?;
        let (pandas, polars) = if skip_python {
            (None, None)
        } else {
            let mut out = Vec::new();
            for engine in ["pandas", "polars"] {
                let result = dir.join(format!("{engine}.json"));
                run(Command::new(&python)
                    .arg(repo.join(format!("benches/kpi_python/kpi_{engine}.py")))
                    .arg("--input")
                    .arg(&dir)
                    .args(["--repeat", &REPEAT.to_string(), "--out"])
                    .arg(&result))?;
                let v: Value = serde_json::from_slice(&std::fs::read(&result)?)?;
                agree(engine, &v["checksum"], &checksum)?;
                out.push(v["median_s"].as_f64());
            }
            (out[0], out[1])
        };
        let s = |x: Option<f64>| x.map_or("—".into(), |x| format!("{x:.3} s"));
        let r = |x: Option<f64>| x.map_or("—".into(), |x| format!("**{:.1}×**", x / rust_s));
        let _ = writeln!(
            md,
            "| {n} | {groups} | {} | {} | {rust_s:.3} s | {} | {} |",
            s(pandas),
            s(polars),
            r(pandas),
            r(polars)
        );
        eprintln!("kpis {n}: rust {rust_s:.3}s pandas {pandas:?} polars {polars:?}");
    }
    md.push_str("\nAll three engines' checksums (sums of n, hit rate, Brier, ECE, IC, Rank IC, hit_rate_20, brier_60 over the output rows) agree to 1e-6.\n");

    if !skip_jobs {
        md.push_str("\n### Whole jobs on the embedded SQLite database (child processes)\n\n| predictions | job | wall | rows/s | peak RSS | where the time went |\n|---:|---|---:|---:|---:|---|\n");
        for &n in &job_rows {
            let (evals, perf) = jobs(n, &move_rows)?;
            let mut runs: Vec<(String, &Job)> = evals
                .iter()
                .map(|(m, j)| match m {
                    Some(m) => (format!("evaluate ({m} rows per transaction)"), j),
                    None => ("evaluate".to_string(), j),
                })
                .collect();
            runs.push(("performance_daily".to_string(), &perf));
            for (name, j) in runs {
                let _ = writeln!(
                    md,
                    "| {n} | {name} | {:.1} s | {:.0} | {:.0} MiB | {} |",
                    j.secs,
                    n as f64 / j.secs,
                    j.peak_mib,
                    j.phases
                );
            }
            eprintln!("jobs {n}: evaluate {evals:?} performance_daily {perf:?}");
        }
    }
    println!("{md}");
    std::fs::write(target.join("bench-evaluation.md"), &md)?;
    Ok(())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("{cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Loads the Python side's raw columns into `ItemColumns`.
fn load(dir: &Path) -> anyhow::Result<ItemColumns> {
    let meta: Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json"))?)?;
    let n = meta["rows"].as_u64().context("rows")? as usize;
    let raw = |name: &str| -> anyhow::Result<Vec<u8>> {
        let b = std::fs::read(dir.join(format!("{name}.bin")))?;
        Ok(b)
    };
    let i32s = |name: &str| -> anyhow::Result<Vec<i32>> {
        Ok(raw(name)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4")))
            .collect())
    };
    let f64s = |name: &str| -> anyhow::Result<Vec<f64>> {
        Ok(raw(name)?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
            .collect())
    };
    let u8s = |name: &str| -> anyhow::Result<Vec<f64>> {
        Ok(raw(name)?.into_iter().map(f64::from).collect())
    };
    let opt = |v: Vec<f64>| -> Vec<Option<f64>> {
        v.into_iter().map(|x| (!x.is_nan()).then_some(x)).collect()
    };
    let c = ItemColumns {
        model_id: i32s("model_id")?,
        variant_id: i32s("variant_id")?,
        horizon: i32s("horizon")?,
        day: i32s("date")?,
        hit: opt(f64s("hit")?),
        brier: f64s("brier")?,
        log_loss: f64s("log_loss")?,
        covered: u8s("covered")?,
        width: f64s("width")?,
        winkler: f64s("winkler")?,
        nominal: f64s("nominal")?,
        p_up: f64s("p_up")?,
        is_up: u8s("is_up")?,
        expected_return: f64s("expected_return")?,
        realized_return: f64s("realized_return")?,
        up_hit: opt(f64s("up_hit")?),
        up_brier: opt(f64s("up_brier")?),
        persist_hit: opt(f64s("persist_hit")?),
        persist_brier: opt(f64s("persist_brier")?),
        rw_covered: opt(u8s("rw_covered")?),
        rw_width: opt(f64s("rw_width")?),
        rw_winkler: opt(f64s("rw_winkler")?),
        target_achieved: vec![None; n],
        support_breached: vec![None; n],
        final_score: vec![None; n],
    };
    anyhow::ensure!(
        c.len() == n && c.hit.len() == n,
        "short column files in {}",
        dir.display()
    );
    Ok(c)
}

/// Median seconds of `daily_kpis` + `rolling_history`, the group count and
/// the checksum object of the Python side's format.
fn rust_kpis(dir: &Path) -> anyhow::Result<(f64, usize, Value)> {
    let items = load(dir)?;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..REPEAT {
        let frame = items.clone().into_frame()?;
        let t = Instant::now();
        let daily = performance::daily_kpis(frame)?;
        let rolling = performance::rolling_history(daily.clone(), &[20, 60])?;
        times.push(t.elapsed().as_secs_f64());
        last = Some((daily, rolling));
    }
    let (daily, rolling) = last.context("no repetition")?;
    let sum = |df: &polars::prelude::DataFrame, c: &str| -> anyhow::Result<f64> {
        Ok(df
            .column(c)?
            .f64()?
            .iter()
            .flatten()
            .filter(|x| x.is_finite())
            .sum())
    };
    let checksum = serde_json::json!({
        "n": sum(&daily, "n")?,
        "hit_rate": sum(&daily, "hit_rate")?,
        "mean_brier": sum(&daily, "mean_brier")?,
        "ece": sum(&daily, "ece")?,
        "ic": sum(&daily, "ic")?,
        "rank_ic": sum(&daily, "rank_ic")?,
        "hit_rate_20": sum(&rolling, "hit_rate_20")?,
        "brier_60": sum(&rolling, "brier_60")?,
    });
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], daily.height(), checksum))
}

fn agree(engine: &str, theirs: &Value, ours: &Value) -> anyhow::Result<()> {
    for (k, v) in ours.as_object().context("checksum")? {
        let (a, b) = (
            v.as_f64().unwrap_or(f64::NAN),
            theirs[k].as_f64().unwrap_or(f64::NAN),
        );
        // NaN on either side fails too.
        let close = (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        if !close {
            bail!("{engine} disagrees on {k}: ours {a}, theirs {b}");
        }
    }
    Ok(())
}

/// Weekdays from 2025-01-02 on (the bench's calendar has no holidays).
fn weekdays(n: usize) -> Vec<NaiveDate> {
    let mut d = NaiveDate::from_ymd_opt(2025, 1, 2).expect("date");
    let mut out = Vec::new();
    while out.len() < n {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
        d += Duration::days(1);
    }
    out
}

/// One timed child run.
#[derive(Debug)]
struct Job {
    secs: f64,
    peak_mib: f64,
    phases: String,
}

/// Seeds a SQLite project with `n` predictions and runs the two jobs:
/// `evaluate` once per `move_rows` value, each on a copy of the same
/// seeded database, then `performance_daily` on the last one's result.
#[allow(clippy::type_complexity)]
fn jobs(n: usize, move_rows: &[Option<i64>]) -> anyhow::Result<(Vec<(Option<i64>, Job)>, Job)> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    std::fs::create_dir_all(d.join("jobs/calendars"))?;
    // A weekday calendar without holidays keeps the seeding simple.
    std::fs::write(
        d.join("jobs/calendars/XBEN.toml"),
        "name = \"XBEN\"\ndescription = \"bench\"\ntimezone = \"UTC\"\nopen = \"09:00\"\nclose = \"15:30\"\nweekdays = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]\nvalid_from = \"2024-01-01\"\nvalid_to = \"2027-12-31\"\n",
    )?;
    std::fs::write(
        d.join("jobs/performance_daily.toml"),
        "calendar = \"XBEN\"\n",
    )?;
    std::fs::write(
        d.join("tickerd.toml"),
        format!(
            "database_url = \"sqlite://{0}/tickerd.db\"\nreports_dir = \"{0}/reports\"\njobs_dir = \"{0}/jobs\"\ndata_dir = \"{0}/data\"\n",
            d.display()
        ),
    )?;
    std::fs::write(
        d.join("schedules.toml"),
        "[jobs.evaluate]\ncron = \"0 0 18 * * *\"\ntimezone = \"UTC\"\nretries = 0\ntimeout = \"4h\"\n\n[jobs.performance_daily]\ncron = \"0 0 19 * * *\"\ntimezone = \"UTC\"\nretries = 0\ntimeout = \"4h\"\n",
    )?;
    let tickerd = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tickerd"));
        c.arg("--config")
            .arg(d.join("tickerd.toml"))
            .arg("--schedules")
            .arg(d.join("schedules.toml"))
            .args(args)
            .current_dir(d)
            .env("RUST_LOG", "warn");
        c
    };
    run(&mut tickerd(&["migrate"]))?;

    // Sessions: enough for n predictions over STOCKS stocks, models of 250 days.
    let models = n.div_ceil(STOCKS * 250).max(1);
    let days_needed = n.div_ceil(STOCKS * models);
    let days = weekdays(days_needed + 80);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(seed(d, &days, models, n))?;
    let last = days[days.len() - 1];
    let timed = |job: &str, hour: u32| -> anyhow::Result<Job> {
        let slot = format!("{last}T{hour:02}:00:00Z");
        let t = Instant::now();
        let (status, maxrss_kb) = spawn_measured(tickerd(&["run", job, "--slot", &slot]))?;
        anyhow::ensure!(status == 0, "{job} exited {status}");
        let secs = t.elapsed().as_secs_f64();
        // The run report's phase timings (ms_*).
        let report = d.join(format!("reports/{job}/{last}/{hour:02}0000.000Z.json"));
        let v: Value = serde_json::from_slice(
            &std::fs::read(&report).with_context(|| report.display().to_string())?,
        )?;
        let ms = |k: &str| v["counts"][k].as_f64().unwrap_or(0.0) / 1000.0;
        let phases = if job == "evaluate" {
            format!(
                "read {:.1} s · score {:.1} s · write {:.1} s",
                ms("ms_read"),
                ms("ms_score"),
                ms("ms_write")
            )
        } else {
            format!(
                "read {:.1} s · Polars {:.2} s · write {:.1} s · report {:.1} s",
                ms("ms_read"),
                ms("ms_kpis"),
                ms("ms_write"),
                ms("ms_report")
            )
        };
        Ok(Job {
            secs,
            peak_mib: maxrss_kb as f64 / 1024.0,
            phases,
        })
    };
    // The seeded database, kept to restore before each evaluate run (no
    // process has it open here, so the files are a consistent copy).
    let files = ["tickerd.db", "tickerd.db-wal", "tickerd.db-shm"];
    let snapshot = d.join("seeded");
    std::fs::create_dir_all(&snapshot)?;
    for f in files {
        if d.join(f).exists() {
            std::fs::copy(d.join(f), snapshot.join(f))?;
        }
    }
    let mut evals = Vec::new();
    for (i, m) in move_rows.iter().enumerate() {
        if i > 0 {
            for f in files {
                let _ = std::fs::remove_file(d.join(f));
                if snapshot.join(f).exists() {
                    std::fs::copy(snapshot.join(f), d.join(f))?;
                }
            }
        }
        let params = m.map_or(String::new(), |m| {
            format!("sqlite_rows_per_transaction = {m}\n")
        });
        std::fs::write(d.join("jobs/evaluate.toml"), params)?;
        evals.push((*m, timed("evaluate", 18)?));
    }
    let perf = timed("performance_daily", 19)?;
    Ok((evals, perf))
}

/// Runs a child and returns its exit code and peak RSS (KiB).
///
/// The peak is the child's `VmHWM`, polled every 10 ms while it runs.
/// `wait4`'s `ru_maxrss` cannot be used: Linux carries a process's high
/// water mark across `exec`, so a child forked from this bench (which has
/// just held 10M items in memory) reported the bench's own peak.
fn spawn_measured(mut cmd: Command) -> anyhow::Result<(i32, i64)> {
    let mut child = cmd.spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0i64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait()? {
            return Ok((status.code().unwrap_or(-1), peak_kb));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Stocks, seeded daily bars and `n` one-day predictions (by SQL, in
/// transactions of large multi-row inserts).
async fn seed(dir: &Path, days: &[NaiveDate], models: usize, n: usize) -> anyhow::Result<()> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let opts = SqliteConnectOptions::new()
        .filename(dir.join("tickerd.db"))
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    let exec = |sql: String| {
        let pool = pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .map(|_| ())
        }
    };
    let now = "2025-01-01T00:00:00Z";
    let mut stocks = Vec::new();
    for i in 1..=STOCKS {
        stocks.push(format!(
            "('XBEN', '{i:06}', 'Stock {i}', 'USD', 1, 'bench', '{now}', '{now}')"
        ));
    }
    exec(format!(
        "INSERT INTO stocks (exchange, code, name, currency, priority, source, created_at, updated_at) VALUES {}",
        stocks.join(",")
    ))
    .await?;
    let mut model_rows = Vec::new();
    for m in 0..models {
        model_rows.push(format!(
            "('bench{m}', 'baseline', 'bench', 1, '{{}}', '{now}')"
        ));
    }
    exec(format!(
        "INSERT INTO models (name, provider, model, active, prices, updated_at) VALUES {}",
        model_rows.join(",")
    ))
    .await?;
    let mut rng = StdRng::seed_from_u64(7);
    exec("BEGIN".into()).await?;
    for s in 1..=STOCKS {
        let mut close = 100.0;
        let mut rows = Vec::with_capacity(days.len());
        for d in days {
            close *= 1.0 + (rng.random::<f64>() - 0.5) * 0.04;
            rows.push(format!(
                "({s}, '1d', '{d}T00:00:00Z', '{d}', {close}, {}, {}, {close}, 1000, 'bench', '{now}')",
                close * 1.01,
                close * 0.99
            ));
        }
        exec(format!(
            "INSERT INTO bars (stock_id, interval, ts, trading_date, open, high, low, close, volume, source, first_seen_at) VALUES {}",
            rows.join(",")
        ))
        .await?;
    }
    exec("COMMIT".into()).await?;
    // Predictions from day 70 on (the baselines' lookback), all models.
    exec("BEGIN".into()).await?;
    let mut made = 0usize;
    let mut batch = Vec::with_capacity(1000);
    'outer: for d in &days[70..days.len() - 1] {
        for m in 1..=models {
            for s in 1..=STOCKS {
                if made == n {
                    break 'outer;
                }
                let p_up = 0.2 + rng.random::<f64>() * 0.6;
                let p_flat = (1.0 - p_up) * 0.3;
                let er = (rng.random::<f64>() - 0.5) * 4.0;
                batch.push(format!(
                    "({s}, {m}, '', 1, '{d}T16:00:00Z', '{d}', 'ok', {p_up}, {p_flat}, {}, {er}, {}, {}, 0.8, '{d}T16:00:00Z')",
                    1.0 - p_up - p_flat,
                    er - 2.5,
                    er + 2.5
                ));
                made += 1;
                if batch.len() == 1000 {
                    flush(&exec, &mut batch).await?;
                }
            }
        }
    }
    flush(&exec, &mut batch).await?;
    exec("COMMIT".into()).await?;
    anyhow::ensure!(made == n, "seeded {made} of {n} predictions");
    pool.close().await;
    Ok(())
}

async fn flush<F, Fut>(exec: &F, batch: &mut Vec<String>) -> anyhow::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    if batch.is_empty() {
        return Ok(());
    }
    exec(format!(
        "INSERT INTO predictions (stock_id, model_id, variant, horizon_days, as_of, as_of_date, status,
             p_up, p_flat, p_down, expected_return, band_low, band_high, coverage, created_at) VALUES {}",
        batch.join(",")
    ))
    .await?;
    batch.clear();
    Ok(())
}
