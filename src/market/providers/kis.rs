//! `kis`: Korea Investment & Securities Open API, daily and minute bars of
//! KRX stocks.
//!
//! **Token.** Every request carries an OAuth token from `POST /oauth2/tokenP`.
//! KIS issues one a day and throttles issuing, so the token is kept in
//! `provider_tokens` (provider `kis`) and reused by every run and process
//! sharing the database until `expires_at - token_margin_secs` (expiry on
//! the database clock). A process-wide lock makes checking and refreshing
//! one step, so concurrent fetches in a process never issue two tokens; a
//! request rejected for an expired token (`EGW00123`) refreshes once and is
//! repeated.
//!
//! **Daily** (`inquire-daily-itemchartprice`, tr_id `FHKST03010100`): at
//! most 100 rows per call, newest first, so the range is paged backwards by
//! moving `FID_INPUT_DATE_2` before the oldest date received. Raw prices
//! (`FID_ORG_ADJ_PRC=1`).
//!
//! **Minute** (`inquire-time-itemchartprice`, tr_id `FHKST03010200`): today's
//! bars only, about 30 per call ending at `FID_INPUT_HOUR_1`, so a session
//! is paged backwards from min(`to`, now) to `from` (or 09:00). The current
//! minute, and today's daily bar before 15:30, are live: counted in
//! `partial`, not returned.
//!
//! Every page stops when it adds nothing new, so a server that ignores the
//! paging parameters cannot loop us.
//!
//! Config (`[providers.kis]`): `app_key_env` and `app_secret_env` (the
//! NAMES of the environment variables holding the secrets, read at each
//! fetch; errors name the variable, never the value), `base_url` (default
//! the live server), `token_margin_secs` (600) and the HTTP keys of
//! [`HttpOptions`].

use super::http::{Fetcher, HttpOptions, Reply};
use super::{FetchRequest, FetchResult, ProviderDeps, ProviderError};
use crate::market::session_ts;
use crate::market::{Fetched, Interval, RawBar, Unparsed};
use crate::on_db;
use crate::settings::Secret;
use crate::storage::Storage;
use crate::time::clock::Clock;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Asia::Seoul;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

const NAME: &str = "kis";
const DEFAULT_BASE_URL: &str = "https://openapi.koreainvestment.com:9443";
const TOKEN_PATH: &str = "/oauth2/tokenP";
const DAILY_PATH: &str = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice";
const DAILY_TR: &str = "FHKST03010100";
const MINUTE_PATH: &str = "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice";
const MINUTE_TR: &str = "FHKST03010200";
/// `msg_cd`s of a token the server no longer accepts (expired, invalid).
const TOKEN_REJECTED: [&str; 2] = ["EGW00123", "EGW00121"];
/// "Too many requests per second": worth retrying.
const RATE_LIMITED: &str = "EGW00201";
/// "Issue tokens at most once a minute": worth retrying.
const TOKEN_THROTTLED: &str = "EGW00133";
/// A guard, far above need: a session is 14 minute pages, 80 years of
/// daily bars 200 pages.
const MAX_PAGES: usize = 250;

/// One check-or-refresh of the token at a time in this process, across
/// every `Kis` instance (each job run builds its own).
static TOKEN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn session_open() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).expect("valid time")
}
fn session_close() -> NaiveTime {
    NaiveTime::from_hms_opt(15, 30, 0).expect("valid time")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    base_url: Option<String>,
    app_key_env: String,
    app_secret_env: String,
    token_margin_secs: Option<u64>,
    rate_per_sec: Option<u32>,
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    timeout_secs: Option<u64>,
}

#[derive(Clone)]
struct Token {
    value: Secret,
    expires_at: DateTime<Utc>,
}

struct Credentials {
    key: Secret,
    secret: Secret,
}

/// One fetch's state: the credentials and token in use, whether the token
/// was already refreshed for this fetch, and the requests made.
struct Session {
    creds: Credentials,
    token: Secret,
    refreshed: bool,
    requests: usize,
}

pub struct Kis {
    base_url: String,
    key_env: String,
    secret_env: String,
    margin: Duration,
    fetcher: Fetcher,
    storage: Storage,
    clock: Clock,
    /// This instance's copy of the stored token.
    token: tokio::sync::Mutex<Option<Token>>,
}

