//! The offline statistical baseline: the default prediction provider, and
//! the yardstick an LLM provider has to beat. From a stock's `Features`
//! (and a news signal) it gives, per horizon, the same shape the LLM gives:
//! p_up / p_flat / p_down, an expected return and a band at a coverage.
//!
//! Model, per horizon `h` (trading days):
//! - a logistic direction score `s = Σ wᵢ·xᵢ` over standardised inputs
//!   (momentum, mean reversion, the index's move, news); `q = σ(s)` is the
//!   share of the non-flat mass that is "up". The weights are PRIORS picked
//!   by hand to be small and sign-plausible — nothing is fitted here; they
//!   are to be fit on evaluation data later.
//! - the h-day sd: `vol_20 · √h` (percent; 2 %/day when `vol_20` is
//!   missing), i.e. a random walk in log price.
//! - the expected return `μ = sd_h · (p_up − p_down) · K`; p_flat is the
//!   normal mass of N(μ, sd_h) inside ±flat_band_pct, and p_up / p_down split
//!   the rest as q : 1 − q. μ and p_flat depend on each other; a few
//!   fixed-point steps settle them (the map is a strong contraction).
//! - the band `μ ± z(c)·sd_h`, z the two-sided normal quantile.
//!
//! Everything is deterministic: same input, same output.

use super::features::Features;
use serde::{Deserialize, Serialize};

/// Daily volatility (percent) when a stock has too little history for one.
pub const DEFAULT_DAILY_VOL_PCT: f64 = 2.0;
/// Floor on the daily volatility: a price that did not move for 20 days
/// still can, and a zero sd would make the probabilities degenerate.
const MIN_DAILY_VOL_PCT: f64 = 0.05;
/// Expected return per unit of (p_up − p_down), in h-day sds. Small on
/// purpose: a direction tilt says little about the size of the move.
const K: f64 = 0.25;
/// Inputs are clamped to ±this many sds so one outlier cannot saturate.
const CLAMP: f64 = 3.0;

/// Prior weights of the logistic score (per standardised input).
mod w {
    /// 5-day return in 5-day sds: short-term momentum.
    pub const MOMENTUM_5D: f64 = 0.10;
    /// 20-day return in 20-day sds: medium-term momentum.
    pub const MOMENTUM_20D: f64 = 0.15;
    /// Close above its 20-day mean (in 20-day sds): pulls back.
    pub const MA20_GAP: f64 = -0.10;
    /// (RSI − 50) / 50: overbought pulls back, oversold bounces.
    pub const RSI: f64 = -0.20;
    /// The index's 5-day return in 5-day sds of a ~1 %/day index.
    pub const INDEX_5D: f64 = 0.05;
    /// News sentiment (−1..1), scaled up with the number of items. The
    /// largest weight: a story about the stock since the last close is
    /// the strongest overnight evidence a price-only baseline lacks. At
    /// 0.30 and full weight only at five items, one story moved the score
    /// by 0.06 — less than the momentum terms' typical spread (~0.2), so
    /// a strong planted news effect (the sample market's) never reached
    /// the predictions.
    pub const NEWS: f64 = 0.60;
}

/// The index's assumed daily volatility (percent) to standardise its move.
const INDEX_DAILY_VOL_PCT: f64 = 1.0;
/// News items at which the news weight is full; one counts for half.
const NEWS_FULL_COUNT: f64 = 2.0;

