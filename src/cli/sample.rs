//! `tickerd sample generate --seed N [--out DIR]`: writes the offline sample
//! market (see [`crate::sample`]) and says what it wrote.

use super::{Cli, SampleCommand};
use crate::diagnostics::Problems;
use crate::sample::{self, Options, Summary};
use crate::settings::Settings;
use crate::time::Calendars;
use anyhow::Context as _;
use std::process::ExitCode;

pub fn run(cli: &Cli, command: &SampleCommand) -> anyhow::Result<ExitCode> {
    let SampleCommand::Generate { seed, out } = command;
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
            seed: *seed,
            out,
            sources_prefix: &prefix,
        },
        &calendars,
    )
    .with_context(|| format!("generating the sample market into {}", out.display()))?;
    print!("{}", report(*seed, &summary));
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
