//! Point-in-time features for predictions: per stock, the technical state
//! on its last daily bar on or before an as-of date (returns, moving
//! averages, RSI, volatility, volume ratio, the index's move).
//!
//! Input is plain vectors so callers need no Polars; the per-stock window
//! statistics are computed in bulk with Polars lazy (`.over("stock_id")`).
//!
//! Point in time: every bar after `as_of` is dropped before anything is
//! computed, and every statistic on a row looks only at that stock's rows
//! at or before it (and the index at or before its date), so a bar dated
//! after `as_of` cannot change a feature. `compute_many` relies on the same
//! property: one pass over the history up to the latest as-of date, then a
//! per-date pick, gives the same rows as `compute` for each date.
//!
//! Definitions (all percentages are in percent, e.g. `1.5` = 1.5 %):
//! - `ret_Nd`: simple return over N sessions, `close / close[-N] - 1`.
//! - `ma_N`: simple mean of the last N closes (this one included).
//! - `rsi_14`: Wilder's RSI. Wilder's smoothing: the first average gain /
//!   loss is the simple mean of the first 14 changes, then
//!   `avg = (13 * avg + x) / 14` (an EWM with alpha = 1/14 seeded by the
//!   SMA). It has infinite memory, so it depends (slightly, decaying as
//!   (13/14)^n) on where the stored history starts.
//! - `vol_20`: sample stdev (ddof 1) of the last 20 daily log returns, in
//!   percent per day, NOT annualised (multiply by sqrt(252) for that).
//! - `volume_ratio`: last volume / mean volume of the 20 sessions before.
//! - `index_ret_1d`/`_5d`: the index's simple return over 1 / 5 index
//!   sessions ending on the index's last date on or before the bar's date.
//!   Without an index, an equal-weighted index is synthesised from the mean
//!   `ret_1d` of all stocks with a bar that day (compounded into a level).

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use serde::Serialize;

/// Daily bars of many stocks, one entry per (stock, date), in any order.
/// All four vectors must have the same length.
#[derive(Debug, Clone, Default)]
pub struct DailyBars {
    pub stock_id: Vec<i64>,
    pub date: Vec<NaiveDate>,
    pub close: Vec<f64>,
    pub volume: Vec<i64>,
}

/// The market index's closes: (dates, closes), any order, same length.
pub type IndexCloses = (Vec<NaiveDate>, Vec<f64>);

/// A stock whose last bar is older than this before `as_of` is skipped: a
/// halted or delisted name should not get a prediction from stale data.
pub const MAX_STALENESS_DAYS: i64 = 10;

/// Periods of the features (sessions).
const RSI_PERIOD: usize = 14;
const VOL_WINDOW: usize = 20;
const VOLUME_WINDOW: usize = 20;

/// One stock's features on its last bar on or before the as-of date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Features {
    pub stock_id: i64,
    /// The date of the bar the features describe (≤ the as-of date).
    pub as_of_date: NaiveDate,
    pub close: f64,
    /// Simple returns, percent.
    pub ret_1d: Option<f64>,
    pub ret_5d: Option<f64>,
    pub ret_20d: Option<f64>,
    pub ma_5: Option<f64>,
    pub ma_20: Option<f64>,
    pub ma_60: Option<f64>,
    /// Wilder's RSI (SMA-seeded, alpha = 1/14), 0..100.
    pub rsi_14: Option<f64>,
    /// Sample stdev of 20 daily log returns, percent per day, not annualised.
    pub vol_20: Option<f64>,
    /// Last volume / mean volume of the previous 20 sessions.
    pub volume_ratio: Option<f64>,
    pub index_ret_1d: Option<f64>,
    pub index_ret_5d: Option<f64>,
    /// Bars of this stock used (on or before `as_of_date`).
    pub history: usize,
}

/// Features of every stock with a recent enough bar, as of `as_of`
/// (sorted by `stock_id`).
pub fn compute(
    bars: &DailyBars,
    index: Option<&IndexCloses>,
    as_of: NaiveDate,
) -> PolarsResult<Vec<Features>> {
    Ok(compute_many(bars, index, &[as_of])?
        .pop()
        .unwrap_or_default())
}

