//! The naive forecasts every prediction is compared with, built from one
//! stock's daily closes up to the prediction's as-of session (never after:
//! a baseline that peeks would flatter nobody but itself).
//!
//! - always-up: calls up with the stock's trailing base rate of h-session
//!   classes (the best constant forecast it could have known);
//! - persistence: calls the class of the last h-session return, with
//!   probabilities from the trailing non-overlapping transition counts;
//! - random walk: the band ±z·σ·√h with σ the trailing daily return standard
//!   deviation; both baselines above carry it, so all three share one band.

use super::metrics::{self, Baseline, Direction};

/// Daily returns (and h-session returns) looked back over.
pub const LOOKBACK_SESSIONS: usize = 60;
/// Fewer trailing returns than this and the baselines are not built: a base
/// rate from a handful of days is noise, and reporting it would mislead.
pub const MIN_HISTORY: usize = 20;

/// The baselines for a prediction as of `closes[idx]` (`closes` is one
/// stock's daily closes in session order) with horizon `h` sessions and
/// nominal band coverage `coverage`; `None` with too little history.
pub fn naive_baselines(
    closes: &[f64],
    idx: usize,
    h: usize,
    coverage: f64,
    flat_band_pct: f64,
) -> Option<(Baseline, Baseline)> {
    if h == 0 || idx >= closes.len() || !closes[..=idx].iter().all(|c| c.is_finite() && *c > 0.0) {
        return None;
    }
    let pct = |from: usize, to: usize| (closes[to] / closes[from] - 1.0) * 100.0;
    // σ of the daily returns ending at idx.
    let first = idx.saturating_sub(LOOKBACK_SESSIONS);
    let daily: Vec<f64> = (first + 1..=idx).map(|j| pct(j - 1, j)).collect();
    if daily.len() < MIN_HISTORY {
        return None;
    }
    let m = daily.iter().sum::<f64>() / daily.len() as f64;
    let var = daily.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (daily.len() - 1) as f64;
    let band = metrics::random_walk_band(var.sqrt(), h as f64, coverage).ok()?;

    // Base rate of overlapping h-session classes ending in the lookback.
    let classes: Vec<Direction> = (first.max(h)..=idx)
        .map(|j| Direction::classify(pct(j - h, j), flat_band_pct))
        .collect();
    let base = metrics::base_rate(&classes)?;
    if classes.len() < MIN_HISTORY {
        return None;
    }

    // Persistence: non-overlapping h-session classes ending at idx, oldest
    // first, so consecutive entries are genuinely successive periods.
    let mut seq: Vec<Direction> = Vec::new();
    let mut end = idx;
    while end >= h && seq.len() <= LOOKBACK_SESSIONS {
        seq.push(Direction::classify(pct(end - h, end), flat_band_pct));
        end -= h;
    }
    seq.reverse();
    let last = *seq.last()?;
    let counts = metrics::transition_counts(&seq);
    Some((
        metrics::always_up(base, band, coverage),
        metrics::persistence(&counts, last, band, coverage),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(returns_pct: &[f64]) -> Vec<f64> {
        let mut c = vec![100.0];
        for r in returns_pct {
            let last = *c.last().expect("seeded");
            c.push(last * (1.0 + r / 100.0));
        }
        c
    }

    #[test]
    fn too_little_history_gives_none() {
        let closes = series(&[1.0; 10]);
        assert!(naive_baselines(&closes, 10, 1, 0.8, 0.5).is_none());
        // Bad closes (zero) are refused rather than producing inf returns.
        let mut closes = series(&[1.0; 40]);
        closes[5] = 0.0;
        assert!(naive_baselines(&closes, 40, 1, 0.8, 0.5).is_none());
    }

    #[test]
    fn alternating_series_by_hand() {
        // +1%, −1% alternating, 40 returns; h = 1, flat band 0.5.
        let r: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let closes = series(&r);
        let (up, persist) = naive_baselines(&closes, 40, 1, 0.8, 0.5).expect("enough history");
        // Base rate: 20 up, 20 down of 40 classes.
        assert!((up.pred.p_up - 0.5).abs() < 1e-12);
        assert!((up.pred.p_down - 0.5).abs() < 1e-12);
        assert_eq!(up.call, Direction::Up);
        // The last return (index 39) is −1%: persistence calls down, and the
        // transitions down→up happened 20 times, down→down never:
        // P(up | down) = (19 + 1) / (19 + 3) with 19 down→up transitions seen.
        assert_eq!(persist.call, Direction::Down);
        assert!(
            (persist.pred.p_up - 20.0 / 22.0).abs() < 1e-12,
            "{:?}",
            persist.pred
        );
        assert!((persist.pred.p_down - 1.0 / 22.0).abs() < 1e-12);
        // σ of ±1% alternating returns ≈ 1.0127 (sample sd of 40 values whose
        // mean is ~0); band = ±1.2816·σ for 80%.
        let half = up.pred.band_high;
        assert!((up.pred.band_low + half).abs() < 1e-12);
        assert!(half > 1.28 && half < 1.31, "{half}");
        assert_eq!(up.pred.band_high, persist.pred.band_high);
    }

    #[test]
    fn uses_nothing_after_the_as_of_session() {
        let r: Vec<f64> = (0..60).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
        let closes = series(&r);
        let a = naive_baselines(&closes[..=40], 40, 2, 0.9, 0.5).expect("history");
        let b = naive_baselines(&closes, 40, 2, 0.9, 0.5).expect("history");
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
    }
}