impl Kis {
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
        if !Url::parse(base).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return Err(format!(
                "providers.{NAME}.base_url: {base:?} is not an http(s) URL"
            ));
        }
        for (key, name) in [
            ("app_key_env", &cfg.app_key_env),
            ("app_secret_env", &cfg.app_secret_env),
        ] {
            if name.trim().is_empty() {
                return Err(format!(
                    "providers.{NAME}.{key}: the name of an environment variable is required"
                ));
            }
        }
        Ok(Kis {
            base_url: base.trim_end_matches('/').to_string(),
            key_env: cfg.app_key_env,
            secret_env: cfg.app_secret_env,
            margin: Duration::seconds(cfg.token_margin_secs.unwrap_or(600) as i64),
            fetcher: Fetcher::new(NAME, deps.http.clone(), opts),
            storage: deps.storage.clone(),
            clock: deps.clock.clone(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// Reads "now" (the current session day, which bars are still live)
    /// from `clock` instead of the wall clock. Token expiry is judged on
    /// the database clock regardless.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        let sym = req.symbol.as_str();
        if req.from > req.to {
            return Ok(Fetched::default());
        }
        match req.interval {
            Interval::D1 => {
                let mut s = self.session(sym).await?;
                self.daily(req, &mut s).await
            }
            Interval::M1 => {
                let Some(window) = self.minute_window(req)? else {
                    return Ok(Fetched::default());
                };
                let mut s = self.session(sym).await?;
                self.minute(req, window, &mut s).await
            }
            other => Err(ProviderError::permanent(
                NAME,
                sym,
                format!("interval {other} is not supported (only 1m and 1d)"),
            )),
        }
    }

    async fn session(&self, sym: &str) -> Result<Session, ProviderError> {
        let creds = Credentials {
            key: read_env(&self.key_env, "app key", sym)?,
            secret: read_env(&self.secret_env, "app secret", sym)?,
        };
        let token = self.token(sym, &creds, None).await?;
        Ok(Session {
            creds,
            token,
            refreshed: false,
            requests: 0,
        })
    }

    // ---- daily ----------------------------------------------------------

    async fn daily(&self, req: &FetchRequest, s: &mut Session) -> FetchResult {
        let sym = req.symbol.as_str();
        let first = req.from.with_timezone(&Seoul).date_naive();
        let mut last = req.to.with_timezone(&Seoul).date_naive();
        let mut rows: BTreeMap<NaiveDate, Value> = BTreeMap::new();
        let mut out = Fetched::default();
        let mut pages = 0;
        while last >= first {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(too_many_pages(sym));
            }
            let query = [
                ("FID_COND_MRKT_DIV_CODE", "J".to_string()),
                ("FID_INPUT_ISCD", sym.to_string()),
                ("FID_INPUT_DATE_1", yyyymmdd(first)),
                ("FID_INPUT_DATE_2", yyyymmdd(last)),
                ("FID_PERIOD_DIV_CODE", "D".to_string()),
                ("FID_ORG_ADJ_PRC", "1".to_string()),
            ];
            let page = self.get(s, sym, DAILY_PATH, DAILY_TR, &query).await?;
            let (mut oldest, mut added) = (None::<NaiveDate>, 0);
            for row in page {
                if is_blank(&row) {
                    continue; // KIS pads an empty answer with one blank row
                }
                let Some(date) = text(&row, "stck_bsop_date").and_then(parse_date) else {
                    out.unparsed.push(Unparsed {
                        raw: row.to_string(),
                        reason: "bad or missing stck_bsop_date".into(),
                    });
                    continue;
                };
                oldest = Some(oldest.map_or(date, |o| o.min(date)));
                if rows.insert(date, row).is_none() {
                    added += 1;
                }
            }
            match oldest {
                Some(o) if added > 0 && o > first => last = o.pred_opt().unwrap_or(first),
                _ => break,
            }
        }

        let now = self.clock.now().with_timezone(&Seoul);
        for (date, row) in rows {
            let ts = session_ts(req.tz, date);
            if ts < req.from || ts > req.to {
                continue;
            }
            if date == now.date_naive() && now.time() < session_close() {
                out.partial += 1;
                continue;
            }
            out.bars.push(RawBar {
                ts,
                open: number(&row, "stck_oprc"),
                high: number(&row, "stck_hgpr"),
                low: number(&row, "stck_lwpr"),
                close: number(&row, "stck_clpr"),
                volume: volume(&row, "acml_vol"),
                raw: row.to_string(),
            });
        }
        out.requests = s.requests;
        Ok(out)
    }

    // ---- minute ---------------------------------------------------------

    /// The Seoul-time span of today to page through, `(floor, end)`, or
    /// None when the range lies wholly in the future.
    fn minute_window(
        &self,
        req: &FetchRequest,
    ) -> Result<Option<(NaiveDateTime, NaiveDateTime)>, ProviderError> {
        let now = self.clock.now();
        let today = now.with_timezone(&Seoul).date_naive();
        let end = req.to.min(now).with_timezone(&Seoul).naive_local();
        if end.date() < today {
            return Err(ProviderError::permanent(
                NAME,
                &req.symbol,
                format!(
                    "minute bars are served for the current day only ({today} in Seoul); the range ends on {}",
                    end.date()
                ),
            ));
        }
        let from = req.from.with_timezone(&Seoul).naive_local();
        let floor = from.max(today.and_time(session_open()));
        Ok((floor <= end).then_some((floor, end)))
    }

    async fn minute(
        &self,
        req: &FetchRequest,
        (floor, end): (NaiveDateTime, NaiveDateTime),
        s: &mut Session,
    ) -> FetchResult {
        let sym = req.symbol.as_str();
        let day = end.date();
        let mut cursor = end.time();
        let mut rows: BTreeMap<NaiveDateTime, Value> = BTreeMap::new();
        let mut out = Fetched::default();
        let mut pages = 0;
        while day.and_time(cursor) >= floor {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(too_many_pages(sym));
            }
            let query = [
                ("FID_ETC_CLS_CODE", String::new()),
                ("FID_COND_MRKT_DIV_CODE", "J".to_string()),
                ("FID_INPUT_ISCD", sym.to_string()),
                ("FID_INPUT_HOUR_1", cursor.format("%H%M%S").to_string()),
                ("FID_PW_DATA_INCU_YN", "Y".to_string()),
            ];
            let page = self.get(s, sym, MINUTE_PATH, MINUTE_TR, &query).await?;
            let (mut oldest, mut added) = (None::<NaiveDateTime>, 0);
            for row in page {
                if is_blank(&row) {
                    continue;
                }
                let at = text(&row, "stck_bsop_date")
                    .and_then(parse_date)
                    .zip(text(&row, "stck_cntg_hour").and_then(parse_hour))
                    .map(|(d, h)| d.and_time(h));
                let Some(at) = at else {
                    out.unparsed.push(Unparsed {
                        raw: row.to_string(),
                        reason: "bad or missing stck_bsop_date/stck_cntg_hour".into(),
                    });
                    continue;
                };
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
                if rows.insert(at, row).is_none() {
                    added += 1;
                }
            }
            // Next page: the minute before the oldest received, strictly
            // earlier than this one whatever the server answered.
            match oldest.map(|o| (o, o - Duration::minutes(1))) {
                Some((o, prev))
                    if added > 0 && o > floor && prev.date() == day && prev.time() < cursor =>
                {
                    cursor = prev.time()
                }
                _ => break,
            }
        }

        let now = self.clock.now();
        for (at, row) in rows {
            let Some(ts) = Seoul
                .from_local_datetime(&at)
                .single()
                .map(|t| t.with_timezone(&Utc))
            else {
                continue; // Seoul has no DST; unreachable in practice
            };
            if ts < req.from || ts > req.to {
                continue;
            }
            if at.second() != 0 || ts + Duration::minutes(1) > now {
                out.partial += 1;
                continue;
            }
            out.bars.push(RawBar {
                ts,
                open: number(&row, "stck_oprc"),
                high: number(&row, "stck_hgpr"),
                low: number(&row, "stck_lwpr"),
                close: number(&row, "stck_prpr"),
                volume: volume(&row, "cntg_vol"),
                raw: row.to_string(),
            });
        }
        out.requests = s.requests;
        Ok(out)
    }

    // ---- requests -------------------------------------------------------

    /// One quotation call; returns `output2`. A rejected token is refreshed
    /// once per fetch and the call repeated.
    async fn get(
        &self,
        s: &mut Session,
        sym: &str,
        path: &str,
        tr_id: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        loop {
            let headers = headers(s, tr_id, sym)?;
            s.requests += 1;
            let answer = match self
                .fetcher
                .send(sym, |c| c.get(&url).headers(headers.clone()).query(query))
                .await
            {
                Ok(reply) => read_reply(&reply, sym),
                // KIS may send the expired-token answer as HTTP 500, which
                // the Fetcher retries and reports with the body's start.
                Err(e) if TOKEN_REJECTED.iter().any(|c| e.message.contains(c)) => {
                    Answer::TokenRejected(e.message)
                }
                Err(e) => return Err(e),
            };
            match answer {
                Answer::Rows(rows) => return Ok(rows),
                Answer::Failed(e) => return Err(e),
                Answer::TokenRejected(why) if s.refreshed => {
                    return Err(ProviderError::retryable(
                        NAME,
                        sym,
                        format!("token rejected again right after a refresh: {why}"),
                    ))
                }
                Answer::TokenRejected(why) => {
                    tracing::info!(provider = NAME, symbol = sym, reason = %why, "token rejected; refreshing it");
                    s.token = self.token(sym, &s.creds, Some(&s.token)).await?;
                    s.refreshed = true;
                }
            }
        }
    }

    // ---- token ----------------------------------------------------------

    /// A usable token: this instance's, else the stored one, else a new
    /// one (stored for every other run and process). `rejected` is a token
    /// the server just refused: never returned again.
    async fn token(
        &self,
        sym: &str,
        creds: &Credentials,
        rejected: Option<&Secret>,
    ) -> Result<Secret, ProviderError> {
        let storage_err =
            |e: anyhow::Error| ProviderError::retryable(NAME, sym, format!("token storage: {e:#}"));
        let mut mine = self.token.lock().await;
        let now = self.storage.now().await.map_err(storage_err)?;
        let usable = |t: &Token| t.expires_at - self.margin > now && Some(&t.value) != rejected;
        if let Some(t) = mine.as_ref().filter(|t| usable(t)) {
            return Ok(t.value.clone());
        }
        let _process = TOKEN_LOCK.lock().await;
        if let Some(t) = self.load().await.map_err(storage_err)?.filter(usable) {
            *mine = Some(t.clone());
            return Ok(t.value);
        }
        let (value, lifetime) = self.issue(sym, creds).await?;
        let now = self.storage.now().await.map_err(storage_err)?;
        let t = Token {
            value,
            expires_at: now + lifetime,
        };
        self.save(&t, now).await.map_err(storage_err)?;
        tracing::info!(provider = NAME, expires_at = %t.expires_at, "issued a new access token");
        *mine = Some(t.clone());
        Ok(t.value)
    }

    async fn load(&self) -> anyhow::Result<Option<Token>> {
        let row: Option<(String, DateTime<Utc>)> = on_db!(&self.storage.db, pool => {
            sqlx::query_as("SELECT token, expires_at FROM provider_tokens WHERE provider = $1")
                .bind(NAME)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(value, expires_at)| Token {
            value: Secret::new(value),
            expires_at,
        }))
    }

    async fn save(&self, t: &Token, now: DateTime<Utc>) -> anyhow::Result<()> {
        on_db!(&self.storage.db, pool => {
            sqlx::query(
                "INSERT INTO provider_tokens (provider, token, expires_at, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (provider) DO UPDATE SET token = excluded.token,
                     expires_at = excluded.expires_at, updated_at = excluded.updated_at",
            )
            .bind(NAME)
            .bind(t.value.expose())
            .bind(t.expires_at)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// `POST /oauth2/tokenP`: the token and its lifetime.
    async fn issue(
        &self,
        sym: &str,
        creds: &Credentials,
    ) -> Result<(Secret, Duration), ProviderError> {
        let url = format!("{}{TOKEN_PATH}", self.base_url);
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "appkey": creds.key.expose(),
            "appsecret": creds.secret.expose(),
        });
        let reply = self
            .fetcher
            .send(sym, |c| c.post(&url).json(&body))
            .await
            .map_err(|e| ProviderError {
                message: format!("token request: {}", e.message),
                ..e
            })?;
        let fail =
            |msg: String| ProviderError::permanent(NAME, sym, format!("token request: {msg}"));
        let v: Value = match serde_json::from_str(&reply.body) {
            Ok(v) => v,
            Err(_) if !reply.status.is_success() => {
                return Err(fail(format!("HTTP {}", reply.status)))
            }
            Err(e) => {
                return Err(fail(format!(
                    "malformed payload: {}",
                    json_problem(&reply.body, &e)
                )))
            }
        };
        if let Some(code) = text(&v, "error_code") {
            let desc = text(&v, "error_description").unwrap_or("");
            let msg = format!("token request refused: {code}: {desc}");
            return Err(if code == TOKEN_THROTTLED {
                ProviderError::retryable(NAME, sym, msg)
            } else {
                ProviderError::permanent(NAME, sym, msg)
            });
        }
        if !reply.status.is_success() {
            return Err(fail(format!("HTTP {}", reply.status)));
        }
        let token = text(&v, "access_token")
            .ok_or_else(|| fail("malformed payload: no access_token".into()))?;
        let secs = v
            .get("expires_in")
            .and_then(|e| e.as_i64().or_else(|| e.as_str()?.trim().parse().ok()))
            .filter(|s| *s > 0)
            .ok_or_else(|| fail("malformed payload: no positive expires_in".into()))?;
        Ok((Secret::new(token), Duration::seconds(secs)))
    }
}

