//! The command line through the real binary: exit codes, ledger rows,
//! reports and messages.

use crate::support::{stderr, stdout, Backend, Project};
use tickerd::jobs::JobName;
use tickerd::ledger::Ledger;

const CANARY_DAILY: &str = "[jobs.canary]\ncron = \"0 0 12 * * *\"\ntimezone = \"UTC\"\nretries = 1\nretry_backoff = \"100ms\"\n\n[jobs.regression_detect]\ncron = \"0 0 21 * * *\"\ntimezone = \"UTC\"\n";

async fn ledger(p: &Project) -> Ledger {
    Ledger::new(p.db.storage().await)
}

#[tokio::test]
async fn validate_reports_every_problem_with_file_key_and_line() {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(
        "[defaults]\ntimezone = \"Asia/Seul\"\n\n[jobs.predict]\ncron = \"0 61 * * *\"\novrlap = \"skip\"\n\n[jobs.predikt]\ncron = \"* * * * *\"\n\n[jobs.evaluate]\ncron = \"0 0 * * *\"\ncalendar = \"XLON\"\n",
    );
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for expected in [
        "schedules.toml:2: defaults.timezone: \"Asia/Seul\" is not an IANA time zone name",
        "schedules.toml:5: jobs.predict.cron: invalid cron expression",
        "schedules.toml:6: jobs.predict.ovrlap: unknown key",
        "schedules.toml:8: jobs.predikt: unknown job \"predikt\"",
        "schedules.toml:13: jobs.evaluate.calendar: unknown calendar \"XLON\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("5 configuration problems"), "{text}");
    // The daemon refuses to start on it, with the same report.
    let out = p.run(&["daemon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("jobs.predikt"));
}

#[tokio::test]
async fn run_writes_ledger_rows_and_reports_with_the_right_exit_codes() {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(CANARY_DAILY);
    let slot = "2026-11-20T12:00:00Z";
    let out = p.run(&["run", "canary", "--slot", slot]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("succeeded"));
    let md = p.path("reports/canary/2026-11-20/120000.000Z.md");
    let json = p.path("reports/canary/2026-11-20/120000.000Z.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["trigger"], "manual");
    assert!(report["counts"]["fire_delay_us"].is_i64());
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .contains("# canary — 2026-11-20T12:00:00+00:00"));
    let index = std::fs::read_to_string(p.path("reports/index.html")).unwrap();
    assert!(
        index.contains("canary/2026-11-20/120000.000Z.md"),
        "{index}"
    );

    // Same slot again: already succeeded, nothing run, exit 0.
    let out = p.run(&["run", "canary", "--slot", slot]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("already succeeded"),
        "{}",
        stdout(&out)
    );
    // Forced: a further attempt on the same row.
    let out = p.run(&["run", "canary", "--slot", slot, "--force"]);
    assert!(out.status.success());
    let l = ledger(&p).await;
    let at = slot.parse().unwrap();
    let rows = l.runs_between(JobName::Canary, at, at).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].attempt, rows[0].status.as_str()), (2, "succeeded"));

    // A job that fails (regression_detect with a misspelt parameter, a
    // permanent error): exit 1, the error in the output and the ledger.
    p.write_job_params("regression_detect", "recent_dayz = 20\n");
    let out = p.run(&["run", "canary", "regression_detect", "--slot", slot]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("unknown key \"recent_dayz\""),
        "{}",
        stdout(&out)
    );
    let row = &l
        .runs_between(JobName::RegressionDetect, at, at)
        .await
        .unwrap()[0];
    assert_eq!(row.status, "failed");
    assert_eq!(row.attempt, 1, "a permanent error is not retried");

    // Bad arguments: clap's usage error, exit 2.
    let out = p.run(&["run", "predikt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown job \"predikt\""),
        "{}",
        stderr(&out)
    );
    let out = p.run(&["run", "canary", "--slot", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not an instant"));
}

#[tokio::test]
async fn run_retries_a_retryable_failure_as_a_further_attempt() {
    let p = Project::new(Backend::Postgres).await;
    p.write_schedules(CANARY_DAILY);
    p.write_job_params("canary", "fail_attempts = 1\n");
    let out = p.run(&["run", "canary", "--slot", "2026-11-21T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let l = ledger(&p).await;
    let at = "2026-11-21T12:00:00Z".parse().unwrap();
    let row = &l.runs_between(JobName::Canary, at, at).await.unwrap()[0];
    assert_eq!(
        (row.attempt, row.status.as_str(), row.trigger.as_str()),
        (2, "succeeded", "retry")
    );
    let history: Vec<String> = l
        .attempts(row.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(history, ["failed", "succeeded"]);

    // Two failures with one retry allowed: the run fails, exit 1.
    p.write_job_params("canary", "fail_attempts = 2\n");
    let out = p.run(&["run", "canary", "--slot", "2026-11-22T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));

    // A broken parameter file is a permanent failure naming file and line.
    p.write_job_params("canary", "work_ms = 0\nfail_attempts = [\n");
    let out = p.run(&["run", "canary", "--slot", "2026-11-23T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("canary.toml:"), "{}", stdout(&out));
}

#[tokio::test]
async fn backfill_runs_each_slot_in_order_and_resumes() {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(CANARY_DAILY);
    let out = p.run(&[
        "backfill",
        "canary",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-05",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("5 slots, 5 ran, 0 already succeeded, 0 failed"),
        "{}",
        stdout(&out)
    );
    let l = ledger(&p).await;
    let rows = l
        .runs_between(
            JobName::Canary,
            "2026-01-01T00:00:00Z".parse().unwrap(),
            "2026-01-06T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows
        .iter()
        .all(|r| r.trigger == "backfill" && r.status == "succeeded"));
    assert!(
        rows.windows(2).all(|w| w[0].started_at < w[1].started_at),
        "in slot order"
    );
    // Resumable: a second pass runs nothing new.
    let out = p.run(&[
        "backfill",
        "canary",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-06",
    ]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("6 slots, 1 ran, 5 already succeeded"),
        "{}",
        stdout(&out)
    );
    // A failing job (a misspelt parameter): exit 1.
    p.write_job_params("regression_detect", "recent_dayz = 20\n");
    let out = p.run(&[
        "backfill",
        "regression_detect",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-01",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn runs_and_schema_commands_read_the_ledger() {
    let p = Project::new(Backend::Postgres).await;
    p.write_schedules(CANARY_DAILY);
    assert!(p
        .run(&["run", "canary", "--slot", "2026-11-20T12:00:00Z"])
        .status
        .success());
    let out = p.run(&["runs", "--format", "json"]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["job"], "canary");
    assert_eq!(rows[0]["status"], "succeeded");
    let out = p.run(&["schema", "--format", "mermaid"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("erDiagram"));
    assert!(text.contains("Fencing token"), "{text}");
}

#[tokio::test]
async fn secrets_never_reach_messages() {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(CANARY_DAILY);
    let secret = "s3cr3t-pa55word";
    let out = p
        .cmd(&["runs"])
        .env(
            "TICKERD_DATABASE_URL",
            format!("postgres://postgres:{secret}@127.0.0.1:1/test"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("postgres://postgres:***@127.0.0.1:1/test"),
        "{all}"
    );
    assert!(!all.contains(secret), "{all}");
    let out = p
        .cmd(&["doctor"])
        .env("REDIS_URL", format!("redis://:{secret}@127.0.0.1:1/"))
        .env("OPENAI_API_KEY", secret)
        .env("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "doctor fails on an unreachable backend"
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("FAIL cache"), "{all}");
    assert!(all.contains("FAIL llm"), "{all}");
    assert!(!all.contains(secret), "{all}");
    let help = p.run(&["--help"]);
    assert!(!stdout(&help).contains(secret));
}

/// Several processes starting on one fresh SQLite file (a daemon and a
/// `tickerd run`, say) all migrate it: before the migration lock, the
/// second failed with "table news already exists" (seen in CI as a daemon
/// that never started).
#[tokio::test]
async fn concurrent_first_starts_on_one_sqlite_file_all_migrate() {
    let p = Project::new(Backend::Sqlite).await;
    // All four are started before any is waited for.
    let children: Vec<_> = (0..4)
        .map(|_| {
            p.cmd(&["migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
}
