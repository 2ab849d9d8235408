//! What the evaluation jobs read and write: scored items as Polars-ready
//! columns, `daily_performance`, `evaluation_history`, `ab_comparisons` and
//! `regression_checks`. Every write is an upsert keyed by its table's
//! primary key, so rerunning a slot rewrites the same rows.

use super::performance::ItemColumns;
use crate::on_db;
use crate::storage::Storage;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Rows per multi-row statement (SQLite allows 32,766 bound values).
const CHUNK: usize = 400;

/// Variant names as small integer ids for the Polars keys.
#[derive(Debug, Default, Clone)]
pub struct VariantIds {
    ids: HashMap<String, i32>,
    pub names: Vec<String>,
}

impl VariantIds {
    pub fn id(&mut self, name: &str) -> i32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as i32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn name(&self, id: i32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// Days whose KPI rows are missing or older than an evaluation or a
/// prediction of that day: what `performance_daily` recomputes.
pub async fn dirty_days(storage: &Storage) -> anyhow::Result<BTreeSet<NaiveDate>> {
    type Stamps = Vec<(NaiveDate, DateTime<Utc>)>;
    let (evaluated, made, computed): (Stamps, Stamps, Stamps) = on_db!(&storage.db, pool => {
        (
            sqlx::query_as(
                "SELECT target_date, MAX(evaluated_at) FROM model_evaluations
                 WHERE target_date IS NOT NULL GROUP BY target_date",
            )
            .fetch_all(pool)
            .await?,
            sqlx::query_as("SELECT as_of_date, MAX(created_at) FROM predictions GROUP BY as_of_date")
                .fetch_all(pool)
                .await?,
            sqlx::query_as("SELECT date, MIN(computed_at) FROM daily_performance GROUP BY date")
                .fetch_all(pool)
                .await?,
        )
    });
    let computed: BTreeMap<NaiveDate, DateTime<Utc>> = computed.into_iter().collect();
    Ok(evaluated
        .into_iter()
        .chain(made)
        .filter(|(day, stamp)| computed.get(day).is_none_or(|c| stamp >= c))
        .map(|(day, _)| day)
        .collect())
}

/// Identity of a (model, variant, horizon) series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub model_id: i64,
    pub variant: String,
    pub horizon: i32,
}

impl SeriesKey {
    /// How reports name the series: `model 5d` or `model/variant 5d`.
    pub fn label(&self, model_names: &HashMap<i64, String>) -> String {
        let m = model_names
            .get(&self.model_id)
            .cloned()
            .unwrap_or_else(|| format!("model {}", self.model_id));
        if self.variant.is_empty() {
            format!("{m} {}d", self.horizon)
        } else {
            format!("{m}/{} {}d", self.variant, self.horizon)
        }
    }
}

/// Scored items that matured on `days` (one query over their range).
pub async fn load_items(
    storage: &Storage,
    days: &BTreeSet<NaiveDate>,
    variants: &mut VariantIds,
) -> anyhow::Result<ItemColumns> {
    let mut c = ItemColumns::default();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(c);
    };
    let sql =
        "SELECT p.model_id, p.variant, p.horizon_days, e.target_date, e.hit, e.brier, e.log_loss,
                      e.covered, e.width, e.winkler, p.coverage, p.p_up, e.realized_class,
                      p.expected_return, e.realized_return, e.up_hit, e.up_brier, e.persist_hit,
                      e.persist_brier, e.rw_covered, e.rw_width, e.rw_winkler, e.target_achieved,
                      e.support_breached, e.final_score
               FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
               WHERE e.status = 'scored' AND e.target_date >= $1 AND e.target_date <= $2";
    let b = |v: Option<bool>| v.map(|x| if x { 1.0 } else { 0.0 });
    on_db!(&storage.db, pool => {
        let mut rows = sqlx::query(sql).bind(first).bind(last).fetch(pool);
        while let Some(r) = rows.try_next().await? {
            let day: NaiveDate = r.try_get(3)?;
            if !days.contains(&day) {
                continue;
            }
            let model_id: i64 = r.try_get(0)?;
            let variant: String = r.try_get(1)?;
            c.model_id.push(model_id as i32);
            c.variant_id.push(variants.id(&variant));
            c.horizon.push(r.try_get(2)?);
            c.day.push(crate::predict::features::epoch_day(day));
            c.hit.push(b(r.try_get(4)?));
            c.brier.push(r.try_get(5)?);
            c.log_loss.push(r.try_get(6)?);
            c.covered.push(b(r.try_get(7)?).unwrap_or(0.0));
            c.width.push(r.try_get(8)?);
            c.winkler.push(r.try_get(9)?);
            c.nominal.push(r.try_get(10)?);
            c.p_up.push(r.try_get(11)?);
            let class: Option<String> = r.try_get(12)?;
            c.is_up.push(if class.as_deref() == Some("up") { 1.0 } else { 0.0 });
            c.expected_return.push(r.try_get(13)?);
            c.realized_return.push(r.try_get(14)?);
            c.up_hit.push(b(r.try_get(15)?));
            c.up_brier.push(r.try_get(16)?);
            c.persist_hit.push(b(r.try_get(17)?));
            c.persist_brier.push(r.try_get(18)?);
            c.rw_covered.push(b(r.try_get(19)?));
            c.rw_width.push(r.try_get(20)?);
            c.rw_winkler.push(r.try_get(21)?);
            c.target_achieved.push(b(r.try_get(22)?));
            c.support_breached.push(b(r.try_get(23)?));
            c.final_score.push(r.try_get(24)?);
        }
    });
    Ok(c)
}

