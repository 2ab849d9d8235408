//! `predict` end to end through the binary: the `openai` provider against a
//! local server speaking the chat completions API (a valid answer, invalid
//! JSON, probabilities that do not sum to 1, a band that excludes its own
//! expected value, a 429 with Retry-After, a 500, a timeout), no
//! look-ahead, the budget, and the offline baseline on both backends.

use crate::support::{stderr, stdout, Backend, Project};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SCHEDULES: &str =
    "[jobs.ohlc_daily]\ncron = \"0 0 22 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.news_crawl]\ncron = \"0 */10 * * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.predict]\ncron = \"0 0 23 * * *\"\ntimezone = \"UTC\"\nretries = 0\ntimeout = \"5m\"\n";

/// Stocks 000001..=n on XKRX, named after what their mock answer does.
fn universe(n: usize) -> String {
    let mut t = String::from("exchange,code,name,currency,priority,active,aliases,symbols\n");
    for i in 1..=n {
        t += &format!("XKRX,{i:06},Stock {i},KRW,1,true,,\n");
    }
    t
}

/// Daily closes for 2026-07-01 .. `last` on every KRX session.
fn daily_csv(seed: u32, last: chrono::NaiveDate) -> String {
    let cal_dir = format!("{}/jobs/calendars", env!("CARGO_MANIFEST_DIR"));
    let (cals, _) = tickerd::time::Calendars::load_dir(std::path::Path::new(&cal_dir));
    let krx = cals.get("XKRX").unwrap();
    let mut text = String::from("date,open,high,low,close,volume\n");
    let mut d = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let mut close = 10_000.0 + f64::from(seed) * 100.0;
    let mut k = 0u32;
    while d <= last {
        if krx.session(d).is_some() {
            k += 1;
            // A deterministic wiggle: up 3 of every 5 sessions.
            close *= if (k + seed) % 5 < 3 { 1.004 } else { 0.995 };
            let c = (close * 100.0).round() / 100.0;
            text += &format!(
                "{d},{c},{},{},{c},{}\n",
                c + 10.0,
                c - 10.0,
                100_000 + k * 10
            );
        }
        d += chrono::Duration::days(1);
    }
    text
}

const CUTOFF: &str = "2026-11-20T12:00:00Z"; // Friday, after the KRX close

async fn project(backend: Backend, stocks: usize) -> Project {
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(p.path("jobs/universe.csv"), universe(stocks)).unwrap();
    p.write_job_params(
        "ohlc_daily",
        "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nlookback_days = 200\n[providers.files]\npath = \"bars/{interval}/{exchange}/{code}.csv\"\n",
    );
    std::fs::create_dir_all(p.path("bars/1d/XKRX")).unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    for i in 1..=stocks {
        std::fs::write(
            p.path(&format!("bars/1d/XKRX/{i:06}.csv")),
            daily_csv(i as u32, last),
        )
        .unwrap();
    }
    let out = p.run(&["run", "ohlc_daily", "--slot", CUTOFF]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    std::fs::create_dir_all(p.path("jobs/prompts")).unwrap();
    std::fs::copy(
        format!("{}/jobs/prompts/stock_v1.md", env!("CARGO_MANIFEST_DIR")),
        p.path("jobs/prompts/stock_v1.md"),
    )
    .unwrap();
    p
}

fn models_toml(server: &MockServer, timeout: u64, retries: u32) -> String {
    format!(
        "[[models]]\nname = \"llm\"\nprovider = \"openai\"\nmodel = \"gpt-test\"\nmax_tokens = 600\nprompt = \"prompts/stock_v1.md\"\n\
         base_url = \"{}/v1\"\ntimeout_secs = {timeout}\nmax_retries = {retries}\nprices = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}\n",
        server.uri()
    )
}

fn answer(p: [f64; 3], expected: f64, low: f64, high: f64) -> String {
    let h = |d: u32| {
        json!({"horizon_days": d, "p_up": p[0], "p_flat": p[1], "p_down": p[2],
               "expected_return": expected * f64::from(d), "band_low": low * f64::from(d),
               "band_high": high * f64::from(d), "coverage": 0.8,
               "price_target": null, "support": null})
    };
    json!({"horizons": [h(1), h(5)], "drivers": ["momentum"], "explanation": "Momentum is positive."})
        .to_string()
}

fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000u32, "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "refusal": null}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    }))
}

