//! Embeddings and retrieval end to end: `news_embed` through the binary,
//! then the same retrieval suite against the embedded store and a real
//! Milvus (Milvus Lite, started by `.ci/run`), on both SQL backends where it
//! matters; `vectors check` / `repair`; the OpenAI path against a local
//! server speaking the embeddings API.

use crate::support::{milvus_uri, stderr, stdout, Backend, Project};
use chrono::{DateTime, Duration, Utc};
use tickerd::jobs::news_embed::{self, EmbedJobConfig};
use tickerd::vectors::retrieve::{Query, Request, Retriever};

const SCHEDULES: &str =
    "[jobs.news_crawl]\ncron = \"0 */10 * * * *\"\ntimezone = \"UTC\"\nretries = 0\n\n\
[jobs.news_embed]\ncron = \"0 5 * * * *\"\ntimezone = \"UTC\"\nretries = 0\n";

const UNIVERSE: &str = "exchange,code,name,currency,priority,active,aliases,symbols\n\
XKRX,005930,Samsung Electronics,KRW,1,true,삼성전자;Samsung Electronics,\n\
XKRX,000660,SK hynix,KRW,1,true,SK하이닉스;SK hynix,\n\
XKRX,035720,Kakao,KRW,3,true,카카오;Kakao,\n\
XNYS,JPM,JPMorgan Chase,USD,2,true,JPMorgan,\n";

/// The cut-off the look-ahead cases sit around.
const CUTOFF: &str = "2026-11-24T06:00:00Z";

fn item(title: &str, link: &str, text: &str, date: &str) -> String {
    format!("<item><title>{title}</title><link>https://news.example/{link}</link><description>{text}</description><pubDate>{date}</pubDate></item>\n")
}

fn feed() -> String {
    let mut items = String::new();
    items += &item("Samsung Electronics wins HBM memory order", "s1",
        "Samsung Electronics (KRX: 005930) will supply HBM memory chips for AI accelerators to a US designer.", "Mon, 23 Nov 2026 01:00:00 GMT");
    items += &item("Samsung Electronics expands HBM memory output", "s2",
        "Samsung Electronics (KRX: 005930) said HBM memory chip output will double next year on AI demand.", "Tue, 24 Nov 2026 05:59:59 GMT");
    // One second after the cut-off: must never be seen by a query at it.
    items += &item(
        "Samsung Electronics HBM memory order confirmed by designer",
        "s3",
        "Samsung Electronics (KRX: 005930) HBM memory chips order for AI accelerators confirmed.",
        "Tue, 24 Nov 2026 06:00:01 GMT",
    );
    items += &item(
        "SK hynix ships HBM4 memory samples",
        "h1",
        "SK hynix (KRX: 000660) shipped HBM4 memory samples for AI accelerators.",
        "Mon, 23 Nov 2026 02:00:00 GMT",
    );
    items += &item(
        "Kakao unveils AI search in its messenger",
        "k1",
        "Kakao (KRX: 035720) launched generative search inside KakaoTalk for its users.",
        "Mon, 23 Nov 2026 03:00:00 GMT",
    );
    items += &item(
        "JPMorgan raises its dividend",
        "j1",
        "JPMorgan Chase (NYSE: JPM) raised its quarterly dividend after the stress test.",
        "Fri, 20 Nov 2026 21:00:00 GMT",
    );
    // A syndicated copy of s1: same cluster, never embedded.
    items += &item("Samsung Electronics wins HBM memory order", "s1-copy",
        "Samsung Electronics (KRX: 005930) will supply HBM memory chips for AI accelerators to a US designer. Reporting by Wire.", "Mon, 23 Nov 2026 01:30:00 GMT");
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://news.example/</link><description>d</description>\n{items}</channel></rss>")
}

/// `[store]` for a kind; Milvus collections get a namespace of their own.
fn store_table(kind: &str, ns: &str) -> String {
    match kind {
        "milvus" => format!(
            "[store]\nkind = \"milvus\"\nuri = \"{}\"\nnamespace = \"{ns}\"\n[store.index]\nkind = \"flat\"\n",
            milvus_uri()
        ),
        _ => "[store]\nkind = \"embedded\"\n".into(),
    }
}

