//! `regression_detect`: is any model or variant getting worse?
//!
//! Per (model, variant, horizon) and configured metric, on the latest
//! trading day up to the slot: the default rule of `eval::regression` (a
//! recent window of scored items against an earlier baseline window, a
//! one-sided Mann–Whitney test with Bonferroni over the metrics checked, a
//! practical-effect floor, never better than always-up), and an EWMA chart
//! on daily mean Brier that catches a sudden break between checks. The rank
//! test runs on the per-item scores (`model_evaluations`), not on daily
//! aggregates: twenty daily means are too few for it to see an 8-point drop.
//!
//! Reads: `model_evaluations`, `predictions`, `models`, `jobs/calendars/`,
//! `jobs/regression_detect.toml`.
//! Writes: `regression_checks` (every check with its inputs and verdict,
//! upserted per series, metric and day), `reports/regression_detect/DAY/`
//! charts and `reports/regression.html`; posts alerts to the webhook when
//! one is configured. Counts `alerts`: `tickerd run` exits 3 when > 0.
//! Schedule: after `performance_daily` on trading days.
//! Rerun safety: safe — the same data gives the same checks, upserted over
//! the stored ones; a webhook is posted again on a rerun (a person asked).

use super::{JobContext, JobError, Outcome};
use crate::charts::{self, LineChart, Series, Shade, Style};
use crate::eval::regression::{
    self, Check, EvalItem, Metric, MetricHistory, RegressionConfig, Verdict,
};
use crate::eval::store::{self, SeriesKey};
use crate::on_db;
use crate::reports::{Reports, Table};
use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Where alerts are posted. The URL itself usually carries a token, so the
/// file names an environment variable that holds it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url_env: String,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
}

fn default_webhook_timeout() -> u64 {
    10
}

/// The job's parameters (`jobs/regression_detect.toml`).
#[derive(Debug, Clone)]
pub struct DetectConfig {
    pub calendar: String,
    pub metrics: Vec<Metric>,
    pub rule: RegressionConfig,
    pub webhook: Option<Webhook>,
}

const RULE_KEYS: [&str; 11] = [
    "recent_days",
    "baseline_days",
    "gap_days",
    "min_items",
    "alpha",
    "hit_rate_floor",
    "brier_floor",
    "relative_floor",
    "ewma_lambda",
    "ewma_l",
    "ewma_clip",
];

impl DetectConfig {
    pub fn from_table(t: &toml::Table) -> anyhow::Result<DetectConfig> {
        const FILE: &str = "jobs/regression_detect.toml";
        let mut rule_table = toml::Table::new();
        let mut cfg = DetectConfig {
            calendar: "XKRX".into(),
            metrics: vec![Metric::HitRate, Metric::Brier],
            rule: RegressionConfig::default(),
            webhook: None,
        };
        for (k, v) in t {
            match k.as_str() {
                "calendar" => {
                    cfg.calendar = v
                        .as_str()
                        .with_context(|| format!("{FILE}: calendar must be a string"))?
                        .to_string()
                }
                "metrics" => {
                    cfg.metrics = v.clone().try_into().with_context(|| {
                        format!(
                            "{FILE}: metrics must be a list of hit_rate, brier, log_loss, winkler"
                        )
                    })?
                }
                "webhook" => {
                    cfg.webhook = Some(v.clone().try_into().with_context(|| {
                        format!("{FILE}: [webhook] needs url_env (and optional timeout_secs)")
                    })?)
                }
                k if RULE_KEYS.contains(&k) => {
                    rule_table.insert(k.to_string(), v.clone());
                }
                other => anyhow::bail!(
                    "{FILE}: unknown key {other:?} (known: calendar, metrics, webhook, {})",
                    RULE_KEYS.join(", ")
                ),
            }
        }
        cfg.rule = rule_table
            .try_into()
            .with_context(|| format!("{FILE}: a rule parameter has the wrong type"))?;
        cfg.rule
            .validate()
            .map_err(|e| anyhow::anyhow!("{FILE}: {e}"))?;
        anyhow::ensure!(!cfg.metrics.is_empty(), "{FILE}: metrics is empty");
        cfg.metrics.dedup();
        Ok(cfg)
    }
}

