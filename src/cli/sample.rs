//! `tickerd sample generate --seed N [--out DIR]`: writes the offline sample
//! market (see [`crate::sample`]) and says what it wrote.
//!
//! `tickerd sample run [--from DATE]`: the whole pipeline once over it, the
//! README's first command (see [`run_pipeline`]).

use super::ops::{self, Tally};
use super::{load_schedules, App, Cli, SampleCommand};
use crate::diagnostics::Problems;
use crate::jobs::JobName;
use crate::ledger::{Rerun, Trigger};
use crate::runner::{Policy, SlotOutcome};
use crate::sample::{self, Options, Summary};
use crate::settings::Settings;
use crate::time::Calendars;
use crate::time::Clock;
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::process::ExitCode;

pub async fn run(cli: &Cli, command: &SampleCommand) -> anyhow::Result<ExitCode> {
    match command {
        SampleCommand::Generate { seed, out } => generate(cli, *seed, out),
        SampleCommand::Run { from } => run_pipeline(cli, *from).await,
    }
}

fn generate(cli: &Cli, seed: u64, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    let dir = settings.jobs_dir.join("calendars");
    let (calendars, problems) = Calendars::load_dir(&dir);
    if !problems.is_empty() {
        anyhow::bail!("{}", Problems(problems));
    }
    if calendars.names().next().is_none() {
        anyhow::bail!(
            "{}: no exchange calendars there (jobs_dir/calendars, relative to where tickerd runs)",
            dir.display()
        );
    }
    // news_sources.toml names the files the way this command was given the
    // folder, so the crawler, run from here, finds them.
    let prefix = out.to_string_lossy();
    let summary = sample::generate(
        &Options {
            seed,
            out,
            sources_prefix: &prefix,
        },
        &calendars,
    )
    .with_context(|| format!("generating the sample market into {}", out.display()))?;
    print!("{}", report(seed, &summary));
    Ok(ExitCode::SUCCESS)
}

fn report(seed: u64, s: &Summary) -> String {
    let c = &s.counts;
    let p = &sample::PLANTED;
    let lines = [
        format!(
            "Sample market (seed {seed}) written to {}: {} files, {:.2} MB",
            s.out.display(),
            s.files.len(),
            s.bytes() as f64 / 1_000_000.0
        ),
        format!("  universe.csv       {} stocks", c.stocks),
        format!(
            "  market/1d/         {} daily bars ({} XKRX and {} XNYS sessions)",
            c.daily_bars, c.sessions_xkrx, c.sessions_xnys
        ),
        format!(
            "  market/1m/         {} minute bars (the last {} sessions)",
            c.minute_bars, c.minute_sessions
        ),
        format!(
            "  news/              {} items in {} sources: {} stories ({} positive, {} negative), \
             {} syndicated copies, {} naming two stocks, {} in Korean",
            c.news_items,
            c.news_sources,
            c.stories,
            c.positive_stories,
            c.negative_stories,
            c.duplicates,
            c.multi_stock_items,
            c.korean_items
        ),
        "  news_sources.toml  their [[sources]] for jobs/news_crawl.toml".to_string(),
        "  truth/news.csv     the planted tone and effect of every item".to_string(),
        "  README.md, manifest.json".to_string(),
        format!(
            "Planted: a story moves its stocks' next session by ±{}% (noise σ {}%), ±{:.2}% from {} on.",
            p.effect_pct,
            p.noise_sd_pct,
            p.effect_pct * p.weak_fraction,
            p.weaken_from
        ),
        format!("{}/README.md says how to point the jobs at it.", s.out.display()),
    ];
    lines.join("\n") + "\n"
}

/// The instant the sample's "today" runs at: the Saturday after its last
/// session, when both exchanges' last sessions have closed and their news
/// is out.
pub fn end_slot() -> DateTime<Utc> {
    let day = sample::END_SESSION + chrono::Duration::days(1);
    Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).expect("valid time"))
}

/// Jobs run once at the end slot, before the predictions…
const BEFORE: [JobName; 4] = [
    JobName::OhlcDaily,
    JobName::NewsCrawl,
    JobName::NewsImpact,
    JobName::NewsEmbed,
];
/// …and after them.
const AFTER: [JobName; 3] = [
    JobName::Evaluate,
    JobName::PerformanceDaily,
    JobName::RegressionDetect,
];

