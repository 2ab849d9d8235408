//! Running one attempt of one job, the same way for every trigger: the
//! daemon's scheduled fires, catch-up, queued triggers and retries, and the
//! foreground `tickerd run` / `backfill` commands.
//!
//! An attempt: read the job's parameters, record its start, run it under a
//! timeout with a heartbeat (a lost claim cancels it), turn the result —
//! success, error, timeout or panic — into a ledger status, write its
//! report, and queue a retry when the policy allows.

use crate::cache::Cache;
use crate::diagnostics::SourceFile;
use crate::jobs::{self, JobContext, JobError, JobName, Outcome};
use crate::ledger::{Claim, ClaimResult, Finish, Ledger, Owner, Rerun, Status, Trigger};
use crate::reports::{Reports, RunReport};
use crate::schedule::JobSchedule;
use crate::settings::Settings;
use crate::storage::Storage;
use crate::time::Clock;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The HTTP client jobs share, built on first use: building it parses the
/// TLS root store, which a daemon whose jobs make no requests (or a `plan`)
/// should not pay for in memory.
#[derive(Clone, Default)]
pub struct HttpClient(Arc<std::sync::OnceLock<reqwest::Client>>);

impl HttpClient {
    pub fn get(&self) -> reqwest::Client {
        self.0
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("tickerd/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(std::time::Duration::from_secs(10))
                    .timeout(std::time::Duration::from_secs(60))
                    .build()
                    // Only fails if the TLS backend cannot initialise at all.
                    .expect("building the HTTP client")
            })
            .clone()
    }
}

/// The parts of a schedule that govern one attempt.
#[derive(Debug, Clone)]
pub struct Policy {
    pub timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
}

impl Policy {
    pub fn of(s: &JobSchedule) -> Policy {
        Policy {
            timeout: s.timeout,
            retries: s.retries,
            retry_backoff: s.retry_backoff,
        }
    }

    pub fn max_attempts(&self) -> i32 {
        self.retries as i32 + 1
    }

    /// Exponential backoff with ±20% jitter, capped at an hour.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let base = self.retry_backoff.num_milliseconds().max(1) as f64;
        let exp = base * 2f64.powi((attempt - 1).clamp(0, 20));
        let jitter = rand::rng().random_range(0.8..1.2);
        Duration::milliseconds((exp * jitter).min(3_600_000.0) as i64)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::hours(1),
            retries: 0,
            retry_backoff: Duration::seconds(30),
        }
    }
}

/// Why a run was cancelled: decides whether it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    Shutdown,
    Replaced,
    LostClaim,
}

/// A run's cancellation handle.
#[derive(Clone, Debug, Default)]
pub struct RunCancel {
    pub token: CancellationToken,
    reason: Arc<Mutex<Option<CancelReason>>>,
}

impl RunCancel {
    pub fn child_of(parent: &CancellationToken) -> RunCancel {
        RunCancel {
            token: parent.child_token(),
            reason: Arc::default(),
        }
    }

