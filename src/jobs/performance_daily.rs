//! `performance_daily`: KPI snapshots per (model, variant, horizon, day), their
//! rolling history, A/B comparisons, and a report with charts.
//!
//! Recomputes only the days whose snapshot is missing or older than an
//! evaluation or prediction of that day (late scores land on their own day),
//! with Polars over the scored items (`eval::performance`); then the rolling
//! 20/60-day values of every affected series from the stored snapshots
//! (`evaluation_history`, what `regression_detect` charts), and the paired
//! A/B comparison of each active experiment's variants over the last
//! `ab_window_days` (`eval::compare`).
//!
//! Reads: `model_evaluations`, `predictions`, `models`, `ab_test_config`.
//! Writes: `daily_performance`, `evaluation_history`, `ab_comparisons`
//! (all upserts), `reports/performance_daily/DAY/*.svg` and
//! `reports/performance.html` (the latest, linked from `reports/index.html`).
//! Schedule: after `evaluate` on trading days.
//! Rerun safety: safe — recomputing a day rewrites the same rows; a rerun
//! with nothing new recomputes nothing and redraws the same report.

use super::{JobContext, JobError, Outcome, Phases};
use crate::charts::{self, Interval, LineChart, ReliabilityBin, Series, Style};
use crate::eval::compare;
use crate::eval::performance::{self, HISTORY_METRICS};
use crate::eval::store::{self, DailyRow, HistoryRow, SeriesKey, VariantIds};
use crate::on_db;
use crate::reports::{Reports, Table};
use anyhow::Context as _;
use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;

/// The job's parameters (`jobs/performance_daily.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerformanceConfig {
    /// Rolling windows, in days with scored items.
    pub windows: Vec<usize>,
    /// Calendar days of matured items the A/B comparison looks back over.
    pub ab_window_days: i64,
    /// Calendar days of history the charts show.
    pub chart_days: i64,
    /// The exchange calendar whose local date names the report.
    pub calendar: String,
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        PerformanceConfig {
            windows: vec![20, 60],
            ab_window_days: 90,
            chart_days: 180,
            calendar: "XKRX".into(),
        }
    }
}

impl PerformanceConfig {
    pub fn from_table(t: &toml::Table) -> anyhow::Result<PerformanceConfig> {
        let c: PerformanceConfig = t
            .clone()
            .try_into()
            .context("jobs/performance_daily.toml")?;
        anyhow::ensure!(
            !c.windows.is_empty() && c.windows.iter().all(|w| (1..=1000).contains(w)),
            "jobs/performance_daily.toml: windows must be 1..=1000 days, got {:?}",
            c.windows
        );
        anyhow::ensure!(
            c.ab_window_days > 0 && c.chart_days > 0,
            "jobs/performance_daily.toml: ab_window_days and chart_days must be positive"
        );
        Ok(c)
    }
}

pub async fn run(ctx: &JobContext) -> Result<Outcome, JobError> {
    let cfg = PerformanceConfig::from_table(&ctx.params).map_err(JobError::permanent)?;
    let mut out = Outcome::default();
    let storage = &ctx.storage;

    // Phase timings (ms) go into the report: where the time goes (reading,
    // Polars, writing) is what tells a slow run's cause.
    let mut phases = Phases::start();
    let dirty = store::dirty_days(storage).await?;
    out.count("days_recomputed", dirty.len() as i64);
    let mut variants = VariantIds::default();
    let items = store::load_items(storage, &dirty, &mut variants).await?;
    out.count("items", items.len() as i64);
    let counts = store::counts(storage, &dirty).await?;
    phases.lap("read");
    let kpis = if items.is_empty() {
        Vec::new()
    } else {
        let frame = items.into_frame().map_err(anyhow::Error::from)?;
        let daily = tokio::task::spawn_blocking(move || performance::daily_kpis(frame))
            .await
            .context("KPI task")?
            .map_err(anyhow::Error::from)?;
        frame_to_rows(&daily, &variants)?
    };
    phases.lap("kpis");
    let rows = merge_counts(kpis, &counts);
    store::upsert_daily(storage, &rows, ctx.run_id).await?;
    out.count("daily_rows", rows.len() as i64);

    let series: BTreeSet<SeriesKey> = rows.iter().map(|r| r.key.clone()).collect();
    let history = rolling(storage, &series, &dirty, &cfg.windows).await?;
    store::upsert_history(storage, &history).await?;
    out.count("history_rows", history.len() as i64);
    phases.lap("write");

    let today = report_day(ctx, &cfg);
    let ab = ab_comparisons(ctx, &cfg, today).await?;
    out.count("ab_comparisons", ab.len() as i64);

    let page = render(ctx, &cfg, today, &ab).await?;
    phases.lap("report");
    phases.report(&mut out);
    out.markdown = page.markdown;
    out.details = serde_json::json!({ "ab": ab, "charts": page.charts });
    Ok(out)
}

