//! Per-prediction scoring and per-window KPIs for evaluation (issue #7).
//!
//! Pure computation: no I/O, no clock, no storage. Inputs are percent returns
//! (1.5 means +1.5 %), so band widths are already normalised by price.
//!
//! Decisions:
//! - Outcomes are three-class (`Up`, `Flat`, `Down`): a realized return with
//!   `|r| <= flat_band_pct` is `Flat`, its own class, never dropped. Dropping flat
//!   outcomes would flatter a model that never predicts flat.
//! - `hit` is three-class: the argmax of `(p_up, p_flat, p_down)` equals the
//!   realized class. It is `None` when the argmax is tied (the model made no
//!   call), and such items are left out of the hit rate rather than counted as
//!   misses or hits by an arbitrary tie-break.
//! - The primary Brier score is the multi-class one, `Σ_k (p_k − o_k)²` over
//!   (up, flat, down), range [0, 2]; the binary `(p_up − 1[up])²` is kept next
//!   to it as `brier_up` because calibration (ECE) is defined on `p_up`.
//! - Log loss is multi-class, `−ln clip(p_realized)`, clipped to
//!   `[1e-6, 1 − 1e-6]`; a uniform three-way forecast scores `ln 3 ≈ 1.0986`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Probability clip for log loss, so a confident miss costs `ln(1e6) ≈ 13.8`
/// instead of infinity.
pub const LOG_LOSS_EPS: f64 = 1e-6;

/// Probabilities must sum to 1 within this tolerance; they are then
/// renormalised so rounding in stored reports does not bias the scores.
const PROB_SUM_TOL: f64 = 1e-3;

/// Number of calibration bins for the expected calibration error.
pub const ECE_BINS: usize = 10;

/// Below this many items ECE uses equal-count bins: equal-width bins would be
/// mostly empty or hold one or two items and make ECE mostly noise.
pub const ECE_EQUAL_COUNT_BELOW: usize = 100;

#[derive(Debug, Error, PartialEq)]
pub enum EvalError {
    #[error("value `{0}` is not finite")]
    NotFinite(&'static str),
    #[error("probability `{0}` is outside [0, 1]")]
    ProbabilityRange(&'static str),
    #[error("probabilities sum to {0}, expected 1")]
    ProbabilitySum(f64),
    #[error("band low {low} is above band high {high}")]
    BandOrder { low: f64, high: f64 },
    #[error("coverage {0} is not in (0, 1)")]
    Coverage(f64),
    #[error("flat band {0} is negative")]
    FlatBand(f64),
    #[error("sigma {0} is negative")]
    Sigma(f64),
    #[error("horizon {0} days is not positive")]
    Horizon(f64),
    #[error("price levels must satisfy target > base > support > 0")]
    PriceLevels,
    #[error("bar {0} has low above high or a non-positive price")]
    Bar(usize),
    #[error("only {0} of {TARGET_WINDOW_DAYS} bars available: not matured")]
    NotMatured(usize),
}

/// Realized (or called) direction over the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Flat,
    Down,
}

impl Direction {
    /// Classifies a percent return; the band edges count as flat so a zero
    /// band still makes an exactly unchanged price flat.
    pub fn classify(return_pct: f64, flat_band_pct: f64) -> Direction {
        if return_pct > flat_band_pct {
            Direction::Up
        } else if return_pct < -flat_band_pct {
            Direction::Down
        } else {
            Direction::Flat
        }
    }

    /// Index into `[up, flat, down]` probability/count arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Flat => 1,
            Direction::Down => 2,
        }
    }

    fn from_index(i: usize) -> Direction {
        match i {
            0 => Direction::Up,
            1 => Direction::Flat,
            _ => Direction::Down,
        }
    }
}

/// One prediction for one horizon, as stored by the predictor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub p_up: f64,
    pub p_flat: f64,
    pub p_down: f64,
    /// Point forecast of the return, percent.
    pub expected_return: f64,
    /// Lower edge of the return band, percent.
    pub band_low: f64,
    /// Upper edge of the return band, percent.
    pub band_high: f64,
    /// Nominal band coverage `1 − α`, in (0, 1).
    pub coverage: f64,
}

/// The score of one prediction against its realized return.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Three-class hit; `None` when the call was tied (no call made).
    pub hit: Option<bool>,
    /// Realized class.
    pub direction: Direction,
    /// Primary Brier: multi-class over (up, flat, down), in [0, 2].
    pub brier: f64,
    /// Binary Brier of `p_up` against "realized up", in [0, 1].
    pub brier_up: f64,
    /// Multi-class log loss, clipped at `LOG_LOSS_EPS`.
    pub log_loss: f64,
    /// `band_low <= realized <= band_high`.
    pub covered: bool,
    /// `band_high − band_low`, percent of price.
    pub width: f64,
    /// Winkler interval score with `α = 1 − coverage`.
    pub winkler: f64,
    /// Kept for calibration (ECE) and for PICP against nominal.
    pub p_up: f64,
    pub nominal_coverage: f64,
    pub expected_return: f64,
    pub realized: f64,
}

