//! The run ledger: what ran, when, how often and how it ended.
//!
//! Identity is the pair (job, slot), unique in `job_runs`, so no number of
//! daemons can create a slot twice. Every claim of a row (first attempt,
//! retry, re-run) bumps its `fence`; heartbeats and results are written with
//! `WHERE fence = $mine`, so a process that lost its claim (it was declared
//! abandoned while paused, say) can no longer write. Staleness is judged on
//! the database's clock (`Storage::now`).

use crate::jobs::JobName;
use crate::on_db;
use crate::storage::BeginWrite as _;
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    CatchUp,
    Manual,
    Backfill,
    Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Abandoned,
    Skipped,
}

macro_rules! string_enum {
    ($ty:ident { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $s),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = anyhow::Error;
            fn from_str(s: &str) -> anyhow::Result<Self> {
                match s {
                    $($s => Ok($ty::$variant),)*
                    other => Err(anyhow::anyhow!("unknown {} {other:?}", stringify!($ty))),
                }
            }
        }
    };
}

string_enum!(Trigger { Schedule => "schedule", CatchUp => "catch_up", Manual => "manual", Backfill => "backfill", Retry => "retry" });
string_enum!(Status { Queued => "queued", Running => "running", Succeeded => "succeeded", Failed => "failed", Abandoned => "abandoned", Skipped => "skipped" });

/// Who holds a claim: one per daemon or command process.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub host: String,
    pub pid: i64,
}

impl Owner {
    pub fn this_process() -> Owner {
        let host = hostname();
        let pid = std::process::id() as i64;
        let nonce = &uuid::Uuid::new_v4().simple().to_string()[..8];
        Owner {
            id: format!("{host}:{pid}:{nonce}"),
            host,
            pid,
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// When an existing row for the slot may be claimed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Scheduled and catch-up fires: an existing row means someone has it.
    Never,
    /// Backfill and plain manual runs: re-run failed, abandoned, skipped or
    /// queued slots, never succeeded or running ones.
    Unfinished,
    /// Forced manual runs: also re-run succeeded slots.
    Always,
}

impl Rerun {
    fn claimable(self) -> &'static str {
        match self {
            Rerun::Never => "",
            Rerun::Unfinished => "'failed', 'abandoned', 'skipped', 'queued'",
            Rerun::Always => "'failed', 'abandoned', 'skipped', 'queued', 'succeeded'",
        }
    }
}

/// A claimed attempt: the holder may run it and must write with its fence.
#[derive(Debug, Clone)]
pub struct Claim {
    pub run_id: i64,
    pub job: JobName,
    pub slot: DateTime<Utc>,
    pub attempt: i32,
    pub fence: i64,
    pub trigger: Trigger,
}

/// What claiming a slot found.
#[derive(Debug)]
pub enum ClaimResult {
    Claimed(Claim),
    /// A row exists and may not be claimed now (its status says why).
    Taken {
        run_id: i64,
        status: Status,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub slot: DateTime<Utc>,
    pub trigger: String,
    pub attempt: i32,
    pub status: String,
    pub queued_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub owner: Option<String>,
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub counts: Option<serde_json::Value>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub report_path: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub run_id: i64,
    pub attempt: i32,
    pub trigger: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    pub owner: Option<String>,
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub error: Option<String>,
}

/// How an attempt ended, as written by [`Ledger::finish`].
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// When the attempt started, if known: `mark_started` runs beside the
    /// job and may not have landed when a job fails at once.
    pub started_at: Option<DateTime<Utc>>,
    pub counts: Option<serde_json::Value>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub report_path: Option<String>,
}

const RUN_COLUMNS: &str = "id, job, slot, trigger, attempt, status, queued_at, next_attempt_at, started_at, finished_at, heartbeat_at, owner, host, pid, counts, warnings, error, report_path";

macro_rules! run_row {
    ($row:expr) => {{
        let row = $row;
        let counts: Option<String> = row.try_get("counts")?;
        let warnings: Option<String> = row.try_get("warnings")?;
        RunRow {
            id: row.try_get("id")?,
            job: row.try_get("job")?,
            slot: row.try_get("slot")?,
            trigger: row.try_get("trigger")?,
            attempt: row.try_get("attempt")?,
            status: row.try_get("status")?,
            queued_at: row.try_get("queued_at")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            heartbeat_at: row.try_get("heartbeat_at")?,
            owner: row.try_get("owner")?,
            host: row.try_get("host")?,
            pid: row.try_get("pid")?,
            counts: counts.and_then(|c| serde_json::from_str(&c).ok()),
            warnings: warnings
                .and_then(|w| serde_json::from_str(&w).ok())
                .unwrap_or_default(),
            error: row.try_get("error")?,
            report_path: row.try_get("report_path")?,
        }
    }};
}

#[derive(Clone, Debug)]
pub struct Ledger {
    pub storage: Storage,
}

impl Ledger {
    pub fn new(storage: Storage) -> Ledger {
        Ledger { storage }
    }

