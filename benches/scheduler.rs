//! Scheduler benchmark: fire delay and idle memory of the real daemon.
//!
//! What it measures, for a daemon with every job of the catalog scheduled
//! every second (`cron = "* * * * * *"`, no retries, no catch-up, UTC):
//!
//! * **fire delay**: how late each job started after its slot's instant,
//!   `started_at - slot` as the daemon records it in the ledger, over every
//!   fire once the first 2 s of slots (start-up) are dropped: count, p50, p90,
//!   p99 and max in milliseconds;
//! * **idle resident memory**: `VmRSS` of the process, sampled once a second
//!   at +500 ms after the second boundary (between fires), reported as the
//!   median and max of those samples, plus one sample 2 s after start and the
//!   peak (`VmHWM`) just before shutdown.
//!
//! How:
//!
//! 1. *tickerd*: writes `tickerd.toml` and `schedules.toml` to a temporary
//!    folder, spawns the real binary (`tickerd daemon`, `RUST_LOG=warn`),
//!    samples it for `TICKERD_BENCH_SECS` (default 106 s, so over 1,000 fires
//!    across the 10 jobs), sends SIGTERM, waits for the drain, then reads the
//!    ledger through the library (`Ledger::runs_between`). The 9 stub jobs fail
//!    at once ("not implemented yet"); that does not matter, their start is
//!    recorded all the same.
//! 2. *baselines*, measured in the same run, concurrently with each other
//!    (tickerd runs alone): tokio-cron-scheduler 0.15 used directly (this
//!    bench re-executes itself as a child process with 10 jobs
//!    `Job::new_async("* * * * * *", ..)`, each recording `Utc::now()` minus
//!    the second it was due when its future starts), and, when
//!    `python3 -c "import apscheduler"` works, APScheduler 3.x
//!    (`BackgroundScheduler`, 10 cron jobs `second="*"`, `time.time() -
//!    scheduled_run_time` for each fire). Both are sampled for memory exactly
//!    like the daemon.
//!
//! Prints a Markdown table (with tickerd / baseline ratios and the targets:
//! fire delay p99 ≤ 3 ms, idle RSS ≤ 15 MB) and writes it to
//! `target/bench-scheduler.md`. Memory is in MB of 1024 kB, as `/proc` counts.
//!
//! Run with `cargo bench --bench scheduler` (about 4 minutes).

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tickerd::jobs::JobName;
use tickerd::ledger::Ledger;
use tickerd::settings::Secret;
use tickerd::storage::Storage;

/// Set (to the child's role) when this bench re-executes itself.
const CHILD_ENV: &str = "TICKERD_BENCH_CHILD";
const TOKIO_CRON_ROLE: &str = "tokio-cron-scheduler";
/// Measurement length per phase, in seconds.
const SECS_ENV: &str = "TICKERD_BENCH_SECS";
const DEFAULT_SECS: u64 = 106;
/// Slots this close to the first one are start-up, not steady state.
const STARTUP_SLOTS_SECS: f64 = 2.0;
const MIN_FIRES: usize = 1_000;
const TARGET_P99_MS: f64 = 3.0;
const TARGET_RSS_MB: f64 = 15.0;
/// As many jobs as the daemon's catalog, for the baselines too.
const JOBS: usize = JobName::ALL.len();

const APSCHEDULER_SCRIPT: &str = r##"
import signal, sys, time
import apscheduler
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler

jobs = int(sys.argv[1])
fires = []

def job():
    return time.time()

def executed(event):
    due = event.scheduled_run_time.timestamp()
    fires.append((due, event.retval - due))

# SIGTERM is blocked in every thread and taken with sigwait: no polling.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
scheduler = BackgroundScheduler(timezone="UTC")
scheduler.add_listener(executed, EVENT_JOB_EXECUTED)
for i in range(jobs):
    scheduler.add_job(job, "cron", second="*", timezone="UTC", id=f"job{i}")
