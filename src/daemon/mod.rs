//! The daemon: fires every enabled job at its slots, picks up queued runs
//! (manual triggers, retries), reaps abandoned runs, catches up after
//! downtime, reloads its schedules on request and drains on shutdown.
//!
//! One driver task per job computes its next slot (zone, DST and calendar
//! applied), claims the slot in the ledger shortly *before* the instant, and
//! starts the job *at* the instant, so database latency is off the fire
//! path. The ledger's unique (job, slot) makes a slot run once however many
//! daemons share a PostgreSQL database.

mod catch_up;
mod lock;

pub use catch_up::CatchUpPlan;
pub use lock::{DaemonLock, PidFile};

use crate::jobs::JobName;
use crate::ledger::{ClaimResult, Finish, Rerun, Status, Trigger};
use crate::runner::{CancelReason, Policy, Prepared, RunCancel, Runner};
use crate::schedule::{JobSchedule, Overlap, Schedules};
use crate::time::Calendars;
use chrono::Duration;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long before its instant a slot is claimed in the ledger.
const CLAIM_LEAD: Duration = Duration::milliseconds(900);
/// How long before its instant the cross-instance overlap check runs.
const OVERLAP_CHECK_LEAD: Duration = Duration::milliseconds(40);

/// Where the daemon's schedules come from, for reloads.
#[derive(Debug, Clone)]
pub struct ScheduleSource {
    pub schedules_path: PathBuf,
    pub calendars_dir: PathBuf,
}

impl ScheduleSource {
    pub fn load(&self) -> Result<Schedules, crate::diagnostics::Problems> {
        let (calendars, problems) = Calendars::load_dir(&self.calendars_dir);
        let loaded = Schedules::load(&self.schedules_path, &calendars);
        match (loaded, problems.is_empty()) {
            (Ok(s), true) => Ok(s),
            (Ok(_), false) => Err(crate::diagnostics::Problems(problems)),
            (Err(mut e), _) => {
                e.0.extend(problems);
                Err(e)
            }
        }
    }
}

/// Handles to steer a running daemon (what the signals do).
#[derive(Clone, Default)]
pub struct DaemonHandle {
    pub shutdown: CancellationToken,
    pub reload: Arc<Notify>,
    pub wake: Arc<Notify>,
}

struct Active {
    run_id: i64,
    cancel: RunCancel,
    done: watch::Receiver<bool>,
}

pub struct Daemon {
    pub runner: Arc<Runner>,
    source: ScheduleSource,
    schedules: Mutex<Arc<Schedules>>,
    pub handle: DaemonHandle,
    /// Parent of every run's cancellation (cancelled when the drain times out).
    runs: CancellationToken,
    tracker: TaskTracker,
    active: Mutex<HashMap<JobName, Active>>,
}

impl Daemon {
    pub fn new(runner: Arc<Runner>, source: ScheduleSource, schedules: Schedules) -> Arc<Daemon> {
        Arc::new(Daemon {
            runner,
            source,
            schedules: Mutex::new(Arc::new(schedules)),
            handle: DaemonHandle::default(),
            runs: CancellationToken::new(),
            tracker: TaskTracker::new(),
            active: Mutex::new(HashMap::new()),
        })
    }

    pub fn schedules(&self) -> Arc<Schedules> {
        self.schedules.lock().expect("schedules lock").clone()
    }

