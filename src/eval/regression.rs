//! Regression detection over evaluation history (issue #7).
//!
//! Pure computation over stored per-item scores: the caller loads, per
//! (model, variant, metric), the scored items with their dates and the
//! ordered list of trading days, and stores every returned `Check` so an
//! alert can be replayed and explained later.
//!
//! Default rule (shared/reference/evaluation.md): recent window = the last 20
//! trading days up to the check day; baseline = the 60 trading days before a
//! 5-day gap that precedes the recent window (the gap keeps items whose
//! horizons overlap the recent window out of the baseline). Each window needs
//! ≥ 30 items, else `InsufficientData`. A regression needs all of: one-sided
//! Mann-Whitney U with p < α / k (Bonferroni over the k metrics checked
//! together), an effect past the practical floor, and (for hit rate and
//! Brier) a recent value no better than always-up on the same window items.
//! An EWMA chart on daily Brier catches sudden breaks between checks.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum RegressionError {
    #[error("trading days are not strictly increasing at {0}")]
    UnorderedDays(NaiveDate),
    #[error("{0} is not a trading day in the given calendar")]
    NotATradingDay(NaiveDate),
    #[error("item value on {0} is not finite")]
    NotFinite(NaiveDate),
    #[error("invalid regression config: {0}")]
    Config(&'static str),
}

/// Metrics the rule knows how to judge; the direction of "worse" and the
/// practical floor depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Per-item 1.0 (hit) / 0.0 (miss).
    HitRate,
    /// Per-item Brier score (the caller's definition, same for always-up).
    Brier,
    LogLoss,
    Winkler,
}

impl Metric {
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::HitRate)
    }
}

/// One scored item: the model's per-item value and, when known, the
/// always-up baseline's value on the same item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalItem {
    pub date: NaiveDate,
    pub value: f64,
    pub always_up: Option<f64>,
}

/// Evaluation history of one (model, variant, metric).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricHistory {
    pub model: String,
    pub variant: String,
    pub metric: Metric,
    pub items: Vec<EvalItem>,
}

/// Every knob of the rule, stored with each check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegressionConfig {
    pub recent_days: usize,
    pub baseline_days: usize,
    /// Trading days strictly between the baseline's end and the recent start.
    pub gap_days: usize,
    pub min_items: usize,
    /// Family-wise significance level before Bonferroni division by k.
    pub alpha: f64,
    /// Minimum hit-rate drop (absolute, 0.03 = 3 points).
    pub hit_rate_floor: f64,
    /// Minimum Brier increase (absolute).
    pub brier_floor: f64,
    /// Minimum relative worsening for metrics without an absolute floor.
    pub relative_floor: f64,
    pub ewma_lambda: f64,
    pub ewma_l: f64,
    /// Each day enters the EWMA clipped to the reference mean ± this many
    /// reference σ (`inf`: unclipped). One market-wide day moves every
    /// stock's error at once; unclipped, a single such day pushed the EWMA
    /// over its limit (λ 0.2, L 3: one day beyond μ + 3σ is enough), which
    /// on the sample's 1-session series alerted on 4 of 10 weekly checks
    /// before the planted weakening. At 2σ it takes a run of bad days.
    pub ewma_clip: f64,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        RegressionConfig {
            recent_days: 20,
            baseline_days: 60,
            gap_days: 5,
            min_items: 30,
            alpha: 0.01,
            hit_rate_floor: 0.03,
            brier_floor: 0.01,
            relative_floor: 0.10,
            ewma_lambda: 0.2,
            ewma_l: 3.0,
            ewma_clip: 2.0,
        }
    }
}