fn finite(name: &'static str, v: f64) -> Result<f64, EvalError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(EvalError::NotFinite(name))
    }
}

fn prob(name: &'static str, v: f64) -> Result<f64, EvalError> {
    let v = finite(name, v)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(EvalError::ProbabilityRange(name))
    }
}

/// Validates and renormalises `[p_up, p_flat, p_down]`.
fn probs_of(pred: &Prediction) -> Result<[f64; 3], EvalError> {
    let p = [
        prob("p_up", pred.p_up)?,
        prob("p_flat", pred.p_flat)?,
        prob("p_down", pred.p_down)?,
    ];
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > PROB_SUM_TOL {
        return Err(EvalError::ProbabilitySum(sum));
    }
    Ok([p[0] / sum, p[1] / sum, p[2] / sum])
}

/// The argmax class, or `None` on an exact tie for the maximum.
pub fn argmax_call(p: [f64; 3]) -> Option<Direction> {
    let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut winners = p.iter().enumerate().filter(|(_, v)| **v == max);
    let first = winners.next().map(|(i, _)| i)?;
    if winners.next().is_some() {
        return None;
    }
    Some(Direction::from_index(first))
}

/// Scores a prediction whose call is its argmax class.
pub fn score(pred: &Prediction, realized: f64, flat_band_pct: f64) -> Result<Scored, EvalError> {
    let p = probs_of(pred)?;
    score_with_call(pred, argmax_call(p), realized, flat_band_pct)
}

/// Scores a prediction with an explicit call; baselines use this because
/// their call (e.g. "always up") is not the argmax of their probabilities.
pub fn score_with_call(
    pred: &Prediction,
    call: Option<Direction>,
    realized: f64,
    flat_band_pct: f64,
) -> Result<Scored, EvalError> {
    let p = probs_of(pred)?;
    let realized = finite("realized", realized)?;
    let flat_band_pct = finite("flat_band_pct", flat_band_pct)?;
    if flat_band_pct < 0.0 {
        return Err(EvalError::FlatBand(flat_band_pct));
    }
    let low = finite("band_low", pred.band_low)?;
    let high = finite("band_high", pred.band_high)?;
    if low > high {
        return Err(EvalError::BandOrder { low, high });
    }
    let coverage = finite("coverage", pred.coverage)?;
    if !(coverage > 0.0 && coverage < 1.0) {
        return Err(EvalError::Coverage(coverage));
    }
    let expected_return = finite("expected_return", pred.expected_return)?;

    let direction = Direction::classify(realized, flat_band_pct);
    let o = direction.index();
    let brier = (0..3)
        .map(|k| {
            let ok = if k == o { 1.0 } else { 0.0 };
            (p[k] - ok).powi(2)
        })
        .sum();
    let up = if direction == Direction::Up { 1.0 } else { 0.0 };
    let brier_up = (p[0] - up).powi(2);
    let log_loss = -p[o].clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS).ln();

    let alpha = 1.0 - coverage;
    let width = high - low;
    let covered = low <= realized && realized <= high;
    let mut winkler = width;
    if realized < low {
        winkler += 2.0 / alpha * (low - realized);
    } else if realized > high {
        winkler += 2.0 / alpha * (realized - high);
    }

    Ok(Scored {
        hit: call.map(|c| c == direction),
        direction,
        brier,
        brier_up,
        log_loss,
        covered,
        width,
        winkler,
        p_up: p[0],
        nominal_coverage: coverage,
        expected_return,
        realized,
    })
}

/// KPIs over a set of scored items (one model or variant, one day or window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    /// Items with a call (non-tied argmax), the hit-rate denominator.
    pub n_called: usize,
    pub hit_rate: Option<f64>,
    pub mean_brier: f64,
    pub mean_brier_up: f64,
    /// `1 − BS / BS_ref`, `None` when the reference Brier is 0 (every item in
    /// one class and the base rate says so: nothing left to be skilful about).
    pub brier_skill: Option<f64>,
    pub mean_log_loss: f64,
    pub ece: f64,
    /// Prediction-interval coverage probability (share of bands covering).
    pub picp: f64,
    /// Mean nominal coverage, to read PICP against.
    pub nominal_coverage: f64,
    pub mean_width: f64,
    pub mean_winkler: f64,
}

/// Share of each realized class, `[up, flat, down]`; `None` for no items.
pub fn base_rate(directions: &[Direction]) -> Option<[f64; 3]> {
    if directions.is_empty() {
        return None;
    }
    let mut c = [0.0; 3];
    for d in directions {
        c[d.index()] += 1.0;
    }
    let n = directions.len() as f64;
    Some([c[0] / n, c[1] / n, c[2] / n])
}