/// What a quotation reply means.
enum Answer {
    Rows(Vec<Value>),
    TokenRejected(String),
    Failed(ProviderError),
}

fn read_reply(reply: &Reply, sym: &str) -> Answer {
    let fail = |msg: String| Answer::Failed(ProviderError::permanent(NAME, sym, msg));
    let v: Value = match serde_json::from_str(&reply.body) {
        Ok(v) => v,
        Err(_) if !reply.status.is_success() => return fail(format!("HTTP {}", reply.status)),
        Err(e) => {
            return fail(format!(
                "malformed payload: {}",
                json_problem(&reply.body, &e)
            ))
        }
    };
    match text(&v, "rt_cd") {
        Some("0") => {}
        Some(rt_cd) => {
            let code = text(&v, "msg_cd").unwrap_or("?");
            let msg = format!(
                "rt_cd {rt_cd}, {code}: {}",
                text(&v, "msg1").unwrap_or("").trim()
            );
            return if TOKEN_REJECTED.contains(&code) {
                Answer::TokenRejected(msg)
            } else if code == RATE_LIMITED {
                Answer::Failed(ProviderError::retryable(NAME, sym, msg))
            } else {
                fail(msg)
            };
        }
        None if !reply.status.is_success() => return fail(format!("HTTP {}", reply.status)),
        None => return fail("malformed payload: no rt_cd".into()),
    }
    if !reply.status.is_success() {
        return fail(format!("HTTP {}", reply.status));
    }
    match v.get("output2") {
        Some(Value::Array(rows)) => Answer::Rows(rows.clone()),
        Some(Value::Null) | None => Answer::Rows(Vec::new()),
        Some(_) => fail("malformed payload: output2 is not a list".into()),
    }
}