/// Prediction and evaluation counts of a KPI row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub made: i64,
    pub rejected: i64,
    pub matured: i64,
    pub scored: i64,
    pub unscorable: i64,
}

/// Counts per series and day for `days`: made/rejected by as-of date,
/// matured/scored/unscorable by the day the horizon matured.
pub async fn counts(
    storage: &Storage,
    days: &BTreeSet<NaiveDate>,
) -> anyhow::Result<BTreeMap<(SeriesKey, NaiveDate), Counts>> {
    let mut out: BTreeMap<(SeriesKey, NaiveDate), Counts> = BTreeMap::new();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(out);
    };
    type Row = (i64, String, i32, NaiveDate, String, i64);
    let (made, matured): (Vec<Row>, Vec<Row>) = on_db!(&storage.db, pool => {
        (
            sqlx::query_as(
                "SELECT model_id, variant, horizon_days, as_of_date, status, COUNT(*) FROM predictions
                 WHERE as_of_date >= $1 AND as_of_date <= $2
                 GROUP BY model_id, variant, horizon_days, as_of_date, status",
            )
            .bind(first)
            .bind(last)
            .fetch_all(pool)
            .await?,
            sqlx::query_as(
                "SELECT p.model_id, p.variant, p.horizon_days, e.target_date, e.status, COUNT(*)
                 FROM model_evaluations e JOIN predictions p ON p.id = e.prediction_id
                 WHERE e.target_date >= $1 AND e.target_date <= $2
                 GROUP BY p.model_id, p.variant, p.horizon_days, e.target_date, e.status",
            )
            .bind(first)
            .bind(last)
            .fetch_all(pool)
            .await?,
        )
    });
    for (model_id, variant, horizon, day, status, n) in made {
        if !days.contains(&day) {
            continue;
        }
        let c = out
            .entry((
                SeriesKey {
                    model_id,
                    variant,
                    horizon,
                },
                day,
            ))
            .or_default();
        c.made += n;
        if status == "rejected" {
            c.rejected += n;
        }
    }
    for (model_id, variant, horizon, day, status, n) in matured {
        if !days.contains(&day) {
            continue;
        }
        let c = out
            .entry((
                SeriesKey {
                    model_id,
                    variant,
                    horizon,
                },
                day,
            ))
            .or_default();
        c.matured += n;
        match status.as_str() {
            "scored" => c.scored += n,
            _ => c.unscorable += n,
        }
    }
    Ok(out)
}

