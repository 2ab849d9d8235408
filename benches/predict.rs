//! Benchmark of the offline baseline (issue #6 acceptance): features and
//! baseline predictions for 2,000 stocks × 5 years of daily bars, timed,
//! with the process's peak memory. Target: ≤ 30 s and ≤ 2 GB.
//!
//! Runs, on one synthetic panel (seeded geometric random walks, ~1,260
//! sessions per stock, some stocks listed late or delisted early):
//! - live: `features::compute` for the last session + `baseline::predict`
//!   for every stock (what the daily job does);
//! - backtest: features + predictions for each of the last 250 sessions,
//!   via `features::compute_many` (what evaluation backfills do), and the
//!   same via 250 separate `compute` calls, extrapolated from a few;
//! - a naive per-stock Rust loop computing the same features for the
//!   last session: the yardstick for the Polars time, and a check that
//!   both give the same numbers.
//!
//! Memory: `VmRSS` before/after and `VmHWM` (peak) from /proc/self/status;
//! the peak includes the generated input. MB are MiB (1024 kB).
//! Prints a Markdown table and writes it to `target/bench-predict.md`.
//! `cargo bench --bench predict`; `PREDICT_BENCH_STOCKS` shrinks the panel.

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tickerd::predict::baseline::{self, BaselineConfig, NewsSignal};
use tickerd::predict::features::{self, DailyBars, Features};

const SESSIONS: usize = 1260;
const BACKTEST_DAYS: usize = 250;
const TARGET_SECS: f64 = 30.0;
const TARGET_MB: f64 = 2048.0;

