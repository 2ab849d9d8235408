//! The command line. `main.rs` only calls [`main`]; each subcommand lives in
//! a small module and returns its exit code.

mod admin;
mod inspect;
mod ops;
mod sample;
mod vectors;

use crate::cache::Cache;
use crate::daemon::ScheduleSource;
use crate::diagnostics::Problems;
use crate::jobs::JobName;
use crate::runner::Runner;
use crate::schedule::Schedules;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::telemetry::LogFormat;
use crate::time::Clock;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "tickerd", version, about = "Runs the scheduled batch jobs of a stock-prediction platform", long_about = None)]
pub struct Cli {
    /// Infrastructure settings file (default: ./tickerd.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When jobs run.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "schedules.toml"
    )]
    pub schedules: PathBuf,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Start `run`'s clock at this instant instead of the wall clock's
    /// reading; it then advances in real time. What jobs and providers take
    /// for "now" (e.g. which day KIS serves minute bars for): for tests and
    /// replays, never for the daemon.
    #[arg(long, global = true, hide = true, value_name = "INSTANT", value_parser = parse_instant)]
    pub now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler until SIGTERM/SIGINT (SIGHUP reloads, SIGUSR1 picks up triggers).
    Daemon,
    /// Run jobs now in the foreground, with the ledger, retries, timeout and report of a scheduled run.
    Run {
        /// Jobs to run, in the order given.
        #[arg(value_name = "JOB", required_unless_present = "all")]
        jobs: Vec<JobName>,
        /// The slot to run for (RFC 3339 or YYYY-MM-DD[THH:MM[:SS]] in UTC); default: now.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        slot: Option<DateTime<Utc>>,
        /// Run every enabled job once, in pipeline order.
        #[arg(long, conflicts_with = "jobs")]
        all: bool,
        /// Run again even if the slot already succeeded (a further attempt).
        #[arg(long)]
        force: bool,
    },
    /// Queue a manual run for the running daemon and signal it.
    Trigger {
        #[arg(value_name = "JOB")]
        job: JobName,
        /// The slot to run for; default: now.
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        slot: Option<DateTime<Utc>>,
    },
    /// Run every slot of a job in a date range, in order; resumable (succeeded slots are skipped).
    Backfill {
        #[arg(value_name = "JOB")]
        job: JobName,
        /// First day (in the job's time zone), inclusive.
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        /// Last day (in the job's time zone), inclusive.
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
    },
    /// Show the fire instants each job would get (calendar and DST applied).
    Plan {
        #[arg(long, value_name = "JOB")]
        job: Option<JobName>,
        /// Start (default: now).
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        from: Option<DateTime<Utc>>,
        /// End, inclusive (default: one day after --from).
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        to: Option<DateTime<Utc>>,
        /// At most this many slots per job (0: no limit).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Ledger history, newest first.
    Runs {
        #[arg(long, value_name = "JOB")]
        job: Option<JobName>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The ticker master.
    Stocks {
        #[command(subcommand)]
        command: StocksCommand,
    },
    /// News maintenance.
    News {
        #[command(subcommand)]
        command: NewsCommand,
    },
    /// Vector store maintenance and retrieval (the store of jobs/news_embed.toml).
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
    /// The offline sample market (invented stocks, bars and news with a planted signal).
    Sample {
        #[command(subcommand)]
        command: SampleCommand,
    },
    /// Check schedules.toml, calendars, jobs/*.toml and settings; report every problem.
    Validate,
    /// Apply pending database migrations.
    Migrate,
    /// Check every configured backend, one line each.
    Doctor,
    /// Print the live database schema.
    Schema {
        #[arg(long, value_enum, default_value_t = SchemaFormat::Mermaid)]
        format: SchemaFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum NewsCommand {
    /// Link stored articles to stocks again (after the ticker master or the
    /// linking rules in jobs/news_crawl.toml changed).
    Relink {
        /// Articles published on or after this day (UTC).
        #[arg(long, value_name = "DATE")]
        since: NaiveDate,
    },
}

#[derive(Debug, Subcommand)]
pub enum SampleCommand {
    /// Write a deterministic sample market (universe, daily and minute bars,
    /// news feeds and list pages) with a planted news effect into a folder.
    Generate {
        /// Same seed, same bytes.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output folder (relative paths are relative to where tickerd runs).
        #[arg(long, value_name = "PATH", default_value = "data/sample")]
        out: PathBuf,
    },
    /// Run the whole pipeline over the sample market once: bars, news,
    /// embeddings at the sample's end; a nightly prediction for every
    /// trading day from --from on; then evaluation, KPIs and regression
    /// detection. Resumable and idempotent (finished slots are skipped).
    Run {
        /// First day of the nightly predictions (Asia/Seoul).
        #[arg(long, value_name = "DATE", default_value = "2026-01-02")]
        from: NaiveDate,
    },
}

#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Compare what SQL records as embedded with the vector store (missing,
    /// extra, stale); exit 1 when they differ.
    Check,
    /// Fix what `check` finds: extra vectors deleted, missing and stale
    /// articles embedded again.
    Repair,
    /// Articles similar to a text, published before a cut-off.
    Search {
        #[arg(value_name = "TEXT")]
        text: String,
        /// Only articles published before this instant (default: now).
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        cutoff: Option<DateTime<Utc>>,
        /// Only articles linked to this stock (EXCHANGE:CODE); repeatable.
        #[arg(long = "stock", value_name = "STOCK")]
        stocks: Vec<String>,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, default_value_t = 0.0)]
        min_similarity: f32,
    },
}

