//! Infrastructure settings: `tickerd.toml` (optional) layered under
//! environment variables (`TICKERD_<KEY>`, plus the conventional
//! `DATABASE_URL`, `REDIS_URL`, `OPENAI_API_KEY`, `MILVUS_URI`).
//!
//! Secrets are wrapped in [`Secret`], whose `Debug`/`Display` never show the
//! value; URLs print with their password masked.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// A value that must never reach logs, reports or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value itself, for the one place that needs it (a connect call).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// `scheme://user:password@host/db` → `scheme://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    // Query strings may carry passwords too (?password=...).
    let (base, query) = match url.split_once('?') {
        Some((b, _)) => (b, "?***"),
        None => (url, ""),
    };
    let Some((scheme, rest)) = base.split_once("://") else {
        return format!("{base}{query}");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{base}{query}");
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        // A bare userinfo may itself be a token (redis://TOKEN@host).
        "***".to_string()
    };
    format!("{scheme}://{masked}@{host}{path}{query}")
}

fn default_database_url() -> Secret {
    Secret::new("sqlite://data/tickerd.db")
}
fn default_redis_prefix() -> String {
    "tickerd:".into()
}
fn default_reports_dir() -> PathBuf {
    "reports".into()
}
fn default_jobs_dir() -> PathBuf {
    "jobs".into()
}
fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_heartbeat_secs() -> u64 {
    5
}
fn default_heartbeat_timeout_secs() -> u64 {
    30
}
fn default_drain_grace_secs() -> u64 {
    30
}
fn default_queue_poll_ms() -> u64 {
    1000
}

/// Every key of [`Settings`]; `settings_keys_are_complete` keeps it in step.
pub const KEYS: &[&str] = &[
    "database_url",
    "redis_url",
    "redis_prefix",
    "openai_api_key",
    "openai_base_url",
    "milvus_uri",
    "reports_dir",
    "jobs_dir",
    "data_dir",
    "pid_file",
    "heartbeat_secs",
    "heartbeat_timeout_secs",
    "drain_grace_secs",
    "queue_poll_ms",
];

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` (default `sqlite://data/tickerd.db`) or `postgres://...`.
    #[serde(default = "default_database_url")]
    pub database_url: Secret,
    /// Redis for the cache; unset means an in-process cache.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    #[serde(default = "default_redis_prefix")]
    pub redis_prefix: String,
    #[serde(default)]
    pub openai_api_key: Option<Secret>,
    #[serde(default)]
    pub openai_base_url: Option<String>,
    #[serde(default)]
    pub milvus_uri: Option<String>,
    #[serde(default = "default_reports_dir")]
    pub reports_dir: PathBuf,
    #[serde(default = "default_jobs_dir")]
    pub jobs_dir: PathBuf,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Pid file of the daemon; default `DATA_DIR/tickerd.pid`.
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// How often a running job's heartbeat is written.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u64,
    /// A run whose heartbeat is older than this (database clock) is abandoned.
    #[serde(default = "default_heartbeat_timeout_secs")]
    pub heartbeat_timeout_secs: u64,
    /// On SIGTERM, how long running jobs may take to finish before cancellation.
    #[serde(default = "default_drain_grace_secs")]
    pub drain_grace_secs: u64,
    /// How often the daemon looks for queued runs (manual triggers, retries).
    #[serde(default = "default_queue_poll_ms")]
    pub queue_poll_ms: u64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(self.database_url.expose()))
            .field(
                "redis_url",
                &self.redis_url.as_ref().map(|u| redact_url(u.expose())),
            )
            .field(
                "openai_api_key",
                &self.openai_api_key.as_ref().map(|_| "***"),
            )
            .field("reports_dir", &self.reports_dir)
            .field("jobs_dir", &self.jobs_dir)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Loads `file` (if given it must exist; `tickerd.toml` is used if present)
    /// and the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder();
        match file {
            Some(path) => {
                if !path.exists() {
                    anyhow::bail!("config file {} does not exist", path.display());
                }
                builder =
                    builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
            }
            None => {
                builder = builder.add_source(
                    config::File::with_name("tickerd.toml")
                        .format(config::FileFormat::Toml)
                        .required(false),
                );
            }
        }
        for (var, key) in [
            ("DATABASE_URL", "database_url"),
            ("REDIS_URL", "redis_url"),
            ("OPENAI_API_KEY", "openai_api_key"),
            ("OPENAI_BASE_URL", "openai_base_url"),
            ("MILVUS_URI", "milvus_uri"),
        ] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    builder = builder.set_override(key, v)?;
                }
            }
        }
        // TICKERD_<KEY> for the keys we know, over the conventional names.
        // Other TICKERD_* variables are warned about, not errors, so a tool's
        // own variable in the same namespace cannot stop the daemon.
        for (var, value) in std::env::vars() {
            let Some(key) = var.strip_prefix("TICKERD_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) {
                builder = builder.set_override(key, value)?;
            } else {
                tracing::warn!(variable = %var, "unknown TICKERD_ variable ignored (known keys: {})", KEYS.join(", "));
            }
        }
        let origin = match file {
            Some(p) => format!("{} + environment", p.display()),
            None => "tickerd.toml (if present) + environment".to_string(),
        };
        // config's messages quote keys, file names and mistyped values; a
        // secret is a string, never mistyped, so none is ever quoted.
        builder
            .build()
            .and_then(|cfg| cfg.try_deserialize())
            .map_err(|e| anyhow::anyhow!("configuration ({origin}): {e}"))
    }

    pub fn pid_file(&self) -> PathBuf {
        self.pid_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tickerd.pid"))
    }

    /// The database URL with any password masked, for messages.
    pub fn database_display(&self) -> String {
        redact_url(self.database_url.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_keys_are_complete() {
        // deny_unknown_fields lists the expected fields in its error.
        let err = toml::from_str::<Settings>("no_such_key = 1")
            .err()
            .unwrap()
            .to_string();
        for key in KEYS {
            assert!(
                err.contains(&format!("`{key}`")),
                "{key} is not a Settings field: {err}"
            );
        }
        assert_eq!(
            err.matches('`').count() / 2,
            KEYS.len() + 1,
            "a Settings field is missing from KEYS: {err}"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/tickerd"),
            "postgres://app:***@db:5432/tickerd"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("sqlite://data/tickerd.db"),
            "sqlite://data/tickerd.db"
        );
        assert!(!redact_url("postgres://h/db?password=x").contains('x'));
        assert_eq!(format!("{:?}", Secret::new("sk-live")), "Secret(***)");
    }
}
