//! `yahoo`: the Yahoo Finance chart API (v8), minute and daily bars.
//!
//! `GET {base_url}/v8/finance/chart/{symbol}?interval=1m|1d&period1=..&period2=..`
//! returns `chart.result[0]` with `timestamp[]` (UTC seconds) and
//! `indicators.quote[0].{open,high,low,close,volume}` aligned by index.
//!
//! Quirks handled here:
//! - a minute with all five values null is a minute without trades
//!   (counted in `no_trade`, not a bar); runs of them happen;
//! - volume 0 with a price is a real bar;
//! - the last minute can be live: its timestamp is the last trade's, off the
//!   minute grid, or its minute has not ended yet. It is counted in
//!   `partial`, never returned as a bar. Likewise today's daily bar while
//!   the session (`meta.currentTradingPeriod.regular`) is still open;
//! - daily timestamps are the session open in exchange time: the bar is
//!   dated by the session date in `meta.exchangeTimezoneName` and stamped
//!   at 00:00 of that date in the request's zone;
//! - `events.splits` are logged, not applied: bars stay unadjusted;
//! - errors arrive as JSON (`chart.error.{code,description}`) with HTTP
//!   404/400/422, and outages as HTML pages or cut-off bodies.
//!
//! Config (`[providers.yahoo]`): `base_url` (default
//! `https://query1.finance.yahoo.com`) and the HTTP keys of
//! [`HttpOptions`].

use super::http::{Fetcher, HttpOptions};
use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};
use crate::market::{session_ts, Fetched, Interval, RawBar, Unparsed};
use crate::time::clock::Clock;
use chrono::DateTime;
use chrono_tz::Tz;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

const NAME: &str = "yahoo";
const DEFAULT_BASE_URL: &str = "https://query1.finance.yahoo.com";
/// Yahoo throttles requests that look like no browser at all.
const USER_AGENT: &str = concat!(
    "Mozilla/5.0 (compatible; tickerd/",
    env!("CARGO_PKG_VERSION"),
    ")"
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    base_url: Option<String>,
    rate_per_sec: Option<u32>,
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    timeout_secs: Option<u64>,
}

pub struct Yahoo {
    base_url: Url,
    fetcher: Fetcher,
    clock: Clock,
}

impl Yahoo {
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
        Ok(Yahoo {
            base_url,
            fetcher: Fetcher::new(NAME, deps.http.clone(), opts),
            clock: deps.clock.clone(),
        })
    }

    /// Reads "now" (which bars are still live) from `clock` instead of the
    /// wall clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        let sym = req.symbol.as_str();
        let (interval, step) = match req.interval {
            Interval::M1 => ("1m", 60),
            Interval::D1 => ("1d", 86_400),
            other => {
                return Err(ProviderError::permanent(
                    NAME,
                    sym,
                    format!("interval {other} is not supported (only 1m and 1d)"),
                ))
            }
        };
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| ProviderError::permanent(NAME, sym, "base_url cannot take a path"))?
            .pop_if_empty()
            .extend(["v8", "finance", "chart", sym]);
        // period2 is exclusive and a daily bar is stamped at the session
        // open, after our 00:00 `to`: ask for one step more, filter below.
        let query = [
            ("interval", interval.to_string()),
            ("period1", req.from.timestamp().to_string()),
            ("period2", (req.to.timestamp() + step).to_string()),
        ];
        let reply = self
            .fetcher
            .send(sym, |c| {
                c.get(url.clone())
                    .query(&query)
                    .header(reqwest::header::USER_AGENT, USER_AGENT)
            })
            .await?;
        let err = |msg: String| ProviderError::permanent(NAME, sym, msg);
        let body: Value = match serde_json::from_str(&reply.body) {
            Ok(v) => v,
            Err(e) if reply.status.is_success() => return Err(err(malformed(&reply.body, &e))),
            Err(_) => return Err(err(format!("HTTP {}", status_text(reply.status)))),
        };
        let chart = body.get("chart").filter(|c| c.is_object());
        if let Some(e) = chart.and_then(|c| c.get("error")).filter(|e| !e.is_null()) {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("?");
            let desc = e.get("description").and_then(Value::as_str).unwrap_or("");
            return Err(err(format!(
                "HTTP {}: {code}: {desc}",
                reply.status.as_u16()
            )));
        }
        if !reply.status.is_success() {
            return Err(err(format!("HTTP {}", status_text(reply.status))));
        }
        let Some(chart) = chart else {
            return Err(err("malformed payload: no `chart` object".into()));
        };
        let Some(result) = chart.get("result").and_then(|r| r.get(0)) else {
            return Err(err("malformed payload: `chart.result` is empty".into()));
        };
        Ok(parse_result(
            result,
            req,
            step,
            self.clock.now().timestamp(),
        ))
    }
}