/// `compute` for many as-of dates in one pass (backtests, evaluation
/// backfills): the result's `i`-th entry equals `compute(.., as_of[i])`.
pub fn compute_many(
    bars: &DailyBars,
    index: Option<&IndexCloses>,
    as_of: &[NaiveDate],
) -> PolarsResult<Vec<Vec<Features>>> {
    let Some(&latest) = as_of.iter().max() else {
        return Ok(vec![]);
    };
    let panel = Panel::build(bars, latest)?;
    let index = match index {
        Some((dates, closes)) => index_returns(dates, closes, latest)?,
        None => {
            let (dates, levels) = synthetic_index(&panel)?;
            index_returns(&dates, &levels, latest)?
        }
    };
    Ok(as_of.iter().map(|&d| panel.pick(d, &index)).collect())
}

/// A compact block for a human or an LLM prompt.
pub fn to_prompt_table(f: &Features) -> String {
    fn pct(v: Option<f64>) -> String {
        v.map_or_else(|| "n/a".into(), |x| format!("{x:+.2}%"))
    }
    fn num(v: Option<f64>, digits: usize) -> String {
        v.map_or_else(|| "n/a".into(), |x| format!("{x:.digits$}"))
    }
    // Distance from the moving averages is what a reader compares, so say it.
    let vs = |ma: Option<f64>| match ma {
        Some(m) if m > 0.0 => format!(
            "{} (close {:+.2}%)",
            num(Some(m), 2),
            (f.close / m - 1.0) * 100.0
        ),
        _ => "n/a".into(),
    };
    let mut s = String::new();
    s.push_str(&format!(
        "stock {} as of {} ({} bars)\n",
        f.stock_id, f.as_of_date, f.history
    ));
    s.push_str(&format!("close        {:.2}\n", f.close));
    s.push_str(&format!(
        "return       1d {} | 5d {} | 20d {}\n",
        pct(f.ret_1d),
        pct(f.ret_5d),
        pct(f.ret_20d)
    ));
    s.push_str(&format!("ma_5         {}\n", vs(f.ma_5)));
    s.push_str(&format!("ma_20        {}\n", vs(f.ma_20)));
    s.push_str(&format!("ma_60        {}\n", vs(f.ma_60)));
    s.push_str(&format!("rsi_14       {}\n", num(f.rsi_14, 1)));
    s.push_str(&format!(
        "vol_20       {} per day (stdev of log returns, not annualised)\n",
        f.vol_20
            .map_or_else(|| "n/a".into(), |v| format!("{v:.2}%"))
    ));
    s.push_str(&format!(
        "volume       {}x the 20-day mean\n",
        num(f.volume_ratio, 2)
    ));
    s.push_str(&format!(
        "index        1d {} | 5d {}\n",
        pct(f.index_ret_1d),
        pct(f.index_ret_5d)
    ));
    s
}

/// Days since the Unix epoch: a plain Int32 key is cheaper to sort and
/// compare than a Date column and maps back exactly.
pub fn epoch_day(d: NaiveDate) -> i32 {
    // Dates are within chrono's range (±262k years), which fits i32 days.
    (d - NaiveDate::default()).num_days() as i32
}

pub fn from_epoch_day(d: i32) -> NaiveDate {
    NaiveDate::default() + Duration::days(i64::from(d))
}

fn window(n: usize) -> RollingOptionsFixedWindow {
    RollingOptionsFixedWindow {
        window_size: n,
        min_periods: n,
        ..Default::default()
    }
}

/// The per-row features of every stock's bars up to the latest as-of date,
/// sorted by (stock_id, day), as plain columns for the per-date pick.
struct Panel {
    stock_id: Vec<i64>,
    day: Vec<i32>,
    close: Vec<f64>,
    ret_1d: Vec<Option<f64>>,
    ret_5d: Vec<Option<f64>>,
    ret_20d: Vec<Option<f64>>,
    ma_5: Vec<Option<f64>>,
    ma_20: Vec<Option<f64>>,
    ma_60: Vec<Option<f64>>,
    rsi_14: Vec<Option<f64>>,
    vol_20: Vec<Option<f64>>,
    volume_ratio: Vec<Option<f64>>,
    /// Row ranges [start, end) of each stock.
    runs: Vec<(usize, usize)>,
}

