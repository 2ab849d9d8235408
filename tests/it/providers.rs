//! Market data providers against local HTTP servers replaying real-format
//! payloads (`tests/fixtures/providers/`). KIS token storage runs on both
//! backends.

use crate::support::{Backend, TestDb};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use tickerd::market::providers::kis::Kis;
use tickerd::market::providers::stooq::Stooq;
use tickerd::market::providers::yahoo::Yahoo;
use tickerd::market::providers::{FetchRequest, ProviderDeps, ProviderError};
use tickerd::market::{Fetched, Interval};
use tickerd::storage::Storage;
use tickerd::time::Clock;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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

const SEOUL: Tz = chrono_tz::Asia::Seoul;
const NEW_YORK: Tz = chrono_tz::America::New_York;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/providers/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 instant")
}

fn table(text: &str) -> toml::Table {
    toml::from_str(text).expect("test config parses")
}

fn request(symbol: &str, tz: Tz, interval: Interval, from: &str, to: &str) -> FetchRequest {
    FetchRequest {
        exchange: if tz == SEOUL { "XKRX" } else { "XNYS" }.into(),
        code: symbol.split('.').next().unwrap_or(symbol).into(),
        symbol: symbol.into(),
        tz,
        interval,
        from: at(from),
        to: at(to),
    }
}

async fn deps(backend: Backend) -> (TestDb, ProviderDeps) {
    let db = TestDb::new(backend).await;
    let storage = db.storage().await;
    (
        db,
        ProviderDeps {
            http: reqwest::Client::new(),
            storage,
            clock: Clock::system(),
        },
    )
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn ok(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(body)
}

// ---------------------------------------------------------------- yahoo

const CHART_KS: &str = "/v8/finance/chart/005930.KS";

async fn yahoo(server: &MockServer, deps: &ProviderDeps) -> Yahoo {
    let t = table(&format!(
        "base_url = \"{}\"\nretries = 2\nbackoff_ms = 1\ntimeout_secs = 5\nrate_per_sec = 100",
        server.uri()
    ));
    Yahoo::from_config(&t, deps).expect("yahoo config")
}

#[tokio::test]
async fn yahoo_minute_bars_skip_no_trade_minutes_and_the_live_bar() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHART_KS))
        .and(query_param("interval", "1m"))
        .and(query_param("period1", "1781481600"))
        .and(query_param("period2", "1781484060"))
        .respond_with(ok(fixture("yahoo_005930_ks_1m.json")))
        .expect(1)
        .mount(&server)
        .await;
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::M1,
        "2026-06-15T00:00:00Z",
        "2026-06-15T00:40:00Z",
    );
    let got = yahoo(&server, &deps).await.fetch(&req).await.unwrap();

    // 30 whole minutes 09:00-09:29 KST: 4 without trades (09:07 and the run
    // 09:13-09:15), then the live bar stamped 09:30:12.
    assert_eq!(got.bars.len(), 26);
    assert_eq!(got.no_trade, 4);
    assert_eq!(got.partial, 1);
    assert_eq!(got.requests, 1);
    assert!(got.unparsed.is_empty());
    let first = &got.bars[0];
    assert_eq!(first.ts, at("2026-06-15T00:00:00Z"));
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (
            Some(71500.0),
            Some(71600.0),
            Some(71400.0),
            Some(71500.0),
            Some(1523400)
        )
    );
    assert!(first.raw.contains("1781481600") && first.raw.contains("71600"));
    let ts: Vec<_> = got.bars.iter().map(|b| b.ts).collect();
    for gap in [
        "2026-06-15T00:07:00Z",
        "2026-06-15T00:13:00Z",
        "2026-06-15T00:14:00Z",
        "2026-06-15T00:15:00Z",
    ] {
        assert!(!ts.contains(&at(gap)), "{gap} had no trade");
    }
    assert_eq!(got.bars.last().unwrap().ts, at("2026-06-15T00:29:00Z"));
    assert!(got.bars.iter().all(|b| b.ts.timestamp() % 60 == 0));
    // Volume 0 with a price is a bar; a missing volume stays a hole.
    let quiet = got
        .bars
        .iter()
        .find(|b| b.ts == at("2026-06-15T00:20:00Z"))
        .unwrap();
    assert_eq!((quiet.close, quiet.volume), (Some(72100.0), Some(0)));
    let holey = got
        .bars
        .iter()
        .find(|b| b.ts == at("2026-06-15T00:25:00Z"))
        .unwrap();
    assert_eq!((holey.close, holey.volume), (Some(71900.0), None));
}

#[tokio::test]
async fn yahoo_minute_range_is_applied_to_the_payload() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(path(CHART_KS))
        .respond_with(ok(fixture("yahoo_005930_ks_1m.json")))
        .mount(&server)
        .await;
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::M1,
        "2026-06-15T00:05:00Z",
        "2026-06-15T00:10:00Z",
    );
    let got = yahoo(&server, &deps).await.fetch(&req).await.unwrap();
    // 00:05..00:10 inclusive, 00:07 without trades; the live bar is outside.
    assert_eq!(got.bars.len(), 5);
    assert_eq!((got.no_trade, got.partial), (1, 0));
    assert_eq!(got.bars[0].ts, at("2026-06-15T00:05:00Z"));
    assert_eq!(got.bars[4].ts, at("2026-06-15T00:10:00Z"));
}

