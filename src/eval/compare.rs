//! Comparing two A/B variants: a Diebold–Mariano style test on daily loss
//! differences, with the effect and its interval.
//!
//! Variants are assigned per (experiment, stock, as-of date), so no single
//! item is predicted by both; what they share is the day (the same market,
//! the same news). The comparison therefore pairs the variants' daily means
//! on the days both have items: `d_t = mean_B(t) − mean_A(t)`. The variance
//! of the mean of `d` is Newey–West with Bartlett weights over `lag` days
//! (h − 1 for h-day horizons: overlapping horizons make consecutive days'
//! differences correlated), so the interval does not pretend days are
//! independent when they are not.

use super::metrics::normal_cdf;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// `z` of a two-sided 95% interval.
const Z_95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// Days both variants have items.
    pub n_days: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// `mean_b − mean_a` over the paired days, in metric units.
    pub effect: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// `effect / se`; `None` when the differences have no spread.
    pub dm_stat: Option<f64>,
    /// Two-sided, from the normal approximation.
    pub p_value: Option<f64>,
}

/// Pairs two daily series by date and compares them; `None` with fewer
/// than 2 common days (there is nothing to estimate a spread from).
pub fn paired_by_day(a: &[(NaiveDate, f64)], b: &[(NaiveDate, f64)], lag: usize) -> Option<Paired> {
    let a: BTreeMap<NaiveDate, f64> = a.iter().filter(|(_, v)| v.is_finite()).copied().collect();
    let pairs: Vec<(f64, f64)> = b
        .iter()
        .filter(|(_, v)| v.is_finite())
        .filter_map(|(d, vb)| a.get(d).map(|va| (*va, *vb)))
        .collect();
    let t = pairs.len();
    if t < 2 {
        return None;
    }
    let n = t as f64;
    let d: Vec<f64> = pairs.iter().map(|(x, y)| y - x).collect();
    let mean_d = d.iter().sum::<f64>() / n;
    let gamma = |l: usize| -> f64 {
        (l..t)
            .map(|i| (d[i] - mean_d) * (d[i - l] - mean_d))
            .sum::<f64>()
            / n
    };
    let lag = lag.min(t - 1);
    let mut long_run = gamma(0);
    for l in 1..=lag {
        long_run += 2.0 * (1.0 - l as f64 / (lag as f64 + 1.0)) * gamma(l);
    }
    // Bartlett weights keep the estimate non-negative; guard rounding.
    let se = (long_run.max(0.0) / n).sqrt();
    let (dm_stat, p_value) = if se > 0.0 {
        let z = mean_d / se;
        (
            Some(z),
            Some((2.0 * (1.0 - normal_cdf(z.abs()))).clamp(0.0, 1.0)),
        )
    } else {
        (None, None)
    };
    Some(Paired {
        n_days: t,
        mean_a: pairs.iter().map(|p| p.0).sum::<f64>() / n,
        mean_b: pairs.iter().map(|p| p.1).sum::<f64>() / n,
        effect: mean_d,
        ci_low: mean_d - Z_95 * se,
        ci_high: mean_d + Z_95 * se,
        dm_stat,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + chrono::Duration::days(i)
    }

    #[test]
    fn by_hand_without_lag() {
        // d = 1, 3 over two common days (day 2 only in b): mean 2,
        // γ0 = ((−1)² + 1²)/2 = 1, se = √(1/2), DM = 2/0.7071 = 2.828.
        let a = [(day(0), 1.0), (day(1), 1.0)];
        let b = [(day(0), 2.0), (day(1), 4.0), (day(2), 9.0)];
        let p = paired_by_day(&a, &b, 0).expect("two days");
        assert_eq!(p.n_days, 2);
        assert!((p.effect - 2.0).abs() < 1e-12);
        assert!((p.mean_b - 3.0).abs() < 1e-12);
        let se = 0.5f64.sqrt();
        assert!((p.dm_stat.expect("spread") - 2.0 / se).abs() < 1e-9);
        assert!((p.ci_low - (2.0 - Z_95 * se)).abs() < 1e-9);
        // p = 2(1 − Φ(2.828)) ≈ 0.00468.
        assert!((p.p_value.expect("p") - 0.004_677_734_981).abs() < 1e-6);
    }

    #[test]
    fn lag_widens_the_interval_for_persistent_differences() {
        // A slowly wandering difference: positively autocorrelated.
        let a: Vec<_> = (0..60).map(|i| (day(i), 0.0)).collect();
        let b: Vec<_> = (0..60)
            .map(|i| (day(i), ((i as f64) / 10.0).sin() * 0.1 + 0.01))
            .collect();
        let iid = paired_by_day(&a, &b, 0).expect("days");
        let nw = paired_by_day(&a, &b, 4).expect("days");
        assert!(nw.ci_high - nw.ci_low > iid.ci_high - iid.ci_low);
        assert_eq!(iid.effect, nw.effect);
    }

    #[test]
    fn too_few_or_identical_days() {
        assert!(paired_by_day(&[(day(0), 1.0)], &[(day(0), 2.0)], 0).is_none());
        let a = [(day(0), 1.0), (day(1), 2.0)];
        let p = paired_by_day(&a, &a, 0).expect("two days");
        assert_eq!(p.effect, 0.0);
        assert_eq!(p.dm_stat, None);
    }
}