/// The local date of the slot on the configured calendar (UTC's without it).
fn report_day(ctx: &JobContext, cfg: &PerformanceConfig) -> NaiveDate {
    let (cals, _) = crate::time::Calendars::load_dir(&ctx.settings.jobs_dir.join("calendars"));
    cals.get(&cfg.calendar)
        .map_or(ctx.slot.date_naive(), |c| c.local_date(ctx.slot))
}

fn frame_to_rows(df: &DataFrame, variants: &VariantIds) -> anyhow::Result<Vec<DailyRow>> {
    let i32s = |name: &str| -> anyhow::Result<Vec<i32>> {
        Ok(df
            .column(name)?
            .i32()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect())
    };
    let f64s = |name: &str| -> anyhow::Result<Vec<Option<f64>>> {
        Ok(df
            .column(name)?
            .f64()?
            .iter()
            .map(|v| v.filter(|x| x.is_finite()))
            .collect())
    };
    let (model, variant, horizon, day) = (
        i32s("model_id")?,
        i32s("variant_id")?,
        i32s("horizon")?,
        i32s("day")?,
    );
    let cols: HashMap<&str, Vec<Option<f64>>> = [
        "n",
        "n_called",
        "up_n",
        "hit_rate",
        "mean_brier",
        "brier_skill",
        "mean_log_loss",
        "ece",
        "picp",
        "nominal",
        "mean_width",
        "mean_winkler",
        "up_hit_rate",
        "up_brier",
        "persist_hit_rate",
        "persist_brier",
        "rw_picp",
        "rw_width",
        "rw_winkler",
        "ic",
        "rank_ic",
        "n_targets",
        "target_hit_rate",
        "support_breach_rate",
        "mean_final_score",
    ]
    .into_iter()
    .map(|c| Ok((c, f64s(c)?)))
    .collect::<anyhow::Result<_>>()?;
    let g = |c: &str, i: usize| cols[c][i];
    let count = |c: &str, i: usize| g(c, i).unwrap_or(0.0).round() as i64;
    Ok((0..df.height())
        .map(|i| DailyRow {
            key: SeriesKey {
                model_id: i64::from(model[i]),
                variant: variants.name(variant[i]).to_string(),
                horizon: horizon[i],
            },
            day: crate::predict::features::from_epoch_day(day[i]),
            counts: store::Counts {
                scored: count("n", i),
                ..Default::default()
            },
            n_called: count("n_called", i),
            n_baseline: count("up_n", i),
            hit_rate: g("hit_rate", i),
            mean_brier: g("mean_brier", i),
            brier_skill: g("brier_skill", i),
            mean_log_loss: g("mean_log_loss", i),
            ece: g("ece", i),
            picp: g("picp", i),
            nominal_coverage: g("nominal", i),
            mean_width: g("mean_width", i),
            mean_winkler: g("mean_winkler", i),
            up_hit_rate: g("up_hit_rate", i),
            up_brier: g("up_brier", i),
            persist_hit_rate: g("persist_hit_rate", i),
            persist_brier: g("persist_brier", i),
            rw_picp: g("rw_picp", i),
            rw_width: g("rw_width", i),
            rw_winkler: g("rw_winkler", i),
            ic: g("ic", i),
            rank_ic: g("rank_ic", i),
            n_targets: count("n_targets", i),
            target_hit_rate: g("target_hit_rate", i),
            support_breach_rate: g("support_breach_rate", i),
            mean_final_score: g("mean_final_score", i),
        })
        .collect())
}

