//! The HTTP side every provider shares: a per-provider rate limit, request
//! timeouts, and retries with exponential backoff and jitter that honour
//! `Retry-After`. Transport failures, 429 and 5xx are retried (KIS reports
//! overload as HTTP 500); other statuses go back to the provider, whose
//! error bodies carry the real reason (Yahoo's 404 JSON, say).
//!
//! Error messages never contain the URL: query strings and paths can carry
//! credentials, and the provider names the symbol instead.

use super::ProviderError;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// HTTP settings of one provider, from its `[providers.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// Requests per second (a token bucket with a burst of the same size).
    #[serde(default = "default_rate")]
    pub rate_per_sec: u32,
    /// Retries after the first try, for retryable failures.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First backoff; doubles each retry, ±50% jitter, capped at 30 s.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Whole-request timeout.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_rate() -> u32 {
    5
}
fn default_retries() -> u32 {
    3
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_timeout_secs() -> u64 {
    20
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            rate_per_sec: default_rate(),
            retries: default_retries(),
            backoff_ms: default_backoff_ms(),
            timeout_secs: default_timeout_secs(),
        }
    }
}

impl HttpOptions {
    /// The defaults with a provider table's own values laid over them (serde
    /// cannot combine `flatten` with `deny_unknown_fields`, so each
    /// provider's config lists the four keys and hands them here).
    pub fn with_overrides(
        rate_per_sec: Option<u32>,
        retries: Option<u32>,
        backoff_ms: Option<u64>,
        timeout_secs: Option<u64>,
    ) -> HttpOptions {
        let d = HttpOptions::default();
        HttpOptions {
            rate_per_sec: rate_per_sec.unwrap_or(d.rate_per_sec),
            retries: retries.unwrap_or(d.retries),
            backoff_ms: backoff_ms.unwrap_or(d.backoff_ms),
            timeout_secs: timeout_secs.unwrap_or(d.timeout_secs),
        }
    }
}

/// A successful exchange: any status the provider should interpret itself.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Clone)]
pub struct Fetcher {
    pub provider: &'static str,
    client: reqwest::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    opts: HttpOptions,
}

impl Fetcher {
    pub fn new(provider: &'static str, client: reqwest::Client, opts: HttpOptions) -> Fetcher {
        let rate = NonZeroU32::new(opts.rate_per_sec.max(1)).expect("non-zero");
        Fetcher {
            provider,
            client,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(rate))),
            opts,
        }
    }

    /// Sends the request `build` makes (again on each retry) for `symbol`.
    pub async fn send(
        &self,
        symbol: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply, ProviderError> {
        let mut attempt = 0;
        loop {
            self.limiter.until_ready().await;
            let result = build(&self.client)
                .timeout(Duration::from_secs(self.opts.timeout_secs))
                .send()
                .await;
            let (why, retry_after) = match result {
                Err(e) => (describe(&e), None),
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        let body = resp.text().await.unwrap_or_default();
                        let snippet: String = body.chars().take(200).collect();
                        (
                            format!("HTTP {} {}", status.as_u16(), snippet.trim()),
                            retry_after(&headers),
                        )
                    } else {
                        match resp.text().await {
                            Ok(body) => {
                                return Ok(Reply {
                                    status,
                                    headers,
                                    body,
                                })
                            }
                            Err(e) => (format!("reading the body: {}", describe(&e)), None),
                        }
                    }
                }
            };
            if attempt >= self.opts.retries {
                let tries = attempt + 1;
                return Err(ProviderError::retryable(
                    self.provider,
                    symbol,
                    format!(
                        "{why} (after {tries} tr{})",
                        if tries == 1 { "y" } else { "ies" }
                    ),
                ));
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            tracing::warn!(provider = self.provider, symbol, attempt = attempt + 1, wait_ms = wait.as_millis() as u64, error = %why, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.opts.backoff_ms as f64 * 2f64.powi(attempt.min(16) as i32);
        let jitter = rand::rng().random_range(0.5..1.5);
        Duration::from_millis((base * jitter).min(30_000.0) as u64)
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "bad response body"
    } else {
        "request failed"
    };
    // Without the URL: it may carry credentials.
    let detail = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at a minute.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .num_seconds()
                .max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(60)))
}
