//! `stooq`: daily bars as CSV from stooq.com.
//!
//! `GET {base_url}/q/d/l/?s={symbol}&i=d&d1=YYYYMMDD&d2=YYYYMMDD` returns
//! `Date,Open,High,Low,Close,Volume` with `YYYY-MM-DD` dates and unadjusted
//! prices; indices have no `Volume` column. Columns are found by name.
//!
//! Failures come back as HTTP 200 too, with a body such as `No data`,
//! `Exceeded the daily hits limit` or an HTML page, so the header line is
//! checked before anything is parsed. Only the hits limit is worth retrying
//! (it resets daily).
//!
//! Today's row is returned like any other: Stooq's files carry no session
//! state, so a bar fetched before the close may be revised by a later run.
//!
//! Config (`[providers.stooq]`): `base_url` (default `https://stooq.com`)
//! and the HTTP keys of [`HttpOptions`].

use super::http::{Fetcher, HttpOptions};
use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};
use crate::market::{parse_volume, session_ts};
use crate::market::{Fetched, Interval, RawBar, Unparsed};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Url;
use serde::Deserialize;

const NAME: &str = "stooq";
const DEFAULT_BASE_URL: &str = "https://stooq.com";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    base_url: Option<String>,
    rate_per_sec: Option<u32>,
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    timeout_secs: Option<u64>,
}

pub struct Stooq {
    base_url: Url,
    fetcher: Fetcher,
}

impl Stooq {
    pub fn from_config(table: &toml::Table, deps: &ProviderDeps) -> Result<Self, String> {
        let cfg: Config = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e| format!("providers.{NAME}: {e}"))?;
        let opts = HttpOptions::with_overrides(
            cfg.rate_per_sec,
            cfg.retries,
            cfg.backoff_ms,
            cfg.timeout_secs,
        );
        let base = cfg.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let base_url = Url::parse(base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| format!("providers.{NAME}.base_url: {base:?} is not an http(s) URL"))?;
        Ok(Stooq {
            base_url,
            fetcher: Fetcher::new(NAME, deps.http.clone(), opts),
        })
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        let sym = req.symbol.as_str();
        if req.interval != Interval::D1 {
            return Err(ProviderError::permanent(
                NAME,
                sym,
                format!("interval {} is not supported (only 1d)", req.interval),
            ));
        }
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| ProviderError::permanent(NAME, sym, "base_url cannot take a path"))?
            .pop_if_empty()
            .extend(["q", "d", "l", ""]);
        let day = |t: DateTime<Utc>| t.with_timezone(&req.tz).format("%Y%m%d").to_string();
        let query = [
            ("s", sym.to_string()),
            ("i", "d".to_string()),
            ("d1", day(req.from)),
            ("d2", day(req.to)),
        ];
        let reply = self
            .fetcher
            .send(sym, |c| c.get(url.clone()).query(&query))
            .await?;
        if !reply.status.is_success() {
            return Err(ProviderError::permanent(
                NAME,
                sym,
                format!("HTTP {}", reply.status),
            ));
        }
        parse_csv(&reply.body, req)
    }
}

/// Checks the header line, then reads the rows inside the request's range.
fn parse_csv(body: &str, req: &FetchRequest) -> FetchResult {
    let sym = req.symbol.as_str();
    let body = body.trim_start_matches('\u{feff}');
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let header: Vec<String> = first.split(',').map(|h| h.trim().to_lowercase()).collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(date), Some(open), Some(high), Some(low), Some(close)) = (
        col("date"),
        col("open"),
        col("high"),
        col("low"),
        col("close"),
    ) else {
        return Err(failure(first, body, sym));
    };
    let volume = col("volume");

    let mut out = Fetched {
        requests: 1,
        ..Fetched::default()
    };
    for line in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |i: usize| cells.get(i).copied().filter(|s| !s.is_empty());
        let Some(day) = cell(date).and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        else {
            out.unparsed.push(Unparsed {
                raw: line.to_string(),
                reason: "bad or missing date".into(),
            });
            continue;
        };
        let ts = session_ts(req.tz, day);
        if ts < req.from || ts > req.to {
            continue;
        }
        let num = |i: usize| cell(i).and_then(|s| s.parse::<f64>().ok());
        out.bars.push(RawBar {
            ts,
            open: num(open),
            high: num(high),
            low: num(low),
            close: num(close),
            volume: volume.and_then(cell).and_then(parse_volume),
            raw: line.to_string(),
        });
    }
    Ok(out)
}

/// The error a body without a CSV header stands for.
fn failure(first: &str, body: &str, sym: &str) -> ProviderError {
    let lower = body.to_lowercase();
    if lower.contains("exceeded the daily hits limit") {
        ProviderError::retryable(NAME, sym, "exceeded the daily hits limit")
    } else if first.eq_ignore_ascii_case("no data") {
        ProviderError::permanent(NAME, sym, "no data for symbol")
    } else if first.starts_with('<') || lower.contains("<html") {
        ProviderError::permanent(NAME, sym, "malformed payload: an HTML page instead of CSV")
    } else if first.is_empty() {
        ProviderError::permanent(NAME, sym, "malformed payload: empty body")
    } else {
        let shown: String = first.chars().take(80).collect();
        ProviderError::permanent(
            NAME,
            sym,
            format!("malformed payload: unexpected first line {shown:?}"),
        )
    }
}