impl Panel {
    fn build(bars: &DailyBars, latest: NaiveDate) -> PolarsResult<Panel> {
        let n = bars.stock_id.len();
        polars_ensure!(
            bars.date.len() == n && bars.close.len() == n && bars.volume.len() == n,
            ShapeMismatch: "DailyBars columns differ in length"
        );
        // Log closes are taken here because the `log` Polars feature is not
        // built; a non-positive or non-finite close cannot be a real trade,
        // so such bars are dropped rather than poisoning every window.
        let keep: Vec<usize> = (0..n)
            .filter(|&i| bars.close[i].is_finite() && bars.close[i] > 0.0)
            .collect();
        let df = df!(
            "stock_id" => keep.iter().map(|&i| bars.stock_id[i]).collect::<Vec<_>>(),
            "day" => keep.iter().map(|&i| epoch_day(bars.date[i])).collect::<Vec<_>>(),
            "close" => keep.iter().map(|&i| bars.close[i]).collect::<Vec<_>>(),
            "ln_close" => keep.iter().map(|&i| bars.close[i].ln()).collect::<Vec<_>>(),
            "volume" => keep.iter().map(|&i| bars.volume[i] as f64).collect::<Vec<_>>(),
        )?;
        drop(keep);
        let by = [col("stock_id")];
        let close = || col("close");
        let ret =
            |n: i64| ((close() / close().shift(lit(n)) - lit(1.0)) * lit(100.0)).over(by.clone());
        let std_opts = RollingOptionsFixedWindow {
            fn_params: Some(RollingFnParams::Var(RollingVarParams { ddof: 1 })),
            ..window(VOL_WINDOW)
        };
        let out = df
            .lazy()
            .filter(col("day").lt_eq(lit(epoch_day(latest))))
            // Stable, so duplicates keep their input order for the next step.
            .sort(
                ["stock_id", "day"],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            // A duplicated (stock, day) would double-count in every window;
            // the last one given wins, as for a corrected bar. (Comparing
            // with the next row is much cheaper than a hash `unique`.)
            .filter(
                col("stock_id")
                    .neq(col("stock_id").shift(lit(-1)))
                    .or(col("day").neq(col("day").shift(lit(-1))))
                    .fill_null(lit(true)),
            )
            // Windows run per stock (`.over`), not over the whole sorted
            // column masked by position: Polars' rolling kernels update
            // sums incrementally, so a whole-column window carries rounding
            // from the previous stock and from how much history precedes,
            // which breaks bit-exact point in time (`compute_many` vs
            // `compute`) and stock independence.
            .select([
                col("stock_id"),
                col("day"),
                close(),
                ret(1)?.alias("ret_1d"),
                ret(5)?.alias("ret_5d"),
                ret(20)?.alias("ret_20d"),
                close()
                    .rolling_mean(window(5))
                    .over(by.clone())?
                    .alias("ma_5"),
                close()
                    .rolling_mean(window(20))
                    .over(by.clone())?
                    .alias("ma_20"),
                close()
                    .rolling_mean(window(60))
                    .over(by.clone())?
                    .alias("ma_60"),
                (close() - close().shift(lit(1)))
                    .over(by.clone())?
                    .alias("change"),
                ((col("ln_close") - col("ln_close").shift(lit(1))).rolling_std(std_opts)
                    * lit(100.0))
                .over(by.clone())?
                .alias("vol_20"),
                (col("volume")
                    / col("volume")
                        .shift(lit(1))
                        .rolling_mean(window(VOLUME_WINDOW)))
                .over(by.clone())?
                .alias("volume_ratio"),
            ])
            .collect()?;

        let opt = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
            // A zero mean volume gives inf / NaN: not a usable ratio.
            Ok(out
                .column(name)?
                .f64()?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()))
                .collect())
        };
        let stock_id: Vec<i64> = out
            .column("stock_id")?
            .i64()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect();
        let day: Vec<i32> = out
            .column("day")?
            .i32()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect();
        let close: Vec<f64> = out
            .column("close")?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        let change = opt("change")?;
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=stock_id.len() {
            if i == stock_id.len() || stock_id[i] != stock_id[start] {
                runs.push((start, i));
                start = i;
            }
        }
        let mut rsi_14 = vec![None; stock_id.len()];
        for &(s, e) in &runs {
            wilder_rsi(&change[s..e], &mut rsi_14[s..e]);
        }
        Ok(Panel {
            ret_1d: opt("ret_1d")?,
            ret_5d: opt("ret_5d")?,
            ret_20d: opt("ret_20d")?,
            ma_5: opt("ma_5")?,
            ma_20: opt("ma_20")?,
            ma_60: opt("ma_60")?,
            vol_20: opt("vol_20")?,
            volume_ratio: opt("volume_ratio")?,
            rsi_14,
            stock_id,
            day,
            close,
            runs,
        })
    }

    /// Each stock's last row on or before `as_of`, unless stale.
    fn pick(&self, as_of: NaiveDate, index: &IndexReturns) -> Vec<Features> {
        let (as_of_d, oldest) = (
            epoch_day(as_of),
            epoch_day(as_of) - MAX_STALENESS_DAYS as i32,
        );
        let mut out = Vec::with_capacity(self.runs.len());
        for &(s, e) in &self.runs {
            // Rows of a run are sorted by day: the count of days <= as_of
            // is the position just past the wanted row.
            let k = self.day[s..e].partition_point(|&d| d <= as_of_d);
            if k == 0 || self.day[s + k - 1] < oldest {
                continue;
            }
            let i = s + k - 1;
            let (index_ret_1d, index_ret_5d) = index.at(self.day[i]);
            out.push(Features {
                stock_id: self.stock_id[i],
                as_of_date: from_epoch_day(self.day[i]),
                close: self.close[i],
                ret_1d: self.ret_1d[i],
                ret_5d: self.ret_5d[i],
                ret_20d: self.ret_20d[i],
                ma_5: self.ma_5[i],
                ma_20: self.ma_20[i],
                ma_60: self.ma_60[i],
                rsi_14: self.rsi_14[i],
                vol_20: self.vol_20[i],
                volume_ratio: self.volume_ratio[i],
                index_ret_1d,
                index_ret_5d,
                history: k,
            });
        }
        out
    }
}