/// Recent news linked to the stock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewsSignal {
    pub news_count: u32,
    /// Mean relevance-weighted sign of the linked news (−1..1), if any.
    pub news_sentiment: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Settings of the baseline; missing fields take the defaults (horizons
/// 1 and 5, coverage 0.8, flat band 0.5 %).
#[serde(default)]
pub struct BaselineConfig {
    /// Horizons in trading days; a 0 is skipped (nothing to predict).
    pub horizons: Vec<u32>,
    /// Nominal coverage of the band, in (0, 1).
    pub coverage: f64,
    /// A return with |r| below this (percent) counts as flat.
    pub flat_band_pct: f64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            horizons: vec![1, 5],
            coverage: 0.8,
            flat_band_pct: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonPrediction {
    pub horizon_days: u32,
    pub p_up: f64,
    pub p_flat: f64,
    pub p_down: f64,
    /// Percent.
    pub expected_return: f64,
    /// Percent; [band_low, band_high] holds the return with `coverage`.
    pub band_low: f64,
    pub band_high: f64,
    pub coverage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselinePrediction {
    pub horizons: Vec<HorizonPrediction>,
    /// The largest contributions to the direction score, largest first.
    pub drivers: Vec<String>,
    pub explanation: String,
}

/// One input's contribution to the score, with a label for drivers.
struct Term {
    contribution: f64,
    label: String,
}

/// The baseline prediction for one stock: one entry per horizon in
/// `cfg.horizons` (zeros skipped), the top drivers and a sentence.
pub fn predict(f: &Features, news: &NewsSignal, cfg: &BaselineConfig) -> BaselinePrediction {
    let daily_vol = f
        .vol_20
        .filter(|v| v.is_finite())
        .unwrap_or(DEFAULT_DAILY_VOL_PCT)
        .max(MIN_DAILY_VOL_PCT);
    let terms = terms(f, news, daily_vol);
    let score: f64 = terms.iter().map(|t| t.contribution).sum();
    let q = 1.0 / (1.0 + (-score).exp());
    // Out-of-range settings are clamped rather than rejected: a bad config
    // should degrade a prediction, not stop the batch.
    let coverage = if cfg.coverage.is_finite() {
        cfg.coverage.clamp(0.01, 0.999)
    } else {
        BaselineConfig::default().coverage
    };
    let flat = if cfg.flat_band_pct.is_finite() {
        cfg.flat_band_pct.abs()
    } else {
        BaselineConfig::default().flat_band_pct
    };
    let z = inverse_normal_cdf(0.5 + coverage / 2.0);

    let horizons: Vec<HorizonPrediction> = cfg
        .horizons
        .iter()
        .filter(|&&h| h > 0)
        .map(|&h| {
            let sd = daily_vol * f64::from(h).sqrt();
            let (mut mu, mut p_flat) = (0.0, 0.0);
            for _ in 0..8 {
                p_flat = normal_cdf((flat - mu) / sd) - normal_cdf((-flat - mu) / sd);
                mu = sd * (1.0 - p_flat) * (2.0 * q - 1.0) * K;
            }
            let p_up = (1.0 - p_flat) * q;
            // Down takes the remainder so the three sum to 1 exactly enough.
            let p_down = (1.0 - p_flat - p_up).max(0.0);
            HorizonPrediction {
                horizon_days: h,
                p_up,
                p_flat,
                p_down,
                expected_return: mu,
                band_low: mu - z * sd,
                band_high: mu + z * sd,
                coverage,
            }
        })
        .collect();

    let mut ranked: Vec<&Term> = terms
        .iter()
        .filter(|t| t.contribution.abs() >= 0.005)
        .collect();
    ranked.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    let drivers: Vec<String> = ranked.iter().take(3).map(|t| t.label.clone()).collect();
    let explanation = explain(&horizons, &drivers, q, f.vol_20.is_none(), daily_vol);
    BaselinePrediction {
        horizons,
        drivers,
        explanation,
    }
}

fn terms(f: &Features, news: &NewsSignal, daily_vol: f64) -> Vec<Term> {
    let z = |x: f64, sd: f64| (x / sd).clamp(-CLAMP, CLAMP);
    let lean = |c: f64| if c >= 0.0 { "bullish" } else { "bearish" };
    let mut t = Vec::new();
    if let Some(r) = f.ret_5d.filter(|x| x.is_finite()) {
        let c = w::MOMENTUM_5D * z(r, daily_vol * 5f64.sqrt());
        t.push(Term {
            contribution: c,
            label: format!("5-day return {r:+.1}% (momentum, {})", lean(c)),
        });
    }
    if let Some(r) = f.ret_20d.filter(|x| x.is_finite()) {
        let c = w::MOMENTUM_20D * z(r, daily_vol * 20f64.sqrt());
        t.push(Term {
            contribution: c,
            label: format!("20-day return {r:+.1}% (momentum, {})", lean(c)),
        });
    }
    if let Some(ma) = f.ma_20.filter(|m| m.is_finite() && *m > 0.0) {
        let gap = (f.close / ma - 1.0) * 100.0;
        if gap.is_finite() {
            let c = w::MA20_GAP * z(gap, daily_vol * 20f64.sqrt());
            t.push(Term {
                contribution: c,
                label: format!("close {gap:+.1}% vs 20-day mean (reversion, {})", lean(c)),
            });
        }
    }
    if let Some(rsi) = f.rsi_14.filter(|x| x.is_finite()) {
        let c = w::RSI * ((rsi - 50.0) / 50.0).clamp(-1.0, 1.0);
        t.push(Term {
            contribution: c,
            label: format!("RSI {rsi:.0} (reversion, {})", lean(c)),
        });
    }
    if let Some(r) = f.index_ret_5d.filter(|x| x.is_finite()) {
        let c = w::INDEX_5D * z(r, INDEX_DAILY_VOL_PCT * 5f64.sqrt());
        t.push(Term {
            contribution: c,
            label: format!("index 5-day {r:+.1}% ({})", lean(c)),
        });
    }
    if let Some(s) = news.news_sentiment.filter(|x| x.is_finite()) {
        // One item is weak evidence; the weight grows to full at
        // NEWS_FULL_COUNT items. A count alone has no direction.
        let weight = (f64::from(news.news_count) / NEWS_FULL_COUNT).min(1.0);
        let c = w::NEWS * s.clamp(-1.0, 1.0) * weight;
        t.push(Term {
            contribution: c,
            label: format!(
                "{} news item(s), sentiment {s:+.2} ({})",
                news.news_count,
                lean(c)
            ),
        });
    }
    t
}

fn explain(
    horizons: &[HorizonPrediction],
    drivers: &[String],
    q: f64,
    default_vol: bool,
    daily_vol: f64,
) -> String {
    let tilt = if (q - 0.5).abs() < 0.02 {
        "no clear direction"
    } else if q > 0.5 {
        "a slight upward tilt"
    } else {
        "a slight downward tilt"
    };
    let mut s = format!("Statistical baseline (prior weights, not fitted): {tilt}");
    if let Some(h) = horizons.first() {
        s.push_str(&format!(
            "; over {} day(s) up {:.0}% / flat {:.0}% / down {:.0}%, expected {:+.2}% ({:.0}% band {:+.2}% to {:+.2}%)",
            h.horizon_days,
            h.p_up * 100.0,
            h.p_flat * 100.0,
            h.p_down * 100.0,
            h.expected_return,
            h.coverage * 100.0,
            h.band_low,
            h.band_high
        ));
    }
    if drivers.is_empty() {
        s.push_str("; no signal inputs available");
    } else {
        s.push_str(&format!("; drivers: {}", drivers.join(", ")));
    }
    if default_vol {
        s.push_str(&format!(
            "; volatility assumed {daily_vol:.1}%/day (short history)"
        ));
    }
    s.push('.');
    s
}

/// Standard normal CDF, Hart's double-precision rational approximation (as
/// given by West, 2005); absolute error ~1e-15.
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let xa = x.abs();
    let tail = if xa > 37.0 {
        0.0
    } else {
        let e = (-xa * xa / 2.0).exp();
        if xa < 7.071_067_811_865_47 {
            let mut n = 3.526_249_659_989_11e-2 * xa + 0.700_383_064_443_688;
            for k in [
                6.373_962_203_531_65,
                33.912_866_078_383,
                112.079_291_497_871,
                221.213_596_169_931,
                220.206_867_912_376,
            ] {
                n = n * xa + k;
            }
            let mut d = 8.838_834_764_831_84e-2 * xa + 1.755_667_163_182_64;
            for k in [
                16.064_177_579_207,
                86.780_732_202_946_1,
                296.564_248_779_674,
                637.333_633_378_831,
                793.826_512_519_948,
                440.413_735_824_752,
            ] {
                d = d * xa + k;
            }
            e * n / d
        } else {
            let mut b = xa + 0.65;
            b = xa + 4.0 / b;
            b = xa + 3.0 / b;
            b = xa + 2.0 / b;
            b = xa + 1.0 / b;
            e / b / 2.506_628_274_631
        }
    };
    if x > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Inverse standard normal CDF: Acklam's rational approximation (relative
/// error 1.15e-9) polished by one Halley step on `normal_cdf`, which
/// brings it to ~1e-14. `p` outside (0, 1) gives ±inf / NaN.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn features() -> Features {
        Features {
            stock_id: 1,
            as_of_date: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
            close: 102.0,
            ret_1d: Some(0.4),
            ret_5d: Some(1.5),
            ret_20d: Some(3.0),
            ma_5: Some(101.0),
            ma_20: Some(100.0),
            ma_60: Some(97.0),
            rsi_14: Some(58.0),
            vol_20: Some(1.6),
            volume_ratio: Some(1.2),
            index_ret_1d: Some(0.2),
            index_ret_5d: Some(0.8),
            history: 300,
        }
    }

    fn check_invariants(p: &BaselinePrediction) {
        for h in &p.horizons {
            for x in [h.p_up, h.p_flat, h.p_down] {
                assert!((0.0..=1.0).contains(&x), "{h:?}");
            }
            assert!((h.p_up + h.p_flat + h.p_down - 1.0).abs() < 1e-9, "{h:?}");
            assert!(h.band_low <= h.expected_return && h.expected_return <= h.band_high);
        }
    }

    #[test]
    fn normal_functions_match_reference_values() {
        // Reference values from scipy / Python's statistics.NormalDist.
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-14);
        assert!((normal_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-15);
        assert!((inverse_normal_cdf(0.9) - 1.281_551_565_544_6).abs() < 1e-12);
        assert!((inverse_normal_cdf(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((inverse_normal_cdf(1e-10) + 6.361_340_902_404_056).abs() < 1e-8);
        for i in 1..1000 {
            let p = f64::from(i) / 1000.0;
            assert!((normal_cdf(inverse_normal_cdf(p)) - p).abs() < 1e-13, "{p}");
        }
        assert!(inverse_normal_cdf(1.5).is_nan());
    }

    #[test]
    fn probabilities_and_bands_are_consistent() {
        let cfg = BaselineConfig::default();
        let mut f = features();
        for ret in [-30.0, -5.0, 0.0, 5.0, 30.0] {
            for vol in [None, Some(0.0), Some(0.3), Some(8.0)] {
                f.ret_5d = Some(ret);
                f.vol_20 = vol;
                let news = NewsSignal {
                    news_count: 9,
                    news_sentiment: Some(-0.7),
                };
                let p = predict(&f, &news, &cfg);
                assert_eq!(p.horizons.len(), 2);
                check_invariants(&p);
            }
        }
        // Nothing known at all still predicts (with the default vol).
        let bare = Features {
            ret_1d: None,
            ret_5d: None,
            ret_20d: None,
            ma_5: None,
            ma_20: None,
            ma_60: None,
            rsi_14: None,
            vol_20: None,
            volume_ratio: None,
            index_ret_1d: None,
            index_ret_5d: None,
            ..features()
        };
        let p = predict(&bare, &NewsSignal::default(), &cfg);
        check_invariants(&p);
        assert!(p.drivers.is_empty());
        assert!((p.horizons[0].p_up - p.horizons[0].p_down).abs() < 1e-12);
        assert!(
            p.explanation.contains("assumed 2.0%/day"),
            "{}",
            p.explanation
        );
    }

    #[test]
    fn bands_widen_with_horizon_and_volatility() {
        let cfg = BaselineConfig {
            horizons: vec![1, 5, 20],
            ..Default::default()
        };
        let p = predict(&features(), &NewsSignal::default(), &cfg);
        let width = |h: &HorizonPrediction| h.band_high - h.band_low;
        assert!(width(&p.horizons[0]) < width(&p.horizons[1]));
        assert!(width(&p.horizons[1]) < width(&p.horizons[2]));
        // Band = ±z(0.9)·sd: for 1 day at vol 1.6 %, 2 · 1.28155 · 1.6.
        assert!((width(&p.horizons[0]) - 2.0 * 1.281_551_565_544_6 * 1.6).abs() < 1e-9);
        // More flat mass over shorter horizons (a fixed band, a narrower sd).
        assert!(p.horizons[0].p_flat > p.horizons[2].p_flat);
        let mut calm = features();
        calm.vol_20 = Some(0.8);
        let q = predict(&calm, &NewsSignal::default(), &cfg);
        for (a, b) in q.horizons.iter().zip(&p.horizons) {
            assert!(width(a) < width(b));
        }
    }

    #[test]
    fn monotone_in_momentum() {
        let cfg = BaselineConfig::default();
        let mut f = features();
        let mut last: Option<HorizonPrediction> = None;
        for i in -40..=40 {
            f.ret_5d = Some(f64::from(i) * 0.5);
            f.ret_20d = Some(f64::from(i));
            let p = predict(&f, &NewsSignal::default(), &cfg);
            let h = p.horizons[1].clone();
            if let Some(prev) = &last {
                assert!(h.p_up >= prev.p_up, "{i}");
                assert!(h.p_down <= prev.p_down, "{i}");
                assert!(h.expected_return >= prev.expected_return, "{i}");
            }
            last = Some(h);
        }
        // Strong momentum is a driver.
        f.ret_5d = Some(8.0);
        f.ret_20d = Some(15.0);
        let p = predict(&f, &NewsSignal::default(), &cfg);
        assert!(p.drivers[0].contains("momentum"), "{:?}", p.drivers);
        assert!(p.horizons[0].p_up > p.horizons[0].p_down);
        assert!(p.horizons[0].expected_return > 0.0);
    }

    #[test]
    fn news_moves_the_tilt_and_shows_as_a_driver() {
        let cfg = BaselineConfig::default();
        let f = features();
        let none = predict(&f, &NewsSignal::default(), &cfg);
        let bad = predict(
            &f,
            &NewsSignal {
                news_count: 10,
                news_sentiment: Some(-1.0),
            },
            &cfg,
        );
        assert!(bad.horizons[0].p_down > none.horizons[0].p_down);
        assert!(bad.drivers[0].contains("news"), "{:?}", bad.drivers);
        assert!(bad.drivers.len() <= 3);
        // Count without a sentiment: no direction from news.
        let count_only = predict(
            &f,
            &NewsSignal {
                news_count: 10,
                news_sentiment: None,
            },
            &cfg,
        );
        assert_eq!(count_only, none);
    }

    #[test]
    fn deterministic_and_serialisable() {
        let cfg = BaselineConfig::default();
        let a = predict(&features(), &NewsSignal::default(), &cfg);
        let b = predict(&features(), &NewsSignal::default(), &cfg);
        assert_eq!(a, b);
        let json = serde_json::to_string(&a).unwrap();
        let back: BaselinePrediction = serde_json::from_str(&json).unwrap();
        assert_eq!(back.horizons.len(), 2);
        let cfg: BaselineConfig = serde_json::from_str(r#"{"coverage": 0.9}"#).unwrap();
        assert_eq!(cfg.horizons, vec![1, 5]);
        assert_eq!(cfg.flat_band_pct, 0.5);
        let p = predict(&features(), &NewsSignal::default(), &cfg);
        assert_eq!(p.horizons[0].coverage, 0.9);
    }
}