#[tokio::test]
async fn yahoo_daily_bars_are_stamped_at_the_session_date_midnight() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(path(CHART_KS))
        .and(query_param("interval", "1d"))
        .respond_with(ok(fixture("yahoo_005930_ks_1d.json")))
        .expect(1)
        .mount(&server)
        .await;
    // 2026-06-02..2026-06-12 in Seoul (06-03 was an election holiday).
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::D1,
        "2026-06-01T15:00:00Z",
        "2026-06-11T15:00:00Z",
    );
    let got = yahoo(&server, &deps).await.fetch(&req).await.unwrap();
    let days: Vec<_> = got.bars.iter().map(|b| b.ts).collect();
    assert_eq!(
        days,
        [
            "2026-06-01T15:00:00Z",
            "2026-06-03T15:00:00Z",
            "2026-06-04T15:00:00Z",
            "2026-06-07T15:00:00Z",
            "2026-06-08T15:00:00Z",
            "2026-06-09T15:00:00Z",
            "2026-06-10T15:00:00Z",
            "2026-06-11T15:00:00Z",
        ]
        .map(at)
    );
    assert_eq!(got.partial, 0, "the 06-12 session has long closed");
    assert_eq!(got.bars[0].close, Some(72000.0));
    assert_eq!(got.bars[7].close, Some(75000.0));
    assert_eq!(got.bars[7].volume, Some(17670290));
}

#[tokio::test]
async fn yahoo_daily_bar_of_an_open_session_is_partial() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(path(CHART_KS))
        .respond_with(ok(fixture("yahoo_005930_ks_1d.json")))
        .mount(&server)
        .await;
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::D1,
        "2026-05-31T15:00:00Z",
        "2026-06-11T15:00:00Z",
    );
    // 10:45 KST on 2026-06-12: that day's bar is still being traded.
    let p = yahoo(&server, &deps)
        .await
        .with_clock(Clock::virtual_at(at("2026-06-12T01:45:00Z")));
    let got = p.fetch(&req).await.unwrap();
    assert_eq!(got.bars.len(), 8);
    assert_eq!(got.partial, 1);
    assert_eq!(got.bars.last().unwrap().ts, at("2026-06-10T15:00:00Z"));
}

#[tokio::test]
async fn yahoo_us_daily_with_a_split_is_dated_in_new_york() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ok(fixture("yahoo_aapl_1d_split.json")))
        .mount(&server)
        .await;
    let req = request(
        "AAPL",
        NEW_YORK,
        Interval::D1,
        "2020-08-24T04:00:00Z",
        "2020-09-04T04:00:00Z",
    );
    let got = yahoo(&server, &deps).await.fetch(&req).await.unwrap();
    assert_eq!(got.bars.len(), 10);
    assert_eq!(got.bars[0].ts, at("2020-08-24T04:00:00Z"));
    let split_day = &got.bars[5];
    assert_eq!(split_day.ts, at("2020-08-31T04:00:00Z"));
    assert_eq!(split_day.open, Some(127.58));
    assert_eq!(split_day.volume, Some(225702700));
}

async fn yahoo_error(status: u16, body: String) -> (ProviderError, usize) {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(path(CHART_KS))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::M1,
        "2026-06-15T00:00:00Z",
        "2026-06-15T06:30:00Z",
    );
    let err = yahoo(&server, &deps)
        .await
        .fetch(&req)
        .await
        .expect_err("an error");
    assert_eq!((err.provider, err.symbol.as_str()), ("yahoo", "005930.KS"));
    assert!(!err.message.contains("127.0.0.1"), "no URL: {err}");
    (err, requests_to(&server, CHART_KS).await.len())
}

#[tokio::test]
async fn yahoo_not_found_is_permanent_with_code_and_description() {
    let (err, tries) = yahoo_error(404, fixture("yahoo_not_found.json")).await;
    assert!(!err.retryable);
    assert_eq!(tries, 1);
    assert_eq!(
        err.to_string(),
        "yahoo 005930.KS: HTTP 404: Not Found: No data found, symbol may be delisted"
    );
}

#[tokio::test]
async fn yahoo_bad_request_and_unprocessable_are_permanent() {
    let (err, tries) = yahoo_error(400, fixture("yahoo_bad_request.json")).await;
    assert!(!err.retryable && tries == 1);
    assert!(
        err.message.contains("HTTP 400: Bad Request: Invalid input"),
        "{err}"
    );
    let (err, _) = yahoo_error(422, fixture("yahoo_unprocessable.json")).await;
    assert!(!err.retryable);
    assert!(err.message.contains("Unprocessable Entity"), "{err}");
}