/// Wilder's RSI on one stock's close changes (`changes[0]` is None: no
/// previous close). The recursion is sequential, so it runs here rather
/// than in Polars (whose `ewm_mean` needs the unbuilt `ewma` feature).
fn wilder_rsi(changes: &[Option<f64>], out: &mut [Option<f64>]) {
    let p = RSI_PERIOD as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    let mut seen = 0usize;
    for (i, c) in changes.iter().enumerate() {
        // Only the first change is None (sorted, no gaps within a run).
        let Some(c) = *c else { continue };
        let (g, l) = (c.max(0.0), (-c).max(0.0));
        seen += 1;
        if seen <= RSI_PERIOD {
            gain += g / p;
            loss += l / p;
            if seen < RSI_PERIOD {
                continue;
            }
        } else {
            gain = (gain * (p - 1.0) + g) / p;
            loss = (loss * (p - 1.0) + l) / p;
        }
        out[i] = Some(if loss == 0.0 {
            // No losses: RSI is 100 by definition (50 if nothing moved).
            if gain == 0.0 {
                50.0
            } else {
                100.0
            }
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        });
    }
}

/// The index's 1- and 5-session returns by index day, sorted by day.
struct IndexReturns {
    day: Vec<i32>,
    ret_1d: Vec<Option<f64>>,
    ret_5d: Vec<Option<f64>>,
}

impl IndexReturns {
    /// The index's returns on its last day on or before `day`.
    fn at(&self, day: i32) -> (Option<f64>, Option<f64>) {
        let k = self.day.partition_point(|&d| d <= day);
        if k == 0 {
            return (None, None);
        }
        (self.ret_1d[k - 1], self.ret_5d[k - 1])
    }
}