/// One `daily_performance` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyRow {
    pub key: SeriesKey,
    pub day: NaiveDate,
    pub counts: Counts,
    pub n_called: i64,
    pub n_baseline: i64,
    pub hit_rate: Option<f64>,
    pub mean_brier: Option<f64>,
    pub brier_skill: Option<f64>,
    pub mean_log_loss: Option<f64>,
    pub ece: Option<f64>,
    pub picp: Option<f64>,
    pub nominal_coverage: Option<f64>,
    pub mean_width: Option<f64>,
    pub mean_winkler: Option<f64>,
    pub up_hit_rate: Option<f64>,
    pub up_brier: Option<f64>,
    pub persist_hit_rate: Option<f64>,
    pub persist_brier: Option<f64>,
    pub rw_picp: Option<f64>,
    pub rw_width: Option<f64>,
    pub rw_winkler: Option<f64>,
    pub ic: Option<f64>,
    pub rank_ic: Option<f64>,
    pub n_targets: i64,
    pub target_hit_rate: Option<f64>,
    pub support_breach_rate: Option<f64>,
    pub mean_final_score: Option<f64>,
}

const DAILY_COLUMNS: &str = "model_id, variant, horizon_days, date, n_made, n_rejected, n_matured, n_scored,
    n_unscorable, n_called, n_baseline, hit_rate, mean_brier, brier_skill, mean_log_loss, ece, picp,
    nominal_coverage, mean_width, mean_winkler, up_hit_rate, up_brier, persist_hit_rate, persist_brier,
    rw_picp, rw_width, rw_winkler, ic, rank_ic, n_targets, target_hit_rate, support_breach_rate,
    mean_final_score";

pub async fn upsert_daily(storage: &Storage, rows: &[DailyRow], run_id: i64) -> anyhow::Result<()> {
    let now = storage.now().await?;
    let updates = DAILY_COLUMNS
        .split(',')
        .map(str::trim)
        .skip(4)
        .chain(["computed_at", "run_id"])
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(CHUNK) {
        on_db!(&storage.db, pool => {
            let mut q = sqlx::QueryBuilder::new(format!(
                "INSERT INTO daily_performance ({DAILY_COLUMNS}, computed_at, run_id) "
            ));
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.key.model_id)
                    .push_bind(r.key.variant.clone())
                    .push_bind(r.key.horizon)
                    .push_bind(r.day)
                    .push_bind(r.counts.made)
                    .push_bind(r.counts.rejected)
                    .push_bind(r.counts.matured)
                    .push_bind(r.counts.scored)
                    .push_bind(r.counts.unscorable)
                    .push_bind(r.n_called)
                    .push_bind(r.n_baseline)
                    .push_bind(r.hit_rate)
                    .push_bind(r.mean_brier)
                    .push_bind(r.brier_skill)
                    .push_bind(r.mean_log_loss)
                    .push_bind(r.ece)
                    .push_bind(r.picp)
                    .push_bind(r.nominal_coverage)
                    .push_bind(r.mean_width)
                    .push_bind(r.mean_winkler)
                    .push_bind(r.up_hit_rate)
                    .push_bind(r.up_brier)
                    .push_bind(r.persist_hit_rate)
                    .push_bind(r.persist_brier)
                    .push_bind(r.rw_picp)
                    .push_bind(r.rw_width)
                    .push_bind(r.rw_winkler)
                    .push_bind(r.ic)
                    .push_bind(r.rank_ic)
                    .push_bind(r.n_targets)
                    .push_bind(r.target_hit_rate)
                    .push_bind(r.support_breach_rate)
                    .push_bind(r.mean_final_score)
                    .push_bind(now)
                    .push_bind(run_id);
            });
            q.push(format!(
                " ON CONFLICT (model_id, variant, horizon_days, date) DO UPDATE SET {updates}"
            ));
            q.build().execute(pool).await?;
        });
    }
    Ok(())
}

