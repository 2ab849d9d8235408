//! Market data ingestion end to end through the binary, on both backends:
//! the `files` provider, validation and quarantine, idempotent reruns,
//! corrections counted as revisions, derived bars and gaps; a whole KRX
//! session of minute bars from a local KIS.

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

// ------------------------------------------------- ohlc_minute through KIS

const KIS_TOKEN: &str = "/oauth2/tokenP";
const KIS_MINUTE: &str = "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice";
const KIS_APP_KEY: &str = "PSk3yValue0do0not0leak0000000000000";
const KIS_APP_SECRET: &str = "s3cretValue/do+not+leak/1111111111111111111111111111";
/// Friday 2026-11-20, 15:31 KST: the first minute after the XKRX close.
const KIS_SLOT: &str = "2026-11-20T06:31:00Z";
/// 09:00 and 15:30 KST, in minutes of the day: the rows KIS serves.
const KIS_OPEN_MIN: i64 = 9 * 60;
const KIS_CLOSE_MIN: i64 = 15 * 60 + 30;

/// The OHLCV of the mock's row at `m` (minutes of the day, KST).
fn kis_ohlcv(m: i64) -> (f64, f64, f64, f64, i64) {
    let close = 71000 + (m % 17) * 100;
    (
        (close - 100) as f64,
        (close + 100) as f64,
        (close - 200) as f64,
        close as f64,
        1000 + m,
    )
}

fn query_value(req: &wiremock::Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// KIS's minute endpoint (`inquire-time-itemchartprice`, `FHKST03010200`)
/// after the close of 2026-11-20: the (at most) 30 one-minute rows ending at
/// `FID_INPUT_HOUR_1`, newest first, from 09:00 up to the closing-auction
/// row stamped 15:30.
struct KisSession;

impl wiremock::Respond for KisSession {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let hour = query_value(req, "FID_INPUT_HOUR_1").unwrap_or_default();
        let part = |r: std::ops::Range<usize>| hour.get(r).and_then(|s| s.parse::<i64>().ok());
        let (Some(h), Some(m)) = (part(0..2), part(2..4)) else {
            return wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "rt_cd": "1", "msg_cd": "OPSQ2001", "msg1": "FID_INPUT_HOUR_1 is invalid"
            }));
        };
        let end = (h * 60 + m).min(KIS_CLOSE_MIN);
        let rows: Vec<serde_json::Value> = (0..30)
            .map(|i| end - i)
            .filter(|m| *m >= KIS_OPEN_MIN)
            .map(|m| {
                let (o, hi, lo, c, v) = kis_ohlcv(m);
                serde_json::json!({
                    "stck_bsop_date": "20261120",
                    "stck_cntg_hour": format!("{:02}{:02}00", m / 60, m % 60),
                    "stck_prpr": format!("{c}"),
                    "stck_oprc": format!("{o}"),
                    "stck_hgpr": format!("{hi}"),
                    "stck_lwpr": format!("{lo}"),
                    "cntg_vol": v.to_string(),
                    "acml_tr_pbmn": (c as i64 * v).to_string(),
                })
            })
            .collect();
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "output1": {
                "prdy_vrss": "300", "prdy_vrss_sign": "2", "prdy_ctrt": "0.42",
                "stck_prdy_clpr": "71500", "acml_vol": "14402321",
                "acml_tr_pbmn": "1018731940900", "hts_kor_isnm": "삼성전자", "stck_prpr": "71800"
            },
            "output2": rows,
            "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."
        }))
    }
}