impl RegressionConfig {
    pub fn validate(&self) -> Result<(), RegressionError> {
        if self.recent_days == 0 || self.baseline_days == 0 {
            return Err(RegressionError::Config("windows must be at least one day"));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(RegressionError::Config("alpha must be in (0, 1)"));
        }
        let floors = [self.hit_rate_floor, self.brier_floor, self.relative_floor];
        if floors.iter().any(|f| !f.is_finite() || *f < 0.0) {
            return Err(RegressionError::Config("floors must be finite and >= 0"));
        }
        if !(self.ewma_lambda > 0.0 && self.ewma_lambda <= 1.0) {
            return Err(RegressionError::Config("ewma_lambda must be in (0, 1]"));
        }
        if !(self.ewma_l.is_finite() && self.ewma_l > 0.0) {
            return Err(RegressionError::Config("ewma_l must be positive"));
        }
        if self.ewma_clip.is_nan() || self.ewma_clip <= 0.0 {
            return Err(RegressionError::Config(
                "ewma_clip must be positive (inf: no clipping)",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Regression,
    InsufficientData,
}

impl Verdict {
    /// As stored in `regression_checks.verdict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Regression => "regression",
            Verdict::InsufficientData => "insufficient data",
        }
    }
}

/// Inclusive date range of a window, in trading days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub days: usize,
}

/// One stored, replayable check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub model: String,
    pub variant: String,
    pub metric: Metric,
    pub as_of: NaiveDate,
    /// `None` when the calendar is too short to hold the full windows.
    pub baseline: Option<Window>,
    pub recent: Option<Window>,
    pub n_baseline: usize,
    pub n_recent: usize,
    pub baseline_mean: Option<f64>,
    pub recent_mean: Option<f64>,
    /// `recent_mean − baseline_mean` in metric units (sign as-is).
    pub effect: Option<f64>,
    /// One-sided Mann-Whitney p-value for "recent is worse".
    pub p_value: Option<f64>,
    /// Number of metrics checked together (Bonferroni k).
    pub k: usize,
    pub alpha_bonferroni: f64,
    /// Always-up's mean on the recent window's items, when known.
    pub always_up_recent: Option<f64>,
    pub verdict: Verdict,
    pub reason: String,
    pub config: RegressionConfig,
}

/// Result of a one-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of the first sample.
    pub u: f64,
    pub z: f64,
    pub p_value: f64,
}

/// One-sided Mann-Whitney U for H1 "x is stochastically greater than y",
/// normal approximation with tie-corrected variance and a 0.5 continuity
/// correction (scipy's `mannwhitneyu(x, y, alternative="greater",
/// method="asymptotic")`). `None` when a sample is empty. When every value is
/// tied the variance is 0 and there is no evidence either way: p = 1.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let n = nx + ny;
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_x += avg * all[i..=j].iter().filter(|e| e.1).count() as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let u = rank_sum_x - nx * (nx + 1.0) / 2.0;
    let mu = nx * ny / 2.0;
    let var = nx * ny / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Some(MannWhitney {
            u,
            z: 0.0,
            p_value: 1.0,
        });
    }
    let z = (u - mu - 0.5) / var.sqrt();
    let p_value = (1.0 - super::metrics::normal_cdf(z)).clamp(0.0, 1.0);
    Some(MannWhitney { u, z, p_value })
}

fn validate_days(days: &[NaiveDate]) -> Result<(), RegressionError> {
    for w in days.windows(2) {
        if w[1] <= w[0] {
            return Err(RegressionError::UnorderedDays(w[1]));
        }
    }
    Ok(())
}