#[tokio::test]
async fn yahoo_html_truncated_and_chartless_payloads_are_malformed() {
    let (err, _) = yahoo_error(200, fixture("yahoo_html.html")).await;
    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "malformed payload: an HTML page instead of JSON"
    );
    let (err, _) = yahoo_error(200, fixture("yahoo_truncated.json")).await;
    assert!(!err.retryable);
    assert!(
        err.message.starts_with("malformed payload: truncated JSON"),
        "{err}"
    );
    let (err, _) = yahoo_error(200, r#"{"finance":{"result":null}}"#.into()).await;
    assert!(!err.retryable);
    assert_eq!(err.message, "malformed payload: no `chart` object");
}

#[tokio::test]
async fn yahoo_server_errors_are_retried_then_retryable() {
    let (err, tries) = yahoo_error(503, fixture("yahoo_html.html")).await;
    assert!(err.retryable, "{err}");
    assert_eq!(tries, 3, "first try and two retries");
    assert!(err.message.starts_with("HTTP 503"), "{err}");
}

#[tokio::test]
async fn yahoo_unsupported_interval_fails_without_a_request() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    let req = request(
        "005930.KS",
        SEOUL,
        Interval::M5,
        "2026-06-15T00:00:00Z",
        "2026-06-15T06:30:00Z",
    );
    let err = yahoo(&server, &deps).await.fetch(&req).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("5m is not supported"), "{err}");
    assert!(requests_to(&server, CHART_KS).await.is_empty());
}

#[tokio::test]
async fn provider_configs_reject_unknown_keys_by_name() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let e = Yahoo::from_config(&table("bse_url = \"http://x\""), &deps)
        .err()
        .unwrap();
    assert!(
        e.contains("providers.yahoo") && e.contains("bse_url"),
        "{e}"
    );
    let e = Stooq::from_config(&table("retires = 3"), &deps)
        .err()
        .unwrap();
    assert!(
        e.contains("providers.stooq") && e.contains("retires"),
        "{e}"
    );
    let e = Kis::from_config(
        &table("app_key_env = \"A\"\napp_secret_env = \"B\"\ntoken_margin = 5"),
        &deps,
    )
    .err()
    .unwrap();
    assert!(
        e.contains("providers.kis") && e.contains("token_margin"),
        "{e}"
    );
    let e = Kis::from_config(&table("app_key_env = \"A\""), &deps)
        .err()
        .unwrap();
    assert!(e.contains("app_secret_env"), "{e}");
    let e = Stooq::from_config(&table("base_url = \"stooq.com\""), &deps)
        .err()
        .unwrap();
    assert!(e.contains("base_url"), "{e}");
    // Defaults and every HTTP key.
    assert!(Yahoo::from_config(&toml::Table::new(), &deps).is_ok());
    assert!(Stooq::from_config(
        &table("rate_per_sec = 2\nretries = 0\nbackoff_ms = 10\ntimeout_secs = 3"),
        &deps
    )
    .is_ok());
}

/// Jobs may run fetches on spawned tasks.
#[tokio::test]
async fn provider_fetch_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    let req = january();
    let y = yahoo(&server, &deps).await;
    let s = stooq(&server, &deps).await;
    let k = Kis::from_config(&kis_table(&server, "send", ""), &deps).unwrap();
    send(&y.fetch(&req));
    send(&s.fetch(&req));
    send(&k.fetch(&req));
}

// ---------------------------------------------------------------- stooq

async fn stooq(server: &MockServer, deps: &ProviderDeps) -> Stooq {
    let t = table(&format!(
        "base_url = \"{}\"\nretries = 1\nbackoff_ms = 1",
        server.uri()
    ));
    Stooq::from_config(&t, deps).expect("stooq config")
}

async fn stooq_fetch(body: String, symbol: &str) -> (Result<Fetched, ProviderError>, usize) {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/q/d/l/"))
        .and(query_param("s", symbol))
        .and(query_param("i", "d"))
        .and(query_param("d1", "20260602"))
        .and(query_param("d2", "20260612"))
        .respond_with(ok(body))
        .mount(&server)
        .await;
    let req = request(
        symbol,
        NEW_YORK,
        Interval::D1,
        "2026-06-02T04:00:00Z",
        "2026-06-12T04:00:00Z",
    );
    let got = stooq(&server, &deps).await.fetch(&req).await;
    (got, requests_to(&server, "/q/d/l/").await.len())
}

#[tokio::test]
async fn stooq_daily_csv_becomes_bars_in_the_exchange_zone() {
    let (got, tries) = stooq_fetch(fixture("stooq_aapl_us_d.csv"), "aapl.us").await;
    let got = got.unwrap();
    assert_eq!(tries, 1);
    assert_eq!(got.requests, 1);
    // The file starts on 06-01, outside the range; 9 sessions remain.
    assert_eq!(got.bars.len(), 9);
    let b = &got.bars[0];
    assert_eq!(b.ts, at("2026-06-02T04:00:00Z"));
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (
            Some(214.62),
            Some(217.08),
            Some(214.01),
            Some(216.91),
            Some(68863957)
        )
    );
    assert_eq!(b.raw, "2026-06-02,214.62,217.08,214.01,216.91,68863957");
    assert_eq!(got.bars[8].ts, at("2026-06-12T04:00:00Z"));
}