    /// Claims (job, slot) for `owner`: inserts the row, or, as `rerun`
    /// allows, takes an existing row as a further attempt.
    pub async fn claim(
        &self,
        job: JobName,
        slot: DateTime<Utc>,
        trigger: Trigger,
        owner: &Owner,
        rerun: Rerun,
    ) -> anyhow::Result<ClaimResult> {
        let now = self.storage.now().await?;
        let inserted: Option<i64> = on_db!(&self.storage.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO job_runs (job, slot, trigger, attempt, fence, status, queued_at, heartbeat_at, owner, host, pid)
                 VALUES ($1, $2, $3, 1, 1, 'running', $4, $4, $5, $6, $7)
                 ON CONFLICT (job, slot) DO NOTHING RETURNING id",
            )
            .bind(job.as_str())
            .bind(slot)
            .bind(trigger.as_str())
            .bind(now)
            .bind(&owner.id)
            .bind(&owner.host)
            .bind(owner.pid)
            .fetch_optional(pool)
            .await?
        });
        if let Some(run_id) = inserted {
            return Ok(ClaimResult::Claimed(Claim {
                run_id,
                job,
                slot,
                attempt: 1,
                fence: 1,
                trigger,
            }));
        }
        if rerun != Rerun::Never {
            let sql = format!(
                "UPDATE job_runs SET attempt = attempt + 1, fence = fence + 1, status = 'running',
                     trigger = $3, heartbeat_at = $4, owner = $5, host = $6, pid = $7,
                     started_at = NULL, finished_at = NULL, next_attempt_at = NULL
                 WHERE job = $1 AND slot = $2 AND status IN ({})
                 RETURNING id, attempt, fence",
                rerun.claimable()
            );
            let claimed: Option<(i64, i32, i64)> = on_db!(&self.storage.db, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(job.as_str())
                    .bind(slot)
                    .bind(trigger.as_str())
                    .bind(now)
                    .bind(&owner.id)
                    .bind(&owner.host)
                    .bind(owner.pid)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some((run_id, attempt, fence)) = claimed {
                return Ok(ClaimResult::Claimed(Claim {
                    run_id,
                    job,
                    slot,
                    attempt,
                    fence,
                    trigger,
                }));
            }
        }
        let (run_id, status): (i64, String) = on_db!(&self.storage.db, pool => {
            sqlx::query_as("SELECT id, status FROM job_runs WHERE job = $1 AND slot = $2")
                .bind(job.as_str())
                .bind(slot)
                .fetch_one(pool)
                .await?
        });
        Ok(ClaimResult::Taken {
            run_id,
            status: status.parse()?,
        })
    }

    /// Claims a queued run that is due (a retry or a manual trigger), by id.
    pub async fn claim_queued(&self, run_id: i64, owner: &Owner) -> anyhow::Result<Option<Claim>> {
        let now = self.storage.now().await?;
        let row: Option<(String, DateTime<Utc>, String, i32, i64)> = on_db!(&self.storage.db, pool => {
            sqlx::query_as(
                "UPDATE job_runs SET attempt = attempt + 1, fence = fence + 1, status = 'running',
                     heartbeat_at = $2, owner = $3, host = $4, pid = $5, started_at = NULL,
                     finished_at = NULL, next_attempt_at = NULL
                 WHERE id = $1 AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
                 RETURNING job, slot, trigger, attempt, fence",
            )
            .bind(run_id)
            .bind(now)
            .bind(&owner.id)
            .bind(&owner.host)
            .bind(owner.pid)
            .fetch_optional(pool)
            .await?
        });
        let Some((job, slot, trigger, attempt, fence)) = row else {
            return Ok(None);
        };
        Ok(Some(Claim {
            run_id,
            job: job.parse()?,
            slot,
            attempt,
            fence,
            trigger: trigger.parse()?,
        }))
    }