fn index_returns(
    dates: &[NaiveDate],
    closes: &[f64],
    latest: NaiveDate,
) -> PolarsResult<IndexReturns> {
    polars_ensure!(
        dates.len() == closes.len(),
        ShapeMismatch: "index dates and closes differ in length"
    );
    let df = df!(
        "day" => dates.iter().map(|&d| epoch_day(d)).collect::<Vec<_>>(),
        "close" => closes,
    )?;
    let ret = |n: i64| (col("close") / col("close").shift(lit(n)) - lit(1.0)) * lit(100.0);
    let out = df
        .lazy()
        .filter(
            col("day")
                .lt_eq(lit(epoch_day(latest)))
                .and(col("close").gt(lit(0.0))),
        )
        .unique_stable_generic(Some(vec![col("day")]), UniqueKeepStrategy::Last)
        .sort(["day"], SortMultipleOptions::default())
        .select([col("day"), ret(1).alias("r1"), ret(5).alias("r5")])
        .collect()?;
    let finite = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(out
            .column(name)?
            .f64()?
            .iter()
            .map(|v| v.filter(|x| x.is_finite()))
            .collect())
    };
    Ok(IndexReturns {
        day: out
            .column("day")?
            .i32()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect(),
        ret_1d: finite("r1")?,
        ret_5d: finite("r5")?,
    })
}