#[tokio::test]
async fn stooq_index_without_volume_has_no_volume() {
    let (got, _) = stooq_fetch(fixture("stooq_spx_d.csv"), "^spx").await;
    let got = got.unwrap();
    assert_eq!(got.bars.len(), 9);
    assert!(got.bars.iter().all(|b| b.volume.is_none()));
    assert_eq!(got.bars[8].close, Some(6053.74));
}

#[tokio::test]
async fn stooq_failures_in_a_200_body_are_told_apart() {
    let (got, _) = stooq_fetch(fixture("stooq_no_data.txt"), "zzzz.us").await;
    let err = got.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.to_string(), "stooq zzzz.us: no data for symbol");

    let (got, tries) = stooq_fetch(fixture("stooq_hits_limit.txt"), "aapl.us").await;
    let err = got.unwrap_err();
    assert!(err.retryable);
    assert_eq!(tries, 1, "a 200 body is not retried in the call");
    assert!(err.message.contains("daily hits limit"), "{err}");

    let (got, _) = stooq_fetch(fixture("stooq_html.html"), "aapl.us").await;
    let err = got.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "malformed payload: an HTML page instead of CSV"
    );

    let (got, _) = stooq_fetch("Symbol,Last\naapl.us,212\n".into(), "aapl.us").await;
    let err = got.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.starts_with("malformed payload"), "{err}");
}

#[tokio::test]
async fn stooq_bad_cells_become_holes_and_bad_dates_unparsed() {
    let body = "Date,Open,High,Low,Close,Volume\n\
                2026-06-02,214.62,n/a,214.01,216.91,68863957\n\
                06/03/2026,216.91,218.00,215.10,217.50,51234567\n\
                2026-06-04,217.50,219.20,216.80,218.70,\n";
    let (got, _) = stooq_fetch(body.into(), "aapl.us").await;
    let got = got.unwrap();
    assert_eq!(got.bars.len(), 2);
    assert_eq!(got.bars[0].high, None);
    assert_eq!(got.bars[0].open, Some(214.62));
    assert_eq!(got.bars[1].volume, None);
    assert_eq!(got.unparsed.len(), 1);
    assert!(got.unparsed[0].raw.starts_with("06/03/2026"));
}

#[tokio::test]
async fn stooq_only_serves_daily_bars() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    let req = request(
        "aapl.us",
        NEW_YORK,
        Interval::M1,
        "2026-06-02T13:30:00Z",
        "2026-06-02T20:00:00Z",
    );
    let err = stooq(&server, &deps).await.fetch(&req).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("only 1d"), "{err}");
    assert!(requests_to(&server, "/q/d/l/").await.is_empty());
}

// ---------------------------------------------------------------- kis

const TOKEN: &str = "/oauth2/tokenP";
const DAILY: &str = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice";
const MINUTE: &str = "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice";
const APP_KEY: &str = "PSk3yValue0do0not0leak0000000000000";
const APP_SECRET: &str = "s3cretValue/do+not+leak/1111111111111111111111111111";

fn fixture_token() -> String {
    let v: Value = serde_json::from_str(&fixture("kis_token.json")).unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// A `[providers.kis]` table whose secrets sit in variables named after
/// `tag` (tests run in parallel, each with its own names).
fn kis_table(server: &MockServer, tag: &str, extra: &str) -> toml::Table {
    let key_var = format!("TICKERD_IT_KIS_KEY_{tag}");
    let secret_var = format!("TICKERD_IT_KIS_SECRET_{tag}");
    std::env::set_var(&key_var, APP_KEY);
    std::env::set_var(&secret_var, APP_SECRET);
    table(&format!(
        "base_url = \"{}\"\napp_key_env = \"{key_var}\"\napp_secret_env = \"{secret_var}\"\n\
         retries = 2\nbackoff_ms = 1\ntimeout_secs = 5\nrate_per_sec = 1000\n{extra}",
        server.uri()
    ))
}

async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_json(json!({
            "grant_type": "client_credentials",
            "appkey": APP_KEY,
            "appsecret": APP_SECRET,
        })))
        .respond_with(ok(fixture("kis_token.json")))
        .mount(server)
        .await;
}

/// The daily page 2 (2026-01-02..2026-01-29, 20 rows) for a request with
/// that range, answered to `token` only.
async fn mount_small_daily(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path(DAILY))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .and(query_param("FID_INPUT_DATE_2", "20260129"))
        .respond_with(ok(fixture("kis_daily_page2.json")))
        .mount(server)
        .await;
}

fn january() -> FetchRequest {
    request(
        "005930",
        SEOUL,
        Interval::D1,
        "2026-01-01T15:00:00Z",
        "2026-01-28T15:00:00Z",
    )
}

