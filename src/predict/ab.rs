//! A/B experiments over models and prompts, and the deterministic
//! assignment of a (stock, as-of date) to one variant.
//!
//! Assignment is a pure function of the experiment name, the stock and the
//! date, so a rerun of a day's predictions picks the same variants, and two
//! daemons agree without sharing state. Predictions store the variant they
//! were made with, so reweighting an experiment later changes only future
//! assignments, never what is stored.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One experiment from the configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Part of the hash: renaming an experiment reshuffles its assignments.
    pub name: String,
    pub variants: Vec<Variant>,
    /// An inactive experiment is kept in the configuration (its name stays
    /// in stored predictions) but not used for new ones.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// One arm of an experiment.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// Relative weight; the weights need not sum to 1.
    pub weight: f64,
    /// model name from the registry (None: the experiment's default model)
    #[serde(default)]
    pub model: Option<String>,
    /// prompt template file under jobs/prompts/ (None: the model's own)
    #[serde(default)]
    pub prompt: Option<String>,
}

impl Experiment {
    /// Checks what [`Experiment::assign`] relies on: a name, at least one
    /// variant, unique non-empty variant names, weights finite and > 0.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("experiment name is empty".to_string());
        }
        if self.variants.is_empty() {
            return Err(format!("experiment {:?} has no variants", self.name));
        }
        for (i, v) in self.variants.iter().enumerate() {
            if v.name.trim().is_empty() {
                return Err(format!(
                    "experiment {:?}: variant #{} has an empty name",
                    self.name,
                    i + 1
                ));
            }
            if self.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(format!(
                    "experiment {:?}: variant name {:?} is used twice",
                    self.name, v.name
                ));
            }
            if !(v.weight.is_finite() && v.weight > 0.0) {
                return Err(format!(
                    "experiment {:?}: variant {:?} has weight {}, it must be a finite number > 0",
                    self.name, v.name, v.weight
                ));
            }
        }
        Ok(())
    }

    /// The variant for `stock_key` (`"exchange:code"`) on `as_of`:
    /// blake3 of `"name|exchange:code|YYYY-MM-DD"`, its first 8 bytes as a
    /// little-endian u64, the top 53 bits as a uniform number in [0, 1),
    /// matched against the cumulative weights in configuration order.
    ///
    /// # Panics
    /// If the experiment has no variants; [`Experiment::validate`] rejects
    /// that when the configuration is loaded. Use
    /// [`Experiment::try_assign`] on unvalidated experiments.
    pub fn assign(&self, stock_key: &str, as_of: NaiveDate) -> &Variant {
        self.try_assign(stock_key, as_of)
            .expect("Experiment::assign on an experiment without variants (validate() first)")
    }

    /// [`Experiment::assign`], returning None when there are no variants.
    /// Non-finite or non-positive weights (which `validate` rejects) count
    /// as 0; if no weight is usable the first variant is chosen.
    pub fn try_assign(&self, stock_key: &str, as_of: NaiveDate) -> Option<&Variant> {
        let first = self.variants.first()?;
        let weight = |v: &Variant| {
            if v.weight.is_finite() && v.weight > 0.0 {
                v.weight
            } else {
                0.0
            }
        };
        let total: f64 = self.variants.iter().map(weight).sum();
        if !(total.is_finite() && total > 0.0) {
            return Some(first);
        }
        let point = unit_hash(&self.name, stock_key, as_of) * total;
        let mut cumulative = 0.0;
        let mut last_usable = first;
        for v in &self.variants {
            let w = weight(v);
            if w == 0.0 {
                continue;
            }
            cumulative += w;
            last_usable = v;
            if point < cumulative {
                return Some(v);
            }
        }
        // Rounding can leave `point` a hair above the float sum of weights.
        Some(last_usable)
    }
}

