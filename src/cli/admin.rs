//! `daemon`, `validate`, `migrate` and `doctor`.

use super::{load_schedules, schedule_source, App, Cli};
use crate::cache::Cache;
use crate::daemon::{Daemon, DaemonHandle, DaemonLock, PidFile};
use crate::diagnostics::{Problem, SourceFile};
use crate::jobs::JobName;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::time::{Calendars, Clock};
use chrono::{Duration, Utc};
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

pub async fn daemon(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    // Schedules first: a daemon with a broken schedule should not start.
    let schedules = match load_schedules(cli, &settings) {
        Ok(s) => s,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(2));
        }
    };
    let app = App::open(cli, Clock::with_coarse_timer().await?).await?;
    let _lock = match &app.runner.storage().sqlite_path {
        Some(path) => Some(DaemonLock::acquire(path)?),
        None => None,
    };
    let _pid = PidFile::create(&app.settings.pid_file())?;
    let daemon = Daemon::new(
        app.runner.clone(),
        schedule_source(cli, &app.settings),
        schedules,
    );
    forward_signals(daemon.handle.clone())?;
    daemon.run().await?;
    if let crate::time::Clock::System(Some(timer)) = &app.runner.clock {
        timer.shutdown().await;
    }
    app.runner.storage().close().await;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM/SIGINT drain, SIGHUP reloads, SIGUSR1 picks up triggers.
fn forward_signals(handle: DaemonHandle) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM"); handle.shutdown.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT"); handle.shutdown.cancel(); }
                _ = hup.recv() => { tracing::info!("SIGHUP: reloading schedules"); handle.reload.notify_one(); }
                _ = usr1.recv() => { tracing::info!("SIGUSR1: picking up queued runs"); handle.wake.notify_one(); }
            }
        }
    });
    Ok(())
}