fn assert_no_secrets(err: &ProviderError) {
    let shown = format!("{err} {err:?}");
    for secret in [APP_KEY, APP_SECRET, &fixture_token(), "old-token"] {
        assert!(!shown.contains(secret), "a secret leaked into: {shown}");
    }
}

async fn stored_token(storage: &Storage) -> Option<(String, DateTime<Utc>)> {
    tickerd::on_db!(&storage.db, pool => {
        sqlx::query_as("SELECT token, expires_at FROM provider_tokens WHERE provider = 'kis'")
            .fetch_optional(pool)
            .await
            .unwrap()
    })
}

async fn store_token(storage: &Storage, token: &str, expires_at: DateTime<Utc>) {
    tickerd::on_db!(&storage.db, pool => {
        sqlx::query(
            "INSERT INTO provider_tokens (provider, token, expires_at, updated_at) VALUES ('kis', $1, $2, $3)",
        )
        .bind(token)
        .bind(expires_at)
        .bind(Utc::now())
        .execute(pool)
        .await
        .unwrap();
    })
}

#[tokio::test]
async fn kis_daily_pages_back_until_the_range_is_covered() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    for (date_2, page) in [
        ("20260630", "kis_daily_page1.json"),
        ("20260129", "kis_daily_page2.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(DAILY))
            .and(header(
                "authorization",
                format!("Bearer {}", fixture_token()).as_str(),
            ))
            .and(header("appkey", APP_KEY))
            .and(header("appsecret", APP_SECRET))
            .and(header("tr_id", "FHKST03010100"))
            .and(header("custtype", "P"))
            .and(query_param("FID_COND_MRKT_DIV_CODE", "J"))
            .and(query_param("FID_INPUT_ISCD", "005930"))
            .and(query_param("FID_INPUT_DATE_1", "20260102"))
            .and(query_param("FID_INPUT_DATE_2", date_2))
            .and(query_param("FID_PERIOD_DIV_CODE", "D"))
            .and(query_param("FID_ORG_ADJ_PRC", "1"))
            .respond_with(ok(fixture(page)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let kis = Kis::from_config(&kis_table(&server, "daily_pages", ""), &deps).unwrap();
    let req = request(
        "005930",
        SEOUL,
        Interval::D1,
        "2026-01-01T15:00:00Z",
        "2026-06-29T15:00:00Z",
    );
    let got = kis.fetch(&req).await.unwrap();
    assert_eq!(got.requests, 2);
    assert_eq!(got.bars.len(), 120, "every 2026 H1 session");
    assert_eq!((got.partial, got.no_trade), (0, 0));
    assert!(got.unparsed.is_empty());
    assert!(got.bars.windows(2).all(|w| w[0].ts < w[1].ts));
    let first = &got.bars[0];
    assert_eq!(first.ts, at("2026-01-01T15:00:00Z"));
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (
            Some(55000.0),
            Some(56100.0),
            Some(54800.0),
            Some(56100.0),
            Some(9554751)
        )
    );
    assert!(first.raw.contains("\"stck_bsop_date\":\"20260102\""));
    let last = got.bars.last().unwrap();
    assert_eq!(last.ts, at("2026-06-29T15:00:00Z"));
    assert_eq!((last.close, last.volume), (Some(72100.0), Some(8054425)));
    assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
}

#[tokio::test]
async fn kis_daily_stops_at_a_blank_page_before_the_listing() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    for (date_2, page) in [
        ("20260630", "kis_daily_page1.json"),
        ("20260129", "kis_daily_page2.json"),
        ("20260101", "kis_daily_empty.json"),
    ] {
        Mock::given(path(DAILY))
            .and(query_param("FID_INPUT_DATE_1", "20251229"))
            .and(query_param("FID_INPUT_DATE_2", date_2))
            .respond_with(ok(fixture(page)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let kis = Kis::from_config(&kis_table(&server, "daily_blank", ""), &deps).unwrap();
    let req = request(
        "005930",
        SEOUL,
        Interval::D1,
        "2025-12-28T15:00:00Z",
        "2026-06-29T15:00:00Z",
    );
    let got = kis.fetch(&req).await.unwrap();
    assert_eq!(got.requests, 3);
    assert_eq!(got.bars.len(), 120);
    assert!(got.unparsed.is_empty(), "the blank row is no bar");
}

#[tokio::test]
async fn kis_daily_bad_values_become_holes_and_bad_dates_unparsed() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    let mut page: Value = serde_json::from_str(&fixture("kis_daily_page2.json")).unwrap();
    let rows = page["output2"].as_array_mut().unwrap();
    rows[0]["stck_hgpr"] = json!("-");
    rows[0]["acml_vol"] = json!("");
    rows[1]["stck_bsop_date"] = json!("2026012");
    Mock::given(path(DAILY))
        .respond_with(ResponseTemplate::new(200).set_body_json(&page))
        .mount(&server)
        .await;
    let kis = Kis::from_config(&kis_table(&server, "daily_holes", ""), &deps).unwrap();
    let got = kis.fetch(&january()).await.unwrap();
    assert_eq!(got.bars.len(), 19);
    assert_eq!(got.unparsed.len(), 1);
    assert!(got.unparsed[0].raw.contains("2026012"));
    let newest = got.bars.last().unwrap();
    assert_eq!(newest.ts, at("2026-01-28T15:00:00Z"));
    assert_eq!((newest.high, newest.volume), (None, None));
    assert!(newest.close.is_some());
}

/// Answers minute requests like KIS: the 30 bars ending at
/// `FID_INPUT_HOUR_1` (within 09:00-15:30) of one day, newest first.
struct MinutePages {
    day: &'static str,
    /// Ignore `FID_INPUT_HOUR_1` and always send the last page.
    stuck: bool,
}

impl Respond for MinutePages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let hour = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "FID_INPUT_HOUR_1")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let minute = |s: &str| s.parse::<u32>().unwrap();
        let asked = minute(&hour[0..2]) * 60 + minute(&hour[2..4]);
        let end = if self.stuck { 930 } else { asked.min(930) };
        let rows: Vec<Value> = (0..30)
            .map(|i| end as i64 - i)
            .filter(|m| *m >= 540)
            .map(|m| {
                let close = 71000 + (m % 17) * 100;
                json!({
                    "stck_bsop_date": self.day,
                    "stck_cntg_hour": format!("{:02}{:02}00", m / 60, m % 60),
                    "stck_prpr": close.to_string(),
                    "stck_oprc": (close - 100).to_string(),
                    "stck_hgpr": (close + 100).to_string(),
                    "stck_lwpr": (close - 200).to_string(),
                    "cntg_vol": (1000 + m).to_string(),
                    "acml_tr_pbmn": (close * (1000 + m)).to_string(),
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
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

async fn kis_minute(
    tag: &str,
    now: &str,
    stuck: bool,
) -> (Result<Fetched, ProviderError>, Vec<String>) {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path(MINUTE))
        .and(header("tr_id", "FHKST03010200"))
        .and(query_param("FID_ETC_CLS_CODE", ""))
        .and(query_param("FID_COND_MRKT_DIV_CODE", "J"))
        .and(query_param("FID_INPUT_ISCD", "005930"))
        .and(query_param("FID_PW_DATA_INCU_YN", "Y"))
        .respond_with(MinutePages {
            day: "20260615",
            stuck,
        })
        .mount(&server)
        .await;
    let kis = Kis::from_config(&kis_table(&server, tag, ""), &deps)
        .unwrap()
        .with_clock(Clock::virtual_at(at(now)));
    let req = request(
        "005930",
        SEOUL,
        Interval::M1,
        "2026-06-15T00:00:00Z",
        "2026-06-15T06:30:00Z",
    );
    let got = kis.fetch(&req).await;
    let hours = requests_to(&server, MINUTE)
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "FID_INPUT_HOUR_1")
                .map(|(_, v)| v.to_string())
                .unwrap()
        })
        .collect();
    (got, hours)
}

#[tokio::test]
async fn kis_minute_pages_a_whole_session_in_one_fetch() {
    // 18:00 KST: the session is over.
    let (got, hours) = kis_minute("minute_session", "2026-06-15T09:00:00Z", false).await;
    let got = got.unwrap();
    assert_eq!(got.bars.len(), 391, "09:00-15:30 inclusive");
    assert_eq!(got.requests, 14);
    assert_eq!(hours.len(), 14);
    assert_eq!(hours[0], "153000");
    assert_eq!(hours[1], "150000");
    assert_eq!(hours[13], "090000");
    assert_eq!(got.partial, 0);
    assert_eq!(got.bars[0].ts, at("2026-06-15T00:00:00Z"));
    assert_eq!(got.bars[390].ts, at("2026-06-15T06:30:00Z"));
    assert!(got
        .bars
        .windows(2)
        .all(|w| (w[1].ts - w[0].ts).num_seconds() == 60));
    // 09:00 is minute 540: close 71000 + (540 % 17) * 100.
    let b = &got.bars[0];
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (
            Some(72200.0),
            Some(72400.0),
            Some(72100.0),
            Some(72300.0),
            Some(1540)
        )
    );
}

#[tokio::test]
async fn kis_minute_live_minute_is_partial() {
    // 10:15:30 KST: the 10:15 bar is still forming.
    let (got, hours) = kis_minute("minute_live", "2026-06-15T01:15:30Z", false).await;
    let got = got.unwrap();
    assert_eq!(hours, ["101530", "094500", "091500"]);
    assert_eq!(got.bars.len(), 75, "09:00-10:14");
    assert_eq!(got.partial, 1);
    assert_eq!(got.bars.last().unwrap().ts, at("2026-06-15T01:14:00Z"));
}

#[tokio::test]
async fn kis_minute_stops_when_a_page_adds_nothing() {
    let (got, hours) = kis_minute("minute_stuck", "2026-06-15T09:00:00Z", true).await;
    let got = got.unwrap();
    assert_eq!(hours, ["153000", "150000"]);
    assert_eq!(got.bars.len(), 30);
}

#[tokio::test]
async fn kis_minute_bars_of_a_past_day_are_refused() {
    let (got, hours) = kis_minute("minute_past", "2026-06-16T01:00:00Z", false).await;
    let err = got.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("current day only"), "{err}");
    assert!(hours.is_empty());
}

