//! Providers: where bars come from. Each turns a [`FetchRequest`] into
//! [`RawBar`]s in the canonical shape; the registry is [`Provider`], an enum
//! dispatched by `match` (no trait objects, no macros).
//!
//! Every HTTP provider goes through [`http::Fetcher`]: request timeouts,
//! retries with exponential backoff and jitter that honour `Retry-After`,
//! and a per-provider rate limit.

pub mod files;
pub mod http;
pub mod kis;
pub mod stooq;
pub mod yahoo;

use super::{Fetched, Interval};
use crate::storage::Storage;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::fmt;

/// One symbol's bars over a time range.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub exchange: String,
    pub code: String,
    /// The provider's symbol for the stock (e.g. `005930.KS` on Yahoo).
    pub symbol: String,
    /// The stock's exchange zone (daily bars are dated in it).
    pub tz: Tz,
    pub interval: Interval,
    /// Inclusive range of bar starts wanted.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Why a fetch failed. It always names the symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub provider: &'static str,
    pub symbol: String,
    /// Worth trying again later (overload, timeouts, 5xx).
    pub retryable: bool,
    pub message: String,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.provider, self.symbol, self.message)
    }
}

impl std::error::Error for ProviderError {}

impl ProviderError {
    pub fn permanent(provider: &'static str, symbol: &str, message: impl Into<String>) -> Self {
        ProviderError {
            provider,
            symbol: symbol.to_string(),
            retryable: false,
            message: message.into(),
        }
    }

    pub fn retryable(provider: &'static str, symbol: &str, message: impl Into<String>) -> Self {
        ProviderError {
            provider,
            symbol: symbol.to_string(),
            retryable: true,
            message: message.into(),
        }
    }
}

pub type FetchResult = Result<Fetched, ProviderError>;

/// What providers may need besides their own settings.
#[derive(Clone)]
pub struct ProviderDeps {
    pub http: reqwest::Client,
    /// For state kept across runs (KIS's OAuth token).
    pub storage: Storage,
    /// "Now": which bars are still live, which day KIS serves minute bars for.
    pub clock: crate::time::Clock,
}

/// The registry: one variant per provider.
pub enum Provider {
    Files(files::Files),
    Yahoo(yahoo::Yahoo),
    Stooq(stooq::Stooq),
    Kis(kis::Kis),
}

impl Provider {
    pub const NAMES: [&'static str; 4] = ["files", "yahoo", "stooq", "kis"];

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Files(_) => "files",
            Provider::Yahoo(_) => "yahoo",
            Provider::Stooq(_) => "stooq",
            Provider::Kis(_) => "kis",
        }
    }

    /// Builds a provider from its `[providers.NAME]` table in a job file.
    pub fn build(name: &str, table: &toml::Table, deps: &ProviderDeps) -> Result<Provider, String> {
        match name {
            "files" => {
                let pattern = table
                    .get("path")
                    .and_then(|v| v.as_str())
                    .ok_or("providers.files.path (a file pattern) is required")?;
                Ok(Provider::Files(files::Files {
                    pattern: pattern.to_string(),
                }))
            }
            "yahoo" => yahoo::Yahoo::from_config(table, deps).map(Provider::Yahoo),
            "stooq" => stooq::Stooq::from_config(table, deps).map(Provider::Stooq),
            "kis" => kis::Kis::from_config(table, deps).map(Provider::Kis),
            other => Err(format!(
                "unknown provider {other:?} (known: {})",
                Self::NAMES.join(", ")
            )),
        }
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        match self {
            Provider::Files(p) => p.fetch(req).await,
            Provider::Yahoo(p) => p.fetch(req).await,
            Provider::Stooq(p) => p.fetch(req).await,
            Provider::Kis(p) => p.fetch(req).await,
        }
    }
}