/// Every problem in schedules, calendars, job files and settings, at once.
pub fn validate(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut problems: Vec<Problem> = vec![];
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(Problem {
                file: cli.config.clone().unwrap_or_else(|| "tickerd.toml".into()),
                line: None,
                key: String::new(),
                message: format!("{e:#}"),
            });
            None
        }
    };
    let jobs_dir = settings
        .as_ref()
        .map(|s| s.jobs_dir.clone())
        .unwrap_or_else(|| "jobs".into());
    let (calendars, cal_problems) = Calendars::load_dir(&jobs_dir.join("calendars"));
    problems.extend(cal_problems);
    let schedules = match crate::schedule::Schedules::load(&cli.schedules, &calendars) {
        Ok(s) => Some(s),
        Err(p) => {
            problems.extend(p.0);
            None
        }
    };
    for job in JobName::ALL {
        let path = jobs_dir.join(format!("{job}.toml"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            let src = SourceFile {
                path: &path,
                text: &text,
            };
            if let Err(e) = toml::from_str::<toml::Table>(&text) {
                problems.push(src.problem(e.span().map(|s| s.start), "", e.message()));
            } else if matches!(job, JobName::OhlcDaily | JobName::OhlcMinute) {
                problems.extend(check_ingest_config(&src));
            } else if job == JobName::NewsCrawl {
                problems.extend(check_news_config(&src));
            } else if let Some(e) = check_evaluation_config(job, &text) {
                problems.push(src.problem(None, "", e));
            }
        }
    }
    let mut warnings = vec![];
    if let Some(s) = &schedules {
        let soon = Utc::now().date_naive() + Duration::days(60);
        for j in s.jobs.values() {
            if let Some(c) = &j.calendar {
                if c.valid_to < soon {
                    warnings.push(format!(
                        "{}: calendar {} has holidays only up to {}; add the next year's",
                        j.job, c.name, c.valid_to
                    ));
                }
            }
        }
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    if problems.is_empty() {
        let n = schedules.map(|s| s.jobs.len()).unwrap_or(0);
        println!(
            "ok: {} valid, {n} jobs scheduled, calendars: {}",
            cli.schedules.display(),
            calendars.names().collect::<Vec<_>>().join(", ")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        print!("{}", crate::diagnostics::Problems(problems));
        Ok(ExitCode::FAILURE)
    }
}

pub async fn migrate(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    let storage = Storage::connect(&settings.database_url).await?;
    let pending = storage.pending_migrations().await?;
    storage.migrate().await?;
    if pending.is_empty() {
        println!("{}: up to date", storage.display);
    } else {
        for m in &pending {
            println!("applied {m}");
        }
        println!(
            "{}: {} migration(s) applied",
            storage.display,
            pending.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per check: `ok`, `warn` or `FAIL`, and what is wrong.
pub async fn doctor(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut line = |status: &str, what: &str, detail: String| {
        if status == "FAIL" {
            failed = true;
        }
        println!("{status:<4} {what:<10} {detail}");
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            line("FAIL", "config", format!("{e:#}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    line(
        "ok",
        "config",
        cli.config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "defaults + environment".into()),
    );
    match Storage::connect(&settings.database_url).await {
        Ok(storage) => match storage.pending_migrations().await {
            Ok(p) if p.is_empty() => {
                line(
                    "ok",
                    "database",
                    format!(
                        "{} ({:?}), migrations up to date",
                        storage.display,
                        storage.backend()
                    ),
                );
                match crate::market::store::orphan_bars(&storage).await {
                    Ok(o) if o == Default::default() => line(
                        "ok",
                        "integrity",
                        "every bar names a stock and a run".into(),
                    ),
                    Ok(o) => line(
                        "FAIL",
                        "integrity",
                        format!(
                            "{} bar(s) name no stock, {} name no run (bars has no foreign keys; \
                             were stocks or job_runs rows deleted by hand?)",
                            o.without_stock, o.without_run
                        ),
                    ),
                    Err(e) => line("FAIL", "integrity", format!("{e:#}")),
                }
            }
            Ok(p) => line(
                "warn",
                "database",
                format!(
                    "{}: {} migration(s) pending; run `tickerd migrate`",
                    storage.display,
                    p.len()
                ),
            ),
            Err(e) => line("FAIL", "database", format!("{e:#}")),
        },
        Err(e) => line("FAIL", "database", format!("{e:#}")),
    }
    match &settings.redis_url {
        None => line("ok", "cache", "in-process (REDIS_URL not set)".into()),
        Some(url) => match Cache::connect_redis(url, &settings.redis_prefix).await {
            Ok(c) => match c.ping().await {
                Ok(()) => line(
                    "ok",
                    "cache",
                    format!("Redis at {}", crate::settings::redact_url(url.expose())),
                ),
                Err(e) => line(
                    "FAIL",
                    "cache",
                    format!("{e:#} (jobs still run, without cache)"),
                ),
            },
            Err(e) => line(
                "FAIL",
                "cache",
                format!("{e:#} (jobs still run, without cache)"),
            ),
        },
    }
    match load_schedules(cli, &settings) {
        Ok(s) => line(
            "ok",
            "schedules",
            format!(
                "{}: {} jobs ({} enabled)",
                cli.schedules.display(),
                s.jobs.len(),
                s.jobs.values().filter(|j| j.enabled).count()
            ),
        ),
        Err(p) => line(
            "FAIL",
            "schedules",
            format!("{} problem(s); run `tickerd validate`", p.0.len()),
        ),
    }
    let probe = settings.reports_dir.join(".doctor-probe");
    match std::fs::create_dir_all(&settings.reports_dir).and_then(|_| std::fs::write(&probe, b"ok"))
    {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            line(
                "ok",
                "reports",
                format!("{} writable", settings.reports_dir.display()),
            );
        }
        Err(e) => line(
            "FAIL",
            "reports",
            format!("{}: {e}", settings.reports_dir.display()),
        ),
    }
    match (&settings.openai_api_key, &settings.openai_base_url) {
        (None, None) => line(
            "ok",
            "llm",
            "not configured (OPENAI_API_KEY unset): offline defaults".into(),
        ),
        (key, base) => {
            let base = base
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".into());
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?;
            let mut req = client.get(format!("{}/models", base.trim_end_matches('/')));
            if let Some(k) = key {
                req = req.bearer_auth(k.expose());
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => line("ok", "llm", format!("{base} answers")),
                Ok(r) => line(
                    "FAIL",
                    "llm",
                    format!("{base} answered HTTP {}", r.status().as_u16()),
                ),
                Err(e) => line(
                    "FAIL",
                    "llm",
                    format!("{base} unreachable: {}", e.without_url()),
                ),
            }
        }
    }
    match &settings.milvus_uri {
        None => line("ok", "vectors", "embedded store (MILVUS_URI unset)".into()),
        Some(uri) => {
            let addr = uri
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_string();
            match tokio::time::timeout(
                std::time::Duration::from_secs(3),
                tokio::net::TcpStream::connect(&addr),
            )
            .await
            {
                Ok(Ok(_)) => line(
                    "ok",
                    "vectors",
                    format!("Milvus at {addr} accepts connections"),
                ),
                Ok(Err(e)) => line("FAIL", "vectors", format!("Milvus at {addr}: {e}")),
                Err(_) => line("FAIL", "vectors", format!("Milvus at {addr}: timed out")),
            }
        }
    }
    match PidFile::read_live(&settings.pid_file()) {
        Some(pid) => line("ok", "daemon", format!("running, pid {pid}")),
        None => line(
            "warn",
            "daemon",
            format!(
                "not running on this host (no live pid in {})",
                settings.pid_file().display()
            ),
        ),
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `jobs/news_crawl.toml`: its keys, every source's URL and selectors.
fn check_news_config(src: &SourceFile<'_>) -> Vec<Problem> {
    let cfg: crate::news::config::CrawlConfig = match toml::from_str(src.text) {
        Ok(c) => c,
        Err(e) => return vec![src.problem(e.span().map(|s| s.start), "", e.message())],
    };
    cfg.check(std::path::Path::new("."))
        .1
        .into_iter()
        .map(|p| src.problem(None, "sources", p))
        .collect()
}

/// The market jobs' files: their keys, provider names and universe rows.
fn check_ingest_config(src: &SourceFile<'_>) -> Vec<Problem> {
    use crate::market::ingest::IngestConfig;
    use crate::market::providers::Provider;
    let cfg: IngestConfig = match toml::from_str(src.text) {
        Ok(c) => c,
        Err(e) => return vec![src.problem(e.span().map(|s| s.start), "", e.message())],
    };
    let mut problems = vec![];
    for (key, name) in std::iter::once(("provider".to_string(), &cfg.provider)).chain(
        cfg.by_exchange
            .iter()
            .map(|(x, p)| (format!("by_exchange.{x}"), p)),
    ) {
        if !Provider::NAMES.contains(&name.as_str()) {
            problems.push(src.problem(
                None,
                &key,
                format!(
                    "unknown provider {name:?} (known: {})",
                    Provider::NAMES.join(", ")
                ),
            ));
        }
    }
    match std::fs::read_to_string(&cfg.universe) {
        Ok(text) => problems.extend(crate::market::stocks::parse_universe(&cfg.universe, &text).1),
        Err(e) => {
            problems.push(src.problem(None, "universe", format!("{}: {e}", cfg.universe.display())))
        }
    }
    problems
}

/// The evaluation jobs' parameters, checked by the parsers the jobs use.
fn check_evaluation_config(job: JobName, text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let result = match job {
        JobName::PerformanceDaily => {
            crate::jobs::performance_daily::PerformanceConfig::from_table(&table).map(|_| ())
        }
        JobName::RegressionDetect => {
            crate::jobs::regression_detect::DetectConfig::from_table(&table).map(|_| ())
        }
        _ => Ok(()),
    };
    result.err().map(|e| format!("{e:#}"))
}
