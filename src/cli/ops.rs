//! `run`, `trigger` and `backfill`: running jobs by hand.

use super::{load_schedules, App, Cli};
use crate::daemon::PidFile;
use crate::jobs::JobName;
use crate::ledger::{Rerun, Status, Trigger};
use crate::runner::{Policy, SlotOutcome};
use crate::time::Clock;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SubsecRound, TimeZone, Utc};
use std::io::IsTerminal;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Ctrl-C / SIGTERM cancel the foreground run (it is recorded and queued
/// for a retry, like a daemon's drain).
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        }
        eprintln!("interrupted: finishing the current run's bookkeeping");
        t.cancel();
    });
    token
}

pub fn describe(job: JobName, slot: DateTime<Utc>, outcome: &SlotOutcome) -> String {
    match outcome {
        SlotOutcome::Ran(a) => {
            let mut s = format!(
                "{job} {} run #{} attempt {}: {}",
                slot.to_rfc3339(),
                a.claim.run_id,
                a.claim.attempt,
                a.status
            );
            if let Some(e) = &a.error {
                s.push_str(&format!(" — {}", e.lines().next().unwrap_or("")));
            }
            if let Some(p) = &a.report_path {
                s.push_str(&format!(" [reports/{p}]"));
            }
            s
        }
        SlotOutcome::Taken {
            run_id,
            status: Status::Succeeded,
        } => format!(
            "{job} {} run #{run_id}: already succeeded (use --force to run it again)",
            slot.to_rfc3339()
        ),
        SlotOutcome::Taken { run_id, status } => {
            format!(
                "{job} {} run #{run_id}: not run, it is {status}",
                slot.to_rfc3339()
            )
        }
    }
}

pub async fn run(
    cli: &Cli,
    jobs: &[JobName],
    slot: Option<DateTime<Utc>>,
    all: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let app = App::open(cli, cli.clock()).await?;
    let schedules = match load_schedules(cli, &app.settings) {
        Ok(s) => Some(s),
        Err(problems) if all => {
            eprint!("{problems}");
            return Ok(ExitCode::from(2));
        }
        Err(problems) => {
            tracing::warn!(problems = %problems.to_string().trim_end(), "schedules.toml has problems; running with default policies");
            None
        }
    };
    let mut selected: Vec<JobName> = if all {
        let s = schedules.as_ref().expect("loaded above");
        let mut v: Vec<JobName> = s
            .jobs
            .values()
            .filter(|j| j.enabled)
            .map(|j| j.job)
            .collect();
        v.sort_by_key(|j| j.pipeline_rank());
        v
    } else {
        jobs.to_vec()
    };
    selected.dedup();
    let shutdown = shutdown_on_signal();
    // Without --slot, every job of this invocation shares one slot: now.
    let slot = slot.unwrap_or_else(|| Utc::now().trunc_subsecs(3));
    let rerun = if force {
        Rerun::Always
    } else {
        Rerun::Unfinished
    };
    let mut ok = true;
    let mut alerts = 0;
    for job in selected {
        if shutdown.is_cancelled() {
            ok = false;
            break;
        }
        let policy = schedules
            .as_ref()
            .and_then(|s| s.get(job))
            .map(Policy::of)
            .unwrap_or_default();
        let outcome = app
            .runner
            .run_slot(job, slot, Trigger::Manual, rerun, &policy, &shutdown)
            .await?;
        println!("{}", describe(job, slot, &outcome));
        ok &= outcome.succeeded();
        if let SlotOutcome::Ran(a) = &outcome {
            alerts += a.alerts;
        }
    }
    app.runner.refresh_index().await?;
    Ok(if !ok {
        ExitCode::FAILURE
    } else if alerts > 0 {
        // The runs worked and found something a person must look at
        // (regression_detect's regressions): scripts and cron see it.
        eprintln!("{alerts} alert(s) raised; see the reports");
        ExitCode::from(EXIT_ALERTS)
    } else {
        ExitCode::SUCCESS
    })
}

/// `tickerd run`'s exit status when every run succeeded but raised alerts.
pub const EXIT_ALERTS: u8 = 3;

