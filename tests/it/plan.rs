//! `tickerd plan`: fire instants with zones, DST and calendars applied,
//! checked through the real binary's JSON output.

use crate::support::{stderr, stdout, Backend, Project};
use std::collections::BTreeMap;

async fn plan(schedules: &str, from: &str, to: &str) -> Vec<serde_json::Value> {
    let p = Project::new(Backend::Sqlite).await;
    p.write_schedules(schedules);
    let out = p.run(&[
        "plan", "--from", from, "--to", to, "--limit", "0", "--format", "json",
    ]);
    assert!(out.status.success(), "plan failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("plan prints a JSON array")
}

fn slots(rows: &[serde_json::Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["slot"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn new_york_spring_forward_fires_once_after_the_gap() {
    let rows = plan(
        "[jobs.predict]\ncron = \"30 2 * * *\"\ntimezone = \"America/New_York\"\n",
        "2026-03-08T00:00:00Z",
        "2026-03-08T23:59:59Z",
    )
    .await;
    assert_eq!(slots(&rows), ["2026-03-08T07:00:00Z"]);
    assert_eq!(rows[0]["job"], "predict");
}

#[tokio::test]
async fn new_york_fall_back_fires_once_at_the_first_occurrence() {
    let rows = plan(
        "[jobs.predict]\ncron = \"0 30 1 * * *\"\ntimezone = \"America/New_York\"\n",
        "2026-11-01T00:00:00Z",
        "2026-11-01T23:59:59Z",
    )
    .await;
    assert_eq!(slots(&rows), ["2026-11-01T05:30:00Z"]);
}

#[tokio::test]
async fn berlin_transition_days() {
    let spring = plan(
        "[jobs.evaluate]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n",
        "2026-03-29T00:00:00Z",
        "2026-03-29T23:59:59Z",
    )
    .await;
    // 02:30 does not exist on 29 March: once, at 03:00 CEST.
    assert_eq!(slots(&spring), ["2026-03-29T01:00:00Z"]);
    let autumn = plan(
        "[jobs.evaluate]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n",
        "2026-10-24T23:00:00Z",
        "2026-10-25T23:59:59Z",
    )
    .await;
    // 02:30 happens twice on 25 October: once, at the first (CEST) one.
    assert_eq!(slots(&autumn), ["2026-10-25T00:30:00Z"]);
}

#[tokio::test]
async fn calendar_gated_minutes_skip_weekends_holidays_and_follow_early_closes() {
    // XNYS: Thu 2 July trades, Fri 3 July 2026 is the Independence Day
    // holiday, then a weekend, then Mon 6 July trades.
    let rows = plan(
        "[jobs.ohlc_minute]\ncron = \"* * * * *\"\ntimezone = \"America/New_York\"\ncalendar = \"XNYS\"\n",
        "2026-07-02T00:00:00Z",
        "2026-07-07T03:59:59Z",
    )
    .await;
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let local = r["local"].as_str().unwrap();
        let (date, time) = (&local[..10], &local[11..16]);
        assert!(
            ("09:30"..="16:00").contains(&time),
            "{local} outside the session"
        );
        *per_day.entry(date.to_string()).or_default() += 1;
    }
    // 09:30..=16:00 is 391 minutes, each a slot.
    assert_eq!(
        per_day,
        BTreeMap::from([
            ("2026-07-02".to_string(), 391),
            ("2026-07-06".to_string(), 391)
        ])
    );

    // The day after Thanksgiving closes at 13:00.
    let rows = plan(
        "[jobs.ohlc_minute]\ncron = \"* * * * *\"\ntimezone = \"America/New_York\"\ncalendar = \"XNYS\"\n",
        "2026-11-27T00:00:00Z",
        "2026-11-27T23:59:59Z",
    )
    .await;
    assert_eq!(rows.len(), 211);
    assert_eq!(rows.last().unwrap()["slot"], "2026-11-27T18:00:00Z");
}

#[tokio::test]
async fn krx_calendar_gates_by_seoul_sessions() {
    // Seollal 2026: 16-18 February are holidays; 19 February trades.
    let rows = plan(
        "[jobs.ohlc_daily]\ncron = \"0 40 15 * * *\"\ntimezone = \"Asia/Seoul\"\ncalendar = \"XKRX\"\ncalendar_gate = \"trading_day\"\n",
        "2026-02-13T00:00:00Z",
        "2026-02-20T23:59:59Z",
    )
    .await;
    assert_eq!(
        slots(&rows),
        [
            "2026-02-13T06:40:00Z",
            "2026-02-19T06:40:00Z",
            "2026-02-20T06:40:00Z"
        ]
    );
}