fn main() -> anyhow::Result<()> {
    let stocks: usize = std::env::var("PREDICT_BENCH_STOCKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let rss_start = status_mb("VmRSS");
    let t = Instant::now();
    let (bars, sessions) = generate(stocks, SESSIONS, 42);
    let gen_secs = t.elapsed().as_secs_f64();
    let rss_before = status_mb("VmRSS");
    let as_of = *sessions.last().context("no sessions")?;
    let cfg = BaselineConfig::default();
    let news = NewsSignal::default();

    // Live: one as-of date.
    let t = Instant::now();
    let live = features::compute(&bars, None, as_of)?;
    let live_feat = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let preds: Vec<_> = live
        .iter()
        .map(|f| baseline::predict(f, &news, &cfg))
        .collect();
    let live_pred = t.elapsed().as_secs_f64();
    let live_total = live_feat + live_pred;

    // Backtest: the last 250 sessions in one pass.
    let dates = &sessions[sessions.len() - BACKTEST_DAYS..];
    let t = Instant::now();
    let many = features::compute_many(&bars, None, dates)?;
    let bt_feat = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut bt_preds = 0usize;
    for day in &many {
        for f in day {
            std::hint::black_box(baseline::predict(f, &news, &cfg));
            bt_preds += 1;
        }
    }
    let bt_pred = t.elapsed().as_secs_f64();
    let bt_total = bt_feat + bt_pred;
    anyhow::ensure!(
        many.last() == Some(&live),
        "compute_many's last date differs from compute"
    );

    // Backtest the slow way: one `compute` per date, timed on a few.
    let probes = 4;
    let t = Instant::now();
    for (k, &d) in dates.iter().rev().take(probes).enumerate() {
        let got = features::compute(&bars, None, d)?;
        anyhow::ensure!(
            got == many[dates.len() - 1 - k],
            "compute and compute_many differ on {d}"
        );
    }
    let per_call = t.elapsed().as_secs_f64() / probes as f64;
    let bt_calls_est = per_call * BACKTEST_DAYS as f64 + bt_pred;

    // Naive per-stock loop, same definitions.
    let t = Instant::now();
    let naive = naive_features(&bars, as_of);
    let naive_secs = t.elapsed().as_secs_f64();
    let (checked, max_diff) = compare(&live, &naive)?;
    let rss_after = status_mb("VmRSS");
    let peak = status_mb("VmHWM");

    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    let time_ok = live_total <= TARGET_SECS && bt_total <= TARGET_SECS;
    let mem_ok = peak.is_some_and(|p| p <= TARGET_MB);
    let mb = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.0} MB"));
    let bar_count = bars.stock_id.len();
    let mut md = String::new();
    md.push_str(&format!(
        "## predict: baseline on {stocks} stocks × {SESSIONS} sessions ({bar_count} bars, generated in {gen_secs:.1} s)\n\n"
    ));
    md.push_str("| run | features | predictions | total | rows |\n|---|---:|---:|---:|---:|\n");
    md.push_str(&format!(
        "| live: 1 as-of date (Polars) | {live_feat:.2} s | {live_pred:.3} s | {live_total:.2} s | {} |\n",
        preds.len()
    ));
    md.push_str(&format!(
        "| backtest: last {BACKTEST_DAYS} dates, `compute_many` | {bt_feat:.2} s | {bt_pred:.2} s | {bt_total:.2} s | {bt_preds} |\n"
    ));
    md.push_str(&format!(
        "| backtest: {BACKTEST_DAYS} × `compute` (est. from {probes}) | {:.1} s | {bt_pred:.2} s | {bt_calls_est:.1} s | {bt_preds} |\n",
        per_call * BACKTEST_DAYS as f64
    ));
    md.push_str(&format!(
        "| naive per-stock Rust loop, 1 as-of date | {naive_secs:.2} s | – | {naive_secs:.2} s | {} |\n",
        naive.len()
    ));
    md.push_str(&format!(
        "\nPolars / naive (live features): {:.2}×. Naive vs Polars: {checked} stocks compared, \
         all 11 features equal within {max_diff:.1e} (relative).\n\n",
        live_feat / naive_secs.max(1e-9)
    ));
    md.push_str("| memory | value |\n|---|---:|\n");
    md.push_str(&format!("| RSS at start | {} |\n", mb(rss_start)));
    md.push_str(&format!(
        "| RSS with input generated (before) | {} |\n",
        mb(rss_before)
    ));
    md.push_str(&format!("| RSS after | {} |\n", mb(rss_after)));
    md.push_str(&format!("| peak (VmHWM) | {} |\n", mb(peak)));
    md.push_str(&format!(
        "\nTargets (≤ {TARGET_SECS:.0} s live and backtest, ≤ {TARGET_MB:.0} MB peak): time met: {}, memory met: {}.\n",
        yes(time_ok),
        yes(mem_ok)
    ));
    println!("{md}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("locating the target folder")?
        .join("bench-predict.md");
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("written to {}", out.display());
    Ok(())
}

/// A field of /proc/self/status in MB (None off Linux).
fn status_mb(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Weekday sessions from 2021-01-04; per stock a geometric random walk
/// (drift and vol drawn per stock) with noisy volume. One stock in ten
/// lists late, one in forty delists early (so it is skipped as stale).
/// Rows are shuffled by stock blocks in reverse date order, as input order
/// is not promised.
fn generate(stocks: usize, sessions: usize, seed: u64) -> (DailyBars, Vec<NaiveDate>) {
    let mut days = Vec::with_capacity(sessions);
    let mut d = NaiveDate::from_ymd_opt(2021, 1, 4).expect("valid date");
    while days.len() < sessions {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(d);
        }
        d += Duration::days(1);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bars = DailyBars::default();
    let cap = stocks * sessions;
    bars.stock_id.reserve(cap);
    bars.date.reserve(cap);
    bars.close.reserve(cap);
    bars.volume.reserve(cap);
    for s in 0..stocks {
        let start = if s % 10 == 3 {
            rng.random_range(0..sessions - 30)
        } else {
            0
        };
        let end = if s % 40 == 7 {
            rng.random_range(start + 1..sessions - 20)
        } else {
            sessions
        };
        let vol = rng.random_range(0.008..0.035);
        let drift = rng.random_range(-0.0004..0.0008);
        let mut price: f64 = rng.random_range(5.0..400.0);
        let base_volume: f64 = rng.random_range(5e4..5e6);
        for &day in days[start..end].iter().rev() {
            // Walk backwards from the end price: same distribution, and the
            // reversed order exercises the sort.
            bars.stock_id.push(s as i64 + 1000);
            bars.date.push(day);
            bars.close.push(price);
            bars.volume
                .push((base_volume * (0.5 + rng.random::<f64>())).round() as i64);
            price = (price * (-(drift + vol * normal(&mut rng))).exp()).max(0.01);
        }
    }
    (bars, days)
}

/// A standard normal draw (Box–Muller; `rand_distr` is not a dependency).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The same features with plain loops: group by stock, sort, compute at
/// the last bar on or before `as_of`, with the synthetic equal-weighted
/// index. Deliberately straightforward (it is the check, not the product).
fn naive_features(bars: &DailyBars, as_of: NaiveDate) -> Vec<Features> {
    let mut by_stock: BTreeMap<i64, Vec<(NaiveDate, f64, f64)>> = BTreeMap::new();
    for i in 0..bars.stock_id.len() {
        if bars.date[i] <= as_of && bars.close[i].is_finite() && bars.close[i] > 0.0 {
            by_stock.entry(bars.stock_id[i]).or_default().push((
                bars.date[i],
                bars.close[i],
                bars.volume[i] as f64,
            ));
        }
    }
    // Equal-weighted index: mean 1-day return per date, compounded.
    let mut daily: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for rows in by_stock.values_mut() {
        rows.sort_by_key(|r| r.0);
        daily.entry(rows[0].0).or_insert((0.0, 0));
        for w in rows.windows(2) {
            let e = daily.entry(w[1].0).or_insert((0.0, 0));
            e.0 += (w[1].1 / w[0].1 - 1.0) * 100.0;
            e.1 += 1;
        }
    }
    let mut level = 1.0;
    let index: Vec<(NaiveDate, f64)> = daily
        .iter()
        .map(|(&d, &(sum, n))| {
            if n > 0 {
                level *= 1.0 + sum / n as f64 / 100.0;
            }
            (d, level)
        })
        .collect();
    let oldest = as_of - Duration::days(features::MAX_STALENESS_DAYS);
    let mut out = Vec::new();
    for (&id, rows) in &by_stock {
        let n = rows.len();
        let last = rows[n - 1];
        if last.0 < oldest {
            continue;
        }
        let c: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let ret = |k: usize| (n > k).then(|| (c[n - 1] / c[n - 1 - k] - 1.0) * 100.0);
        let ma = |k: usize| (n >= k).then(|| c[n - k..].iter().sum::<f64>() / k as f64);
        let vol = (n > 20).then(|| {
            let lr: Vec<f64> = (n - 20..n).map(|i| (c[i] / c[i - 1]).ln()).collect();
            let m = lr.iter().sum::<f64>() / 20.0;
            (lr.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 19.0).sqrt() * 100.0
        });
        let volume_ratio = (n > 20).then(|| {
            let prev = rows[n - 21..n - 1].iter().map(|r| r.2).sum::<f64>() / 20.0;
            last.2 / prev
        });
        let rsi = (n > 14).then(|| {
            let (mut g, mut l) = (0.0, 0.0);
            for i in 1..=14 {
                let ch = c[i] - c[i - 1];
                g += ch.max(0.0) / 14.0;
                l += (-ch).max(0.0) / 14.0;
            }
            for i in 15..n {
                let ch = c[i] - c[i - 1];
                g = (g * 13.0 + ch.max(0.0)) / 14.0;
                l = (l * 13.0 + (-ch).max(0.0)) / 14.0;
            }
            if l == 0.0 {
                if g == 0.0 {
                    50.0
                } else {
                    100.0
                }
            } else {
                100.0 - 100.0 / (1.0 + g / l)
            }
        });
        let k = index.partition_point(|r| r.0 <= last.0);
        let idx = |m: usize| (k > m).then(|| (index[k - 1].1 / index[k - 1 - m].1 - 1.0) * 100.0);
        out.push(Features {
            stock_id: id,
            as_of_date: last.0,
            close: last.1,
            ret_1d: ret(1),
            ret_5d: ret(5),
            ret_20d: ret(20),
            ma_5: ma(5),
            ma_20: ma(20),
            ma_60: ma(60),
            rsi_14: rsi,
            vol_20: vol,
            volume_ratio,
            index_ret_1d: idx(1),
            index_ret_5d: idx(5),
            history: n,
        });
    }
    out
}

/// Compares every stock's features; returns (stocks, max relative diff).
fn compare(polars: &[Features], naive: &[Features]) -> anyhow::Result<(usize, f64)> {
    anyhow::ensure!(
        polars.len() == naive.len(),
        "{} stocks from Polars, {} from the naive loop",
        polars.len(),
        naive.len()
    );
    let mut worst: f64 = 0.0;
    for (a, b) in polars.iter().zip(naive) {
        anyhow::ensure!(
            (a.stock_id, a.as_of_date, a.history) == (b.stock_id, b.as_of_date, b.history),
            "stock {} differs in identity or history",
            a.stock_id
        );
        let pairs = [
            (a.ret_1d, b.ret_1d),
            (a.ret_5d, b.ret_5d),
            (a.ret_20d, b.ret_20d),
            (a.ma_5, b.ma_5),
            (a.ma_20, b.ma_20),
            (a.ma_60, b.ma_60),
            (a.rsi_14, b.rsi_14),
            (a.vol_20, b.vol_20),
            (a.volume_ratio, b.volume_ratio),
            (a.index_ret_1d, b.index_ret_1d),
            (a.index_ret_5d, b.index_ret_5d),
        ];
        for (k, (x, y)) in pairs.into_iter().enumerate() {
            match (x, y) {
                (Some(x), Some(y)) => {
                    let rel = (x - y).abs() / x.abs().max(y.abs()).max(1e-3);
                    anyhow::ensure!(rel < 1e-6, "stock {} feature #{k}: {x} vs {y}", a.stock_id);
                    worst = worst.max(rel);
                }
                (None, None) => {}
                _ => anyhow::bail!("stock {} feature #{k}: {x:?} vs {y:?}", a.stock_id),
            }
        }
    }
    Ok((polars.len(), worst))
}