/// An equal-weighted index level from the panel: each day's mean `ret_1d`
/// over the stocks that have one, compounded. A day's level uses only that
/// day's and earlier bars, so it stays point in time.
fn synthetic_index(panel: &Panel) -> PolarsResult<(Vec<NaiveDate>, Vec<f64>)> {
    let df = df!(
        "day" => &panel.day,
        "ret_1d" => &panel.ret_1d,
    )?;
    let out = df
        .lazy()
        .group_by([col("day")])
        .agg([col("ret_1d").mean().alias("mean_ret")])
        .sort(["day"], SortMultipleOptions::default())
        .collect()?;
    let days = out.column("day")?.i32()?;
    let means = out.column("mean_ret")?.f64()?;
    let mut level = 1.0;
    let mut dates = Vec::with_capacity(out.height());
    let mut levels = Vec::with_capacity(out.height());
    for (d, m) in days.iter().zip(means.iter()) {
        let Some(d) = d else { continue };
        // A day where no stock has a previous bar (the first) moves nothing.
        level *= 1.0 + m.filter(|x| x.is_finite()).unwrap_or(0.0) / 100.0;
        dates.push(from_epoch_day(d));
        levels.push(level);
    }
    Ok((dates, levels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Consecutive calendar days from 2024-01-01 (weekends do not matter to
    /// the features, which count sessions).
    fn series(stock: i64, closes: &[f64]) -> DailyBars {
        let start = d("2024-01-01");
        DailyBars {
            stock_id: vec![stock; closes.len()],
            date: (0..closes.len())
                .map(|i| start + Duration::days(i as i64))
                .collect(),
            close: closes.to_vec(),
            volume: (0..closes.len()).map(|i| 1000 + i as i64).collect(),
        }
    }

    /// Features as of the last bar given, with the synthetic index.
    fn at_end(b: &DailyBars) -> Vec<Features> {
        let last = *b.date.iter().max().expect("bars");
        compute(b, None, last).unwrap()
    }

    fn concat(a: &DailyBars, b: &DailyBars) -> DailyBars {
        let mut o = a.clone();
        o.stock_id.extend(&b.stock_id);
        o.date.extend(&b.date);
        o.close.extend(&b.close);
        o.volume.extend(&b.volume);
        o
    }

    fn close_to(a: Option<f64>, b: f64) {
        let a = a.expect("a value");
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn returns_and_moving_averages() {
        // 1, 2, ..., 61: every value is easy by hand.
        let closes: Vec<f64> = (1..=61).map(f64::from).collect();
        let bars = series(7, &closes);
        let f = at_end(&bars);
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!(f.stock_id, 7);
        assert_eq!(f.as_of_date, d("2024-03-01")); // day 61
        assert_eq!(f.history, 61);
        assert_eq!(f.close, 61.0);
        close_to(f.ret_1d, (61.0 / 60.0 - 1.0) * 100.0);
        close_to(f.ret_5d, (61.0 / 56.0 - 1.0) * 100.0);
        close_to(f.ret_20d, (61.0 / 41.0 - 1.0) * 100.0);
        close_to(f.ma_5, 59.0);
        close_to(f.ma_20, 51.5);
        close_to(f.ma_60, 31.5);
        // Volumes 1000..=1060: previous 20 are 1040..=1059, mean 1049.5.
        close_to(f.volume_ratio, 1060.0 / 1049.5);
        // Only rising: RSI 100.
        close_to(f.rsi_14, 100.0);
        // One stock: the synthetic index is that stock.
        close_to(f.index_ret_1d, (61.0 / 60.0 - 1.0) * 100.0);
        close_to(f.index_ret_5d, (61.0 / 56.0 - 1.0) * 100.0);
    }

    #[test]
    fn volatility_of_log_returns() {
        // Log returns alternate +a, -a: sample stdev over 20 of them is
        // a * sqrt(20 / 19) (mean 0, each squared deviation a^2).
        let a: f64 = 0.01;
        let closes: Vec<f64> = (0..=20)
            .map(|i| 100.0 * if i % 2 == 0 { 1.0 } else { a.exp() })
            .collect();
        let f = &at_end(&series(1, &closes))[0];
        close_to(f.vol_20, a * (20.0f64 / 19.0).sqrt() * 100.0);
        // 20 closes are only 19 returns: no volatility yet.
        let f = &at_end(&series(1, &closes[..20]))[0];
        assert_eq!(f.vol_20, None);
    }

    #[test]
    fn wilder_rsi_by_hand() {
        // 14 changes: ten of +1, four of -1 → avg gain 10/14, loss 4/14,
        // RS 2.5, RSI 100 - 100/3.5. Then +2: gain (13*10/14 + 2)/14,
        // loss (13*4/14)/14.
        let mut closes = vec![100.0];
        for i in 0..14 {
            let last = *closes.last().unwrap();
            closes.push(if i % 7 < 5 { last + 1.0 } else { last - 1.0 });
        }
        let f = &at_end(&series(1, &closes))[0];
        close_to(f.rsi_14, 100.0 - 100.0 / 3.5);
        let last = *closes.last().unwrap();
        closes.push(last + 2.0);
        let f = &at_end(&series(1, &closes))[0];
        let (g, l) = (
            (13.0 * 10.0 / 14.0 + 2.0) / 14.0,
            (13.0 * 4.0 / 14.0) / 14.0,
        );
        close_to(f.rsi_14, 100.0 - 100.0 / (1.0 + g / l));
        // 13 changes: too short.
        let f = &at_end(&series(1, &closes[..14]))[0];
        assert_eq!(f.rsi_14, None);
    }

    #[test]
    fn later_bars_change_nothing() {
        let closes: Vec<f64> = (0..90).map(|i| 50.0 + ((i * 7) % 11) as f64).collect();
        let full = concat(&series(1, &closes), &series(2, &closes[..80]));
        let cut = d("2024-02-20"); // day 51
        let keep: Vec<usize> = (0..full.date.len())
            .filter(|&i| full.date[i] <= cut)
            .collect();
        let past = DailyBars {
            stock_id: keep.iter().map(|&i| full.stock_id[i]).collect(),
            date: keep.iter().map(|&i| full.date[i]).collect(),
            close: keep.iter().map(|&i| full.close[i]).collect(),
            volume: keep.iter().map(|&i| full.volume[i]).collect(),
        };
        let index: IndexCloses = (
            (0..90)
                .map(|i| d("2024-01-01") + Duration::days(i))
                .collect(),
            (0..90).map(|i| 1000.0 + i as f64).collect(),
        );
        for idx in [None, Some(&index)] {
            let a = compute(&past, idx, cut).unwrap();
            let b = compute(&full, idx, cut).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.len(), 2);
            assert_eq!(a[0].as_of_date, cut);
            assert_eq!(a[0].history, 51);
            // And the bulk version agrees with one-date calls.
            let many = compute_many(&full, idx, &[cut, d("2024-03-10")]).unwrap();
            assert_eq!(many[0], b);
            assert_eq!(many[1], compute(&full, idx, d("2024-03-10")).unwrap());
        }
        // The given index is used, read on the bar's date.
        let f = &compute(&full, Some(&index), cut).unwrap()[0];
        close_to(f.index_ret_1d, (1050.0 / 1049.0 - 1.0) * 100.0);
        close_to(f.index_ret_5d, (1050.0 / 1045.0 - 1.0) * 100.0);
    }

    #[test]
    fn short_history_is_none_and_stale_stocks_are_skipped() {
        let f = &compute(&series(3, &[10.0, 11.0]), None, d("2024-01-05")).unwrap()[0];
        assert_eq!(f.history, 2);
        close_to(f.ret_1d, 10.0);
        assert_eq!(
            (f.ret_5d, f.ma_5, f.rsi_14, f.vol_20, f.volume_ratio),
            (None, None, None, None, None)
        );
        let one = &compute(&series(3, &[10.0]), None, d("2024-01-01")).unwrap()[0];
        assert_eq!((one.ret_1d, one.index_ret_1d), (None, None));
        // Last bar 2024-01-02; 10 days later still in, 11 days later out.
        assert_eq!(
            compute(&series(3, &[10.0, 11.0]), None, d("2024-01-12"))
                .unwrap()
                .len(),
            1
        );
        assert!(compute(&series(3, &[10.0, 11.0]), None, d("2024-01-13"))
            .unwrap()
            .is_empty());
        // Before the first bar: nothing.
        assert!(compute(&series(3, &[10.0]), None, d("2023-12-31"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn stocks_are_independent_and_order_does_not_matter() {
        let a: Vec<f64> = (0..70).map(|i| 20.0 + (i as f64 * 0.7).sin()).collect();
        let b: Vec<f64> = (0..70).map(|i| 90.0 - i as f64 * 0.3).collect();
        let idx: IndexCloses = (
            (0..70)
                .map(|i| d("2024-01-01") + Duration::days(i))
                .collect(),
            (0..70).map(|i| 10.0 + i as f64).collect(),
        );
        let alone_a = compute(&series(1, &a), Some(&idx), d("2024-03-15")).unwrap();
        let alone_b = compute(&series(2, &b), Some(&idx), d("2024-03-15")).unwrap();
        let mut both = concat(&series(2, &b), &series(1, &a));
        // Shuffle deterministically: reverse.
        both.stock_id.reverse();
        both.date.reverse();
        both.close.reverse();
        both.volume.reverse();
        let together = compute(&both, Some(&idx), d("2024-03-15")).unwrap();
        assert_eq!(together, vec![alone_a[0].clone(), alone_b[0].clone()]);
    }

    #[test]
    fn bad_rows_are_dropped_and_lengths_checked() {
        let mut bars = series(1, &[10.0, 11.0, 12.0]);
        bars.close[1] = f64::NAN;
        let f = &at_end(&bars)[0];
        assert_eq!(f.history, 2);
        close_to(f.ret_1d, 20.0);
        // A repeated (stock, date): the last one given wins.
        bars.stock_id.insert(0, 1);
        bars.date.insert(0, d("2024-01-03"));
        bars.close.insert(0, 99.0);
        bars.volume.insert(0, 5);
        bars.stock_id.push(1);
        bars.date.push(d("2024-01-03"));
        bars.close.push(15.0);
        bars.volume.push(5);
        let f = &at_end(&bars)[0];
        assert_eq!((f.history, f.close), (2, 15.0));
        close_to(f.ret_1d, 50.0);
        bars.volume.pop();
        assert!(compute(&bars, None, d("2024-01-03")).is_err());
    }

    #[test]
    fn prompt_table_mentions_the_numbers() {
        let closes: Vec<f64> = (1..=30).map(f64::from).collect();
        let f = &at_end(&series(9, &closes))[0];
        let t = to_prompt_table(f);
        assert!(t.contains("stock 9 as of 2024-01-30 (30 bars)"), "{t}");
        assert!(t.contains("ma_60        n/a"), "{t}");
        assert!(t.contains("rsi_14       100.0"), "{t}");
    }
}