#[derive(Debug, Subcommand)]
pub enum StocksCommand {
    /// Load a universe CSV (exchange,code,name,currency,priority,active,aliases,symbols);
    /// bad rows are reported with their line numbers and the rest are loaded.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the ticker master.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    Mermaid,
}

/// RFC 3339, or a UTC `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    Err(format!("{s:?} is not an instant (use RFC 3339 like 2026-03-08T07:00:00Z, or YYYY-MM-DD[THH:MM[:SS]] in UTC)"))
}

impl Cli {
    /// The wall clock, or one started at `--now`.
    pub fn clock(&self) -> Clock {
        self.now.map_or_else(Clock::system, Clock::virtual_at)
    }
}

/// What most commands need, opened once.
pub struct App {
    pub settings: Arc<Settings>,
    pub runner: Arc<Runner>,
}

impl App {
    pub async fn open(cli: &Cli, clock: Clock) -> anyhow::Result<App> {
        let settings = Arc::new(Settings::load(cli.config.as_deref())?);
        let storage = Storage::open(&settings.database_url).await?;
        let cache = Cache::connect(settings.redis_url.as_ref(), &settings.redis_prefix).await;
        let runner = Arc::new(Runner::new(storage, cache, settings.clone(), clock)?);
        Ok(App { settings, runner })
    }
}

pub fn schedule_source(cli: &Cli, settings: &Settings) -> ScheduleSource {
    ScheduleSource {
        schedules_path: cli.schedules.clone(),
        calendars_dir: settings.jobs_dir.join("calendars"),
    }
}

/// Loads schedules, printing every problem on failure.
pub fn load_schedules(cli: &Cli, settings: &Settings) -> Result<Schedules, Problems> {
    schedule_source(cli, settings).load()
}

/// Parses the command line and runs it.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init(cli.log_format);
    let result = match &cli.command {
        Command::Daemon => admin::daemon(&cli).await,
        Command::Run {
            jobs,
            slot,
            all,
            force,
        } => ops::run(&cli, jobs, *slot, *all, *force).await,
        Command::Trigger { job, slot } => ops::trigger(&cli, *job, *slot).await,
        Command::Backfill { job, from, to } => ops::backfill(&cli, *job, *from, *to).await,
        Command::Plan {
            job,
            from,
            to,
            limit,
            format,
        } => inspect::plan(&cli, *job, *from, *to, *limit, *format),
        Command::Runs { job, limit, format } => inspect::runs(&cli, *job, *limit, *format).await,
        Command::Stocks { command } => inspect::stocks(&cli, command).await,
        Command::News { command } => ops::news(&cli, command).await,
        Command::Vectors { command } => vectors::run(&cli, command).await,
        Command::Sample { command } => sample::run(&cli, command).await,
        Command::Validate => admin::validate(&cli),
        Command::Migrate => admin::migrate(&cli).await,
        Command::Doctor => admin::doctor(&cli).await,
        Command::Schema { format } => inspect::schema(&cli, *format).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
