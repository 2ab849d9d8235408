//! Issue #8 end to end: the README's first command (`tickerd sample run`)
//! over the committed sample market, in a fresh project — on SQLite with
//! the embedded defaults, and on PostgreSQL + Redis + Milvus Lite. Checks
//! that every job succeeded, the row counts each table must have given the
//! sample's manifest and answer key, that the baseline beats always-up
//! while the planted news effect is strong, that the planted regression is
//! flagged and nothing else, and that a second run changes nothing.

use crate::support::{milvus_uri, redis_url, stdout, Backend, Project};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use tickerd::storage::Storage;

/// The first day of nightly predictions in the test: enough history for
/// the regression windows (60 + 5 + 20 sessions) with a margin, and
/// shorter than the README's default to keep the suite quick.
const FROM: &str = "2026-04-01";

/// Weekly check dates from the first with a full baseline, gap and recent
/// window of items after `FROM` to just before the planted weakening on
/// 2026-10-05 (`regression_detect` takes the last session up to each).
const WEEKS_BEFORE_THE_WEAKENING: [&str; 8] = [
    "2026-08-10",
    "2026-08-17",
    "2026-08-24",
    "2026-08-31",
    "2026-09-07",
    "2026-09-14",
    "2026-09-21",
    "2026-10-02",
];

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A project with the repository's own configuration (jobs/, schedules)
/// and sample market, so the test runs what the README's command runs.
async fn project(backend: Backend, milvus: bool) -> Project {
    let p = Project::new(backend).await;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&repo.join("jobs"), &p.path("jobs"));
    copy_tree(&repo.join("data/sample"), &p.path("data/sample"));
    std::fs::copy(repo.join("schedules.toml"), p.path("schedules.toml")).unwrap();
    if milvus {
        let ns = format!("t{}", uuid::Uuid::new_v4().simple());
        let embed = std::fs::read_to_string(p.path("jobs/news_embed.toml")).unwrap();
        let embed = embed.replace(
            "[store]\nkind = \"embedded\"",
            &format!(
                "[store]\nkind = \"milvus\"\nuri = \"{}\"\nnamespace = \"{ns}\"",
                milvus_uri()
            ),
        );
        assert!(
            embed.contains("kind = \"milvus\""),
            "news_embed.toml changed shape"
        );
        std::fs::write(p.path("jobs/news_embed.toml"), embed).unwrap();
        p.write_config(&format!(
            "redis_url = \"{}\"\nredis_prefix = \"t{}:\"",
            redis_url(),
            uuid::Uuid::new_v4().simple()
        ));
    }
    p
}

async fn count(storage: &Storage, sql: &str) -> i64 {
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}")))
}

/// A one-value query as a float (PostgreSQL's AVG of numerics is NUMERIC).
async fn value(storage: &Storage, sql: &str) -> Option<f64> {
    let sql = format!("SELECT CAST(({sql}) AS DOUBLE PRECISION)");
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar::<_, Option<f64>>(sqlx::AssertSqlSafe(sql.as_str())).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}")))
}

/// Every table the pipeline fills, with its row count.
async fn snapshot(storage: &Storage) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "stocks",
        "bars",
        "news",
        "news_stock_match",
        "news_impact",
        "news_embeddings",
        "predictions",
        "model_evaluations",
        "daily_performance",
        "evaluation_history",
        "ab_comparisons",
        "regression_checks",
    ] {
        out.push((
            table,
            count(storage, &format!("SELECT COUNT(*) FROM {table}")).await,
        ));
    }
    out
}

