//! Predictions: features from stored bars ([`features`]), the offline
//! [`baseline`] model, LLM calls ([`llm`]) with a structured answer
//! ([`answer`]), A/B assignment ([`ab`]), a per-run [`budget`], the model
//! registry ([`registry`]) and the pass the `predict` job runs ([`pass`]).

pub mod ab;
pub mod answer;
pub mod baseline;
pub mod budget;
pub mod features;
pub mod llm;
pub mod pass;
pub mod registry;
pub mod store;

use serde::Deserialize;

/// `jobs/predict.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictConfig {
    /// Stocks with priority <= this (1 = most important).
    #[serde(default = "default_max_priority")]
    pub max_priority: i32,
    /// Trading days ahead.
    #[serde(default = "default_horizons")]
    pub horizons: Vec<u32>,
    /// Nominal coverage of the (low, high) band.
    #[serde(default = "default_coverage")]
    pub coverage: f64,
    /// |return| under this many percent is "flat".
    #[serde(default = "default_flat_band")]
    pub flat_band_pct: f64,
    /// Tolerance on p_up + p_flat + p_down = 1.
    #[serde(default = "default_tolerance")]
    pub prob_tolerance: f64,
    /// Linked news of this many days before the cut-off go into the prompt.
    #[serde(default = "default_news_days")]
    pub news_lookback_days: i64,
    #[serde(default = "default_max_news")]
    pub max_news: i64,
    /// Similar past articles retrieved (0: no retrieval).
    #[serde(default = "default_similar")]
    pub similar_k: usize,
    #[serde(default = "default_min_similarity")]
    pub min_similarity: f32,
    /// Stock predictions in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The active experiment (in jobs/models.toml) that assigns variants;
    /// without one, every active model predicts every stock.
    #[serde(default)]
    pub experiment: Option<String>,
    #[serde(default)]
    pub budget: budget::BudgetConfig,
}

fn default_max_priority() -> i32 {
    5
}
fn default_horizons() -> Vec<u32> {
    vec![1, 5]
}
fn default_coverage() -> f64 {
    0.8
}
fn default_flat_band() -> f64 {
    0.5
}
fn default_tolerance() -> f64 {
    0.02
}
fn default_news_days() -> i64 {
    3
}
fn default_max_news() -> i64 {
    10
}
fn default_similar() -> usize {
    5
}
fn default_min_similarity() -> f32 {
    0.2
}
fn default_concurrency() -> usize {
    4
}

impl PredictConfig {
    pub fn from_table(params: &toml::Table) -> anyhow::Result<PredictConfig> {
        let text = toml::to_string(params)?;
        let cfg: PredictConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("jobs/predict.toml: {}", e.message()))?;
        anyhow::ensure!(
            !cfg.horizons.is_empty() && cfg.horizons.iter().all(|h| *h > 0),
            "jobs/predict.toml: horizons must be positive trading-day counts"
        );
        anyhow::ensure!(
            cfg.coverage > 0.0 && cfg.coverage < 1.0,
            "jobs/predict.toml: coverage must be in (0, 1)"
        );
        Ok(cfg)
    }

    pub fn rules(&self) -> answer::Rules {
        answer::Rules {
            horizons: self.horizons.clone(),
            prob_tolerance: self.prob_tolerance,
            coverage: self.coverage,
            flat_band_pct: self.flat_band_pct,
        }
    }
}