    /// Runs until `handle.shutdown` is cancelled, then drains.
    pub async fn run(self: Arc<Self>) -> anyhow::Result<()> {
        let settings = self.runner.settings.clone();
        self.runner
            .ledger
            .instance_heartbeat(&self.runner.owner, false)
            .await?;
        tracing::info!(owner = %self.runner.owner.id, database = %self.runner.storage().display, "daemon started");
        self.reap_once().await;
        let plan = self.catch_up_plan().await?;
        self.start_catch_up(plan);

        let background = CancellationToken::new();
        let mut helpers = JoinSet::new();
        helpers.spawn(self.clone().queue_loop(background.clone()));
        helpers.spawn(self.clone().maintenance_loop(background.clone()));
        helpers.spawn(self.clone().index_loop(background.clone()));

        let mut drivers = self.start_drivers();
        loop {
            tokio::select! {
                _ = self.handle.shutdown.cancelled() => break,
                _ = self.handle.reload.notified() => {
                    match self.source.load() {
                        Ok(new) => {
                            drivers.stop().await;
                            *self.schedules.lock().expect("schedules lock") = Arc::new(new);
                            drivers = self.start_drivers();
                            tracing::info!(file = %self.source.schedules_path.display(), "schedules reloaded");
                        }
                        Err(problems) => {
                            tracing::error!(file = %self.source.schedules_path.display(), problems = %problems.to_string().trim_end(), "reload rejected; keeping the running schedules");
                        }
                    }
                }
            }
        }

        // Drain: no new runs; running ones get the grace period, then are
        // cancelled (and queued for a retry that the next daemon picks up).
        tracing::info!("shutting down: no new runs; draining");
        drivers.stop().await;
        background.cancel();
        while helpers.join_next().await.is_some() {}
        self.tracker.close();
        let grace = std::time::Duration::from_secs(settings.drain_grace_secs);
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = settings.drain_grace_secs,
                "grace period over; cancelling running jobs"
            );
            self.runs.cancel();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.tracker.wait()).await;
        }
        if let Err(e) = self.runner.refresh_index().await {
            tracing::warn!(error = %e, "cannot write the reports index");
        }
        self.runner
            .ledger
            .instance_heartbeat(&self.runner.owner, true)
            .await?;
        tracing::info!("daemon stopped");
        Ok(())
    }

    fn start_drivers(self: &Arc<Self>) -> Drivers {
        let stop = CancellationToken::new();
        let mut set = JoinSet::new();
        for sched in self.schedules().jobs.values().filter(|s| s.enabled) {
            set.spawn(self.clone().drive(sched.clone(), stop.clone()));
        }
        Drivers { stop, set }
    }

    /// One job's schedule loop.
    async fn drive(self: Arc<Self>, sched: JobSchedule, stop: CancellationToken) {
        let clock = self.runner.clock.clone();
        let ledger = &self.runner.ledger;
        let policy = Policy::of(&sched);
        let mut after = clock.now();
        while let Some(slot) = sched.next_after(after) {
            after = slot;
            tokio::select! {
                _ = clock.sleep_until(slot - CLAIM_LEAD) => {}
                _ = stop.cancelled() => return,
            }
            let claim = match ledger
                .claim(
                    sched.job,
                    slot,
                    Trigger::Schedule,
                    &self.runner.owner,
                    Rerun::Never,
                )
                .await
            {
                Ok(ClaimResult::Claimed(c)) => c,
                Ok(ClaimResult::Taken { .. }) => continue, // another instance has it
                Err(e) => {
                    tracing::error!(job = %sched.job, slot = %slot.to_rfc3339(), error = format!("{e:#}"), "cannot claim slot");
                    continue;
                }
            };
            let prepared =
                self.runner
                    .prepare(claim, policy.clone(), RunCancel::child_of(&self.runs));
            tokio::select! {
                _ = clock.sleep_until(slot - OVERLAP_CHECK_LEAD) => {}
                _ = stop.cancelled() => return self.release(prepared).await,
            }
            if sched.overlap == Overlap::Skip {
                if let Ok(Some(other)) =
                    ledger.other_running(sched.job, prepared.claim.run_id).await
                {
                    if !self.is_local(sched.job, other) {
                        self.skip(
                            prepared,
                            format!(
                                "run #{other} of {} is still running on another instance",
                                sched.job
                            ),
                        );
                        continue;
                    }
                }
            }
            tokio::select! {
                _ = clock.sleep_until(slot) => {}
                _ = stop.cancelled() => return self.release(prepared).await,
            }
            self.fire(prepared, sched.overlap);
        }
    }

    async fn release(&self, p: Prepared) {
        if let Err(e) = self.runner.ledger.release(&p.claim).await {
            tracing::warn!(error = %e, "cannot release an unstarted claim");
        }
    }

    fn is_local(&self, job: JobName, run_id: i64) -> bool {
        self.active
            .lock()
            .expect("active lock")
            .get(&job)
            .is_some_and(|a| a.run_id == run_id)
    }

    /// Starts a prepared run now, applying the overlap policy against the
    /// job's run in this process.
    pub fn fire(self: &Arc<Self>, p: Prepared, overlap: Overlap) {
        let job = p.claim.job;
        let mut active = self.active.lock().expect("active lock");
        let previous = active.get(&job).filter(|a| !*a.done.borrow());
        let wait_for = match (previous, overlap) {
            (None, _) => None,
            (Some(prev), Overlap::Skip) => {
                let why = format!("run #{} of {job} is still running", prev.run_id);
                drop(active);
                return self.skip(p, why);
            }
            (Some(prev), Overlap::Replace) => {
                tracing::info!(%job, replaced = prev.run_id, "replacing the running run");
                prev.cancel.cancel(CancelReason::Replaced);
                None
            }
            (Some(prev), Overlap::Queue) => Some(prev.done.clone()),
        };
        let (done_tx, done_rx) = watch::channel(false);
        let run_id = p.claim.run_id;
        active.insert(
            job,
            Active {
                run_id,
                cancel: p.cancel.clone(),
                done: done_rx,
            },
        );
        drop(active);
        let this = self.clone();
        self.tracker.spawn(async move {
            if let Some(mut prev) = wait_for {
                this.wait_keeping_claim(&p, &mut prev).await;
            }
            if let Err(e) = this.runner.execute(p).await {
                tracing::error!(%job, run_id, error = format!("{e:#}"), "recording the run failed");
            }
            let _ = done_tx.send(true);
            let mut active = this.active.lock().expect("active lock");
            if active.get(&job).is_some_and(|a| a.run_id == run_id) {
                active.remove(&job);
            }
        });
    }

    /// For `overlap = "queue"`: waits for the previous run while keeping
    /// this run's claim alive (so it is not reaped as abandoned).
    async fn wait_keeping_claim(&self, p: &Prepared, prev: &mut watch::Receiver<bool>) {
        let every = std::time::Duration::from_secs(self.runner.settings.heartbeat_secs.max(1));
        loop {
            if *prev.borrow_and_update() {
                return;
            }
            tokio::select! {
                changed = prev.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(every) => {
                    let _ = self.runner.ledger.heartbeat(&p.claim).await;
                }
            }
        }
    }

    fn skip(self: &Arc<Self>, p: Prepared, why: String) {
        tracing::info!(job = %p.claim.job, slot = %p.claim.slot.to_rfc3339(), reason = %why, "slot skipped (overlap = skip)");
        let this = self.clone();
        self.tracker.spawn(async move {
            let finish = Finish {
                error: Some(format!("skipped: {why}")),
                ..Finish::default()
            };
            if let Err(e) = this
                .runner
                .ledger
                .finish(&p.claim, Status::Skipped, &finish, None)
                .await
            {
                tracing::warn!(error = %e, "cannot record a skipped slot");
            }
        });
    }

    /// Picks up queued runs (manual triggers, retries) that are due.
    async fn queue_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = std::time::Duration::from_millis(self.runner.settings.queue_poll_ms.max(50));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.handle.wake.notified() => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = self.take_queued().await {
                tracing::warn!(error = format!("{e:#}"), "cannot read queued runs");
            }
        }
    }

    /// One pass over due queued runs; returns how many were started.
    pub async fn take_queued(self: &Arc<Self>) -> anyhow::Result<usize> {
        let ledger = &self.runner.ledger;
        let schedules = self.schedules();
        let mut started = 0;
        for id in ledger.due_queued(100).await? {
            let Some(claim) = ledger.claim_queued(id, &self.runner.owner).await? else {
                continue; // another instance took it
            };
            let sched = schedules.get(claim.job);
            let policy = sched.map(Policy::of).unwrap_or_default();
            // Manual triggers and retries wait for a running run rather than
            // being skipped: someone asked for them.
            let overlap = match sched.map(|s| s.overlap) {
                Some(Overlap::Replace) => Overlap::Replace,
                _ => Overlap::Queue,
            };
            let p = self
                .runner
                .prepare(claim, policy, RunCancel::child_of(&self.runs));
            self.fire(p, overlap);
            started += 1;
        }
        Ok(started)
    }

    /// Instance heartbeat and reaping of abandoned runs.
    async fn maintenance_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = std::time::Duration::from_secs(self.runner.settings.heartbeat_secs.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = self
                .runner
                .ledger
                .instance_heartbeat(&self.runner.owner, false)
                .await
            {
                tracing::warn!(error = format!("{e:#}"), "instance heartbeat failed");
            }
            self.reap_once().await;
        }
    }

    /// Marks runs with a stopped heartbeat (or a dead local process) as
    /// abandoned and queues their retries.
    pub async fn reap_once(&self) -> usize {
        let schedules = self.schedules();
        let timeout = Duration::seconds(self.runner.settings.heartbeat_timeout_secs as i64);
        let policy = |job: &str| {
            job.parse::<JobName>()
                .ok()
                .and_then(|j| schedules.get(j))
                .map(Policy::of)
                .unwrap_or_default()
        };
        match self
            .runner
            .ledger
            .reap_abandoned(
                timeout,
                |j| policy(j).max_attempts(),
                |j| policy(j).backoff(1),
            )
            .await
        {
            Ok(reaped) => {
                for r in &reaped {
                    tracing::warn!(job = %r.job, slot = %r.slot.to_rfc3339(), run_id = r.id, attempt = r.attempt, owner = r.owner.as_deref().unwrap_or("?"), "run abandoned");
                }
                if !reaped.is_empty() {
                    self.handle.wake.notify_one();
                }
                reaped.len()
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "cannot reap abandoned runs");
                0
            }
        }
    }

    /// Rewrites the reports index after runs finish, at most every 2 s.
    async fn index_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.runner.index_dirty() => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = self.runner.refresh_index().await {
                tracing::warn!(error = format!("{e:#}"), "cannot write the reports index");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

struct Drivers {
    stop: CancellationToken,
    set: JoinSet<()>,
}

impl Drivers {
    async fn stop(&mut self) {
        self.stop.cancel();
        while self.set.join_next().await.is_some() {}
    }
}