async fn kis_requests(server: &wiremock::MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// Issue #3: "the KIS minute path covers a full session (09:00–15:30
/// Asia/Seoul) in one run". `ohlc_minute` with `XKRX = "kis"`, through the
/// binary, against a local KIS serving the whole session of 2026-11-20 in
/// pages of 30 rows; then the same slot again with `--force`.
///
/// KIS serves today's minute bars only, judged on the clock, so the binary
/// is started with its clock at the slot (`--now`).
async fn minute_ingestion_over_kis(backend: Backend) {
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let token_json = std::fs::read_to_string(format!(
        "{}/tests/fixtures/providers/kis_token.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let token = serde_json::from_str::<serde_json::Value>(&token_json).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(KIS_TOKEN))
        .and(body_json(serde_json::json!({
            "grant_type": "client_credentials",
            "appkey": KIS_APP_KEY,
            "appsecret": KIS_APP_SECRET,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_string(token_json))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(KIS_MINUTE))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .and(header("appkey", KIS_APP_KEY))
        .and(header("appsecret", KIS_APP_SECRET))
        .and(header("tr_id", "FHKST03010200"))
        .and(header("custtype", "P"))
        .and(query_param("FID_ETC_CLS_CODE", ""))
        .and(query_param("FID_COND_MRKT_DIV_CODE", "J"))
        .and(query_param("FID_INPUT_ISCD", "005930"))
        .and(query_param("FID_PW_DATA_INCU_YN", "Y"))
        .respond_with(KisSession)
        .mount(&server)
        .await;

    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(
        p.path("jobs/universe.csv"),
        "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,삼성전자;Samsung,kis=005930\n",
    )
    .unwrap();
    // As jobs/ohlc_minute.toml would be written for production: files by
    // default, KIS for the Korea Exchange, secrets named, not written.
    p.write_job_params(
        "ohlc_minute",
        &format!(
            "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nmax_priority = 5\n\
             [by_exchange]\nXKRX = \"kis\"\n\
             [providers.files]\npath = \"bars/{{interval}}/{{exchange}}/{{code}}.csv\"\n\
             [providers.kis]\nbase_url = \"{}\"\napp_key_env = \"IT_KIS_APP_KEY\"\n\
             app_secret_env = \"IT_KIS_APP_SECRET\"\nrate_per_sec = 1000\nretries = 0\n\
             backoff_ms = 1\ntimeout_secs = 10\n",
            server.uri()
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "ohlc_minute", "--slot", KIS_SLOT, "--now", KIS_SLOT];
        args.extend_from_slice(extra);
        let out = p
            .cmd(&args)
            .env("IT_KIS_APP_KEY", KIS_APP_KEY)
            .env("IT_KIS_APP_SECRET", KIS_APP_SECRET)
            .output()
            .unwrap();
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(out.status.success(), "{shown}");
        for secret in [KIS_APP_KEY, KIS_APP_SECRET, token.as_str()] {
            assert!(!shown.contains(secret), "a secret leaked into: {shown}");
        }
        out
    };
    let hours = |reqs: &[wiremock::Request]| -> Vec<String> {
        reqs.iter()
            .map(|r| query_value(r, "FID_INPUT_HOUR_1").unwrap())
            .collect()
    };

    // ---- one run after the close --------------------------------------
    run(&[]);
    let open: chrono::DateTime<chrono::Utc> = "2026-11-20T00:00:00Z".parse().unwrap(); // 09:00 KST
    let close: chrono::DateTime<chrono::Utc> = "2026-11-20T06:30:00Z".parse().unwrap(); // 15:30 KST
    let storage = p.db.storage().await;
    let stock_id = count(&p, "SELECT id FROM stocks WHERE code = '005930'").await;
    let minutes = tickerd::market::store::load_bars(
        &storage,
        stock_id,
        tickerd::market::Interval::M1,
        open - chrono::Duration::days(1),
        close + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    // Bar starts 09:00..15:29 KST: the whole session, one bar a minute.
    assert_eq!(minutes.len(), 390, "09:00-15:30 KST, one bar per minute");
    assert_eq!(minutes[0].ts, open);
    assert_eq!(
        minutes.last().unwrap().ts,
        close - chrono::Duration::minutes(1)
    );
    assert!(minutes
        .windows(2)
        .all(|w| (w[1].ts - w[0].ts).num_seconds() == 60));
    for (i, b) in minutes.iter().enumerate() {
        let (o, h, l, c, v) = kis_ohlcv(KIS_OPEN_MIN + i as i64);
        assert_eq!((b.open, b.high, b.low, b.close, b.volume), (o, h, l, c, v));
        assert_eq!(b.trading_date.to_string(), "2026-11-20");
    }
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM bars WHERE interval = '1m' AND source = 'kis'"
        )
        .await,
        390
    );
    assert_eq!(
        count(&p, "SELECT count(*) FROM bars WHERE interval = '1m'").await,
        390,
        "no other 1-minute bar"
    );
    // Derived from them, windows aligned to 09:00.
    for (interval, n) in [("5m", 78), ("15m", 26), ("60m", 7)] {
        assert_eq!(
            count(
                &p,
                &format!(
                    "SELECT count(*) FROM bars WHERE interval = '{interval}' AND source = 'derived:1m'"
                )
            )
            .await,
            n,
            "{interval} bars"
        );
        assert_eq!(
            count(
                &p,
                &format!(
                    "SELECT CAST(sum(volume) AS BIGINT) FROM bars WHERE interval = '{interval}'"
                )
            )
            .await,
            minutes.iter().map(|b| b.volume).sum::<i64>(),
            "{interval} volumes add up to the session's"
        );
    }
    // The report: the stock came from KIS, complete, without gaps.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("reports/ohlc_minute/2026-11-20/063100.000Z.json"))
            .unwrap(),
    )
    .unwrap();
    let stocks = report["details"]["stocks"].as_array().unwrap();
    assert_eq!(stocks.len(), 1, "{report}");
    let samsung = &stocks[0];
    assert_eq!(samsung["code"], "005930", "{samsung}");
    assert_eq!(samsung["provider"], "kis", "{samsung}");
    assert_eq!(samsung["symbol"], "005930", "{samsung}");
    assert!(samsung["error"].is_null(), "{samsung}");
    assert_eq!(samsung["gaps"], serde_json::json!([]), "{samsung}");
    assert_eq!(samsung["fetched"], 390, "{samsung}");
    assert_eq!(samsung["inserted"], 390, "{samsung}");
    assert_eq!(samsung["partial"], 0, "{samsung}");
    assert_eq!(samsung["rejected"], serde_json::json!({}), "{samsung}");
    let counts = &report["counts"];
    assert_eq!(counts["bars_inserted"], 390, "{report}");
    assert_eq!(counts["gaps"], 0, "{report}");
    assert_eq!(counts["stocks_failed"], 0, "{report}");
    // One token; the session in 13 pages of 30, walked back from 15:29.
    assert_eq!(kis_requests(&server, KIS_TOKEN).await.len(), 1);
    let pages = hours(&kis_requests(&server, KIS_MINUTE).await);
    let expected: Vec<String> = (0..13)
        .map(|k| {
            let m = KIS_CLOSE_MIN - 1 - 30 * k;
            format!("{:02}{:02}00", m / 60, m % 60)
        })
        .collect();
    assert_eq!(pages, expected);
    assert_eq!(pages.first().map(String::as_str), Some("152900"));
    assert_eq!(pages.last().map(String::as_str), Some("092900"));
    // The token is kept for the next run.
    let stored: Vec<String> = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT token FROM provider_tokens WHERE provider = 'kis'",
    )
    .fetch_all(pool)
    .await
    .unwrap());
    assert_eq!(stored, vec![token.clone()]);

    // ---- the same slot again: nothing changes, the token is reused ----
    let before = dump(&p).await;
    run(&["--force"]);
    assert_eq!(dump(&p).await, before, "a rerun leaves identical tables");
    let l = Ledger::new(storage);
    let at = KIS_SLOT.parse().unwrap();
    let row = &l.runs_between(JobName::OhlcMinute, at, at).await.unwrap()[0];
    let c = row.counts.as_ref().unwrap();
    assert_eq!(
        (
            c["bars_inserted"].as_i64(),
            c["bars_unchanged"].as_i64(),
            c["bars_revised"].as_i64(),
            c["gaps"].as_i64()
        ),
        (Some(0), Some(390), Some(0), Some(0)),
        "{c:?}"
    );
    assert_eq!(
        kis_requests(&server, KIS_TOKEN).await.len(),
        1,
        "the stored token is reused"
    );
    assert_eq!(
        hours(&kis_requests(&server, KIS_MINUTE).await),
        [expected.clone(), expected].concat()
    );
}

#[tokio::test]
async fn kis_minute_session_sqlite() {
    minute_ingestion_over_kis(Backend::Sqlite).await
}

#[tokio::test]
async fn kis_minute_session_postgres() {
    minute_ingestion_over_kis(Backend::Postgres).await
}