    pub fn cancel(&self, reason: CancelReason) {
        self.reason
            .lock()
            .expect("cancel lock")
            .get_or_insert(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<CancelReason> {
        if !self.token.is_cancelled() {
            return None;
        }
        // A parent token cancelled us: that is a shutdown.
        Some(
            self.reason
                .lock()
                .expect("cancel lock")
                .unwrap_or(CancelReason::Shutdown),
        )
    }
}

/// A claimed attempt, ready to start the moment its slot arrives.
pub struct Prepared {
    pub claim: Claim,
    pub policy: Policy,
    pub cancel: RunCancel,
    params: Result<toml::Table, String>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub claim: Claim,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub retry_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub report_path: Option<String>,
    /// What the run reported as alerts (its `alerts` count): a regression
    /// found is a successful run that `tickerd run` still exits non-zero for.
    pub alerts: i64,
}

/// What `run_slot` did.
#[derive(Debug)]
pub enum SlotOutcome {
    Ran(AttemptOutcome),
    /// The slot already has a row that may not be run now.
    Taken {
        run_id: i64,
        status: Status,
    },
}

impl SlotOutcome {
    pub fn succeeded(&self) -> bool {
        match self {
            SlotOutcome::Ran(a) => a.status == Status::Succeeded,
            SlotOutcome::Taken { status, .. } => *status == Status::Succeeded,
        }
    }
}

pub struct Runner {
    pub ledger: Ledger,
    pub cache: Cache,
    pub http: HttpClient,
    pub settings: Arc<Settings>,
    pub reports: Reports,
    pub owner: Owner,
    pub clock: Clock,
    /// Set when a run finished since the reports index was last written.
    index_dirty: Notify,
}

impl Runner {
    pub fn new(
        storage: Storage,
        cache: Cache,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> anyhow::Result<Runner> {
        Ok(Runner {
            ledger: Ledger::new(storage),
            cache,
            http: HttpClient::default(),
            reports: Reports::new(settings.reports_dir.clone()),
            settings,
            owner: Owner::this_process(),
            clock,
            index_dirty: Notify::new(),
        })
    }

    pub fn storage(&self) -> &Storage {
        &self.ledger.storage
    }

    /// Reads `jobs/NAME.toml` (missing means no parameters). Read at every
    /// run, so an operator's edit applies to the next run without a reload.
    pub fn load_params(&self, job: JobName) -> Result<toml::Table, String> {
        load_job_params(&self.settings.jobs_dir, job)
    }

    pub fn prepare(&self, claim: Claim, policy: Policy, cancel: RunCancel) -> Prepared {
        let params = self.load_params(claim.job);
        Prepared {
            claim,
            policy,
            cancel,
            params,
        }
    }

    /// Runs a prepared attempt to its end and records it.
    pub async fn execute(&self, p: Prepared) -> anyhow::Result<AttemptOutcome> {
        let span = tracing::info_span!(
            "run",
            job = %p.claim.job,
            slot = %p.claim.slot.to_rfc3339(),
            run_id = p.claim.run_id,
            attempt = p.claim.attempt,
            trigger = %p.claim.trigger,
        );
        self.execute_inner(p).instrument(span).await
    }

    async fn execute_inner(&self, p: Prepared) -> anyhow::Result<AttemptOutcome> {
        let Prepared {
            claim,
            policy,
            cancel,
            params,
        } = p;
        let started_at = self.clock.now();
        // The job's own token: cancelled on timeout without marking the run
        // as cancelled by anyone (a timeout is retried per policy).
        let job_token = cancel.token.child_token();
        let result = match params {
            Err(e) => Err(JobError::permanent(anyhow::anyhow!(e))),
            Ok(params) => {
                let ctx = JobContext {
                    job: claim.job,
                    slot: claim.slot,
                    run_id: claim.run_id,
                    attempt: claim.attempt,
                    trigger: claim.trigger,
                    storage: self.ledger.storage.clone(),
                    cache: self.cache.clone(),
                    clock: self.clock.clone(),
                    http: self.http.clone(),
                    settings: self.settings.clone(),
                    params,
                    cancel: job_token.clone(),
                };
                self.supervise(&claim, started_at, &policy, &cancel, &job_token, ctx)
                    .await
            }
        };
        let finished_at = self.clock.now();

        let (status, outcome, error, retryable) = match result {
            Ok(outcome) => (Status::Succeeded, outcome, None, false),
            Err(e) => {
                let retryable = match cancel.reason() {
                    Some(CancelReason::Shutdown) => true,
                    Some(CancelReason::Replaced | CancelReason::LostClaim) => false,
                    None => e.retryable,
                };
                (
                    Status::Failed,
                    Outcome::default(),
                    Some(e.chain()),
                    retryable,
                )
            }
        };
        let retry_at = (retryable && claim.attempt < policy.max_attempts()).then(|| {
            if cancel.reason() == Some(CancelReason::Shutdown) {
                finished_at
            } else {
                finished_at + policy.backoff(claim.attempt)
            }
        });
        match (&error, retry_at) {
            (None, _) => tracing::info!(
                ms = (finished_at - started_at).num_milliseconds(),
                "run succeeded"
            ),
            (Some(e), Some(at)) => {
                tracing::warn!(error = %e, retry_at = %at.to_rfc3339(), "run failed; retry queued")
            }
            (Some(e), None) => tracing::error!(error = %e, "run failed"),
        }

        let earlier = self.ledger.attempts(claim.run_id).await.unwrap_or_default();
        let report = RunReport {
            job: claim.job.to_string(),
            run_id: claim.run_id,
            slot: claim.slot,
            trigger: claim.trigger.to_string(),
            attempt: claim.attempt,
            status: match retry_at {
                Some(_) => "failed (retry queued)".into(),
                None => status.to_string(),
            },
            started_at,
            finished_at,
            duration_ms: (finished_at - started_at).num_milliseconds(),
            counts: outcome.counts.clone(),
            warnings: outcome.warnings.clone(),
            error: error.clone(),
            retry_at,
            attempts: earlier,
            details: outcome.details.clone(),
            markdown: outcome.markdown.clone(),
        };
        let reports = self.reports.clone();
        let report_path = match tokio::task::spawn_blocking(move || reports.write_run(&report))
            .await?
        {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, dir = %self.reports.dir.display(), "cannot write the run report");
                None
            }
        };
        let alerts = outcome.counts.get("alerts").copied().unwrap_or(0);
        let finish = Finish {
            started_at: Some(started_at),
            counts: Some(serde_json::to_value(&outcome.counts)?),
            warnings: outcome.warnings,
            error: error.clone(),
            report_path: report_path.clone(),
        };
        if !self
            .ledger
            .finish(&claim, status, &finish, retry_at)
            .await?
        {
            tracing::warn!(
                "the claim was taken over (abandoned and re-run elsewhere); result not recorded"
            );
        }
        self.index_dirty.notify_one();
        Ok(AttemptOutcome {
            claim,
            status,
            started_at,
            retry_at,
            error,
            report_path,
            alerts,
        })
    }

    /// Runs the job with its timeout and heartbeat; panics become errors.
    async fn supervise(
        &self,
        claim: &Claim,
        started_at: DateTime<Utc>,
        policy: &Policy,
        cancel: &RunCancel,
        job_token: &CancellationToken,
        ctx: JobContext,
    ) -> Result<Outcome, JobError> {
        let timeout = policy
            .timeout
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(3600));
        let mut job = tokio::spawn(
            async move { tokio::time::timeout(timeout, jobs::run(&ctx)).await }.in_current_span(),
        );
        // Record the start alongside the job, not before it: the job starts
        // at its instant whatever the database's latency.
        let ledger = self.ledger.clone();
        let (c, at) = (claim.clone(), started_at);
        tokio::spawn(async move {
            if let Err(e) = ledger.mark_started(&c, at).await {
                tracing::warn!(error = %e, "cannot record the run's start");
            }
        });
        let every = std::time::Duration::from_secs(self.settings.heartbeat_secs.max(1));
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let joined = loop {
            tokio::select! {
                r = &mut job => break r,
                _ = beat.tick() => match self.ledger.heartbeat(claim).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!("lost the claim on this run (declared abandoned elsewhere); cancelling");
                        cancel.cancel(CancelReason::LostClaim);
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                },
            }
        };
        match joined {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => {
                job_token.cancel();
                Err(JobError::retryable(anyhow::anyhow!(
                    "timed out after {}s",
                    policy.timeout.num_seconds()
                )))
            }
            Err(join) if join.is_panic() => {
                let payload = join.into_panic();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(JobError::permanent(anyhow::anyhow!(
                    "the job panicked: {msg}"
                )))
            }
            Err(join) => Err(JobError::permanent(anyhow::anyhow!(
                "the job task was aborted: {join}"
            ))),
        }
    }

    /// Claims (job, slot) and runs it in the foreground, waiting out retries
    /// (each a further attempt on the same row).
    pub async fn run_slot(
        &self,
        job: JobName,
        slot: DateTime<Utc>,
        trigger: Trigger,
        rerun: Rerun,
        policy: &Policy,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<SlotOutcome> {
        let claim = match self
            .ledger
            .claim(job, slot, trigger, &self.owner, rerun)
            .await?
        {
            ClaimResult::Claimed(c) => c,
            ClaimResult::Taken { run_id, status } => {
                return Ok(SlotOutcome::Taken { run_id, status })
            }
        };
        let mut outcome = self
            .execute(self.prepare(claim, policy.clone(), RunCancel::child_of(shutdown)))
            .await?;
        while let Some(at) = outcome.retry_at {
            if shutdown.is_cancelled() {
                break;
            }
            tokio::select! {
                _ = self.clock.sleep_until(at) => {}
                _ = shutdown.cancelled() => break,
            }
            let Some(claim) = self
                .ledger
                .claim_queued(outcome.claim.run_id, &self.owner)
                .await?
            else {
                // Someone else (a daemon) took the retry.
                break;
            };
            outcome = self
                .execute(self.prepare(claim, policy.clone(), RunCancel::child_of(shutdown)))
                .await?;
        }
        Ok(SlotOutcome::Ran(outcome))
    }

    /// Rewrites `reports/index.html` from the ledger.
    pub async fn refresh_index(&self) -> anyhow::Result<()> {
        let runs = self.ledger.latest_per_job(20).await?;
        let reports = self.reports.clone();
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || reports.write_index(&runs, now)).await??;
        Ok(())
    }

    /// Resolves when a run finished since the last call.
    pub async fn index_dirty(&self) {
        self.index_dirty.notified().await
    }
}

/// Reads `jobs/NAME.toml` (missing means no parameters); a parse error
/// names the file and line. What the runner gives each job, and what
/// commands and jobs use to read another job's parameters.
pub fn load_job_params(jobs_dir: &std::path::Path, job: JobName) -> Result<toml::Table, String> {
    let path = jobs_dir.join(format!("{job}.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    toml::from_str(&text).map_err(|e| {
        let src = SourceFile {
            path: &path,
            text: &text,
        };
        src.problem(e.span().map(|s| s.start), "", e.message())
            .to_string()
    })
}
