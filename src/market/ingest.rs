//! One ingestion pass, shared by `ohlc_daily` and `ohlc_minute`: load the
//! universe, fetch each active stock's bars from its provider, validate them
//! (Polars, off the async runtime), store good rows, quarantine bad ones,
//! report per provider and stock, and refresh the cache. A failing symbol
//! (malformed payload, provider error) fails that symbol only.

use super::providers::{FetchRequest, Provider, ProviderDeps};
use super::stocks::{self, Stock};
use super::store::{self, Lineage, UpsertCounts};
use super::validate::{self, Bar};
use super::Interval;
use crate::jobs::{JobContext, JobError, Outcome};
use crate::time::Calendars;
use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A job file's market settings (`jobs/ohlc_daily.toml`, `jobs/ohlc_minute.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The universe CSV, imported at the start of each run.
    #[serde(default = "default_universe")]
    pub universe: PathBuf,
    /// Provider used unless `by_exchange` names another.
    pub provider: String,
    #[serde(default)]
    pub by_exchange: BTreeMap<String, String>,
    /// Daily: how many days back each run re-fetches (late corrections,
    /// gaps). Minute: ignored (the slot's session so far).
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
    /// Only stocks with priority <= this (1 = most important).
    #[serde(default = "default_max_priority")]
    pub max_priority: i32,
    /// `[providers.NAME]` tables.
    #[serde(default)]
    pub providers: BTreeMap<String, toml::Table>,
}

fn default_universe() -> PathBuf {
    "jobs/universe.csv".into()
}
fn default_lookback() -> i64 {
    10
}
fn default_max_priority() -> i32 {
    5
}

/// Per-stock figures for the report.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StockReport {
    pub exchange: String,
    pub code: String,
    pub provider: String,
    pub symbol: String,
    pub fetched: usize,
    pub inserted: u64,
    pub revised: u64,
    pub unchanged: u64,
    pub rejected: BTreeMap<String, usize>,
    pub partial: usize,
    pub no_trade: usize,
    pub flagged: usize,
    pub gaps: Vec<String>,
    pub error: Option<String>,
    pub ms: i64,
}

/// The time range a run fetches for one stock.
pub type RangeFn =
    dyn Fn(&Stock, &crate::time::Calendar) -> Option<(DateTime<Utc>, DateTime<Utc>)> + Send + Sync;

/// The bar starts a calendar expects in a range, for the gap report.
pub type ExpectedFn = dyn Fn(&crate::time::Calendar, DateTime<Utc>, DateTime<Utc>) -> Vec<DateTime<Utc>>
    + Send
    + Sync;

pub struct Pass<'a> {
    pub ctx: &'a JobContext,
    pub interval: Interval,
    pub range: &'a RangeFn,
    pub expected: &'a ExpectedFn,
}

pub fn config(ctx: &JobContext) -> Result<IngestConfig, JobError> {
    let text = toml::to_string(&ctx.params).map_err(|e| JobError::permanent(anyhow!(e)))?;
    toml::from_str(&text)
        .map_err(|e| JobError::permanent(anyhow!("jobs/{}.toml: {}", ctx.job, e.message())))
}