fn headers(s: &Session, tr_id: &str, sym: &str) -> Result<HeaderMap, ProviderError> {
    let secret = |what: &str, value: &str| {
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            ProviderError::permanent(NAME, sym, format!("the {what} is not a valid header value"))
        })?;
        v.set_sensitive(true);
        Ok::<_, ProviderError>(v)
    };
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        AUTHORIZATION,
        secret("access token", &format!("Bearer {}", s.token.expose()))?,
    );
    h.insert("appkey", secret("app key", s.creds.key.expose())?);
    h.insert("appsecret", secret("app secret", s.creds.secret.expose())?);
    h.insert(
        "tr_id",
        HeaderValue::from_str(tr_id).expect("tr_id constants are ASCII"),
    );
    h.insert("custtype", HeaderValue::from_static("P"));
    Ok(h)
}

fn read_env(var: &str, what: &str, sym: &str) -> Result<Secret, ProviderError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(_) => Err(ProviderError::permanent(
            NAME,
            sym,
            format!("environment variable {var} (the {what}) is empty"),
        )),
        Err(_) => Err(ProviderError::permanent(
            NAME,
            sym,
            format!("environment variable {var} (the {what}) is not set"),
        )),
    }
}

fn too_many_pages(sym: &str) -> ProviderError {
    ProviderError::permanent(
        NAME,
        sym,
        format!("paging did not finish after {MAX_PAGES} pages"),
    )
}