/// Mean multi-class Brier of always forecasting `base` on these outcomes.
pub fn reference_brier(base: [f64; 3], directions: &[Direction]) -> Option<f64> {
    if directions.is_empty() {
        return None;
    }
    let total: f64 = directions
        .iter()
        .map(|d| {
            (0..3)
                .map(|k| {
                    let ok = if k == d.index() { 1.0 } else { 0.0 };
                    (base[k] - ok).powi(2)
                })
                .sum::<f64>()
        })
        .sum();
    Some(total / directions.len() as f64)
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Summarises scored items. `base` is the trailing base-rate distribution for
/// the Brier skill score; `None` uses the items' own class frequencies (the
/// climatological reference, `BS_ref = Σ_k f_k(1 − f_k)`). Returns `None` for
/// an empty slice: there is nothing to report, and zeros would read as scores.
pub fn summarize(items: &[Scored], base: Option<[f64; 3]>) -> Option<Summary> {
    let n = items.len();
    if n == 0 {
        return None;
    }
    let calls: Vec<bool> = items.iter().filter_map(|s| s.hit).collect();
    let hit_rate = mean(calls.iter().map(|h| if *h { 1.0 } else { 0.0 }));
    let mean_brier = mean(items.iter().map(|s| s.brier))?;
    let directions: Vec<Direction> = items.iter().map(|s| s.direction).collect();
    let base = match base {
        Some(b) => b,
        None => base_rate(&directions)?,
    };
    let bs_ref = reference_brier(base, &directions)?;
    let brier_skill = (bs_ref > 0.0).then(|| 1.0 - mean_brier / bs_ref);
    let pairs: Vec<(f64, bool)> = items
        .iter()
        .map(|s| (s.p_up, s.direction == Direction::Up))
        .collect();
    Some(Summary {
        n,
        n_called: calls.len(),
        hit_rate,
        mean_brier,
        mean_brier_up: mean(items.iter().map(|s| s.brier_up))?,
        brier_skill,
        mean_log_loss: mean(items.iter().map(|s| s.log_loss))?,
        ece: ece(&pairs)?,
        picp: mean(items.iter().map(|s| if s.covered { 1.0 } else { 0.0 }))?,
        nominal_coverage: mean(items.iter().map(|s| s.nominal_coverage))?,
        mean_width: mean(items.iter().map(|s| s.width))?,
        mean_winkler: mean(items.iter().map(|s| s.winkler))?,
    })
}

/// Expected calibration error of `p_up` against "realized up":
/// `Σ_b (n_b / N)·|mean p_b − mean o_b|` over `ECE_BINS` bins; equal-width
/// bins on [0, 1] when N ≥ `ECE_EQUAL_COUNT_BELOW`, else equal-count bins on
/// the items sorted by p (sizes differ by at most one, larger bins first).
pub fn ece(pairs: &[(f64, bool)]) -> Option<f64> {
    let n = pairs.len();
    // A NaN p would land in an arbitrary bin and poison the sum.
    if n == 0 || pairs.iter().any(|(p, _)| !p.is_finite()) {
        return None;
    }
    let bins: Vec<Vec<(f64, bool)>> = if n >= ECE_EQUAL_COUNT_BELOW {
        let mut bins = vec![Vec::new(); ECE_BINS];
        for &(p, o) in pairs {
            // p = 1.0 belongs to the last bin, not an eleventh one.
            let b = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
            bins[b].push((p, o));
        }
        bins
    } else {
        let mut sorted = pairs.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let k = ECE_BINS.min(n);
        let (q, r) = (n / k, n % k);
        let mut bins = Vec::with_capacity(k);
        let mut start = 0;
        for b in 0..k {
            let size = q + usize::from(b < r);
            bins.push(sorted[start..start + size].to_vec());
            start += size;
        }
        bins
    };
    let total: f64 = bins
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let m = b.len() as f64;
            let mp = b.iter().map(|x| x.0).sum::<f64>() / m;
            let mo = b.iter().map(|x| if x.1 { 1.0 } else { 0.0 }).sum::<f64>() / m;
            m * (mp - mo).abs()
        })
        .sum();
    Some(total / n as f64)
}

/// Pearson correlation; `None` for fewer than 2 pairs, mismatched lengths or
/// zero variance (a constant forecast has no information coefficient).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// 1-based ranks with ties given their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].partial_cmp(&x[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share ranks i+1..=j+1.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Information coefficient for one date: Pearson of expected vs realized
/// returns across stocks.
pub fn ic(expected: &[f64], realized: &[f64]) -> Option<f64> {
    pearson(expected, realized)
}

/// Rank IC: Spearman, i.e. Pearson of average ranks.
pub fn rank_ic(expected: &[f64], realized: &[f64]) -> Option<f64> {
    if expected.len() != realized.len() {
        return None;
    }
    pearson(&average_ranks(expected), &average_ranks(realized))
}

