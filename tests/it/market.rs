//! Market data ingestion end to end through the binary, on both backends:
//! the `files` provider, validation and quarantine, idempotent reruns,
//! corrections counted as revisions, derived bars and gaps.

use crate::support::{stderr, stdout, Backend, Project};
use tickerd::jobs::JobName;
use tickerd::ledger::Ledger;

const UNIVERSE: &str = "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,삼성전자;Samsung,yahoo=005930.KS;kis=005930\n\
XNYS,AAPL,Apple Inc.,USD,1,true,Apple,yahoo=AAPL\n\
XNYS,BAD,Broken Row,USD,7,true,,\n";

const SCHEDULES: &str = "[jobs.ohlc_daily]\ncron = \"0 0 22 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n[jobs.ohlc_minute]\ncron = \"0 * * * * *\"\ntimezone = \"UTC\"\nretries = 0\n";

fn daily_config() -> String {
    "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nlookback_days = 10\n[providers.files]\npath = \"bars/{interval}/{exchange}/{code}.csv\"\n".into()
}

async fn project(backend: Backend) -> Project {
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(p.path("jobs/universe.csv"), UNIVERSE).unwrap();
    p.write_job_params("ohlc_daily", &daily_config());
    p.write_job_params("ohlc_minute", &daily_config());
    p
}

fn write_bars(p: &Project, rel: &str, text: &str) {
    let path = p.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Samsung's daily bars, 2026-11-16..20 (Mon–Fri), with two bad rows.
const SAMSUNG_DAILY: &str = "date,open,high,low,close,volume\n\
2026-11-16,71000,71800,70500,71500,12000000\n\
2026-11-17,71500,72000,71000,71900,11000000\n\
2026-11-18,71900,71000,71500,71800,9000000\n\
2026-11-19,71800,72500,71700,72300,abc\n\
2026-11-20,72300,73000,72000,72900,10000000\n\
2026-11-21,72300,73000,72000,72900,10000000\n";

const AAPL_DAILY: &str = "date,open,high,low,close,volume\n\
2026-11-16,230.1,232.0,229.5,231.2,50000000\n\
2026-11-17,231.2,233.5,230.8,233.0,48000000\n\
2026-11-18,233.0,234.1,231.9,232.4,47000000\n\
2026-11-19,232.4,235.0,232.0,234.8,52000000\n\
2026-11-20,234.8,236.2,234.0,235.9,51000000\n";

async fn count(p: &Project, sql: &str) -> i64 {
    let storage = p.db.storage().await;
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.unwrap())
}

/// stock, interval, code, open, high, low, close, volume, revisions
type BarRow = (i64, String, String, f64, f64, f64, f64, i64, i32);