pub async fn trigger(
    cli: &Cli,
    job: JobName,
    slot: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    let app = App::open(cli, Clock::system()).await?;
    let slot = slot.unwrap_or_else(|| Utc::now().trunc_subsecs(3));
    let run_id = app
        .runner
        .ledger
        .enqueue(job, slot, Trigger::Manual)
        .await?;
    let pid_file = app.settings.pid_file();
    match PidFile::read_live(&pid_file) {
        Some(pid) => {
            let sent = unsafe { libc::kill(pid, libc::SIGUSR1) } == 0;
            if sent {
                println!("queued {job} {} as run #{run_id}; signalled daemon pid {pid}", slot.to_rfc3339());
            } else {
                println!("queued {job} {} as run #{run_id}; could not signal pid {pid}, the daemon will pick it up on its next poll", slot.to_rfc3339());
            }
        }
        None => println!(
            "queued {job} {} as run #{run_id}; no daemon on this host ({} absent or stale): a daemon sharing the database picks it up on its next poll",
            slot.to_rfc3339(),
            pid_file.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn backfill(
    cli: &Cli,
    job: JobName,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<ExitCode> {
    if to < from {
        anyhow::bail!("--to {to} is before --from {from}");
    }
    let app = App::open(cli, Clock::system()).await?;
    let schedules = match load_schedules(cli, &app.settings) {
        Ok(s) => s,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(sched) = schedules.get(job) else {
        anyhow::bail!(
            "{job} has no schedule in {}: backfill needs its slots",
            cli.schedules.display()
        );
    };
    let slots = slots_on_days(sched, from, to)?;
    let policy = Policy::of(sched);
    let shutdown = shutdown_on_signal();
    let Tally {
        ran,
        already,
        failed,
    } = run_slots(&app, job, &slots, &policy, &shutdown).await?;
    app.runner.refresh_index().await?;
    println!(
        "backfill {job} {from}..{to}: {} slots, {ran} ran, {already} already succeeded, {failed} failed{}",
        slots.len(),
        if shutdown.is_cancelled() { " (interrupted: run it again to resume)" } else { "" }
    );
    Ok(if failed == 0 && !shutdown.is_cancelled() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A schedule's slots on the days `from..=to` of its time zone.
pub fn slots_on_days(
    sched: &crate::schedule::JobSchedule,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<DateTime<Utc>>> {
    let local = |d: NaiveDate| {
        sched
            .tz
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| anyhow::anyhow!("{d} has no local midnight in {}", sched.tz))
    };
    let (start, end) = (
        local(from)?,
        local(to + Duration::days(1))? - Duration::nanoseconds(1),
    );
    Ok(sched.slots_between(start, end))
}

/// What happened to a list of slots.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub ran: usize,
    pub already: usize,
    pub failed: usize,
}

/// Runs `job` for each slot in order as a backfill (succeeded slots are
/// skipped), one line per slot, a progress bar on a terminal; stops early
/// when `shutdown` fires.
pub async fn run_slots(
    app: &App,
    job: JobName,
    slots: &[DateTime<Utc>],
    policy: &Policy,
    shutdown: &CancellationToken,
) -> anyhow::Result<Tally> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(slots.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} (eta {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut tally = Tally::default();
    for slot in slots {
        if shutdown.is_cancelled() {
            break;
        }
        bar.set_message(slot.to_rfc3339());
        let outcome = app
            .runner
            .run_slot(
                job,
                *slot,
                Trigger::Backfill,
                Rerun::Unfinished,
                policy,
                shutdown,
            )
            .await?;
        match &outcome {
            SlotOutcome::Taken {
                status: Status::Succeeded,
                ..
            } => tally.already += 1,
            o if o.succeeded() => tally.ran += 1,
            _ => tally.failed += 1,
        }
        bar.suspend(|| println!("{}", describe(job, *slot, &outcome)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(tally)
}

/// `tickerd news relink --since DATE`.
pub async fn news(cli: &Cli, command: &super::NewsCommand) -> anyhow::Result<ExitCode> {
    let super::NewsCommand::Relink { since } = command;
    let settings = crate::settings::Settings::load(cli.config.as_deref())?;
    let storage = crate::storage::Storage::open(&settings.database_url).await?;
    let params = crate::runner::load_job_params(&settings.jobs_dir, JobName::NewsCrawl)
        .map_err(|e| anyhow::anyhow!(e))?;
    let cfg = crate::news::config::CrawlConfig::from_table(&params)?;
    let since = since.and_time(NaiveTime::MIN).and_utc();
    let r = crate::news::relink(&storage, &cfg, since, None).await?;
    println!(
        "{} articles relinked since {}: {} links added, {} changed, {} removed, {} unchanged",
        r.articles,
        since.date_naive(),
        r.delta.added,
        r.delta.changed,
        r.delta.removed,
        r.delta.unchanged
    );
    Ok(ExitCode::SUCCESS)
}
