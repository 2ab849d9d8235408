//! The job catalog: one name per job, used everywhere (schedules.toml key,
//! `jobs/NAME.toml`, module, span field, ledger rows, `reports/NAME/`).
//!
//! A job is one async function "run once for this slot" that gets a
//! [`JobContext`] and returns an [`Outcome`] or a [`JobError`]. The registry is
//! the `match` in [`run`]: adding a job means a variant, a module and an arm.

pub mod canary;
mod context;
pub mod evaluate;
pub mod news_crawl;
pub mod news_embed;
pub mod news_impact;
pub mod ohlc_daily;
pub mod ohlc_minute;
pub mod performance_daily;
pub mod predict;
pub mod regression_detect;

pub use context::{JobContext, JobError, Outcome, Phases};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobName {
    OhlcDaily,
    OhlcMinute,
    NewsCrawl,
    NewsImpact,
    NewsEmbed,
    Predict,
    Evaluate,
    PerformanceDaily,
    RegressionDetect,
    /// Diagnostic job: proves the scheduler fires (see `jobs::canary`).
    Canary,
}

impl JobName {
    /// Every job, in pipeline order (the order of `tickerd run --all`).
    pub const ALL: [JobName; 10] = [
        JobName::OhlcDaily,
        JobName::OhlcMinute,
        JobName::NewsCrawl,
        JobName::NewsImpact,
        JobName::NewsEmbed,
        JobName::Predict,
        JobName::Evaluate,
        JobName::PerformanceDaily,
        JobName::RegressionDetect,
        JobName::Canary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobName::OhlcDaily => "ohlc_daily",
            JobName::OhlcMinute => "ohlc_minute",
            JobName::NewsCrawl => "news_crawl",
            JobName::NewsImpact => "news_impact",
            JobName::NewsEmbed => "news_embed",
            JobName::Predict => "predict",
            JobName::Evaluate => "evaluate",
            JobName::PerformanceDaily => "performance_daily",
            JobName::RegressionDetect => "regression_detect",
            JobName::Canary => "canary",
        }
    }

    /// Position in the pipeline (for `--all`).
    pub fn pipeline_rank(self) -> usize {
        Self::ALL
            .iter()
            .position(|j| *j == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown job {name:?} (known jobs: {known})")]
pub struct UnknownJob {
    name: String,
    known: String,
}

impl FromStr for JobName {
    type Err = UnknownJob;

    fn from_str(s: &str) -> Result<Self, UnknownJob> {
        Self::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| UnknownJob {
                name: s.to_string(),
                known: Self::ALL.map(JobName::as_str).join(", "),
            })
    }
}

/// Runs one job once for the context's slot: the registry.
pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    match ctx.job {
        JobName::Canary => canary::run(ctx).await,
        JobName::OhlcDaily => ohlc_daily::run(ctx).await,
        JobName::OhlcMinute => ohlc_minute::run(ctx).await,
        JobName::NewsCrawl => news_crawl::run(ctx).await,
        JobName::NewsImpact => news_impact::run(ctx).await,
        JobName::NewsEmbed => news_embed::run(ctx).await,
        JobName::Predict => predict::run(ctx).await,
        JobName::Evaluate => evaluate::run(ctx).await,
        JobName::PerformanceDaily => performance_daily::run(ctx).await,
        JobName::RegressionDetect => regression_detect::run(ctx).await,
    }
}
