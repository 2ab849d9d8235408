//! What a job gets (its context) and what it gives back (outcome or error).

use super::JobName;
use crate::cache::Cache;
use crate::ledger::Trigger;
use crate::settings::Settings;
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Everything one run of one job may use.
#[derive(Clone)]
pub struct JobContext {
    pub job: JobName,
    /// The scheduled instant this run is for (UTC); reruns get the same slot.
    pub slot: DateTime<Utc>,
    pub run_id: i64,
    pub attempt: i32,
    pub trigger: Trigger,
    pub storage: Storage,
    pub cache: Cache,
    /// The runner's clock: "now" for this run (the wall clock, except where
    /// a test or replay starts it elsewhere).
    pub clock: crate::time::Clock,
    /// Shared HTTP client (`ctx.http.get()`), built on first use.
    pub http: crate::runner::HttpClient,
    pub settings: Arc<Settings>,
    /// The job's own parameters, from `jobs/NAME.toml` (read at run start).
    pub params: toml::Table,
    /// Cancelled on timeout, replacement, lost lease or shutdown; long jobs
    /// should check it between units of work.
    pub cancel: CancellationToken,
}

/// What a successful run reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Named counters (rows inserted, articles fetched, ...).
    pub counts: BTreeMap<String, i64>,
    pub warnings: Vec<String>,
    /// Job-specific detail for the JSON report.
    pub details: serde_json::Value,
    /// Job-specific Markdown appended to the human report.
    pub markdown: String,
}

impl Outcome {
    pub fn count(&mut self, name: &str, n: i64) -> &mut Self {
        *self.counts.entry(name.to_string()).or_default() += n;
        self
    }

    pub fn warn(&mut self, w: impl Into<String>) -> &mut Self {
        self.warnings.push(w.into());
        self
    }
}

/// Wall time per phase of a run (reading, computing, writing), reported
/// as `ms_<phase>` counts: where a slow run's time went is what tells its
/// cause. Laps add up, so a phase can be timed piecewise in a loop; they
/// are summed unrounded and rounded to milliseconds once, in `report`.
pub struct Phases {
    since: std::time::Instant,
    spent: BTreeMap<&'static str, std::time::Duration>,
}

impl Phases {
    pub fn start() -> Phases {
        Phases {
            since: std::time::Instant::now(),
            spent: BTreeMap::new(),
        }
    }

    /// Adds the time since the previous lap (or the start) to `phase`.
    pub fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        *self.spent.entry(phase).or_default() += now - self.since;
        self.since = now;
    }

    pub fn report(&self, out: &mut Outcome) {
        for (phase, d) in &self.spent {
            out.count(&format!("ms_{phase}"), d.as_millis() as i64);
        }
    }
}

/// A failed run. Retryable errors are retried per the schedule's policy;
/// permanent ones (bad configuration, not implemented) are not.
#[derive(Debug)]
pub struct JobError {
    pub retryable: bool,
    pub error: anyhow::Error,
}

impl JobError {
    pub fn retryable(error: anyhow::Error) -> Self {
        JobError {
            retryable: true,
            error,
        }
    }

    pub fn permanent(error: anyhow::Error) -> Self {
        JobError {
            retryable: false,
            error,
        }
    }

    /// The error and its causes, one per line: what the ledger stores.
    pub fn chain(&self) -> String {
        self.error
            .chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("\ncaused by: ")
    }
}

impl From<anyhow::Error> for JobError {
    fn from(error: anyhow::Error) -> Self {
        JobError::retryable(error)
    }
}
