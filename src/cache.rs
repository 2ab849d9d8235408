//! The cache: Redis when configured (keys under a prefix), otherwise an
//! in-process map. A cache is an optimisation, never a dependency: Redis
//! errors are logged (once per outage) and read as misses, so a Redis outage
//! never fails a job.

use crate::settings::{redact_url, Secret};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Per-operation bound, so a hung Redis cannot stall a job.
const OP_TIMEOUT: Duration = Duration::from_millis(500);

/// Value and optional expiry, by key.
type MemoryMap = HashMap<String, (Vec<u8>, Option<Instant>)>;

#[derive(Clone)]
pub enum Cache {
    Redis(Arc<RedisCache>),
    Memory(Arc<Mutex<MemoryMap>>),
}

pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
    display: String,
    degraded: AtomicBool,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cache::Redis(r) => write!(f, "Cache::Redis({})", r.display),
            Cache::Memory(_) => f.write_str("Cache::Memory"),
        }
    }
}

impl Cache {
    pub fn memory() -> Cache {
        Cache::Memory(Arc::default())
    }

    /// Redis if `url` is set and reachable; otherwise (with a warning) the
    /// in-process cache.
    pub async fn connect(url: Option<&Secret>, prefix: &str) -> Cache {
        let Some(url) = url else {
            return Cache::memory();
        };
        match Self::connect_redis(url, prefix).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(redis = %redact_url(url.expose()), error = %e, "Redis unavailable; using the in-process cache");
                Cache::memory()
            }
        }
    }

    pub async fn connect_redis(url: &Secret, prefix: &str) -> anyhow::Result<Cache> {
        let display = redact_url(url.expose());
        let client = redis::Client::open(url.expose())
            .map_err(|e| anyhow::anyhow!("bad Redis URL {display}: {}", e.category()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis at {display}: connection timed out"))?
        .map_err(|e| anyhow::anyhow!("Redis at {display}: {}", e.category()))?;
        Ok(Cache::Redis(Arc::new(RedisCache {
            conn,
            prefix: prefix.to_string(),
            display,
            degraded: AtomicBool::new(false),
        })))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Cache::Redis(_) => "redis",
            Cache::Memory(_) => "memory",
        }
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Cache::Memory(m) => {
                let mut map = m.lock().expect("cache lock");
                match map.get(key) {
                    Some((_, Some(exp))) if *exp <= Instant::now() => {
                        map.remove(key);
                        None
                    }
                    Some((v, _)) => Some(v.clone()),
                    None => None,
                }
            }
            Cache::Redis(r) => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(format!("{}{key}", r.prefix));
                r.run::<Option<Vec<u8>>>(cmd).await.flatten()
            }
        }
    }

    /// Stores `value`; `ttl` None keeps it until overwritten.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) {
        match self {
            Cache::Memory(m) => {
                let exp = ttl.map(|t| Instant::now() + t);
                m.lock()
                    .expect("cache lock")
                    .insert(key.to_string(), (value.to_vec(), exp));
            }
            Cache::Redis(r) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(format!("{}{key}", r.prefix)).arg(value);
                if let Some(t) = ttl {
                    cmd.arg("PX").arg(t.as_millis().max(1) as u64);
                }
                r.run::<()>(cmd).await;
            }
        }
    }

    pub async fn delete(&self, key: &str) {
        match self {
            Cache::Memory(m) => {
                m.lock().expect("cache lock").remove(key);
            }
            Cache::Redis(r) => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(format!("{}{key}", r.prefix));
                r.run::<()>(cmd).await;
            }
        }
    }

    /// Checks the backend; for `doctor`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis(r) => {
                let mut conn = r.conn.clone();
                tokio::time::timeout(
                    OP_TIMEOUT,
                    redis::cmd("PING").query_async::<String>(&mut conn),
                )
                .await
                .map_err(|_| anyhow::anyhow!("Redis at {}: timed out", r.display))?
                .map_err(|e| anyhow::anyhow!("Redis at {}: {}", r.display, e.category()))?;
                Ok(())
            }
        }
    }
}

impl RedisCache {
    /// Runs a command; failures become `None` and one warning per outage.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        let mut conn = self.conn.clone();
        let result = tokio::time::timeout(OP_TIMEOUT, cmd.query_async::<T>(&mut conn)).await;
        match result {
            Ok(Ok(v)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(redis = %self.display, "Redis is back; cache restored");
                }
                Some(v)
            }
            Ok(Err(e)) => {
                self.degrade(e.category());
                None
            }
            Err(_) => {
                self.degrade("timed out");
                None
            }
        }
    }

    fn degrade(&self, why: &str) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(redis = %self.display, reason = why, "Redis cache unavailable; continuing without cache");
        }
    }
}
