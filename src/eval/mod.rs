//! Evaluation (issue #7, in progress): per-prediction scores and their
//! aggregates with naive baselines ([`metrics`]), and regression detection
//! over evaluation history ([`regression`]). The `evaluate`,
//! `performance_daily` and `regression_detect` jobs that will use them are
//! not built yet.

pub mod metrics;
pub mod regression;
