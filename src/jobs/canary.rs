//! `canary`: a diagnostic job that proves the scheduler fires.
//!
//! Reads: `jobs/canary.toml` (optional): `work_ms` (how long to work, default
//! 0), `fail_attempts` (fail this many first attempts with a retryable error,
//! default 0). Writes: nothing but its ledger row and report, whose counts
//! include `fire_delay_us` (how late the run started after its slot).
//! Schedule: any; operators point a dead-man's switch at its reports.
//! Rerun safety: trivially safe, it writes no data.

use super::{JobContext, JobError, Outcome};
use anyhow::anyhow;
use chrono::Utc;

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let delay = Utc::now() - ctx.slot;
    let param = |key: &str| -> Result<i64, JobError> {
        match ctx.params.get(key) {
            None => Ok(0),
            Some(toml::Value::Integer(n)) if *n >= 0 => Ok(*n),
            Some(other) => Err(JobError::permanent(anyhow!(
                "jobs/canary.toml: {key} must be a non-negative integer, found {other}"
            ))),
        }
    };
    let work_ms = param("work_ms")?;
    let fail_attempts = param("fail_attempts")?;
    if work_ms > 0 {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(work_ms as u64)) => {}
            _ = ctx.cancel.cancelled() => return Err(JobError::permanent(anyhow!("cancelled while working"))),
        }
    }
    if i64::from(ctx.attempt) <= fail_attempts {
        return Err(JobError::retryable(anyhow!(
            "canary asked to fail attempt {} of its first {fail_attempts}",
            ctx.attempt
        )));
    }
    let mut out = Outcome::default();
    out.count(
        "fire_delay_us",
        delay.num_microseconds().unwrap_or(i64::MAX),
    );
    out.markdown = format!(
        "Started {} µs after its slot.\n",
        delay.num_microseconds().unwrap_or(0)
    );
    Ok(out)
}
