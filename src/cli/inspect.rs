//! `plan`, `runs` and `schema`: looking without changing anything.

use super::{load_schedules, App, Cli, Format, SchemaFormat, StocksCommand};
use crate::jobs::JobName;
use crate::settings::Settings;
use crate::storage::schema::to_mermaid;
use crate::storage::Storage;
use crate::time::Clock;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct PlannedSlot {
    job: String,
    slot: String,
    local: String,
    timezone: String,
}

pub fn plan(
    cli: &Cli,
    job: Option<JobName>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    let schedules = match load_schedules(cli, &settings) {
        Ok(s) => s,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(2));
        }
    };
    let from = from.unwrap_or_else(Utc::now);
    let to = to.unwrap_or(from + Duration::days(1));
    let mut rows = vec![];
    for sched in schedules.jobs.values() {
        if job.is_some_and(|j| j != sched.job) || (!sched.enabled && job.is_none()) {
            continue;
        }
        let mut t = from - Duration::nanoseconds(1);
        let mut n = 0;
        while let Some(slot) = sched.next_after(t) {
            if slot > to || (limit > 0 && n >= limit) {
                break;
            }
            rows.push(PlannedSlot {
                job: sched.job.to_string(),
                slot: slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                local: slot
                    .with_timezone(&sched.tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string(),
                timezone: sched.tz.name().to_string(),
            });
            t = slot;
            n += 1;
        }
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => {
            println!("{:<18} {:<22} LOCAL", "JOB", "SLOT (UTC)");
            for r in &rows {
                println!("{:<18} {:<22} {} ({})", r.job, r.slot, r.local, r.timezone);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn runs(
    cli: &Cli,
    job: Option<JobName>,
    limit: i64,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let app = App::open(cli, Clock::system()).await?;
    let rows = app.runner.ledger.recent(job, limit).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => {
            println!(
                "{:>6} {:<18} {:<26} {:<9} {:>3} {:<10} {:>9}  ERROR",
                "ID", "JOB", "SLOT (UTC)", "TRIGGER", "ATT", "STATUS", "SECONDS"
            );
            for r in rows {
                let secs = match (r.started_at, r.finished_at) {
                    (Some(a), Some(b)) if b >= a => {
                        format!("{:.3}", (b - a).num_milliseconds() as f64 / 1000.0)
                    }
                    _ => "-".into(),
                };
                let err = r
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("");
                println!(
                    "{:>6} {:<18} {:<26} {:<9} {:>3} {:<10} {:>9}  {}",
                    r.id,
                    r.job,
                    r.slot.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    r.trigger,
                    r.attempt,
                    r.status,
                    secs,
                    err
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn schema(cli: &Cli, format: SchemaFormat) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    let storage = Storage::open(&settings.database_url).await?;
    let catalog = storage.catalog().await?;
    match format {
        SchemaFormat::Mermaid => print!("{}", to_mermaid(&catalog)),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stocks(cli: &Cli, command: &StocksCommand) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    let storage = Storage::open(&settings.database_url).await?;
    match command {
        StocksCommand::Import { file } => {
            let outcome = crate::market::stocks::import(&storage, file, None).await?;
            for p in &outcome.problems {
                eprintln!("{p}");
            }
            println!(
                "{}: {} rows loaded ({} inserted, {} updated, {} unchanged), {} rejected",
                file.display(),
                outcome.rows,
                outcome.inserted,
                outcome.updated,
                outcome.unchanged,
                outcome.problems.len()
            );
            Ok(if outcome.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        StocksCommand::List { format } => {
            let stocks = crate::market::stocks::load(&storage, false).await?;
            match format {
                Format::Json => {
                    let rows: Vec<_> = stocks
                        .iter()
                        .map(|s| serde_json::json!({
                            "exchange": s.exchange, "code": s.code, "name": s.name, "currency": s.currency,
                            "priority": s.priority, "active": s.active, "aliases": s.aliases, "symbols": s.symbols,
                        }))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                }
                Format::Table => {
                    println!(
                        "{:<6} {:<10} {:<30} {:<4} {:>3} {:<6} SYMBOLS",
                        "EXCH", "CODE", "NAME", "CCY", "PRI", "ACTIVE"
                    );
                    for s in stocks {
                        let symbols: Vec<String> =
                            s.symbols.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        println!(
                            "{:<6} {:<10} {:<30} {:<4} {:>3} {:<6} {}",
                            s.exchange,
                            s.code,
                            s.name,
                            s.currency,
                            s.priority,
                            s.active,
                            symbols.join(" ")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