/// KPI rows with their counts; a (series, day) with predictions or
/// evaluations but no scored item still gets a row (its counts say why).
fn merge_counts(
    kpis: Vec<DailyRow>,
    counts: &BTreeMap<(SeriesKey, NaiveDate), store::Counts>,
) -> Vec<DailyRow> {
    let mut by_key: BTreeMap<(SeriesKey, NaiveDate), DailyRow> = kpis
        .into_iter()
        .map(|r| ((r.key.clone(), r.day), r))
        .collect();
    for ((key, day), c) in counts {
        let row = by_key
            .entry((key.clone(), *day))
            .or_insert_with(|| DailyRow {
                key: key.clone(),
                day: *day,
                ..Default::default()
            });
        row.counts = *c;
    }
    by_key.into_values().collect()
}

/// Rolling values of `series` from their stored snapshots, for the days
/// from the first dirty one on.
async fn rolling(
    ctx_storage: &crate::storage::Storage,
    series: &BTreeSet<SeriesKey>,
    dirty: &BTreeSet<NaiveDate>,
    windows: &[usize],
) -> anyhow::Result<Vec<HistoryRow>> {
    let Some(&from) = dirty.first() else {
        return Ok(Vec::new());
    };
    let daily: Vec<DailyRow> = store::load_daily(ctx_storage, series)
        .await?
        .into_iter()
        .filter(|r| r.counts.scored > 0)
        .collect();
    if daily.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<SeriesKey> = series.iter().cloned().collect();
    let index: HashMap<&SeriesKey, i32> = keys.iter().zip(0..).collect();
    let f = |g: &dyn Fn(&DailyRow) -> f64| daily.iter().map(g).collect::<Vec<f64>>();
    let sum = |m: Option<f64>, n: i64| m.unwrap_or(0.0) * n as f64;
    let df = df!(
        // The series index stands in for (model, variant) in the keys.
        "model_id" => daily.iter().map(|r| index[&r.key]).collect::<Vec<i32>>(),
        "variant_id" => vec![0i32; daily.len()],
        "horizon" => vec![0i32; daily.len()],
        "day" => daily.iter().map(|r| crate::predict::features::epoch_day(r.day)).collect::<Vec<i32>>(),
        "n" => f(&|r| r.counts.scored as f64),
        "n_called" => f(&|r| r.n_called as f64),
        "hit_sum" => f(&|r| sum(r.hit_rate, r.n_called)),
        "brier_sum" => f(&|r| sum(r.mean_brier, r.counts.scored)),
        "log_loss_sum" => f(&|r| sum(r.mean_log_loss, r.counts.scored)),
        "covered_sum" => f(&|r| sum(r.picp, r.counts.scored)),
        "winkler_sum" => f(&|r| sum(r.mean_winkler, r.counts.scored)),
        "up_n" => f(&|r| r.n_baseline as f64),
        "up_hit_sum" => f(&|r| sum(r.up_hit_rate, r.n_baseline)),
        "up_brier_sum" => f(&|r| sum(r.up_brier, r.n_baseline)),
        "ic" => daily.iter().map(|r| r.ic).collect::<Vec<Option<f64>>>(),
    )?;
    let windows_owned = windows.to_vec();
    let h = tokio::task::spawn_blocking(move || performance::rolling_history(df, &windows_owned))
        .await
        .context("rolling task")??;
    let model = h.column("model_id")?.i32()?.clone();
    let day = h.column("day")?.i32()?.clone();
    let mut out = Vec::new();
    for &w in windows {
        let n = h.column(&format!("n_{w}"))?.f64()?.clone();
        let values: Vec<(&'static str, Float64Chunked)> = HISTORY_METRICS
            .iter()
            .map(|m| Ok((*m, h.column(&format!("{m}_{w}"))?.f64()?.clone())))
            .collect::<anyhow::Result<_>>()?;
        for i in 0..h.height() {
            let d = crate::predict::features::from_epoch_day(day.get(i).unwrap_or(0));
            if d < from {
                continue;
            }
            let key = &keys[model.get(i).unwrap_or(0) as usize];
            for (metric, v) in &values {
                out.push(HistoryRow {
                    key: key.clone(),
                    day: d,
                    metric,
                    window_days: w as i32,
                    value: v.get(i).filter(|x| x.is_finite()),
                    n: n.get(i).unwrap_or(0.0).round() as i64,
                });
            }
        }
    }
    Ok(out)
}

/// One stored A/B comparison.
#[derive(Debug, Clone, Serialize)]
pub struct AbRow {
    pub experiment: String,
    pub variant_a: String,
    pub variant_b: String,
    pub horizon: i32,
    pub metric: &'static str,
    pub n_a: i64,
    pub n_b: i64,
    pub window: (NaiveDate, NaiveDate),
    pub paired: Option<compare::Paired>,
}

/// Each active experiment's variants against its first (control) variant,
/// paired by day over the last `ab_window_days`, on Brier and hit rate.
async fn ab_comparisons(
    ctx: &JobContext,
    cfg: &PerformanceConfig,
    today: NaiveDate,
) -> anyhow::Result<Vec<AbRow>> {
    let storage = &ctx.storage;
    let from = today - Duration::days(cfg.ab_window_days);
    type Daily = (
        String,
        String,
        i32,
        NaiveDate,
        i64,
        Option<f64>,
        Option<f64>,
    );
    let (experiments, daily): (Vec<(String, String)>, Vec<Daily>) = on_db!(&storage.db, pool => {
        (
            sqlx::query_as("SELECT name, variants FROM ab_test_config WHERE active ORDER BY name")
                .fetch_all(pool)
                .await?,
            sqlx::query_as(
                "SELECT p.experiment, p.variant, p.horizon_days, e.target_date, COUNT(*),
                        CAST(AVG(e.brier) AS DOUBLE PRECISION),
                        CAST(AVG(CASE WHEN e.hit THEN 1.0 WHEN NOT e.hit THEN 0.0 END) AS DOUBLE PRECISION)
                 FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
                 WHERE e.status = 'scored' AND p.experiment IS NOT NULL
                   AND e.target_date > $1 AND e.target_date <= $2
                 GROUP BY p.experiment, p.variant, p.horizon_days, e.target_date
                 ORDER BY e.target_date",
            )
            .bind(from)
            .bind(today)
            .fetch_all(pool)
            .await?,
        )
    });
    type Key = (String, String, i32);
    type DailySeries = Vec<(NaiveDate, f64)>;
    // Per (experiment, variant, horizon): items, daily Brier, daily hit rate.
    let mut series: BTreeMap<Key, (i64, DailySeries, DailySeries)> = BTreeMap::new();
    for (exp, variant, horizon, day, n, brier, hit) in daily {
        let e = series.entry((exp, variant, horizon)).or_default();
        e.0 += n;
        if let Some(b) = brier {
            e.1.push((day, b));
        }
        if let Some(h) = hit {
            e.2.push((day, h));
        }
    }
    let horizons: BTreeSet<i32> = series.keys().map(|k| k.2).collect();
    let mut rows = Vec::new();
    for (name, variants_json) in experiments {
        let names: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&variants_json)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
            .collect();
        let Some((control, others)) = names.split_first() else {
            continue;
        };
        for other in others {
            for &h in &horizons {
                let a = series.get(&(name.clone(), control.clone(), h));
                let b = series.get(&(name.clone(), other.clone(), h));
                if a.is_none() && b.is_none() {
                    continue;
                }
                let empty = (0, Vec::new(), Vec::new());
                let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
                // Overlapping h-day horizons correlate consecutive days.
                let lag = (h.max(1) - 1) as usize;
                for (metric, pick) in [("brier", 1usize), ("hit_rate", 2)] {
                    let (sa, sb) = if pick == 1 {
                        (&a.1, &b.1)
                    } else {
                        (&a.2, &b.2)
                    };
                    rows.push(AbRow {
                        experiment: name.clone(),
                        variant_a: control.clone(),
                        variant_b: other.clone(),
                        horizon: h,
                        metric,
                        n_a: a.0,
                        n_b: b.0,
                        window: (from + Duration::days(1), today),
                        paired: compare::paired_by_day(sa, sb, lag),
                    });
                }
            }
        }
    }
    let now = storage.now().await?;
    for r in &rows {
        let p = r.paired.as_ref();
        on_db!(&storage.db, pool => {
            sqlx::query(
                "INSERT INTO ab_comparisons (experiment, variant_a, variant_b, horizon_days, metric, as_of,
                     window_start, window_end, n_days, n_a, n_b, mean_a, mean_b, effect, ci_low, ci_high,
                     dm_stat, p_value, computed_at, run_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                 ON CONFLICT (experiment, variant_a, variant_b, horizon_days, metric, as_of) DO UPDATE SET
                     window_start = excluded.window_start, window_end = excluded.window_end,
                     n_days = excluded.n_days, n_a = excluded.n_a, n_b = excluded.n_b,
                     mean_a = excluded.mean_a, mean_b = excluded.mean_b, effect = excluded.effect,
                     ci_low = excluded.ci_low, ci_high = excluded.ci_high, dm_stat = excluded.dm_stat,
                     p_value = excluded.p_value, computed_at = excluded.computed_at, run_id = excluded.run_id",
            )
            .bind(&r.experiment)
            .bind(&r.variant_a)
            .bind(&r.variant_b)
            .bind(r.horizon)
            .bind(r.metric)
            .bind(today)
            .bind(r.window.0)
            .bind(r.window.1)
            .bind(p.map_or(0, |p| p.n_days as i64))
            .bind(r.n_a)
            .bind(r.n_b)
            .bind(p.map(|p| p.mean_a))
            .bind(p.map(|p| p.mean_b))
            .bind(p.map(|p| p.effect))
            .bind(p.map(|p| p.ci_low))
            .bind(p.map(|p| p.ci_high))
            .bind(p.and_then(|p| p.dm_stat))
            .bind(p.and_then(|p| p.p_value))
            .bind(now)
            .bind(ctx.run_id)
            .execute(pool)
            .await?;
        });
    }
    Ok(rows)
}

