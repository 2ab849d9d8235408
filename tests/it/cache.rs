//! The cache on a real Redis, and what happens when Redis goes away.

use crate::support::redis_url;
use std::process::{Command, Stdio};
use std::time::Duration;
use tickerd::cache::Cache;
use tickerd::settings::Secret;

#[tokio::test]
async fn redis_round_trip_under_a_prefix() {
    let url = Secret::new(redis_url());
    let prefix = format!("tickerd-test-{}:", uuid::Uuid::new_v4().simple());
    let cache = Cache::connect_redis(&url, &prefix)
        .await
        .unwrap_or_else(|e| {
            panic!("Redis is required for this test ({e}). Start it (bash .ci/run does).")
        });
    assert_eq!(cache.kind(), "redis");
    cache
        .set("close:005930", b"71200", Some(Duration::from_secs(60)))
        .await;
    assert_eq!(
        cache.get("close:005930").await.as_deref(),
        Some(&b"71200"[..])
    );
    // Stored under the prefix, visible to other readers of the same Redis.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}close:005930"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(raw.as_deref(), Some("71200"));
    cache.delete("close:005930").await;
    assert_eq!(cache.get("close:005930").await, None);
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_the_in_process_cache() {
    let cache = Cache::connect(Some(&Secret::new("redis://127.0.0.1:1/")), "t:").await;
    assert_eq!(cache.kind(), "memory");
    cache.set("k", b"v", None).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn a_redis_outage_mid_run_reads_as_misses_and_recovers_nothing_fails() {
    // A private Redis we can stop, on a free port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is required for this test (install redis-server)");
    let url = Secret::new(format!("redis://127.0.0.1:{port}/"));
    let cache = crate::support::eventually(
        Duration::from_secs(10),
        "private redis-server accepting",
        || {
            let url = url.clone();
            async move { Cache::connect_redis(&url, "t:").await.ok() }
        },
    )
    .await;
    cache.set("k", b"v", None).await;
    assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
    server.kill().unwrap();
    server.wait().unwrap();
    // Every operation now returns promptly as a miss; none panics or hangs.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        cache.set("k2", b"v", None).await;
        assert_eq!(cache.get("k").await, None);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the per-operation timeout"
    );
    assert!(cache.ping().await.is_err());
}