/// ICIR = mean(IC) / sample std(IC) over dates; `None` below 2 dates or with
/// zero spread.
pub fn icir(ics: &[f64]) -> Option<f64> {
    if ics.len() < 2 {
        return None;
    }
    let n = ics.len() as f64;
    let m = ics.iter().sum::<f64>() / n;
    let var = ics.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    (sd > 0.0 && sd.is_finite()).then(|| m / sd)
}

/// A naive forecast plus the call it makes, scored on the same items as the
/// model via `score_baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub pred: Prediction,
    pub call: Direction,
}

pub fn score_baseline(
    b: &Baseline,
    realized: f64,
    flat_band_pct: f64,
) -> Result<Scored, EvalError> {
    score_with_call(&b.pred, Some(b.call), realized, flat_band_pct)
}

/// Always-up: calls up, with probabilities equal to the trailing base-rate
/// distribution (`p_up = p̄`), which is the best constant forecast; its band
/// is the random-walk band so all three baselines share one interval.
pub fn always_up(base: [f64; 3], band: (f64, f64), coverage: f64) -> Baseline {
    Baseline {
        pred: Prediction {
            p_up: base[0],
            p_flat: base[1],
            p_down: base[2],
            expected_return: 0.0,
            band_low: band.0,
            band_high: band.1,
            coverage,
        },
        call: Direction::Up,
    }
}

/// Transition counts `[from][to]` between consecutive realized classes of one
/// stock's trailing series, for the persistence baseline.
pub fn transition_counts(seq: &[Direction]) -> [[u64; 3]; 3] {
    let mut c = [[0u64; 3]; 3];
    for w in seq.windows(2) {
        c[w[0].index()][w[1].index()] += 1;
    }
    c
}

/// Persistence: calls the last return's class. A hard "probability 1 − ε on
/// the last class" is badly calibrated (log loss explodes on every reversal),
/// so its probabilities are the trailing transition frequencies from that
/// class, add-one smoothed: `P(k | last) = (n_{last,k} + 1) / (n_last + 3)`.
/// With no history this is uniform, which is honest.
pub fn persistence(
    counts: &[[u64; 3]; 3],
    last: Direction,
    band: (f64, f64),
    coverage: f64,
) -> Baseline {
    let row = counts[last.index()];
    let n: u64 = row.iter().sum();
    let d = n as f64 + 3.0;
    Baseline {
        pred: Prediction {
            p_up: (row[0] as f64 + 1.0) / d,
            p_flat: (row[1] as f64 + 1.0) / d,
            p_down: (row[2] as f64 + 1.0) / d,
            expected_return: 0.0,
            band_low: band.0,
            band_high: band.1,
            coverage,
        },
        call: last,
    }
}

/// Random-walk band `±z·σ·√h` with `z = Φ⁻¹(1 − α/2)`, σ the daily return
/// standard deviation (percent), h the horizon in trading days.
pub fn random_walk_band(
    sigma_daily_pct: f64,
    horizon_days: f64,
    coverage: f64,
) -> Result<(f64, f64), EvalError> {
    let s = finite("sigma_daily_pct", sigma_daily_pct)?;
    if s < 0.0 {
        return Err(EvalError::Sigma(s));
    }
    let h = finite("horizon_days", horizon_days)?;
    if h <= 0.0 {
        return Err(EvalError::Horizon(h));
    }
    let c = finite("coverage", coverage)?;
    if !(c > 0.0 && c < 1.0) {
        return Err(EvalError::Coverage(c));
    }
    let z = normal_quantile(1.0 - (1.0 - c) / 2.0);
    let half = z * s * h.sqrt();
    Ok((-half, half))
}

/// Trading days after the report over which the original's target/support
/// family is scored.
pub const TARGET_WINDOW_DAYS: usize = 5;

/// A report's price levels (the original's target/support family).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriceTargets {
    pub base: f64,
    pub target: f64,
    pub support: f64,
}

/// One daily bar after the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub high: f64,
    pub low: f64,
}

/// The original system's score, kept as one metric family (0–100 scales).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScore {
    pub target_achieved: bool,
    /// 1-based trading day the high first reached the target.
    pub achieved_day: Option<usize>,
    pub support_breached: bool,
    pub accuracy: f64,
    pub timing: f64,
    pub risk: f64,
    /// `0.4·accuracy + 0.3·timing + 0.3·risk`.
    pub final_score: f64,
}

