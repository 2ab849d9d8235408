//! Derived bars: 5-, 15- and 60-minute bars from stored 1-minute bars
//! (Polars `group_by_dynamic`), windows aligned to the session open so an
//! NYSE hour runs 09:30–10:30, not 09:00–10:00.

use super::validate::Bar;
use super::Interval;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use polars::prelude::*;

/// Aggregates 1-minute bars (one session, sorted) into `interval` bars.
/// `open` is the session's opening instant, which fixes window alignment.
pub fn aggregate(
    bars: &[Bar],
    interval: Interval,
    open: DateTime<Utc>,
    trading_date: NaiveDate,
) -> PolarsResult<Vec<Bar>> {
    if bars.is_empty() {
        return Ok(vec![]);
    }
    let minutes = interval.minutes();
    let offset_min = (i64::from(open.hour()) * 60 + i64::from(open.minute())) % minutes;
    let df = df!(
        "ts" => bars.iter().map(|b| b.ts.timestamp_micros()).collect::<Vec<_>>(),
        "open" => bars.iter().map(|b| b.open).collect::<Vec<_>>(),
        "high" => bars.iter().map(|b| b.high).collect::<Vec<_>>(),
        "low" => bars.iter().map(|b| b.low).collect::<Vec<_>>(),
        "close" => bars.iter().map(|b| b.close).collect::<Vec<_>>(),
        "volume" => bars.iter().map(|b| b.volume).collect::<Vec<_>>(),
    )?;
    let every = polars::prelude::Duration::parse(&format!("{minutes}m"));
    let out = df
        .lazy()
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .sort(["ts"], Default::default())
        .group_by_dynamic(
            col("ts"),
            [],
            DynamicGroupOptions {
                every,
                period: every,
                offset: polars::prelude::Duration::parse(&format!("{offset_min}m")),
                label: Label::Left,
                closed_window: ClosedWindow::Left,
                start_by: StartBy::WindowBound,
                ..Default::default()
            },
        )
        .agg([
            col("open").first().alias("open"),
            col("high").max().alias("high"),
            col("low").min().alias("low"),
            col("close").last().alias("close"),
            col("volume").sum().alias("volume"),
        ])
        .with_column(col("ts").cast(DataType::Int64))
        .collect()?;
    let ts = out.column("ts")?.i64()?.clone();
    let (o, h, l, c) = (
        out.column("open")?.f64()?.clone(),
        out.column("high")?.f64()?.clone(),
        out.column("low")?.f64()?.clone(),
        out.column("close")?.f64()?.clone(),
    );
    let v = out.column("volume")?.i64()?.clone();
    let mut result = Vec::with_capacity(out.height());
    for i in 0..out.height() {
        let (Some(t), Some(o), Some(h), Some(l), Some(c), Some(v)) =
            (ts.get(i), o.get(i), h.get(i), l.get(i), c.get(i), v.get(i))
        else {
            continue;
        };
        result.push(Bar {
            ts: DateTime::from_timestamp_micros(t).expect("in range"),
            trading_date,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
            flags: None,
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_align_to_a_half_past_open() {
        // NYSE: open 14:30Z; 90 one-minute bars to 16:00Z.
        let open: DateTime<Utc> = "2026-07-02T13:30:00Z".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 7, 2).unwrap();
        let bars: Vec<Bar> = (0..90)
            .map(|i| Bar {
                ts: open + chrono::Duration::minutes(i),
                trading_date: date,
                open: 100.0 + i as f64,
                high: 101.0 + i as f64,
                low: 99.0 + i as f64,
                close: 100.5 + i as f64,
                volume: 10,
                flags: None,
            })
            .collect();
        let hours = aggregate(&bars, Interval::M60, open, date).unwrap();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].ts, open);
        assert_eq!(
            (
                hours[0].open,
                hours[0].high,
                hours[0].low,
                hours[0].close,
                hours[0].volume
            ),
            (100.0, 160.0, 99.0, 159.5, 600)
        );
        assert_eq!(hours[1].ts, open + chrono::Duration::hours(1));
        assert_eq!(hours[1].volume, 300);
        let fives = aggregate(&bars, Interval::M5, open, date).unwrap();
        assert_eq!(fives.len(), 18);
    }
}