    /// Ids of queued runs that are due now, oldest first.
    pub async fn due_queued(&self, limit: i64) -> anyhow::Result<Vec<i64>> {
        let now = self.storage.now().await?;
        Ok(on_db!(&self.storage.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM job_runs WHERE status = 'queued'
                   AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
                 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Queues a manual run of (job, slot) for a daemon to pick up. An
    /// existing row that is not running is queued again as a further attempt.
    pub async fn enqueue(
        &self,
        job: JobName,
        slot: DateTime<Utc>,
        trigger: Trigger,
    ) -> anyhow::Result<i64> {
        let now = self.storage.now().await?;
        let id: Option<i64> = on_db!(&self.storage.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO job_runs (job, slot, trigger, status, queued_at, next_attempt_at)
                 VALUES ($1, $2, $3, 'queued', $4, $4)
                 ON CONFLICT (job, slot) DO UPDATE SET status = 'queued', trigger = $3,
                     next_attempt_at = $4, owner = NULL
                 WHERE job_runs.status <> 'running'
                 RETURNING id",
            )
            .bind(job.as_str())
            .bind(slot)
            .bind(trigger.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        id.ok_or_else(|| anyhow::anyhow!("{job} at {slot} is running now; not queued again"))
    }

    /// Records the moment the job itself started.
    pub async fn mark_started(&self, claim: &Claim, at: DateTime<Utc>) -> anyhow::Result<bool> {
        let n = on_db!(&self.storage.db, pool => {
            sqlx::query("UPDATE job_runs SET started_at = $3 WHERE id = $1 AND fence = $2")
                .bind(claim.run_id)
                .bind(claim.fence)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Refreshes the heartbeat; false means the claim was lost (fenced out).
    pub async fn heartbeat(&self, claim: &Claim) -> anyhow::Result<bool> {
        let now = self.storage.now().await?;
        let n = on_db!(&self.storage.db, pool => {
            sqlx::query("UPDATE job_runs SET heartbeat_at = $3 WHERE id = $1 AND fence = $2 AND status = 'running'")
                .bind(claim.run_id)
                .bind(claim.fence)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Ends an attempt: writes the result and appends it to the attempt
    /// history. With `retry_at`, the run goes back to `queued` for a retry.
    /// Returns false if the claim was lost (nothing written).
    pub async fn finish(
        &self,
        claim: &Claim,
        status: Status,
        result: &Finish,
        retry_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<bool> {
        let now = self.storage.now().await?;
        let counts = result.counts.as_ref().map(|c| c.to_string());
        let warnings = serde_json::to_string(&result.warnings)?;
        let (row_status, attempt_status) = match retry_at {
            Some(_) => ("queued", status.as_str()),
            None => (status.as_str(), status.as_str()),
        };
        on_db!(&self.storage.db, pool => {
            let mut tx = pool.begin_write().await?;
            // History first, copied from the row while it still names its owner.
            let n = sqlx::query(
                "INSERT INTO job_run_attempts (run_id, attempt, trigger, status, started_at, finished_at, owner, host, pid, counts, error)
                 SELECT id, attempt, trigger, $3, COALESCE(started_at, $7), $4, owner, host, pid, $5, $6
                 FROM job_runs WHERE id = $1 AND fence = $2 AND status = 'running'
                 ON CONFLICT (run_id, attempt) DO NOTHING",
            )
            .bind(claim.run_id)
            .bind(claim.fence)
            .bind(attempt_status)
            .bind(now)
            .bind(&counts)
            .bind(&result.error)
            .bind(result.started_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE job_runs SET status = $3, finished_at = $4, counts = $5, warnings = $6,
                     error = $7, report_path = COALESCE($8, report_path), next_attempt_at = $9,
                     started_at = COALESCE(started_at, $10),
                     trigger = CASE WHEN $9 IS NULL THEN trigger ELSE 'retry' END,
                     owner = CASE WHEN $9 IS NULL THEN owner ELSE NULL END
                 WHERE id = $1 AND fence = $2",
            )
            .bind(claim.run_id)
            .bind(claim.fence)
            .bind(row_status)
            .bind(now)
            .bind(&counts)
            .bind(&warnings)
            .bind(&result.error)
            .bind(&result.report_path)
            .bind(retry_at)
            .bind(result.started_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Gives back a claim whose job never started (shutdown or reload
    /// between claim and fire), so the slot can be claimed afresh.
    pub async fn release(&self, claim: &Claim) -> anyhow::Result<()> {
        on_db!(&self.storage.db, pool => {
            if claim.attempt == 1 {
                sqlx::query("DELETE FROM job_runs WHERE id = $1 AND fence = $2 AND started_at IS NULL")
                    .bind(claim.run_id)
                    .bind(claim.fence)
                    .execute(pool)
                    .await?;
            } else {
                sqlx::query(
                    "UPDATE job_runs SET status = 'queued', owner = NULL, fence = fence + 1,
                         next_attempt_at = heartbeat_at
                     WHERE id = $1 AND fence = $2 AND started_at IS NULL",
                )
                .bind(claim.run_id)
                .bind(claim.fence)
                .execute(pool)
                .await?;
            }
        });
        Ok(())
    }

    /// Marks running rows abandoned when their heartbeat is older than
    /// `timeout` on the database clock, or when they belong to a process on
    /// this host that is gone. Each becomes a finished attempt; runs with
    /// attempts left (per `max_attempts`) are queued for a retry.
    pub async fn reap_abandoned(
        &self,
        timeout: chrono::Duration,
        max_attempts: impl Fn(&str) -> i32,
        retry_backoff: impl Fn(&str) -> chrono::Duration,
    ) -> anyhow::Result<Vec<RunRow>> {
        let now = self.storage.now().await?;
        let host = hostname();
        let running = self.runs_with_status(Status::Running).await?;
        let mut reaped = vec![];
        for run in running {
            let stale = run.heartbeat_at.is_none_or(|h| h < now - timeout);
            let dead_here = run.host.as_deref() == Some(host.as_str())
                && run.pid.is_some_and(|pid| !process_alive(pid));
            if !(stale || dead_here) {
                continue;
            }
            let retry = run.attempt < max_attempts(&run.job);
            let next_at = retry.then(|| now + retry_backoff(&run.job));
            let error = format!(
                "abandoned: {} (owner {})",
                if dead_here {
                    "its process is gone"
                } else {
                    "heartbeat stopped"
                },
                run.owner.as_deref().unwrap_or("?")
            );
            let done = on_db!(&self.storage.db, pool => {
                let mut tx = pool.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE job_runs SET status = $3, fence = fence + 1, finished_at = $4, error = $5,
                         next_attempt_at = $6, owner = NULL,
                         trigger = CASE WHEN $6 IS NULL THEN trigger ELSE 'retry' END
                     WHERE id = $1 AND status = 'running' AND attempt = $2",
                )
                .bind(run.id)
                .bind(run.attempt)
                .bind(if retry { "queued" } else { "abandoned" })
                .bind(now)
                .bind(&error)
                .bind(next_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    sqlx::query(
                        "INSERT INTO job_run_attempts (run_id, attempt, trigger, status, started_at, finished_at, owner, host, pid, error)
                         VALUES ($1, $2, $3, 'abandoned', $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (run_id, attempt) DO NOTHING",
                    )
                    .bind(run.id)
                    .bind(run.attempt)
                    .bind(&run.trigger)
                    .bind(run.started_at)
                    .bind(now)
                    .bind(&run.owner)
                    .bind(&run.host)
                    .bind(run.pid)
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                n == 1
            });
            if done {
                reaped.push(run);
            }
        }
        Ok(reaped)
    }

    /// The latest slot the schedule (or catch-up) recorded for a job.
    pub async fn last_scheduled_slot(&self, job: JobName) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(on_db!(&self.storage.db, pool => {
            sqlx::query_scalar(
                "SELECT slot FROM job_runs WHERE job = $1 AND trigger IN ('schedule', 'catch_up', 'retry')
                 ORDER BY slot DESC LIMIT 1",
            )
            .bind(job.as_str())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Whether another run of `job` is running (on any instance).
    pub async fn other_running(&self, job: JobName, except: i64) -> anyhow::Result<Option<i64>> {
        Ok(on_db!(&self.storage.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM job_runs WHERE job = $1 AND status = 'running' AND id <> $2
                   AND started_at IS NOT NULL LIMIT 1",
            )
            .bind(job.as_str())
            .bind(except)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn runs_with_status(&self, status: Status) -> anyhow::Result<Vec<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE status = $1 ORDER BY id");
        Ok(on_db!(&self.storage.db, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(status.as_str()).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(run_row!(row));
            }
            out
        }))
    }

    /// Newest runs first, optionally of one job.
    pub async fn recent(&self, job: Option<JobName>, limit: i64) -> anyhow::Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE (CAST($1 AS TEXT) IS NULL OR job = CAST($1 AS TEXT))
             ORDER BY slot DESC, id DESC LIMIT $2"
        );
        let job = job.map(|j| j.as_str().to_string());
        Ok(on_db!(&self.storage.db, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(&job).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(run_row!(row));
            }
            out
        }))
    }

    /// Every run of a job with a slot in [from, to], oldest first.
    pub async fn runs_between(
        &self,
        job: JobName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE job = $1 AND slot >= $2 AND slot <= $3 ORDER BY slot"
        );
        Ok(on_db!(&self.storage.db, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(job.as_str()).bind(from).bind(to).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(run_row!(row));
            }
            out
        }))
    }

    pub async fn get(&self, run_id: i64) -> anyhow::Result<Option<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE id = $1");
        Ok(on_db!(&self.storage.db, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(run_id).fetch_optional(pool).await? {
                Some(row) => Some(run_row!(row)),
                None => None,
            }
        }))
    }

    /// The latest run of every job (for the reports index).
    pub async fn latest_per_job(&self, per_job: i64) -> anyhow::Result<Vec<RunRow>> {
        let mut out = vec![];
        for job in JobName::ALL {
            out.extend(self.recent(Some(job), per_job).await?);
        }
        Ok(out)
    }

    pub async fn attempts(&self, run_id: i64) -> anyhow::Result<Vec<AttemptRow>> {
        Ok(on_db!(&self.storage.db, pool => {
            let rows = sqlx::query(
                "SELECT run_id, attempt, trigger, status, started_at, finished_at, owner, host, pid, error
                 FROM job_run_attempts WHERE run_id = $1 ORDER BY attempt",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(AttemptRow {
                    run_id: row.try_get("run_id")?,
                    attempt: row.try_get("attempt")?,
                    trigger: row.try_get("trigger")?,
                    status: row.try_get("status")?,
                    started_at: row.try_get("started_at")?,
                    finished_at: row.try_get("finished_at")?,
                    owner: row.try_get("owner")?,
                    host: row.try_get("host")?,
                    pid: row.try_get("pid")?,
                    error: row.try_get("error")?,
                });
            }
            out
        }))
    }

    /// Registers or refreshes a daemon instance's heartbeat.
    pub async fn instance_heartbeat(&self, owner: &Owner, stopping: bool) -> anyhow::Result<()> {
        let now = self.storage.now().await?;
        let stopped = stopping.then_some(now);
        on_db!(&self.storage.db, pool => {
            sqlx::query(
                "INSERT INTO daemon_instances (owner, host, pid, version, started_at, heartbeat_at, stopped_at)
                 VALUES ($1, $2, $3, $4, $5, $5, $6)
                 ON CONFLICT (owner) DO UPDATE SET heartbeat_at = $5, stopped_at = $6",
            )
            .bind(&owner.id)
            .bind(&owner.host)
            .bind(owner.pid)
            .bind(env!("CARGO_PKG_VERSION"))
            .bind(now)
            .bind(stopped)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// Whether a process with this pid exists on this host.
pub fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM still means it exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