/// Scores a report against the next `TARGET_WINDOW_DAYS` bars. Unlike the
/// original, it refuses reports whose levels are not `target > base >
/// support > 0` and refuses to score before all bars exist (the original
/// scored at 16:30 against bars that did not exist yet).
pub fn score_targets(levels: &PriceTargets, bars: &[Bar]) -> Result<TargetScore, EvalError> {
    let (b, t, s) = (levels.base, levels.target, levels.support);
    // Comparisons with NaN are false, so this also rejects non-finite levels
    // except +inf target, which the explicit check catches.
    if !(t.is_finite() && t > b && b > s && s > 0.0) {
        return Err(EvalError::PriceLevels);
    }
    if bars.len() < TARGET_WINDOW_DAYS {
        return Err(EvalError::NotMatured(bars.len()));
    }
    let bars = &bars[..TARGET_WINDOW_DAYS];
    for (i, bar) in bars.iter().enumerate() {
        if !(bar.high.is_finite() && bar.low.is_finite() && bar.low > 0.0 && bar.low <= bar.high) {
            return Err(EvalError::Bar(i));
        }
    }
    let achieved_day = bars.iter().position(|bar| bar.high >= t).map(|i| i + 1);
    let best_high = bars
        .iter()
        .map(|bar| bar.high)
        .fold(f64::NEG_INFINITY, f64::max);
    let lowest = bars.iter().map(|bar| bar.low).fold(f64::INFINITY, f64::min);
    let support_breached = lowest <= s;
    let accuracy = match achieved_day {
        Some(_) => 100.0,
        None => ((best_high - b) / (t - b) * 100.0).clamp(0.0, 100.0),
    };
    let timing = achieved_day.map_or(0.0, |d| (110.0 - 10.0 * d as f64).max(60.0));
    let risk = if support_breached {
        (100.0 - (lowest - s).abs() / s * 100.0).max(0.0)
    } else {
        100.0
    };
    Ok(TargetScore {
        target_achieved: achieved_day.is_some(),
        achieved_day,
        support_breached,
        accuracy,
        timing,
        risk,
        final_score: 0.4 * accuracy + 0.3 * timing + 0.3 * risk,
    })
}

