//! The ledger against both backends: the same assertions on SQLite and
//! PostgreSQL.

use crate::support::{Backend, TestDb};
use chrono::{DateTime, Duration, Utc};
use tickerd::jobs::JobName;
use tickerd::ledger::{ClaimResult, Finish, Ledger, Owner, Rerun, Status, Trigger};
use tickerd::storage::schema::to_mermaid;

/// Runs an async test body once per backend.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                ($body)(Backend::Postgres).await
            }
        }
    };
}

async fn ledger(backend: Backend) -> (TestDb, Ledger) {
    let db = TestDb::new(backend).await;
    let storage = db.storage().await;
    (db, Ledger::new(storage))
}

fn slot(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn owner(name: &str) -> Owner {
    Owner {
        id: format!("test:{name}"),
        host: "test-host-not-this-one".into(),
        pid: 1,
    }
}

async fn claimed(
    l: &Ledger,
    job: JobName,
    at: DateTime<Utc>,
    t: Trigger,
    o: &Owner,
    r: Rerun,
) -> Option<tickerd::ledger::Claim> {
    match l.claim(job, at, t, o, r).await.unwrap() {
        ClaimResult::Claimed(c) => Some(c),
        ClaimResult::Taken { .. } => None,
    }
}

both_backends!(
    a_slot_is_claimed_once_under_contention,
    |backend| async move {
        let (_db, l) = ledger(backend).await;
        let at = slot("2026-11-25T00:00:00Z");
        let mut tasks = vec![];
        for i in 0..16 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                claimed(
                    &l,
                    JobName::Canary,
                    at,
                    Trigger::Schedule,
                    &owner(&i.to_string()),
                    Rerun::Never,
                )
                .await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += t.await.unwrap().is_some() as usize;
        }
        assert_eq!(winners, 1, "exactly one of 16 concurrent claims wins");
        let runs = l.runs_between(JobName::Canary, at, at).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "running");
    }
);

both_backends!(
    reruns_are_further_attempts_on_the_same_row,
    |backend| async move {
        let (_db, l) = ledger(backend).await;
        let at = slot("2026-11-25T01:00:00Z");
        let a = owner("a");
        let c1 = claimed(
            &l,
            JobName::Predict,
            at,
            Trigger::Schedule,
            &a,
            Rerun::Never,
        )
        .await
        .unwrap();
        let fail = Finish {
            error: Some("boom".into()),
            ..Finish::default()
        };
        assert!(l.finish(&c1, Status::Failed, &fail, None).await.unwrap());
        // The schedule never re-runs a slot; a backfill re-runs a failed one.
        assert!(claimed(
            &l,
            JobName::Predict,
            at,
            Trigger::Schedule,
            &a,
            Rerun::Never
        )
        .await
        .is_none());
        let c2 = claimed(
            &l,
            JobName::Predict,
            at,
            Trigger::Backfill,
            &a,
            Rerun::Unfinished,
        )
        .await
        .unwrap();
        assert_eq!((c2.run_id, c2.attempt), (c1.run_id, 2));
        assert!(c2.fence > c1.fence);
        assert!(l
            .finish(&c2, Status::Succeeded, &Finish::default(), None)
            .await
            .unwrap());
        // Succeeded: only a forced run takes it again.
        match l
            .claim(
                JobName::Predict,
                at,
                Trigger::Backfill,
                &a,
                Rerun::Unfinished,
            )
            .await
            .unwrap()
        {
            ClaimResult::Taken { status, .. } => assert_eq!(status, Status::Succeeded),
            other => panic!("expected Taken, got {other:?}"),
        }
        let c3 = claimed(&l, JobName::Predict, at, Trigger::Manual, &a, Rerun::Always)
            .await
            .unwrap();
        assert_eq!(c3.attempt, 3);
        assert!(l
            .finish(&c3, Status::Succeeded, &Finish::default(), None)
            .await
            .unwrap());
        let history: Vec<(i32, String, String)> = l
            .attempts(c1.run_id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.attempt, a.trigger, a.status))
            .collect();
        assert_eq!(
            history,
            vec![
                (1, "schedule".into(), "failed".into()),
                (2, "backfill".into(), "succeeded".into()),
                (3, "manual".into(), "succeeded".into()),
            ]
        );
        assert_eq!(
            l.runs_between(JobName::Predict, at, at)
                .await
                .unwrap()
                .len(),
            1,
            "still one row"
        );
    }
);