/// One series' checks, for the report.
#[derive(Debug, Clone, Serialize)]
struct SeriesChecks {
    label: String,
    key_model: i64,
    key_variant: String,
    key_horizon: i32,
    checks: Vec<Check>,
    ewma: Option<regression::EwmaChart>,
    ewma_verdict: Verdict,
}

impl SeriesChecks {
    /// Why the EWMA chart says what it says, for the page and the stored
    /// check alike. A breach before the recent window is not this run's
    /// alert: a daily run on that day raised it.
    fn ewma_why(&self) -> String {
        match (&self.ewma, self.ewma_verdict) {
            (Some(c), Verdict::Regression) => format!(
                "EWMA crossed its upper limit on {}",
                c.first_breach.map(|d| d.to_string()).unwrap_or_default()
            ),
            (Some(c), _) => match c.first_breach {
                Some(d) => format!(
                    "EWMA first crossed its upper limit on {d}, before the recent window \
                     (a run on that day raises that alert; later runs do not repeat it)"
                ),
                None => "EWMA within its limits".to_string(),
            },
            (None, _) => "too few days for the EWMA reference".to_string(),
        }
    }
}

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = DetectConfig::from_table(&ctx.params).map_err(JobError::permanent)?;
    let (cals, _) = crate::time::Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    let cal = cals.get(&cfg.calendar).ok_or_else(|| {
        JobError::permanent(anyhow::anyhow!(
            "jobs/regression_detect.toml: no calendar {} in jobs/calendars/",
            cfg.calendar
        ))
    })?;
    let mut out = Outcome::default();
    // The latest trading day up to the slot's local date.
    let span = cfg.rule.baseline_days + cfg.rule.gap_days + cfg.rule.recent_days;
    let mut days: Vec<NaiveDate> = Vec::new();
    let mut d = cal.local_date(ctx.slot);
    while days.len() < span + 1 && cal.covers(d) {
        if cal.session(d).is_some() {
            days.push(d);
        }
        d -= Duration::days(1);
    }
    days.reverse();
    let Some(&as_of) = days.last() else {
        out.warn(format!(
            "calendar {} has no trading day before the slot",
            cfg.calendar
        ));
        return Ok(out);
    };
    let first = days[0];

    let names = store::model_names(&ctx.storage).await?;
    let items = load_items(ctx, first, as_of).await?;
    let mut all = Vec::new();
    for (key, rows) in &items {
        let model = names
            .get(&key.model_id)
            .cloned()
            .unwrap_or_else(|| key.model_id.to_string());
        let label = key.label(&names);
        let histories: Vec<MetricHistory> = cfg
            .metrics
            .iter()
            .map(|m| history(&model, &key.variant, *m, rows))
            .collect();
        let checks = regression::check_all(&histories, &days, as_of, &cfg.rule)
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        // EWMA on daily mean Brier: the baseline window's days are the
        // reference, the gap and recent days are monitored.
        let daily = daily_means(rows, |r| Some(r.brier));
        let reference = checks
            .iter()
            .find_map(|c| c.baseline)
            .map(|b| daily.iter().filter(|(d, _)| *d <= b.end).count())
            .unwrap_or(0);
        let ewma = regression::ewma_from_reference(&daily, reference, true, &cfg.rule)
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        let recent_start = checks.iter().find_map(|c| c.recent).map(|r| r.start);
        let ewma_verdict = match (&ewma, recent_start) {
            (Some(c), Some(start)) if c.first_breach.is_some_and(|b| b >= start) => {
                Verdict::Regression
            }
            (Some(_), Some(_)) => Verdict::Ok,
            _ => Verdict::InsufficientData,
        };
        all.push(SeriesChecks {
            label,
            key_model: key.model_id,
            key_variant: key.variant.clone(),
            key_horizon: key.horizon,
            checks,
            ewma,
            ewma_verdict,
        });
    }
    store_checks(ctx, &all, as_of).await?;

    let alerts: Vec<(&SeriesChecks, String)> = all
        .iter()
        .flat_map(|s| {
            let mut v: Vec<(&SeriesChecks, String)> = s
                .checks
                .iter()
                .filter(|c| c.verdict == Verdict::Regression)
                .map(|c| (s, metric_name(c.metric).to_string()))
                .collect();
            if s.ewma_verdict == Verdict::Regression {
                v.push((s, "ewma_brier".to_string()));
            }
            v
        })
        .collect();
    let n_checks: usize = all.iter().map(|s| s.checks.len() + 1).sum();
    out.count("series", all.len() as i64);
    out.count("checks", n_checks as i64);
    out.count("alerts", alerts.len() as i64);
    let insufficient: usize = all
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.verdict == Verdict::InsufficientData)
        .count();
    out.count("insufficient_data", insufficient as i64);

    let (md, html_body, charts) = render(ctx, &all, &items, as_of)?;
    out.markdown = md;
    let reports = Reports::new(&ctx.settings.reports_dir);
    let html = crate::reports::html_page(
        &format!("tickerd — regression checks, {as_of}"),
        &html_body,
        &charts
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect::<Vec<_>>(),
    );
    reports
        .write_atomic(Path::new("regression.html"), html.as_bytes())
        .context("writing reports/regression.html")?;
    out.details = serde_json::json!({ "as_of": as_of, "series": all });

    if let (Some(hook), false) = (&cfg.webhook, alerts.is_empty()) {
        let text: Vec<String> = alerts
            .iter()
            .map(|(s, m)| format!("{} {m}", s.label))
            .collect();
        match post_webhook(ctx, hook, as_of, &text).await {
            Ok(()) => {
                out.count("webhook_posted", 1);
            }
            // The alert is in the report and the exit status either way;
            // a webhook outage must not hide it by failing the run.
            Err(e) => {
                out.warn(format!("webhook: {e}"));
            }
        }
    }
    Ok(out)
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::HitRate => "hit_rate",
        Metric::Brier => "brier",
        Metric::LogLoss => "log_loss",
        Metric::Winkler => "winkler",
    }
}