async fn project(backend: Backend, store: &str) -> Project {
    let p = Project::new(backend).await;
    p.write_schedules(SCHEDULES);
    std::fs::write(p.path("jobs/universe.csv"), UNIVERSE).unwrap();
    std::fs::write(p.path("feed.xml"), feed()).unwrap();
    p.write_job_params(
        "news_crawl",
        "[[sources]]\nname = \"local\"\nkind = \"feed\"\nurl = \"feed.xml\"\n",
    );
    let ns = format!("t{}", uuid::Uuid::new_v4().simple());
    p.write_job_params(
        "news_embed",
        &format!(
            "batch = 3\n[embedder]\nkind = \"hashing\"\ndimensions = 256\n{}",
            store_table(store, &ns)
        ),
    );
    let out = p.run(&["stocks", "import", "jobs/universe.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.run(&["run", "news_crawl", "--slot", "2026-11-25T00:00:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    p
}

fn counts(p: &Project, rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(p.path(rel)).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["counts"].clone()
}

async fn id_of(p: &Project, link: &str) -> i64 {
    let storage = p.db.storage().await;
    tickerd::on_db!(&storage.db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM news WHERE url = $1").bind(format!("https://news.example/{link}")).fetch_one(pool).await.unwrap())
}

async fn retrieval_suite(backend: Backend, store: &str) {
    let p = project(backend, store).await;
    let out = p.run(&["run", "news_embed", "--slot", "2026-11-25T00:05:00Z"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let c = counts(&p, "reports/news_embed/2026-11-25/000500.000Z.json");
    assert_eq!(c["embedded"], 6, "one per cluster: {c}");
    assert_eq!(c["skipped_duplicates"], 1, "{c}");
    assert_eq!(c["requests"], 0, "hashing makes no requests: {c}");

    // Every representative carries its embedding id, model and dimensions.
    let storage = p.db.storage().await;
    let stamped: Vec<(Option<String>, Option<String>, Option<i32>)> = tickerd::on_db!(&storage.db, pool => sqlx::query_as(
        "SELECT embedding_id, embedding_model, embedding_dimensions FROM news WHERE cluster_id = id ORDER BY id").fetch_all(pool).await.unwrap());
    assert_eq!(stamped.len(), 6);
    for (id, model, dims) in &stamped {
        assert!(
            id.as_deref()
                .unwrap_or("")
                .contains(&format!("{store}_hashing")),
            "{id:?}"
        );
        assert_eq!(model.as_deref(), Some("hashing-v1"));
        assert_eq!(*dims, Some(256));
    }

    // A rerun embeds nothing twice.
    let out = p.run(&[
        "run",
        "news_embed",
        "--slot",
        "2026-11-25T00:05:00Z",
        "--force",
    ]);
    assert!(out.status.success());
    let c = counts(&p, "reports/news_embed/2026-11-25/000500.000Z.json");
    assert_eq!(c["embedded"], 0, "{c}");

    // Retrieval through the library, as predict will use it.
    let settings = p.settings();
    let params: toml::Table =
        toml::from_str(&std::fs::read_to_string(p.path("jobs/news_embed.toml")).unwrap()).unwrap();
    let cfg = EmbedJobConfig::from_table(&params).unwrap();
    let (embedder, vstore, collection) = news_embed::open(&cfg, &storage, &settings).await.unwrap();
    let r = Retriever {
        storage: &storage,
        store: &vstore,
        embedder: &embedder,
        collection: collection.clone(),
    };
    let cutoff: DateTime<Utc> = CUTOFF.parse().unwrap();
    let ask =
        |query: Query, stock_ids: Option<Vec<i64>>, cutoff: DateTime<Utc>, k: usize| Request {
            query,
            stock_ids,
            cutoff,
            k,
            min_similarity: 0.0,
        };
    let text =
        || Query::Text("Samsung Electronics HBM memory chips order for AI accelerators".into());
    let hits = r.similar(&ask(text(), None, cutoff, 10)).await.unwrap();
    let urls: Vec<String> = hits.iter().map(|h| h.article.title.clone()).collect();
    assert!(
        hits[0].article.title.starts_with("Samsung Electronics"),
        "{urls:?}"
    );
    // No look-ahead: published one second after the cut-off, never seen;
    // one second before, seen.
    let (s2, s3) = (id_of(&p, "s2").await, id_of(&p, "s3").await);
    assert!(hits.iter().all(|h| h.article.id != s3), "{urls:?}");
    assert!(hits.iter().any(|h| h.article.id == s2), "{urls:?}");
    assert!(hits.iter().all(|h| h.article.published_at < cutoff));
    assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    // Two seconds later it is visible.
    let later = r
        .similar(&ask(text(), None, cutoff + Duration::seconds(2), 10))
        .await
        .unwrap();
    assert!(later.iter().any(|h| h.article.id == s3));

    // An article as the query: itself and its copies excluded.
    let s1 = id_of(&p, "s1").await;
    let copy = id_of(&p, "s1-copy").await;
    let hits = r
        .similar(&ask(Query::Article(s1), None, cutoff, 10))
        .await
        .unwrap();
    assert!(hits
        .iter()
        .all(|h| h.article.id != s1 && h.article.id != copy));
    assert!(!hits.is_empty());

    // Filtered by stock: only articles linked to SK hynix.
    let hynix: i64 = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT id FROM stocks WHERE code = '000660'").fetch_one(pool).await.unwrap());
    let hits = r
        .similar(&ask(text(), Some(vec![hynix]), cutoff, 10))
        .await
        .unwrap();
    assert_eq!(
        hits.len(),
        1,
        "{:?}",
        hits.iter().map(|h| &h.article.title).collect::<Vec<_>>()
    );
    assert!(hits[0].article.title.starts_with("SK hynix"));

    // A minimum similarity cuts the tail.
    let all = r.similar(&ask(text(), None, cutoff, 10)).await.unwrap();
    let mut strict = ask(text(), None, cutoff, 10);
    strict.min_similarity = all[0].similarity - 1e-4;
    assert_eq!(r.similar(&strict).await.unwrap().len(), 1);

    // check / repair: a vector lost from the store, then a link changed.
    let out = p.run(&["vectors", "check"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // (The embedded store's vectors live in SQL: lose one there.)
    if store == "milvus" {
        vstore.delete(&collection, &[s1]).await.unwrap();
    } else {
        tickerd::on_db!(&storage.db, pool => sqlx::query(
            "DELETE FROM news_vectors WHERE news_id = $1").bind(s1).execute(pool).await.unwrap().rows_affected());
    }
    drop(vstore);
    tickerd::on_db!(&storage.db, pool => sqlx::query(
        "DELETE FROM news_stock_match WHERE news_id = $1").bind(s2).execute(pool).await.unwrap().rows_affected());
    let out = p.run(&["vectors", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text_out = stdout(&out);
    assert!(text_out.contains("missing from the store: 1"), "{text_out}");
    assert!(text_out.contains("stale:                  1"), "{text_out}");
    let out = p.run(&["vectors", "repair"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("now consistent"), "{}", stdout(&out));
    let out = p.run(&["vectors", "check"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test]
async fn retrieval_embedded_sqlite() {
    retrieval_suite(Backend::Sqlite, "embedded").await
}

#[tokio::test]
async fn retrieval_embedded_postgres() {
    retrieval_suite(Backend::Postgres, "embedded").await
}

#[tokio::test]
async fn retrieval_milvus_sqlite() {
    retrieval_suite(Backend::Sqlite, "milvus").await
}

#[tokio::test]
async fn retrieval_milvus_postgres() {
    retrieval_suite(Backend::Postgres, "milvus").await
}

/// news_embed with the `openai` embedder against a local server speaking
/// the embeddings API: a 429 with Retry-After and a 500 are retried; a
/// response of the wrong dimension fails the run clearly and stores
/// nothing.
#[tokio::test]
async fn openai_embedder_through_the_job() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request as WmRequest, ResponseTemplate};
    let server = MockServer::start().await;
    let dims = 8usize;
    let respond = move |req: &WmRequest, dims: usize| {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let inputs = body["input"].as_array().map_or(1, |a| a.len());
        let data: Vec<serde_json::Value> = (0..inputs)
            .map(|i| {
                serde_json::json!({"object": "embedding", "index": i,
                "embedding": (0..dims).map(|d| ((i + d) % 5) as f32 + 0.5).collect::<Vec<_>>()})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list", "data": data, "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 10 * inputs, "total_tokens": 10 * inputs}}))
    };
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_json(
            serde_json::json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream overloaded"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(move |r: &WmRequest| respond(r, dims))
        .with_priority(3)
        .mount(&server)
        .await;

    let p = project(Backend::Sqlite, "embedded").await;
    let job = |dims_cfg: usize| {
        format!(
            "[embedder]\nkind = \"openai\"\nmodel = \"text-embedding-3-small\"\ndimensions = {dims_cfg}\nbase_url = \"{}/v1\"\nbackoff_ms = 10\n[store]\nkind = \"embedded\"\n",
            server.uri()
        )
    };
    p.write_job_params("news_embed", &job(dims));
    let out = p
        .cmd(&["run", "news_embed", "--slot", "2026-11-25T00:05:00Z"])
        .env("OPENAI_API_KEY", "sk-test-not-a-secret-but-treated-as-one")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let c = counts(&p, "reports/news_embed/2026-11-25/000500.000Z.json");
    assert_eq!(c["embedded"], 6, "{c}");
    // The 429 (after its Retry-After) and the 500 were retried: async-openai
    // re-sends inside one of our attempts, so count at the server.
    assert!(server.received_requests().await.unwrap().len() >= 3, "{c}");
    assert!(c["tokens"].as_i64().unwrap() > 0, "{c}");
    let received = server.received_requests().await.unwrap();
    assert!(received
        .iter()
        .all(|r| r.headers.get("authorization").is_some_and(
            |v| v.to_str().unwrap() == "Bearer sk-test-not-a-secret-but-treated-as-one"
        )));
    let report =
        std::fs::read_to_string(p.path("reports/news_embed/2026-11-25/000500.000Z.md")).unwrap();
    assert!(!report.contains("sk-test"), "the key never reaches reports");

    // Another dimension is another collection; the server answers 8 where
    // 16 were asked for: a clear failure, nothing stored.
    p.write_job_params("news_embed", &job(16));
    let out = p
        .cmd(&["run", "news_embed", "--slot", "2026-11-25T01:05:00Z"])
        .env("OPENAI_API_KEY", "sk-test-not-a-secret-but-treated-as-one")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("16") && all.contains('8') && all.to_lowercase().contains("dimension"),
        "{all}"
    );
    assert!(!all.contains("sk-test"), "{all}");
    let storage = p.db.storage().await;
    let n: i64 = tickerd::on_db!(&storage.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM news_embeddings WHERE collection LIKE '%_16'").fetch_one(pool).await.unwrap());
    assert_eq!(n, 0);
}
