//! Evaluation (issue #7): per-prediction scores and their aggregates
//! ([`metrics`]), the naive baselines every prediction is scored against
//! ([`baselines`]), daily KPIs and rolling history with Polars
//! ([`performance`]), A/B comparisons ([`compare`]) and regression
//! detection over evaluation history ([`regression`]). The `evaluate`,
//! `performance_daily` and `regression_detect` jobs drive them.

pub mod baselines;
pub mod compare;
pub mod metrics;
pub mod performance;
pub mod regression;
pub mod store;