#[tokio::test]
async fn kis_rt_cd_error_is_permanent_with_its_codes() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(path(DAILY))
        .respond_with(ok(fixture("kis_rt_cd_error.json")))
        .mount(&server)
        .await;
    let kis = Kis::from_config(&kis_table(&server, "rt_cd", ""), &deps).unwrap();
    let err = kis.fetch(&january()).await.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(
        err.to_string(),
        "kis 005930: rt_cd 2, OPSQ2001: ERROR : INPUT_FIELD_NAME FID_INPUT_ISCD"
    );
    assert_no_secrets(&err);
}

#[tokio::test]
async fn kis_overload_500_is_retried_then_succeeds() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(path(DAILY))
        .respond_with(ResponseTemplate::new(500).set_body_string(fixture("kis_overload.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_small_daily(&server, &fixture_token()).await;
    let kis = Kis::from_config(&kis_table(&server, "overload", ""), &deps).unwrap();
    let got = kis.fetch(&january()).await.unwrap();
    assert_eq!(got.bars.len(), 20);
    assert_eq!(requests_to(&server, DAILY).await.len(), 2);
}

#[tokio::test]
async fn kis_lasting_overload_is_retryable_and_names_the_code() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(path(DAILY))
        .respond_with(ResponseTemplate::new(500).set_body_string(fixture("kis_overload.json")))
        .mount(&server)
        .await;
    let kis = Kis::from_config(&kis_table(&server, "overload_lasting", ""), &deps).unwrap();
    let err = kis.fetch(&january()).await.unwrap_err();
    assert!(err.retryable);
    assert!(err.message.contains("EGW00201"), "{err}");
    assert_eq!(requests_to(&server, DAILY).await.len(), 3);
    assert_no_secrets(&err);
}

#[tokio::test]
async fn kis_missing_secret_variable_is_named_not_shown() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    let mut t = kis_table(&server, "missing_env", "");
    t.insert(
        "app_secret_env".into(),
        toml::Value::String("TICKERD_IT_KIS_NEVER_SET".into()),
    );
    std::env::remove_var("TICKERD_IT_KIS_NEVER_SET");
    let kis = Kis::from_config(&t, &deps).expect("variables are read at fetch time");
    let err = kis.fetch(&january()).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("TICKERD_IT_KIS_NEVER_SET"), "{err}");
    assert_no_secrets(&err);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn kis_refused_token_request_is_permanent_without_secrets() {
    let (_db, deps) = deps(Backend::Sqlite).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(ResponseTemplate::new(403).set_body_string(fixture("kis_token_refused.json")))
        .mount(&server)
        .await;
    let kis = Kis::from_config(&kis_table(&server, "refused", ""), &deps).unwrap();
    let err = kis.fetch(&january()).await.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message.contains("EGW00103") && err.message.contains("AppKey"),
        "{err}"
    );
    assert_no_secrets(&err);
    assert!(requests_to(&server, DAILY).await.is_empty());
}