/// Runs the pipeline over the sample through the runner, exactly as the
/// daemon would (ledger, retries, reports): the market and news jobs at
/// [`end_slot`] — they read files, so one run takes in the whole history —
/// `ohlc_minute` after each close of the last week, then `predict` at every nightly slot of its schedule from `from` to the
/// last session (each as of its own cut-off: bars and news strictly before
/// it), then `evaluate`, `performance_daily` and `regression_detect` at the
/// end slot. A second run finds every slot succeeded and changes nothing.
/// Alerts are expected (the sample plants a regression), so they are
/// reported, not an error; the exit status is 1 only when a job failed.
async fn run_pipeline(cli: &Cli, from: NaiveDate) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let app = App::open(cli, Clock::system()).await?;
    let schedules = match load_schedules(cli, &app.settings) {
        Ok(s) => s,
        Err(problems) => {
            eprint!("{problems}");
            return Ok(ExitCode::from(2));
        }
    };
    let policy = |job: JobName| schedules.get(job).map(Policy::of).unwrap_or_default();
    let shutdown = ops::shutdown_on_signal();
    let end = end_slot();
    let mut failed = 0;
    let mut alerts = 0;
    let mut ran = 0;
    let mut once = async |job: JobName| -> anyhow::Result<()> {
        let outcome = app
            .runner
            .run_slot(
                job,
                end,
                Trigger::Manual,
                Rerun::Unfinished,
                &policy(job),
                &shutdown,
            )
            .await?;
        println!("{}", ops::describe(job, end, &outcome));
        if !outcome.succeeded() {
            failed += 1;
        }
        if let SlotOutcome::Ran(a) = &outcome {
            alerts += a.alerts;
            ran += 1;
        }
        Ok(())
    };
    for job in BEFORE {
        once(job).await?;
    }
    // Minute bars: `ohlc_minute` takes the session under way at its slot,
    // so it runs after each close of the sample's last week — 08:00 UTC
    // for Seoul (after 19 Nov's late close too), 21:30 UTC for New York.
    // Days without a session find nothing to fetch.
    let minute_slots: Vec<DateTime<Utc>> = (0..7)
        .rev()
        .map(|back| sample::END_SESSION - chrono::Duration::days(back))
        .flat_map(|d| [(d, 8, 0), (d, 21, 30)])
        .filter_map(|(d, h, m)| d.and_hms_opt(h, m, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .collect();
    let minutes = ops::run_slots(
        &app,
        JobName::OhlcMinute,
        &minute_slots,
        &policy(JobName::OhlcMinute),
        &shutdown,
    )
    .await?;
    let sched = schedules
        .get(JobName::Predict)
        .ok_or_else(|| anyhow::anyhow!("predict has no schedule in {}", cli.schedules.display()))?;
    let slots = ops::slots_on_days(sched, from, sample::END_SESSION)?;
    let Tally {
        ran: predicted,
        already,
        failed: predict_failed,
    } = ops::run_slots(
        &app,
        JobName::Predict,
        &slots,
        &policy(JobName::Predict),
        &shutdown,
    )
    .await?;
    println!(
        "predict: {} nightly slots {from}..{}: {predicted} ran, {already} already succeeded, {predict_failed} failed",
        slots.len(),
        sample::END_SESSION
    );
    for job in AFTER {
        once(job).await?;
    }
    failed += predict_failed + minutes.failed;
    ran += predicted + minutes.ran;
    app.runner.refresh_index().await?;
    let reports = app.settings.reports_dir.join("index.html");
    if ran == 0 && failed == 0 {
        println!(
            "\nNothing to do: every slot of the sample pipeline already succeeded; the database and reports are as the first run left them.\nOpen {}",
            reports.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "\nSample pipeline finished in {:.0} s: {} failed job run(s), {alerts} alert(s) (the sample plants a regression from {}).\nOpen {}",
        started.elapsed().as_secs_f64(),
        failed,
        sample::PLANTED.weaken_from,
        reports.display()
    );
    Ok(if failed > 0 || shutdown.is_cancelled() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