/// Answers by the stock named in the prompt; counts calls per stock.
#[derive(Clone, Default)]
struct ByStock {
    calls: Arc<Mutex<HashMap<String, usize>>>,
    prompts: Arc<Mutex<Vec<String>>>,
}

impl Respond for ByStock {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let prompt = body["messages"][1]["content"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let code = (1..=9)
            .map(|i| format!("XKRX:{i:06}"))
            .find(|c| prompt.contains(c.as_str()))
            .unwrap_or_default();
        self.prompts.lock().unwrap().push(prompt);
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(code.clone()).or_default();
            *n += 1;
            *n
        };
        let valid = answer([0.5, 0.2, 0.3], 0.4, -1.5, 2.0);
        match code.as_str() {
            "XKRX:000001" => completion(&valid),
            "XKRX:000002" => completion("Sure! The stock looks {bullish"),
            "XKRX:000003" if n == 1 => completion(&answer([0.6, 0.4, 0.3], 0.4, -1.5, 2.0)),
            "XKRX:000003" => completion(&valid),
            "XKRX:000004" => completion(&answer([0.5, 0.2, 0.3], 3.0, -1.5, 2.0)),
            "XKRX:000005" if n == 1 => ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
            "XKRX:000005" => completion(&valid),
            "XKRX:000006" => ResponseTemplate::new(500).set_body_json(
                json!({"error": {"message": "The server had an error", "type": "server_error", "param": null, "code": null}}),
            ),
            "XKRX:000007" => completion(&valid).set_delay(Duration::from_secs(3)),
            _ => completion(&valid),
        }
    }
}

type Row = (String, i32, String, Option<String>, Option<f64>, i32);

async fn rows(p: &Project) -> Vec<Row> {
    let storage = p.db.storage().await;
    tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT s.code, p.horizon_days, p.status, p.reason, p.p_up, p.input_tokens FROM predictions p
         JOIN stocks s ON s.id = p.stock_id ORDER BY s.code, p.horizon_days",
    ).fetch_all(pool).await.unwrap())
}

fn status_of<'a>(rows: &'a [Row], code: &str) -> Vec<&'a Row> {
    rows.iter().filter(|r| r.0 == code).collect()
}