async fn dump(p: &Project) -> Vec<String> {
    let storage = p.db.storage().await;
    tickerd::on_db!(&storage.db, pool => {
        let rows: Vec<BarRow> = sqlx::query_as(
            "SELECT b.stock_id, b.interval, s.code, b.open, b.high, b.low, b.close, b.volume, b.revisions
             FROM bars b JOIN stocks s ON s.id = b.stock_id ORDER BY b.stock_id, b.interval, b.ts",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        rows.into_iter().map(|r| format!("{r:?}")).collect()
    })
}

async fn daily_ingestion_is_idempotent_and_counts_corrections(backend: Backend) {
    let p = project(backend).await;
    write_bars(&p, "bars/1d/XKRX/005930.csv", SAMSUNG_DAILY);
    write_bars(&p, "bars/1d/XNYS/AAPL.csv", AAPL_DAILY);
    let slot = "2026-11-21T00:00:00Z"; // Saturday 09:00 KST, Friday 19:00 New York
    let out = p.run(&["run", "ohlc_daily", "--slot", slot]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("reports/ohlc_daily/2026-11-21/000000.000Z.json")).unwrap(),
    )
    .unwrap();
    let counts = &report["counts"];
    // Samsung: 6 rows, 2 bad (high < open, non-numeric volume) and the
    // Saturday row outside any session; AAPL: 5 good rows.
    assert_eq!(counts["bars_fetched"], 11);
    assert_eq!(counts["bars_inserted"], 8);
    assert_eq!(counts["bars_rejected"], 3);
    assert_eq!(counts["stocks"], 2);
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("universe.csv:4")),
        "{report}"
    );
    let reasons: Vec<String> = {
        let storage = p.db.storage().await;
        tickerd::on_db!(&storage.db, pool => sqlx::query_scalar("SELECT reason || ' | ' || payload FROM bar_quarantine ORDER BY reason").fetch_all(pool).await.unwrap())
    };
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("high below max(open, close) | 2026-11-18,71900,71000")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("missing or non-numeric value | 2026-11-19")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("outside the exchange session | 2026-11-21")),
        "{reasons:?}"
    );
    // Gaps: the two rejected Samsung sessions are missing bars.
    let samsung = report["details"]["stocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "005930")
        .unwrap()
        .clone();
    assert_eq!(
        samsung["gaps"].as_array().unwrap().len(),
        2 + 3,
        "{samsung}"
    ); // 18, 19, and 11-11..13 before the file starts

    // The same slot again: nothing changes.
    let before = dump(&p).await;
    let out = p.run(&["run", "ohlc_daily", "--slot", slot, "--force"]);
    assert!(out.status.success());
    assert_eq!(dump(&p).await, before, "a rerun leaves identical tables");
    let storage = p.db.storage().await;
    let l = Ledger::new(storage);
    let at = slot.parse().unwrap();
    let row = &l.runs_between(JobName::OhlcDaily, at, at).await.unwrap()[0];
    let c = row.counts.as_ref().unwrap();
    assert_eq!(
        (
            c["bars_inserted"].as_i64(),
            c["bars_unchanged"].as_i64(),
            c["bars_revised"].as_i64()
        ),
        (Some(0), Some(8), Some(0))
    );

    // A provider correction: updated in place and counted as a revision.
    write_bars(
        &p,
        "bars/1d/XNYS/AAPL.csv",
        &AAPL_DAILY.replace("235.9,51000000", "235.7,51000000"),
    );
    let out = p.run(&["run", "ohlc_daily", "--slot", slot, "--force"]);
    assert!(out.status.success());
    let row = &l.runs_between(JobName::OhlcDaily, at, at).await.unwrap()[0];
    assert_eq!(
        row.counts.as_ref().unwrap()["bars_revised"].as_i64(),
        Some(1)
    );
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM bars WHERE revisions = 1 AND close = 235.7"
        )
        .await,
        1
    );
    assert_eq!(count(&p, "SELECT count(*) FROM bars").await, 8);

    // bars has no foreign keys (bulk-load speed); doctor checks instead.
    let doctor = p.run(&["doctor"]);
    assert!(
        stdout(&doctor).contains("ok   integrity"),
        "{}",
        stdout(&doctor)
    );
    {
        let storage = p.db.storage().await;
        tickerd::on_db!(&storage.db, pool => sqlx::query(
            "UPDATE bars SET stock_id = 999999 WHERE close = 235.7",
        )
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    }
    let doctor = p.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("FAIL integrity  1 bar(s) name no stock, 0 name no run"),
        "{}",
        stdout(&doctor)
    );
}

#[tokio::test]
async fn daily_ingestion_sqlite() {
    daily_ingestion_is_idempotent_and_counts_corrections(Backend::Sqlite).await
}

#[tokio::test]
async fn daily_ingestion_postgres() {
    daily_ingestion_is_idempotent_and_counts_corrections(Backend::Postgres).await
}