// One implementation of the normal distribution for the whole crate: the
// baseline model's (Hart's CDF, ~1e-15; Acklam + a Halley step, ~1e-14).
pub use crate::predict::baseline::{inverse_normal_cdf as normal_quantile, normal_cdf};

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    fn pred(p: [f64; 3], band: (f64, f64), coverage: f64) -> Prediction {
        Prediction {
            p_up: p[0],
            p_flat: p[1],
            p_down: p[2],
            expected_return: 0.5,
            band_low: band.0,
            band_high: band.1,
            coverage,
        }
    }

    #[test]
    fn classify_uses_inclusive_flat_band() {
        assert_eq!(Direction::classify(0.3, 0.2), Direction::Up);
        assert_eq!(Direction::classify(0.2, 0.2), Direction::Flat);
        assert_eq!(Direction::classify(-0.2, 0.2), Direction::Flat);
        assert_eq!(Direction::classify(-0.21, 0.2), Direction::Down);
        assert_eq!(Direction::classify(0.0, 0.0), Direction::Flat);
    }

    #[test]
    fn score_up_hit_by_hand() {
        // p = (0.6, 0.3, 0.1), realized +1.0 with flat band 0.2 -> Up.
        // Brier = (0.6-1)^2 + 0.3^2 + 0.1^2 = 0.16 + 0.09 + 0.01 = 0.26.
        // brier_up = 0.16; log loss = -ln 0.6 = 0.5108256237659907.
        // Band [-1, 2] covers 1.0: width 3, Winkler 3.
        let s = score(&pred([0.6, 0.3, 0.1], (-1.0, 2.0), 0.8), 1.0, 0.2).expect("valid");
        assert_eq!(s.hit, Some(true));
        assert_eq!(s.direction, Direction::Up);
        close(s.brier, 0.26);
        close(s.brier_up, 0.16);
        close(s.log_loss, 0.510_825_623_765_990_7);
        assert!(s.covered);
        close(s.width, 3.0);
        close(s.winkler, 3.0);
    }

    #[test]
    fn score_flat_outcome_is_its_own_class() {
        // Realized 0.1 inside band 0.2 -> Flat; argmax Up -> miss.
        // Brier = 0.6^2 + (0.3-1)^2 + 0.1^2 = 0.36 + 0.49 + 0.01 = 0.86.
        // brier_up = 0.36; log loss = -ln 0.3 = 1.2039728043259361.
        let s = score(&pred([0.6, 0.3, 0.1], (-1.0, 2.0), 0.8), 0.1, 0.2).expect("valid");
        assert_eq!(s.direction, Direction::Flat);
        assert_eq!(s.hit, Some(false));
        close(s.brier, 0.86);
        close(s.brier_up, 0.36);
        close(s.log_loss, 1.203_972_804_325_936_1);
    }

    #[test]
    fn winkler_penalises_misses_by_two_over_alpha() {
        // coverage 0.8 -> alpha 0.2 -> 2/alpha = 10.
        // Below: y = -3, L = -1: 3 + 10*2 = 23. Above: y = 2.5, U = 2: 3 + 10*0.5 = 8.
        let p = pred([0.2, 0.3, 0.5], (-1.0, 2.0), 0.8);
        let below = score(&p, -3.0, 0.2).expect("valid");
        assert!(!below.covered);
        close(below.winkler, 23.0);
        assert_eq!(below.hit, Some(true));
        let above = score(&p, 2.5, 0.2).expect("valid");
        close(above.winkler, 8.0);
        // Band edges count as covered.
        assert!(score(&p, 2.0, 0.2).expect("valid").covered);
    }

    #[test]
    fn log_loss_is_clipped_and_tie_means_no_call() {
        // p_realized = 0 -> clipped to 1e-6 -> -ln 1e-6 = 13.815510557964274.
        let s = score(&pred([1.0, 0.0, 0.0], (0.0, 0.0), 0.5), -2.0, 0.0).expect("valid");
        close(s.log_loss, 13.815_510_557_964_274);
        close(s.brier, 2.0);
        // Uniform: tie -> None; log loss ln 3.
        let u = 1.0 / 3.0;
        let s = score(&pred([u, u, u], (0.0, 0.0), 0.5), 1.0, 0.0).expect("valid");
        assert_eq!(s.hit, None);
        close(s.log_loss, 3f64.ln());
    }

    #[test]
    fn invalid_inputs_are_errors_not_nan() {
        let ok = pred([0.6, 0.3, 0.1], (-1.0, 2.0), 0.8);
        assert!(score(&ok, f64::NAN, 0.2).is_err());
        assert!(score(&pred([0.6, 0.6, 0.1], (-1.0, 2.0), 0.8), 0.0, 0.2).is_err());
        assert!(score(&pred([f64::NAN, 0.3, 0.1], (-1.0, 2.0), 0.8), 0.0, 0.2).is_err());
        assert!(score(&pred([0.6, 0.3, 0.1], (2.0, -1.0), 0.8), 0.0, 0.2).is_err());
        assert!(score(&pred([0.6, 0.3, 0.1], (-1.0, 2.0), 1.0), 0.0, 0.2).is_err());
        assert!(score(&ok, 0.0, -0.1).is_err());
    }

    #[test]
    fn summarize_by_hand() {
        let p = pred([0.6, 0.3, 0.1], (-1.0, 2.0), 0.8);
        // Items: Up (Brier 0.26, ll -ln .6, hit), Flat (0.86, -ln .3, miss),
        // Down at -3 (Brier .36+.09+.81 = 1.26, ll -ln .1, miss, Winkler 23).
        let items: Vec<Scored> = [1.0, 0.1, -3.0]
            .iter()
            .map(|r| score(&p, *r, 0.2).expect("valid"))
            .collect();
        let s = summarize(&items, None).expect("non-empty");
        assert_eq!(s.n, 3);
        close(s.hit_rate.expect("calls"), 1.0 / 3.0);
        // mean Brier = (0.26 + 0.86 + 1.26)/3 = 2.38/3.
        close(s.mean_brier, 2.38 / 3.0);
        // Base rate (1/3,1/3,1/3): BS_ref = 3 * (1/3)(2/3) = 2/3.
        // BSS = 1 - (2.38/3)/(2/3) = 1 - 1.19 = -0.19.
        close(s.brier_skill.expect("ref > 0"), -0.19);
        close(
            s.mean_log_loss,
            -(0.6f64.ln() + 0.3f64.ln() + 0.1f64.ln()) / 3.0,
        );
        // Covered: 1.0 yes, 0.1 yes, -3 no -> 2/3; Winkler (3+3+23)/3.
        close(s.picp, 2.0 / 3.0);
        close(s.nominal_coverage, 0.8);
        close(s.mean_width, 3.0);
        close(s.mean_winkler, 29.0 / 3.0);
        // ECE, N=3 < 100 -> 3 equal-count bins of one item each (all p = 0.6):
        // |0.6-1| + |0.6-0| + |0.6-0| = 0.4 + 0.6 + 0.6 = 1.6, /3.
        close(s.ece, 1.6 / 3.0);
    }

    #[test]
    fn summarize_edge_cases() {
        assert!(summarize(&[], None).is_none());
        // N = 1, all one class: BS_ref = 0 -> no skill score, but no NaN.
        let p = pred([0.6, 0.3, 0.1], (-1.0, 2.0), 0.8);
        let one = [score(&p, 1.0, 0.2).expect("valid")];
        let s = summarize(&one, None).expect("non-empty");
        assert_eq!(s.brier_skill, None);
        close(s.ece, 0.4);
        // With a trailing base rate (0.5, 0.2, 0.3) on an Up item:
        // BS_ref = 0.25 + 0.04 + 0.09 = 0.38; BSS = 1 - 0.26/0.38.
        let s = summarize(&one, Some([0.5, 0.2, 0.3])).expect("non-empty");
        close(s.brier_skill.expect("ref > 0"), 1.0 - 0.26 / 0.38);
        // All ties -> hit rate None.
        let u = 1.0 / 3.0;
        let tie = [score(&pred([u, u, u], (0.0, 1.0), 0.5), 1.0, 0.0).expect("valid")];
        let s = summarize(&tie, None).expect("non-empty");
        assert_eq!(s.hit_rate, None);
        assert_eq!(s.n_called, 0);
    }

    #[test]
    fn ece_equal_width_bins_for_large_n() {
        // 100 items: 50 at p = 0.05 with 5 ups (rate 0.1), 50 at p = 0.95 with
        // 45 ups (0.9). ECE = 0.5*|0.05-0.1| + 0.5*|0.95-0.9| = 0.05.
        let mut pairs = Vec::new();
        for i in 0..50 {
            pairs.push((0.05, i < 5));
            pairs.push((0.95, i < 45));
        }
        close(ece(&pairs).expect("non-empty"), 0.05);
        // p = 1.0 lands in the last bin: 100 items at 1.0, all up -> 0.
        let ones = vec![(1.0, true); 100];
        close(ece(&ones).expect("non-empty"), 0.0);
        assert_eq!(ece(&[(f64::NAN, true)]), None);
    }

    #[test]
    fn ece_equal_count_bins_for_small_n() {
        // N = 12 -> 10 bins, sizes 2,2,1,...,1 on sorted p.
        // p = 0.1..=1.2/.. use p_i = i/12 (i = 1..=12), outcome up for i >= 7.
        // Bin 1: {1/12, 2/12} outcomes 0 -> |1.5/12 - 0| * 2 = 3/12.
        // Bin 2: {3/12, 4/12} -> |3.5/12| * 2 = 7/12.
        // Bins 5..10 single items: i = 5,6 (o 0): 5/12 + 6/12; i = 7..12 (o 1):
        // (5 + 4 + 3 + 2 + 1 + 0)/12 = 15/12. Total = (3+7+11+15)/12 = 36/12 = 3.
        // ECE = 3 / 12 = 0.25.
        let pairs: Vec<(f64, bool)> = (1..=12).map(|i| (i as f64 / 12.0, i >= 7)).collect();
        close(ece(&pairs).expect("non-empty"), 0.25);
    }

    #[test]
    fn ic_rank_ic_icir_by_hand() {
        // x = (1,2,3,4), y = (2,4,5,9): mx 2.5, my 5; dx = (-1.5,-.5,.5,1.5),
        // dy = (-3,-1,0,4); sxy = 4.5+0.5+0+6 = 11; sxx = 5; syy = 26.
        // r = 11 / sqrt(130) = 0.9647638212377322.
        close(
            ic(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 9.0]).expect("r"),
            11.0 / 130f64.sqrt(),
        );
        // Monotone -> rank IC 1.
        close(
            rank_ic(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 9.0]).expect("r"),
            1.0,
        );
        // Ties: x = (1,1,2,3) ranks (1.5,1.5,3,4); y = (1,2,3,4).
        // dx = (-1,-1,.5,1.5), dy = (-1.5,-.5,.5,1.5); sxy = 1.5+.5+.25+2.25 = 4.5;
        // sxx = 1+1+.25+2.25 = 4.5; syy = 5 -> 4.5/sqrt(22.5) = 0.9486832980505138.
        assert_eq!(
            average_ranks(&[1.0, 1.0, 2.0, 3.0]),
            vec![1.5, 1.5, 3.0, 4.0]
        );
        close(
            rank_ic(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).expect("r"),
            4.5 / 22.5f64.sqrt(),
        );
        // Constant forecast, N=1, mismatched lengths -> None.
        assert_eq!(ic(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(ic(&[1.0], &[1.0]), None);
        assert_eq!(rank_ic(&[1.0, 2.0], &[1.0]), None);
        // ICIR of (0.1, 0.3): mean 0.2, sample sd sqrt(0.02) -> 0.2/0.1414.. = sqrt 2.
        close(icir(&[0.1, 0.3]).expect("icir"), 2f64.sqrt());
        assert_eq!(icir(&[0.1]), None);
        assert_eq!(icir(&[0.2, 0.2]), None);
    }

    #[test]
    fn baselines_by_hand() {
        let base = base_rate(&[
            Direction::Up,
            Direction::Up,
            Direction::Down,
            Direction::Flat,
        ])
        .expect("non-empty");
        assert_eq!(base, [0.5, 0.25, 0.25]);
        // Always-up on a Down outcome: miss; Brier .25 + .0625 + .5625 = 0.875.
        let b = always_up(base, (-1.0, 1.0), 0.9);
        let s = score_baseline(&b, -0.5, 0.1).expect("valid");
        assert_eq!(s.hit, Some(false));
        close(s.brier, 0.875);
        // Persistence: seq U,U,D,U,U -> from Up: to Up 2, to Down 1 (n = 3).
        // P = ((2+1)/6, (0+1)/6, (1+1)/6) = (0.5, 1/6, 1/3); call Up.
        let seq = [
            Direction::Up,
            Direction::Up,
            Direction::Down,
            Direction::Up,
            Direction::Up,
        ];
        let c = transition_counts(&seq);
        assert_eq!(c[0], [2, 0, 1]);
        let p = persistence(&c, Direction::Up, (-1.0, 1.0), 0.9);
        close(p.pred.p_up, 0.5);
        close(p.pred.p_flat, 1.0 / 6.0);
        close(p.pred.p_down, 1.0 / 3.0);
        assert_eq!(p.call, Direction::Up);
        // No history -> uniform.
        let u = persistence(&[[0; 3]; 3], Direction::Down, (-1.0, 1.0), 0.9);
        close(u.pred.p_up, 1.0 / 3.0);
        assert_eq!(
            score_baseline(&u, -1.0, 0.1).expect("valid").hit,
            Some(true)
        );
    }

    fn bars(hl: &[(f64, f64)]) -> Vec<Bar> {
        hl.iter().map(|&(high, low)| Bar { high, low }).collect()
    }

    #[test]
    fn target_family_by_hand() {
        let lv = PriceTargets {
            base: 100.0,
            target: 110.0,
            support: 95.0,
        };
        // High 111 on day 3 -> achieved, timing max(60, 110 - 30) = 80.
        // Lowest low 94 <= 95 -> risk 100 - 1/95*100 = 98.94736842105263.
        // Final = 40 + 24 + 0.3*98.947368... = 93.68421052631579.
        let b = bars(&[
            (105.0, 98.0),
            (108.0, 97.0),
            (111.0, 96.0),
            (109.0, 94.0),
            (112.0, 99.0),
        ]);
        let sc = score_targets(&lv, &b).expect("valid");
        assert_eq!(sc.achieved_day, Some(3));
        assert!(sc.support_breached);
        close(sc.accuracy, 100.0);
        close(sc.timing, 80.0);
        close(sc.risk, 100.0 - 100.0 / 95.0);
        close(sc.final_score, 64.0 + 0.3 * (100.0 - 100.0 / 95.0));
        // Best high 104 -> accuracy 40; timing 0; risk 100; final 16 + 30 = 46.
        let b = bars(&[(104.0, 98.0); 5]);
        let sc = score_targets(&lv, &b).expect("valid");
        assert!(!sc.target_achieved);
        close(sc.accuracy, 40.0);
        close(sc.final_score, 46.0);
        // Highs below base clamp accuracy at 0; day 1 hit -> timing 100;
        // day 5 hit -> 60; only the first 5 bars count.
        close(
            score_targets(&lv, &bars(&[(99.0, 98.0); 5]))
                .expect("valid")
                .accuracy,
            0.0,
        );
        close(
            score_targets(&lv, &bars(&[(110.0, 98.0); 5]))
                .expect("valid")
                .timing,
            100.0,
        );
        let mut late = bars(&[(101.0, 98.0); 6]);
        late[4].high = 110.0;
        close(score_targets(&lv, &late).expect("valid").timing, 60.0);
        late[4].high = 101.0;
        late[5].high = 120.0;
        assert!(!score_targets(&lv, &late).expect("valid").target_achieved);
        // Errors: unordered levels, too few bars, broken bar.
        let bad = PriceTargets {
            base: 100.0,
            target: 90.0,
            support: 95.0,
        };
        assert_eq!(score_targets(&bad, &late), Err(EvalError::PriceLevels));
        assert_eq!(
            score_targets(&lv, &late[..4]),
            Err(EvalError::NotMatured(4))
        );
        let mut broken = bars(&[(101.0, 98.0); 5]);
        broken[2] = Bar {
            high: 97.0,
            low: 98.0,
        };
        assert_eq!(score_targets(&lv, &broken), Err(EvalError::Bar(2)));
    }

    #[test]
    fn random_walk_band_and_normal_functions() {
        // 95 %: z = 1.959963984540054; sigma 1 %, h = 4 -> ±3.919927969080108.
        let (lo, hi) = random_walk_band(1.0, 4.0, 0.95).expect("valid");
        assert!((hi - 3.919_927_969_080_108).abs() < 1e-7);
        close(lo, -hi);
        assert!(random_walk_band(-1.0, 1.0, 0.9).is_err());
        assert!(random_walk_band(1.0, 0.0, 0.9).is_err());
        assert!(random_walk_band(1.0, 1.0, 1.0).is_err());
        // Known values: Phi(1.96) = 0.9750021048517795, Phi(-2.326347874) = 0.01.
        assert!((normal_cdf(1.96) - 0.975_002_104_851_779_5).abs() < 1e-7);
        assert!((normal_cdf(-2.326_347_874_040_841) - 0.01).abs() < 1e-8);
        assert!((normal_quantile(0.01) + 2.326_347_874_040_841).abs() < 1e-8);
        // erfcc's 1.2e-7 relative error shows at 0 as 0.500000015.
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
    }
}