fn status_text(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
        .trim()
        .to_string()
}

/// A short reason a body is not the JSON we expect.
fn malformed(body: &str, e: &serde_json::Error) -> String {
    let start = body.trim_start();
    let why = if start.is_empty() {
        "empty body".to_string()
    } else if start.starts_with('<') {
        "an HTML page instead of JSON".to_string()
    } else if e.is_eof() {
        format!("truncated JSON ({e})")
    } else {
        format!("not JSON ({e})")
    };
    format!("malformed payload: {why}")
}

/// Turns `chart.result[0]` into bars. `now` is in UTC seconds.
fn parse_result(result: &Value, req: &FetchRequest, step: i64, now: i64) -> Fetched {
    let meta = result.get("meta");
    let exchange_tz: Tz = meta
        .and_then(|m| m.get("exchangeTimezoneName"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(req.tz);
    // The session that is open now, if any: its daily bar is still live.
    let open_session = meta
        .and_then(|m| m.pointer("/currentTradingPeriod/regular"))
        .and_then(|r| Some((r.get("start")?.as_i64()?, r.get("end")?.as_i64()?)))
        .filter(|&(_, end)| now < end);
    log_splits(result, &req.symbol);

    let empty = Vec::new();
    let times = result
        .get("timestamp")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let quote = result.pointer("/indicators/quote/0");
    let column = |name: &str| {
        quote
            .and_then(|q| q.get(name))
            .and_then(Value::as_array)
            .unwrap_or(&empty)
    };
    let cols = [
        column("open"),
        column("high"),
        column("low"),
        column("close"),
        column("volume"),
    ];

    let mut out = Fetched {
        requests: 1,
        ..Fetched::default()
    };
    for (i, t) in times.iter().enumerate() {
        let [o, h, l, c, v] = cols.map(|col| col.get(i).unwrap_or(&Value::Null));
        let raw = serde_json::json!({
            "timestamp": t, "open": o, "high": h, "low": l, "close": c, "volume": v,
        })
        .to_string();
        let Some(t) = t.as_i64() else {
            out.unparsed.push(Unparsed {
                raw,
                reason: "timestamp is not an integer".into(),
            });
            continue;
        };
        let ts = if step == 60 {
            DateTime::from_timestamp(t - t.rem_euclid(60), 0)
        } else {
            DateTime::from_timestamp(t, 0)
                .map(|at| session_ts(req.tz, at.with_timezone(&exchange_tz).date_naive()))
        };
        let Some(ts) = ts.filter(|ts| req.from <= *ts && *ts <= req.to) else {
            continue;
        };
        if [o, h, l, c, v].iter().all(|x| x.is_null()) {
            out.no_trade += 1;
            continue;
        }
        let live = if step == 60 {
            t % 60 != 0 || t + 60 > now
        } else {
            open_session.is_some_and(|(start, _)| t >= start)
        };
        if live {
            out.partial += 1;
            continue;
        }
        out.bars.push(RawBar {
            ts,
            open: o.as_f64(),
            high: h.as_f64(),
            low: l.as_f64(),
            close: c.as_f64(),
            volume: volume(v),
            raw,
        });
    }
    out
}

/// Volumes arrive as integers, sometimes as floats with a zero fraction.
fn volume(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

/// Bars stay unadjusted (adjustment happens on read); splits only get noted.
fn log_splits(result: &Value, symbol: &str) {
    let Some(splits) = result.pointer("/events/splits").and_then(Value::as_object) else {
        return;
    };
    let list: Vec<String> = splits
        .values()
        .map(|s| {
            let date = s
                .get("date")
                .and_then(Value::as_i64)
                .and_then(|d| DateTime::from_timestamp(d, 0))
                .map(|d| d.date_naive().to_string())
                .unwrap_or_else(|| "?".into());
            let ratio = s.get("splitRatio").and_then(Value::as_str).unwrap_or("?");
            format!("{date} {ratio}")
        })
        .collect();
    tracing::info!(
        provider = NAME,
        symbol,
        splits = %list.join(", "),
        "payload reports splits; bars are kept unadjusted"
    );
}