/// A uniform number in [0, 1) from the assignment key.
fn unit_hash(experiment: &str, stock_key: &str, as_of: NaiveDate) -> f64 {
    let key = format!("{experiment}|{stock_key}|{}", as_of.format("%Y-%m-%d"));
    let hash = blake3::hash(key.as_bytes());
    let mut first8 = [0u8; 8];
    first8.copy_from_slice(&hash.as_bytes()[..8]);
    let x = u64::from_le_bytes(first8);
    // 53 bits fill an f64 mantissa exactly, so the result is never 1.0.
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn exp(name: &str, weights: &[f64]) -> Experiment {
        Experiment {
            name: name.to_string(),
            variants: weights
                .iter()
                .enumerate()
                .map(|(i, &w)| Variant {
                    name: format!("v{i}"),
                    weight: w,
                    model: None,
                    prompt: None,
                })
                .collect(),
            active: true,
        }
    }

    fn pairs() -> impl Iterator<Item = (String, NaiveDate)> {
        let start = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        (0..500).flat_map(move |s| {
            (0..20u64).map(move |d| {
                (
                    format!("XNYS:S{s:04}"),
                    start.checked_add_days(chrono::Days::new(d)).unwrap(),
                )
            })
        })
    }

    fn split(e: &Experiment) -> Vec<f64> {
        let mut counts = vec![0usize; e.variants.len()];
        let mut n = 0;
        for (stock, date) in pairs() {
            let v = e.assign(&stock, date);
            let i = e.variants.iter().position(|w| w.name == v.name).unwrap();
            counts[i] += 1;
            n += 1;
        }
        assert_eq!(n, 10_000);
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    #[test]
    fn deterministic() {
        let e = exp("prompt-v2", &[0.5, 0.3, 0.2]);
        let d = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        let first = e.assign("XNAS:AAPL", d).name.clone();
        for _ in 0..10 {
            assert_eq!(e.assign("XNAS:AAPL", d).name, first);
            assert_eq!(e.clone().assign("XNAS:AAPL", d).name, first);
        }
        // Pinned: a change of the hashing scheme would reshuffle reruns.
        let key = "prompt-v2|XNAS:AAPL|2025-03-14";
        let h = blake3::hash(key.as_bytes());
        let x = u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap());
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(unit_hash("prompt-v2", "XNAS:AAPL", d), u);
        let expected = if u < 0.5 {
            "v0"
        } else if u < 0.8 {
            "v1"
        } else {
            "v2"
        };
        assert_eq!(first, expected);
    }

    #[test]
    fn split_matches_weights() {
        for weights in [vec![0.5, 0.5], vec![0.7, 0.2, 0.1]] {
            let e = exp("split", &weights);
            let got = split(&e);
            println!("weights {weights:?} -> split {got:?}");
            for (w, g) in weights.iter().zip(&got) {
                assert!((w - g).abs() < 0.02, "weight {w}, got {g} ({got:?})");
            }
        }
    }

    #[test]
    fn unnormalised_weights_split_the_same() {
        let a = exp("same", &[0.7, 0.2, 0.1]);
        let b = exp("same", &[7.0, 2.0, 1.0]);
        let d = NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
        // Identical up to float rounding at the exact boundaries.
        let differ = (0..2000)
            .filter(|i| {
                let s = format!("XLON:T{i}");
                a.assign(&s, d).name != b.assign(&s, d).name
            })
            .count();
        assert!(differ <= 1, "{differ}");
    }

    #[test]
    fn experiments_are_independent() {
        let a = exp("exp-a", &[0.5, 0.5]);
        let b = exp("exp-b", &[0.5, 0.5]);
        let mut both = [[0usize; 2]; 2];
        for (stock, date) in pairs() {
            let i = usize::from(a.assign(&stock, date).name == "v1");
            let j = usize::from(b.assign(&stock, date).name == "v1");
            both[i][j] += 1;
        }
        println!("joint counts a x b: {both:?}");
        // Independent 50/50 splits put ~25% in each cell; identical
        // assignments would leave the off-diagonal empty.
        for row in both {
            for c in row {
                assert!((c as f64 / 10_000.0 - 0.25).abs() < 0.02, "{both:?}");
            }
        }
    }

    #[test]
    fn dates_and_stocks_both_matter() {
        let e = exp("vary", &[0.5, 0.5]);
        let d0 = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        let across_dates: std::collections::HashSet<String> = (0..30u64)
            .map(|k| e.assign("XNYS:IBM", d0 + chrono::Days::new(k)).name.clone())
            .collect();
        assert_eq!(across_dates.len(), 2);
        let across_stocks: std::collections::HashSet<String> = (0..30)
            .map(|k| e.assign(&format!("XNYS:S{k}"), d0).name.clone())
            .collect();
        assert_eq!(across_stocks.len(), 2);
    }

    #[test]
    fn random_weights_always_pick_a_valid_variant() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let d = NaiveDate::from_ymd_opt(2025, 2, 3).unwrap();
        for _ in 0..200 {
            let n = rng.random_range(1..6);
            let weights: Vec<f64> = (0..n).map(|_| rng.random_range(0.001..10.0)).collect();
            let e = exp("rand", &weights);
            e.validate().unwrap();
            for k in 0..50 {
                let v = e.assign(&format!("XPAR:R{k}"), d);
                assert!(e.variants.iter().any(|w| w.name == v.name));
            }
        }
    }

    #[test]
    fn try_assign_tolerates_unvalidated_experiments() {
        let d = NaiveDate::from_ymd_opt(2025, 2, 3).unwrap();
        assert!(exp("none", &[]).try_assign("X:Y", d).is_none());
        // Unusable weights count as 0.
        let e = exp("bad", &[f64::NAN, 0.0, 1.0]);
        for k in 0..100 {
            assert_eq!(e.try_assign(&format!("X:{k}"), d).unwrap().name, "v2");
        }
        let e = exp("zero", &[0.0, -1.0]);
        assert_eq!(e.try_assign("X:Y", d).unwrap().name, "v0");
    }

    #[test]
    fn validation_errors() {
        assert!(exp("ok", &[1.0, 2.0]).validate().is_ok());
        assert!(exp("", &[1.0])
            .validate()
            .unwrap_err()
            .contains("name is empty"));
        assert!(exp("e", &[])
            .validate()
            .unwrap_err()
            .contains("no variants"));
        for w in [0.0, -0.5, f64::NAN, f64::INFINITY] {
            let err = exp("e", &[1.0, w]).validate().unwrap_err();
            assert!(err.contains("weight"), "{w}: {err}");
        }
        let mut e = exp("e", &[1.0, 1.0]);
        e.variants[1].name = "v0".to_string();
        assert!(e.validate().unwrap_err().contains("used twice"));
        e.variants[1].name = " ".to_string();
        assert!(e.validate().unwrap_err().contains("empty name"));
    }

    #[test]
    fn deserialises_with_defaults_and_rejects_unknown_fields() {
        let e: Experiment = serde_json::from_str(
            r#"{"name": "m", "variants": [
                {"name": "a", "weight": 1, "model": "gpt-4.1-mini"},
                {"name": "b", "weight": 1, "prompt": "predict_v2.txt"}]}"#,
        )
        .unwrap();
        assert!(e.active);
        assert_eq!(e.variants[0].model.as_deref(), Some("gpt-4.1-mini"));
        assert_eq!(e.variants[0].prompt, None);
        assert_eq!(e.variants[1].prompt.as_deref(), Some("predict_v2.txt"));
        let err =
            serde_json::from_str::<Experiment>(r#"{"name": "m", "variants": [], "actve": false}"#)
                .unwrap_err();
        assert!(err.to_string().contains("actve"), "{err}");
        let err = serde_json::from_str::<Experiment>(
            r#"{"name": "m", "variants": [{"name": "a", "weight": 1, "wieght": 2}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("wieght"), "{err}");
    }
}