/// One scored item's values.
#[derive(Debug, Clone)]
struct ItemRow {
    day: NaiveDate,
    hit: Option<bool>,
    brier: f64,
    log_loss: f64,
    winkler: f64,
    up_hit: Option<bool>,
    up_brier: Option<f64>,
}

async fn load_items(
    ctx: &JobContext,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<BTreeMap<SeriesKey, Vec<ItemRow>>> {
    type Row = (
        i64,
        String,
        i32,
        NaiveDate,
        Option<bool>,
        f64,
        f64,
        f64,
        Option<bool>,
        Option<f64>,
    );
    let rows: Vec<Row> = on_db!(&ctx.storage.db, pool => {
        sqlx::query_as(
            "SELECT p.model_id, p.variant, p.horizon_days, e.target_date, e.hit, e.brier, e.log_loss,
                    e.winkler, e.up_hit, e.up_brier
             FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
             WHERE e.status = 'scored' AND e.target_date >= $1 AND e.target_date <= $2
             ORDER BY e.target_date, e.prediction_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
    });
    let mut out: BTreeMap<SeriesKey, Vec<ItemRow>> = BTreeMap::new();
    for (model_id, variant, horizon, day, hit, brier, log_loss, winkler, up_hit, up_brier) in rows {
        out.entry(SeriesKey {
            model_id,
            variant,
            horizon,
        })
        .or_default()
        .push(ItemRow {
            day,
            hit,
            brier,
            log_loss,
            winkler,
            up_hit,
            up_brier,
        });
    }
    Ok(out)
}

fn history(model: &str, variant: &str, metric: Metric, rows: &[ItemRow]) -> MetricHistory {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let items = rows
        .iter()
        .filter_map(|r| {
            let (value, always_up) = match metric {
                Metric::HitRate => (r.hit.map(b)?, r.up_hit.map(b)),
                Metric::Brier => (r.brier, r.up_brier),
                Metric::LogLoss => (r.log_loss, None),
                Metric::Winkler => (r.winkler, None),
            };
            Some(EvalItem {
                date: r.day,
                value,
                always_up,
            })
        })
        .collect();
    MetricHistory {
        model: model.to_string(),
        variant: variant.to_string(),
        metric,
        items,
    }
}

fn daily_means(rows: &[ItemRow], pick: impl Fn(&ItemRow) -> Option<f64>) -> Vec<(NaiveDate, f64)> {
    let mut acc: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for r in rows {
        if let Some(v) = pick(r) {
            let e = acc.entry(r.day).or_default();
            e.0 += v;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(d, (s, n))| (d, s / n as f64))
        .collect()
}

/// One `regression_checks` row.
struct StoredCheck {
    metric: &'static str,
    verdict: Verdict,
    reason: String,
    n_baseline: usize,
    n_recent: usize,
    baseline_mean: Option<f64>,
    recent_mean: Option<f64>,
    effect: Option<f64>,
    p_value: Option<f64>,
    always_up_recent: Option<f64>,
    inputs: String,
}

async fn store_checks(
    ctx: &JobContext,
    all: &[SeriesChecks],
    as_of: NaiveDate,
) -> anyhow::Result<()> {
    let now = ctx.storage.now().await?;
    for s in all {
        let ewma_reason = format!("daily Brier: {}", s.ewma_why());
        let mut rows: Vec<StoredCheck> = s
            .checks
            .iter()
            .map(|c| StoredCheck {
                metric: metric_name(c.metric),
                verdict: c.verdict,
                reason: c.reason.clone(),
                n_baseline: c.n_baseline,
                n_recent: c.n_recent,
                baseline_mean: c.baseline_mean,
                recent_mean: c.recent_mean,
                effect: c.effect,
                p_value: c.p_value,
                always_up_recent: c.always_up_recent,
                inputs: serde_json::to_string(c).unwrap_or_default(),
            })
            .collect();
        let last = s.ewma.as_ref().and_then(|c| c.points.last());
        rows.push(StoredCheck {
            metric: "ewma_brier",
            verdict: s.ewma_verdict,
            reason: ewma_reason,
            n_baseline: 0,
            n_recent: s.ewma.as_ref().map_or(0, |c| c.points.len()),
            baseline_mean: s.ewma.as_ref().map(|c| c.mu0),
            recent_mean: last.map(|p| p.ewma),
            effect: None,
            p_value: None,
            always_up_recent: None,
            inputs: serde_json::to_string(&s.ewma).unwrap_or_default(),
        });
        for row in rows {
            let StoredCheck {
                metric,
                verdict,
                reason,
                n_baseline: nb,
                n_recent: nr,
                baseline_mean: bm,
                recent_mean: rm,
                effect,
                p_value: p,
                always_up_recent: au,
                inputs,
            } = row;
            let verdict = verdict.as_str();
            on_db!(&ctx.storage.db, pool => {
                sqlx::query(
                    "INSERT INTO regression_checks (model_id, variant, horizon_days, metric, as_of, verdict,
                         reason, n_baseline, n_recent, baseline_mean, recent_mean, effect, p_value,
                         always_up_recent, inputs, computed_at, run_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                     ON CONFLICT (model_id, variant, horizon_days, metric, as_of) DO UPDATE SET
                         verdict = excluded.verdict, reason = excluded.reason,
                         n_baseline = excluded.n_baseline, n_recent = excluded.n_recent,
                         baseline_mean = excluded.baseline_mean, recent_mean = excluded.recent_mean,
                         effect = excluded.effect, p_value = excluded.p_value,
                         always_up_recent = excluded.always_up_recent, inputs = excluded.inputs,
                         computed_at = excluded.computed_at, run_id = excluded.run_id",
                )
                .bind(s.key_model)
                .bind(&s.key_variant)
                .bind(s.key_horizon)
                .bind(metric)
                .bind(as_of)
                .bind(verdict)
                .bind(reason)
                .bind(nb as i64)
                .bind(nr as i64)
                .bind(bm)
                .bind(rm)
                .bind(effect)
                .bind(p)
                .bind(au)
                .bind(inputs)
                .bind(now)
                .bind(ctx.run_id)
                .execute(pool)
                .await?;
            });
        }
    }
    Ok(())
}

type Rendered = (String, String, Vec<(String, String)>);

/// A p-value as people read it; the normal approximation underflows to 0
/// for large effects, which is "below 1e-16", not "impossible".
fn p_text(p: f64) -> String {
    if p < 1e-16 {
        "< 1e-16".to_string()
    } else {
        format!("{p:.2e}")
    }
}

fn render(
    ctx: &JobContext,
    all: &[SeriesChecks],
    items: &BTreeMap<SeriesKey, Vec<ItemRow>>,
    as_of: NaiveDate,
) -> anyhow::Result<Rendered> {
    let reports = Reports::new(&ctx.settings.reports_dir);
    let f = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    let mut md = format!("## Regression checks as of {as_of}\n\n");
    let mut html = String::new();
    let mut charts = Vec::new();
    let alerts: usize = all
        .iter()
        .map(|s| {
            s.checks
                .iter()
                .filter(|c| c.verdict == Verdict::Regression)
                .count()
                + usize::from(s.ewma_verdict == Verdict::Regression)
        })
        .sum();
    if alerts > 0 {
        let _ = writeln!(md, "**{alerts} regression alert(s).**\n");
        let _ = writeln!(
            html,
            "<p class=\"alert\"><strong>{alerts} regression alert(s).</strong></p>"
        );
    } else if all.is_empty() {
        md.push_str("No scored predictions in the windows.\n");
        html.push_str("<p>No scored predictions in the windows.</p>\n");
    } else {
        md.push_str("No regression.\n\n");
        html.push_str("<p>No regression.</p>\n");
    }
    let mut table = Table {
        header: [
            "series",
            "metric",
            "verdict",
            "baseline (n)",
            "recent (n)",
            "effect",
            "p",
            "always-up (recent)",
            "why",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    // Upper case so an alert stands out in the table.
    let verdict_text = |v: Verdict| match v {
        Verdict::Regression => "REGRESSION",
        other => other.as_str(),
    };
    for s in all {
        for c in &s.checks {
            table.rows.push((
                c.verdict != Verdict::Regression,
                vec![
                    s.label.clone(),
                    metric_name(c.metric).to_string(),
                    verdict_text(c.verdict).to_string(),
                    format!("{} ({})", f(c.baseline_mean), c.n_baseline),
                    format!("{} ({})", f(c.recent_mean), c.n_recent),
                    f(c.effect),
                    c.p_value.map_or("—".into(), p_text),
                    f(c.always_up_recent),
                    c.reason.clone(),
                ],
            ));
        }
        let reference = s.ewma.as_ref().map(|e| e.mu0);
        let last = s
            .ewma
            .as_ref()
            .and_then(|e| e.points.last().map(|p| p.ewma));
        let why = s.ewma_why();
        table.rows.push((
            s.ewma_verdict != Verdict::Regression,
            vec![
                s.label.clone(),
                "EWMA of daily Brier".to_string(),
                verdict_text(s.ewma_verdict).to_string(),
                f(reference),
                f(last),
                String::new(),
                String::new(),
                String::new(),
                why,
            ],
        ));
    }
    md.push_str(&table.markdown());
    html.push_str(&table.html());

    // A chart per alert: the metric's daily mean with both windows shaded
    // and their means drawn across them.
    for s in all {
        let key = SeriesKey {
            model_id: s.key_model,
            variant: s.key_variant.clone(),
            horizon: s.key_horizon,
        };
        let rows = items.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        for c in s.checks.iter().filter(|c| c.verdict == Verdict::Regression) {
            let (Some(b), Some(r)) = (c.baseline, c.recent) else {
                continue;
            };
            let pick: fn(&ItemRow) -> Option<f64> = match c.metric {
                Metric::HitRate => |r| r.hit.map(|h| if h { 1.0 } else { 0.0 }),
                Metric::Brier => |r| Some(r.brier),
                Metric::LogLoss => |r| Some(r.log_loss),
                Metric::Winkler => |r| Some(r.winkler),
            };
            let daily = daily_means(rows, pick);
            let flat = |w: &regression::Window, m: Option<f64>| -> Vec<(NaiveDate, f64)> {
                m.map(|m| vec![(w.start, m), (w.end, m)])
                    .unwrap_or_default()
            };
            let mut series = vec![
                Series {
                    name: format!("daily {}", metric_name(c.metric)),
                    points: daily,
                    style: Style::Solid,
                },
                Series {
                    name: "baseline mean".into(),
                    points: flat(&b, c.baseline_mean),
                    style: Style::Dashed,
                },
                Series {
                    name: "recent mean".into(),
                    points: flat(&r, c.recent_mean),
                    style: Style::Dashed,
                },
            ];
            if let Some(a) = c.always_up_recent {
                series.push(Series {
                    name: "always-up (recent)".into(),
                    points: vec![(r.start, a), (r.end, a)],
                    style: Style::Dashed,
                });
            }
            let svg = charts::line_chart_svg(
                &LineChart {
                    title: format!(
                        "{} {}: {} → {} (p {})",
                        s.label,
                        metric_name(c.metric),
                        f(c.baseline_mean),
                        f(c.recent_mean),
                        p_text(c.p_value.unwrap_or(1.0))
                    ),
                    y_label: metric_name(c.metric).into(),
                    series,
                    reference: None,
                    shades: vec![
                        Shade {
                            start: b.start,
                            end: b.end,
                            label: "baseline window".into(),
                        },
                        Shade {
                            start: r.start,
                            end: r.end,
                            label: "recent window".into(),
                        },
                    ],
                    marker: Some((as_of, "check".into())),
                    y_range: None,
                },
                900,
                360,
            )?;
            let slug: String = format!("{}_{}", s.label, metric_name(c.metric))
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            let rel = format!("regression_detect/{as_of}/{slug}.svg");
            reports.write_atomic(Path::new(&rel), svg.as_bytes())?;
            let _ = writeln!(md, "\n![{} {}]({rel})", s.label, metric_name(c.metric));
            charts.push((
                rel,
                format!("{} — {}: {}", s.label, metric_name(c.metric), c.reason),
            ));
        }
        // The EWMA alert: daily Brier, its EWMA and the control limits,
        // the first breach marked.
        if let (Verdict::Regression, Some(e)) = (s.ewma_verdict, &s.ewma) {
            let line = |pick: fn(&regression::EwmaPoint) -> f64| -> Vec<(NaiveDate, f64)> {
                e.points.iter().map(|p| (p.date, pick(p))).collect()
            };
            let breach = e.first_breach.unwrap_or(as_of);
            let svg = charts::line_chart_svg(
                &LineChart {
                    title: format!(
                        "{} daily Brier: EWMA (λ {}) above its limit from {breach}",
                        s.label, e.lambda
                    ),
                    y_label: "Brier".into(),
                    series: vec![
                        Series {
                            name: "daily Brier".into(),
                            points: line(|p| p.value),
                            style: Style::Solid,
                        },
                        Series {
                            name: "EWMA".into(),
                            points: line(|p| p.ewma),
                            style: Style::Solid,
                        },
                        Series {
                            name: "upper limit".into(),
                            points: line(|p| p.ucl),
                            style: Style::Dashed,
                        },
                    ],
                    reference: Some(("reference mean".into(), e.mu0)),
                    shades: vec![],
                    marker: Some((breach, "first breach".into())),
                    y_range: None,
                },
                900,
                360,
            )?;
            let slug: String = format!("{}_ewma_brier", s.label)
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            let rel = format!("regression_detect/{as_of}/{slug}.svg");
            reports.write_atomic(Path::new(&rel), svg.as_bytes())?;
            let _ = writeln!(md, "\n![{} EWMA of daily Brier]({rel})", s.label);
            charts.push((
                rel,
                format!(
                    "{} — EWMA of daily Brier crossed its upper limit on {breach} (reference mean {:.4}, σ {:.4}, L {})",
                    s.label, e.mu0, e.sigma, e.l
                ),
            ));
        }
    }
    Ok((md, html, charts))
}

async fn post_webhook(
    ctx: &JobContext,
    hook: &Webhook,
    as_of: NaiveDate,
    alerts: &[String],
) -> anyhow::Result<()> {
    let url = std::env::var(&hook.url_env)
        .map_err(|_| anyhow::anyhow!("environment variable {} is not set", hook.url_env))?;
    let body = serde_json::json!({
        "text": format!("tickerd: {} regression alert(s) on {as_of}: {}", alerts.len(), alerts.join("; ")),
        "as_of": as_of,
        "alerts": alerts,
    });
    let resp = ctx
        .http
        .get()
        .post(&url)
        .timeout(std::time::Duration::from_secs(hook.timeout_secs))
        .json(&body)
        .send()
        .await
        // The URL carries the webhook's token: never in a message.
        .map_err(|e| anyhow::anyhow!("post failed: {}", e.without_url()))?;
    anyhow::ensure!(
        resp.status().is_success(),
        "the webhook answered HTTP {}",
        resp.status().as_u16()
    );
    Ok(())
}