both_backends!(
    kis_token_is_stored_and_reused_by_a_later_instance,
    |backend| async move {
        let (_db, deps) = deps(backend).await;
        let server = MockServer::start().await;
        mount_token(&server).await;
        mount_small_daily(&server, &fixture_token()).await;
        let t = kis_table(&server, &format!("reuse_{backend:?}"), "");

        let first = Kis::from_config(&t, &deps).unwrap();
        assert_eq!(first.fetch(&january()).await.unwrap().bars.len(), 20);
        assert_eq!(first.fetch(&january()).await.unwrap().bars.len(), 20);
        assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
        let (token, expires_at) = stored_token(&deps.storage).await.expect("token stored");
        assert_eq!(token, fixture_token());
        let lifetime = (expires_at - Utc::now()).num_seconds();
        assert!((86_000..=86_400).contains(&lifetime), "{lifetime}");

        // A later run (a new instance, as a new process would build) reuses it.
        let later = Kis::from_config(&t, &deps).unwrap();
        assert_eq!(later.fetch(&january()).await.unwrap().bars.len(), 20);
        assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
        assert_eq!(requests_to(&server, DAILY).await.len(), 3);
    }
);

both_backends!(kis_token_near_expiry_is_refreshed, |backend| async move {
    let (_db, deps) = deps(backend).await;
    let server = MockServer::start().await;
    mount_token(&server).await;
    mount_small_daily(&server, &fixture_token()).await;
    // Five minutes left, inside the default ten-minute margin.
    store_token(
        &deps.storage,
        "old-token",
        Utc::now() + chrono::Duration::minutes(5),
    )
    .await;
    let kis =
        Kis::from_config(&kis_table(&server, &format!("near_{backend:?}"), ""), &deps).unwrap();
    assert_eq!(kis.fetch(&january()).await.unwrap().bars.len(), 20);
    assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
    let (token, expires_at) = stored_token(&deps.storage).await.unwrap();
    assert_eq!(token, fixture_token());
    assert!(expires_at > Utc::now() + chrono::Duration::hours(23));

    // With a smaller margin the stored token is still good.
    store_token_replace(
        &deps.storage,
        "old-token",
        Utc::now() + chrono::Duration::minutes(5),
    )
    .await;
    mount_small_daily(&server, "old-token").await;
    let relaxed = Kis::from_config(
        &kis_table(
            &server,
            &format!("near_{backend:?}"),
            "token_margin_secs = 60",
        ),
        &deps,
    )
    .unwrap();
    assert_eq!(relaxed.fetch(&january()).await.unwrap().bars.len(), 20);
    assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
});