fn json_problem(body: &str, e: &serde_json::Error) -> String {
    let start = body.trim_start();
    if start.is_empty() {
        "empty body".into()
    } else if start.starts_with('<') {
        "an HTML page instead of JSON".into()
    } else if e.is_eof() {
        format!("truncated JSON ({e})")
    } else {
        format!("not JSON ({e})")
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A row whose every field is empty (KIS's "no data" page).
fn is_blank(row: &Value) -> bool {
    match row.as_object() {
        Some(fields) => fields
            .values()
            .all(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())),
        None => true,
    }
}

fn number(row: &Value, key: &str) -> Option<f64> {
    text(row, key).and_then(|s| s.parse().ok())
}

/// Volumes arrive as integer text, sometimes with a zero fraction.
fn volume(row: &Value, key: &str) -> Option<i64> {
    let s = text(row, key)?;
    s.parse::<i64>().ok().or_else(|| {
        let f: f64 = s.parse().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

/// `YYYYMMDD`, exactly (chrono alone would read `2026012` as January 2).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let digits = s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .flatten()
}

/// `HHMMSS`, exactly.
fn parse_hour(s: &str) -> Option<NaiveTime> {
    let digits = s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| NaiveTime::parse_from_str(s, "%H%M%S").ok())
        .flatten()
}

fn yyyymmdd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}