struct Page {
    markdown: String,
    charts: Vec<String>,
}

/// Chart size in pixels.
const W: u32 = 900;
const H: u32 = 360;

/// The report: the latest day's KPIs per series against the baselines,
/// charts of the rolling history, calibration, coverage and the A/B
/// comparisons; Markdown for the run report, HTML for people.
async fn render(
    ctx: &JobContext,
    cfg: &PerformanceConfig,
    today: NaiveDate,
    ab: &[AbRow],
) -> anyhow::Result<Page> {
    let storage = &ctx.storage;
    let since = today - Duration::days(cfg.chart_days);
    let names = store::model_names(storage).await?;
    let latest = latest_rows(storage).await?;
    let label = |k: &SeriesKey| k.label(&names);
    let w = *cfg.windows.first().expect("validated non-empty");
    let reports = Reports::new(&ctx.settings.reports_dir);
    let dir = format!("performance_daily/{today}");
    let mut charts_written = Vec::new();
    let mut write = |name: &str, svg: anyhow::Result<String>| -> anyhow::Result<String> {
        let rel = format!("{dir}/{name}.svg");
        reports.write_atomic(Path::new(&rel), svg?.as_bytes())?;
        charts_written.push(rel.clone());
        Ok(rel)
    };

    // Rolling hit rate and Brier per series, with always-up dashed.
    let mut hit = Vec::new();
    let mut brier = Vec::new();
    let mut coverage = Vec::new();
    let mut nominal: Option<f64> = None;
    let mut rolling_last: BTreeMap<SeriesKey, BTreeMap<&str, f64>> = BTreeMap::new();
    for (key, row) in &latest {
        let l = label(key);
        let mut s = BTreeMap::new();
        for m in ["hit_rate", "up_hit_rate", "brier", "up_brier", "picp", "ic"] {
            let points = store::history_series(storage, key, m, w as i32, since).await?;
            // The window's value on the series' latest day, for the table.
            if let Some((_, v)) = points.last().filter(|(d, _)| *d == row.day) {
                rolling_last.entry(key.clone()).or_default().insert(m, *v);
            }
            s.insert(m, points);
        }
        let mut take = |m: &str| s.remove(m).unwrap_or_default();
        hit.push(Series {
            name: l.clone(),
            points: take("hit_rate"),
            style: Style::Solid,
        });
        hit.push(Series {
            name: format!("{l} always-up"),
            points: take("up_hit_rate"),
            style: Style::Companion,
        });
        brier.push(Series {
            name: l.clone(),
            points: take("brier"),
            style: Style::Solid,
        });
        brier.push(Series {
            name: format!("{l} always-up"),
            points: take("up_brier"),
            style: Style::Companion,
        });
        coverage.push(Series {
            name: l.clone(),
            points: take("picp"),
            style: Style::Solid,
        });
        nominal = nominal.or(row.nominal_coverage);
    }
    let hit_svg = write(
        "hit_rate",
        charts::line_chart_svg(
            &LineChart::new(
                format!("Hit rate, rolling {w} days (dashed: always-up on the same items)"),
                "hit rate",
                hit,
            ),
            W,
            H,
        )
        .map_err(anyhow::Error::from),
    )?;
    let brier_svg = write(
        "brier",
        charts::line_chart_svg(
            &LineChart::new(
                format!("Brier score, rolling {w} days (lower is better; dashed: always-up)"),
                "Brier",
                brier,
            ),
            W,
            H,
        )
        .map_err(anyhow::Error::from),
    )?;
    let coverage_svg = write(
        "coverage",
        charts::line_chart_svg(
            &LineChart {
                reference: nominal.map(|n| (format!("nominal {:.0}%", n * 100.0), n)),
                y_range: Some((0.0, 1.0)),
                ..LineChart::new(
                    format!("Band coverage, rolling {w} days, against nominal"),
                    "share of bands covering",
                    coverage,
                )
            },
            W,
            H,
        )
        .map_err(anyhow::Error::from),
    )?;
    let bins = reliability(storage, today - Duration::days(60), today).await?;
    let models: Vec<(String, Vec<ReliabilityBin>)> =
        bins.into_iter().map(|(k, b)| (label(&k), b)).collect();
    let reliability_svg = write(
        "reliability",
        charts::reliability_svg("Calibration of p(up), last 60 days", &models, 520, 520)
            .map_err(anyhow::Error::from),
    )?;
    let intervals: Vec<Interval> = ab
        .iter()
        .filter(|r| r.metric == "brier")
        .filter_map(|r| {
            r.paired.map(|p| Interval {
                label: format!(
                    "{}: {} − {} ({}d)",
                    r.experiment, r.variant_b, r.variant_a, r.horizon
                ),
                estimate: p.effect,
                low: p.ci_low,
                high: p.ci_high,
            })
        })
        .collect();
    let ab_svg = write(
        "ab",
        charts::interval_chart_svg(
            "A/B: Brier difference B − A, 95% interval (left of 0: B better)",
            "Brier difference",
            &intervals,
            W,
            (120 + 40 * intervals.len()) as u32,
        )
        .map_err(anyhow::Error::from),
    )?;

    // The table: each series' latest day, with the rolling window's values
    // next to always-up's on the same items.
    let table = kpi_table(&latest, &rolling_last, &label, w);
    let mut md = String::from("## Performance\n\n");
    md.push_str(&table.markdown());
    if latest.is_empty() {
        md.push_str("No scored predictions yet.\n");
    }
    if !ab.is_empty() {
        md.push_str("\n### A/B comparisons (paired by day)\n\n| experiment | B vs A | horizon | metric | days | A | B | effect B − A | 95% interval | p |\n|---|---|---:|---|---:|---:|---:|---:|---|---:|\n");
        for r in ab {
            match &r.paired {
                Some(p) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} vs {} | {}d | {} | {} | {:.4} | {:.4} | {:+.4} | [{:+.4}, {:+.4}] | {} |",
                        r.experiment, r.variant_b, r.variant_a, r.horizon, r.metric, p.n_days,
                        p.mean_a, p.mean_b, p.effect, p.ci_low, p.ci_high,
                        p.p_value.map_or("—".into(), |x| format!("{x:.3}")),
                    );
                }
                None => {
                    let _ = writeln!(
                        md,
                        "| {} | {} vs {} | {}d | {} | fewer than 2 shared days | | | | | |",
                        r.experiment, r.variant_b, r.variant_a, r.horizon, r.metric
                    );
                }
            }
        }
    }
    let _ = writeln!(
        md,
        "\nCharts: [hit rate]({hit_svg}), [Brier]({brier_svg}), [coverage]({coverage_svg}), [calibration]({reliability_svg}), [A/B]({ab_svg}) — all on [performance.html](performance.html)."
    );

    let html = crate::reports::html_page(
        &format!("tickerd — model performance, {today}"),
        &table.html(),
        &[
            (&hit_svg, "Hit rate"),
            (&brier_svg, "Brier"),
            (&coverage_svg, "Coverage"),
            (&reliability_svg, "Calibration"),
            (&ab_svg, "A/B"),
        ],
    );
    reports.write_atomic(Path::new("performance.html"), html.as_bytes())?;
    Ok(Page {
        markdown: md,
        charts: charts_written,
    })
}