#[tokio::test]
async fn openai_answers_each_case_has_its_outcome() {
    let server = MockServer::start().await;
    let responder = ByStock::default();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(responder.clone())
        .mount(&server)
        .await;
    let p = project(Backend::Sqlite, 7).await;
    p.write_job_params("models", &models_toml(&server, 1, 1));
    p.write_job_params(
        "predict",
        "similar_k = 0\nconcurrency = 2\n[budget]\nmax_calls = 100\n",
    );
    let out = p
        .cmd(&["run", "predict", "--slot", CUTOFF])
        .env("OPENAI_API_KEY", "sk-predict-test-key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let all_out = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all_out.contains("sk-predict-test-key"));
    let r = rows(&p).await;
    let st = |code: &str| {
        status_of(&r, code)
            .iter()
            .map(|x| x.2.clone())
            .collect::<Vec<_>>()
    };
    // A valid structured answer: two horizons stored, with usage.
    assert_eq!(st("000001"), ["ok", "ok"], "{r:?}");
    assert!(status_of(&r, "000001")[0].5 > 0, "tokens recorded");
    // Invalid JSON twice (first answer and the repair): rejected, with why.
    assert_eq!(st("000002"), ["rejected", "rejected"], "{r:?}");
    assert!(status_of(&r, "000002")[0]
        .3
        .as_deref()
        .unwrap_or("")
        .to_lowercase()
        .contains("json"));
    assert!(
        status_of(&r, "000002")[0].4.is_none(),
        "never a neutral prediction"
    );
    // Probabilities summing to 1.3, repaired on the second call.
    assert_eq!(st("000003"), ["ok", "ok"], "{r:?}");
    // A band that excludes its expected value, twice: rejected.
    assert_eq!(st("000004"), ["rejected", "rejected"], "{r:?}");
    assert!(
        status_of(&r, "000004")[0]
            .3
            .as_deref()
            .unwrap_or("")
            .contains("band"),
        "{r:?}"
    );
    // 429 with Retry-After, then an answer.
    assert_eq!(st("000005"), ["ok", "ok"], "{r:?}");
    // 500 every time: failed with the status.
    assert_eq!(st("000006"), ["failed", "failed"], "{r:?}");
    assert!(
        status_of(&r, "000006")[0]
            .3
            .as_deref()
            .unwrap_or("")
            .contains("500"),
        "{r:?}"
    );
    // No answer within the timeout: failed.
    assert_eq!(st("000007"), ["failed", "failed"], "{r:?}");
    assert!(
        status_of(&r, "000007")[0]
            .3
            .as_deref()
            .unwrap_or("")
            .contains("no answer"),
        "{r:?}"
    );
    let calls = responder.calls.lock().unwrap().clone();
    assert_eq!(calls["XKRX:000002"], 2, "one repair attempt, not more");
    assert_eq!(calls["XKRX:000003"], 2);
    assert!(calls["XKRX:000005"] >= 2);

    // The report says it per model, with the reasons.
    let md = std::fs::read_to_string(p.path("reports/predict/2026-11-20/120000.000Z.md")).unwrap();
    assert!(md.contains("| llm | 3 |"), "{md}");
    assert!(md.contains("not_json") && md.contains("band_order"), "{md}");

    // A rerun pays for nothing already ok; failures are tried again.
    let before: usize = responder.calls.lock().unwrap().values().sum();
    let out = p
        .cmd(&["run", "predict", "--slot", CUTOFF, "--force"])
        .env("OPENAI_API_KEY", "sk-predict-test-key")
        .output()
        .unwrap();
    assert!(out.status.success());
    let calls = responder.calls.lock().unwrap().clone();
    assert_eq!(calls["XKRX:000001"], 1, "ok: not asked again");
    let after: usize = calls.values().sum();
    assert!(after > before, "rejected / failed ones are retried");
}

#[tokio::test]
async fn a_budget_for_n_calls_makes_exactly_n() {
    let server = MockServer::start().await;
    let responder = ByStock::default();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(responder.clone())
        .mount(&server)
        .await;
    let p = project(Backend::Sqlite, 1).await;
    // Five stocks whose mock answers are all valid (000001 and codes the
    // responder has no special case for).
    std::fs::write(
        p.path("jobs/universe.csv"),
        "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,000001,Stock 1,KRW,1,true,,\nXKRX,000008,Stock 8,KRW,1,true,,\nXKRX,000009,Stock 9,KRW,1,true,,\n\
XKRX,000010,Stock 10,KRW,1,true,,\nXKRX,000011,Stock 11,KRW,1,true,,\n",
    )
    .unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    for code in ["000008", "000009", "000010", "000011"] {
        std::fs::write(
            p.path(&format!("bars/1d/XKRX/{code}.csv")),
            daily_csv(3, last),
        )
        .unwrap();
    }
    let out = p.run(&["run", "ohlc_daily", "--slot", CUTOFF, "--force"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    p.write_job_params("models", &models_toml(&server, 10, 0));
    p.write_job_params(
        "predict",
        "similar_k = 0\nconcurrency = 3\n[budget]\nmax_calls = 3\n",
    );
    let out = p
        .cmd(&["run", "predict", "--slot", CUTOFF])
        .env("OPENAI_API_KEY", "sk-x")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let r = rows(&p).await;
    let stocks_with = |s: &str| {
        let mut v: Vec<&str> = r
            .iter()
            .filter(|x| x.2 == s)
            .map(|x| x.0.as_str())
            .collect();
        v.dedup();
        v.len()
    };
    assert_eq!(stocks_with("ok"), 3, "{r:?}");
    assert_eq!(stocks_with("skipped"), 2, "{r:?}");
    assert!(r.iter().filter(|x| x.2 == "skipped").all(|x| x
        .3
        .as_deref()
        .unwrap_or("")
        .contains("budget")));
    let md = std::fs::read_to_string(p.path("reports/predict/2026-11-20/120000.000Z.md")).unwrap();
    assert!(md.contains("budget"), "the report says so: {md}");
}

#[tokio::test]
async fn nothing_after_the_cutoff_reaches_the_prompt() {
    let server = MockServer::start().await;
    let responder = ByStock::default();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(responder.clone())
        .mount(&server)
        .await;
    let p = project(Backend::Sqlite, 1).await;
    std::fs::write(
        p.path("feed.xml"),
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><title>Stock 1 wins a large order</title><link>https://x.example/before</link><description>Stock 1 (KRX: 000001) won an order.</description><pubDate>Thu, 19 Nov 2026 10:00:00 +0900</pubDate></item>
</channel></rss>"#,
    )
    .unwrap();
    p.write_job_params(
        "news_crawl",
        "[[sources]]\nname = \"local\"\nkind = \"feed\"\nurl = \"feed.xml\"\n",
    );
    let out = p.run(&["run", "news_crawl", "--slot", CUTOFF]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    p.write_job_params("models", &models_toml(&server, 10, 0));
    p.write_job_params("predict", "similar_k = 0\n");
    let predict = || {
        let out = p
            .cmd(&["run", "predict", "--slot", CUTOFF, "--force"])
            .env("OPENAI_API_KEY", "sk-x")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    };
    predict();
    let first = responder.prompts.lock().unwrap().last().cloned().unwrap();
    assert!(first.contains("Stock 1 wins a large order"), "{first}");

    // Later data arrives: a bar of the next session and an article
    // published one second after the cut-off.
    let next = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    std::fs::write(p.path("bars/1d/XKRX/000001.csv"), daily_csv(1, next)).unwrap();
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-11-23T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    std::fs::write(
        p.path("feed.xml"),
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://x.example/</link><description>d</description>
<item><title>Stock 1 wins a large order</title><link>https://x.example/before</link><description>Stock 1 (KRX: 000001) won an order.</description><pubDate>Thu, 19 Nov 2026 10:00:00 +0900</pubDate></item>
<item><title>Stock 1 issues a profit warning</title><link>https://x.example/after</link><description>Stock 1 (KRX: 000001) warned on profit.</description><pubDate>Fri, 20 Nov 2026 12:00:01 +0000</pubDate></item>
</channel></rss>"#,
    )
    .unwrap();
    let out = p.run(&["run", "news_crawl", "--slot", "2026-11-23T00:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Predict the same cut-off again (its rows removed, so it is asked).
    {
        let storage = p.db.storage().await;
        tickerd::on_db!(&storage.db, pool => sqlx::query("DELETE FROM predictions").execute(pool).await.unwrap().rows_affected());
    }
    predict();
    let second = responder.prompts.lock().unwrap().last().cloned().unwrap();
    assert!(!second.contains("profit warning"));
    assert_eq!(first, second, "the prompt is the same");
}

/// The offline baseline on both backends: every stock predicted, every
/// horizon ok, and a rerun changes nothing.
async fn baseline_pipeline(backend: Backend) {
    let p = project(backend, 3).await;
    p.write_job_params("predict", "similar_k = 0\n");
    let out = p.run(&["run", "predict", "--slot", CUTOFF]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let r = rows(&p).await;
    assert_eq!(r.len(), 3 * 2, "{r:?}");
    assert!(r.iter().all(|x| x.2 == "ok" && x.4.is_some()), "{r:?}");
    let out = p.run(&["run", "predict", "--slot", CUTOFF, "--force"]);
    assert!(out.status.success());
    assert_eq!(rows(&p).await, r);
    let storage = p.db.storage().await;
    let analyses: i64 = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM stock_analysis").fetch_one(pool).await.unwrap());
    assert_eq!(analyses, 3);
}

#[tokio::test]
async fn baseline_sqlite() {
    baseline_pipeline(Backend::Sqlite).await
}

#[tokio::test]
async fn baseline_postgres() {
    baseline_pipeline(Backend::Postgres).await
}

/// code, horizon, status, reason, target date, realized %, Brier, class
type EvalRow = (
    String,
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<String>,
);

/// `evaluate` (issue #7's first job): a prediction made the day before a
/// holiday matures at the next session after it; its score is computed
/// from the two closes by hand; one whose bars stop (a delisting) is
/// unscorable after the grace sessions; a rerun scores nothing twice.
#[tokio::test]
async fn evaluate_scores_matured_predictions_once() {
    let p = project(Backend::Sqlite, 2).await;
    let until = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    std::fs::write(
        p.path("bars/1d/XKRX/000001.csv"),
        daily_csv(1, until(2027, 1, 8)),
    )
    .unwrap();
    // Stock 2 stops trading after 24 December.
    std::fs::write(
        p.path("bars/1d/XKRX/000002.csv"),
        daily_csv(2, until(2026, 12, 24)),
    )
    .unwrap();
    let out = p.run(&[
        "run",
        "ohlc_daily",
        "--slot",
        "2027-01-08T12:00:00Z",
        "--force",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    p.write_job_params("predict", "similar_k = 0\nflat_band_pct = 0.5\n");
    // Thursday 24 December 2026, after the close; Friday is Christmas.
    let out = p.run(&["run", "predict", "--slot", "2026-12-24T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let sched = SCHEDULES.to_string()
        + "\n[jobs.evaluate]\ncron = \"0 0 12 * * *\"\ntimezone = \"UTC\"\nretries = 0\n";
    p.write_schedules(&sched);

    let evaluations = || async {
        let storage = p.db.storage().await;
        let rows: Vec<EvalRow> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
                "SELECT s.code, p.horizon_days, e.status, e.reason, CAST(e.target_date AS TEXT), e.realized_return,
                        e.brier, e.realized_class
                 FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
                 JOIN stocks s ON s.id = p.stock_id ORDER BY s.code, p.horizon_days",
            ).fetch_all(pool).await.unwrap());
        rows
    };
    let out = p.run(&["run", "evaluate", "--slot", "2026-12-28T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let got = evaluations().await;
    assert_eq!(
        got.len(),
        1,
        "only stock 1's 1-day prediction matured: {got:?}"
    );
    let (code, h, status, _, target, realized, brier, class) = &got[0];
    assert_eq!(
        (code.as_str(), *h, status.as_str()),
        ("000001", 1, "scored")
    );
    assert_eq!(
        target.as_deref().map(|t| &t[..10]),
        Some("2026-12-28"),
        "Christmas and the weekend skipped"
    );
    // By hand from the bars file: close on 28 Dec over close on 24 Dec.
    let csv = daily_csv(1, until(2027, 1, 8));
    let close = |d: &str| -> f64 {
        csv.lines()
            .find(|l| l.starts_with(d))
            .unwrap()
            .split(',')
            .nth(4)
            .unwrap()
            .parse()
            .unwrap()
    };
    let expected = (close("2026-12-28") / close("2026-12-24") - 1.0) * 100.0;
    assert!(
        (realized.unwrap() - expected).abs() < 1e-6,
        "{realized:?} vs {expected}"
    );
    let expected_class = if expected.abs() <= 0.5 {
        "flat"
    } else if expected > 0.0 {
        "up"
    } else {
        "down"
    };
    assert_eq!(class.as_deref(), Some(expected_class));
    // The three-class Brier of the stored probabilities, by hand.
    let storage = p.db.storage().await;
    let (pu, pf, pd): (f64, f64, f64) = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT p_up, p_flat, p_down FROM predictions p JOIN stocks s ON s.id = p.stock_id
         WHERE s.code = '000001' AND p.horizon_days = 1").fetch_one(pool).await.unwrap());
    let o = |c: &str| if expected_class == c { 1.0 } else { 0.0 };
    let by_hand = (pu - o("up")).powi(2) + (pf - o("flat")).powi(2) + (pd - o("down")).powi(2);
    assert!(
        (brier.unwrap() - by_hand).abs() < 1e-9,
        "{brier:?} vs {by_hand}"
    );

    // 6 January 2027: stock 1's 5-day prediction (target 5 Jan) is scored;
    // stock 2's 1-day one has had no bar for 5 sessions: unscorable.
    let out = p.run(&["run", "evaluate", "--slot", "2027-01-06T12:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let got = evaluations().await;
    let find = |code: &str, h: i32| got.iter().find(|r| r.0 == code && r.1 == h).cloned();
    let s1h5 = find("000001", 5).expect("scored");
    assert_eq!(s1h5.2, "scored");
    assert_eq!(
        s1h5.4.as_deref().map(|t| &t[..10]),
        Some("2027-01-05"),
        "31 Dec and 1 Jan are closed"
    );
    let s2h1 = find("000002", 1).expect("unscorable");
    assert_eq!(s2h1.2, "unscorable");
    assert!(
        s2h1.3
            .as_deref()
            .unwrap_or("")
            .contains("no daily bar for 2026-12-28"),
        "{s2h1:?}"
    );
    assert!(find("000002", 5).is_none(), "still within its grace period");

    // A rerun of the slot scores nothing twice.
    let before = evaluations().await;
    let out = p.run(&[
        "run",
        "evaluate",
        "--slot",
        "2027-01-06T12:00:00Z",
        "--force",
    ]);
    assert!(out.status.success());
    assert_eq!(evaluations().await, before);
}