both_backends!(a_fenced_out_holder_cannot_write, |backend| async move {
    let (_db, l) = ledger(backend).await;
    let at = slot("2026-11-25T02:00:00Z");
    let (a, b) = (owner("a"), owner("b"));
    let ca = claimed(&l, JobName::Canary, at, Trigger::Schedule, &a, Rerun::Never)
        .await
        .unwrap();
    assert!(l.heartbeat(&ca).await.unwrap());
    // A heartbeat timeout of zero: every running row is stale.
    let reaped = l
        .reap_abandoned(Duration::zero(), |_| 3, |_| Duration::zero())
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1);
    let row = l.get(ca.run_id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.trigger.as_str()),
        ("queued", "retry")
    );
    // The old holder is fenced out of both heartbeat and result.
    assert!(!l.heartbeat(&ca).await.unwrap());
    assert!(!l
        .finish(&ca, Status::Succeeded, &Finish::default(), None)
        .await
        .unwrap());
    let due = l.due_queued(10).await.unwrap();
    assert_eq!(due, vec![ca.run_id]);
    let cb = l.claim_queued(ca.run_id, &b).await.unwrap().unwrap();
    assert_eq!(cb.attempt, 2);
    assert!(
        l.claim_queued(ca.run_id, &a).await.unwrap().is_none(),
        "claimed once"
    );
    assert!(l
        .finish(&cb, Status::Succeeded, &Finish::default(), None)
        .await
        .unwrap());
    let statuses: Vec<String> = l
        .attempts(ca.run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, ["abandoned", "succeeded"]);
});

both_backends!(
    retries_and_manual_triggers_wait_in_the_queue,
    |backend| async move {
        let (_db, l) = ledger(backend).await;
        let a = owner("a");
        let at = slot("2026-11-25T03:00:00Z");
        let c = claimed(&l, JobName::Canary, at, Trigger::Schedule, &a, Rerun::Never)
            .await
            .unwrap();
        let later = l.storage.now().await.unwrap() + Duration::hours(1);
        let fail = Finish {
            error: Some("transient".into()),
            ..Finish::default()
        };
        assert!(l
            .finish(&c, Status::Failed, &fail, Some(later))
            .await
            .unwrap());
        assert!(
            l.due_queued(10).await.unwrap().is_empty(),
            "a retry is not due before its time"
        );
        assert!(l.claim_queued(c.run_id, &a).await.unwrap().is_none());
        // A manual trigger is due at once.
        let id = l
            .enqueue(
                JobName::Predict,
                slot("2026-11-25T04:00:00Z"),
                Trigger::Manual,
            )
            .await
            .unwrap();
        assert_eq!(l.due_queued(10).await.unwrap(), vec![id]);
        let m = l.claim_queued(id, &a).await.unwrap().unwrap();
        assert_eq!((m.attempt, m.trigger), (1, Trigger::Manual));
        // Re-queuing a running slot is refused.
        assert!(l
            .enqueue(JobName::Predict, m.slot, Trigger::Manual)
            .await
            .is_err());
    }
);

both_backends!(
    catch_up_sees_the_last_scheduled_slot,
    |backend| async move {
        let (_db, l) = ledger(backend).await;
        let a = owner("a");
        assert_eq!(l.last_scheduled_slot(JobName::Canary).await.unwrap(), None);
        for s in ["2026-11-25T05:00:00Z", "2026-11-25T05:01:00Z"] {
            let c = claimed(
                &l,
                JobName::Canary,
                slot(s),
                Trigger::Schedule,
                &a,
                Rerun::Never,
            )
            .await
            .unwrap();
            l.finish(&c, Status::Succeeded, &Finish::default(), None)
                .await
                .unwrap();
        }
        // Manual runs do not move the schedule's position.
        claimed(
            &l,
            JobName::Canary,
            slot("2026-11-25T06:00:00Z"),
            Trigger::Manual,
            &a,
            Rerun::Never,
        )
        .await
        .unwrap();
        assert_eq!(
            l.last_scheduled_slot(JobName::Canary).await.unwrap(),
            Some(slot("2026-11-25T05:01:00Z"))
        );
    }
);

both_backends!(
    schema_diagram_comes_from_the_live_catalog,
    |backend| async move {
        let (_db, l) = ledger(backend).await;
        let cat = l.storage.catalog().await.unwrap();
        let names: Vec<&str> = cat.tables.iter().map(|t| t.name.as_str()).collect();
        for t in ["daemon_instances", "job_run_attempts", "job_runs"] {
            assert!(names.contains(&t), "{t} in {names:?}");
        }
        let runs = cat.tables.iter().find(|t| t.name == "job_runs").unwrap();
        assert!(runs.columns.iter().any(|c| c.name == "id" && c.primary));
        assert!(runs.columns.iter().any(|c| c.name == "slot" && c.unique));
        assert!(cat
            .foreign_keys
            .iter()
            .any(|f| f.table == "job_run_attempts"
                && f.column == "run_id"
                && f.ref_table == "job_runs"));
        let mermaid = to_mermaid(&cat);
        assert!(mermaid.starts_with("erDiagram\n"));
        assert!(
            mermaid.contains("job_runs ||--o{ job_run_attempts"),
            "{mermaid}"
        );
        if backend == Backend::Postgres {
            assert!(
                mermaid.contains("Fencing token"),
                "column comments on PostgreSQL: {mermaid}"
            );
            assert!(runs.comment.as_deref().unwrap_or("").contains("Run ledger"));
        }
    }
);