/// The newest scored snapshot of every series.
async fn latest_rows(
    storage: &crate::storage::Storage,
) -> anyhow::Result<Vec<(SeriesKey, DailyRow)>> {
    let keys: Vec<(i64, String, i32)> = on_db!(&storage.db, pool => {
        sqlx::query_as(
            "SELECT DISTINCT model_id, variant, horizon_days FROM daily_performance
             WHERE n_scored > 0 ORDER BY model_id, variant, horizon_days",
        )
        .fetch_all(pool)
        .await?
    });
    let set: BTreeSet<SeriesKey> = keys
        .into_iter()
        .map(|(model_id, variant, horizon)| SeriesKey {
            model_id,
            variant,
            horizon,
        })
        .collect();
    let rows = store::load_daily(storage, &set).await?;
    let mut latest: BTreeMap<SeriesKey, DailyRow> = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.counts.scored > 0) {
        latest.insert(r.key.clone(), r);
    }
    Ok(latest.into_iter().collect())
}

/// Reliability bins of `p_up` per series over matured days in `(from, to]`.
async fn reliability(
    storage: &crate::storage::Storage,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<(SeriesKey, Vec<ReliabilityBin>)>> {
    let rows: Vec<(i64, String, i32, f64, Option<String>)> = on_db!(&storage.db, pool => {
        sqlx::query_as(
            "SELECT p.model_id, p.variant, p.horizon_days, p.p_up, e.realized_class
             FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
             WHERE e.status = 'scored' AND e.target_date > $1 AND e.target_date <= $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
    });
    let mut acc: BTreeMap<SeriesKey, [(f64, f64, usize); 10]> = BTreeMap::new();
    for (model_id, variant, horizon, p, class) in rows {
        let bins = acc
            .entry(SeriesKey {
                model_id,
                variant,
                horizon,
            })
            .or_insert([(0.0, 0.0, 0); 10]);
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += p;
        bins[b].1 += if class.as_deref() == Some("up") {
            1.0
        } else {
            0.0
        };
        bins[b].2 += 1;
    }
    Ok(acc
        .into_iter()
        .map(|(k, bins)| {
            let v = bins
                .iter()
                .filter(|b| b.2 > 0)
                .map(|b| ReliabilityBin {
                    predicted: b.0 / b.2 as f64,
                    observed: b.1 / b.2 as f64,
                    count: b.2,
                })
                .collect();
            (k, v)
        })
        .collect())
}

fn kpi_table(
    latest: &[(SeriesKey, DailyRow)],
    rolling: &BTreeMap<SeriesKey, BTreeMap<&str, f64>>,
    label: &dyn Fn(&SeriesKey) -> String,
    w: usize,
) -> Table {
    let f = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
    let header = [
        "series".to_string(),
        "latest day".into(),
        "scored".into(),
        format!("hit {w}d"),
        format!("always-up hit {w}d"),
        format!("Brier {w}d"),
        format!("always-up Brier {w}d"),
        format!("skill {w}d"),
        format!("coverage {w}d"),
        "nominal".into(),
        format!("IC {w}d"),
        "hit (day)".into(),
        "persistence hit (day)".into(),
        "ECE (day)".into(),
        "Rank IC (day)".into(),
    ]
    .to_vec();
    let rows = latest
        .iter()
        .map(|(k, r)| {
            let roll = rolling.get(k);
            let g = |m: &str| roll.and_then(|x| x.get(m).copied());
            let (b, ub) = (g("brier"), g("up_brier"));
            let skill = match (b, ub) {
                (Some(b), Some(u)) if u > 0.0 => Some(1.0 - b / u),
                _ => None,
            };
            // A model that does not beat always-up is not working, whatever
            // its hit rate: its row is marked.
            let good = matches!((b, ub), (Some(b), Some(u)) if b < u);
            let cells = vec![
                label(k),
                r.day.to_string(),
                r.counts.scored.to_string(),
                f(g("hit_rate")),
                f(g("up_hit_rate")),
                f(b),
                f(ub),
                f(skill),
                f(g("picp")),
                f(r.nominal_coverage),
                f(g("ic")),
                f(r.hit_rate),
                f(r.persist_hit_rate),
                f(r.ece),
                f(r.rank_ic),
            ];
            (good, cells)
        })
        .collect();
    Table { header, rows }
}
