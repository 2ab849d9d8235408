//! The integration suite: one test binary (each binary links the whole
//! stack again), one module per area.

mod cache;
mod charts;
mod cli;
mod daemon;
mod evaluation;
mod market;
mod news;
mod plan;
mod predict;
mod providers;
mod sample;
mod storage;
mod support;
mod vectors;