/// Every stored `daily_performance` row of these series, by series and day.
pub async fn load_daily(
    storage: &Storage,
    series: &BTreeSet<SeriesKey>,
) -> anyhow::Result<Vec<DailyRow>> {
    let mut out = Vec::new();
    for key in series {
        on_db!(&storage.db, pool => {
            // The column list is a constant of this module.
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DAILY_COLUMNS} FROM daily_performance
                 WHERE model_id = $1 AND variant = $2 AND horizon_days = $3 ORDER BY date"
            )))
            .bind(key.model_id)
            .bind(&key.variant)
            .bind(key.horizon)
            .fetch_all(pool)
            .await?;
            for r in rows {
                out.push(DailyRow {
                    key: key.clone(),
                    day: r.try_get("date")?,
                    counts: Counts {
                        made: r.try_get::<i32, _>("n_made")? as i64,
                        rejected: r.try_get::<i32, _>("n_rejected")? as i64,
                        matured: r.try_get::<i32, _>("n_matured")? as i64,
                        scored: r.try_get::<i32, _>("n_scored")? as i64,
                        unscorable: r.try_get::<i32, _>("n_unscorable")? as i64,
                    },
                    n_called: r.try_get::<i32, _>("n_called")? as i64,
                    n_baseline: r.try_get::<i32, _>("n_baseline")? as i64,
                    hit_rate: r.try_get("hit_rate")?,
                    mean_brier: r.try_get("mean_brier")?,
                    brier_skill: r.try_get("brier_skill")?,
                    mean_log_loss: r.try_get("mean_log_loss")?,
                    ece: r.try_get("ece")?,
                    picp: r.try_get("picp")?,
                    nominal_coverage: r.try_get("nominal_coverage")?,
                    mean_width: r.try_get("mean_width")?,
                    mean_winkler: r.try_get("mean_winkler")?,
                    up_hit_rate: r.try_get("up_hit_rate")?,
                    up_brier: r.try_get("up_brier")?,
                    persist_hit_rate: r.try_get("persist_hit_rate")?,
                    persist_brier: r.try_get("persist_brier")?,
                    rw_picp: r.try_get("rw_picp")?,
                    rw_width: r.try_get("rw_width")?,
                    rw_winkler: r.try_get("rw_winkler")?,
                    ic: r.try_get("ic")?,
                    rank_ic: r.try_get("rank_ic")?,
                    n_targets: r.try_get::<i32, _>("n_targets")? as i64,
                    target_hit_rate: r.try_get("target_hit_rate")?,
                    support_breach_rate: r.try_get("support_breach_rate")?,
                    mean_final_score: r.try_get("mean_final_score")?,
                });
            }
        });
    }
    Ok(out)
}

/// One `evaluation_history` value.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub key: SeriesKey,
    pub day: NaiveDate,
    pub metric: &'static str,
    pub window_days: i32,
    pub value: Option<f64>,
    pub n: i64,
}

pub async fn upsert_history(storage: &Storage, rows: &[HistoryRow]) -> anyhow::Result<()> {
    let now = storage.now().await?;
    for chunk in rows.chunks(CHUNK * 2) {
        on_db!(&storage.db, pool => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO evaluation_history (model_id, variant, horizon_days, date, metric,
                     window_days, value, n, computed_at) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.key.model_id)
                    .push_bind(r.key.variant.clone())
                    .push_bind(r.key.horizon)
                    .push_bind(r.day)
                    .push_bind(r.metric)
                    .push_bind(r.window_days)
                    .push_bind(r.value)
                    .push_bind(r.n)
                    .push_bind(now);
            });
            q.push(
                " ON CONFLICT (model_id, variant, horizon_days, metric, window_days, date)
                  DO UPDATE SET value = excluded.value, n = excluded.n, computed_at = excluded.computed_at",
            );
            q.build().execute(pool).await?;
        });
    }
    Ok(())
}

/// One stored rolling series, by day.
pub async fn history_series(
    storage: &Storage,
    key: &SeriesKey,
    metric: &str,
    window_days: i32,
    since: NaiveDate,
) -> anyhow::Result<Vec<(NaiveDate, f64)>> {
    let rows: Vec<(NaiveDate, Option<f64>)> = on_db!(&storage.db, pool => {
        sqlx::query_as(
            "SELECT date, value FROM evaluation_history
             WHERE model_id = $1 AND variant = $2 AND horizon_days = $3 AND metric = $4
               AND window_days = $5 AND date >= $6 ORDER BY date",
        )
        .bind(key.model_id)
        .bind(&key.variant)
        .bind(key.horizon)
        .bind(metric)
        .bind(window_days)
        .bind(since)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(d, v)| v.map(|v| (d, v)))
        .collect())
}

/// Model names by id.
pub async fn model_names(storage: &Storage) -> anyhow::Result<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = on_db!(&storage.db, pool => {
        sqlx::query_as("SELECT id, name FROM models").fetch_all(pool).await?
    });
    Ok(rows.into_iter().collect())
}
