//! Issue #7 end to end through the binary, on both backends: daily bars and
//! predictions with a planted regression (a model's three-class hit rate
//! falls from 0.62 to 0.30, below always-up, on a known day), then
//! `evaluate`, `performance_daily` and `regression_detect`. Checks the
//! stored scores, KPIs and rolling history against values computed here
//! from the stored items, the A/B comparison, the verdicts (regression
//! after the drop, ok before it, insufficient data for a short series), the
//! exit status, rerun safety, and the report pages in headless Chromium.

use crate::charts::render_in_chromium;
use crate::support::{stderr, stdout, Backend, Project};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const STOCKS: usize = 30;
const FIRST: (i32, u32, u32) = (2026, 2, 2);
const LAST: (i32, u32, u32) = (2026, 11, 20);
/// Predictions start after this many sessions (baselines need history).
const WARMUP: usize = 30;
/// The model's hit rate drops from this session index on.
const DROP_AT: usize = 150;

const SCHEDULES: &str =
    "[jobs.ohlc_daily]\ncron = \"0 0 22 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.evaluate]\ncron = \"0 0 12 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.performance_daily]\ncron = \"0 0 13 * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.regression_detect]\ncron = \"0 0 14 * * *\"\ntimezone = \"UTC\"\nretries = 0\n";

fn date(t: (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap()
}

fn sessions() -> Vec<NaiveDate> {
    let cal_dir = format!("{}/jobs/calendars", env!("CARGO_MANIFEST_DIR"));
    let (cals, _) = tickerd::time::Calendars::load_dir(std::path::Path::new(&cal_dir));
    let krx = cals.get("XKRX").unwrap();
    let mut out = Vec::new();
    let mut d = date(FIRST);
    while d <= date(LAST) {
        if krx.session(d).is_some() {
            out.push(d);
        }
        d += chrono::Duration::days(1);
    }
    out
}

/// Seeded closes: daily returns uniform in ±2.5% (about 40% up, 20% flat,
/// 40% down with the 0.5% flat band).
fn closes(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = 10_000.0;
    (0..n)
        .map(|_| {
            c *= 1.0 + (rng.random::<f64>() - 0.5) * 0.05;
            (c * 100.0).round() / 100.0
        })
        .collect()
}

fn class(r: f64) -> usize {
    if r > 0.5 {
        0
    } else if r < -0.5 {
        2
    } else {
        1
    }
}

async fn exec(storage: &tickerd::storage::Storage, sql: &str) {
    tickerd::on_db!(&storage.db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
    });
}

async fn scalar_f64(storage: &tickerd::storage::Storage, sql: &str) -> Option<f64> {
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap())
}

async fn scalar_i64(storage: &tickerd::storage::Storage, sql: &str) -> i64 {
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap())
}