scheduler.start()
signal.sigwait({signal.SIGTERM})
scheduler.shutdown(wait=True)
print(f"# APScheduler {apscheduler.__version__} (Python {sys.version.split()[0]})")
for due, delay in fires:
    print(f"{due:.6f} {delay * 1e6:.1f}")
"##;

fn main() -> anyhow::Result<()> {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok(TOKIO_CRON_ROLE) => return tokio_cron_child(),
        Ok(other) => bail!("unknown {CHILD_ENV} role {other:?}"),
        Err(_) => {}
    }
    let secs = match std::env::var(SECS_ENV) {
        Ok(v) => v.parse().with_context(|| format!("{SECS_ENV}={v:?}"))?,
        Err(_) => DEFAULT_SECS,
    };
    let tmp = tempfile::Builder::new()
        .prefix("tickerd-bench-")
        .tempdir()?;
    let dir = tmp.path();

    eprintln!("[1/2] tickerd daemon, {JOBS} jobs every second, {secs} s ...");
    let tickerd = bench_tickerd(dir, secs)?;

    let aps_available = Command::new("python3")
        .args(["-c", "import apscheduler"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    eprintln!(
        "[2/2] baselines (tokio-cron-scheduler{}), {secs} s ...",
        if aps_available {
            " and APScheduler"
        } else {
            ""
        }
    );
    let (tokio_cron, apscheduler) = bench_baselines(dir, secs, aps_available)?;

    let md = render(secs, &tickerd, &tokio_cron, apscheduler.as_ref());
    println!("{md}");
    let target_dir = Path::new(env!("CARGO_BIN_EXE_tickerd"))
        .parent()
        .and_then(Path::parent)
        .context("locating the target folder")?;
    let out = target_dir.join("bench-scheduler.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

// ---------------------------------------------------------------- tickerd

/// One scheduler's results.
struct Measured {
    name: String,
    delays: Option<Delays>,
    memory: Memory,
    /// Facts worth a line under the table.
    notes: Vec<String>,
}

fn bench_tickerd(dir: &Path, secs: u64) -> anyhow::Result<Measured> {
    let db = dir.join("bench.db");
    let url = format!("sqlite://{}", db.display());
    let config = dir.join("tickerd.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {}\nreports_dir = {}\njobs_dir = {}\ndata_dir = {}\n",
            toml_str(&url),
            toml_str(&dir.join("reports").display().to_string()),
            toml_str(&dir.join("jobs").display().to_string()),
            toml_str(&dir.join("data").display().to_string()),
        ),
    )?;
    std::fs::create_dir_all(dir.join("jobs"))?;
    let schedules = dir.join("schedules.toml");
    let mut text = String::new();
    for job in JobName::ALL {
        writeln!(
            text,
            "[jobs.{job}]\ncron = \"* * * * * *\"\nretries = 0\ncatch_up = \"none\"\ntimezone = \"UTC\"\n"
        )?;
    }
    std::fs::write(&schedules, text)?;

    let began = Utc::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickerd"));
    cmd.arg("--config")
        .arg(&config)
        .arg("--schedules")
        .arg(&schedules)
        .arg("daemon")
        .current_dir(dir)
        .env("RUST_LOG", "warn");
    // Settings also come from the environment: keep the bench's own.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("TICKERD_")
            || ["DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "MILVUS_URI"].contains(&&*key)
        {
            cmd.env_remove(&*key);
        }
    }
    let mut daemon = Watched::spawn("tickerd", dir, cmd)?;
    watch(&mut [&mut daemon], secs)?;
    daemon.terminate()?;
    let ended = Utc::now();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = rt.block_on(async {
        let storage = Storage::open(&Secret::new(url.as_str())).await?;
        let ledger = Ledger::new(storage.clone());
        let (from, to) = (
            began - chrono::Duration::minutes(1),
            ended + chrono::Duration::minutes(1),
        );
        let mut rows = vec![];
        for job in JobName::ALL {
            rows.extend(ledger.runs_between(job, from, to).await?);
        }
        storage.close().await;
        anyhow::Ok(rows)
    })?;
    if rows.is_empty() {
        bail!(
            "the daemon recorded no runs; its log:\n{}",
            tail(&daemon.stderr, 20)
        );
    }

    let first = rows
        .iter()
        .map(|r| secs_of(r.slot))
        .fold(f64::MAX, f64::min);
    let last = rows
        .iter()
        .map(|r| secs_of(r.slot))
        .fold(f64::MIN, f64::max);
    let cut = first + STARTUP_SLOTS_SECS;
    let steady: Vec<_> = rows.iter().filter(|r| secs_of(r.slot) >= cut).collect();
    let fires: Vec<f64> = steady
        .iter()
        .filter_map(|r| Some(ms_between(r.slot, r.started_at?)))
        .collect();
    let mut notes = vec![];
    // Every (job, slot) in [cut, last - 1 s] should have a started row (the
    // last slot may have been released by the shutdown).
    let expected = (((last - 1.0) - cut).max(-1.0) as usize + 1) * JOBS;
    let complete = steady
        .iter()
        .filter(|r| secs_of(r.slot) <= last - 1.0 && r.started_at.is_some())
        .count();
    notes.push(format!(
        "tickerd ledger: {} rows, {} in steady state ({} with `started_at`); {} of {} steady-state (job, slot) pairs fired{}",
        rows.len(),
        steady.len(),
        fires.len(),
        complete,
        expected,
        if complete < expected { " — slots were MISSED" } else { "" },
    ));
    let mut statuses: Vec<(String, usize)> = vec![];
    for r in &rows {
        let label = format!("{} / {}", r.trigger, r.status);
        match statuses.iter_mut().find(|(s, _)| *s == label) {
            Some((_, n)) => *n += 1,
            None => statuses.push((label, 1)),
        }
    }
    statuses.sort();
    notes.push(format!(
        "tickerd rows by trigger / status: {}",
        statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Per job, in the order the drivers fire: a delay that grows along the
    // list is contention between simultaneous fires, a flat one the timer.
    let per_job: Vec<String> = JobName::ALL
        .iter()
        .filter_map(|job| {
            let v = steady
                .iter()
                .filter(|r| r.job == job.as_str())
                .filter_map(|r| Some(ms_between(r.slot, r.started_at?)))
                .collect();
            let d = Delays::of(v)?;
            Some(format!("{job} {:.3}/{:.3}", d.p50, d.p99))
        })
        .collect();
    notes.push(format!(
        "tickerd per job, p50/p99 ms: {}",
        per_job.join(", ")
    ));
    // The canary measures its own delay inside the job: a cross-check of the
    // ledger's `started_at`.
    let canary: Vec<f64> = steady
        .iter()
        .filter(|r| r.job == JobName::Canary.as_str())
        .filter_map(|r| r.counts.as_ref()?.get("fire_delay_us")?.as_f64())
        .map(|us| us / 1000.0)
        .collect();
    if let Some(d) = Delays::of(canary) {
        notes.push(format!(
            "cross-check, canary's own `fire_delay_us` ({} fires): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            d.n, d.p50, d.p99, d.max
        ));
    }
    let log_lines = std::fs::read_to_string(&daemon.stderr)
        .unwrap_or_default()
        .lines()
        .count();
    notes.push(format!(
        "tickerd log (RUST_LOG=warn): {log_lines} lines (mostly `run failed` from the 9 stub jobs)"
    ));
    Ok(Measured {
        name: "tickerd daemon".into(),
        delays: Delays::of(fires),
        memory: daemon.memory(),
        notes,
    })
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn secs_of(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

// -------------------------------------------------------------- baselines

fn bench_baselines(
    dir: &Path,
    secs: u64,
    aps_available: bool,
) -> anyhow::Result<(Measured, Option<Measured>)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(CHILD_ENV, TOKIO_CRON_ROLE).current_dir(dir);
    let mut tokio_cron = Watched::spawn("tokio-cron-scheduler", dir, cmd)?;
    let mut aps = if aps_available {
        let script = dir.join("apscheduler_bench.py");
        std::fs::write(&script, APSCHEDULER_SCRIPT)?;
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(JOBS.to_string()).current_dir(dir);
        Some(Watched::spawn("apscheduler", dir, cmd)?)
    } else {
        None
    };
    match aps.as_mut() {
        Some(aps) => watch(&mut [&mut tokio_cron, aps], secs)?,
        None => watch(&mut [&mut tokio_cron], secs)?,
    }
    tokio_cron.terminate()?;
    if let Some(aps) = aps.as_mut() {
        aps.terminate()?;
    }

    let tokio_cron = Measured {
        name: "tokio-cron-scheduler 0.15, direct".into(),
        delays: Delays::of(read_fires(&tokio_cron)?.1),
        memory: tokio_cron.memory(),
        notes: vec![],
    };
    let aps = match aps {
        None => None,
        Some(aps) => {
            let (meta, fires) = read_fires(&aps)?;
            Some(Measured {
                name: meta.unwrap_or_else(|| "APScheduler".into()),
                delays: Delays::of(fires),
                memory: aps.memory(),
                notes: vec![],
            })
        }
    };
    Ok((tokio_cron, aps))
}

/// A child's `SLOT_SECS DELAY_US` lines (and an optional `# NAME` line), as
/// steady-state delays in ms.
fn read_fires(w: &Watched) -> anyhow::Result<(Option<String>, Vec<f64>)> {
    let text = std::fs::read_to_string(&w.stdout)?;
    let mut meta = None;
    let mut fires = vec![];
    for line in text.lines() {
        if let Some(m) = line.strip_prefix("# ") {
            meta = Some(m.to_string());
            continue;
        }
        let mut it = line.split_whitespace().map(str::parse::<f64>);
        match (it.next(), it.next()) {
            (Some(Ok(slot)), Some(Ok(us))) => fires.push((slot, us / 1000.0)),
            _ => bail!("{}: unexpected output line {line:?}", w.name),
        }
    }
    if fires.is_empty() {
        bail!(
            "{} reported no fires; its stderr:\n{}",
            w.name,
            tail(&w.stderr, 20)
        );
    }
    let cut = fires.iter().map(|f| f.0).fold(f64::MAX, f64::min) + STARTUP_SLOTS_SECS;
    Ok((
        meta,
        fires
            .into_iter()
            .filter(|f| f.0 >= cut)
            .map(|f| f.1)
            .collect(),
    ))
}

/// The tokio-cron-scheduler baseline, run as a child of the bench: the
/// library's own way, a multi-threaded runtime like the daemon's.
fn tokio_cron_child() -> anyhow::Result<()> {
    use std::io::Write as _;
    use tokio_cron_scheduler::{Job, JobScheduler};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let fires = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, u32)>();
        let mut scheduler = JobScheduler::new().await?;
        for _ in 0..JOBS {
            let tx = tx.clone();
            scheduler
                .add(Job::new_async("* * * * * *", move |_, _| {
                    let tx = tx.clone();
                    Box::pin(async move {
                        // The job is due on a whole second and the library's
                        // tick is 500 ms, so the second it was due is the
                        // current one and the delay its fraction.
                        let now = Utc::now();
                        let _ = tx.send((now.timestamp(), now.timestamp_subsec_nanos()));
                    })
                })?)
                .await?;
        }
        drop(tx);
        scheduler.start().await?;
        term.recv().await;
        scheduler.shutdown().await?;
        let mut fires = vec![];
        while let Ok(f) = rx.try_recv() {
            fires.push(f);
        }
        anyhow::Ok(fires)
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (slot, nanos) in fires {
        writeln!(out, "{slot} {:.1}", f64::from(nanos) / 1000.0)?;
    }
    out.flush()?;
    Ok(())
}

// ---------------------------------------------------------- process watch

/// A child process whose resident memory is sampled.
struct Watched {
    name: &'static str,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    startup_kb: Option<u64>,
    idle_kb: Vec<u64>,
    /// `/proc/PID/status` just before SIGTERM.
    last: LastStatus,
}

/// Where the memory is, just before SIGTERM.
#[derive(Clone, Copy, Default)]
struct LastStatus {
    peak_kb: Option<u64>,
    anon_kb: Option<u64>,
    file_kb: Option<u64>,
    threads: Option<u64>,
}

impl Watched {
    fn spawn(name: &'static str, dir: &Path, mut cmd: Command) -> anyhow::Result<Watched> {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(File::create(&stdout)?)
            .stderr(File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Watched {
            name,
            child,
            stdout,
            stderr,
            startup_kb: None,
            idle_kb: vec![],
            last: LastStatus::default(),
        })
    }

    fn status(&self, field: &str) -> Option<u64> {
        proc_status(self.child.id(), field)
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); its stderr:\n{}",
                self.name,
                tail(&self.stderr, 20)
            );
        }
        Ok(())
    }

    /// SIGTERM, then waits (a minute at most) for the process to exit.
    fn terminate(&mut self) -> anyhow::Result<()> {
        self.last = LastStatus {
            peak_kb: self.status("VmHWM"),
            anon_kb: self.status("RssAnon"),
            file_kb: self.status("RssFile"),
            threads: self.status("Threads"),
        };
        self.check_alive()?;
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            bail!(
                "cannot signal {}: {}",
                self.name,
                std::io::Error::last_os_error()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!(
                        "{} exited with {status}; its stderr:\n{}",
                        self.name,
                        tail(&self.stderr, 20)
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("{} did not exit within 60 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn memory(&self) -> Memory {
        let mut idle = self.idle_kb.clone();
        idle.sort_unstable();
        Memory {
            idle_median_kb: idle.get(idle.len().saturating_sub(1) / 2).copied(),
            idle_max_kb: idle.last().copied(),
            startup_kb: self.startup_kb,
            last: self.last,
            samples: idle.len(),
        }
    }
}

impl Drop for Watched {
    /// A bench that fails half-way leaves no process behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs for `secs`: one RSS sample 2 s after start, then one a second at
/// +500 ms after each second boundary (between fires).
fn watch(procs: &mut [&mut Watched], secs: u64) -> anyhow::Result<()> {
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    for p in procs.iter_mut() {
        p.check_alive()?;
        p.startup_kb = p.status("VmRSS");
    }
    loop {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let to_mark = (Duration::from_millis(1500)
            - Duration::from_nanos(since_epoch.subsec_nanos().into()))
        .as_nanos()
            % 1_000_000_000;
        let wake = Instant::now() + Duration::from_nanos(to_mark as u64);
        if wake > start + Duration::from_secs(secs) {
            break;
        }
        std::thread::sleep(wake - Instant::now());
        for p in procs.iter_mut() {
            p.check_alive()?;
            if let Some(kb) = p.status("VmRSS") {
                p.idle_kb.push(kb);
            }
        }
    }
    std::thread::sleep(
        (start + Duration::from_secs(secs)).saturating_duration_since(Instant::now()),
    );
    Ok(())
}

/// A `kB` or count field of `/proc/PID/status`.
fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------- figures

struct Delays {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Delays {
    /// Nearest-rank percentiles of delays in ms.
    fn of(mut v: Vec<f64>) -> Option<Delays> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Delays {
            n: v.len(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max: v[v.len() - 1],
        })
    }
}

struct Memory {
    idle_median_kb: Option<u64>,
    idle_max_kb: Option<u64>,
    startup_kb: Option<u64>,
    last: LastStatus,
    samples: usize,
}

fn mb(kb: Option<u64>) -> Option<f64> {
    kb.map(|k| k as f64 / 1024.0)
}

/// The figures of one row, in table order (after the fire count).
fn figures(m: &Measured) -> [Option<f64>; 8] {
    let d = m.delays.as_ref();
    [
        d.map(|d| d.p50),
        d.map(|d| d.p90),
        d.map(|d| d.p99),
        d.map(|d| d.max),
        mb(m.memory.idle_median_kb),
        mb(m.memory.idle_max_kb),
        mb(m.memory.startup_kb),
        mb(m.memory.last.peak_kb),
    ]
}

fn cell(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

/// Three significant digits, without exponent notation.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            let digits = if r >= 1.0 || r <= 0.0 {
                2
            } else {
                (2 - r.log10().floor() as i32).clamp(2, 8) as usize
            };
            format!("{r:.digits$}×")
        }
        _ => "—".into(),
    }
}

fn render(secs: u64, tickerd: &Measured, tokio_cron: &Measured, aps: Option<&Measured>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Scheduler benchmark: {JOBS} jobs, every second\n");
    let _ = writeln!(
        s,
        "Fire delay = job start − slot instant, over fires after the first {STARTUP_SLOTS_SECS} s of slots. \
         RSS = `VmRSS`, sampled once a second at +500 ms (idle, between fires); \
         \"at +2 s\" is one sample 2 s after start; \"peak\" is `VmHWM` before SIGTERM. \
         MB = 1024 kB. {secs} s per phase; tickerd ran alone, then the baselines together \
         ({} CPUs).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(
        s,
        "| scheduler | fires | p50 ms | p90 ms | p99 ms | max ms | idle RSS MB (median) | idle RSS MB (max) | RSS MB at +2 s | peak RSS MB |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = vec![tickerd, tokio_cron];
    rows.extend(aps);
    for m in &rows {
        let cells: Vec<String> = figures(m).into_iter().map(cell).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            m.name,
            m.delays.as_ref().map_or(0, |d| d.n),
            cells.join(" | ")
        );
    }
    for base in &rows[1..] {
        let cells: Vec<String> = figures(tickerd)
            .into_iter()
            .zip(figures(base))
            .map(|(a, b)| ratio(a, b))
            .collect();
        let short = base.name.split([' ', ',']).next().unwrap_or(&base.name);
        let _ = writeln!(
            s,
            "| *ratio tickerd / {short}* | — | {} |",
            cells.join(" | ")
        );
    }
    s.push('\n');

    let p99 = tickerd.delays.as_ref().map(|d| d.p99);
    let rss = mb(tickerd.memory.idle_median_kb);
    let verdict = |ok: bool| if ok { "**met**" } else { "**MISSED**" };
    let _ = writeln!(s, "Targets (tickerd):\n");
    let _ = writeln!(
        s,
        "- fire delay p99 ≤ {TARGET_P99_MS} ms: {} ({} ms)",
        verdict(p99.is_some_and(|p| p <= TARGET_P99_MS)),
        cell(p99)
    );
    let _ = writeln!(
        s,
        "- idle resident memory ≤ {TARGET_RSS_MB} MB: {} ({} MB median, {} MB max)",
        verdict(rss.is_some_and(|r| r <= TARGET_RSS_MB)),
        cell(rss),
        cell(mb(tickerd.memory.idle_max_kb)),
    );
    let fires = tickerd.delays.as_ref().map_or(0, |d| d.n);
    let _ = writeln!(
        s,
        "- at least {MIN_FIRES} fires measured: {} ({fires})",
        verdict(fires >= MIN_FIRES)
    );
    s.push('\n');

    let _ = writeln!(s, "Notes:\n");
    for m in &rows {
        for n in &m.notes {
            let _ = writeln!(s, "- {n}");
        }
        let last = &m.memory.last;
        let _ = writeln!(
            s,
            "- {}: {} idle RSS samples; before SIGTERM: anonymous {} MB + file-backed {} MB, {} threads",
            m.name,
            m.memory.samples,
            cell(mb(last.anon_kb)),
            cell(mb(last.file_kb)),
            last.threads.map_or("?".into(), |t| t.to_string()),
        );
    }
    let _ = writeln!(
        s,
        "- tokio-cron-scheduler checks its jobs on a fixed 500 ms tick, so its delays spread over 0–500 ms by design."
    );
    if aps.is_none() {
        let _ = writeln!(
            s,
            "- APScheduler wasn't available (`python3 -c \"import apscheduler\"` failed): no APScheduler baseline."
        );
    }
    s
}