#[tokio::test]
async fn a_malformed_file_fails_that_symbol_only() {
    let p = project(Backend::Sqlite).await;
    write_bars(
        &p,
        "bars/1d/XKRX/005930.csv",
        "<html><body>Service unavailable</body></html>\n",
    );
    write_bars(&p, "bars/1d/XNYS/AAPL.csv", AAPL_DAILY);
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-11-21T00:00:00Z"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let md =
        std::fs::read_to_string(p.path("reports/ohlc_daily/2026-11-21/000000.000Z.md")).unwrap();
    assert!(md.contains("wrong columns"), "{md}");
    assert_eq!(count(&p, "SELECT count(*) FROM bars").await, 5);
    // Every symbol failing fails the run.
    write_bars(&p, "bars/1d/XNYS/AAPL.csv", "No data\n");
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-11-22T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("every one of 2 symbols failed"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn minute_ingestion_covers_the_session_derives_bars_and_reports_gaps() {
    let p = project(Backend::Postgres).await;
    // XKRX session 2026-11-20: 09:00..15:30 KST = 00:00..06:30Z; 390 bars
    // start 00:00..06:29Z. Leave out 10:00 KST (01:00Z) and 10:01.
    let mut csv = String::from("ts,open,high,low,close,volume\n");
    for i in 0..390 {
        if i == 60 || i == 61 {
            continue;
        }
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap()
            + chrono::Duration::minutes(i);
        let px = 71000.0 + i as f64;
        csv.push_str(&format!(
            "{},{px},{},{},{},{}\n",
            t.to_rfc3339(),
            px + 50.0,
            px - 50.0,
            px + 10.0,
            1000 + i
        ));
    }
    write_bars(&p, "bars/1m/XKRX/005930.csv", &csv);
    write_bars(
        &p,
        "bars/1m/XNYS/AAPL.csv",
        "ts,open,high,low,close,volume\n",
    );
    let out = p.run(&["run", "ohlc_minute", "--slot", "2026-11-20T07:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        count(&p, "SELECT count(*) FROM bars WHERE interval = '1m'").await,
        388
    );
    assert_eq!(
        count(&p, "SELECT count(*) FROM bars WHERE interval = '5m'").await,
        78
    );
    assert_eq!(
        count(&p, "SELECT count(*) FROM bars WHERE interval = '60m'").await,
        7
    );
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM bars WHERE interval = '15m' AND source = 'derived:1m'"
        )
        .await,
        26
    );
    let md =
        std::fs::read_to_string(p.path("reports/ohlc_minute/2026-11-20/070000.000Z.md")).unwrap();
    assert!(
        md.contains("XKRX:005930: 2 missing: 2026-11-20 10:00, 2026-11-20 10:01"),
        "{md}"
    );
    // The first 5-minute bar aggregates 09:00..09:04.
    let v = count(
        &p,
        "SELECT volume FROM bars WHERE interval = '5m' ORDER BY ts LIMIT 1",
    )
    .await;
    assert_eq!(v, 1000 + 1001 + 1002 + 1003 + 1004);
}

/// ohlc_daily through real-format HTTP providers (Yahoo for XKRX, Stooq for
/// XNYS) served on 127.0.0.1, into each backend, with the cache on Redis.
async fn daily_ingestion_over_http_providers(backend: Backend) {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/providers/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/005930.KS"))
        .and(query_param("interval", "1d"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(fixture("yahoo_005930_ks_1d.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/q/d/l/"))
        .and(query_param("s", "aapl.us"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("stooq_aapl_us_d.csv")))
        .mount(&server)
        .await;
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(
        p.path("jobs/universe.csv"),
        "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,,yahoo=005930.KS\n\
XNYS,AAPL,Apple Inc.,USD,1,true,,stooq=aapl.us\n",
    )
    .unwrap();
    p.write_job_params(
        "ohlc_daily",
        &format!(
            "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nlookback_days = 14\n[by_exchange]\nXKRX = \"yahoo\"\nXNYS = \"stooq\"\n\
             [providers.yahoo]\nbase_url = \"{0}\"\nbackoff_ms = 1\n[providers.stooq]\nbase_url = \"{0}\"\nbackoff_ms = 1\n",
            server.uri()
        ),
    );
    let prefix = format!("it-{}:", uuid::Uuid::new_v4().simple());
    // After the KRX close on 12 June; before that day's NYSE session.
    let out = p
        .cmd(&["run", "ohlc_daily", "--slot", "2026-06-12T07:00:00Z"])
        .env("REDIS_URL", crate::support::redis_url())
        .env("TICKERD_REDIS_PREFIX", &prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let by_source =
        |src: &str| format!("SELECT count(*) FROM bars WHERE interval = '1d' AND source = '{src}'");
    assert_eq!(
        count(&p, &by_source("stooq")).await,
        9,
        "1–11 June trading days; 12 June still to trade"
    );
    let yahoo = count(&p, &by_source("yahoo")).await;
    assert!(
        (8..=9).contains(&yahoo),
        "Samsung's sessions from Yahoo: {yahoo}"
    );
    // The cache has the latest bar and the closes for readers.
    let client = redis::Client::open(crate::support::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let closes: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}bars:XNYS:AAPL:1d:closes60"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let closes: Vec<f64> = serde_json::from_str(&closes.expect("closes60 cached")).unwrap();
    assert_eq!(closes.len(), 9);
    assert_eq!(closes.last().copied(), Some(221.12));
    // Rerun: nothing new.
    let out = p.run(&[
        "run",
        "ohlc_daily",
        "--slot",
        "2026-06-12T07:00:00Z",
        "--force",
    ]);
    assert!(out.status.success());
    assert_eq!(
        count(&p, "SELECT count(*) FROM bars WHERE revisions > 0").await,
        0
    );
}

#[tokio::test]
async fn http_providers_sqlite() {
    daily_ingestion_over_http_providers(Backend::Sqlite).await
}

#[tokio::test]
async fn http_providers_postgres() {
    daily_ingestion_over_http_providers(Backend::Postgres).await
}