async fn store_token_replace(storage: &Storage, token: &str, expires_at: DateTime<Utc>) {
    tickerd::on_db!(&storage.db, pool => {
        sqlx::query("DELETE FROM provider_tokens WHERE provider = 'kis'")
            .execute(pool)
            .await
            .unwrap();
    });
    store_token(storage, token, expires_at).await;
}

both_backends!(
    kis_expired_token_is_refreshed_once_and_the_call_repeated,
    |backend| async move {
        let (_db, deps) = deps(backend).await;
        let server = MockServer::start().await;
        mount_token(&server).await;
        store_token(
            &deps.storage,
            "old-token",
            Utc::now() + chrono::Duration::hours(12),
        )
        .await;
        Mock::given(path(DAILY))
            .and(header("authorization", "Bearer old-token"))
            .respond_with(ok(fixture("kis_expired_token.json")))
            .mount(&server)
            .await;
        mount_small_daily(&server, &fixture_token()).await;
        let kis = Kis::from_config(
            &kis_table(&server, &format!("expired_{backend:?}"), ""),
            &deps,
        )
        .unwrap();
        let got = kis.fetch(&january()).await.unwrap();
        assert_eq!(got.bars.len(), 20);
        assert_eq!(got.requests, 2);
        assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
        assert_eq!(
            stored_token(&deps.storage).await.unwrap().0,
            fixture_token()
        );
    }
);

both_backends!(
    kis_expired_token_sent_as_http_500_is_refreshed_too,
    |backend| async move {
        let (_db, deps) = deps(backend).await;
        let server = MockServer::start().await;
        mount_token(&server).await;
        store_token(
            &deps.storage,
            "old-token",
            Utc::now() + chrono::Duration::hours(12),
        )
        .await;
        Mock::given(path(DAILY))
            .and(header("authorization", "Bearer old-token"))
            .respond_with(
                ResponseTemplate::new(500).set_body_string(fixture("kis_expired_token.json")),
            )
            .mount(&server)
            .await;
        mount_small_daily(&server, &fixture_token()).await;
        let mut t = kis_table(&server, &format!("expired500_{backend:?}"), "");
        t.insert("retries".into(), toml::Value::Integer(1));
        let kis = Kis::from_config(&t, &deps).unwrap();
        let got = kis.fetch(&january()).await.unwrap();
        assert_eq!(got.bars.len(), 20);
        assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
        // Two tries with the old token (the Fetcher retries 5xx), one with the new.
        assert_eq!(requests_to(&server, DAILY).await.len(), 3);
    }
);

both_backends!(
    kis_token_refused_again_after_a_refresh_fails,
    |backend| async move {
        let (_db, deps) = deps(backend).await;
        let server = MockServer::start().await;
        mount_token(&server).await;
        Mock::given(path(DAILY))
            .respond_with(ok(fixture("kis_expired_token.json")))
            .mount(&server)
            .await;
        let kis = Kis::from_config(
            &kis_table(&server, &format!("again_{backend:?}"), ""),
            &deps,
        )
        .unwrap();
        let err = kis.fetch(&january()).await.unwrap_err();
        assert!(err.message.contains("EGW00123"), "{err}");
        assert_no_secrets(&err);
        // One token at the start, one refresh; never a loop.
        assert_eq!(requests_to(&server, TOKEN).await.len(), 2);
        assert_eq!(requests_to(&server, DAILY).await.len(), 2);
    }
);

both_backends!(
    kis_concurrent_fetches_issue_one_token,
    |backend| async move {
        let (_db, deps) = deps(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN))
            .respond_with(
                ok(fixture("kis_token.json")).set_delay(std::time::Duration::from_millis(200)),
            )
            .mount(&server)
            .await;
        mount_small_daily(&server, &fixture_token()).await;
        let t = kis_table(&server, &format!("concurrent_{backend:?}"), "");
        let a = Kis::from_config(&t, &deps).unwrap();
        let b = Kis::from_config(&t, &deps).unwrap();
        let req = january();
        let (ra, rb, ra2) = tokio::join!(a.fetch(&req), b.fetch(&req), a.fetch(&req));
        for r in [ra, rb, ra2] {
            assert_eq!(r.unwrap().bars.len(), 20);
        }
        assert_eq!(requests_to(&server, TOKEN).await.len(), 1);
    }
);