/// Bars through `ohlc_daily`, models and predictions by SQL.
async fn seed(p: &Project) {
    p.write_schedules(SCHEDULES);
    let mut universe =
        String::from("exchange,code,name,currency,priority,active,aliases,symbols\n");
    for i in 1..=STOCKS {
        universe += &format!("XKRX,{i:06},Stock {i},KRW,1,true,,\n");
    }
    std::fs::write(p.path("jobs/universe.csv"), universe).unwrap();
    p.write_job_params(
        "ohlc_daily",
        "universe = \"jobs/universe.csv\"\nprovider = \"files\"\nlookback_days = 400\n[providers.files]\npath = \"bars/{interval}/{exchange}/{code}.csv\"\n",
    );
    // On SQLite the scores are moved into model_evaluations in short
    // transactions of consecutive ids: a small size makes this run move
    // them in many, so a range boundary that lost or repeated a row would
    // show in the counts below. (PostgreSQL ignores it.)
    p.write_job_params("evaluate", "sqlite_rows_per_transaction = 997\n");
    std::fs::create_dir_all(p.path("bars/1d/XKRX")).unwrap();
    let days = sessions();
    let all: Vec<Vec<f64>> = (1..=STOCKS).map(|i| closes(i as u64, days.len())).collect();
    for (i, c) in all.iter().enumerate() {
        let mut text = String::from("date,open,high,low,close,volume\n");
        for (d, close) in days.iter().zip(c) {
            text += &format!(
                "{d},{close},{},{},{close},1000\n",
                close * 1.01,
                close * 0.99
            );
        }
        std::fs::write(p.path(&format!("bars/1d/XKRX/{:06}.csv", i + 1)), text).unwrap();
    }
    let out = p.run(&["run", "ohlc_daily", "--slot", "2026-11-20T22:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let storage = p.db.storage().await;
    exec(
        &storage,
        "INSERT INTO models (name, provider, model, active, prices, updated_at) VALUES
         ('planted', 'baseline', 'planted', TRUE, '{}', CURRENT_TIMESTAMP),
         ('short', 'baseline', 'short', TRUE, '{}', CURRENT_TIMESTAMP),
         ('ab', 'baseline', 'ab', TRUE, '{}', CURRENT_TIMESTAMP)",
    )
    .await;
    exec(
        &storage,
        "INSERT INTO ab_test_config (name, variants, active, updated_at) VALUES
         ('exp', '[{\"name\":\"A\",\"weight\":1.0},{\"name\":\"B\",\"weight\":1.0}]', TRUE, CURRENT_TIMESTAMP)",
    )
    .await;
    let ids: Vec<(i64, String)> = tickerd::on_db!(&storage.db, pool =>
        sqlx::query_as("SELECT id, code FROM stocks ORDER BY code").fetch_all(pool).await.unwrap());
    let mut model_ids = Vec::new();
    for name in ["planted", "short", "ab"] {
        model_ids.push(
            scalar_i64(
                &storage,
                &format!("SELECT id FROM models WHERE name = '{name}'"),
            )
            .await,
        );
    }
    let (planted, short, ab) = (model_ids[0], model_ids[1], model_ids[2]);

    // One-day predictions as of each session (after the warm-up) for every
    // stock; the call is right with probability 0.62 before DROP_AT and
    // 0.30 from then on. 'short' predicts only the last 10 sessions; 'ab'
    // splits stocks between variants A and B (B slightly better).
    let mut rng = StdRng::seed_from_u64(99);
    let mut values = Vec::new();
    for t in WARMUP..days.len() - 1 {
        for (s, (stock_id, _)) in ids.iter().enumerate() {
            let realized = (all[s][t + 1] / all[s][t] - 1.0) * 100.0;
            let truth = class(realized);
            let base = all[s][t];
            // 'ab' predictions up to 10 sessions before the end carry price
            // levels (the original's target/support family): +2% / −2%.
            let levels = if t + 10 < days.len() {
                format!("{base}, {}, {}", base * 1.02, base * 0.98)
            } else {
                "NULL, NULL, NULL".to_string()
            };
            let mut push = |model_id: i64,
                            exp: &str,
                            variant: &str,
                            q: f64,
                            levels: &str,
                            rng: &mut StdRng| {
                let call = if rng.random::<f64>() < q {
                    truth
                } else {
                    (truth + 1 + rng.random_range(0..2)) % 3
                };
                let mut probs = [0.2; 3];
                probs[call] = 0.6;
                let er = [1.0, 0.0, -1.0][call];
                let as_of = days[t];
                values.push(format!(
                    "({stock_id}, {model_id}, {exp}, '{variant}', 1, '{as_of}T07:00:00Z', '{as_of}', 'ok', {}, {}, {}, {er}, {}, {}, 0.8, {levels}, '{as_of}T07:00:00Z')",
                    probs[0], probs[1], probs[2], er - 2.0, er + 2.0
                ));
            };
            let q = if t >= DROP_AT { 0.30 } else { 0.62 };
            let none = "NULL, NULL, NULL";
            push(planted, "NULL", "", q, none, &mut rng);
            if t + 11 >= days.len() {
                push(short, "NULL", "", 0.6, none, &mut rng);
            }
            let (variant, q) = if s % 2 == 0 { ("A", 0.5) } else { ("B", 0.55) };
            push(ab, "'exp'", variant, q, &levels, &mut rng);
        }
    }
    for chunk in values.chunks(500) {
        let sql = format!(
            "INSERT INTO predictions (stock_id, model_id, experiment, variant, horizon_days, as_of, as_of_date,
                 status, p_up, p_flat, p_down, expected_return, band_low, band_high, coverage,
                 base_price, price_target, support, created_at)
             VALUES {}",
            chunk.join(", ")
        );
        exec(&storage, &sql).await;
    }
}

async fn pipeline(backend: Backend) {
    let p = Project::new(backend).await;
    seed(&p).await;
    let storage = p.db.storage().await;
    let days = sessions();
    let last = *days.last().unwrap();
    let slot = |d: NaiveDate, hour: u32| format!("{d}T{hour:02}:00:00Z");

    // evaluate: every prediction whose next session has closed is scored.
    let out = p.run(&["run", "evaluate", "--slot", &slot(last, 12)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let n_pred = scalar_i64(&storage, "SELECT COUNT(*) FROM predictions").await;
    let n_eval = scalar_i64(
        &storage,
        "SELECT COUNT(*) FROM model_evaluations WHERE status = 'scored'",
    )
    .await;
    assert_eq!(
        n_eval, n_pred,
        "all one-day predictions up to the last session matured"
    );
    let with_baselines = scalar_i64(
        &storage,
        "SELECT COUNT(*) FROM model_evaluations WHERE up_brier IS NOT NULL AND persist_brier IS NOT NULL AND rw_covered IS NOT NULL",
    )
    .await;
    assert_eq!(
        with_baselines, n_eval,
        "30 sessions of warm-up give every item its baselines"
    );

    // performance_daily: KPIs per (model, variant, horizon, day).
    let out = p.run(&["run", "performance_daily", "--slot", &slot(last, 13)]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let series_days = scalar_i64(
        &storage,
        "SELECT COUNT(*) FROM (SELECT DISTINCT p.model_id, p.variant, e.target_date FROM model_evaluations e
         JOIN predictions p ON p.id = e.prediction_id) t",
    )
    .await;
    let perf_rows = scalar_i64(
        &storage,
        "SELECT COUNT(*) FROM daily_performance WHERE n_scored > 0",
    )
    .await;
    assert_eq!(perf_rows, series_days);
    // One day's hit rate and Brier, against the stored items.
    let day = days[DROP_AT + 5];
    let planted = "(SELECT id FROM models WHERE name = 'planted')";
    let by_hand_hit = scalar_f64(
        &storage,
        &format!(
            "SELECT CAST(AVG(CASE WHEN e.hit THEN 1.0 ELSE 0.0 END) AS DOUBLE PRECISION) FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
             WHERE p.model_id = {planted} AND e.target_date = '{day}' AND e.hit IS NOT NULL"
        ),
    )
    .await
    .unwrap();
    let stored_hit = scalar_f64(
        &storage,
        &format!(
            "SELECT hit_rate FROM daily_performance WHERE model_id = {planted} AND date = '{day}'"
        ),
    )
    .await
    .unwrap();
    assert!(
        (by_hand_hit - stored_hit).abs() < 1e-9,
        "{by_hand_hit} vs {stored_hit}"
    );
    // The rolling 20-day hit rate on the last day: item-weighted over the
    // last 20 days that have items.
    let first20 = days[days.len() - 20];
    let by_hand_20 = scalar_f64(
        &storage,
        &format!(
            "SELECT CAST(AVG(CASE WHEN e.hit THEN 1.0 ELSE 0.0 END) AS DOUBLE PRECISION) FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
             WHERE p.model_id = {planted} AND e.target_date >= '{first20}' AND e.hit IS NOT NULL"
        ),
    )
    .await
    .unwrap();
    let stored_20 = scalar_f64(
        &storage,
        &format!(
            "SELECT value FROM evaluation_history WHERE model_id = {planted} AND metric = 'hit_rate'
             AND window_days = 20 AND date = '{last}'"
        ),
    )
    .await
    .unwrap();
    assert!(
        (by_hand_20 - stored_20).abs() < 1e-9,
        "{by_hand_20} vs {stored_20}"
    );
    assert!(stored_20 < 0.4, "the planted drop shows: {stored_20}");
    // A/B: B against control A, paired by day, with an interval.
    let ab_days = scalar_i64(
        &storage,
        "SELECT CAST(n_days AS BIGINT) FROM ab_comparisons WHERE experiment = 'exp' AND variant_a = 'A' AND variant_b = 'B' AND metric = 'brier'",
    )
    .await;
    assert!(ab_days >= 40, "{ab_days}");
    let (low, high): (f64, f64) = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT ci_low, ci_high FROM ab_comparisons WHERE experiment = 'exp' AND metric = 'brier'")
        .fetch_one(pool).await.unwrap());
    assert!(low < high);

    // Rerun: nothing new, nothing recomputed, the same KPIs.
    let snapshot = || async {
        let rows: Vec<(i64, String, Option<f64>, Option<f64>)> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
            "SELECT model_id, CAST(date AS TEXT), hit_rate, ece FROM daily_performance ORDER BY model_id, variant, date")
            .fetch_all(pool).await.unwrap());
        rows
    };
    let before = snapshot().await;
    let out = p.run(&[
        "run",
        "performance_daily",
        "--slot",
        &slot(last, 13),
        "--force",
    ]);
    assert!(out.status.success());
    assert_eq!(snapshot().await, before);

    // regression_detect before the drop: no alert, exit 0.
    let before_drop = days[DROP_AT - 1];
    let out = p.run(&["run", "regression_detect", "--slot", &slot(before_drop, 14)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let verdict = |as_of: NaiveDate, model: &'static str, metric: &'static str| {
        let storage = &storage;
        async move {
            let v: Option<String> = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT verdict FROM regression_checks WHERE model_id = (SELECT id FROM models WHERE name = '{model}')
                 AND metric = '{metric}' AND as_of = '{as_of}'")))
                .fetch_optional(pool).await.unwrap());
            v
        }
    };
    assert_eq!(
        verdict(before_drop, "planted", "hit_rate").await.as_deref(),
        Some("ok")
    );

    // After the drop: a regression, exit status 3, the alert in the report.
    let out = p.run(&["run", "regression_detect", "--slot", &slot(last, 14)]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        verdict(last, "planted", "hit_rate").await.as_deref(),
        Some("regression")
    );
    assert_eq!(
        verdict(last, "short", "hit_rate").await.as_deref(),
        Some("insufficient data")
    );
    let inputs: String = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT inputs FROM regression_checks WHERE verdict = 'regression' AND metric = 'hit_rate'")
        .fetch_one(pool).await.unwrap());
    let check: tickerd::eval::regression::Check = serde_json::from_str(&inputs).unwrap();
    assert!(
        check.p_value.unwrap() < check.alpha_bonferroni,
        "replayable: {check:?}"
    );
    assert!(check.recent.unwrap().start > days[DROP_AT - 1]);

    // The pages: linked from the index, every chart loads, no console errors.
    let index = std::fs::read_to_string(p.path("reports/index.html")).unwrap();
    assert!(
        index.contains("href=\"performance.html\"") && index.contains("href=\"regression.html\"")
    );
    let regression = std::fs::read_to_string(p.path("reports/regression.html")).unwrap();
    assert!(regression.contains("regression alert"), "{regression}");
    assert!(regression.contains(".svg"), "an alert chart");
    for page in ["performance.html", "regression.html", "index.html"] {
        let r = render_in_chromium(&p.path(&format!("reports/{page}")), 1200, 1600).unwrap();
        assert_eq!((r.width, r.height), (1200, 1600), "{page}");
        assert_eq!(r.broken_images, 0, "{page}");
        assert!(
            r.console_errors.is_empty(),
            "{page}: {:?}",
            r.console_errors
        );
        assert!(r.distinct_colours > 8, "{page} renders content");
    }
    let svgs: Vec<_> = std::fs::read_dir(p.path(&format!("reports/performance_daily/{last}")))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .collect();
    assert_eq!(svgs.len(), 5, "hit rate, Brier, coverage, calibration, A/B");
}

#[tokio::test]
async fn evaluation_pipeline_sqlite() {
    pipeline(Backend::Sqlite).await;
}

#[tokio::test]
async fn evaluation_pipeline_postgres() {
    pipeline(Backend::Postgres).await;
}