async fn first_run_over_the_sample(backend: Backend, milvus: bool) {
    let p = project(backend, milvus).await;
    let storage = p.db.storage().await;
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(p.path("data/sample/manifest.json")).unwrap())
            .unwrap();
    let counts = &manifest["counts"];
    let n = |k: &str| {
        counts[k]
            .as_i64()
            .unwrap_or_else(|| panic!("manifest counts.{k}"))
    };

    let out = p.run(&["sample", "run", "--from", FROM]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "sample run failed:\n{text}\n{}",
        crate::support::stderr(&out)
    );
    for line in text.lines().filter(|l| l.contains(" run #")) {
        assert!(line.contains("succeeded"), "a job did not succeed: {line}");
    }
    assert!(
        text.contains("reports/index.html") || text.contains("index.html"),
        "{text}"
    );

    // Market data: every stock, every daily bar, every minute bar (+ the
    // derived 5/15/60-minute bars).
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM stocks").await,
        n("stocks")
    );
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM bars WHERE interval = '1d'").await,
        n("daily_bars")
    );
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM bars WHERE interval = '1m'").await,
        n("minute_bars")
    );
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM bar_quarantine").await,
        0,
        "the sample's bars are all valid"
    );
    // News: every item stored, linked to exactly the stocks the answer key
    // names, one embedding per story (syndicated copies are not embedded).
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM news").await,
        n("news_items")
    );
    let truth = std::fs::read_to_string(p.path("data/sample/truth/news.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(truth.as_bytes());
    let stocks_col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "stocks")
        .unwrap();
    let links: i64 = reader
        .records()
        .map(|r| r.unwrap()[stocks_col].split(';').count() as i64)
        .sum();
    assert_eq!(
        count(&storage, "SELECT COUNT(*) FROM news_stock_match").await,
        links
    );
    // Clusters are stories: every syndicated copy joined its own story's
    // cluster and no cluster took in another story (distinct stories
    // written from one template sketch alike, but name other stocks).
    let story_of: HashMap<String, String> = csv::Reader::from_reader(truth.as_bytes())
        .deserialize::<HashMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            (r["url"].clone(), r["story"].clone())
        })
        .collect();
    let pairs: Vec<(String, String)> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT n.url, h.url FROM news n JOIN news h ON h.id = n.cluster_id WHERE n.cluster_id <> n.id",
    )
    .fetch_all(pool)
    .await
    .unwrap());
    let foreign: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(member, head)| story_of[member] != story_of[head])
        .collect();
    assert!(
        foreign.is_empty(),
        "clustered with another story: {foreign:?}"
    );
    // So one embedding per story, plus one per copy the sketch missed
    // (near-duplicate detection finds ~97% of copies, benches/news.rs).
    let embedded = count(&storage, "SELECT COUNT(*) FROM news_embeddings").await;
    let missed = embedded - n("stories");
    assert!(
        (0..=n("duplicates") * 3 / 100).contains(&missed),
        "{embedded} embeddings for {} stories and {} copies",
        n("stories"),
        n("duplicates")
    );
    // Predictions: every stock and horizon at every nightly slot.
    let slots = count(
        &storage,
        "SELECT COUNT(DISTINCT as_of) FROM predictions WHERE status = 'ok'",
    )
    .await;
    assert!(slots > 150, "{slots} prediction slots");
    assert_eq!(
        count(
            &storage,
            "SELECT COUNT(*) FROM predictions WHERE status = 'ok'"
        )
        .await,
        slots * n("stocks") * 2
    );
    // Evaluation: all but the last week's predictions matured and scored.
    let scored = count(
        &storage,
        "SELECT COUNT(*) FROM model_evaluations WHERE status = 'scored'",
    )
    .await;
    assert!(
        scored >= (slots - 7) * n("stocks") * 2,
        "{scored} scored of {slots} slots"
    );
    assert!(count(&storage, "SELECT COUNT(*) FROM daily_performance").await > 100);
    assert!(count(&storage, "SELECT COUNT(*) FROM evaluation_history").await > 100);

    // The planted signal: before the weakening date the baseline, which
    // reads news tone, calls next-session direction better than always-up
    // on the same items, and has the lower Brier score.
    let before = "target_date < '2026-10-05' AND status = 'scored' AND prediction_id IN \
                  (SELECT id FROM predictions WHERE horizon_days = 1)";
    let hit = value(&storage, &format!("SELECT AVG(CASE WHEN hit THEN 1.0 ELSE 0.0 END) FROM model_evaluations WHERE {before} AND hit IS NOT NULL")).await.unwrap();
    let up_hit = value(&storage, &format!("SELECT AVG(CASE WHEN up_hit THEN 1.0 ELSE 0.0 END) FROM model_evaluations WHERE {before} AND up_hit IS NOT NULL")).await.unwrap();
    let brier = value(
        &storage,
        &format!("SELECT AVG(brier) FROM model_evaluations WHERE {before}"),
    )
    .await
    .unwrap();
    let up_brier = value(
        &storage,
        &format!(
            "SELECT AVG(up_brier) FROM model_evaluations WHERE {before} AND up_brier IS NOT NULL"
        ),
    )
    .await
    .unwrap();
    println!("before the weakening: hit {hit:.3} vs always-up {up_hit:.3}; Brier {brier:.3} vs {up_brier:.3}");
    assert!(hit > up_hit + 0.05, "hit {hit} vs always-up {up_hit}");
    assert!(brier < up_brier, "Brier {brier} vs always-up {up_brier}");

    // The planted regression is flagged: the 1-session series, the one
    // the news moves most, at the end. (The 5-session return carries the
    // same news effect diluted by four more sessions; an alert there is
    // the same planted regression, not a false one.)
    let regressions: Vec<(i64, String)> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT CAST(horizon_days AS BIGINT), metric FROM regression_checks WHERE verdict = 'regression' ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap());
    println!("regressions: {regressions:?}");
    assert!(
        regressions.iter().any(|(h, _)| *h == 1),
        "the planted regression was not flagged: {regressions:?}"
    );
    // Nothing else is: checked as of every week before the weakening (as
    // a daily run would have), no series of either horizon raises an
    // alert. Each check reads only items that had matured by its day.
    for as_of in WEEKS_BEFORE_THE_WEAKENING {
        let out = p.run(&[
            "run",
            "regression_detect",
            "--slot",
            &format!("{as_of}T12:00:00Z"),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "regression_detect as of {as_of} (before the weakening) alerted or failed:\n{}{}",
            stdout(&out),
            crate::support::stderr(&out)
        );
    }
    let early: Vec<(String, i64, String)> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT CAST(as_of AS TEXT), CAST(horizon_days AS BIGINT), metric FROM regression_checks
         WHERE verdict = 'regression' AND as_of < '2026-10-05' ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .unwrap());
    assert!(
        early.is_empty(),
        "false alarms before the weakening: {early:?}"
    );
    let checked: i64 = count(
        &storage,
        "SELECT COUNT(DISTINCT as_of) FROM regression_checks WHERE as_of < '2026-10-05' AND verdict <> 'insufficient data'",
    )
    .await;
    assert_eq!(
        checked,
        WEEKS_BEFORE_THE_WEAKENING.len() as i64,
        "every early check had enough history to decide"
    );
    let index = std::fs::read_to_string(p.path("reports/index.html")).unwrap();
    assert!(index.contains("performance.html") && index.contains("regression.html"));

    // The same command again: every slot already succeeded, nothing moves.
    let first = snapshot(&storage).await;
    let again = p.run(&["sample", "run", "--from", FROM]);
    let text = stdout(&again);
    assert!(again.status.success(), "{text}");
    assert!(
        !text.lines().any(|l| l.contains(" attempt ")),
        "the second run ran something:\n{text}"
    );
    assert_eq!(snapshot(&storage).await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_command_runs_the_whole_pipeline_on_sqlite() {
    first_run_over_the_sample(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_command_runs_the_whole_pipeline_on_postgres_redis_and_milvus() {
    first_run_over_the_sample(Backend::Postgres, true).await;
}
