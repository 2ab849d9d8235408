//! Catch-up after downtime: slots that passed while no daemon ran.
//!
//! The ledger's latest scheduled slot of a job marks where the daemon left
//! off; the slots between it and now are "missed". `catch_up` decides:
//! `none` runs none of them, `latest` runs the most recent one, `all` runs
//! each of them up to `max_catch_up` (the most recent ones), oldest first.
//! A job with no ledger history has nothing to catch up.

use super::Daemon;
use crate::jobs::JobName;
use crate::ledger::{ClaimResult, Rerun, Trigger};
use crate::runner::{Policy, RunCancel};
use crate::schedule::{CatchUp, JobSchedule};
use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;
use std::sync::Arc;

/// The slots each job will catch up, oldest first.
#[derive(Debug, Default, Clone)]
pub struct CatchUpPlan {
    pub jobs: Vec<(JobName, Vec<DateTime<Utc>>)>,
}

/// Missed slots in (last, now] that the policy selects.
pub fn select(sched: &JobSchedule, last: DateTime<Utc>, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let keep = match sched.catch_up {
        CatchUp::None => return vec![],
        CatchUp::Latest => 1,
        CatchUp::All => sched.max_catch_up as usize,
    };
    if keep == 0 {
        return vec![];
    }
    // Walk forward keeping the newest `keep` slots: cron has no cheap way
    // to step backwards.
    let mut newest = VecDeque::with_capacity(keep);
    let mut t = last;
    while let Some(next) = sched.next_after(t) {
        if next > now {
            break;
        }
        if newest.len() == keep {
            newest.pop_front();
        }
        newest.push_back(next);
        t = next;
    }
    newest.into()
}

impl Daemon {
    pub async fn catch_up_plan(&self) -> anyhow::Result<CatchUpPlan> {
        let now = self.runner.clock.now();
        let mut plan = CatchUpPlan::default();
        for sched in self.schedules().jobs.values().filter(|s| s.enabled) {
            let Some(last) = self.runner.ledger.last_scheduled_slot(sched.job).await? else {
                continue;
            };
            // A slot claimed ahead of its instant is not missed.
            let slots = select(sched, last, now - Duration::milliseconds(1));
            if !slots.is_empty() {
                tracing::info!(job = %sched.job, policy = ?sched.catch_up, missed_since = %last.to_rfc3339(), runs = slots.len(), "catching up");
                plan.jobs.push((sched.job, slots));
            }
        }
        Ok(plan)
    }

    /// Runs the plan in the background: each job's slots in order.
    pub fn start_catch_up(self: &Arc<Self>, plan: CatchUpPlan) {
        for (job, slots) in plan.jobs {
            let this = self.clone();
            self.tracker.spawn(async move {
                let policy = this.schedules().get(job).map(Policy::of).unwrap_or_default();
                for slot in slots {
                    if this.handle.shutdown.is_cancelled() {
                        return;
                    }
                    let claim = match this.runner.ledger.claim(job, slot, Trigger::CatchUp, &this.runner.owner, Rerun::Never).await {
                        Ok(ClaimResult::Claimed(c)) => c,
                        Ok(ClaimResult::Taken { .. }) => continue,
                        Err(e) => {
                            tracing::error!(%job, error = format!("{e:#}"), "cannot claim a catch-up slot");
                            continue;
                        }
                    };
                    let p = this.runner.prepare(claim, policy.clone(), RunCancel::child_of(&this.runs));
                    if let Err(e) = this.runner.execute(p).await {
                        tracing::error!(%job, error = format!("{e:#}"), "recording a catch-up run failed");
                    }
                }
            });
        }
    }
}