/// The (baseline, recent) windows for a check on `as_of`, or `None` when the
/// calendar does not reach back far enough for both full windows: a
/// truncated baseline would silently change what the check compares.
pub fn windows(
    trading_days: &[NaiveDate],
    as_of: NaiveDate,
    cfg: &RegressionConfig,
) -> Result<Option<(Window, Window)>, RegressionError> {
    cfg.validate()?;
    validate_days(trading_days)?;
    let i = trading_days
        .binary_search(&as_of)
        .map_err(|_| RegressionError::NotATradingDay(as_of))?;
    let needed = cfg.baseline_days + cfg.gap_days + cfg.recent_days;
    if i + 1 < needed {
        return Ok(None);
    }
    let recent_start = i + 1 - cfg.recent_days;
    let base_end = recent_start - cfg.gap_days - 1;
    let base_start = base_end + 1 - cfg.baseline_days;
    Ok(Some((
        Window {
            start: trading_days[base_start],
            end: trading_days[base_end],
            days: cfg.baseline_days,
        },
        Window {
            start: trading_days[recent_start],
            end: trading_days[i],
            days: cfg.recent_days,
        },
    )))
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn in_window(items: &[EvalItem], w: &Window) -> Vec<EvalItem> {
    items
        .iter()
        .filter(|it| it.date >= w.start && it.date <= w.end)
        .copied()
        .collect()
}

/// Runs the default rule for one history on `as_of`; `k` is the number of
/// metrics checked together for the Bonferroni correction (at least 1).
pub fn check_metric(
    history: &MetricHistory,
    trading_days: &[NaiveDate],
    as_of: NaiveDate,
    k: usize,
    cfg: &RegressionConfig,
) -> Result<Check, RegressionError> {
    cfg.validate()?;
    if let Some(bad) = history
        .items
        .iter()
        .find(|it| !it.value.is_finite() || it.always_up.is_some_and(|a| !a.is_finite()))
    {
        return Err(RegressionError::NotFinite(bad.date));
    }
    let k = k.max(1);
    let metric = history.metric;
    let mut check = Check {
        model: history.model.clone(),
        variant: history.variant.clone(),
        metric,
        as_of,
        baseline: None,
        recent: None,
        n_baseline: 0,
        n_recent: 0,
        baseline_mean: None,
        recent_mean: None,
        effect: None,
        p_value: None,
        k,
        alpha_bonferroni: cfg.alpha / k as f64,
        always_up_recent: None,
        verdict: Verdict::InsufficientData,
        reason: String::new(),
        config: *cfg,
    };
    let Some((bw, rw)) = windows(trading_days, as_of, cfg)? else {
        check.reason = format!(
            "calendar holds fewer than {} trading days up to {as_of}",
            cfg.baseline_days + cfg.gap_days + cfg.recent_days
        );
        return Ok(check);
    };
    check.baseline = Some(bw);
    check.recent = Some(rw);
    let base = in_window(&history.items, &bw);
    let recent = in_window(&history.items, &rw);
    let bv: Vec<f64> = base.iter().map(|it| it.value).collect();
    let rv: Vec<f64> = recent.iter().map(|it| it.value).collect();
    check.n_baseline = bv.len();
    check.n_recent = rv.len();
    check.baseline_mean = mean(&bv);
    check.recent_mean = mean(&rv);
    let au: Vec<f64> = recent.iter().filter_map(|it| it.always_up).collect();
    check.always_up_recent = mean(&au);
    if bv.len() < cfg.min_items || rv.len() < cfg.min_items {
        check.reason = format!(
            "need >= {} items per window, have baseline {} and recent {}",
            cfg.min_items,
            bv.len(),
            rv.len()
        );
        return Ok(check);
    }
    let (Some(bm), Some(rm)) = (check.baseline_mean, check.recent_mean) else {
        check.reason = "empty window".to_string();
        return Ok(check);
    };
    let effect = rm - bm;
    check.effect = Some(effect);
    // `worse` > 0 means the recent window is worse, whatever the direction.
    let worse = if metric.higher_is_better() {
        -effect
    } else {
        effect
    };
    // Test on values oriented so "greater" means worse.
    let orient = |v: &[f64]| -> Vec<f64> {
        if metric.higher_is_better() {
            v.iter().map(|x| -x).collect()
        } else {
            v.to_vec()
        }
    };
    let mw = mann_whitney_greater(&orient(&rv), &orient(&bv));
    let p = mw.map_or(1.0, |m| m.p_value);
    check.p_value = Some(p);
    let significant = p < check.alpha_bonferroni;

    let (floor_ok, floor_txt) = match metric {
        Metric::HitRate => (
            worse >= cfg.hit_rate_floor,
            format!("drop {worse:.4} vs floor {}", cfg.hit_rate_floor),
        ),
        Metric::Brier => (
            worse >= cfg.brier_floor,
            format!("rise {worse:.4} vs floor {}", cfg.brier_floor),
        ),
        Metric::LogLoss | Metric::Winkler => {
            // Relative to the baseline's size; a zero baseline makes any
            // worsening infinitely large relative to it.
            let rel = if bm.abs() > 0.0 {
                worse / bm.abs()
            } else if worse > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            (
                rel >= cfg.relative_floor,
                format!("relative {rel:.4} vs floor {}", cfg.relative_floor),
            )
        }
    };

    let (gate_ok, gate_txt) = match (metric, check.always_up_recent) {
        (Metric::HitRate, Some(a)) => (rm <= a, format!("recent {rm:.4} vs always-up {a:.4}")),
        (Metric::Brier, Some(a)) => (rm >= a, format!("recent {rm:.4} vs always-up {a:.4}")),
        // Without always-up scores the gate cannot be evaluated; skipping it
        // (rather than blocking) keeps a real, significant drop visible.
        (Metric::HitRate | Metric::Brier, None) => {
            (true, "always-up unknown, gate skipped".to_string())
        }
        _ => (true, "always-up gate not applicable".to_string()),
    };

    check.verdict = if significant && floor_ok && gate_ok {
        Verdict::Regression
    } else {
        Verdict::Ok
    };
    check.reason = format!(
        "p {p:.3e} {} alpha/k {:.3e}; {floor_txt} ({}); {gate_txt} ({})",
        if significant { "<" } else { ">=" },
        check.alpha_bonferroni,
        if floor_ok { "clears" } else { "below" },
        if gate_ok {
            "no better than naive"
        } else {
            "beats naive"
        },
    );
    Ok(check)
}

/// Checks several metrics together with Bonferroni k = `histories.len()`.
pub fn check_all(
    histories: &[MetricHistory],
    trading_days: &[NaiveDate],
    as_of: NaiveDate,
    cfg: &RegressionConfig,
) -> Result<Vec<Check>, RegressionError> {
    histories
        .iter()
        .map(|h| check_metric(h, trading_days, as_of, histories.len(), cfg))
        .collect()
}

/// One point of an EWMA chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EwmaPoint {
    pub date: NaiveDate,
    pub value: f64,
    pub ewma: f64,
    pub lcl: f64,
    pub ucl: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EwmaChart {
    pub mu0: f64,
    pub sigma: f64,
    pub lambda: f64,
    pub l: f64,
    pub points: Vec<EwmaPoint>,
    /// First date the EWMA crossed the limit on the worse side.
    pub first_breach: Option<NaiveDate>,
}

/// EWMA chart `z_t = λx_t + (1 − λ)z_{t−1}`, `z_0 = μ₀`, with time-varying
/// limits `μ₀ ± Lσ√(λ/(2−λ)·[1 − (1−λ)^(2t)])`. Only breaches on the worse
/// side count (`higher_is_worse` for Brier): an improving model is no alarm.
pub fn ewma_chart(
    daily: &[(NaiveDate, f64)],
    mu0: f64,
    sigma: f64,
    higher_is_worse: bool,
    cfg: &RegressionConfig,
) -> Result<EwmaChart, RegressionError> {
    cfg.validate()?;
    if !mu0.is_finite() || !sigma.is_finite() || sigma < 0.0 {
        return Err(RegressionError::Config(
            "mu0/sigma must be finite, sigma >= 0",
        ));
    }
    let lam = cfg.ewma_lambda;
    let mut z = mu0;
    let mut points = Vec::with_capacity(daily.len());
    let mut first_breach = None;
    for (t, &(date, x)) in daily.iter().enumerate() {
        if !x.is_finite() {
            return Err(RegressionError::NotFinite(date));
        }
        let clip = cfg.ewma_clip * sigma;
        z = lam * x.clamp(mu0 - clip, mu0 + clip) + (1.0 - lam) * z;
        let t = (t + 1) as i32;
        let half =
            cfg.ewma_l * sigma * (lam / (2.0 - lam) * (1.0 - (1.0 - lam).powi(2 * t))).sqrt();
        let (lcl, ucl) = (mu0 - half, mu0 + half);
        let breach = if higher_is_worse { z > ucl } else { z < lcl };
        if breach && first_breach.is_none() {
            first_breach = Some(date);
        }
        points.push(EwmaPoint {
            date,
            value: x,
            ewma: z,
            lcl,
            ucl,
        });
    }
    Ok(EwmaChart {
        mu0,
        sigma,
        lambda: lam,
        l: cfg.ewma_l,
        points,
        first_breach,
    })
}

/// Estimates μ₀ and σ (sample sd) from the first `reference_days` points and
/// charts the rest. `None` when the reference has fewer than 2 points or no
/// spread: limits of zero width would flag every wiggle.
pub fn ewma_from_reference(
    daily: &[(NaiveDate, f64)],
    reference_days: usize,
    higher_is_worse: bool,
    cfg: &RegressionConfig,
) -> Result<Option<EwmaChart>, RegressionError> {
    if reference_days < 2 || daily.len() < reference_days {
        return Ok(None);
    }
    let (reference, monitored) = daily.split_at(reference_days);
    if let Some((d, _)) = reference.iter().find(|(_, v)| !v.is_finite()) {
        return Err(RegressionError::NotFinite(*d));
    }
    let n = reference.len() as f64;
    let mu0 = reference.iter().map(|p| p.1).sum::<f64>() / n;
    let var = reference.iter().map(|p| (p.1 - mu0).powi(2)).sum::<f64>() / (n - 1.0);
    let sigma = var.sqrt();
    // Rounding leaves a constant series with σ ≈ 1e-16, not 0; treat any σ
    // at rounding level as no spread; an overflowed σ gives no usable limits.
    if !sigma.is_finite() || sigma <= 1e-12 * mu0.abs().max(1.0) {
        return Ok(None);
    }
    ewma_chart(monitored, mu0, sigma, higher_is_worse, cfg).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Weekday};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn weekdays(from: NaiveDate, n: usize) -> Vec<NaiveDate> {
        from.iter_days()
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .take(n)
            .collect()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn mann_whitney_no_ties_by_hand() {
        // x = (3,4,5) all above y = (1,2): ranks of x 3+4+5 = 12, U = 12 - 6 = 6.
        // mu = 3, var = 3*2/12*(6) = 3, z = (6 - 3 - 0.5)/sqrt 3 = 1.4433756729740645,
        // p = 1 - Phi(z) = 0.0744573365893828 (math.erfc; scipy asymptotic agrees).
        let m = mann_whitney_greater(&[3.0, 4.0, 5.0], &[1.0, 2.0]).expect("non-empty");
        assert_eq!(m.u, 6.0);
        assert!((m.z - 1.443_375_672_974_064_5).abs() < 1e-12);
        assert!((m.p_value - 0.074_457_336_589_382_8).abs() < 1e-7);
    }

    #[test]
    fn mann_whitney_with_ties_by_hand() {
        // x = (1,2,2,3), y = (0,1,2). Pooled sorted 0,1,1,2,2,2,3 -> ranks
        // 0:1, 1:2.5, 2:5, 3:7. R_x = 2.5+5+5+7 = 19.5, U = 19.5 - 10 = 9.5.
        // Ties: t=2 -> 6, t=3 -> 24, sum 30. var = 12/12*(8 - 30/42) = 7.2857142857.
        // z = (9.5 - 6 - 0.5)/sqrt(7.2857142857) = 1.1114378604524227,
        // p = 0.1331899616712413.
        let m = mann_whitney_greater(&[1.0, 2.0, 2.0, 3.0], &[0.0, 1.0, 2.0]).expect("non-empty");
        assert_eq!(m.u, 9.5);
        assert!((m.z - 1.111_437_860_452_422_7).abs() < 1e-12);
        assert!((m.p_value - 0.133_189_961_671_241_3).abs() < 1e-7);
        // All tied -> no evidence.
        let m = mann_whitney_greater(&[1.0, 1.0], &[1.0, 1.0]).expect("non-empty");
        assert_eq!(m.p_value, 1.0);
        assert!(mann_whitney_greater(&[], &[1.0]).is_none());
    }

    #[test]
    fn windows_follow_the_default_rule() {
        let days = weekdays(d(2026, 1, 5), 100);
        let cfg = RegressionConfig::default();
        // Needs 85 days; index 84 is the first day with full windows.
        assert_eq!(windows(&days, days[83], &cfg).expect("ok"), None);
        let (b, r) = windows(&days, days[84], &cfg).expect("ok").expect("full");
        assert_eq!((b.start, b.end), (days[0], days[59]));
        assert_eq!((r.start, r.end), (days[65], days[84]));
        assert_eq!(
            windows(&days, d(2026, 1, 10), &cfg),
            Err(RegressionError::NotATradingDay(d(2026, 1, 10)))
        );
        let unordered = [d(2026, 1, 6), d(2026, 1, 5)];
        assert!(windows(&unordered, d(2026, 1, 5), &cfg).is_err());
    }

    /// Synthetic hit history: 40 items a day, model hit rate `before` until
    /// day index `drop_at`, `after` from then on; always-up hits at 0.53.
    fn hit_history(days: &[NaiveDate], drop_at: usize, before: f64, after: f64) -> MetricHistory {
        // Seed 0: the first of the surveyed seeds (see
        // `operating_characteristics_over_seeds`); an earlier seed
        // (20_260_107) detected the drop 6 days after the recent window.
        hit_history_seeded(days, drop_at, before, after, 0.53, 0)
    }

    fn hit_history_seeded(
        days: &[NaiveDate],
        drop_at: usize,
        before: f64,
        after: f64,
        always_up_rate: f64,
        seed: u64,
    ) -> MetricHistory {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut items = Vec::new();
        for (i, day) in days.iter().enumerate() {
            let p = if i >= drop_at { after } else { before };
            for _ in 0..40 {
                let hit = rng.random::<f64>() < p;
                let au = rng.random::<f64>() < always_up_rate;
                items.push(EvalItem {
                    date: *day,
                    value: if hit { 1.0 } else { 0.0 },
                    always_up: Some(if au { 1.0 } else { 0.0 }),
                });
            }
        }
        MetricHistory {
            model: "m".into(),
            variant: "a".into(),
            metric: Metric::HitRate,
            items,
        }
    }

    #[test]
    fn hit_rate_drop_is_flagged_within_recent_window_and_not_before() {
        let days = weekdays(d(2026, 1, 5), 160);
        let n = 110;
        let h = hit_history(&days, n, 0.58, 0.50);
        let cfg = RegressionConfig::default();
        let mut first = None;
        for (i, day) in days.iter().enumerate() {
            let c = check_metric(&h, &days, *day, 1, &cfg).expect("valid");
            if i < 84 {
                assert_eq!(c.verdict, Verdict::InsufficientData);
            } else {
                assert_ne!(c.verdict, Verdict::InsufficientData, "day {i}");
            }
            if c.verdict == Verdict::Regression {
                assert!(i >= n, "flagged on day {i} before the drop: {}", c.reason);
                first.get_or_insert(i);
            }
        }
        let first = first.expect("drop never flagged");
        assert!(
            first < n + cfg.recent_days,
            "first flag {first} not within the recent window after {n}"
        );
    }

    /// First flagged day index, if any, checking every day with full windows.
    fn first_flag(h: &MetricHistory, days: &[NaiveDate], cfg: &RegressionConfig) -> Option<usize> {
        days.iter().enumerate().skip(84).find_map(|(i, day)| {
            let c = check_metric(h, days, *day, 1, cfg).expect("valid");
            (c.verdict == Verdict::Regression).then_some(i)
        })
    }

    /// The single-seed acceptance tests above hold for most seeds, not all:
    /// the always-up gate compares two noisy 800-item means, and daily
    /// re-checks repeat the test. This pins the rule's operating
    /// characteristics over 100 seeds (measured: 87 detected within the
    /// recent window, 3 flagged before the drop, 10 late, 9 of 100 stable
    /// histories flagged on some day) with some slack.
    #[test]
    fn operating_characteristics_over_seeds() {
        let days = weekdays(d(2026, 1, 5), 160);
        let n = 110;
        let cfg = RegressionConfig::default();
        let (mut early, mut within, mut stable_flagged) = (0, 0, 0);
        for seed in 0..100u64 {
            let h = hit_history_seeded(&days, n, 0.58, 0.50, 0.53, seed);
            match first_flag(&h, &days, &cfg) {
                Some(i) if i < n => early += 1,
                Some(i) if i < n + cfg.recent_days => within += 1,
                _ => {}
            }
            let h = hit_history_seeded(&days, usize::MAX, 0.58, 0.58, 0.53, seed + 1000);
            if first_flag(&h, &days, &cfg).is_some() {
                stable_flagged += 1;
            }
        }
        assert!(within >= 80, "detected within window: {within}/100");
        assert!(early <= 6, "flagged before the drop: {early}/100");
        assert!(
            stable_flagged <= 15,
            "stable histories flagged: {stable_flagged}/100"
        );
    }

    #[test]
    fn stable_history_is_never_flagged() {
        let days = weekdays(d(2026, 1, 5), 160);
        let h = hit_history(&days, usize::MAX, 0.58, 0.58);
        let cfg = RegressionConfig::default();
        for day in &days {
            let c = check_metric(&h, &days, *day, 1, &cfg).expect("valid");
            assert_ne!(c.verdict, Verdict::Regression, "{day}: {}", c.reason);
        }
    }

    #[test]
    fn short_or_sparse_history_is_insufficient() {
        let cfg = RegressionConfig::default();
        // Calendar too short for the windows.
        let days = weekdays(d(2026, 1, 5), 30);
        let h = hit_history(&days, usize::MAX, 0.58, 0.58);
        let last = *days.last().expect("days");
        let c = check_metric(&h, &days, last, 1, &cfg).expect("valid");
        assert_eq!(c.verdict, Verdict::InsufficientData);
        assert!(c.baseline.is_none());
        // Full calendar but one item a day: 20 recent items < 30.
        let days = weekdays(d(2026, 1, 5), 100);
        let items = days
            .iter()
            .map(|day| EvalItem {
                date: *day,
                value: 0.0,
                always_up: None,
            })
            .collect();
        let h = MetricHistory {
            model: "m".into(),
            variant: "a".into(),
            metric: Metric::HitRate,
            items,
        };
        let c = check_metric(&h, &days, days[99], 1, &cfg).expect("valid");
        assert_eq!(c.verdict, Verdict::InsufficientData);
        assert_eq!((c.n_baseline, c.n_recent), (60, 20));
    }

    #[test]
    fn gate_floor_and_bonferroni_are_each_required() {
        // Brier: baseline 30 items at 0.20, recent 30 at 0.30 (clear rise).
        let days = weekdays(d(2026, 1, 5), 85);
        let mut items = Vec::new();
        for (i, day) in days.iter().enumerate() {
            let v = if i >= 65 { 0.30 } else { 0.20 };
            let au = if i >= 65 { 0.28 } else { 0.25 };
            for _ in 0..2 {
                items.push(EvalItem {
                    date: *day,
                    value: v,
                    always_up: Some(au),
                });
            }
        }
        let mut h = MetricHistory {
            model: "m".into(),
            variant: "a".into(),
            metric: Metric::Brier,
            items,
        };
        let cfg = RegressionConfig::default();
        let c = check_metric(&h, &days, days[84], 1, &cfg).expect("valid");
        assert_eq!(c.verdict, Verdict::Regression, "{}", c.reason);
        assert!((c.effect.expect("effect") - 0.10).abs() < 1e-12);
        assert!((c.always_up_recent.expect("au") - 0.28).abs() < 1e-12);
        // Floor above the effect -> Ok.
        let high_floor = RegressionConfig {
            brier_floor: 0.2,
            ..cfg
        };
        let c = check_metric(&h, &days, days[84], 1, &high_floor).expect("valid");
        assert_eq!(c.verdict, Verdict::Ok);
        // Still better than always-up on the recent items -> Ok.
        for it in h.items.iter_mut() {
            it.always_up = Some(0.35);
        }
        let c = check_metric(&h, &days, days[84], 1, &cfg).expect("valid");
        assert_eq!(c.verdict, Verdict::Ok, "{}", c.reason);
        // Bonferroni: alpha/k recorded.
        let c = check_metric(&h, &days, days[84], 4, &cfg).expect("valid");
        assert!((c.alpha_bonferroni - 0.0025).abs() < 1e-15);
        // Non-finite input is an error, not a NaN verdict.
        h.items[0].value = f64::NAN;
        assert!(check_metric(&h, &days, days[84], 1, &cfg).is_err());
    }

    #[test]
    fn check_all_uses_k_and_serialises() {
        let days = weekdays(d(2026, 1, 5), 100);
        let h = hit_history(&days, usize::MAX, 0.58, 0.58);
        let mut ll = h.clone();
        ll.metric = Metric::LogLoss;
        let checks =
            check_all(&[h, ll], &days, days[99], &RegressionConfig::default()).expect("valid");
        assert_eq!(checks.len(), 2);
        assert!(checks
            .iter()
            .all(|c| c.k == 2 && c.alpha_bonferroni == 0.005));
        let json = serde_json::to_string(&checks[0]).expect("serialise");
        let back: Check = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, checks[0]);
        // Config defaults fill missing fields.
        let cfg: RegressionConfig = serde_json::from_str(r#"{"recent_days": 10}"#).expect("cfg");
        assert_eq!(cfg.recent_days, 10);
        assert_eq!(cfg.baseline_days, 60);
    }

    #[test]
    fn ewma_by_hand() {
        let cfg = RegressionConfig {
            ewma_clip: f64::INFINITY,
            ..RegressionConfig::default()
        };
        let days = weekdays(d(2026, 3, 2), 3);
        // mu0 0.2, sigma 0.05, lambda 0.2, L 3.
        // t=1: half = 0.15*sqrt(0.2/1.8*(1-0.64)) = 0.15*sqrt(0.04) = 0.03, UCL 0.23.
        // x1 = 0.4 -> z1 = 0.08 + 0.16 = 0.24 > 0.23 -> breach on day 1.
        let c = ewma_chart(&[(days[0], 0.4)], 0.2, 0.05, true, &cfg).expect("valid");
        assert!((c.points[0].ucl - 0.23).abs() < 1e-12);
        assert!((c.points[0].ewma - 0.24).abs() < 1e-12);
        assert_eq!(c.first_breach, Some(days[0]));
        // x = 0.3 each day: z = 0.22, 0.236, 0.2488.
        // t=2: half = 0.15*sqrt(0.2/1.8*(1-0.4096)) = 0.0384187; UCL 0.2384187 -> no.
        // t=3: half = 0.15*sqrt(0.2/1.8*(1-0.262144)) = 0.0429492; UCL 0.2429492 -> breach.
        let series: Vec<_> = days.iter().map(|d| (*d, 0.3)).collect();
        let c = ewma_chart(&series, 0.2, 0.05, true, &cfg).expect("valid");
        assert!((c.points[1].ewma - 0.236).abs() < 1e-12);
        assert!((c.points[1].ucl - (0.2 + 0.15 * (0.2 / 1.8 * 0.5904f64).sqrt())).abs() < 1e-12);
        assert!((c.points[2].ewma - 0.2488).abs() < 1e-12);
        assert_eq!(c.first_breach, Some(days[2]));
        // Improvement (lower Brier) is not a breach.
        let low: Vec<_> = days.iter().map(|d| (*d, 0.0)).collect();
        let c = ewma_chart(&low, 0.2, 0.05, true, &cfg).expect("valid");
        assert_eq!(c.first_breach, None);
    }

    #[test]
    fn a_clipped_ewma_takes_a_run_of_bad_days_not_one() {
        let cfg = RegressionConfig::default();
        assert_eq!(cfg.ewma_clip, 2.0);
        let days = weekdays(d(2026, 3, 2), 4);
        // mu0 0.2, sigma 0.05: 0.4 enters as 0.3 (mu0 + 2 sigma).
        // z1 = 0.2*0.3 + 0.8*0.2 = 0.22 < UCL 0.23: one bad day is no breach
        // (unclipped, z1 = 0.24 breached: see ewma_by_hand).
        let one = [(days[0], 0.4), (days[1], 0.2), (days[2], 0.2)];
        let c = ewma_chart(&one, 0.2, 0.05, true, &cfg).expect("valid");
        assert!((c.points[0].ewma - 0.22).abs() < 1e-12);
        assert_eq!(c.points[0].value, 0.4, "the chart shows the day as it was");
        assert_eq!(c.first_breach, None);
        // Bad days in a row: 0.22, 0.236, 0.2488 (> UCL 0.2429 on day 3).
        let run: Vec<_> = days.iter().map(|d| (*d, 0.4)).collect();
        let c = ewma_chart(&run, 0.2, 0.05, true, &cfg).expect("valid");
        assert!((c.points[2].ewma - 0.2488).abs() < 1e-12);
        assert_eq!(c.first_breach, Some(days[2]));
        // Clipping needs a positive width.
        let bad = RegressionConfig {
            ewma_clip: 0.0,
            ..RegressionConfig::default()
        };
        assert!(ewma_chart(&run, 0.2, 0.05, true, &bad).is_err());
    }

    /// In control, with heavy tails (one day in 20 is a market-wide day
    /// four times as noisy), the clipped chart raises fewer false alarms
    /// than the unclipped one over the same series.
    #[test]
    fn clipping_cuts_false_alarms_on_heavy_tailed_days() {
        let mut rng = StdRng::seed_from_u64(5);
        let days = weekdays(d(2025, 1, 6), 85);
        let (mut clipped, mut raw) = (0, 0);
        for _ in 0..400 {
            let series: Vec<(NaiveDate, f64)> = days
                .iter()
                .map(|day| {
                    let scale = if rng.random::<f64>() < 0.05 {
                        0.2
                    } else {
                        0.05
                    };
                    (*day, 0.6 + (rng.random::<f64>() - 0.5) * 2.0 * scale)
                })
                .collect();
            let alarm = |clip: f64| {
                let cfg = RegressionConfig {
                    ewma_clip: clip,
                    ..RegressionConfig::default()
                };
                ewma_from_reference(&series, 60, true, &cfg)
                    .expect("valid")
                    .and_then(|c| c.first_breach)
                    .is_some()
            };
            clipped += usize::from(alarm(2.0));
            raw += usize::from(alarm(f64::INFINITY));
        }
        println!("false alarms in 400 in-control series: clipped {clipped}, unclipped {raw}");
        assert!(
            clipped * 2 < raw,
            "false alarms in 400 in-control series: clipped {clipped}, unclipped {raw}"
        );
    }

    #[test]
    fn ewma_from_reference_catches_a_break() {
        let cfg = RegressionConfig::default();
        let days = weekdays(d(2026, 1, 5), 80);
        let mut rng = StdRng::seed_from_u64(11);
        let series: Vec<(NaiveDate, f64)> = days
            .iter()
            .enumerate()
            .map(|(i, day)| {
                let base = if i >= 70 { 0.30 } else { 0.22 };
                (*day, base + (rng.random::<f64>() - 0.5) * 0.04)
            })
            .collect();
        let c = ewma_from_reference(&series, 60, true, &cfg)
            .expect("valid")
            .expect("chart");
        let breach = c.first_breach.expect("break detected");
        assert!(breach >= days[70], "breach {breach} before the break");
        assert!(breach <= days[72], "breach {breach} too late");
        // Flat reference -> no chart rather than zero-width limits.
        let flat: Vec<_> = days.iter().map(|d| (*d, 0.2)).collect();
        assert_eq!(
            ewma_from_reference(&flat, 60, true, &cfg).expect("valid"),
            None
        );
    }
}
