//! `files`: bars from CSV or Parquet files in a folder — brownfield imports
//! and the offline default.
//!
//! `path` is a pattern with `{symbol}`, `{code}`, `{exchange}` and
//! `{interval}` placeholders, e.g. `data/bars/{interval}/{symbol}.csv`; the
//! extension chooses the reader. Columns: `ts` (or `date`), `open`, `high`,
//! `low`, `close`, `volume`. `ts` is RFC 3339, or a local `YYYY-MM-DD[ HH:MM[:SS]]`
//! read in the exchange's zone (a bare date is that session's daily bar).
//! Everything is read as text, so a bad cell becomes a quarantined row with
//! its reason instead of failing the file.

use super::{FetchRequest, FetchResult, ProviderError};
use crate::market::parse_volume;
use crate::market::{Fetched, RawBar, Unparsed};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use std::path::{Path, PathBuf};

const NAME: &str = "files";

#[derive(Debug, Clone)]
pub struct Files {
    pub pattern: String,
}

impl Files {
    pub fn path_for(&self, req: &FetchRequest) -> PathBuf {
        PathBuf::from(
            self.pattern
                .replace("{symbol}", &req.symbol)
                .replace("{code}", &req.code)
                .replace("{exchange}", &req.exchange)
                .replace("{interval}", req.interval.as_str()),
        )
    }

    pub async fn fetch(&self, req: &FetchRequest) -> FetchResult {
        let path = self.path_for(req);
        let req = req.clone();
        tokio::task::spawn_blocking(move || read(&path, &req))
            .await
            .map_err(|e| ProviderError::permanent(NAME, "?", format!("reader task failed: {e}")))?
    }
}

fn read(path: &Path, req: &FetchRequest) -> FetchResult {
    let err = |msg: String| {
        ProviderError::permanent(NAME, &req.symbol, format!("{}: {msg}", path.display()))
    };
    if !path.exists() {
        return Err(err("no such file".into()));
    }
    let df = read_frame(path).map_err(|e| err(e.to_string()))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let ts_col = ["ts", "date", "datetime", "timestamp"]
        .into_iter()
        .find(|c| names.iter().any(|n| n == c));
    let missing: Vec<&str> = ["open", "high", "low", "close", "volume"]
        .into_iter()
        .filter(|c| !names.iter().any(|n| n == c))
        .collect();
    let Some(ts_col) = ts_col.filter(|_| missing.is_empty()) else {
        return Err(err(format!(
            "wrong columns: expected ts (or date), open, high, low, close, volume; found {}",
            names.join(", ")
        )));
    };
    let col = |name: &str| -> Result<StringChunked, ProviderError> {
        let c = df.column(name).map_err(|e| err(e.to_string()))?;
        let c = c.cast(&DataType::String).map_err(|e| err(e.to_string()))?;
        Ok(c.str().map_err(|e| err(e.to_string()))?.clone())
    };
    let (ts, open, high, low, close, volume) = (
        col(ts_col)?,
        col("open")?,
        col("high")?,
        col("low")?,
        col("close")?,
        col("volume")?,
    );
    let mut out = Fetched {
        requests: 1,
        ..Fetched::default()
    };
    for i in 0..df.height() {
        fn cell(c: &StringChunked, i: usize) -> Option<&str> {
            c.get(i).map(str::trim).filter(|s| !s.is_empty())
        }
        let raw = [&ts, &open, &high, &low, &close, &volume]
            .iter()
            .map(|c| c.get(i).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",");
        let Some(t) = cell(&ts, i).and_then(|s| parse_ts(s, req.tz)) else {
            out.unparsed.push(Unparsed {
                raw,
                reason: "bad or missing timestamp".into(),
            });
            continue;
        };
        if t < req.from || t > req.to {
            continue;
        }
        out.bars.push(RawBar {
            ts: t,
            open: cell(&open, i).and_then(|s| s.parse().ok()),
            high: cell(&high, i).and_then(|s| s.parse().ok()),
            low: cell(&low, i).and_then(|s| s.parse().ok()),
            close: cell(&close, i).and_then(|s| s.parse().ok()),
            volume: cell(&volume, i).and_then(parse_volume),
            raw,
        });
    }
    Ok(out)
}

fn read_frame(path: &Path) -> PolarsResult<DataFrame> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => ParquetReader::new(std::fs::File::open(path)?).finish(),
        _ => CsvReadOptions::default()
            .with_has_header(true)
            // Every column as text: cells are parsed (and judged) per row.
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))?
            .finish(),
    }
}

/// RFC 3339, epoch seconds, or a local date/date-time in `tz`.
pub fn parse_ts(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = |n: NaiveDateTime| {
        tz.from_local_datetime(&n)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return local(n);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return local(d.and_time(NaiveTime::MIN));
    }
    None
}