impl Pass<'_> {
    pub async fn run(&self, cfg: &IngestConfig) -> Result<(Outcome, Vec<StockReport>), JobError> {
        let ctx = self.ctx;
        let storage = &ctx.storage;
        let mut out = Outcome::default();

        // The universe, every run: bad rows are warnings, the rest load.
        let universe = if cfg.universe.is_relative() && !cfg.universe.exists() {
            ctx.settings
                .jobs_dir
                .join(cfg.universe.file_name().unwrap_or_default())
        } else {
            cfg.universe.clone()
        };
        let imported = stocks::import(storage, &universe, Some(ctx.run_id))
            .await
            .map_err(JobError::permanent)?;
        out.count("stocks_inserted", imported.inserted as i64);
        out.count("stocks_updated", imported.updated as i64);
        for p in &imported.problems {
            out.warn(format!("universe: {p}"));
        }

        let (calendars, cal_problems) =
            Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
        for p in cal_problems {
            out.warn(format!("calendar: {p}"));
        }
        let deps = ProviderDeps {
            http: ctx.http.get(),
            storage: storage.clone(),
            clock: ctx.clock.clone(),
        };
        let mut providers: BTreeMap<String, Provider> = BTreeMap::new();
        let mut reports = vec![];
        let all = stocks::load(storage, true)
            .await
            .map_err(JobError::retryable)?;
        for stock in all.iter().filter(|s| s.priority <= cfg.max_priority) {
            if ctx.cancel.is_cancelled() {
                return Err(JobError::retryable(anyhow!("cancelled")));
            }
            let name = cfg
                .by_exchange
                .get(&stock.exchange)
                .unwrap_or(&cfg.provider)
                .clone();
            if !providers.contains_key(&name) {
                let table = cfg.providers.get(&name).cloned().unwrap_or_default();
                let p = Provider::build(&name, &table, &deps).map_err(|e| {
                    JobError::permanent(anyhow!("jobs/{}.toml: providers.{name}: {e}", ctx.job))
                })?;
                providers.insert(name.clone(), p);
            }
            let provider = &providers[&name];
            let Some(cal) = calendars.get(&stock.exchange) else {
                out.warn(format!(
                    "{}:{}: no calendar {} under jobs/calendars; skipped",
                    stock.exchange, stock.code, stock.exchange
                ));
                continue;
            };
            let report = self.one(stock, provider, cal).await;
            reports.push(report);
        }

        let mut failed = 0;
        for r in &reports {
            out.count("bars_fetched", r.fetched as i64);
            out.count("bars_inserted", r.inserted as i64);
            out.count("bars_revised", r.revised as i64);
            out.count("bars_unchanged", r.unchanged as i64);
            out.count("bars_rejected", r.rejected.values().sum::<usize>() as i64);
            out.count("bars_flagged", r.flagged as i64);
            out.count("bars_partial_skipped", r.partial as i64);
            out.count("gaps", r.gaps.len() as i64);
            if let Some(e) = &r.error {
                failed += 1;
                out.warn(format!(
                    "{}:{} ({} {}): {e}",
                    r.exchange, r.code, r.provider, r.symbol
                ));
            }
        }
        out.count("stocks", reports.len() as i64);
        out.count("stocks_failed", failed);
        self.refresh_cache(&all, &reports).await;
        out.markdown = render(&reports);
        out.details = serde_json::json!({ "stocks": reports });
        if failed > 0 && failed == reports.len() as i64 {
            return Err(JobError::retryable(anyhow!(
                "every one of {failed} symbols failed; first: {}",
                reports
                    .iter()
                    .find_map(|r| r.error.clone())
                    .unwrap_or_default()
            )));
        }
        Ok((out, reports))
    }

    async fn one(
        &self,
        stock: &Stock,
        provider: &Provider,
        cal: &crate::time::Calendar,
    ) -> StockReport {
        let started = std::time::Instant::now();
        let name = provider.name();
        let symbol = stock.symbol_for(name);
        let mut r = StockReport {
            exchange: stock.exchange.clone(),
            code: stock.code.clone(),
            provider: name.to_string(),
            symbol: symbol.clone(),
            ..StockReport::default()
        };
        let Some((from, to)) = (self.range)(stock, cal) else {
            return r; // nothing to fetch for this slot (no session)
        };
        let req = FetchRequest {
            exchange: stock.exchange.clone(),
            code: stock.code.clone(),
            symbol: symbol.clone(),
            tz: cal.tz,
            interval: self.interval,
            from,
            to,
        };
        let result = self
            .fetch_validate_store(stock, provider, cal, &req, &mut r)
            .await;
        if let Err(e) = result {
            r.error = Some(format!("{e:#}"));
        }
        r.ms = started.elapsed().as_millis() as i64;
        r
    }

    async fn fetch_validate_store(
        &self,
        stock: &Stock,
        provider: &Provider,
        cal: &crate::time::Calendar,
        req: &FetchRequest,
        r: &mut StockReport,
    ) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let fetched = provider.fetch(req).await?;
        r.fetched = fetched.bars.len() + fetched.unparsed.len();
        r.partial = fetched.partial;
        r.no_trade = fetched.no_trade;
        let previous =
            store::previous_close(&ctx.storage, stock.id, self.interval, req.from).await?;
        let (interval, cal_owned, tz) = (self.interval, cal.clone(), cal.tz);
        let bars = fetched.bars;
        let mut validated = tokio::task::spawn_blocking(move || {
            let cx = validate::Context {
                interval,
                calendar: Some(&cal_owned),
                tz,
                previous_close: previous,
            };
            validate::validate(bars, &cx)
        })
        .await??;
        validated
            .rejected
            .extend(fetched.unparsed.into_iter().map(|u| validate::Rejected {
                ts: None,
                reason: u.reason,
                raw: u.raw,
            }));
        for rej in &validated.rejected {
            *r.rejected.entry(rej.reason.clone()).or_default() += 1;
        }
        r.flagged = validated.bars.iter().filter(|b| b.flags.is_some()).count();
        let source = provider.name();
        let counts: UpsertCounts = store::upsert_bars(
            &ctx.storage,
            stock.id,
            self.interval,
            &validated.bars,
            &Lineage {
                source,
                run_id: Some(ctx.run_id),
            },
        )
        .await?;
        (r.inserted, r.revised, r.unchanged) = (counts.inserted, counts.revised, counts.unchanged);
        store::quarantine(
            &ctx.storage,
            Some(stock.id),
            source,
            &req.symbol,
            self.interval,
            &validated.rejected,
            Some(ctx.run_id),
        )
        .await?;
        // Gaps: expected bar starts with no stored bar.
        let stored =
            store::load_bars(&ctx.storage, stock.id, self.interval, req.from, req.to).await?;
        let have: std::collections::HashSet<DateTime<Utc>> = stored.iter().map(|b| b.ts).collect();
        r.gaps = (self.expected)(cal, req.from, req.to)
            .into_iter()
            .filter(|t| !have.contains(t))
            .map(|t| {
                t.with_timezone(&cal.tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .collect();
        Ok(())
    }

    /// The latest bar and the last 60 daily closes per stock, for readers.
    /// Cache errors are the cache's business: they never fail the run.
    async fn refresh_cache(&self, all: &[Stock], reports: &[StockReport]) {
        let ctx = self.ctx;
        for r in reports.iter().filter(|r| r.error.is_none()) {
            let Some(stock) = all
                .iter()
                .find(|s| s.exchange == r.exchange && s.code == r.code)
            else {
                continue;
            };
            let far = ctx.slot + Duration::days(1);
            let since = far
                - Duration::days(if self.interval == Interval::D1 {
                    120
                } else {
                    7
                });
            let Ok(bars) =
                store::load_bars(&ctx.storage, stock.id, self.interval, since, far).await
            else {
                continue;
            };
            let Some(latest) = bars.last() else { continue };
            let key = format!("bars:{}:{}:{}", stock.exchange, stock.code, self.interval);
            ctx.cache
                .set(
                    &format!("{key}:latest"),
                    bar_json(latest).to_string().as_bytes(),
                    None,
                )
                .await;
            if self.interval == Interval::D1 {
                let closes: Vec<f64> = bars.iter().rev().take(60).rev().map(|b| b.close).collect();
                ctx.cache
                    .set(
                        &format!("{key}:closes60"),
                        serde_json::to_string(&closes)
                            .unwrap_or_default()
                            .as_bytes(),
                        None,
                    )
                    .await;
            }
        }
    }
}

fn bar_json(b: &Bar) -> serde_json::Value {
    serde_json::json!({
        "ts": b.ts.to_rfc3339(), "trading_date": b.trading_date.to_string(),
        "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume,
    })
}

fn render(reports: &[StockReport]) -> String {
    let mut s = String::from("| stock | provider | symbol | fetched | inserted | revised | unchanged | rejected | flagged | gaps | ms | error |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in reports {
        let rejected: usize = r.rejected.values().sum();
        let _ = writeln!(
            s,
            "| {}:{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.exchange,
            r.code,
            r.provider,
            r.symbol,
            r.fetched,
            r.inserted,
            r.revised,
            r.unchanged,
            rejected,
            r.flagged,
            r.gaps.len(),
            r.ms,
            r.error.as_deref().unwrap_or("").replace('|', "\\|")
        );
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reports {
        for (k, v) in &r.rejected {
            *reasons.entry(k).or_default() += v;
        }
    }
    if !reasons.is_empty() {
        s.push_str("\n### Rejected rows by reason\n\n| reason | rows |\n|---|---:|\n");
        for (k, v) in reasons {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    let gaps: Vec<_> = reports.iter().filter(|r| !r.gaps.is_empty()).collect();
    if !gaps.is_empty() {
        s.push_str("\n### Missing bars (gaps against the calendar)\n\n");
        for r in gaps {
            let shown: Vec<&str> = r.gaps.iter().take(10).map(String::as_str).collect();
            let more = if r.gaps.len() > 10 {
                format!(" … and {} more", r.gaps.len() - 10)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- {}:{}: {} missing: {}{more}",
                r.exchange,
                r.code,
                r.gaps.len(),
                shown.join(", ")
            );
        }
    }
    s
}
