//! tickerd: the daemon that runs the scheduled batch jobs of a
//! stock-prediction platform. `main.rs` is wiring only; everything lives
//! here so integration tests start the real application.

pub mod cache;
pub mod charts;
pub mod cli;
pub mod daemon;
pub mod diagnostics;
pub mod embed;
pub mod eval;
pub mod jobs;
pub mod ledger;
pub mod market;
pub mod news;
pub mod predict;
pub mod reports;
pub mod runner;
pub mod sample;
pub mod schedule;
pub mod settings;
pub mod storage;
pub mod telemetry;
pub mod time;
pub mod vectors;
